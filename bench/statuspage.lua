-- wrk scenario (b): Statuspage incident and component webhooks with varying ids.
-- Args (after `--`): TOKEN NAMES RUN
-- Requests alternate incident / component payloads (the fixtures in
-- tests/fixtures/statuspage/ with their id replaced). Incident and component ids cycle over
-- NAMES values each; the first pass over the ids opens (investigating / major_outage), the
-- next resolves (resolved / operational), and so on.
dofile("bench/common.lua")

local FIX = "tests/fixtures/statuspage/"
local token, names, run, path
local counter = 0
local headers = { ["Content-Type"] = "application/json" }
local inc_open, inc_resolve, comp_open, comp_resolve

function init(args)
   token = args[1] or "bench"
   names = tonumber(args[2] or "10000")
   run = args[3] or "r0"
   path = "/hooks/statuspage?token=" .. token
   inc_open = common.split_plain(common.read_file(FIX .. "incident-investigating-critical.json"), "lbkhbwn21v5q")
   inc_resolve = common.split_plain(common.read_file(FIX .. "incident-resolved-critical.json"), "lbkhbwn21v5q")
   comp_open = common.split_plain(common.read_file(FIX .. "component-major-outage.json"), "rb5wq1dczvbm")
   comp_resolve = common.split_plain(common.read_file(FIX .. "component-operational.json"), "rb5wq1dczvbm")
end

function request()
   local n = math.floor(counter / 2)
   local idx = n % names
   local opening = math.floor(n / names) % 2 == 0
   local parts
   if counter % 2 == 0 then
      parts = opening and inc_open or inc_resolve
   else
      parts = opening and comp_open or comp_resolve
   end
   counter = counter + 1
   -- Statuspage ids are 12 lowercase alphanumerics: run tag (3) + 'x' + 8 digits.
   local id = string.format("%s%s%08d", string.sub(run .. "zzz", 1, 3), "x", idx)
   return wrk.format("POST", path, headers, table.concat(parts, id))
end

done = common.done
