-- bench/cancel-natural.lua — the script users naturally write: read the
-- "thread_id run_id" lines, cancel them all with task.map at concurrency 64,
-- keep every result. Prints one JSON line of measurements.
-- Usage: runctl bench/cancel-natural.lua IDS_FILE [CA_FILE]
local file, ca_file = ...
local c = runctl.client { max_retries = 0, ca_file = ca_file }
local jobs = {}
for line in io.lines(file) do
  local thread_id, run_id = line:match("^(%S+) (%S+)$")
  jobs[#jobs + 1] = { thread_id, run_id }
end

local t0 = runctl.now()
local runs, errs = task.map(jobs, function(job) return c.runs.cancel(job[1], job[2]) end, { concurrency = 64 })
local elapsed = runctl.now() - t0
local ok = 0
for i = 1, #jobs do
  if runs[i] then ok = ok + 1 end
end
local _, first_error = next(errs)
local status = io.open("/proc/self/status"):read("a")
print(json.encode {
  ok = ok, failed = #jobs - ok, seconds = elapsed, per_second = #jobs / elapsed,
  first_error = first_error and tostring(first_error),
  peak_rss_kib = tonumber(status:match("VmHWM:%s*(%d+)")),
})
