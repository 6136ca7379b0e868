-- lib.lua: helpers prepended to sweep.lua and heard.lua (docs/design.md §5).
--
-- close(T, deadlines, events, id, now, ttl, maxlen, by) resolves incident `id` of
-- bucket T exactly as apply.lua's resolve does (status, resolved_at, last_event_at, TTL
-- on the hash, the ids:{source} score, the fingerprint record's `open`, the deadline),
-- also writing `resolved_by`, and appends the `resolved` stream entry (the step's own
-- fields, as apply.lua's). Returns the incident's hash after the step, or nil when it is
-- no longer open.
local function close(T, deadlines, events, id, now, ttl, maxlen, by)
  local inc = T .. 'inc:' .. id
  redis.call('ZREM', deadlines, id)
  local h = redis.call('HMGET', inc, 'status', 'source', 'fpkey', 'fp', 'priority', 'flapping',
    'flap_count', 'event_count')
  if h[1] ~= 'open' then return nil end
  redis.call('HSET', inc, 'status', 'resolved', 'resolved_at', now, 'last_event_at', now,
    'resolved_by', by)
  redis.call('PEXPIRE', inc, ttl)
  redis.call('ZADD', T .. 'ids:' .. h[2], string.sub(id, 1, -4), id)
  -- `fpkey` (the record's whole name) on incidents written before `fp` (its digest).
  local fp_key = h[3] or (h[4] and T .. 'fp:' .. h[4])
  if fp_key and redis.call('HGET', fp_key, 'open') == id then
    redis.call('HDEL', fp_key, 'open', 'dl', 'pr', 'td')
    redis.call('PEXPIRE', fp_key, ttl)
  end
  local entry = {'transition', 'resolved', 'at', now, 'id', id, 'source', h[2],
    'status', 'resolved', 'resolved_at', now, 'last_event_at', now,
    'event_count', h[8] or '0', 'resolved_by', by}
  if h[5] then entry[#entry + 1] = 'priority'; entry[#entry + 1] = h[5] end
  if h[6] then
    entry[#entry + 1] = 'flapping'; entry[#entry + 1] = h[6]
    entry[#entry + 1] = 'flap_count'; entry[#entry + 1] = h[7] or ''
  end
  redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', unpack(entry))
  return redis.call('HGETALL', inc)
end
