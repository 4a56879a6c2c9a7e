--[[
  lib.lua: helpers prepended to every script of redis-progress (not a script
  of its own; it declares no KEYS or ARGV).

  now_ms()                         -> milliseconds from the server's clock (TIME)
  iso(ms)                          -> "YYYY-MM-DDTHH:MM:SS.mmmZ"
  parse_iso(s)                     -> milliseconds, or nil when s is not one of ours
  split_meta(raw)                  -> decoded job table, raw meta JSON text or nil
  encode_job(job, meta_raw)        -> JSON text; meta is spliced in verbatim so it
                                      round-trips exactly (cjson would turn [] into
                                      {} and round numbers to 14 digits); a parent's
                                      `fraction` and `children` are written by hand
                                      with every digit (their sums need up to 16)
  prune(hash, expiry, scope, publish_cmd, now)
                                   -> removes jobs whose retention ran out and
                                      publishes them as null; returns how many
]]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function iso(ms)
  local s = math.floor(ms / 1000)
  local milli = ms - s * 1000
  local days = math.floor(s / 86400)
  local rem = s - days * 86400
  -- Howard Hinnant's civil_from_days.
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
    math.floor(rem / 3600), math.floor((rem % 3600) / 60), rem % 60, milli)
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function parse_iso(s)
  if type(s) ~= 'string' then return nil end
  local y, mo, d, h, mi, se, frac = string.match(s, '^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.?(%d*)Z$')
  if not y then return nil end
  local ms = 0
  if frac ~= '' then ms = tonumber(string.sub(frac .. '000', 1, 3)) end
  local days = days_from_civil(tonumber(y), tonumber(mo), tonumber(d))
  return (days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)) * 1000 + ms
end

local META_MARK = ',"meta":'

local function split_meta(raw)
  if not raw then return nil, nil end
  local ok, job = pcall(cjson.decode, raw)
  if not ok or type(job) ~= 'table' or type(job.seq) ~= 'number' then return nil, nil end
  local meta_raw = nil
  -- encode_job always writes meta last; before it only cjson-encoded values and
  -- the hand-written numbers of `fraction` and `children` stand, whose strings
  -- escape quotes, so the first unescaped mark is the key.
  local at = string.find(raw, META_MARK, 1, true)
  if at then meta_raw = string.sub(raw, at + #META_MARK, -2) end
  job.meta = nil
  return job, meta_raw
end

-- A number as JSON with every digit: integers below 2^53 exactly, others with
-- 17 significant digits (which a JSON reader parses back to the same double).
local function exact_number(x)
  if x ~= x or x == math.huge or x == -math.huge then return '0' end
  if x == math.floor(x) and math.abs(x) < 9007199254740992 then
    return string.format('%.0f', x)
  end
  return string.format('%.17g', x)
end

-- The fields of a parent's `children` object, in the order they are written.
local CHILDREN_FIELDS = { 'total', 'completed', 'failed', 'canceled', 'weight', 'progress',
  'ema_dp', 'ema_dt', 'sample_at', 'sample_progress' }

local function encode_children(c)
  local parts = {}
  for _, name in ipairs(CHILDREN_FIELDS) do
    local v = tonumber(c[name])
    if v then parts[#parts + 1] = '"' .. name .. '":' .. exact_number(v) end
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

local function encode_job(job, meta_raw)
  local children, fraction = job.children, job.fraction
  job.children, job.fraction = nil, nil
  local text = cjson.encode(job)
  job.children, job.fraction = children, fraction
  local tail = ''
  if type(fraction) == 'number' then tail = tail .. ',"fraction":' .. exact_number(fraction) end
  if type(children) == 'table' then tail = tail .. ',"children":' .. encode_children(children) end
  if meta_raw and meta_raw ~= '' then tail = tail .. META_MARK .. meta_raw end
  if tail ~= '' then text = string.sub(text, 1, -2) .. tail .. '}' end
  return text
end

local function publish_removed(hash, scope, publish_cmd, ids)
  if #ids == 0 then return end
  local parts = {}
  for i, id in ipairs(ids) do parts[i] = cjson.encode(id) .. ':null' end
  redis.call(publish_cmd, hash,
    '{"scope":' .. cjson.encode(scope) .. ',"jobs":{' .. table.concat(parts, ',') .. '}}')
end

local function prune(hash, expiry, scope, publish_cmd, now)
  local ids = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 500)
  if #ids == 0 then return 0 end
  redis.call('HDEL', hash, unpack(ids))
  redis.call('ZREM', expiry, unpack(ids))
  publish_removed(hash, scope, publish_cmd, ids)
  return #ids
end
