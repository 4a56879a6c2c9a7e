--[[
  cancel-3.lua: ask the worker of a running job to stop.

  KEYS[1]  scope hash (field = job id, value = job JSON); also the channel name
  KEYS[2]  scope expiry sorted set (jobs past retention are pruned first)
  KEYS[3]  the job's writers hash (its state loses the write script's token,
           so the worker's next write reads the value and answers the cancel)
  ARGV[1]  scope string (for the message)
  ARGV[2]  job id
  ARGV[3]  publish command: PUBLISH, or SPUBLISH in cluster mode

  Effects: sets `cancel_requested_at` (the server's time) on a running job,
  bumps its seq, stores it, takes the token from its state (no prebuilt
  write matches it any more) and publishes
  {"scope":..., "jobs": {id: value}}. `updated_at` is left alone: it tells
  readers whether the worker is alive.
  The worker learns of the request from the reply to its next write. Asking
  again changes nothing (the first request's time is kept, nothing is
  published).

  Returns (codes mirrored by CancelCode in cancel.ts):
    {  0, seq, cancel_requested_at }  requested (now or before)
    { -1 }                            no such job (never written, removed, pruned)
    { -2, status }                    the job has already ended
]]
local hash, expiry, writers = KEYS[1], KEYS[2], KEYS[3]
local scope, id, publish_cmd = ARGV[1], ARGV[2], ARGV[3]

local now = now_ms()
prune(hash, expiry, scope, publish_cmd, now)

local job, meta_raw = split_meta(redis.call('HGET', hash, id))
if not job then return { -1 } end
if job.status ~= 'running' then return { -2, tostring(job.status) } end
if type(job.cancel_requested_at) == 'string' then
  return { 0, job.seq, job.cancel_requested_at }
end

job.cancel_requested_at = iso(now)
job.seq = job.seq + 1
local value = encode_job(job, meta_raw)
redis.call('HSET', hash, id, value)
drop_token(writers)
redis.call(publish_cmd, hash, '{"scope":' .. cjson.encode(scope) .. ',"jobs":{' .. cjson.encode(id) .. ':' .. value .. '}}')
return { 0, job.seq, job.cancel_requested_at }
