--[[
  state.lua: a job's state in its writers hash, included in every script of
  redis-progress after clock.lua (not a script of its own; it declares no KEYS
  or ARGV).

  Field "~s": text, fields separated by single spaces: the version (8), then
  seq, count, errors, updated_ms, ema_dn, ema_dt (-1 until known: the smoothed
  count and time deltas of the rate), refreshed_ms and the length in bytes of
  the value written, as numbers (%.17g here, the shortest round-trip text in
  the tracker: either reads back the same double), then the write's token
  (base64, possibly empty), and nothing after it. The tracker reads and builds
  states (shared/tracker/prebuilt.ts) to prebuild its next write; a prebuilt
  write compares the stored text with the one it was built on, byte for byte,
  and decodes nothing.

  read_state(text) -> seq, count, errors, updated_ms, ema_dn or nil,
                      ema_dt or nil, refreshed_ms, length, token
                      (nothing when text is not a whole state of this version)
  pack_state(seq, count, errors, updated_ms, ema_dn, ema_dt, refreshed_ms,
             length, token) -> text
]]
local STATE_FORMAT = '8 %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g %s'
local STATE_PATTERN = '^8 ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]*)$'

local function read_state(text)
  if not text then return end
  local seq, count, errors, at, dn, dt, refreshed, length, tok = string.match(text, STATE_PATTERN)
  if not seq then return end
  seq, count, errors, at = tonumber(seq), tonumber(count), tonumber(errors), tonumber(at)
  dn, dt, refreshed, length = tonumber(dn), tonumber(dt), tonumber(refreshed), tonumber(length)
  if not (seq and count and errors and at and dn and dt and refreshed and length) then return end
  if dn < 0 then dn, dt = nil, nil end
  return seq, count, errors, at, dn, dt, refreshed, length, tok
end

local function pack_state(seq, count, errors, at, dn, dt, refreshed, length, tok)
  return string.format(STATE_FORMAT, seq, count, errors, at, dn or -1, dt or -1, refreshed,
    length, tok)
end
