-- bench/cancel-each.lua — the streaming job as users write it: task.each over
-- the lines of the IDS file ("thread_id run_id"), cancelling at concurrency
-- 64 and counting outcomes (nothing kept). Prints one JSON line of measurements.
-- Usage: runctl bench/cancel-each.lua IDS_FILE [CA_FILE]
local file, ca_file = ...
local c = runctl.client { max_retries = 0, ca_file = ca_file }

local t0 = runctl.now()
local done, failed, first_error = task.each(io.lines(file), function(line)
  local thread_id, run_id = line:match("^(%S+) (%S+)$")
  return c.runs.cancel(thread_id, run_id)
end, { concurrency = 64 })
local elapsed = runctl.now() - t0
local status = io.open("/proc/self/status"):read("a")
print(json.encode {
  ok = done, failed = failed, seconds = elapsed, per_second = (done + failed) / elapsed,
  first_error = first_error and tostring(first_error),
  peak_rss_kib = tonumber(status:match("VmHWM:%s*(%d+)")),
})
