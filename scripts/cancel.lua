-- scripts/cancel.lua — cancel the given objects (runs, batches, fine-tuning jobs, responses, file batches, uploads)
-- IDs come from the arguments, a file or stdin, including a report of these
-- scripts (its would_cancel, failed and skipped lines: what is still to do).
-- Each ID's kind is known by its prefix, or forced with --kind. Same
-- JSON-lines report and exit codes as cancel-older-than.
local ops = require "runctl.ops"
local json = require "runctl.json"
local picks = require "runctl.jobs.selection"

local NAME = "cancel"
local USAGE = [[
usage: runctl cancel [OPTIONS] THREAD_ID/RUN_ID... | ID... | -

Cancels each given object. Its kind is known by the ID's prefix:
  THREAD_ID/RUN_ID        a run (thread_.../run_...; "THREAD_ID RUN_ID" in a file)
  batch_...               a batch
  ftjob-...               a fine-tuning job
  resp_...                a background response
  VECTOR_STORE_ID/vsfb_...  a vector store file batch
  upload_...              an upload
  EVAL_ID/evalrun_...     an eval run
IDs come from the arguments, from --file FILE, or from stdin ("-", or a pipe
when none is given); in a file '#' starts a comment, and a JSON line of a
report of these scripts counts when it is would_cancel, failed or skipped:
what is still to do.

  --kind KIND             every ID is of this kind (runs, batches, fine-tuning,
                          responses, file-batches, uploads, eval-runs), whatever
                          its prefix
  --file FILE             read IDs from FILE ("-" for stdin)
  --dry-run               retrieve each object and report what would happen; no
                          cancel is sent (the client refuses non-GET requests)
  --wait [SECONDS]        then wait until every object it cancelled stops (one
                          already cancelling is not waited for), at most
                          SECONDS (default per kind: runs 60s, batches 30m,
                          fine-tuning jobs 5m, responses and file batches 60s)
  --concurrency N         requests in flight at once (default 16)
  --rate R                at most R requests per second
  --report FILE           write the JSON lines to FILE instead of stdout
  --json                  JSON lines on stdout even on a terminal (where
                          the default is one readable line per run)
  -h, --help              this text

One JSON line per object: kind, id, thread_id (runs), status_before,
status_after, age, action, outcome, request_id, error, note, cost (what the
object says it cost or did: a batch's request_counts and output_file_id, a
job's trained_tokens, a response's or run's usage; null when it does not
say; a batch's model and usage, an eval run's result_counts and
per_model_usage). A run still active past its expires_at is cancelled, its
line noted "past expires_at". action is cancelled, would_cancel,
already_done (it had finished or was being cancelled), expired, skipped
(Ctrl-C) or failed; outcome is finer
(cancel_requested, finished_anyway, already_cancelling, already_finished,
not_cancellable, not_found, failed, not_sent). Without --dry-run nothing is
retrieved before its cancel, so status_before is null unless the answer said.
On a terminal, --wait shows a live line (stopped of total, the slowest
object, time left), and "-" says it reads IDs until Ctrl-D. After Ctrl-C, a
failure or a wait that ran out, the summary's last line is the command to run
next (with --report FILE: runctl cancel --file FILE --report ...).
Exit status: 0 all done, 1 something failed (or still cancelling after
--wait), 2 usage error, 130 interrupted (Ctrl-C; in-flight requests finish).
]]

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--kind"] = { kind = "string" },
    ["--file"] = { kind = "string" },
    ["--dry-run"] = { kind = "flag" },
    ["--wait"] = { kind = "seconds", optional = true },
    ["--concurrency"] = { kind = "count" },
    ["--rate"] = { kind = "rate" },
    ["--report"] = { kind = "string" },
    ["--json"] = { kind = "flag" },
  },
}

-- The report lines that still need a cancel.
local TO_DO = { would_cancel = true, failed = true, skipped = true }

-- A JSON report line -> an entry, false (done already, or no object), or nil, why.
local function from_report_line(s)
  local rec = json.decode(s)
  if type(rec) ~= "table" then return nil, "is not valid JSON" end
  local kind = ops.kinds.get(rec.kind) or ops.kinds.by_object(rec.object)
  if not kind and (rec.kind ~= nil or rec.object ~= nil) then
    return nil, "names an object of an unknown kind '" .. tostring(rec.kind or rec.object) .. "'"
  end
  kind = kind or ops.KINDS.runs
  local id = type(rec.id) == "string" and rec.id or rec.run_id
  local parent = kind.parent and rec[kind.parent.field]
  if type(id) ~= "string" or (kind.parent and type(parent) ~= "string") then return false end
  if rec.action ~= nil and not TO_DO[rec.action] then return false end
  return { kind = kind, parent = parent or nil, id = id }
end

-- One line or argument -> an entry {kind, parent, id}, false, or nil, why.
local function parse_id(s, forced)
  if s:sub(1, 1) == "{" then return from_report_line(s) end
  local kind, parent, id = ops.kinds.parse_ref(s, forced)
  if kind then return { kind = kind, parent = parent, id = id } end
  return nil, parent
end

-- Every entry from the arguments, --file and stdin, without repeats.
local function collect(o, positional, forced)
  local entries, seen, read_stdin = {}, {}, false
  local function add(s, where)
    local e, why = parse_id(s, forced)
    if e == nil then ops.usage_error(("%s'%s' %s"):format(where, s:sub(1, 80), why)) end
    local key = e and (e.kind.name .. "/" .. tostring(e.parent) .. "/" .. e.id)
    if e and not seen[key] then seen[key] = true entries[#entries + 1] = e end
  end
  for _, a in ipairs(positional) do
    if a == "-" then read_stdin = true else add(a, "") end
  end
  if o.file == "-" then
    read_stdin = true
  elseif o.file then
    ops.refuse_unfinishable(o.file)
    local lines, err = ops.read_lines(o.file)
    if not lines then ops.usage_error("--file: cannot read " .. o.file .. ": " .. tostring(err)) end
    for n, l in ipairs(lines) do add(l, o.file .. ": line " .. n .. ": ") end
  end
  if read_stdin or (#entries == 0 and not o.file and not runctl.isatty("stdin")) then
    for n, l in ipairs(ops.read_lines("-")) do add(l, "stdin: line " .. n .. ": ") end
  end
  if #entries == 0 and #positional == 0 and not o.file then
    ops.usage_error("no runs: give THREAD_ID/RUN_ID pairs or other IDs (batch_..., ftjob-..., "
                    .. "resp_..., VECTOR_STORE_ID/vsfb_..., upload_...) as arguments, with --file FILE, or on stdin")
  end
  return entries
end

-- A dry run looks first (GETs are allowed) and settles what needs no cancel;
-- the cancel then meets the client's refusal, as a real run would meet the API.
local function look_first(job, e)
  if not job:can(e, "retrieve") then return false end
  local obj, err = job:call(e, "retrieve")
  if not obj then
    local outcome = err.outcome or (err.status == 404 and "not_found" or "failed")
    job.ledger:settle(e, { action = "failed", outcome = outcome, request_id = err.request_id,
                           error = tostring(err), cause = err })
    return true
  end
  local kind, st = e.kind, obj.status
  e.status_before = st
  job:saw(e, obj)
  local expires = kind.expires and obj[kind.expires]
  if picks.past_expiry(kind, st, expires, job.unix_time) then
    e.past_note = picks.PAST_EXPIRY_NOTE       -- still active past its expiry: cancelled all the same
    return false
  end
  if kind.expired[st] or (kind.active[st] and math.type(expires) and expires <= job.unix_time) then
    job.ledger:settle(e, { action = "expired", status_after = st })
    return true
  elseif not kind.active[st] and not kind.paused[st] then   -- a paused job is alive: a cancel applies
    job.ledger:settle(e, { action = "already_done", status_after = st,
                           outcome = kind.cancelling[st] and "already_cancelling" or "already_finished" })
    return true
  end
  return false
end

local function main(args)
  local o, positional = ops.parse(SPEC, args)
  local forced = o.kind and (ops.kinds.get(o.kind) or
    ops.usage_error(("--kind: '%s' is not one of %s"):format(o.kind, table.concat(ops.kinds.names(), ", "))))
  local entries = collect(o, positional, forced)

  local job = ops.start(NAME, o, { args = args })
  for _, e in ipairs(entries) do job.ledger:add(e) end
  job:cancel_all(entries, o.dry_run and function(e) return look_first(job, e) end)
  job:wait()
  return job:finish(job:counted(job.ledger.total))
end

ops.main(NAME, main, { ... })
