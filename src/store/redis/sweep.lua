-- sweep.lua: fires the due deadlines of one bucket (docs/design.md §4, §5), atomically,
-- so that of several replicas sweeping at once each deadline fires exactly once.
--
-- KEYS[1] T.."deadlines"  KEYS[2] T.."events"  KEYS[3] T.."heartbeats"  KEYS[4] T.."flapping"
-- ARGV[1] T   ARGV[2] now (ms)   ARGV[3] at most this many of each kind
-- ARGV[4] stream MAXLEN   ARGV[5] resolved TTL (ms)   ARGV[6] bucket, three digits
-- ARGV[7] the configured heartbeats: "source=priority,source=priority" (a due heartbeat of
--         a source not listed is dropped)
-- KEYS[5] T.."sources"   ARGV[8] retention: at most this many index entries looked at
-- ARGV[9] retention: at most this many per source
--
-- Returns {auto-resolved, flapping spells ended, fingerprints flapping now, index entries
-- removed, 1 if a source's index had a full batch of them (more may follow) else 0,
-- source...}: the sources whose heartbeat incident it opened.

local T, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local maxlen, ttl = ARGV[4], ARGV[5]
local resolved, ended, opened = 0, 0, {}

-- 1. auto-resolve: every due incident still open resolves with resolved_by = timeout.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(due) do
  if close(T, KEYS[1], KEYS[2], id, now, ttl, maxlen, 'timeout') then
    resolved = resolved + 1
  end
end

-- 2. heartbeats: a silent source gets its `heartbeat` incident unless one is open.
local configured = {}
for source, priority in string.gmatch(ARGV[7], '([^,=]+)=([^,]+)') do
  configured[source] = priority
end
local silent = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
for _, source in ipairs(silent) do
  redis.call('ZREM', KEYS[3], source)
  local priority = configured[source]
  local hb = redis.call('HMGET', T .. 'hb:' .. source, 'title', 'fpkey')
  if priority and hb[2] and not redis.call('HGET', hb[2], 'open') then
    local last = tonumber(redis.call('GET', T .. 'seq') or '0')
    local v = string.format('%.0f', math.max(tonumber(now) * 1024, last + 1))
    redis.call('SET', T .. 'seq', v)
    local id = v .. ARGV[6]
    local fields = {'id', id, 'source', source, 'fingerprint', 'heartbeat', 'status', 'open',
      'labels', '{}', 'opened_at', now, 'last_event_at', now, 'event_count', '1',
      'fp', string.sub(hb[2], #T + 4), 'priority', priority, 'title', hb[1] or source}
    redis.call('HSET', T .. 'inc:' .. id, unpack(fields))
    redis.call('ZADD', T .. 'ids:' .. source, '-' .. v, id)
    redis.call('SADD', T .. 'sources', source)
    redis.call('HSET', hb[2], 'open', id)
    redis.call('PERSIST', hb[2])
    -- The title is a heartbeat's own (written here, not by a step): streamed whole.
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', 'transition', 'opened', 'at', now,
      'id', id, 'source', source, 'status', 'open', 'event_count', '1', 'last_event_at', now,
      'priority', priority)
    opened[#opened + 1] = source
  end
end

-- 3. flapping: a fingerprint whose window passed with no open stops flapping; the
-- flapping_ended entry carries its newest incident as it stands, flap_count = the spell's.
local quiet = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)
for _, fp_key in ipairs(quiet) do
  redis.call('ZREM', KEYS[4], fp_key)
  local f = redis.call('HMGET', fp_key, 'flaps', 'newest')
  redis.call('HDEL', fp_key, 'opens', 'flaps')
  if tonumber(f[1] or '0') > 0 then
    ended = ended + 1
    local id = f[2]
    local h = id and redis.call('HMGET', T .. 'inc:' .. id, 'source', 'status', 'event_count',
      'last_event_at', 'priority', 'resolved_at') or {}
    if h[1] then
      local entry = {'transition', 'flapping_ended', 'at', now, 'id', id, 'source', h[1],
        'status', h[2], 'event_count', h[3] or '0', 'last_event_at', h[4] or now,
        'flapping', '0', 'flap_count', f[1]}
      if h[5] then entry[#entry + 1] = 'priority'; entry[#entry + 1] = h[5] end
      if h[6] then entry[#entry + 1] = 'resolved_at'; entry[#entry + 1] = h[6] end
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', unpack(entry))
    end
  end
end

-- 4. retention of the indexes: a resolved incident's hash expires (resolved_ttl), its id
-- in ids:{source} does not. Look at the oldest resolved ids (score +v) of each source,
-- at most ARGV[9] per source and ARGV[8] in all, starting at a source picked by `now`
-- (so every source gets its turn), and remove those whose hash is gone; a source whose
-- index is empty leaves `sources`. Bounded work per run, whatever the backlog.
local budget, per_source, pruned, backlog = tonumber(ARGV[8]), tonumber(ARGV[9]), 0, 0
local sources = redis.call('SMEMBERS', KEYS[5])
table.sort(sources)
local n = #sources
local first = n > 0 and math.floor(tonumber(now) % n) or 0
for i = 0, n - 1 do
  if budget <= 0 then break end
  local source = sources[(first + i) % n + 1]
  local index = T .. 'ids:' .. source
  local batch = math.min(budget, per_source)
  local ids = redis.call('ZRANGEBYSCORE', index, '(0', '+inf', 'LIMIT', 0, batch)
  budget = budget - #ids
  local gone = 0
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', T .. 'inc:' .. id) == 0 then
      redis.call('ZREM', index, id)
      gone = gone + 1
    end
  end
  pruned = pruned + gone
  if #ids == batch and gone == batch then backlog = 1 end
  if redis.call('EXISTS', index) == 0 then redis.call('SREM', KEYS[5], source) end
end

return {resolved, ended, redis.call('ZCARD', KEYS[4]), pruned, backlog, unpack(opened)}
