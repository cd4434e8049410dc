-- scripts/unblock-thread.lua — cancel every active run on the given threads and wait until they accept new work
-- The cure for "Can't add messages to thread ... while a run ... is active":
-- lists each thread, cancels its queued/in_progress/requires_action runs,
-- then lists it again until no run is active or cancelling (cancelling any
-- run that appeared meanwhile), or the deadline passes.
local ops = require "runctl.ops"
local picks = require "runctl.jobs.selection"

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
status_before, status_after, age, action, request_id, error, note), as with
cancel-older-than (a run still active past its expires_at is cancelled too,
noted "past expires_at"); a thread that cannot be listed gets a line with run_id
null. The summary on stderr says which threads accept new work.
On a terminal a live line shows how many threads are free of how many, the
run blocking longest, and the time left; when one is still blocked the last
line is the command to run next.
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

local RUNS = ops.kinds.get("runs")

-- The runs of a thread that are active or cancelling, and every run's status;
-- or nil, err.
local function list_thread(client, tid)
  local status_of, pending = {}, {}
  local ok, err = pcall(function()
    for run in client.runs.each(tid, { limit = 100 }) do
      if type(run) == "table" and type(run.id) == "string" then
        status_of[run.id] = run.status
        if RUNS.pending[run.status] then pending[#pending + 1] = run end
      end
    end
  end)
  if not ok then return nil, err end
  return pending, status_of
end

-- Cancels a blocker that is active and not cancelled yet (again, when an
-- earlier cancel failed), keeping what the answer says on the entry.
local function cancel_blocker(job, st, e)
  if not RUNS.active[e.status_after] or e.sent or runctl.interrupted() then return end
  local obj, err, resp = job:call(e, "cancel")
  local f = ops.classify_cancel(obj, err, resp, e.status_after)
  job:saw(e, f.seen)
  f.seen = nil
  for k, v in pairs(f) do e[k] = v end
  if e.past_note then e.note = e.past_note end   -- still active past its expiry: the line says so
  e.sent = f.action ~= "failed"        -- a failed cancel is tried again next pass
  if f.action == "cancelled" then st.cancelled = st.cancelled + 1 end
  if f.action == "would_cancel" then st.would = st.would + 1 end
end

-- One pass over a thread: list it, account for every active or cancelling
-- run, cancel the active ones. st: the thread's state (its ledger line until
-- it is listed, the runs blocking it, how it ended: "unblocked", "failed",
-- "dry_run"; nil while blocked).
local function pass(job, st)
  local ledger = job.ledger
  local pending, status_of = list_thread(job.client, st.tid)
  if not pending then
    st.outcome, st.why = "failed", "cannot list runs: " .. tostring(status_of)
    if ledger:is_pending(st.entry) then
      ledger:settle(st.entry, { action = "failed", error = st.why, cause = status_of,
                                request_id = runctl.is_error(status_of) and status_of.request_id or nil })
    end
    return
  end
  ledger:forget(st.entry)
  for _, e in ipairs(st.blockers) do       -- blocked it last time, no longer pending: done
    local now_status = status_of[e.id]
    if not RUNS.pending[now_status] and ledger:is_pending(e) then ledger:settle(e, { status_after = now_status }) end
  end
  local blockers = {}
  for _, run in ipairs(pending) do
    local e, new = ledger:add { kind = RUNS, parent = st.tid, id = run.id, status_before = run.status,
                                age = math.type(run.created_at) and job.unix_time - run.created_at or nil }
    e.status_after = run.status
    if picks.past_expiry(RUNS, run.status, run.expires_at, job.unix_time) then e.past_note = picks.PAST_EXPIRY_NOTE end
    if new and run.status == "cancelling" then e.action, e.outcome = "already_done", "already_cancelling" end
    if ledger:is_pending(e) then blockers[#blockers + 1] = e end
  end
  for _, e in ipairs(blockers) do cancel_blocker(job, st, e) end
  st.blockers = {}
  for _, e in ipairs(blockers) do
    if ledger:is_pending(e) and (job.o.dry_run or not RUNS.pending[e.status_after]) then
      ledger:settle(e)
    elseif ledger:is_pending(e) then
      st.blockers[#st.blockers + 1] = e
    end
  end
  if job.o.dry_run then st.outcome = "dry_run" elseif #st.blockers == 0 then st.outcome = "unblocked" end
end

-- Passes over the threads still blocked, backing off, until none is or the
-- deadline passes; then the runs still blocking get their lines, with why.
-- The live line (on a terminal): threads free of how many, the thread
-- blocked longest with the run that blocks it, time left.
local function draw(line, states, force)
  local free, slow = 0, nil
  for _, st in ipairs(states) do
    if st.outcome then
      free = free + 1
    else
      for _, e in ipairs(st.blockers) do
        if not slow or (e.age or 0) > (slow.age or 0) then slow = e end
      end
    end
  end
  line.draw(free, slow and ("%s/%s %s"):format(slow.parent, slow.id, tostring(slow.status_after)), force)
end

local function unblock_all(job, states, timeout)
  local todo, delay, deadline = states, 0.2, job.t0 + timeout
  local line = ops.wait_line("unblocking", "threads free", #states, deadline)
  draw(line, states, true)
  while #todo > 0 do
    job.interrupted = ops.each_concurrently(todo, job.concurrency, function(st) pass(job, st) draw(line, states) end)
    if job.interrupted then line.finish() return end
    local blocked = {}
    for _, st in ipairs(todo) do if not st.outcome then blocked[#blocked + 1] = st end end
    todo = blocked
    local left = deadline - runctl.now()
    if #todo == 0 or left <= 0 then break end
    if not ops.sleep(math.min(delay, left), line.tick) then job.interrupted = true line.finish() return end
    delay = math.min(delay * 2, 2)
  end
  line.finish()
  for _, st in ipairs(todo) do
    st.outcome = "blocked"
    for _, e in ipairs(st.blockers) do
      local why = ("still %s after waiting %gs"):format(e.status_after, timeout)
      job.ledger:settle(e, { action = e.action or "failed", error = e.error and (e.error .. "; " .. why) or why })
    end
  end
end

-- One summary line per thread; returns the counts of how they ended.
local function say_threads(states, timeout)
  local counts = { unblocked = 0, blocked = 0, failed = 0 }
  for _, st in ipairs(states) do
    if st.outcome == "unblocked" then
      counts.unblocked = counts.unblocked + 1
      ops.say(false, "  %s: accepts new work%s", st.tid,
              st.cancelled > 0 and (" (%s cancelled)"):format(ops.plural(st.cancelled, "run")) or "")
    elseif st.outcome == "dry_run" then
      ops.say(false, "  %s: would cancel %s", st.tid, ops.plural(st.would, "run"))
    elseif st.outcome == "failed" then
      counts.failed = counts.failed + 1
      -- a thread whose line failed is listed once, with the failures under the summary
      if st.entry.action ~= "failed" then ops.say(true, "  %s: %s", st.tid, st.why) end
    elseif st.outcome == "blocked" then
      counts.blocked = counts.blocked + 1
      local b = st.blockers[1]
      ops.say(true, "  %s: still blocked by %s (%s) after %gs", st.tid, b.id, b.status_after, timeout)
    else
      ops.say(true, "  %s: interrupted", st.tid)
    end
  end
  return counts
end

local function main(args)
  local o, positional = ops.parse(SPEC, args)
  local threads = ops.collect_ids(positional, o.threads_file, "thread ID")
  if #threads == 0 then
    ops.usage_error("no thread IDs: give them as arguments, with --threads-file FILE, or on stdin")
  end
  local timeout = o.wait or 120
  local job = ops.start(NAME, { dry_run = o.dry_run, report = o.report, json = o.json, concurrency = o.concurrency,
                                rate = o.rate }, { args = args, threads = threads })
  local states = {}
  for i, tid in ipairs(threads) do
    states[i] = { tid = tid, entry = job.ledger:add { kind = RUNS, parent = tid }, blockers = {},
                  cancelled = 0, would = 0 }
  end
  unblock_all(job, states, timeout)
  local counts = say_threads(states, timeout)
  local head = o.dry_run and ("dry run on " .. ops.plural(#threads, "thread"))
               or ("%s: %d accept new work, %d still blocked, %d failed; runs"):format(
                    ops.plural(#threads, "thread"), counts.unblocked, counts.blocked, counts.failed)
  return job:finish(head, { blocked = counts.blocked > 0 or counts.failed > 0, group = "thread" })
end

ops.main(NAME, main, { ... })
