-- act.lua: a person's act on one incident (docs/design.md §4): acknowledge, resolve or
-- note, recorded on the bucket's event stream like any transition. Atomic; every key is
-- in the incident's bucket (the same hash tag, so one Redis Cluster slot). Key names
-- mirror `Keys` in keys.rs.
--
-- KEYS[1]  T.."inc:"..id       the incident's hash
-- KEYS[2]  T.."fp:"..sha256hex the key record of its (source, fingerprint)
-- KEYS[3]  T.."ids:"..source   its source's index in the bucket
-- KEYS[4]  T.."events"         the bucket's event stream
-- ARGV[1]  "acknowledge" | "resolve" | "note"      ARGV[2]  now (Unix ms)
-- ARGV[3]  actor ("user:<name>")                   ARGV[4]  the note's text (note only)
-- ARGV[5]  event stream MAXLEN (approximate)       ARGV[6]  resolved TTL (ms, >= 1)
-- ARGV[7]  the incident id
--
-- Returns {"not_found"}, {"conflict", why}, or {transition, field, value, ...}: the
-- incident's hash after the act.

local inc, act, now, by = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local status = redis.call('HGET', inc, 'status')
if not status then return {'not_found'} end

local transition
if act == 'acknowledge' then
  if status == 'resolved' then return {'conflict', 'the incident is resolved'} end
  if redis.call('HEXISTS', inc, 'acknowledged_at') == 1 then
    return {'conflict', 'the incident is already acknowledged'}
  end
  redis.call('HSET', inc, 'acknowledged_at', now, 'acknowledged_by', by)
  transition = 'acknowledged'
elseif act == 'resolve' then
  if status == 'resolved' then return {'conflict', 'the incident is already resolved'} end
  local id = ARGV[7]
  redis.call('HSET', inc, 'status', 'resolved', 'resolved_at', now, 'last_event_at', now,
    'resolved_by', by)
  redis.call('PEXPIRE', inc, ARGV[6])
  redis.call('ZADD', KEYS[3], string.sub(id, 1, -4), id)
  -- The key is free again: the source's next alert opens a new incident. Its last
  -- event_time (if any) stays, and expires like a source's resolve's.
  if redis.call('HGET', KEYS[2], 'open') == id then
    redis.call('HDEL', KEYS[2], 'open', 'dl', 'pr', 'td')
    redis.call('PEXPIRE', KEYS[2], ARGV[6])
  end
  transition = 'resolved'
elseif act == 'note' then
  transition = 'noted'
else
  return redis.error_reply('ERR alertgate act: unknown act ' .. tostring(act))
end

local fields = redis.call('HGETALL', inc)
-- The entry carries the act's own fields; readers complete it from the hash (record.rs).
local h = redis.call('HMGET', inc, 'id', 'source', 'status', 'event_count', 'last_event_at')
local entry = {'transition', transition, 'at', now, 'actor', by, 'id', h[1], 'source', h[2],
  'status', h[3], 'event_count', h[4] or '0', 'last_event_at', h[5] or now}
if transition == 'noted' then
  entry[#entry + 1] = 'note'
  entry[#entry + 1] = ARGV[4]
elseif transition == 'acknowledged' then
  for _, f in ipairs({'acknowledged_at', now, 'acknowledged_by', by}) do entry[#entry + 1] = f end
else
  for _, f in ipairs({'resolved_at', now, 'resolved_by', by}) do entry[#entry + 1] = f end
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', unpack(entry))
table.insert(fields, 1, transition)
return fields
