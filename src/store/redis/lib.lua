-- lib.lua: helpers prepended to sweep.lua and heard.lua (docs/design.md §5).
--
-- close(T, deadlines, events, id, now, ttl, maxlen, by) resolves incident `id` of
-- bucket T exactly as apply.lua's resolve does (status, resolved_at, last_event_at, TTL
-- on the hash, the ids:{source} score, the fingerprint record's `open`, the deadline),
-- also writing `resolved_by`, and appends the `resolved` stream entry. Returns the
-- incident's hash after the step, or nil when it is no longer open.
local function close(T, deadlines, events, id, now, ttl, maxlen, by)
  local inc = T .. 'inc:' .. id
  redis.call('ZREM', deadlines, id)
  local h = redis.call('HMGET', inc, 'status', 'source', 'fpkey')
  if h[1] ~= 'open' then return nil end
  redis.call('HSET', inc, 'status', 'resolved', 'resolved_at', now, 'last_event_at', now,
    'resolved_by', by)
  redis.call('PEXPIRE', inc, ttl)
  redis.call('ZADD', T .. 'ids:' .. h[2], string.sub(id, 1, -4), id)
  if h[3] and redis.call('HGET', h[3], 'open') == id then
    redis.call('HDEL', h[3], 'open')
    redis.call('PEXPIRE', h[3], ttl)
  end
  local fields = redis.call('HGETALL', inc)
  redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', 'transition', 'resolved', 'at', now,
    unpack(fields))
  return fields
end
