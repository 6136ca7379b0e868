-- wrk scenario (a): StatusCake DOWN/UP cycling over many fingerprints.
-- Args (after `--`): TOKEN NAMES RUN SOURCES
--   NAMES   distinct test names (default 10000); request i uses name i % NAMES and is a
--           DOWN on even passes over the names, an UP on odd ones: every name is opened,
--           then resolved NAMES requests later (far apart, so concurrent connections never
--           reorder a name's DOWN and UP).
--   RUN     tag put in every Name so runs never share fingerprints.
--   SOURCES comma-separated source ids (default "statuscake"); names are spread over them.
-- Body: ~600 bytes of application/x-www-form-urlencoded.
dofile("bench/common.lua")

local token, names, run, paths
local counter = 0
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function init(args)
   token = args[1] or "bench"
   names = tonumber(args[2] or "10000")
   run = args[3] or "r0"
   paths = {}
   for i, src in ipairs(common.list(args[4] or "statuscake")) do
      paths[i] = "/hooks/" .. src .. "?token=" .. token
   end
   common.statuscake_init(600, string.format("%07d", 0), run)
end

function request()
   local idx = counter % names
   local status = (math.floor(counter / names) % 2 == 0) and "Down" or "Up"
   counter = counter + 1
   local path = paths[(idx % #paths) + 1]
   local body = common.statuscake_body(status, string.format("%07d", idx), run)
   return wrk.format("POST", path, headers, body)
end

done = common.done
