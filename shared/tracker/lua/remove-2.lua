--[[
  remove-2.lua: delete one job, or every job of a scope.

  KEYS[1]  scope hash
  KEYS[2]  scope expiry sorted set
  ARGV[1]  scope string (for the removal message)
  ARGV[2]  publish command: PUBLISH, or SPUBLISH in cluster mode
  ARGV[3]  job id, or "" for all jobs of the scope

  Effects: HDEL/DEL, ZREM, and one message with every removed id set to null.
  Returns: the number of jobs removed
]]
local ids
if ARGV[3] ~= '' then
  ids = {}
  if redis.call('HDEL', KEYS[1], ARGV[3]) == 1 then ids[1] = ARGV[3] end
  redis.call('ZREM', KEYS[2], ARGV[3])
else
  ids = redis.call('HKEYS', KEYS[1])
  redis.call('DEL', KEYS[1], KEYS[2])
end
publish_removed(KEYS[1], ARGV[1], ARGV[2], ids)
return #ids
