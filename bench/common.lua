-- Shared helpers for the wrk scripts in bench/ (loaded with dofile from the repo root).
-- Every scenario prints one parsable line from done():
--   BENCH_RESULT requests=.. duration_us=.. rps=.. p50_us=.. p90_us=.. p99_us=.. max_us=..
--                non2xx=.. err_connect=.. err_read=.. err_write=.. err_timeout=..
-- non2xx is wrk's "Non-2xx or 3xx responses" count.

common = {}

-- Splits `text` on every plain occurrence of `needle`, so a body with a varying id can be
-- rebuilt per request with table.concat(parts, id) instead of a gsub.
function common.split_plain(text, needle)
   local parts, pos = {}, 1
   while true do
      local s, e = string.find(text, needle, pos, true)
      if not s then break end
      parts[#parts + 1] = string.sub(text, pos, s - 1)
      pos = e + 1
   end
   parts[#parts + 1] = string.sub(text, pos)
   return parts
end

function common.read_file(path)
   local f = assert(io.open(path, "rb"), "cannot open " .. path .. " (run from the repo root)")
   local s = f:read("*a")
   f:close()
   return s
end

-- Comma-separated list → array.
function common.list(s)
   local out = {}
   for item in string.gmatch(s or "", "[^,]+") do out[#out + 1] = item end
   return out
end

-- A StatusCake webhook body, padded through Tags to about `target` bytes (~600 by default).
-- `id` is a fixed-width string so every body of a run has the same length.
local sc_head = "Token=bb186e2b60dc01833c9a9cdfb8566927&Status="
local sc_tags = "production%2Cweb%2Cpayments%2Ctier-1%2Ceu-west-1%2Con-call-primary%2Cslo-99-9"
local sc_pad = ""
function common.statuscake_init(target, sample_id, run)
   local sample = common.statuscake_body("Down", sample_id, run)
   local missing = (target or 600) - #sample
   -- The padding lengthens the URL's query string (as monitored URLs often are), so
   -- the body grows without inventing fields or tags a real sender would not send.
   if missing > 0 then
      sc_pad = "%26q%3D"
      while #sc_pad < missing do sc_pad = sc_pad .. "x" end
      sc_pad = string.sub(sc_pad, 1, missing)
   end
end
function common.statuscake_body(status, id, run)
   local code = status == "Down" and "503" or "200"
   return sc_head .. status .. "&StatusCode=" .. code
      .. "&URL=https%3A%2F%2Fcheck-" .. id .. ".bench.example.com%2Fhealth%2Fdeep%3Fregion%3Deu-west-1" .. sc_pad
      .. "&IP=93.184.216.34&Tags=" .. sc_tags
      .. "&Name=Bench+Check+" .. run .. "+" .. id
      .. "&CheckRate=300&TestID=" .. id .. "&Method=GET&ContactGroup=bench-on-call"
end

function common.done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d "
         .. "non2xx=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end
