-- heard.lua: a heartbeat source was heard (or its config loaded), in the bucket of its
-- (source, "heartbeat") fingerprint (docs/design.md §4, §5).
--
-- KEYS[1] T.."heartbeats" (member source, score deadline)  KEYS[2] T.."events"
-- KEYS[3] T.."hb:"..source (hash: title for the incident, fpkey)
-- KEYS[4] the fingerprint record of (source, "heartbeat")   KEYS[5] T.."deadlines"
-- ARGV[1] T  ARGV[2] source  ARGV[3] now  ARGV[4] the new deadline (ms)
-- ARGV[5] the title if it goes silent now  ARGV[6] "heard" | "arm"
-- ARGV[7] stream MAXLEN  ARGV[8] resolved TTL (ms)
--
-- "arm" starts the clock only for a source never seen. "heard" moves the deadline and
-- resolves the open heartbeat incident (resolved_by = heartbeat), returning its hash.

if ARGV[6] == 'arm' and redis.call('EXISTS', KEYS[3]) == 1 then return {} end
redis.call('HSET', KEYS[3], 'title', ARGV[5], 'fpkey', KEYS[4])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
if ARGV[6] ~= 'heard' then return {} end
local open = redis.call('HGET', KEYS[4], 'open')
if not open then return {} end
return close(ARGV[1], KEYS[5], KEYS[2], open, ARGV[3], ARGV[8], ARGV[7], 'heartbeat') or {}
