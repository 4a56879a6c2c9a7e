--[[
  read-2.lua: a scope's snapshot, after pruning what retention removed.

  KEYS[1]  scope hash
  KEYS[2]  scope expiry sorted set
  ARGV[1]  scope string (for the removal message)
  ARGV[2]  publish command: PUBLISH, or SPUBLISH in cluster mode

  Effects: jobs whose retention ran out are deleted and published as null.
  Returns: the hash as a flat array { id1, value1, id2, value2, ... }
]]
prune(KEYS[1], KEYS[2], ARGV[1], ARGV[2], now_ms())
return redis.call('HGETALL', KEYS[1])
