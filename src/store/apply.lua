-- apply.lua: one lifecycle step (DESIGN §4) for one (source, fingerprint) key, atomic
-- because Redis runs a script to completion before any other command.
--
-- Key names mirror `Keys` in redis.rs (the one documented scheme); P is the key prefix.
-- Only KEYS[1] is known before the script runs: incident keys depend on what it reads,
-- so the script builds them itself (fine on one Redis node, not on a cluster).
--
-- KEYS[1]  P.."fp:"..sha256hex  hash {open = open incident id, ts = last event_time}
-- ARGV[1]  P                    ARGV[2]  action: "open" | "resolve"
-- ARGV[3]  source               ARGV[4]  fingerprint
-- ARGV[5]  now (Unix ms)        ARGV[6]  event_time (Unix ms) or ""
-- ARGV[7]  priority or ""       ARGV[8]  "1" if a title is given, else "0"
-- ARGV[9]  title                ARGV[10] labels (a JSON object)
-- ARGV[11] event stream MAXLEN (approximate)
--
-- Returns {transition, field, value, field, value, ...}: the incident's hash as it stands
-- after the step, or no fields when the transition carries no incident.

local fp_key = KEYS[1]
local p, action, source, fingerprint = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, event_time = ARGV[5], ARGV[6]

local function inc_key(id) return p .. 'inc:' .. id end
local function idx_status(status) return p .. 'idx:st:' .. status end
local function idx_source(status)
  if status then return p .. 'idx:st:' .. status .. ':src:' .. source end
  return p .. 'idx:src:' .. source
end

local state = redis.call('HMGET', fp_key, 'open', 'ts')
local open, ts = state[1], state[2]

if event_time ~= '' and ts and tonumber(ts) > tonumber(event_time) then
  if open then
    local fields = redis.call('HGETALL', inc_key(open))
    table.insert(fields, 1, 'stale')
    return fields
  end
  return {'stale'}
end

-- Not stale, so ts <= event_time: the key's new last time is event_time itself.
local function remember_time()
  if event_time ~= '' then redis.call('HSET', fp_key, 'ts', event_time) end
end

local transition, id
if action == 'open' and not open then
  id = tostring(redis.call('INCR', p .. 'seq'))
  local fields = {'id', id, 'source', source, 'fingerprint', fingerprint, 'status', 'open',
    'labels', ARGV[10], 'opened_at', now, 'last_event_at', now, 'event_count', '1'}
  if ARGV[7] ~= '' then table.insert(fields, 'priority'); table.insert(fields, ARGV[7]) end
  if ARGV[8] == '1' then table.insert(fields, 'title'); table.insert(fields, ARGV[9]) end
  redis.call('HSET', inc_key(id), unpack(fields))
  redis.call('ZADD', p .. 'idx:all', id, id)
  redis.call('ZADD', idx_status('open'), id, id)
  redis.call('ZADD', idx_source(nil), id, id)
  redis.call('ZADD', idx_source('open'), id, id)
  redis.call('HSET', fp_key, 'open', id)
  transition = 'opened'
elseif action == 'open' then
  id = open
  redis.call('HINCRBY', inc_key(id), 'event_count', 1)
  local fields = {'last_event_at', now}
  if ARGV[7] ~= '' then table.insert(fields, 'priority'); table.insert(fields, ARGV[7]) end
  if ARGV[8] == '1' then table.insert(fields, 'title'); table.insert(fields, ARGV[9]) end
  redis.call('HSET', inc_key(id), unpack(fields))
  transition = 'updated'
elseif action == 'resolve' and open then
  id = open
  redis.call('HSET', inc_key(id), 'status', 'resolved', 'resolved_at', now, 'last_event_at', now)
  redis.call('ZREM', idx_status('open'), id)
  redis.call('ZADD', idx_status('resolved'), id, id)
  redis.call('ZREM', idx_source('open'), id)
  redis.call('ZADD', idx_source('resolved'), id, id)
  -- With no `ts` left either, the now empty hash disappears.
  redis.call('HDEL', fp_key, 'open')
  transition = 'resolved'
elseif action == 'resolve' then
  remember_time()
  return {'already_resolved'}
else
  return redis.error_reply('ERR alertgate apply: unknown action ' .. tostring(action))
end
remember_time()

local fields = redis.call('HGETALL', inc_key(id))
redis.call('XADD', p .. 'events', 'MAXLEN', '~', ARGV[11], '*',
  'transition', transition, 'at', now, unpack(fields))
table.insert(fields, 1, transition)
return fields
