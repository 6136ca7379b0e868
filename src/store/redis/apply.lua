-- apply.lua: one lifecycle step (docs/design.md §4) for one (source, fingerprint) key, atomic
-- because Redis runs a script to completion before any other command.
--
-- Key names mirror `Keys` in keys.rs (layout version 2, docs/design.md §5). Every key
-- this script touches starts with T = P.."{b"..bucket.."}", the bucket's hash tag, so on
-- Redis Cluster they all live in one slot. Every key but the incident's own hash is built
-- in Rust and passed in KEYS; the incident id is only known once the script has read
-- KEYS[1] (or bumped KEYS[3]), so the script derives that one name itself,
-- T.."inc:"..id: same tag, same slot, so a cluster node serves it.
--
-- KEYS[1]  T.."fp:"..sha256hex   hash {open = open incident id, ts = last event_time,
--          dl = "1" while the open incident has a deadline, pr = its priority, td = its
--          title's digest}: what an update or a resolve needs, in the one read of a step
-- KEYS[2]  T.."ids:"..source   sorted set of ids, score -v while open, +v once resolved
-- KEYS[3]  T.."seq" (the bucket's last v)   KEYS[4]  T.."events"
-- KEYS[5]  T.."deadlines" (auto-resolve: member id, score deadline ms)
-- KEYS[6]  T.."flapping" (flapping fingerprints: member fp key, score window end ms)
-- KEYS[7]  T.."sources" (the sources with incidents in the bucket, for listings)
-- ARGV[1]  T                    ARGV[2]  action: "open" | "resolve"
-- ARGV[3]  source               ARGV[4]  now (Unix ms)
-- ARGV[5]  event_time (Unix ms) or ""    ARGV[6]  priority or ""
-- ARGV[7]  event stream MAXLEN (approximate, per bucket)
-- ARGV[8]  resolved TTL (ms, >= 1): how long a resolved incident's hash, and a key that
--          holds no open incident (only its last `ts`), live after their last write
-- ARGV[9]  the bucket as three decimal digits ("007")
-- ARGV[10] auto_resolve_after (ms) or ""   ARGV[11] flapping opens ("0": no policy)
-- ARGV[12] flapping window (ms)
-- ARGV[13] the title's digest, "" when the outcome has no title (and on a resolve)
-- ARGV[14] the title as an update stores it (record.rs `encode` with no references)
-- ARGV[15...] a new incident's hash fields but `id` (record.rs `create_fields`: long
--          texts stored once, long values as pieces of <= 64 bytes)
--
-- The record (docs/design.md §5): the incident's hash is written whole once, at its
-- create; an update writes only what changed (`event_count`, `last_event_at`, and
-- `priority` or the title when they differ from the fp record's `pr`/`td`); stream
-- entries carry the step's own fields (`id`, `source`, `priority`, an update's
-- `event_count`, the title only when the step changed it, flapping), never the long
-- texts; what a transition implies is left out (`status`, `last_event_at` = `at`, a
-- create's `event_count` 1, a resolve's `resolved_at` = `at`): readers complete entries
-- from the hash (complete.rs).
--
-- Lifecycle policies (docs/design.md §4): an open or update with `auto_resolve_after`
-- sets the incident's deadline to now + it (an update without moves none: ZREM), a
-- resolve removes it; `sweep.lua` fires due ones. With a flapping policy the fp hash keeps
-- `opens` (the open times inside the window, at most `opens` of them), `flaps` (the
-- spell's opens, absent or 0 when not flapping) and `newest` (the newest incident id).
--
-- Ids: v = max(now * 1024, the bucket's last v + 1), exact in a Lua double (< 2^53 until
-- the year 2248); id = v .. bucket digits (decimal v*1000 + bucket), made as a string so
-- no double ever holds the whole id. An id's v is the id without its last three digits.
-- One INCR gives last + 1; only when that is below now * 1024 (the first create of a
-- millisecond) is seq SET as well.
--
-- Expiry: an open incident's hash and its fp key never carry a TTL (an open PERSISTs an
-- fp key that existed, which a resolve may have set to expire). A resolve PEXPIREs both
-- (an fp key left empty disappears instead).
--
-- Returns {transition, id, priority, flapping, flap_count} ("" where unset; id "" when the
-- step concerned no incident; flapping only on a create); a create returns {"opened", id,
-- "", flapping, flap_count}: the caller knows the priority it sent.
--
-- Calls per step (each redis.call costs ~1.3 us over its command): a create 7 (HMGET,
-- INCR, HSET, ZADD, SADD, HSET, XADD), an update 4 (HMGET, HINCRBY, HSET, XADD), a
-- resolve 6 (HMGET, HSET, PEXPIRE, ZADD, HDEL, XADD); a policy adds its own.

local fp_key, T = KEYS[1], ARGV[1]
local action, source, now, event_time = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local priority, maxlen, ttl = ARGV[6], ARGV[7], ARGV[8]

local state = redis.call('HMGET', fp_key, 'open', 'ts', 'dl', 'opens', 'flaps', 'pr', 'td')
local open, ts, dl, pr = state[1], state[2], state[3], state[6]
local existed = open or ts or dl or state[4] or state[5]

-- The open incident's priority: the fp record's copy, or (a record written before it kept
-- one) the incident's own.
local function stored_priority()
  if pr then return pr end
  return redis.call('HGET', T .. 'inc:' .. open, 'priority') or ''
end

if event_time ~= '' and ts and tonumber(ts) > tonumber(event_time) then
  if open then return {'stale', open, stored_priority(), '', ''} end
  return {'stale', '', '', '', ''}
end
-- Not stale, so ts <= event_time: the key's new last time is event_time itself.
local stamp = event_time ~= ''

-- A title stored as pieces when longer than a hash keeps compact (record.rs `push_field`).
local function push_title(out, text)
  if #text <= 64 then
    out[#out + 1] = 'title'; out[#out + 1] = text
    return
  end
  local n = 0
  for i = 1, #text, 64 do
    out[#out + 1] = 'title#' .. n; out[#out + 1] = string.sub(text, i, i + 63)
    n = n + 1
  end
  out[#out + 1] = 'title#'; out[#out + 1] = tostring(n)
end

local function push(t, ...)
  for _, v in ipairs({...}) do t[#t + 1] = v end
end

if action == 'open' and not open then
  local floor = tonumber(now) * 1024
  local v = redis.call('INCR', KEYS[3])
  if v < floor then
    v = floor
    redis.call('SET', KEYS[3], string.format('%.0f', v))
  end
  v = string.format('%.0f', v)
  local id = v .. ARGV[9]
  local inc = T .. 'inc:' .. id
  redis.call('HSET', inc, 'id', id, unpack(ARGV, 15))
  local fp = {'open', id}
  if priority ~= '' then
    fp[#fp + 1] = 'pr'; fp[#fp + 1] = priority
  elseif pr then
    redis.call('HDEL', fp_key, 'pr')
  end
  if ARGV[13] ~= '' then
    fp[#fp + 1] = 'td'; fp[#fp + 1] = ARGV[13]
  elseif state[7] then
    redis.call('HDEL', fp_key, 'td')
  end
  if stamp then fp[#fp + 1] = 'ts'; fp[#fp + 1] = event_time end
  if ARGV[10] ~= '' then
    redis.call('ZADD', KEYS[5], tonumber(now) + tonumber(ARGV[10]), id)
    push(fp, 'dl', '1')
  elseif dl then
    redis.call('HDEL', fp_key, 'dl')
  end
  local flapping, flap_count = '', ''
  if ARGV[11] ~= '0' then
    local limit, within, t = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(now)
    local kept = {}
    for o in string.gmatch(state[4] or '', '%d+') do
      if tonumber(o) > t - within then kept[#kept + 1] = o end
    end
    kept[#kept + 1] = now
    while #kept > limit do table.remove(kept, 1) end
    local flaps = tonumber(state[5] or '0')
    if flaps > 0 then flaps = flaps + 1 elseif #kept >= limit then flaps = #kept end
    push(fp, 'opens', table.concat(kept, ','), 'flaps', flaps, 'newest', id)
    if flaps > 0 then
      redis.call('ZADD', KEYS[6], t + within, fp_key)
      flapping, flap_count = '1', tostring(flaps)
      redis.call('HSET', inc, 'flapping', '1', 'flap_count', flap_count)
    end
  end
  redis.call('ZADD', KEYS[2], '-' .. v, id)
  redis.call('SADD', KEYS[7], source)
  redis.call('HSET', fp_key, unpack(fp))
  -- A resolve before may have set the key to expire; it now records an open incident.
  if existed then redis.call('PERSIST', fp_key) end
  local entry = {'transition', 'opened', 'at', now, 'id', id, 'source', source}
  if priority ~= '' then entry[9] = 'priority'; entry[10] = priority end
  if flapping ~= '' then push(entry, 'flapping', '1', 'flap_count', flap_count) end
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', maxlen, '*', unpack(entry))
  return {'opened', id, '', flapping, flap_count}
elseif action == 'open' then
  local inc = T .. 'inc:' .. open
  local count = redis.call('HINCRBY', inc, 'event_count', 1)
  local set = {'last_event_at', now}
  local entry = {'transition', 'updated', 'at', now, 'id', open, 'source', source,
    'event_count', count}
  local fp = {}
  local stored = priority
  if priority == '' then
    stored = stored_priority()
  elseif priority ~= pr then
    push(set, 'priority', priority)
    push(fp, 'pr', priority)
  end
  if stored ~= '' then push(entry, 'priority', stored) end
  if ARGV[13] ~= '' and ARGV[13] ~= state[7] then
    -- A new title (or one recorded before `td` was kept): the old one's pieces go, the
    -- new one is written and streamed.
    local gone = {'title', 'title#'}
    for n = 0, tonumber(redis.call('HGET', inc, 'title#') or '0') - 1 do
      gone[#gone + 1] = 'title#' .. n
    end
    redis.call('HDEL', inc, unpack(gone))
    push_title(set, ARGV[14])
    push(fp, 'td', ARGV[13])
    push(entry, 'title', ARGV[14])
  end
  redis.call('HSET', inc, unpack(set))
  if ARGV[10] ~= '' then
    redis.call('ZADD', KEYS[5], tonumber(now) + tonumber(ARGV[10]), open)
    if not dl then push(fp, 'dl', '1') end
  elseif dl then
    redis.call('ZREM', KEYS[5], open)
    redis.call('HDEL', fp_key, 'dl')
  end
  if stamp then push(fp, 'ts', event_time) end
  if #fp > 0 then redis.call('HSET', fp_key, unpack(fp)) end
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', maxlen, '*', unpack(entry))
  return {'updated', open, stored, '', ''}
elseif action == 'resolve' and open then
  local inc = T .. 'inc:' .. open
  local stored = stored_priority()
  redis.call('HSET', inc, 'status', 'resolved', 'resolved_at', now, 'last_event_at', now)
  redis.call('PEXPIRE', inc, ttl)
  redis.call('ZADD', KEYS[2], string.sub(open, 1, -4), open)
  if dl then redis.call('ZREM', KEYS[5], open) end
  -- The key keeps its last time (and flapping state); the open incident's fields go.
  -- With nothing left the now empty hash disappears.
  if stamp then redis.call('HSET', fp_key, 'ts', event_time) end
  redis.call('HDEL', fp_key, 'open', 'dl', 'pr', 'td')
  if stamp or ts or state[4] or state[5] then redis.call('PEXPIRE', fp_key, ttl) end
  local entry = {'transition', 'resolved', 'at', now, 'id', open, 'source', source}
  if stored ~= '' then push(entry, 'priority', stored) end
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', maxlen, '*', unpack(entry))
  return {'resolved', open, stored, '', ''}
elseif action == 'resolve' then
  -- The key holds no open incident: its last time lives as long as a resolved incident.
  if stamp then
    redis.call('HSET', fp_key, 'ts', event_time)
    redis.call('PEXPIRE', fp_key, ttl)
  end
  return {'already_resolved', '', '', '', ''}
end
return redis.error_reply('ERR alertgate apply: unknown action ' .. tostring(action))
