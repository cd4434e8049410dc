-- scripts/unblock-thread.lua — cancel every active run on the given threads and wait until they accept new work
-- The cure for "Can't add messages to thread ... while a run ... is active":
-- lists each thread, cancels its queued/in_progress/requires_action runs,
-- then lists it again until no run is active or cancelling (cancelling any
-- run that appeared meanwhile), or the deadline passes.
local ops = require "runctl.ops"

local NAME = "unblock-thread"
local USAGE = [[
usage: runctl unblock-thread [OPTIONS] THREAD_ID... | -

Cancels every active run (queued, in_progress, requires_action) on each thread
and waits until no run on it is active or cancelling, so the thread accepts
new messages and runs again. A run that starts meanwhile is cancelled too.
Thread IDs come from the arguments, --threads-file, or stdin.

  --threads-file FILE     read thread IDs from FILE ("-" for stdin)
  --wait SECONDS          how long to wait in all (default 120)
  --dry-run               report what would be cancelled; no cancel is sent
  --concurrency N         requests in flight at once (default 16)
  --rate R                at most R requests per second
  --report FILE           write the JSON lines to FILE instead of stdout
  --json                  JSON lines on stdout even on a terminal (where
                          the default is one readable line per run)
  -h, --help              this text

One JSON line per run it acts on or waits for (thread_id, run_id,
status_before, status_after, age, action, request_id, error), as with
cancel-older-than; a thread that cannot be listed gets a line with run_id
null. The summary on stderr says which threads accept new work.
Exit status: 0 every thread accepts new work (or would, in a dry run),
1 a thread is still blocked or something failed, 2 usage error, 130 Ctrl-C.
]]

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--threads-file"] = { kind = "string" },
    ["--wait"] = { kind = "seconds" },
    ["--dry-run"] = { kind = "flag" },
    ["--concurrency"] = { kind = "count" },
    ["--rate"] = { kind = "rate" },
    ["--report"] = { kind = "string" },
    ["--json"] = { kind = "flag" },
  },
}

local function main(args)
  local o, positional = ops.parse(SPEC, args)
  local threads = ops.collect_ids(positional, o.threads_file, "thread ID")
  if #threads == 0 then
    ops.usage_error("no thread IDs: give them as arguments, with --threads-file FILE, or on stdin")
  end
  if o.dry_run then runctl.dry_run = true end
  local client = ops.client(o)
  local report, rerr = ops.report(o.report, { report = NAME, args = args, threads = threads }, o.json)
  if not report then ops.usage_error("--report: cannot open " .. o.report .. ": " .. tostring(rerr)) end
  local concurrency = o.concurrency or 16
  local timeout = o.wait or 120
  local now, t0 = ops.now(), ops.clock()
  local deadline = t0 + timeout
  local ledger = ops.ledger(report)

  -- Per thread: its ledger line (until it is listed), the runs blocking it
  -- now, and how it ended: "unblocked", "failed", "dry_run" (nil: blocked).
  local state = {}
  for _, tid in ipairs(threads) do
    state[tid] = { entry = ledger:add { thread_id = tid }, blockers = {}, cancelled = 0,
                   would = 0 }
  end

  -- One pass over a thread: list it, account for every active or cancelling
  -- run, cancel the active ones (again, if an earlier cancel failed).
  local function pass(tid)
    local st = state[tid]
    local status_of, pending_runs = {}, {}
    local ok, err = pcall(function()
      for run in client.runs.each(tid, { limit = 100 }) do
        if type(run) == "table" and type(run.id) == "string" then
          status_of[run.id] = run.status
          if ops.PENDING[run.status] then pending_runs[#pending_runs + 1] = run end
        end
      end
    end)
    if not ok then
      st.outcome, st.why = "failed", "cannot list runs: " .. tostring(err)
      if ledger:is_pending(st.entry) then
        ledger:settle(st.entry, { action = "failed", error = st.why, cause = err,
                                  request_id = runctl.is_error(err) and err.request_id or nil })
      end
      return
    end
    ledger:forget(st.entry)
    -- Runs that blocked the thread last time and are no longer pending: done.
    for _, e in ipairs(st.blockers) do
      local now_status = status_of[e.run_id]
      if not ops.PENDING[now_status] and ledger:is_pending(e) then
        ledger:settle(e, { status_after = now_status })
      end
    end
    local blockers = {}
    for _, run in ipairs(pending_runs) do
      local e, new = ledger:add { thread_id = tid, run_id = run.id, status_before = run.status,
                                  age = math.type(run.created_at) and now - run.created_at or nil }
      e.status_after = run.status
      if new and run.status == "cancelling" then e.action = "already_done" end
      if ledger:is_pending(e) then blockers[#blockers + 1] = e end
    end
    for _, e in ipairs(blockers) do
      if ops.ACTIVE[e.status_after] and not e.sent then
        if runctl.interrupted() then break end
        local obj, cerr, resp = client.runs.cancel(tid, e.run_id)
        local f = ops.classify_cancel(obj, cerr, resp, e.status_after)
        for k, v in pairs(f) do e[k] = v end
        e.sent = f.action ~= "failed"        -- a failed cancel is tried again next pass
        if f.action == "cancelled" then st.cancelled = st.cancelled + 1 end
        if f.action == "would_cancel" then st.would = st.would + 1 end
      end
    end
    st.blockers = {}
    for _, e in ipairs(blockers) do
      if ledger:is_pending(e) and (o.dry_run or not ops.PENDING[e.status_after]) then
        ledger:settle(e)
      elseif ledger:is_pending(e) then
        st.blockers[#st.blockers + 1] = e
      end
    end
    if o.dry_run then
      st.outcome = "dry_run"
    elseif #st.blockers == 0 then
      st.outcome = "unblocked"
    end
  end

  local todo = threads
  local delay = 0.2
  local interrupted = false
  while #todo > 0 do
    interrupted = ops.each_concurrently(todo, concurrency, pass)
    if interrupted then break end
    local blocked = {}
    for _, tid in ipairs(todo) do
      if not state[tid].outcome then blocked[#blocked + 1] = tid end
    end
    todo = blocked
    local left = deadline - ops.clock()
    if #todo == 0 or left <= 0 then break end
    if not ops.sleep(math.min(delay, left)) then interrupted = true break end
    delay = math.min(delay * 2, 2)
  end

  -- Threads still blocked: the runs blocking them get their lines, with why.
  for _, tid in ipairs(threads) do
    local st = state[tid]
    if not st.outcome and not interrupted then
      st.outcome = "blocked"
      for _, e in ipairs(st.blockers) do
        local why = ("still %s after waiting %gs"):format(e.status_after, timeout)
        ledger:settle(e, { action = e.action or "failed",
                           error = e.error and (e.error .. "; " .. why) or why })
      end
    end
  end
  ledger:settle_rest(interrupted and "interrupted" or "not attempted")
  local write_ok, write_err = report:close()

  local counts = { unblocked = 0, blocked = 0, failed = 0 }
  for _, tid in ipairs(threads) do
    local st = state[tid]
    if st.outcome == "unblocked" then
      counts.unblocked = counts.unblocked + 1
      ops.say(false, "  %s: accepts new work%s", tid,
              st.cancelled > 0 and (" (%s cancelled)"):format(ops.plural(st.cancelled, "run")) or "")
    elseif st.outcome == "dry_run" then
      ops.say(false, "  %s: would cancel %s", tid, ops.plural(st.would, "run"))
    elseif st.outcome == "failed" then
      counts.failed = counts.failed + 1
      ops.say(true, "  %s: %s", tid, st.why)
    elseif st.outcome == "blocked" then
      counts.blocked = counts.blocked + 1
      local b = st.blockers[1]
      ops.say(true, "  %s: still blocked by %s (%s) after %gs", tid, b.run_id, b.status_after, timeout)
    else
      ops.say(true, "  %s: interrupted", tid)
    end
  end
  local code = ledger:exit_code(interrupted, counts.blocked > 0 or counts.failed > 0 or not write_ok)
  if o.dry_run then
    ops.say(code ~= 0, "%s: dry run on %s: %s; no cancel was sent", NAME, ops.plural(#threads, "thread"),
            ledger:counts_text())
  else
    ops.say(code ~= 0, "%s: %s: %d accept new work, %d still blocked, %d failed; runs: %s  [%.1fs]",
            NAME, ops.plural(#threads, "thread"), counts.unblocked, counts.blocked, counts.failed,
            ledger:counts_text(), ops.clock() - t0)
  end
  if not write_ok then ops.say(true, "%s: cannot write the report: %s", NAME, write_err) end
  return code
end

ops.main(NAME, main, { ... })
