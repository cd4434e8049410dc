-- scripts/cancel-older-than.lua — cancel every active object of a kind (batches, fine-tuning jobs, runs) older than an age
-- Lists every batch or fine-tuning job (--kind), or each thread's runs, picks
-- the active ones older than --older-than that match the filters, cancels
-- them (bounded, rate-limited), optionally waits until they stop, and
-- accounts for every one in a JSON-lines report: one line per object
-- considered, whatever happens (faults, Ctrl-C).
local ops = require "runctl.ops"
local picks = require "runctl.jobs.selection"

local NAME = "cancel-older-than"
local USAGE = [[
usage: runctl cancel-older-than --kind KIND --older-than AGE [OPTIONS]
       runctl cancel-older-than [--kind runs] --older-than AGE [OPTIONS] THREAD_ID... | -
       runctl cancel-older-than --kind eval-runs --older-than AGE [OPTIONS] EVAL_ID...

Cancels every active object of one kind older than AGE. Name the kind with
--kind; without it, thread IDs mean runs, and with none given it says which
kinds there are (it does not guess: a wrong guess cancels the wrong things).
  batches       every validating, in_progress or finalizing batch
  fine-tuning   every validating_files, queued or running fine-tuning job
  eval-runs     the queued or in_progress runs of the given evals (their IDs
                where thread IDs go)
  runs          every queued, in_progress or requires_action run on the given
                threads (Azure and compatible servers; api.openai.com has none
                since August 2026). Thread IDs come from the arguments,
                --threads-file, or stdin (one per line, '#' starts a comment;
                stdin is read for "-" or when no ID is given and it is a pipe)
Responses, file batches and uploads cannot be listed: runctl cancel ID...
A run still active past its expires_at is cancelled too (the service does
not always expire it), its line noted "past expires_at".

Examples:
  $ runctl cancel-older-than --kind batches --older-than 6h --dry-run
  $ runctl cancel-older-than --kind fine-tuning --older-than 1d --model gpt-4o-mini
  $ runctl cancel-older-than --older-than 2h --wait thread_abc thread_def

Selecting objects:
  --kind %KINDS%
                          what to cancel (see above)
  --older-than AGE        objects created more than AGE ago: 90s, 15m, 2h, 1d,
                          1w, 1h30m (s, m, h, d, w; at most 3650d). 0 means
                          every active one, whatever its age: it needs --yes
  --all                   every active object, whatever its age (--older-than 0)
  --age-from created|started
                          measure the age from created_at (default) or started_at
                          (in_progress_at for batches; an object that never
                          started is then never old enough)
  --status LIST           which statuses to cancel, comma-separated (default
                          the kind's active ones, listed above; paused
                          fine-tuning jobs only when named: --status paused)
  --assistant ID          only runs of this assistant (repeatable: any of them)
  --model NAME            only objects on this model (repeatable: any of them):
                          the name, its dated snapshots (NAME-2024-07-18,
                          NAME-0613) and models fine-tuned from them (ft:NAME...);
                          =NAME for that exact name. When it matches none of
                          the active objects listed, the summary says so.
  --metadata KEY=VALUE    only objects whose metadata has KEY=VALUE (repeatable: all)
  --threads-file FILE     read thread IDs from FILE ("-" for stdin)

Acting:
  --dry-run               report what would be cancelled; no cancel is sent (the
                          client refuses every non-GET request)
  --yes                   do not ask before cancelling more than --confirm-above
  --confirm-above N       above N objects, show them (kind, ID, status, age,
                          model, cost so far) and ask on a terminal; refuse
                          without --yes when stdin is not a terminal (default 20)
  --wait [SECONDS]        then wait until every object this run cancelled stops,
                          at most SECONDS in all (default per kind: runs 60s,
                          batches 30m, fine-tuning jobs 5m), with a live line on
                          a terminal; one already cancelling is not waited for
  --concurrency N         requests in flight at once (default 16)
  --rate R                at most R requests per second

Output:
  --report FILE           write the JSON lines to FILE instead of stdout
  --json                  JSON lines on stdout even on a terminal (where
                          the default is one readable line per run)
  --resume REPORT         do what REPORT left undone (threads never listed, runs
                          failed or skipped, or all that a report cut short did
                          not settle), with REPORT's own filters
  -h, --help              this text

One JSON line per object considered: kind, id, thread_id, run_id (= id),
status_before, status_after, age (seconds), action, outcome, request_id,
error, note, cost (what the object says it cost or did: usage, a batch's
request_counts and output_file_id, a job's trained_tokens; null when it does
not say). outcome is the finer result (cancel_requested, finished_anyway,
already_cancelling, already_finished, not_cancellable, not_found, failed,
not_sent); action is one of
  cancelled     the cancel was accepted (status_after: cancelling, or the
                final status with --wait)
  would_cancel  --dry-run: it would have been cancelled
  already_done  it was already cancelled or cancelling, or finished before the
                cancel reached it ("Cannot cancel ... with status ...", 400 or
                409: final, never retried)
  expired       its status is expired, or its expires_at has passed and the
                service expires such objects itself (batches, uploads): not sent
  skipped       not attempted: Ctrl-C, or the confirmation was refused
  failed        the request failed; error says why
A thread that cannot be listed gets one line with run_id null (failed, or
skipped after Ctrl-C). With --kind batches or fine-tuning the lines are the
same, with thread_id null and an "object" field ("batch", "fine_tuning.job").
A human summary goes to stderr (with the costs of what was cancelled), with a
progress line when stderr is a terminal (and a live line while --wait waits:
stopped of total, the slowest object, time left). After Ctrl-C, a failure or
a wait that ran out, its last line is the command to run next (with --report
FILE: runctl cancel-older-than --resume FILE ...). Running it twice is safe:
the second pass reports what the first one cancelled as already_done.

Ctrl-C stops starting new requests, lets those in flight finish, writes the
rest of the report and the summary, and exits 130 (press it twice to stop
at once). Exit status: 0 all done, 1 something failed (or still cancelling
after --wait), 2 usage error or confirmation refused, 130 interrupted.
]]

USAGE = ops.render_usage(USAGE)      -- extensions' kinds too

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--kind"] = { kind = "list", choices = ops.kinds.listable() },
    ["--older-than"] = { kind = "duration" },            -- required unless --all or --resume (main)
    ["--all"] = { kind = "flag" },
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
    ["--wait"] = { kind = "seconds", optional = true },
    ["--concurrency"] = { kind = "count" },
    ["--rate"] = { kind = "rate" },
    ["--report"] = { kind = "string" },
    ["--json"] = { kind = "flag" },
    ["--resume"] = { kind = "string" },
  },
}

-- The filter flags as a runctl.jobs.selection filter (which objects they pick).
local function filter_of(o)
  return { older_than = o.older_than, age_from = o.age_from and o.age_from[1], status = o.status,
           assistant = o.assistant, model = o.model, metadata = o.metadata }
end

-- Without --kind or thread IDs: which kinds there are and how to pick one,
-- from the kinds' data (extensions' kinds too).
local function which_kind()
  local rows = {}
  for _, how in ipairs { "each", "parent" } do
    for _, name in ipairs(ops.kinds.names()) do
      local k = ops.kinds.get(name)
      if k.list == how and how == "each" then
        rows[#rows + 1] = { ("runctl %s --kind %s --older-than 2h"):format(NAME, k.name), "every " .. k.one }
      elseif k.list == how then
        rows[#rows + 1] = { ("runctl %s%s --older-than 2h %s_ID..."):format(NAME,
          k.name == "runs" and "" or (" --kind " .. k.name), k.parent.name:upper():gsub("%W", "_")),
          ("%s, per %s"):format(k.many, k.parent.name) }
      end
    end
  end
  local width = 0
  for _, r in ipairs(rows) do width = math.max(width, #r[1]) end
  local lines = { "which objects? Name a kind with --kind " .. ops.kinds.listable_names() .. ":" }
  for _, r in ipairs(rows) do lines[#lines + 1] = ("  %-" .. width .. "s  %s"):format(r[1], r[2]) end
  lines[#lines + 1] = "(add --dry-run to see what it would cancel first)"
  ops.usage_error(table.concat(lines, "\n"))
end

-- --older-than is required unless --all (or --resume, whose report has it);
-- 0 picks every active object whatever its age: only with --yes or --all.
local function check_age(o)
  if o.all and o.older_than and o.older_than > 0 then
    ops.usage_error("--all and --older-than " .. ops.fmt_age(o.older_than) .. " contradict each other: give one")
  end
  if o.all then o.older_than = 0 end
  if o.older_than == nil then
    ops.usage_error("--older-than is required: an age such as 2h (or --all for every active object, any age)")
  end
  if o.older_than == 0 and not o.all and not o.yes and not o.dry_run then
    ops.usage_error("--older-than 0 picks every active object whatever its age: "
                    .. "add --all (or --yes) if that is what you mean, or give an age such as 2h")
  end
end

-- Checks the options that depend on --kind; returns the kind.
local function check_kind(o, positional)
  if o.kind and #o.kind > 1 then ops.usage_error("--kind takes one value") end
  if o.age_from and #o.age_from > 1 then ops.usage_error("--age-from takes one value") end
  if not o.kind and #positional == 0 and not o.threads_file and runctl.isatty("stdin") then which_kind() end
  local kind = ops.kinds.get(o.kind and o.kind[1] or "runs")
  if not kind.per_thread and (#positional > 0 or o.threads_file) then
    ops.usage_error(("--kind %s lists every %s: give no thread IDs"):format(kind.name, kind.one))
  end
  local bad = picks.check(kind, filter_of(o), function(f) return "--" .. f:gsub("_", "-") end)
  if bad then ops.usage_error(bad) end
  if kind.resource(runctl.openai) == nil then
    ops.usage_error(("--kind %s: this runctl has no binding for %s"):format(kind.name, kind.many))
  end
  return kind
end

-- The groups to list: the threads for runs; one group (false) for a kind
-- listed whole.
local function groups_of(o, positional, kind)
  if not kind.per_thread then return { false } end
  local noun = kind.parent.name
  local threads = ops.collect_ids(positional, o.threads_file, noun .. " ID")
  if #threads == 0 and not o.kind then which_kind() end
  if #threads == 0 then
    ops.usage_error(("no %s IDs: give them as arguments, with --threads-file FILE, or on stdin"):format(noun))
  end
  for _, id in ipairs(threads) do
    local other = ops.kinds.by_prefix(id)
    if other then
      ops.usage_error(("'%s' is the ID of %s, not of %s: --kind %s lists the %s of the given %ss")
                      :format(id, ops.a(other.one), ops.a(noun), kind.name, kind.many, noun))
    end
  end
  return threads
end

-- Decides what a listed object is: not considered, settled at once (nothing
-- to send; a cancelling one is held for --wait), or a target for a cancel.
local function consider(job, kind, picked, targets, parent, item)
  local verdict, age, note = picked(item)
  if not verdict then return end
  local st = item.status
  local e, new = job.ledger:add { kind = kind, parent = parent or nil, id = item.id, status_before = st,
                                  age = age, cost = ops.kinds.cost_of(kind, item), past_note = note,
                                  model = type(item.model) == "string" and item.model or nil }
  if not new then return end
  if verdict == "done" then
    e.action, e.status_after = "already_done", st
    e.outcome = kind.cancelling[st] and "already_cancelling" or "already_finished"
    -- cancelling before this run: reported so, not waited for (see job.before)
    if kind.cancelling[st] then job.before = job.before + 1 end
    job.ledger:settle(e)
  elseif verdict == "expired" then
    job.ledger:settle(e, { action = "expired", status_after = st })
  else
    targets[#targets + 1] = e
  end
end

-- Lists every group (concurrently); a thread that cannot be listed gets its
-- own line, and what was listed before the failure still counts. Returns how
-- many objects were listed.
local function list_all(job, kind, groups, on_item)
  local api, ledger = kind.resource(job.client), job.ledger
  local bar, done, listed = ops.progress("listing", #groups), 0, 0
  local entry_of = {}
  for _, g in ipairs(groups) do entry_of[g] = ledger:add { kind = kind, parent = g or nil } end
  job.interrupted = ops.each_concurrently(groups, job.concurrency, function(g)
    local ok, err = pcall(function()
      for item in (g and api.each(g, { limit = 100 }) or api.each({ limit = 100 })) do
        listed = listed + 1
        on_item(g, item)
        if runctl.interrupted() then error("interrupted while listing", 0) end
      end
    end)
    if ok then
      ledger:forget(entry_of[g])
    elseif runctl.interrupted() then
      ledger:settle(entry_of[g], { action = "skipped", error = "interrupted while listing" })
    else
      ledger:settle(entry_of[g], { action = "failed", error = ("cannot list %s: %s"):format(kind.many, tostring(err)),
                                   request_id = runctl.is_error(err) and err.request_id or nil, cause = err })
    end
    done = done + 1
    bar:update(done, ledger.total .. " considered")
  end)
  bar:finish()
  return listed
end

-- The objects a confirmation is about, as a compact table on stderr: at
-- most as many rows as the terminal leaves room for (the rest counted).
local function show_targets(targets)
  local cols, rows = ops.size("stderr")
  local room = math.max(5, (rows or 25) - 6)
  local lines = {}
  for i, e in ipairs(targets) do
    if i > room then break end
    lines[i] = { e.kind.one, ops.name_of(e), tostring(e.status_before or ""), ops.fmt_age(e.age),
                 tostring(e.model or ""), ops.cost_brief(e.cost) }
  end
  for _, l in ipairs(ops.table({ { name = "KIND" }, { name = "ID", keep = true }, { name = "STATUS", keep = true },
                                 { name = "AGE", right = true, keep = true }, { name = "MODEL" },
                                 { name = "COST SO FAR" } }, lines, cols)) do
    io.stderr:write(l, "\n")
  end
  if #targets > room then io.stderr:write(("... and %d more\n"):format(#targets - room)) end
end

-- Asks before a large job (never in a dry run); returns why it was refused, or nil.
local function ask(job, kind, n, where, targets)
  local o = job.o
  if job.interrupted or o.dry_run or o.yes or n <= (o.confirm_above or 20) then return nil end
  if runctl.isatty("stdin") then show_targets(targets) end
  local ok, why = ops.confirm(("%s: cancel these %d %s%s?"):format(NAME, n, kind.many, where))
  if runctl.interrupted() then
    job.interrupted = true                  -- Ctrl-C at the prompt: not a refusal
    return nil
  end
  if ok then return nil end
  ops.say(true, "%s: not cancelling %d %s (more than --confirm-above %d): %s; pass --yes to go ahead",
          NAME, n, kind.many, o.confirm_above or 20, why)
  return why
end

-- --resume: the runs the report left failed or skipped, cancelled by ID.
local function add_retries(job, kind, resumed, targets)
  for _, r in ipairs(resumed.retry) do
    local e, new = job.ledger:add { kind = kind, parent = r.thread_id, id = r.run_id,
                                    status_before = r.status_before, age = r.age }
    if new then targets[#targets + 1] = e end
  end
end

local function main(args)
  local o, positional = ops.parse(SPEC, args)
  local resumed = o.resume and ops.resume_plan(SPEC, o, NAME)
  if resumed then o, positional, args = resumed.opts, {}, resumed.header_args end
  check_age(o)
  local kind = check_kind(o, positional)
  local groups = resumed and resumed.threads or groups_of(o, positional, kind)
  local where = kind.per_thread and (" on " .. ops.plural(#groups, kind.parent.name)) or ""

  local job = ops.start(NAME, o, { args = args, threads = kind.per_thread and groups or nil })
  job.kind = kind
  local targets, picked = {}, picks.picker(kind, filter_of(o), job.unix_time)
  local models = picks.model_watch(kind, filter_of(o))
  if resumed then add_retries(job, kind, resumed, targets) end
  local listed = list_all(job, kind, groups, function(g, item)
    models.note(item)
    local settled = resumed and type(item) == "table" and resumed.done[tostring(g or nil) .. "\0" .. tostring(item.id)]
    if not settled then consider(job, kind, picked, targets, g, item) end
  end)
  local seen = models.result()
  if seen then
    job.extra_lines = { ("--model %s matched none of the %d %s %s listed; their models: %s")
                        :format(table.concat(o.model, ","), models.count(), o.status and "wanted" or "active",
                                kind.many, table.concat(seen, ", ")) }
  end
  local refused = ask(job, kind, #targets, where, targets)
  if not job.interrupted and not refused then job:cancel_all(targets) end
  job:wait()
  return job:finish(("%s considered (older than %s, of %d listed%s)"):format(
                      job:counted(job.ledger.total), ops.fmt_age(o.older_than), listed, where),
                    { refused = refused,
                      why = refused and (refused == "not confirmed" and refused or ("not confirmed: " .. refused)),
                      group = kind.per_thread and kind.parent.name or nil })
end

ops.main(NAME, main, { ... })
