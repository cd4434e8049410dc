-- scripts/cancel.lua — cancel the given runs (THREAD_ID/RUN_ID pairs), optionally waiting until they stop
-- The pairs come from the arguments, a file or stdin, including a report of
-- cancel-older-than (its would_cancel, failed and skipped lines: what is
-- still to do; batch and fine-tuning job lines too). Same JSON-lines report
-- and exit codes as cancel-older-than.
local ops = require "runctl.ops"
local json = require "runctl.json"
local kinds = require "runctl.kinds"

local NAME = "cancel"
local USAGE = [[
usage: runctl cancel [OPTIONS] THREAD_ID/RUN_ID... | ID... | -

Cancels each given run. Pairs come from the arguments (THREAD_ID/RUN_ID),
from --file FILE, or from stdin ("-", or a pipe when no pair is given); in a
file each line is "THREAD_ID RUN_ID" or "THREAD_ID/RUN_ID" ('#' starts a
comment), or a JSON line of a cancel-older-than report, of which the
would_cancel, failed and skipped lines are taken: the runs still to do (a
report of --kind batches or fine-tuning works too). An ID whose prefix names
its kind (batch_..., ftjob-..., or an extension kind's prefix) is cancelled
as that kind.

  --file FILE             read pairs from FILE ("-" for stdin)
  --dry-run               retrieve each run and report what would happen; no
                          cancel is sent (the client refuses non-GET requests)
  --wait [SECONDS]        then wait until every cancelled run leaves cancelling,
                          at most SECONDS in all (default 60)
  --concurrency N         requests in flight at once (default 16)
  --rate R                at most R requests per second
  --report FILE           write the JSON lines to FILE instead of stdout
  -h, --help              this text

One JSON line per run (thread_id, run_id, status_before, status_after, age,
action, request_id, error), action one of cancelled, would_cancel,
already_done (it had already finished or been cancelled), expired, skipped
(Ctrl-C) or failed. Without --dry-run no run is retrieved before its cancel,
so status_before is null unless the API said it in its answer.
Exit status: 0 all done, 1 something failed (or still cancelling after
--wait), 2 usage error, 130 interrupted (Ctrl-C; in-flight requests finish).
]]

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--file"] = { kind = "string" },
    ["--dry-run"] = { kind = "flag" },
    ["--wait"] = { kind = "seconds", optional = 60 },
    ["--concurrency"] = { kind = "count" },
    ["--rate"] = { kind = "rate" },
    ["--report"] = { kind = "string" },
  },
}

-- The report lines of cancel-older-than that still need a cancel.
local TO_DO = { would_cancel = true, failed = true, skipped = true }
local BY_OBJECT = {}
for _, k in pairs(ops.KINDS) do BY_OBJECT[k.object] = k end

-- One line or argument -> an entry {thread_id, run_id, object, kind}, or
-- nil, why. A JSON line that is done already (or names nothing) gives false.
local function parse_pair(s)
  if s:sub(1, 1) == "{" then
    local obj = json.decode(s)
    if type(obj) ~= "table" then return nil, "is not valid JSON" end
    local kind = BY_OBJECT[obj.object] or ops.KINDS.runs
    if type(obj.object) == "string" and not BY_OBJECT[obj.object] then
      return nil, "names an object of an unknown kind '" .. obj.object .. "'"
    end
    if type(obj.run_id) ~= "string" or (kind.per_thread and type(obj.thread_id) ~= "string") then
      return false
    end
    if obj.action ~= nil and not TO_DO[obj.action] then return false end
    return { thread_id = kind.per_thread and obj.thread_id or nil, run_id = obj.run_id,
             object = not kind.per_thread and kind.object or nil, kind = kind }
  end
  local by_prefix = not s:find("[%s/]") and kinds.by_prefix(s)
  if by_prefix and not by_prefix.per_thread then     -- an ID that says its kind (batch_..., an extension's)
    return { run_id = s, object = by_prefix.object, kind = by_prefix }
  end
  local t, r = s:match("^([^%s/]+)/([^%s/]+)$")
  if not t then t, r = s:match("^(%S+)%s+(%S+)$") end
  if not t then return nil, "is not THREAD_ID/RUN_ID" end
  return { thread_id = t, run_id = r, kind = ops.KINDS.runs }
end

local function main(args)
  local o, positional = ops.parse(SPEC, args)
  local pairs_in, seen = {}, {}
  local read_stdin = false
  local function add(s, where)
    local e, why = parse_pair(s)
    if e == nil then ops.usage_error(("%s%s %s"):format(where, ("'" .. s:sub(1, 80) .. "'"), why)) end
    local key = e and (tostring(e.object) .. "/" .. tostring(e.thread_id) .. "/" .. e.run_id)
    if e and not seen[key] then
      seen[key] = true
      pairs_in[#pairs_in + 1] = e
    end
  end
  for _, a in ipairs(positional) do
    if a == "-" then read_stdin = true else add(a, "") end
  end
  if o.file == "-" then
    read_stdin = true
  elseif o.file then
    local lines, err = ops.read_lines(o.file)
    if not lines then ops.usage_error("--file: cannot read " .. o.file .. ": " .. tostring(err)) end
    for n, l in ipairs(lines) do add(l, o.file .. ": line " .. n .. ": ") end
  end
  if read_stdin or (#pairs_in == 0 and not o.file and not runctl.isatty("stdin")) then
    for n, l in ipairs(ops.read_lines("-")) do add(l, "stdin: line " .. n .. ": ") end
  end
  if #pairs_in == 0 and #positional == 0 and not o.file then
    ops.usage_error("no runs: give THREAD_ID/RUN_ID pairs as arguments, with --file FILE, or on stdin")
  end

  if o.dry_run then runctl.dry_run = true end
  local report, rerr = ops.report(o.report)
  if not report then ops.usage_error("--report: cannot open " .. o.report .. ": " .. tostring(rerr)) end
  local client = ops.client(o)
  local concurrency = o.concurrency or 16
  local now, t0 = ops.now(), ops.clock()
  local ledger = ops.ledger(report)
  for _, p in ipairs(pairs_in) do ledger:add(p) end
  ledger.progress = ops.progress(o.dry_run and "checking" or "cancelling", #pairs_in)
  local waitable = {}

  local function age_of(obj)
    return obj and math.type(obj.created_at) and now - obj.created_at or nil
  end

  -- The binding of an entry's kind, called with its IDs.
  local function call(e, verb)
    local api = e.kind.resource(client)
    if not api then error("this runctl has no binding for " .. e.kind.many, 0) end
    if e.kind.per_thread then return api[verb](e.thread_id, e.run_id) end
    return api[verb](e.run_id)
  end

  local interrupted = ops.each_concurrently(pairs_in, concurrency, function(e)
    local kind = e.kind
    if o.dry_run then
      -- A dry run looks first (GETs are allowed), then lets the client refuse
      -- the cancel, so what is reported is what a real run would meet.
      local run, err = call(e, "retrieve")
      if not run then
        return ledger:settle(e, { action = "failed", request_id = err.request_id, error = tostring(err) })
      end
      e.status_before, e.age = run.status, age_of(run)
      if kind.expired[run.status] or (kind.active[run.status] and math.type(run.expires_at)
                                      and run.expires_at <= now) then
        return ledger:settle(e, { action = "expired", status_after = run.status })
      elseif not kind.active[run.status] then
        return ledger:settle(e, { action = "already_done", status_after = run.status })
      end
    end
    local obj, err, resp = call(e, "cancel")
    local f = ops.classify_cancel(obj, err, resp, e.status_before)
    if f.action == "already_done" or f.action == "expired" then
      e.status_before = e.status_before or f.status_after
    end
    e.age = e.age or age_of(obj)
    ledger:settle_or_hold(e, f, o.wait and waitable, kind.pending)
  end, ledger:fail_on_error())
  ledger.progress:finish()
  ledger.progress = nil

  -- --wait, one kind after the other within one overall deadline.
  local still = 0
  if o.wait and not interrupted then
    local deadline = ops.clock() + o.wait
    for _, kind in pairs(ops.KINDS) do
      local mine = {}
      for _, e in ipairs(waitable) do if e.kind == kind then mine[#mine + 1] = e end end
      if #mine > 0 and not interrupted then
        local n, cut = ops.wait_and_settle(ledger, mine, {
          name = NAME, timeout = math.max(deadline - ops.clock(), 0.001), concurrency = concurrency,
          pending = kind.pending, one = kind.one, many = kind.many, shown = o.wait,
          retrieve = function(e) return call(e, "retrieve") end,
        })
        still, interrupted = still + n, interrupted or cut
      end
    end
  end
  ledger:settle_rest(interrupted and "interrupted" or "not attempted")
  local write_ok, write_err = report:close()

  local code = ledger:exit_code(interrupted, still > 0 or not write_ok)
  ops.say(code ~= 0, "%s: %s: %s  [%.1fs]", NAME, ops.plural(ledger.total, "run"), ledger:counts_text(),
          ops.clock() - t0)
  if o.dry_run then ops.say(false, "%s: dry run: no cancel was sent", NAME) end
  for i, e in ipairs(ledger.failures) do
    if i > 10 then
      ops.say(true, "  ... and %d more failures (see the report)", #ledger.failures - 10)
      break
    end
    ops.say(true, "  failed: %s: %s", e.thread_id and (e.thread_id .. "/" .. e.run_id) or e.run_id, e.error)
  end
  if still > 0 then
    ops.say(true, "%s: %s still cancelling when --wait %gs ran out", NAME, ops.plural(still, "run"), o.wait)
  end
  if interrupted then
    ops.say(true, "%s: interrupted: %s skipped; the report has a line for each", NAME,
            ops.plural(ledger.counts.skipped, "run"))
  end
  if not write_ok then ops.say(true, "%s: cannot write the report: %s", NAME, write_err) end
  return code
end

ops.main(NAME, main, { ... })
