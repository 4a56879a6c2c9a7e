--[[
  state.lua: a job's state in its writers hash, included in every script of
  redis-progress after clock.lua (not a script of its own; it declares no KEYS
  or ARGV).

  Field "~s": struct '<Bddddddddc11s', that is a version byte (6), then seq,
  count, errors, updated_ms, ema_dn, ema_dt (-1 until known: the smoothed
  count and time deltas of the rate), refreshed_ms and the length of the value
  written as little-endian doubles, the date part of updated_at
  ("YYYY-MM-DDT") and the write script's token (zero-terminated), and nothing
  after it. struct packs and unpacks the numbers without formatting or parsing
  text.
  Fields "~t" and "~m", kept for a plain running job's fast path while the
  state carries a token: the stored value's text from ',"id":' up to its meta
  ("~t", what no write changes), and the rest ("~m": ',"meta":{...}}', or
  '}' without meta). A write reads them with the state but writes back only the
  state, and "~m" when the meta changed.

  read_state(text) -> seq, count, errors, updated_ms, ema_dn or nil,
                      ema_dt or nil, refreshed_ms, length, date, token
                      (nothing when text is not a whole state of this version)
  pack_state(seq, count, errors, updated_ms, ema_dn, ema_dt, refreshed_ms,
             length, updated_at, token) -> text (updated_at: ISO text)
  split_tail(tail) -> "~t", "~m" of a value's text from ',"id":'
]]
local STATE, STATE_VERSION = '<Bddddddddc11s', 6

local function read_state(text)
  -- The token starts after 1 + 8 * 8 + 11 bytes and must end with its zero
  -- (struct.unpack would raise on a cut one, failing every write of the job).
  if not text or string.byte(text) ~= STATE_VERSION or not string.find(text, '\0', 77, true) then
    return
  end
  local _, seq, count, errors, at, dn, dt, refreshed, length, date, tok, pos =
    struct.unpack(STATE, text)
  if pos ~= #text + 1 then return end
  if dn < 0 then dn, dt = nil, nil end
  return seq, count, errors, at, dn, dt, refreshed, length, date, tok
end

local function pack_state(seq, count, errors, at, dn, dt, refreshed, length, updated_at, tok)
  return struct.pack(STATE, STATE_VERSION, seq, count, errors, at, dn or -1, dt or -1, refreshed,
    length, updated_at, tok)
end

-- An unescaped ',"meta":' can only be the meta key, which the canonical layout
-- puts last (see lib.lua).
local function split_tail(tail)
  local m = string.find(tail, ',"meta":', 1, true)
  if m then return string.sub(tail, 1, m - 1), string.sub(tail, m) end
  return string.sub(tail, 1, -2), '}'
end
