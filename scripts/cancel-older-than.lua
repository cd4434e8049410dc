-- scripts/cancel-older-than.lua — cancel every active run older than an age
-- across the given threads; one line per run acted on, then a summary.
local USAGE = [[
usage: runctl cancel-older-than --older-than AGE [--dry-run] [--concurrency N] THREAD_ID...

  --older-than AGE   cancel runs created more than AGE ago: 90s, 15m, 2h, 1d
  --dry-run          list what would be cancelled; send no cancel
  --concurrency N    cancels in flight at once (default 16)
]]

local function usage_error(msg)
  io.stderr:write("cancel-older-than: ", msg, "\n", USAGE)
  os.exit(2)
end

local UNITS = { s = 1, m = 60, h = 3600, d = 86400 }
local function parse_age(s)
  local n, unit = tostring(s):match("^(%d+%.?%d*)([smhd]?)$")
  if not n then return nil end
  return tonumber(n) * UNITS[unit ~= "" and unit or "s"]
end

local function fmt_age(secs)
  secs = math.floor(secs)
  if secs >= 86400 then return ("%dd%02dh"):format(secs // 86400, secs % 86400 // 3600) end
  if secs >= 3600 then return ("%dh%02dm"):format(secs // 3600, secs % 3600 // 60) end
  if secs >= 60 then return ("%dm%02ds"):format(secs // 60, secs % 60) end
  return secs .. "s"
end

local args = { ... }
local older_than, concurrency, threads = nil, 16, {}
local i = 1
while i <= #args do
  local a = args[i]
  if a == "--older-than" then
    i = i + 1
    older_than = parse_age(args[i] or "")
    if not older_than then usage_error("--older-than needs an age such as 90s, 15m, 2h or 1d") end
  elseif a == "--dry-run" then
    runctl.dry_run = true           -- enforced by the client: no POST leaves
  elseif a == "--concurrency" then
    i = i + 1
    concurrency = math.tointeger(tonumber(args[i] or ""))
    if not concurrency or concurrency < 1 then usage_error("--concurrency needs a positive integer") end
  elseif a == "-h" or a == "--help" then
    io.stdout:write(USAGE)
    os.exit(0)
  elseif a:sub(1, 2) == "--" then
    usage_error("unknown option " .. a)
  else
    threads[#threads + 1] = a
  end
  i = i + 1
end
if not older_than then usage_error("--older-than is required") end
if #threads == 0 then usage_error("give at least one thread ID") end

local ACTIVE = { queued = true, in_progress = true, requires_action = true }
local now = os.time()
local targets, listed, failed_threads = {}, 0, 0

for _, thread_id in ipairs(threads) do
  local ok, err = pcall(function()
    for run in runs.each(thread_id, { limit = 100 }) do
      listed = listed + 1
      if ACTIVE[run.status] and now - run.created_at > older_than then
        targets[#targets + 1] = run
      end
    end
  end)
  if not ok then
    failed_threads = failed_threads + 1
    io.stdout:write(("failed        %s: cannot list runs: %s\n"):format(thread_id, tostring(err)))
  end
end

local counts = { cancelled = 0, would_cancel = 0, already_done = 0, failed = 0 }
local results, errs = task.map(targets, function(run)
  return runs.cancel(run.thread_id, run.id)
end, { concurrency = concurrency })

for k, run in ipairs(targets) do
  local age = fmt_age(now - run.created_at)
  local err = errs[k]
  local action, detail
  if results[k] then
    action, detail = "cancelled", results[k].status
  elseif runctl.is_error(err) and err.kind == "dry_run" then
    action, detail = "would_cancel", run.status
  elseif runctl.is_error(err) and err.status == 400 and tostring(err.message):find("^Cannot cancel run with status") then
    action, detail = "already_done", err.message:match("status '([^']+)'") or "?"
  else
    action, detail = "failed", tostring(err)
  end
  counts[action] = counts[action] + 1
  io.stdout:write(("%-13s %s/%s  age %s  %s -> %s\n"):format(action, run.thread_id, run.id, age, run.status, detail))
end

io.stdout:write(("\n%d threads, %d runs listed, %d older than %s and active: %d cancelled, %d would cancel, "
                 .. "%d already done, %d failed%s\n"):format(#threads, listed, #targets, fmt_age(older_than),
                 counts.cancelled, counts.would_cancel, counts.already_done, counts.failed,
                 failed_threads > 0 and (", %d threads could not be listed"):format(failed_threads) or ""))
os.exit((counts.failed > 0 or failed_threads > 0) and 1 or 0)
