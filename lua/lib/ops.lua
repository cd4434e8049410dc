-- lua/lib/ops.lua — what the bundled scripts share (require "runctl.ops"):
-- running a script (main, its client, clocks), and every field of the
-- modules it is made of, so scripts need one require:
--   runctl.args     the command line, durations, ID lists
--   runctl.term     the summary, progress bar and confirmation on a terminal
--   runctl.ledger   the JSON-lines report and the exactly-once ledger
--   runctl.kinds    job kinds as data (runs, batches, fine-tuning, ...)
--   runctl.outcome  what a cancel's answer means
--   runctl.bulk     bounded concurrency, Ctrl-C, --wait
--   runctl.job      a bulk cancel job from start to summary (what the cancel
--                   scripts share: set-up, cancel, --wait, the end)
local core = require "runctl.core"
local runctl = require "runctl"
local config = require "runctl.config"
local term = require "runctl.term"
local resume = require "runctl.resume"

local M = {}
for _, part in ipairs { "args", "term", "ledger", "outcome", "bulk", "job" } do
  for k, v in pairs(require("runctl." .. part)) do M[k] = v end
end
local kinds = require "runctl.kinds"
M.kinds = kinds
M.KINDS = kinds.all              -- name -> kind, live: kinds defined later show up
M.ACTIVE, M.PENDING = kinds.ACTIVE, kinds.PENDING

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
      io.stderr:write(name, ": ", code.message, "\n")
      if not code.config then io.stderr:write("Try 'runctl help ", name, "'.\n") end
      os.exit(M.EXIT_USAGE)
    end
    error(code, 0)
  end
  for _, note in ipairs(term.notes()) do io.stderr:write(name, ": ", note, "\n") end
  if term.next_step() then io.stderr:write(name, ": ", term.next_step(), "\n") end   -- last of all
  io.stdout:flush()
  os.exit(code or 0)
end

-- cancel --file REPORT: refuses (exit 2, nothing sent) a report whose
-- undone work is more than its run lines, naming the command that resumes it.
M.refuse_unfinishable = resume.refuse_unfinishable

-- --resume REPORT: the report's own options (filters) with the command line's
-- --report and these on top, and what it left undone (see resume.plan).
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
  local plan = resume.plan(spec, o.resume, name)
  plan.opts.report, plan.opts.threads_file = o.report, nil
  for _, k in ipairs(ANEW) do
    if o[k] ~= nil then plan.opts[k] = o[k] end
  end
  return plan
end

-- Why a failure (an error object) stops a whole job: a refused key (see config.refusal).
M.refusal = config.refusal

-- A monotonic clock in seconds, for deadlines and elapsed times.
M.clock = core.now

return M

