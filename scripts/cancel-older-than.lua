-- scripts/cancel-older-than.lua — cancel every active run (or batch, fine-tuning job) older than an age
-- Lists each thread's runs (or every batch or fine-tuning job: --kind), picks
-- the active ones older than --older-than that match the filters, cancels
-- them (bounded, rate-limited), optionally waits until they stop, and
-- accounts for every one in a JSON-lines report: one line per object
-- considered, whatever happens (faults, Ctrl-C).
local ops = require "runctl.ops"
local picks = require "runctl.select"

local NAME = "cancel-older-than"
local USAGE = [[
usage: runctl cancel-older-than --older-than AGE [OPTIONS] [THREAD_ID... | -]
       runctl cancel-older-than --kind batches|fine-tuning --older-than AGE [OPTIONS]

Cancels every queued, in_progress or requires_action run older than AGE on the
given threads. Thread IDs come from the arguments, --threads-file, or stdin
(one per line, '#' starts a comment; stdin is read for "-" or when no ID is
given and stdin is a pipe). With --kind batches (or fine-tuning), cancels
every validating/in_progress/finalizing batch (validating_files/queued/running
fine-tuning job) older than AGE: those are listed without thread IDs.

Selecting runs:
  --kind runs|batches|fine-tuning
                          what to cancel (default runs)
  --older-than AGE        runs created more than AGE ago: 90s, 15m, 2h, 1d, 1h30m
  --age-from created|started
                          measure the age from created_at (default) or started_at
                          (in_progress_at for batches; a run that never started
                          is then never old enough)
  --status LIST           which active statuses to cancel, comma-separated
                          (default queued,in_progress,requires_action)
  --assistant ID          only runs of this assistant (repeatable: any of them)
  --model NAME            only runs (fine-tuning jobs) on this model (repeatable)
  --metadata KEY=VALUE    only runs whose metadata has KEY=VALUE (repeatable: all)
  --threads-file FILE     read thread IDs from FILE ("-" for stdin)

Acting:
  --dry-run               report what would be cancelled; no cancel is sent (the
                          client refuses every non-GET request)
  --yes                   do not ask before cancelling more than --confirm-above runs
  --confirm-above N       ask (on a terminal) above N runs; refuse without --yes
                          when stdin is not a terminal (default 20)
  --wait [SECONDS]        then wait until every cancelled run leaves cancelling,
                          at most SECONDS in all (default 60)
  --concurrency N         requests in flight at once (default 16)
  --rate R                at most R requests per second

Output:
  --report FILE           write the JSON lines to FILE instead of stdout
  -h, --help              this text

One JSON line per run considered: thread_id, run_id, status_before,
status_after, age (seconds), action, request_id, error. action is one of
  cancelled     the cancel was accepted (status_after: cancelling, or the
                final status with --wait)
  would_cancel  --dry-run: it would have been cancelled
  already_done  it was already cancelled or cancelling, or finished before the
                cancel reached it ("Cannot cancel run with status ...")
  expired       its expires_at has passed (or its status is expired): not sent
  skipped       not attempted: Ctrl-C, or the confirmation was refused
  failed        the request failed; error says why
A thread that cannot be listed gets one line with run_id null (failed, or
skipped after Ctrl-C). With --kind batches or fine-tuning the lines are the
same, with thread_id null, the batch or job ID as run_id, and an "object"
field ("batch", "fine_tuning.job"). A human summary goes to stderr, with a progress bar
when stderr is a terminal. Running it twice is safe: the second pass reports
the runs the first one cancelled as already_done.

Ctrl-C stops starting new requests, lets those in flight finish, writes the
rest of the report and the summary, and exits 130 (press it twice to stop
at once). Exit status: 0 all done, 1 something failed (or still cancelling
after --wait), 2 usage error or confirmation refused, 130 interrupted.
]]

local KIND_NAMES = { runs = "runs", batches = "batches", ["fine-tuning"] = "fine-tuning",
                     fine_tuning = "fine-tuning", ["fine-tuning-jobs"] = "fine-tuning" }

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--kind"] = { kind = "list", choices = KIND_NAMES },
    ["--older-than"] = { kind = "duration", required = true },
    ["--age-from"] = { kind = "list", choices = { created = true, started = true,
                                                   created_at = true, started_at = true } },
    ["--status"] = { kind = "list" },          -- checked against --kind in check_kind
    ["--assistant"] = { kind = "string", many = true },
    ["--model"] = { kind = "string", many = true },
    ["--metadata"] = { kind = "keyvalue", many = true },
    ["--threads-file"] = { kind = "string" },
    ["--dry-run"] = { kind = "flag" },
    ["--yes"] = { kind = "flag" },
    ["--confirm-above"] = { kind = "count0" },
    ["--wait"] = { kind = "seconds", optional = 60 },
    ["--concurrency"] = { kind = "count" },
    ["--rate"] = { kind = "rate" },
    ["--report"] = { kind = "string" },
  },
}

-- The filter flags as a runctl.select filter (which objects they pick).
local function filter_of(o)
  return { older_than = o.older_than, age_from = o.age_from and o.age_from[1], status = o.status,
           assistant = o.assistant, model = o.model, metadata = o.metadata }
end

-- Checks the options that depend on --kind; returns the kind's table.
local function check_kind(o, positional)
  if o.kind and #o.kind > 1 then ops.usage_error("--kind takes one value") end
  if o.age_from and #o.age_from > 1 then ops.usage_error("--age-from takes one value") end
  local kname = KIND_NAMES[o.kind and o.kind[1] or "runs"]
  local kind = ops.KINDS[kname]
  if not kind.per_thread and (#positional > 0 or o.threads_file) then
    ops.usage_error(("--kind %s lists every %s: give no thread IDs"):format(kname, kind.one))
  end
  local bad = picks.check(kind, filter_of(o), function(f) return "--" .. f:gsub("_", "-") end)
  if bad then ops.usage_error(bad) end
  if kind.resource(runctl.openai) == nil then
    ops.usage_error(("--kind %s: this runctl has no binding for %s"):format(kname, kind.many))
  end
  return kind, kname
end

local function main(args)
  local o, positional = ops.parse(SPEC, args)
  local kind, kname = check_kind(o, positional)
  -- For runs the groups are threads; other kinds are listed as one group.
  local groups
  if kind.per_thread then
    groups = ops.collect_ids(positional, o.threads_file, "thread ID")
    if #groups == 0 then
      ops.usage_error("no thread IDs: give them as arguments, with --threads-file FILE, or on stdin")
    end
  else
    groups = { false }
  end
  local concurrency = o.concurrency or 16
  local confirm_above = o.confirm_above or 20

  -- The client refuses every non-GET request from here on: the dry run is
  -- enforced below the script, not by its own care.
  if o.dry_run then runctl.dry_run = true end
  local report, rerr = ops.report(o.report)
  if not report then ops.usage_error("--report: cannot open " .. o.report .. ": " .. tostring(rerr)) end
  local client = ops.client(o)
  local api = kind.resource(client)
  local object = not kind.per_thread and kind.object or nil
  local now, t0 = ops.now(), ops.clock()
  local ledger = ops.ledger(report)
  local targets, waitable = {}, {}
  local listed = 0

  local picked = picks.picker(kind, filter_of(o), now)

  -- Decides what a listed object is: not considered, settled at once
  -- (nothing to send), or a target for a cancel.
  local function consider(thread_id, item)
    listed = listed + 1
    local verdict, age = picked(item)
    if not verdict then return end
    local st = item.status
    local e, new = ledger:add { thread_id = thread_id or nil, run_id = item.id, object = object,
                                status_before = st, age = age }
    if not new then return end
    if verdict == "done" then
      e.action, e.status_after = "already_done", st
      if kind.pending[st] and o.wait and not o.dry_run then
        waitable[#waitable + 1] = e
      else
        ledger:settle(e)
      end
    elseif verdict == "expired" then
      ledger:settle(e, { action = "expired", status_after = st })
    else
      targets[#targets + 1] = e
    end
  end

  local function cancel(e)
    if kind.per_thread then return api.cancel(e.thread_id, e.run_id) end
    return api.cancel(e.run_id)
  end
  local function retrieve(e)
    if kind.per_thread then return api.retrieve(e.thread_id, e.run_id) end
    return api.retrieve(e.run_id)
  end

  -- 1. List every thread (concurrently), or every object of the kind; a
  --    thread that cannot be listed gets its own line, and what was listed
  --    before the failure still counts.
  local lbar = ops.progress("listing", #groups)
  local listed_groups = 0
  local group_entries = {}
  for _, g in ipairs(groups) do
    group_entries[g] = ledger:add { thread_id = g or nil, object = object }
  end
  local interrupted = ops.each_concurrently(groups, concurrency, function(g)
    local ok, err = pcall(function()
      local iter = g and api.each(g, { limit = 100 }) or api.each({ limit = 100 })
      for item in iter do
        consider(g, item)
        if runctl.interrupted() then error("interrupted while listing", 0) end
      end
    end)
    local ge = group_entries[g]
    if ok then
      ledger:forget(ge)
    elseif runctl.interrupted() then
      ledger:settle(ge, { action = "skipped", error = "interrupted while listing" })
    else
      ledger:settle(ge, { action = "failed", error = ("cannot list %s: %s"):format(kind.many, tostring(err)),
                          request_id = runctl.is_error(err) and err.request_id or nil })
    end
    listed_groups = listed_groups + 1
    lbar:update(listed_groups, #targets .. " to cancel")
  end)
  lbar:finish()

  -- 2. Ask before a large job (never in a dry run).
  local refused
  if not interrupted and not o.dry_run and not o.yes and #targets > confirm_above then
    local where = kind.per_thread and (" on " .. ops.plural(#groups, "thread")) or ""
    local ok, why = ops.confirm(("%s: cancel %d %s%s?"):format(NAME, #targets, kind.many, where))
    if runctl.interrupted() then
      interrupted = true                  -- Ctrl-C at the prompt: not a refusal
    elseif not ok then
      refused = why
      io.stderr:write(("%s: not cancelling %d %s (more than --confirm-above %d): %s; "
                       .. "pass --yes to go ahead\n"):format(NAME, #targets, kind.many, confirm_above, why))
    end
  end

  -- 3. Cancel, at most --concurrency at once; Ctrl-C stops starting new ones.
  if not interrupted and not refused then
    ledger.progress = ops.progress(o.dry_run and "checking" or "cancelling", #targets)
    interrupted = ops.each_concurrently(targets, concurrency, function(e)
      local obj, err, resp = cancel(e)
      ledger:settle_or_hold(e, ops.classify_cancel(obj, err, resp, e.status_before),
                            o.wait and waitable, kind.pending)
    end, ledger:fail_on_error())
    ledger.progress:finish()
    ledger.progress = nil
  end

  -- 4. --wait: poll until every cancelled run leaves cancelling, or the deadline.
  local still = 0
  if o.wait and not interrupted then
    local cut
    still, cut = ops.wait_and_settle(ledger, waitable, {
      name = NAME, timeout = o.wait, concurrency = concurrency,
      retrieve = retrieve, pending = kind.pending, one = kind.one, many = kind.many,
    })
    interrupted = interrupted or cut
  end

  -- 5. Whatever is left gets its line too.
  if refused then
    ledger:settle_rest("not confirmed: " .. refused)
  elseif interrupted then
    ledger:settle_rest("interrupted")
  else
    ledger:settle_rest("not attempted")
  end
  local write_ok, write_err = report:close()

  -- The summary.
  local code = ledger:exit_code(interrupted, still > 0 or not write_ok)
  if refused then code = ops.EXIT_USAGE end
  ops.say(code ~= 0, "%s: %d %s considered (older than %s, of %d listed%s): %s  [%.1fs]",
          NAME, ledger.total, ledger.total == 1 and kind.one or kind.many, ops.fmt_age(o.older_than), listed,
          kind.per_thread and (" on " .. ops.plural(#groups, "thread")) or "",
          ledger:counts_text(), ops.clock() - t0)
  if o.dry_run then
    ops.say(false, "%s: dry run: no cancel was sent", NAME)
  end
  for i, e in ipairs(ledger.failures) do
    if i > 10 then
      ops.say(true, "  ... and %d more failures (see the report)", #ledger.failures - 10)
      break
    end
    local what = kind.per_thread and (e.thread_id .. (e.run_id and ("/" .. e.run_id) or ""))
                 or e.run_id or kind.many
    ops.say(true, "  failed: %s: %s", what, e.error)
  end
  if still > 0 then
    ops.say(true, "%s: %d %s still cancelling when --wait %gs ran out", NAME, still,
            still == 1 and kind.one or kind.many, o.wait)
  end
  if interrupted then
    ops.say(true, "%s: interrupted: %d %s and %s skipped; the report has a line for each", NAME,
            ledger.counts.skipped, ledger.counts.skipped == 1 and kind.one or kind.many,
            ops.plural(ledger.group_counts.skipped, "thread"))
  end
  if not write_ok then
    ops.say(true, "%s: cannot write the report: %s", NAME, write_err)
  end
  return code
end

ops.main(NAME, main, { ... })
