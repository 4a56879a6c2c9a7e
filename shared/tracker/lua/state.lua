--[[
  state.lua: a job's state in its writers hash (field "~s"), included in every
  script of redis-progress after clock.lua (not a script of its own; it declares
  no KEYS or ARGV).

  Layout: struct '<Bdddddddddc11s', that is a version byte (5), then seq,
  count, errors, updated_ms, ema_dn, ema_dt (-1 until known: the smoothed
  count and time deltas of the rate), refreshed_ms, the length of the value
  written and the length of the tail's suffix as little-endian doubles, the
  date part of updated_at ("YYYY-MM-DDT") and the write script's token
  (zero-terminated); then the "tail": the stored value's text from ',"id":' to
  its end, kept for a plain running job's fast path ("" otherwise). The tail's
  suffix is its end from ',"meta":' (just "}" without meta): a new meta
  replaces it without searching the tail or copying it twice. struct packs and
  unpacks the numbers without formatting or parsing text.

  read_state(text) -> seq, count, errors, updated_ms, ema_dn or nil,
                      ema_dt or nil, refreshed_ms, length, date, token,
                      suffix length, position of the tail in text
                      (nothing when text is not a whole state of this version)
  pack_state(seq, count, errors, updated_ms, ema_dn, ema_dt, refreshed_ms,
             length, updated_at, token, suffix length) -> text without the
             tail, which the caller appends (updated_at: ISO text)
  suffix_length(tail) -> the length of a tail's suffix
]]
local STATE, STATE_VERSION = '<Bdddddddddc11s', 5

local function read_state(text)
  -- The token starts after 1 + 9 * 8 + 11 bytes and must end with its zero
  -- (struct.unpack would raise on a cut one, failing every write of the job).
  if not text or string.byte(text) ~= STATE_VERSION or not string.find(text, '\0', 85, true) then
    return
  end
  local _, seq, count, errors, at, dn, dt, refreshed, length, suffix, date, tok, pos =
    struct.unpack(STATE, text)
  if #text - pos + 1 < suffix then return end
  if dn < 0 then dn, dt = nil, nil end
  return seq, count, errors, at, dn, dt, refreshed, length, date, tok, suffix, pos
end

local function pack_state(seq, count, errors, at, dn, dt, refreshed, length, updated_at, tok, suffix)
  return struct.pack(STATE, STATE_VERSION, seq, count, errors, at, dn or -1, dt or -1, refreshed,
    length, suffix, updated_at, tok)
end

-- An unescaped ',"meta":' can only be the meta key, which the canonical layout
-- puts last (see lib.lua).
local function suffix_length(tail)
  local m = string.find(tail, ',"meta":', 1, true)
  if m then return #tail - m + 1 end
  return 1
end
