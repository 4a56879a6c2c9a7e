--[[
  lib.lua: helpers included in every script of redis-progress after clock.lua
  and state.lua (not a script of its own; it declares no KEYS or ARGV).

  parse_iso(s)                     -> milliseconds, or nil when s is not one of ours
  drop_token(writers)              -> the job's value changed outside its writers'
                                      writes (a cancel, a child's roll-up): its
                                      state loses its token, so no tracker's
                                      prebuilt write matches it and the next
                                      write takes the full path, which reads
                                      the value (see write-6.lua)
  split_meta(raw)                  -> decoded job table, raw meta JSON text or nil
  encode_job(job, meta_raw)        -> JSON text in the canonical layout (below)
  prune(hash, expiry, scope, publish_cmd, now)
                                   -> removes jobs whose retention ran out and
                                      publishes them as null; returns how many
]]

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

local function drop_token(writers)
  local seq, count, errors, at, dn, dt, refreshed, length, tok =
    read_state(redis.call('HGET', writers, '~s'))
  if tok and tok ~= '' then
    redis.call('HSET', writers, '~s', pack_state(seq, count, errors, at, dn, dt, refreshed, length, ''))
  end
end

--[[
  The canonical layout of a stored value, which a tracker's prebuilt write
  (shared/tracker/prebuilt.ts) reproduces:

    {"seq":S,<the other DYNAMIC fields present>,"id":"...",<the rest>,"meta":{...}}

  `seq` comes first and the fields a write recomputes (DYNAMIC) come before
  `id`, so a write can replace everything before ',"id":' and keep the rest
  without decoding it. The rest is in name order, except that meta is spliced in
  verbatim so it round-trips exactly (cjson would turn [] into {} and round
  numbers to 14 digits), and a parent's `fraction` and `children` are written
  by hand with every digit (their sums need up to 16). meta comes last.
]]
local DYNAMIC = { 'seq', 'count', 'total', 'percent', 'status', 'updated_at', 'finished_at',
  'estimated_finished_at', 'rate', 'error_count', 'heartbeat', 'retention' }
local OWN_FIELDS = { id = true, children = true, fraction = true, meta = true }
for _, name in ipairs(DYNAMIC) do OWN_FIELDS[name] = true end

local META_MARK = ',"meta":'

-- The meta's JSON text in a job value's text (stored, or prebuilt by a
-- tracker), or nil. encode_job always writes meta last; before it only
-- cjson-encoded values and the hand-written numbers of `fraction` and
-- `children` stand, whose strings escape quotes, so the first unescaped mark
-- is the key.
local function meta_text(raw)
  local at = string.find(raw, META_MARK, 1, true)
  if at then return string.sub(raw, at + #META_MARK, -2) end
  return nil
end

local function split_meta(raw)
  if not raw then return nil, nil end
  local ok, job = pcall(cjson.decode, raw)
  if not ok or type(job) ~= 'table' or type(job.seq) ~= 'number' then return nil, nil end
  job.meta = nil
  return job, meta_text(raw)
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
  'ema_dp', 'ema_dt', 'sample_at', 'sample_progress', 'gen' }

local function encode_children(c)
  local parts = {}
  for _, name in ipairs(CHILDREN_FIELDS) do
    local v = tonumber(c[name])
    if v then parts[#parts + 1] = '"' .. name .. '":' .. exact_number(v) end
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

local function encode_job(job, meta_raw)
  local parts = {}
  for _, name in ipairs(DYNAMIC) do
    local v = job[name]
    if v ~= nil then parts[#parts + 1] = '"' .. name .. '":' .. cjson.encode(v) end
  end
  parts[#parts + 1] = '"id":' .. cjson.encode(job.id)
  -- The other fields in name order, so that a value's text depends only on its content.
  local names = {}
  for k in pairs(job) do
    if not OWN_FIELDS[k] then names[#names + 1] = k end
  end
  table.sort(names)
  for _, k in ipairs(names) do parts[#parts + 1] = cjson.encode(k) .. ':' .. cjson.encode(job[k]) end
  local text = '{' .. table.concat(parts, ',')
  if type(job.fraction) == 'number' then text = text .. ',"fraction":' .. exact_number(job.fraction) end
  if type(job.children) == 'table' then text = text .. ',"children":' .. encode_children(job.children) end
  if meta_raw and meta_raw ~= '' then text = text .. META_MARK .. meta_raw end
  return text .. '}'
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
