-- bench/wrk-cancel.lua — wrk script: POST cancel to every run of the ids file in
-- turn (path ".../threads/T/runs/R/cancel"), with the headers runctl sends.
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
  local t, r = line:match("^(%S+) (%S+)$")
  ids[#ids + 1] = ("%s/threads/%s/runs/%s/cancel"):format(os.getenv("BENCH_PREFIX"), t, r)
end
local i = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.headers["OpenAI-Beta"] = "assistants=v2"
wrk.headers["Content-Length"] = "0"
request = function()
  i = i % #ids + 1
  return wrk.format(nil, ids[i])
end
