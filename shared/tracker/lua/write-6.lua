--[[
  write-6.lua: store one tracker's view of a job, atomically, and roll it up
  into its parent when it is a child job.

  KEYS[1]  scope hash (field = job id, value = job JSON); also the channel name
  KEYS[2]  scope expiry sorted set (member = job id, score = ms to prune at)
  KEYS[3]  the job's writers hash: tracker id -> count and errors last applied
           from it (their text, separated by a space), plus the job's state in
           field "~s" (see state.lua) and, for a child, what it last added to
           its parent in field "~p" ("<gen> <ppb> <status>": kept should the
           child's value be removed while its tracker runs). A child's first
           roll-up also writes its parent's writers hash, named like this one
           (same hash tag, same slot).
  ARGV[1]  the tracker's numbers, as text separated by single spaces: for a
           prebuilt write the length in bytes of the value it was built on
           (else 0), its own cumulative count (its contribution to the job),
           its own cumulative error count, total, the highest seq it has seen
           for the job, retention in ms, the EMA smoothing factor for the rate
           (0.3) and now (ms since the epoch, the tracker's clock)
  ARGV[2]  status: running | completed | failed | canceled
  ARGV[3]  meta as JSON object text ("" = keep), or "=" for a prebuilt write
           whose value ends with the tracker's meta: sent once, and taken
           from ARGV[6] should the full path run
  ARGV[4]  error message ("" = keep)
  ARGV[5]  the tracker's constant part: strings separated by single spaces
           (none of the first eleven can hold one), in this order:
             1 scope string (for the message)
             2 job id
             3 tracker id (one per RedisProgress instance)
             4 publish command: PUBLISH, or SPUBLISH in cluster mode
             5 heartbeat in ms
             6 retention in ms (the text for the value)
             7 the tracker's token: a digest of the name it sends, or "" for a
               child, a parent completing with its children, or any tracker
               that does not want to prebuild its writes
             8 started_at (ISO) as the tracker knows it
             9 parent job id, or "" (a stored `parent` wins)
            10 weight of this child in its parent, a positive integer (the
               weight stored at the child's first roll-up wins)
            11 "1" when this job (a parent) completes by itself once its
               children have ended, else "0"
            12 name ("" = keep): the rest of the string, spaces and all
  ARGV[6]  a prebuilt value, or "" (see below)
  ARGV[7]  the state ("~s") the prebuilt value was computed from
  ARGV[8]  the state to store with the prebuilt value
           Numbers and constants each as one string: Redis makes a string of
           every argument (about 1,200 instructions each). All arguments are
           text: ioredis sends a command of strings as one string, while one
           binary argument makes it assemble a buffer piece by piece, which
           cost the worker more time before the write went out than building
           the value.

  Prebuilt write: a tracker whose last write to a plain running job returned
  the job's state and the value's tail (see Returns) computes its next value
  itself, exactly as the full path would (shared/tracker/prebuilt.ts), with the
  new state. The script stores both and publishes the value when the stored
  state is still, byte for byte, the one the value was built on (every write
  rewrites it; a cancel and a child's first roll-up drop its token) and the
  stored value still has the length that state's write gave it (a removed or
  pruned job has length 0). Otherwise it ignores ARGV[6..8] and runs the full
  path. It decodes no JSON and formats nothing: a prebuilt write costs Redis
  about half of a full one. The tracker prebuilds only a running write without
  an error message when housekeeping is not due.

  Full path. Effects: applies the count delta (own count minus what was last
  applied from this tracker, so a retried write never counts twice), recomputes
  percent, rate and ETA, bumps seq, sets updated_at, stores `retention` (so that
  readers holding the value know when it is pruned: updated_at + retention),
  publishes {"scope":..., "jobs": {id: value}} on KEYS[1]. On the job's first
  and last write, and at most every slack = min(60 s, retention / 10) per job
  in between, it also prunes expired jobs, schedules this job's pruning at
  now + retention (+ slack while running) and sets the keys' TTL to
  retention + 2 * slack (only ever longer: other jobs of the scope, and other
  trackers of the job, may keep theirs longer): housekeeping need not run on
  every write.
  When the job is missing (Redis restarted, evicted, flushed) it is recreated
  from the tracker's view: count = own count, seq = last seen + 1.

  Roll-up (a child: the job has a parent that exists in the same hash): the
  parent's `children` object keeps, as integers, the number of children, how
  many completed/failed/were canceled, the sum of their weights and `progress`
  = sum of weight * fraction in parts per billion (ppb). The child keeps the
  ppb last added (`parent_ppb`), so each write adds weight * (new - old): O(1),
  exact, and no update is lost because it all happens in this one script. The
  parent's `percent`, `fraction` and ETA (an EMA of its progress) follow; its
  seq is bumped and child and parent go out in ONE message
  {"scope":..., "jobs": {child: value, parent: value}}. A parent asked to
  complete with its children (field 11 of ARGV[5] on its own writes) ends
  when at least `total` children have rolled up and all of them have ended:
  `completed`, or `failed` ("1 of 3 children failed"), or `canceled`. A cancel requested on the
  parent is copied onto its running children as they write (also once the
  parent has ended). When the parent does not exist, the child is stored with
  its link and rolls up on a later write once the parent exists. A parent that
  is itself a child (nested jobs) has its children's fraction as its share:
  when it moves (or the parent ends), the change goes on up the same way, and
  every ancestor changed goes out in the same message.
  The parent's writers hash (named like KEYS[3], in its hash slot) loses its
  token on a first roll-up: its tracker must then read its value. The
  aggregate carries `gen` (when it began): a parent removed and written again
  starts a new one, and a child added to an older one registers anew.

  Returns: 1 when the prebuilt value was stored, else
           { seq, cancel_requested_at or "", estimated_finished_at in ms or -1,
             rate as a string or "", status as stored,
             the parent's status after this roll-up or "" (only after a roll-up),
             the state stored ("~s"),
             the value's text from ',"id":' to its end when the tracker may
             prebuild its next write (a plain running job and a token), else "" }
]]
--#include clock.lua
--#include state.lua

local hash, expiry, writers = KEYS[1], KEYS[2], KEYS[3]

if ARGV[6] ~= '' then
  local scope, id, tid, publish_cmd = string.match(ARGV[5], '^([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ')
  local built_on, applied = string.match(ARGV[1], '^([^ ]*) ([^ ]* [^ ]*) ')
  if redis.call('HGET', writers, '~s') == ARGV[7]
      and redis.call('HSTRLEN', hash, id) == tonumber(built_on) then
    local value = ARGV[6]
    redis.call('HSET', hash, id, value)
    -- `applied`: the tracker's count and errors, as the full path stores them.
    redis.call('HSET', writers, tid, applied, '~s', ARGV[8])
    -- Scopes and job ids are checked by the tracker: no character JSON escapes.
    redis.call(publish_cmd, hash, '{"scope":"' .. scope .. '","jobs":{"' .. id .. '":' .. value .. '}}')
    return 1
  end
end

local own_text, own_err_text, total, last_seen, retention, alpha, now =
  string.match(ARGV[1], '^[^ ]* ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*)$')
local own, own_err = tonumber(own_text), tonumber(own_err_text)
total, last_seen, retention = tonumber(total), tonumber(last_seen), tonumber(retention)
alpha, now = tonumber(alpha), tonumber(now)
local status = ARGV[2]
local scope, id, tid, publish_cmd, heartbeat_text, retention_text, token, started_at_arg,
  parent_arg, weight_text, with_children_text, name_arg = string.match(ARGV[5],
  '^([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) (.*)$')
-- Housekeeping (prune, expiry scores, key TTLs: 6 of the script's commands) runs
-- on a job's first write, its last, and then at most every `slack` ms per job,
-- not on every write. Scores and TTLs carry the slack so nothing expires before
-- `retention` after its last write; a scope nobody writes to vanishes at most
-- 2 * slack (10% of retention, at most 2 min) later.
local function slack_of(r) return math.min(60000, math.floor(r / 10)) end
local slack = slack_of(retention)
-- How long after its last write a job of retention `r` is kept: a finished
-- job's pruning time is exact; a running one's carries the slack because its
-- next refresh may be up to that much after its last write.
local function kept_for(r, running)
  if running then return r + slack_of(r) end
  return r
end

local w = redis.call('HMGET', writers, tid, '~s', '~p')
local _, _, _, _, ema_dn, ema_dt, last_refresh = read_state(w[2])
local prev_count, prev_err = 0, 0
if w[1] then
  local c, e = string.match(w[1], '^([^ ]+) ([^ ]+)$')
  prev_count, prev_err = tonumber(c) or 0, tonumber(e) or 0
end

-- tqdm's EMA: the count and time deltas since the last write are smoothed
-- apart, rate = dn / dt.
local function smooth(dn, dt)
  if dt <= 0 or dn < 0 then return end
  if ema_dn and ema_dt then
    ema_dn = alpha * dn + (1 - alpha) * ema_dn
    ema_dt = alpha * dt + (1 - alpha) * ema_dt
  elseif dn > 0 then
    ema_dn, ema_dt = dn, dt
  end
end

-- The rate a value shows: 6 decimals from 1e-4 to 1e8 items per second, where
-- such a number's "%.14g" is every digit it has (prebuilt.ts's shownRate()
-- rounds the same way and writes it with JavaScript's own number text).
local function shown_rate(rate)
  if rate and rate >= 1e-4 and rate < 1e8 then return math.floor(rate * 1e6 + 0.5) / 1e6 end
  return rate
end

-- A job's percent (0..100, 100 when total <= 0), smoothed rate (items per
-- second, nil until known) and ETA (ms, now once count reaches total, -1 when
-- unknown) from its count, total and the EMA.
local function measures(count, total)
  local percent = 100
  if total > 0 then percent = math.max(0, math.min(100, math.floor(count * 100 / total))) end
  local rate, eta = nil, -1
  if ema_dn and ema_dt and ema_dt > 0 then rate = ema_dn * 1000 / ema_dt end
  if count >= total then
    eta = now
  elseif rate and rate > 0 then
    eta = now + math.ceil((total - count) / rate * 1000)
  end
  return percent, shown_rate(rate), eta
end

--#include lib.lua

-- The scope hash and its expiry set hold every job of the scope, and each job's
-- tracker has its own `retention`: a write only ever lengthens their TTL, or a
-- job kept for minutes would take a finished one kept for a day with it when
-- the key expired. (PEXPIRE's GT flag would not do: it counts a key without a
-- TTL as never expiring, so a new hash would get none.)
local function extend_ttl(key, ttl)
  local left = redis.call('PTTL', key)
  if left == -1 or (left >= 0 and left < ttl) then redis.call('PEXPIRE', key, ttl) end
end

-- Schedules the job's pruning and sets the keys' TTLs (see the header). After
-- the writers hash is written: a PEXPIRE before its first HSET would do nothing.
local function housekeep(running)
  redis.call('ZADD', expiry, now + kept_for(retention, running), id)
  extend_ttl(hash, retention + 2 * slack)
  extend_ttl(expiry, retention + 2 * slack)
  -- Every tracker of the job writes this hash: one with a shorter retention
  -- must not cut another's applied count short (that one's next write would
  -- find none and count all its items again).
  extend_ttl(writers, retention + 2 * slack)
end

local heartbeat = tonumber(heartbeat_text)
local weight_arg = tonumber(weight_text) or 1
local with_children = with_children_text == '1'

local PPB = 1000000000

-- floor(a / b) for non-negative integers below 2^53, corrected for the
-- division's rounding.
local function div_floor(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end

-- A job's fraction in parts per billion, rounded down so that a parent never
-- runs ahead of its children. floor(count * 1e9 / total) by long division,
-- one decimal digit at a time, so every step stays an exact integer (count <
-- total < 10^14).
local function ppb(j)
  if j.status == 'completed' then return PPB end
  local ch = j.children
  if type(ch) == 'table' and (tonumber(ch.weight) or 0) > 0 then
    -- A parent that is itself a child (nested): its share is its children's,
    -- as its percent is. progress <= weight * 1e9 < 2^53.
    return math.max(0, math.min(PPB, div_floor(math.max(0, ch.progress), ch.weight)))
  end
  local t, c = tonumber(j.total) or 0, tonumber(j.count) or 0
  if t <= 0 or c >= t then return PPB end
  if c <= 0 then return 0 end
  local q, r = 0, c
  for _ = 1, 9 do
    r = r * 10
    local d = div_floor(r, t)
    q, r = q * 10 + d, r - d * t
  end
  return q
end

local function has_children(j)
  local c = j.children
  return type(c) == 'table' and (tonumber(c.total) or 0) > 0 and (tonumber(c.weight) or 0) > 0
end

-- Ends a parent that completes with its children once they all have ended.
local function settle(p, now)
  if p.status ~= 'running' or p.complete_with_children ~= true or not has_children(p) then return end
  local c = p.children
  local n = c.total
  if n < (tonumber(p.total) or 0) or c.completed + c.failed + c.canceled < n then return end
  if c.failed > 0 then
    p.status = 'failed'
    p.error = string.format('%d of %d children failed', c.failed, n)
  elseif c.canceled > 0 then
    p.status = 'canceled'
  else
    p.status = 'completed'
  end
  p.finished_at = iso(now)
end

-- A parent's percent and fraction from its children; returns its ETA in ms
-- (-1 when unknown), or nil when it has no children.
local function apply_children(p, now)
  if not has_children(p) then return nil end
  local c = p.children
  local full = c.weight * PPB
  p.fraction = c.progress / full
  if p.status == 'completed' then
    p.percent = 100
  else
    p.percent = math.min(100, math.max(0, div_floor(math.max(0, c.progress), c.weight * 10000000)))
  end
  local left = full - c.progress
  if left <= 0 then return now end
  if c.ema_dp and c.ema_dt and c.ema_dp > 0 and c.ema_dt > 0 then
    return now + math.ceil(left * c.ema_dt / c.ema_dp)
  end
  return -1
end

-- Sets finished_at and estimated_finished_at; returns the ETA in ms (-1 when
-- unknown).
local function finish_times(j, now, eta_ms)
  if j.status ~= 'running' then
    if not j.finished_at or j.finished_at == cjson.null then j.finished_at = j.updated_at end
    j.estimated_finished_at = j.finished_at
    return parse_iso(j.finished_at) or now
  end
  j.finished_at = cjson.null
  -- A stalled job's rate decays towards 0 and its ETA past the year 9999,
  -- which has no date text readers parse (they would drop the job): unknown.
  if eta_ms ~= eta_ms or eta_ms > LAST_ISO_MS then eta_ms = -1 end
  if eta_ms >= 0 then j.estimated_finished_at = iso(eta_ms) else j.estimated_finished_at = cjson.null end
  return eta_ms
end


local old, meta_raw = split_meta(redis.call('HGET', hash, id))
local meta_arg = ARGV[3]
if meta_arg == '=' then
  -- The meta the prebuilt value ends with.
  meta_arg = meta_text(ARGV[6]) or ''
end
if meta_arg ~= '' then meta_raw = meta_arg end
-- Captured before `job = old` below mutates the same table.
local was_status, was_ppb, was_weight, was_parent, was_gen = nil, nil, nil, nil, nil
if old then
  was_status, was_ppb = old.status, tonumber(old.parent_ppb)
  was_weight, was_parent, was_gen = tonumber(old.weight), old.parent, old.parent_gen
elseif w[3] then
  -- The value was removed while its tracker still runs: what this child last
  -- added to its parent is kept with its writers (field "~p"), so that the
  -- value written again does not register a second time.
  local gen, added, counted = string.match(w[3], '^([^ ]*) ([^ ]+) ([^ ]+)$')
  was_gen, was_ppb, was_status = tonumber(gen), tonumber(added), counted
end

local job
-- A clock that went back (another worker's, or this one's) counts as due too.
local refresh = (not old) or (not last_refresh) or (now - last_refresh >= slack)
  or now < last_refresh or status ~= 'running'
if refresh then prune(hash, expiry, scope, publish_cmd, now) end
if old then
  local old_count = tonumber(old.count) or 0
  job = old
  job.count = old_count + own - prev_count
  job.error_count = (tonumber(old.error_count) or 0) + own_err - prev_err
  job.seq = math.max(old.seq, last_seen) + 1
  -- A terminal status is final: a late write from another process cannot revive it.
  if old.status ~= 'running' then status = old.status end
  local last = parse_iso(old.updated_at)
  if last and old.status == 'running' then smooth(job.count - old_count, now - last) end
else
  job = { started_at = started_at_arg, count = own, error_count = own_err, seq = last_seen + 1 }
  ema_dn, ema_dt = nil, nil
end

job.id = id
job.total = total
job.status = status
job.heartbeat = heartbeat
job.retention = retention
job.updated_at = iso(now)
if name_arg ~= '' then job.name = name_arg end
if ARGV[4] ~= '' then job.error = ARGV[4] end
if job.error_count == 0 then job.error_count = nil end
if with_children then job.complete_with_children = true end

local percent, rate, own_eta = measures(job.count, total)
if status == 'completed' then percent = 100 end
job.percent = percent
job.rate = rate

-- A parent's own write: it may complete with its children; its percent and ETA
-- come from them.
settle(job, now)
local eta_ms = apply_children(job, now)
if eta_ms == nil then eta_ms = own_eta end
eta_ms = finish_times(job, now, eta_ms)

-- Adds a child's change to its parent `p` (id `p_id`): its first roll-up
-- registers it, later ones add weight * (its fraction now - the one it last
-- added) and count it once when it ends. A child registered with another
-- generation of the parent's aggregate (the parent was removed and written
-- again since) registers anew. Then the parent's own fields follow (seq,
-- updated_at, completion with its children, percent and ETA). Returns the
-- parent's status before this change.
local function add_to_parent(p, p_id, child, weight, was_child_ppb, was_child_status, was_child_gen)
  local now_ppb = ppb(child)
  local c = p.children
  if type(c) ~= 'table' then
    -- `gen`: when this aggregate began (ms), which its children keep.
    c = { total = 0, completed = 0, failed = 0, canceled = 0, weight = 0, progress = 0, gen = now }
    p.children = c
    -- The parent's own writes must now read its value (its children change
    -- it): its writers hash is named like KEYS[3] and shares its hash slot.
    drop_token(hash .. ':#w:' .. p_id)
  end
  -- An aggregate from before generations has none, nor have its children.
  if was_child_ppb and (tonumber(was_child_gen) or 0) == (tonumber(c.gen) or 0) then
    c.progress = c.progress + weight * (now_ppb - was_child_ppb)
    if was_child_status == 'running' and child.status ~= 'running' then
      c[child.status] = (c[child.status] or 0) + 1
    end
  else
    -- The child's first roll-up registers it.
    c.total = c.total + 1
    c.weight = c.weight + weight
    c.progress = c.progress + weight * now_ppb
    if child.status ~= 'running' then c[child.status] = (c[child.status] or 0) + 1 end
  end
  child.parent_ppb, child.parent_gen = now_ppb, c.gen
  -- The parent's ETA: tqdm's EMA over its progress and time deltas.
  if c.sample_at then
    local dt, dp = now - c.sample_at, c.progress - c.sample_progress
    if dt > 0 then
      if dp < 0 then dp = 0 end
      if c.ema_dp and c.ema_dt then
        c.ema_dp = alpha * dp + (1 - alpha) * c.ema_dp
        c.ema_dt = alpha * dt + (1 - alpha) * c.ema_dt
      elseif dp > 0 then
        c.ema_dp, c.ema_dt = dp, dt
      end
      c.sample_at, c.sample_progress = now, c.progress
    end
  else
    c.sample_at, c.sample_progress = now, c.progress
  end
  p.seq = p.seq + 1
  -- Children writing keep the parent alive for readers (not stalled).
  p.updated_at = iso(now)
  local was_status = p.status
  settle(p, now)
  local peta = apply_children(p, now)
  finish_times(p, now, peta or -1)
  return was_status
end

-- A child's "~p" field (see KEYS[3]): what it last added to its parent.
local function added_text(j)
  return string.format('%.0f %.0f %s', tonumber(j.parent_gen) or 0, j.parent_ppb, j.status)
end

-- How many levels above a child its change may move (a guard, not a limit
-- anyone should reach).
local MAX_DEPTH = 32

-- Roll-up into the parent, and on up while a parent's share in its own parent
-- moves: every ancestor is in this scope's hash (KEYS[1]).
local parent_id = was_parent
if type(parent_id) ~= 'string' then parent_id = parent_arg end
local ancestors = {}
local parent_status = ''
local parent_cancel = ''
if parent_id ~= '' and parent_id ~= id then
  local weight = was_weight or weight_arg
  job.parent, job.weight = parent_id, weight
  local p, pmeta = split_meta(redis.call('HGET', hash, parent_id))
  if p then
    local node_was = add_to_parent(p, parent_id, job, weight, was_ppb, was_status, was_gen)
    -- Also once the parent has ended: its tracker, seeing the cancel, often
    -- ends it before an idle child writes again.
    if type(p.cancel_requested_at) == 'string' then parent_cancel = p.cancel_requested_at end
    parent_status = p.status
    ancestors[1] = { parent_id, p, pmeta }
    local node, seen = p, { [id] = true, [parent_id] = true }
    for _ = 1, MAX_DEPTH do
      local up_id = node.parent
      if type(up_id) ~= 'string' or seen[up_id] then break end
      local node_ppb = tonumber(node.parent_ppb)
      -- Unchanged share and status: nothing above moves.
      if node_ppb == ppb(node) and node_was == node.status then break end
      local up, upmeta = split_meta(redis.call('HGET', hash, up_id))
      if not up then break end
      seen[up_id] = true
      node_was = add_to_parent(up, up_id, node, tonumber(node.weight) or 1, node_ppb, node_was,
        tonumber(node.parent_gen))
      ancestors[#ancestors + 1] = { up_id, up, upmeta }
      node = up
    end
    for i, a in ipairs(ancestors) do
      local a_id, a_job = a[1], a[2]
      local a_retention = tonumber(a_job.retention) or retention
      a[4] = encode_job(a_job, a[3])
      redis.call('HSET', hash, a_id, a[4])
      if i < #ancestors then
        -- Its share in the next one up moved: its writers keep it too (see
        -- "~p"), in its hash slot like the parent's writers hash above.
        local a_writers = hash .. ':#w:' .. a_id
        redis.call('HSET', a_writers, '~p', added_text(a_job))
        extend_ttl(a_writers, a_retention + 2 * slack_of(a_retention))
      end
      -- An ancestor keeps its own retention (a child may be kept for less),
      -- counted from this write, which moved its updated_at.
      if refresh then
        redis.call('ZADD', expiry, now + kept_for(a_retention, a_job.status == 'running'), a_id)
      end
    end
  end
end
-- A cancel of the parent reaches its running children.
if parent_cancel ~= '' and job.status == 'running' and type(job.cancel_requested_at) ~= 'string' then
  job.cancel_requested_at = parent_cancel
end

local value = encode_job(job, meta_raw)
redis.call('HSET', hash, id, value)
if refresh then last_refresh = now end
-- Only a plain running job's next write may be prebuilt: a child or a parent rolls up, a
-- cancel must be answered, an ended job stays as it is.
local plain = job.status == 'running' and job.parent == nil and job.children == nil
  and job.cancel_requested_at == nil and job.complete_with_children == nil
if not plain then token = '' end
local state = pack_state(job.seq, job.count, job.error_count or 0, now, ema_dn, ema_dt,
  last_refresh, #value, token)
if job.parent_ppb then
  redis.call('HSET', writers, tid, own_text .. ' ' .. own_err_text, '~s', state, '~p',
    added_text(job))
else
  redis.call('HSET', writers, tid, own_text .. ' ' .. own_err_text, '~s', state)
end
if refresh then housekeep(job.status == 'running') end
local entries = cjson.encode(id) .. ':' .. value
for _, a in ipairs(ancestors) do entries = entries .. ',' .. cjson.encode(a[1]) .. ':' .. a[4] end
redis.call(publish_cmd, hash, '{"scope":' .. cjson.encode(scope) .. ',"jobs":{' .. entries .. '}}')

local cancel = job.cancel_requested_at
if type(cancel) ~= 'string' then cancel = '' end
local rate_text = ''
if rate then rate_text = tostring(rate) end
-- What the tracker builds its next value on (see the header).
local tail = ''
if token ~= '' then tail = string.sub(value, (string.find(value, ',"id":', 1, true))) end
return { job.seq, cancel, eta_ms, rate_text, job.status, parent_status, state, tail }
