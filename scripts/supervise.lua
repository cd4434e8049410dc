-- scripts/supervise.lua — guard policies that run continuously: cancel what a policy's rules pick, pass after pass
-- Each pass lists what the policy's rules cover (each listing once, however
-- many rules share it), picks the objects each rule matches, cancels them
-- (bounded, rate-limited), records every decision once in an append-only
-- journal and writes metrics. As a service: SIGHUP reloads the policy,
-- SIGTERM or Ctrl-C let the pass's requests in flight finish and exit 0.
local ops = require "runctl.ops"
local policies = require "runctl.ops.policy"
local journals = require "runctl.ops.journal"
local metrics = require "runctl.ops.metrics"
local service = require "runctl.ops.service"
local picks = require "runctl.jobs.selection"
local breakers = require "runctl.ops.breaker"
local clients = require "runctl.api.client"

local NAME = "supervise"
local USAGE = [[
usage: runctl supervise POLICY.lua [--once] [--interval SECONDS] [--journal FILE] [--metrics FILE] [--dry-run]

Runs a policy: a Lua file returning a table of rules, such as

  return {
    interval = "1m",
    rules = {
      { name = "stale batches", kind = "batches", older_than = "6h" },
      { name = "stuck runs", kind = "runs", threads_file = "threads.txt", older_than = "15m" },
      { name = "failing batches", kind = "batches",
        match = function(b) return b.request_counts and b.request_counts.failed > 100 end },
    },
  }

Every pass lists the objects the rules cover and cancels those a rule picks
(of the kind's active statuses, by default). Rule fields: name, kind (runs,
batches, fine-tuning, eval-runs, or any kind runctl knows), older_than,
age_from (created|started), status (paused picks paused fine-tuning jobs),
assistant, model (a name picks its dated snapshots and models fine-tuned from
them; "=NAME" that name only), metadata ({key = "value"}), threads /
threads_file (runs), evals / evals_file (eval runs), ids / ids_file (kinds
that cannot be listed; an ID of another kind's prefix is a policy error),
match (a function of the object: true picks it), action ("cancel", or
"pause" for fine-tuning jobs). Files are read relative to the policy's
folder. The policy sees no io and no os but os.time, os.date, os.clock and
os.getenv. A model filter that matches none of the objects listed is logged
once per policy load with the models seen; an ID not found is an error
(not_found), logged once.

Budgets stop spending: a rule with when_over = "BUDGET" picks nothing while
that budget is under its limit, and what its filters pick once it is over:

  return {
    budget_interval = "5m",     -- how often budgets are measured (default 5m)
    budgets = {
      { name = "daily cap", usd = 200, window = "today" },
      { name = "token burn", tokens = 50e6, window = "1h", models = { "gpt-4o" } },
    },
    rules = {
      { name = "stop batches", kind = "batches", when_over = "daily cap" },
    },
  }

Budget fields: name, usd (from the costs, USD) or tokens (from the usage,
input + output), window ("today", "month": UTC calendar; or a duration such
as "1h"), source ("costs" for usd, "usage" for tokens), project_ids,
api_key_ids, line_items (costs), models and endpoint (usage; default
completions). Budgets need an organization admin key in OPENAI_ADMIN_KEY.
A trip is journaled once per window (event budget_exceeded); --once and
--dry-run log what a trip would cancel.

Options:
  --once                  one pass, then exit (for cron): 0 when it had no
                          error, 1 otherwise
  --interval SECONDS      seconds between passes (default: the policy's
                          interval, else 60); 30s, 5m, 1h also work
  --journal FILE          append the decisions to FILE (default stdout)
  --metrics FILE          write Prometheus metrics to FILE after each pass
                          (atomically: FILE.tmp, then renamed)
  --dry-run               decide and journal would_cancel; send no cancel
  --concurrency N         requests in flight at once (default 16)
  --rate R                at most R requests per second
  -h, --help              this text

The journal has one JSON line per decision: time, rule, kind, id, parent,
status_before, status_after, age, outcome, request_id, error, note, cost.
outcome is cancel_requested, already_cancelling, already_finished,
not_cancellable, not_found, failed, or would_cancel (--dry-run); a pause
rule's are pause_requested, not_pausable, not_found, failed, would_pause. A decision the journal holds
already (the same outcome for the same object) is not written again, also
after a restart on the same file. One log line per action goes to stderr.

Signals: SIGHUP reloads the policy (a policy that does not load is logged and
the old one stays); SIGTERM or Ctrl-C let the requests in flight finish and
exit 0. Exit status: 0, 1 (--once: the pass had an error), 2 (usage error, or
a policy that does not load at start).
]]

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--once"] = { kind = "flag" },
    ["--interval"] = { kind = "seconds" },
    ["--journal"] = { kind = "string" },
    ["--metrics"] = { kind = "string" },
    ["--dry-run"] = { kind = "flag" },
    ["--concurrency"] = { kind = "count" },
    ["--rate"] = { kind = "rate" },
  },
}

local M_CANCELS, M_ERRORS = "runctl_supervise_cancels_total", "runctl_supervise_errors_total"

local function new_metrics()
  return breakers.add_metrics(metrics.new())
    :counter("runctl_supervise_passes_total", "Passes run, by result (ok, failed).")
    :counter(M_CANCELS, "Cancel decisions, by kind, rule and outcome.")
    :counter(M_ERRORS, "Errors, by type (list, auth, quota, cancel, match, journal, metrics, policy, not_found).")
    :gauge("runctl_supervise_active_objects", "Objects active or cancelling in the last pass's listings, by kind and status.")
    :gauge("runctl_supervise_oldest_active_age_seconds", "Age of the oldest active object in the last pass's listings, by kind.")
    :gauge("runctl_supervise_pass_duration_seconds", "How long the last pass took.")
    :gauge("runctl_supervise_last_pass_timestamp_seconds", "When the last pass ended (Unix time).")
    :gauge("runctl_supervise_last_success_timestamp_seconds", "When the last pass without an error ended (Unix time; absent until one).")
    :gauge("runctl_supervise_policy_rules", "Rules in the policy in force.")
    :gauge("runctl_supervise_lua_memory_bytes", "Memory the Lua state holds after a pass (a flat line over time).")
    :counter("runctl_supervise_rate_limited_total",
             "429 answers from the server's rate limit (waited out behind the account's pace).")
    :gauge("runctl_supervise_rate_limit_pace",
           "Requests per second the server's rate limit allows the account now (0: not paced).")
end

-- Below, s is the supervisor's state (options, policy, journal, metrics
-- registry, client, service) and p one pass's record (its time, targets,
-- objects picked, activity seen, errors, whether every listing completed).

-- An error of the pass: logged, counted by type, and the pass is not a success.
local function fail(s, p, kind_of_error, fmt, ...)
  p.errors = p.errors + 1
  s.reg:inc(M_ERRORS, { type = kind_of_error })
  s.svc:log("error", fmt, ...)
end

-- An error's text for people: a raise's source position dropped.
local function text_of(err)
  if runctl.is_error(err) then return tostring(err) end
  return (tostring(err):gsub("^[^\n]-:%d+: ", "", 1))
end

-- Whether rule r's match function picks item (true without one); a match
-- that raises picks nothing and counts as an error.
local function matches(s, p, r, item)
  if not r.match then return true end
  local ok, res = policies.call(r.match, item)
  if ok then return res and true or false end
  fail(s, p, "match", "rule '%s': match raised an error, %s %s left alone: %s", r.name, r.kind.one, item.id, tostring(res))
  return false
end

-- Notes a listed object: the activity it adds to the metrics, and the first
-- rule (in policy order) that picks it becomes its target for this pass.
local function see(s, p, l, item)
  if type(item) ~= "table" or type(item.id) ~= "string" then return end
  local kind, st = l.kind, item.status
  for _, r in ipairs(l.rules) do r.models.note(item) end
  if kind.active[st] or kind.cancelling[st] or kind.paused[st] then
    local by_status = p.active[kind]
    by_status[st] = (by_status[st] or 0) + 1
    if kind.active[st] and math.type(item.created_at) then
      p.oldest[kind] = math.max(p.oldest[kind] or 0, p.unix_time - item.created_at)
    end
  end
  local picked = p.picked[kind.name]
  if picked[item.id] then return end            -- seen twice in one listing (pages moved)
  for _, r in ipairs(l.rules) do
    local verdict, age, note = r.pick(item)
    if verdict == "cancel" and r.when_over and not p.over[r.when_over] then
      if p.show_trips and matches(s, p, r, item) then    -- --once, --dry-run: what a trip would cancel
        local list = p.would_trip[r] or {}
        p.would_trip[r] = list
        list[#list + 1] = item.id
      end
    elseif verdict == "cancel" and matches(s, p, r, item) then
      picked[item.id] = true
      p.targets[#p.targets + 1] = { rule = r, kind = kind, parent = l.parent, id = item.id, budget = r.when_over,
                                    status = st, age = age, item = item, note = note }
      return
    end
  end
end

-- An object a rule names by ID that the server does not know (a wrong ID,
-- or one long gone), or a parent it lists (a thread, an eval): counted as an
-- error of type not_found every pass, logged as a warning once per ID while
-- the policy is in force.
local function not_found(s, p, l)
  p.errors = p.errors + 1
  s.reg:inc(M_ERRORS, { type = "not_found" })
  local what = l.id and (l.parent and (l.parent .. "/" .. l.id) or l.id) or l.parent
  if s.policy.missing[what] then return end
  s.policy.missing[what] = true
  s.svc:log("warning", "%s %s (in rule '%s'): not found: check the policy's IDs",
            l.id and l.kind.one or l.kind.parent.name, what, l.rules[1].name)
end

-- After a pass: a rule whose model filter matched none of the objects in
-- its statuses while there were some is told once per policy load, with
-- the models seen (a filter "gpt-4o" never matches "gpt-4o-mini-...").
local function check_models(s)
  for _, r in ipairs(s.policy.rules) do
    local seen = r.models.result()
    if seen and not s.policy.warned[r.name] then
      s.policy.warned[r.name] = true
      s.svc:log("warning", "rule '%s': model %s matched none of the %d %s %s listed; their models: %s",
                r.name, table.concat(r.filter.model, ","), r.models.count(),
                r.filter.status and table.concat(r.filter.status, "/") or "active", r.kind.many,
                table.concat(seen, ", "))
    end
  end
end

-- Fetches one listing (a kind listed whole, one thread's runs, or one
-- object by ID) and sees each object in it.
local function list(s, p, l)
  if s.svc:stopping() or p.auth_failed then p.complete = false return end
  p.active[l.kind] = p.active[l.kind] or {}
  p.picked[l.kind.name] = p.picked[l.kind.name] or {}
  local api = l.kind.resource(s.client)
  local ok, err = pcall(function()
    if l.id then
      local obj, gerr
      if l.parent then obj, gerr = api.retrieve(l.parent, l.id) else obj, gerr = api.retrieve(l.id) end
      if obj then return see(s, p, l, obj) end
      if runctl.is_error(gerr) and gerr.status == 404 then return not_found(s, p, l) end
      error(gerr, 0)
    end
    local iter = l.parent and api.each(l.parent, { limit = 100 }) or api.each({ limit = 100 })
    for item in iter do
      see(s, p, l, item)
      if s.svc:stopping() then error("stopped while listing", 0) end
    end
  end)
  if ok then return end
  if l.parent and not l.id and runctl.is_error(err) and err.status == 404 then return not_found(s, p, l) end
  p.complete = false
  if s.svc:stopping() then return end
  local what = l.parent and (l.kind.many .. " of " .. l.parent) or l.id or l.kind.many
  local refused, why = ops.refusal(err)  -- a 401/403 or no quota: the other listings would fail too
  if refused then
    if not p.auth_failed then
      p.auth_failed = true
      fail(s, p, why, "%s listing %s: %s; the next pass tries again",
           why == "quota" and "NO QUOTA" or "AUTHENTICATION FAILED", what, refused)
    end
    return
  end
  fail(s, p, "list", "cannot list %s: %s", what, text_of(err))
end

-- What the answer to another action than cancel (a rule's action =
-- "pause") means, as classify_cancel's fields: <action>_requested,
-- would_<action> (--dry-run), not_found, not_<action>able (the server
-- refused: its text is the note) or failed.
local function classify_action(action, obj, err, resp, status_before)
  if obj then
    return { outcome = action .. "_requested", status_after = type(obj.status) == "string" and obj.status or nil,
             request_id = resp.request_id, seen = obj }
  end
  local f = { status_after = status_before, request_id = runctl.is_error(err) and err.request_id or nil }
  if runctl.is_error(err) and err.kind == "dry_run" then
    f.outcome = "not_sent"
  elseif runctl.is_error(err) and err.kind == "api" and err.status == 404 then
    f.outcome = "not_found"
  elseif runctl.is_error(err) and err.kind == "api" and (err.status == 400 or err.status == 409) then
    f.outcome, f.note = "not_" .. action .. "able", err.message
    f.status_after = type(err.message) == "string" and err.message:match("with status '([%w_]+)'") or status_before
  else
    f.outcome, f.error = "failed", tostring(err)
  end
  return f
end

-- Sends one target's cancel (or its rule's action) and journals the
-- decision (once per outcome).
local function cancel(s, p, e)
  if s.svc:stopping() then return end           -- not started: the next run decides again
  local api = e.kind.resource(s.client)
  local action = e.rule.action
  local obj, err, resp
  if e.parent then obj, err, resp = api[action](e.parent, e.id) else obj, err, resp = api[action](e.id) end
  local f
  if action == "cancel" then f = ops.classify_cancel(obj, err, resp, e.status)
  else f = classify_action(action, obj, err, resp, e.status) end
  local outcome = f.outcome == "not_sent" and ("would_" .. action) or f.outcome    -- runctl.api.cancel_outcomes' words
  s.reg:inc(M_CANCELS, { kind = e.kind.name, rule = e.rule.name, outcome = outcome })
  local rec = { time = os.date("!%Y-%m-%dT%H:%M:%SZ"), rule = e.rule.name, kind = e.kind.name, id = e.id,
                parent = e.parent, status_before = e.status, status_after = f.status_after, age = e.age,
                outcome = outcome, request_id = f.request_id, error = f.error and service.redact(f.error),
                note = (e.note or f.note) and service.redact(e.note or f.note),
                cost = ops.kinds.cost_of(e.kind, f.seen or e.item), budget = e.budget }
  local what = ("rule '%s': %s %s (%s, %s old)"):format(e.rule.name, e.kind.one, e.id, tostring(e.status),
                                                       ops.fmt_age(e.age))
  if outcome == "failed" then
    local refused, why = ops.refusal(err)
    fail(s, p, why or "cancel", "%s: %s failed: %s", what, action, refused or f.error or "?")
  end
  local written, jerr = s.journal:record(rec)
  if written == nil then
    fail(s, p, "journal", "cannot write the journal: %s", jerr)
  elseif jerr then
    fail(s, p, "journal", "%s: journaled without the fields that could not be encoded: %s", what, jerr)
  elseif written and outcome ~= "failed" then
    s.svc:log("info", "%s: %s%s", what, outcome, f.request_id and (" [" .. f.request_id .. "]") or "")
  else
    s.svc:log("debug", "%s: %s (journaled before)", what, outcome)
  end
end

-- One pass: list, pick, cancel, journal. Returns the pass's record.
local function pass(s)
  local p = { unix_time = ops.unix_time(), targets = {}, picked = {}, active = {}, oldest = {}, errors = 0, complete = true,
              would_trip = {}, show_trips = s.o.once or s.o.dry_run }
  local function log(...) s.svc:log(...) end
  p.over = s.breaker:decide(s.policy, { log = log, journal = s.journal,
                                        fail = function(...) fail(s, p, ...) end })
  for _, r in ipairs(s.policy.rules) do
    r.pick, r.models = picks.picker(r.kind, r.filter, p.unix_time), picks.model_watch(r.kind, r.filter)
  end
  ops.each_concurrently(s.policy.listings, s.concurrency, function(l) list(s, p, l) end)
  check_models(s)
  ops.each_concurrently(p.targets, s.concurrency, function(e) cancel(s, p, e) end, function(e, err)
    fail(s, p, "cancel", "rule '%s': %s %s: cannot cancel: %s", e.rule.name, e.kind.one, e.id, text_of(err))
  end)
  if p.complete then s.journal:forget_others(p.picked) end
  if p.show_trips then s.breaker:show_trips(s.policy, p.over, p.would_trip, log) end
  return p
end

-- After a pass: its numbers into the metrics, the metrics file written.
local function measure(s, p, took)
  local reg, ok = s.reg, p.errors == 0
  s.passes = s.passes + 1
  reg:clear("runctl_supervise_active_objects")
  reg:clear("runctl_supervise_oldest_active_age_seconds")
  for kind, by_status in pairs(p.active) do
    for st in pairs(kind.active) do by_status[st] = by_status[st] or 0 end
    for st, n in pairs(by_status) do reg:set("runctl_supervise_active_objects", { kind = kind.name, status = st }, n) end
    reg:set("runctl_supervise_oldest_active_age_seconds", { kind = kind.name }, p.oldest[kind] or 0)
  end
  reg:inc("runctl_supervise_passes_total", { result = ok and "ok" or "failed" })
  reg:set("runctl_supervise_pass_duration_seconds", nil, took)
  reg:set("runctl_supervise_last_pass_timestamp_seconds", nil, ops.unix_time())
  if ok then reg:set("runctl_supervise_last_success_timestamp_seconds", nil, ops.unix_time()) end
  reg:set("runctl_supervise_policy_rules", nil, #s.policy.rules)
  local limit = s.client:rate_limit()     -- the account's, shared by every client of the key
  if limit then
    reg:set("runctl_supervise_rate_limited_total", nil, limit.rate_limited)
    reg:set("runctl_supervise_rate_limit_pace", nil, math.floor(limit.pace * 10 + 0.5) / 10)
  end
  local level = (#p.targets > 0 or not ok) and "info" or "debug"
  s.svc:log(level, "pass %d: %d picked, %d error(s) [%.2fs]", s.passes, #p.targets, p.errors, took)
  p = nil -- luacheck: ignore 311 (drops the pass's tables before the memory is measured)
  collectgarbage()
  reg:set("runctl_supervise_lua_memory_bytes", nil, math.floor(collectgarbage("count") * 1024))
  if s.o.metrics then
    local written, err = reg:write(s.o.metrics)
    if not written then
      reg:inc(M_ERRORS, { type = "metrics" })
      s.svc:log("error", "cannot write the metrics to %s: %s", s.o.metrics, tostring(err))
    end
  end
  return ok
end

-- SIGHUP: the policy is read again; one that does not load leaves the old one.
local function reload(s)
  local policy, err = policies.load(s.policy.path)
  if not policy then
    s.reg:inc(M_ERRORS, { type = "policy" })
    return s.svc:log("error", "policy not reloaded, the old one stays: %s", err)
  end
  if #policy.budgets > 0 and not clients.has_admin_key(s.client) then
    s.reg:inc(M_ERRORS, { type = "policy" })
    return s.svc:log("error", "policy not reloaded, the old one stays: it has budgets and %s", clients.NO_ADMIN_KEY)
  end
  policy.missing, policy.warned = {}, {}
  s.policy = policy
  s.breaker:remeasure()
  s.svc:log("info", "policy reloaded: %s, %d rule(s)", policy.path, #policy.rules)
end

local function interval(s) return s.o.interval or s.policy.interval or 60 end

local function main(argv)
  local o, positional = ops.parse(SPEC, argv)
  if #positional ~= 1 then ops.usage_error("give one policy file: runctl supervise POLICY.lua") end
  local policy, perr = policies.load(positional[1])
  if not policy then
    io.stderr:write(NAME, ": ", runctl.printable(service.redact(perr), true), "\n")
    return ops.EXIT_USAGE
  end
  policy.missing, policy.warned = {}, {}             -- IDs not found, model filters told about: once each
  if o.dry_run then runctl.dry_run = true end      -- the client refuses every cancel from here on
  local client = ops.client(o)
  if #policy.budgets > 0 and not clients.has_admin_key(client) then
    io.stderr:write(NAME, ": ", policy.path, ": the policy has budgets, which are measured from the "
                    .. "organization's costs and usage: ", clients.NO_ADMIN_KEY, "\n")
    return ops.EXIT_USAGE
  end
  local journal, jerr = journals.open(o.journal)
  if not journal then ops.usage_error("--journal: cannot open " .. o.journal .. ": " .. tostring(jerr)) end
  local s = { o = o, policy = policy, journal = journal, reg = new_metrics(), client = client,
              svc = service.start(NAME), concurrency = o.concurrency or 16, passes = 0 }
  s.breaker = breakers.new(client, s.reg)
  s.svc:log("info", "policy %s: %d rule(s), a pass every %gs%s", policy.path, #policy.rules, interval(s),
            o.dry_run and " (dry run: no cancel is sent)" or "")
  local ok, why
  local next_due = runctl.now()
  repeat
    local started = runctl.now()
    ok = measure(s, pass(s), runctl.now() - started)
    if o.once or s.svc:stopping() then break end
    next_due = math.max(next_due + interval(s), runctl.now())
    why = s.svc:wait_until(next_due)
    if why == "reload" then
      reload(s)
      next_due = runctl.now()
    end
  until why == "stop"
  journal:close()
  s.svc:log("info", "stopped after %d pass(es)", s.passes)
  if o.once and not ok then return ops.EXIT_FAILED end
  return 0
end

ops.main(NAME, main, { ... })
