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
-- KEYS[1]  T.."fp:"..sha256hex   hash {open = open incident id, ts = last event_time}
-- KEYS[2]  T.."ids:"..source   sorted set of ids, score -v while open, +v once resolved
-- KEYS[3]  T.."seq" (the bucket's last v)   KEYS[4]  T.."events"   KEYS[5]  T.."sources"
-- ARGV[1]  T                    ARGV[2]  action: "open" | "resolve"
-- ARGV[3]  source               ARGV[4]  fingerprint
-- ARGV[5]  now (Unix ms)        ARGV[6]  event_time (Unix ms) or ""
-- ARGV[7]  priority or ""       ARGV[8]  "1" if a title is given, else "0"
-- ARGV[9]  title                ARGV[10] labels (a JSON object)
-- ARGV[11] event stream MAXLEN (approximate, per bucket)
-- ARGV[12] resolved TTL (ms, >= 1): how long a resolved incident's hash, and a key that
--          holds no open incident (only its last `ts`), live after their last write
-- ARGV[13] the bucket as three decimal digits ("007")
-- KEYS[6]  T.."deadlines" (auto-resolve: member id, score deadline ms)
-- KEYS[7]  T.."flapping" (flapping fingerprints: member fp key, score window end ms)
-- ARGV[14] auto_resolve_after (ms) or ""   ARGV[15] flapping opens ("0": no policy)
-- ARGV[16] flapping window (ms)
--
-- Lifecycle policies (docs/design.md §4): an open or update with `auto_resolve_after`
-- sets the incident's deadline to now + it (an update without moves none: ZREM), a
-- resolve removes it; `sweep.lua` fires due ones. An incident hash keeps `fpkey` (its
-- fingerprint record's key) so the sweep can resolve it. With a flapping policy the fp
-- hash keeps `opens` (the open times inside the window, at most `opens` of them),
-- `flaps` (the spell's opens, absent or 0 when not flapping) and `newest` (the newest
-- incident id); a flapping open carries `flapping`/`flap_count` and replies in full.
--
-- Ids: v = max(now * 1024, the bucket's last v + 1), exact in a Lua double (< 2^53 until
-- the year 2248); id = v .. bucket digits (decimal v*1000 + bucket), made as a string so
-- no double ever holds the whole id. An id's v is the id without its last three digits.
--
-- Expiry: an open incident's hash and its fp key never carry a TTL (an open PERSISTs the
-- fp key, which a resolve may have set to expire; a new incident's hash is a new key).
-- A resolve PEXPIREs both; a later resolve that stamps the key refreshes the key's TTL.
-- Ids of expired incidents stay in the ids:* sets until the sweeper (sweep.lua, step 4)
-- or a listing meets and ZREMs them.
--
-- Returns {"opened", id} for a create (the caller knows every other field: it sent them),
-- else {transition, field, value, field, value, ...}: the incident's hash as it stands
-- after the step, or no fields when the transition carries no incident.
--
-- Cost (measured, see the commit log): every redis.call costs ~1.3 µs over the command
-- itself, so the script makes as few as it can; a create builds its fields once for HSET
-- and XADD and never reads the hash back.

local fp_key = KEYS[1]
local action, now, event_time = ARGV[2], ARGV[5], ARGV[6]
local ttl = ARGV[12]

local state = redis.call('HMGET', fp_key, 'open', 'ts')
local open, ts = state[1], state[2]

if event_time ~= '' and ts and tonumber(ts) > tonumber(event_time) then
  if open then
    local fields = redis.call('HGETALL', ARGV[1] .. 'inc:' .. open)
    table.insert(fields, 1, 'stale')
    return fields
  end
  return {'stale'}
end
-- Not stale, so ts <= event_time: the key's new last time is event_time itself.
local stamp = event_time ~= ''

local transition, reply, id, flapping
if action == 'open' and not open then
  local last = tonumber(redis.call('GET', KEYS[3]) or '0')
  local v = string.format('%.0f', math.max(tonumber(now) * 1024, last + 1))
  redis.call('SET', KEYS[3], v)
  id = v .. ARGV[13]
  -- reply[1] is the transition; the rest is the hash, written once, streamed, returned.
  reply = {'opened', 'id', id, 'source', ARGV[3], 'fingerprint', ARGV[4], 'status', 'open',
    'labels', ARGV[10], 'opened_at', now, 'last_event_at', now, 'event_count', '1',
    'fpkey', fp_key}
  local n = #reply
  if ARGV[7] ~= '' then reply[n + 1] = 'priority'; reply[n + 2] = ARGV[7]; n = n + 2 end
  if ARGV[8] == '1' then reply[n + 1] = 'title'; reply[n + 2] = ARGV[9]; n = n + 2 end
  if ARGV[14] ~= '' then
    redis.call('ZADD', KEYS[6], tonumber(now) + tonumber(ARGV[14]), id)
  end
  if ARGV[15] ~= '0' then
    local limit, within, t = tonumber(ARGV[15]), tonumber(ARGV[16]), tonumber(now)
    local f = redis.call('HMGET', fp_key, 'opens', 'flaps')
    local kept = {}
    for o in string.gmatch(f[1] or '', '%d+') do
      if tonumber(o) > t - within then kept[#kept + 1] = o end
    end
    kept[#kept + 1] = now
    while #kept > limit do table.remove(kept, 1) end
    local flaps = tonumber(f[2] or '0')
    if flaps > 0 then flaps = flaps + 1 elseif #kept >= limit then flaps = #kept end
    redis.call('HSET', fp_key, 'opens', table.concat(kept, ','), 'flaps', flaps, 'newest', id)
    if flaps > 0 then
      redis.call('ZADD', KEYS[7], t + within, fp_key)
      reply[n + 1] = 'flapping'; reply[n + 2] = '1'
      reply[n + 3] = 'flap_count'; reply[n + 4] = tostring(flaps)
      flapping = true
    end
  end
  redis.call('HSET', ARGV[1] .. 'inc:' .. id, unpack(reply, 2))
  redis.call('ZADD', KEYS[2], '-' .. v, id)
  redis.call('SADD', KEYS[5], ARGV[3])
  if stamp then
    redis.call('HSET', fp_key, 'open', id, 'ts', event_time)
  else
    redis.call('HSET', fp_key, 'open', id)
  end
  -- A resolve before may have set the key to expire; it now records an open incident.
  redis.call('PERSIST', fp_key)
  transition = 'opened'
elseif action == 'open' then
  local inc = ARGV[1] .. 'inc:' .. open
  redis.call('HINCRBY', inc, 'event_count', 1)
  -- `fpkey` too: an incident opened before it was kept gets it on its first update.
  if ARGV[7] ~= '' and ARGV[8] == '1' then
    redis.call('HSET', inc, 'last_event_at', now, 'fpkey', fp_key, 'priority', ARGV[7],
      'title', ARGV[9])
  elseif ARGV[7] ~= '' then
    redis.call('HSET', inc, 'last_event_at', now, 'fpkey', fp_key, 'priority', ARGV[7])
  elseif ARGV[8] == '1' then
    redis.call('HSET', inc, 'last_event_at', now, 'fpkey', fp_key, 'title', ARGV[9])
  else
    redis.call('HSET', inc, 'last_event_at', now, 'fpkey', fp_key)
  end
  if ARGV[14] ~= '' then
    redis.call('ZADD', KEYS[6], tonumber(now) + tonumber(ARGV[14]), open)
  else
    redis.call('ZREM', KEYS[6], open)
  end
  if stamp then redis.call('HSET', fp_key, 'ts', event_time) end
  transition = 'updated'
elseif action == 'resolve' and open then
  local inc = ARGV[1] .. 'inc:' .. open
  redis.call('HSET', inc, 'status', 'resolved', 'resolved_at', now, 'last_event_at', now)
  redis.call('PEXPIRE', inc, ttl)
  redis.call('ZADD', KEYS[2], string.sub(open, 1, -4), open)
  redis.call('ZREM', KEYS[6], open)
  if stamp then
    -- The key keeps its last time; only the open id goes.
    redis.call('HSET', fp_key, 'ts', event_time)
  end
  -- With no `ts` left either, the now empty hash disappears (and PEXPIRE does nothing).
  redis.call('HDEL', fp_key, 'open')
  redis.call('PEXPIRE', fp_key, ttl)
  transition = 'resolved'
elseif action == 'resolve' then
  -- The key holds no open incident: its last time lives as long as a resolved incident.
  if stamp then
    redis.call('HSET', fp_key, 'ts', event_time)
    redis.call('PEXPIRE', fp_key, ttl)
  end
  return {'already_resolved'}
else
  return redis.error_reply('ERR alertgate apply: unknown action ' .. tostring(action))
end

if not reply then
  -- An update or a resolve: the hash as it stands after the step.
  reply = redis.call('HGETALL', ARGV[1] .. 'inc:' .. open)
  table.insert(reply, 1, transition)
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[11], '*',
  'transition', transition, 'at', now, unpack(reply, 2))
if id and not flapping then return {'opened', id} end
return reply
