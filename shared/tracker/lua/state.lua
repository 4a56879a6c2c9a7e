--[[
  state.lua: a job's state in its writers hash (field "~s"), included in every
  script of redis-progress after clock.lua (not a script of its own; it declares
  no KEYS or ARGV).

  Layout: struct '<Bddddddddc11s', that is a version byte (4), then seq,
  count, errors, updated_ms, ema_dn, ema_dt (-1 until known: the smoothed
  count and time deltas of the rate), refreshed_ms and the length of the value
  written as little-endian doubles, the date part of updated_at
  ("YYYY-MM-DDT") and the write script's token (zero-terminated); then the
  "tail": the stored value's text from ',"id":' to its end, kept for a plain
  running job's fast path ("" otherwise). struct packs and unpacks the
  numbers without formatting or parsing text.

  read_state(text) -> seq, count, errors, updated_ms, ema_dn or nil,
                      ema_dt or nil, refreshed_ms, length, date, token, tail
                      (nothing when text is not a whole state of this version)
  pack_state(seq, count, errors, updated_ms, ema_dn, ema_dt, refreshed_ms,
             length, updated_at, token, tail) -> text (updated_at: ISO text)
]]
local STATE, STATE_VERSION = '<Bddddddddc11s', 4

local function read_state(text)
  -- The token starts after 1 + 8 * 8 + 11 bytes and must end with its zero
  -- (struct.unpack would raise on a cut one, failing every write of the job).
  if not text or string.byte(text) ~= STATE_VERSION or not string.find(text, '\0', 77, true) then
    return
  end
  local _, seq, count, errors, at, dn, dt, refreshed, length, date, tok, pos =
    struct.unpack(STATE, text)
  if dn < 0 then dn, dt = nil, nil end
  return seq, count, errors, at, dn, dt, refreshed, length, date, tok, string.sub(text, pos)
end

local function pack_state(seq, count, errors, at, dn, dt, refreshed, length, updated_at, tok, tail)
  return struct.pack(STATE, STATE_VERSION, seq, count, errors, at, dn or -1, dt or -1, refreshed,
    length, updated_at, tok) .. tail
end
