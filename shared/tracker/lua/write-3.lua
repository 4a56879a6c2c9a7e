--[[
  write-3.lua: store one tracker's view of a job, atomically.

  KEYS[1]  scope hash (field = job id, value = job JSON); also the channel name
  KEYS[2]  scope expiry sorted set (member = job id, score = ms to prune at)
  KEYS[3]  the job's writers hash: tracker id -> "count,errors" last applied,
           plus "~dn"/"~dt", the smoothed count and time deltas of the rate EMA
  ARGV[1]  scope string (for the message)
  ARGV[2]  job id
  ARGV[3]  tracker id (one per RedisProgress instance)
  ARGV[4]  the tracker's own cumulative count (its contribution to the job)
  ARGV[5]  the tracker's own cumulative error count
  ARGV[6]  total
  ARGV[7]  started_at (ISO) as the tracker knows it
  ARGV[8]  the highest seq this tracker has seen for the job
  ARGV[9]  status: running | completed | failed | canceled
  ARGV[10] name ("" = keep)
  ARGV[11] meta as JSON object text ("" = keep)
  ARGV[12] error message ("" = keep)
  ARGV[13] heartbeat in ms
  ARGV[14] retention in ms
  ARGV[15] publish command: PUBLISH, or SPUBLISH in cluster mode
  ARGV[16] EMA smoothing factor for the rate (0.3)

  Effects: applies the count delta (own count minus what was last applied from
  this tracker, so a retried write never counts twice), recomputes percent, rate
  and ETA, bumps seq, sets updated_at, prunes expired jobs, schedules this job's
  pruning at now + retention, refreshes the keys' TTL, publishes
  {"scope":..., "jobs": {id: value}} on KEYS[1].
  When the job is missing (Redis restarted, evicted, flushed) it is recreated
  from the tracker's view: count = own count, seq = last seen + 1.

  Returns: { seq, cancel_requested_at or "", estimated_finished_at in ms or -1,
             rate as a string or "" }
]]
local hash, expiry, writers = KEYS[1], KEYS[2], KEYS[3]
local scope, id, tid = ARGV[1], ARGV[2], ARGV[3]
local own, own_err = tonumber(ARGV[4]), tonumber(ARGV[5])
local total = tonumber(ARGV[6])
local last_seen = tonumber(ARGV[8])
local status = ARGV[9]
local heartbeat, retention = tonumber(ARGV[13]), tonumber(ARGV[14])
local publish_cmd, alpha = ARGV[15], tonumber(ARGV[16])

local now = now_ms()
prune(hash, expiry, scope, publish_cmd, now)

local old, meta_raw = split_meta(redis.call('HGET', hash, id))
if ARGV[11] ~= '' then meta_raw = ARGV[11] end

local job
local w = redis.call('HMGET', writers, tid, '~dn', '~dt')
local ema_dn, ema_dt = tonumber(w[2]), tonumber(w[3])
if old then
  local prev_count, prev_err = 0, 0
  if w[1] then
    local c, e = string.match(w[1], '^(-?[%d.e+]+),(-?[%d.e+]+)$')
    prev_count, prev_err = tonumber(c) or 0, tonumber(e) or 0
  end
  local old_count = tonumber(old.count) or 0
  job = old
  job.count = old_count + own - prev_count
  job.error_count = (tonumber(old.error_count) or 0) + own_err - prev_err
  job.seq = math.max(old.seq, last_seen) + 1
  -- A terminal status is final: a late write from another process cannot revive it.
  if old.status ~= 'running' then status = old.status end
  local last = parse_iso(old.updated_at)
  if last and old.status == 'running' then
    local dt, dn = now - last, job.count - old_count
    if dt > 0 and dn >= 0 then
      -- tqdm's EMA: smooth the count and time deltas apart, rate = dn / dt.
      if ema_dn and ema_dt then
        ema_dn = alpha * dn + (1 - alpha) * ema_dn
        ema_dt = alpha * dt + (1 - alpha) * ema_dt
      elseif dn > 0 then
        ema_dn, ema_dt = dn, dt
      end
    end
  end
else
  job = { started_at = ARGV[7], count = own, error_count = own_err, seq = last_seen + 1 }
  ema_dn, ema_dt = nil, nil
end

job.id = id
job.total = total
job.status = status
job.heartbeat = heartbeat
job.updated_at = iso(now)
if ARGV[10] ~= '' then job.name = ARGV[10] end
if ARGV[12] ~= '' then job.error = ARGV[12] end
if job.error_count == 0 then job.error_count = nil end

local percent
if total <= 0 then
  percent = 100
else
  percent = math.max(0, math.min(100, math.floor(job.count * 100 / total)))
end
if status == 'completed' then percent = 100 end
job.percent = percent

local rate = nil
if ema_dn and ema_dt and ema_dt > 0 then rate = ema_dn * 1000 / ema_dt end
job.rate = rate

local eta_ms = -1
if status ~= 'running' then
  if not job.finished_at or job.finished_at == cjson.null then job.finished_at = job.updated_at end
  job.estimated_finished_at = job.finished_at
  eta_ms = parse_iso(job.finished_at) or now
else
  job.finished_at = cjson.null
  if job.count >= total then
    eta_ms = now
  elseif rate and rate > 0 then
    eta_ms = now + math.ceil((total - job.count) / rate * 1000)
  end
  if eta_ms >= 0 then job.estimated_finished_at = iso(eta_ms) else job.estimated_finished_at = cjson.null end
end

local value = encode_job(job, meta_raw)
redis.call('HSET', hash, id, value)
redis.call('ZADD', expiry, now + retention, id)
redis.call('PEXPIRE', hash, retention)
redis.call('PEXPIRE', expiry, retention)
if ema_dn and ema_dt then
  redis.call('HSET', writers, tid, own .. ',' .. own_err, '~dn', ema_dn, '~dt', ema_dt)
else
  redis.call('HSET', writers, tid, own .. ',' .. own_err)
end
redis.call('PEXPIRE', writers, retention)
redis.call(publish_cmd, hash, '{"scope":' .. cjson.encode(scope) .. ',"jobs":{' .. cjson.encode(id) .. ':' .. value .. '}}')

local cancel = job.cancel_requested_at
if type(cancel) ~= 'string' then cancel = '' end
local rate_text = ''
if rate then rate_text = tostring(rate) end
return { job.seq, cancel, eta_ms, rate_text }
