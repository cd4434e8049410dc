-- lua/lib/ops/init.lua — what the bundled scripts share (require "runctl.ops"):
-- running a script (main, --resume), and the fields listed below from the
-- modules of lua/lib/ops/, so that a script needs one require. Each field is
-- named here, so a reader sees where it comes from:
--   runctl.ops.args          the command line, durations, ID lists
--   runctl.ops.term          the summary, progress bar and confirmation on a terminal
--   runctl.ops.ledger        the JSON-lines report and the exactly-once ledger
--   runctl.ops.concurrency   bounded concurrency, Ctrl-C, --wait
--   runctl.ops.cancel_job    a bulk cancel job from start to summary (what the
--                            cancel scripts share: set-up, cancel, --wait, the end)
--   runctl.api.cancel_outcomes  what a cancel's answer means
--   runctl.jobs.kinds        job kinds as data (runs, batches, fine-tuning, ...)
-- Clocks: ops.unix_time() is wall time (whole seconds since the epoch, as the
-- API's created_at); for deadlines and elapsed times use runctl.now()
-- (monotonic). No name here means both.
local runctl = require "runctl"
local cli = require "runctl.ops.args"
local term = require "runctl.ops.term"
local ledger = require "runctl.ops.ledger"
local concurrency = require "runctl.ops.concurrency"
local cancel_job = require "runctl.ops.cancel_job"
local config = require "runctl.ops.config"
local report_reader = require "runctl.ops.report_reader"
local outcomes = require "runctl.api.cancel_outcomes"
local kinds = require "runctl.jobs.kinds"

local M = {
  -- runctl.ops.args
  parse = cli.parse, parse_duration = cli.parse_duration, read_lines = cli.read_lines,
  collect_ids = cli.collect_ids, usage_error = cli.usage_error, config_error = cli.config_error,
  is_usage_error = cli.is_usage_error, render_usage = cli.render_usage,
  declared_usage = cli.declared_usage, a = cli.a,
  -- runctl.ops.term
  plural = term.plural, fmt_age = term.fmt_age, quiet = term.quiet, size = term.size,
  colour = term.colour, paint = term.paint, wrap = term.wrap, progress = term.progress,
  render_progress = term.render_progress, keys = term.keys, confirm = term.confirm,
  note = term.note, notes = term.notes, say = term.say, table = term.table, next_step = term.next_step,
  -- runctl.ops.ledger
  EXIT_OK = ledger.EXIT_OK, EXIT_FAILED = ledger.EXIT_FAILED, EXIT_USAGE = ledger.EXIT_USAGE,
  EXIT_INTERRUPTED = ledger.EXIT_INTERRUPTED, ACTIONS = ledger.ACTIONS, FIELDS = ledger.FIELDS,
  report = ledger.report, ledger = ledger.ledger, line = ledger.line, name_of = ledger.name_of,
  with_nulls = ledger.with_nulls,
  -- runctl.ops.concurrency
  sleep = concurrency.sleep, stop = concurrency.stop, stopped = concurrency.stopped,
  each_concurrently = concurrency.each_concurrently, wait_all = concurrency.wait_all,
  wait_and_settle = concurrency.wait_and_settle, wait_line = concurrency.wait_line,
  entries_line = concurrency.entries_line,
  -- runctl.ops.cancel_job
  start = cancel_job.start, client = cancel_job.client, check_config = cancel_job.check_config,
  cost_text = cancel_job.cost_text, cost_brief = cancel_job.cost_brief, unix_time = cancel_job.unix_time,
  -- runctl.api.cancel_outcomes
  OUTCOMES = outcomes.OUTCOMES, decide = outcomes.decide, classify_cancel = outcomes.classify_cancel,
  -- runctl.jobs.kinds
  kinds = kinds,
  KINDS = kinds.all,             -- name -> kind, live: kinds defined later show up
  ACTIVE = kinds.ACTIVE, PENDING = kinds.PENDING,
}

---------------------------------------------------------------------- running a script

-- Runs body(args) and exits with its code. A usage error prints
-- "NAME: message" and a hint on stderr and exits 2; any other raise (a bug)
-- is raised again with the traceback of where it happened, which the host
-- prints before exiting 1.
function M.main(name, body, args)
  runctl.interrupted()          -- opt in to a graceful first Ctrl-C at once
  local ok, code = xpcall(body, function(e)
    if M.is_usage_error(e) then return e end
    return debug.traceback(tostring(e), 2)
  end, args)
  if not ok then
    if M.is_usage_error(code) then
      io.stderr:write(name, ": ", term.printable(code.message, true), "\n")
      if not code.config then io.stderr:write("Try 'runctl help ", name, "'.\n") end
      os.exit(M.EXIT_USAGE)
    end
    error(code, 0)
  end
  for _, note in ipairs(term.notes()) do io.stderr:write(name, ": ", term.printable(note, true), "\n") end
  if term.next_step() then                -- last of all
    io.stderr:write(name, ": ", term.printable(term.next_step(), true), "\n")
  end
  io.stdout:flush()
  os.exit(code or 0)
end

-- cancel --file REPORT: refuses (exit 2, nothing sent) a report whose
-- undone work is more than its run lines, naming the command that resumes it.
M.refuse_unfinishable = report_reader.refuse_unfinishable

-- --resume REPORT: the report's own options (filters) with the command line's
-- --report and these on top, and what it left undone (see report_reader.plan).
local ANEW = { "yes", "confirm_above", "concurrency", "rate", "wait", "json", "dry_run" }

function M.resume_plan(spec, o, name)
  local allowed = { resume = true, report = true }
  for _, k in ipairs(ANEW) do allowed[k] = true end
  for k in pairs(o) do
    if not allowed[k] then
      M.usage_error(("--resume takes its filters from the report: drop --%s"):format(k:gsub("_", "-")))
    end
  end
  if o.report and o.report == o.resume then
    M.usage_error("--resume: write the new report to another file than " .. o.resume)
  end
  local plan = report_reader.plan(spec, o.resume, name)
  plan.opts.report, plan.opts.threads_file = o.report, nil
  for _, k in ipairs(ANEW) do
    if o[k] ~= nil then plan.opts[k] = o[k] end
  end
  return plan
end

-- Why a failure (an error object) stops a whole job: a refused key (see config.refusal).
M.refusal = config.refusal

return M

