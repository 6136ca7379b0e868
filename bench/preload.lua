-- wrk helper: preloads open incidents through the gateway's own webhook API (so the store's
-- key layout is whatever the gateway writes), then exits.
-- Args (after `--`): TOKEN FROM TO [BODY_BYTES, default 600; smaller means no padding]
-- Sends StatusCake DOWNs for names "Bench Check pre <id>" with id in [FROM, TO), then wraps
-- around (a repeat DOWN only updates the open incident). wrk discards the first request()
-- result of a thread, so it counts 202 answers and exits once TO-FROM+SLACK have arrived:
-- by then every id has been sent at least once. wrk's -d bounds it if some fail.
dofile("bench/common.lua")

local SLACK = 256
local token, from, to, want
local counter, accepted, other = 0, 0, 0
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function init(args)
   token = args[1] or "bench"
   from = tonumber(args[2] or "0")
   to = tonumber(args[3] or "1")
   want = to - from
   common.statuscake_init(tonumber(args[4] or "600"), string.format("%07d", 0), "pre")
end

function request()
   local i = from + (counter % want)
   counter = counter + 1
   local body = common.statuscake_body("Down", string.format("%07d", i), "pre")
   return wrk.format("POST", "/hooks/statuscake?token=" .. token, headers, body)
end

function response(status, headers, body)
   if status == 202 then
      accepted = accepted + 1
      if accepted >= want + SLACK then
         io.write(string.format("PRELOAD_DONE accepted=%d\n", accepted))
         io.flush()
         os.exit(0)
      end
   else
      other = other + 1
      if other <= 3 then io.write("preload: unexpected status " .. status .. ": " .. (body or "") .. "\n") end
   end
end

-- Reached only when wrk's -d ran out first (done() runs outside the thread's state).
function done(summary, latency, requests)
   io.write(string.format("PRELOAD_INCOMPLETE requests=%d non2xx=%d\n", summary.requests, summary.errors.status))
end
