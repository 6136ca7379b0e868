-- wrk scenarios am1 / am100: Prometheus alerts, BATCH alerts per POST, to alertgate's
-- Alertmanager webhook mapping or to Alertmanager's own API.
-- Args (after `--`): TARGET TOKEN NAMES RUN BATCH
--   TARGET  "ag": POST /hooks/alertmanager?token=TOKEN with a webhook notification
--           (`{receiver, status, alerts: [...], ...}`, version "4", the mapping's fan-out);
--           "am": POST /api/v2/alerts with a JSON array of postable alerts.
--   NAMES   distinct alerts (default 10000); request i carries alerts i*BATCH .. +BATCH-1
--           (mod NAMES): firing on even passes over the names, resolved on odd ones (for
--           Alertmanager: an endsAt in the past), as the StatusCake scenario does.
--   RUN     tag put in every alertname's instance so runs never share fingerprints.
dofile("bench/common.lua")

local target, token, names, run, batch, path
local counter = 0
local headers = { ["Content-Type"] = "application/json" }
local STARTS = "2026-01-01T00:00:00Z"

local function labels(id)
   return '{"alertname":"BenchHighLatency","instance":"bench-' .. run .. '-' .. id
      .. '.example.com:9100","job":"node","severity":"critical","team":"payments","region":"eu-west-1"}'
end
local function annotations(id)
   return '{"summary":"p99 latency above 2s on bench-' .. id
      .. '","runbook_url":"https://runbooks.example.com/latency"}'
end

function init(args)
   target = args[1] or "ag"
   token = args[2] or "bench"
   names = tonumber(args[3] or "10000")
   run = args[4] or "r0"
   batch = tonumber(args[5] or "1")
   if target == "am" then path = "/api/v2/alerts" else path = "/hooks/alertmanager?token=" .. token end
end

function request()
   local first = (counter * batch) % names
   local firing = math.floor(counter * batch / names) % 2 == 0
   counter = counter + 1
   local items = {}
   for k = 0, batch - 1 do
      local id = string.format("%07d", (first + k) % names)
      if target == "am" then
         local ends = firing and "" or ',"endsAt":"2026-01-01T00:05:00Z"'
         items[#items + 1] = '{"labels":' .. labels(id) .. ',"annotations":' .. annotations(id)
            .. ',"startsAt":"' .. STARTS .. '"' .. ends
            .. ',"generatorURL":"http://prometheus.example.com/graph?g0.expr=latency"}'
      else
         items[#items + 1] = '{"status":"' .. (firing and "firing" or "resolved") .. '","labels":' .. labels(id)
            .. ',"annotations":' .. annotations(id) .. ',"startsAt":"' .. STARTS .. '","endsAt":"'
            .. (firing and "0001-01-01T00:00:00Z" or "2026-01-01T00:05:00Z")
            .. '","generatorURL":"http://prometheus.example.com/graph?g0.expr=latency","fingerprint":"'
            .. run .. id .. '"}'
      end
   end
   local body
   if target == "am" then
      body = "[" .. table.concat(items, ",") .. "]"
   else
      local status = firing and "firing" or "resolved"
      body = '{"receiver":"bench","status":"' .. status .. '","alerts":[' .. table.concat(items, ",")
         .. '],"groupLabels":{"alertname":"BenchHighLatency"},"commonLabels":{"alertname":"BenchHighLatency"},'
         .. '"commonAnnotations":{},"externalURL":"http://alertmanager.example.com","version":"4",'
         .. '"groupKey":"{}:{alertname=\\"BenchHighLatency\\"}","truncatedAlerts":0}'
   end
   return wrk.format("POST", path, headers, body)
end

done = common.done
