--[[
  state.lua: a job's state in its writers hash, included in every script of
  redis-progress after clock.lua (not a script of its own; it declares no KEYS
  or ARGV).

  Field "~s": struct '<Bdddddddds', that is a version byte (7), then seq,
  count, errors, updated_ms, ema_dn, ema_dt (-1 until known: the smoothed
  count and time deltas of the rate), refreshed_ms and the length in bytes of
  the value written, as little-endian doubles, then the write's token
  (zero-terminated), and nothing after it. struct packs and unpacks the
  numbers without formatting or parsing text. The tracker reads and builds the
  same bytes (shared/tracker/prebuilt.ts) to prebuild its next write.

  read_state(text) -> seq, count, errors, updated_ms, ema_dn or nil,
                      ema_dt or nil, refreshed_ms, length, token
                      (nothing when text is not a whole state of this version)
  pack_state(seq, count, errors, updated_ms, ema_dn, ema_dt, refreshed_ms,
             length, token) -> text
]]
local STATE, STATE_VERSION = '<Bdddddddds', 7

local function read_state(text)
  -- The token starts after 1 + 8 * 8 bytes and must end with its zero
  -- (struct.unpack would raise on a cut one, failing every write of the job).
  if not text or string.byte(text) ~= STATE_VERSION or not string.find(text, '\0', 66, true) then
    return
  end
  local _, seq, count, errors, at, dn, dt, refreshed, length, tok, pos = struct.unpack(STATE, text)
  if pos ~= #text + 1 then return end
  if dn < 0 then dn, dt = nil, nil end
  return seq, count, errors, at, dn, dt, refreshed, length, tok
end

local function pack_state(seq, count, errors, at, dn, dt, refreshed, length, tok)
  return struct.pack(STATE, STATE_VERSION, seq, count, errors, at, dn or -1, dt or -1, refreshed,
    length, tok)
end
