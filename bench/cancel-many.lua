-- bench/cancel-many.lua — the benchmark's bulk job: cancel N runs listed in a
-- file ("thread_id run_id" per line) at a given concurrency, streaming outcomes
-- into counters (nothing kept per run); prints one JSON line of measurements.
-- Usage: runctl bench/cancel-many.lua IDS_FILE [CONCURRENCY [CA_FILE]]
local file, concurrency, ca_file = ...
concurrency = math.tointeger(tonumber(concurrency or "64"))
local c = runctl.client { max_concurrency = concurrency, max_retries = 0, ca_file = ca_file }

local f = assert(io.open(file))
local next_line = f:lines()
local ok, failed = 0, 0
local t0, cpu0 = runctl.now(), os.clock()
local function worker()
  for line in next_line do
    local thread_id, run_id = line:match("^(%S+) (%S+)$")
    local run = c.runs.cancel(thread_id, run_id)
    if run then ok = ok + 1 else failed = failed + 1 end
  end
end
local workers = {}
for i = 1, concurrency do workers[i] = task.spawn(worker) end
for _, w in ipairs(workers) do assert(task.join(w)) end
local elapsed, cpu = runctl.now() - t0, os.clock() - cpu0
f:close()
local status = io.open("/proc/self/status"):read("a")
print(json.encode {
  ok = ok, failed = failed, seconds = elapsed, per_second = (ok + failed) / elapsed,
  cpu_seconds = cpu, peak_rss_kib = tonumber(status:match("VmHWM:%s*(%d+)")),
})
