-- tests/lua/test_guards.lua — guards that guard (issue #27), against the fake
-- API: model filters match what the service reports (snapshots, fine-tuned
-- bases, an exact form), runs past expires_at are cancelled, outcomes in each
-- kind's own status words, eval runs in every tool, policy IDs checked against
-- their kind, batch costs with usage and model, paused fine-tuning jobs, the
-- fake's --seed with --jobs and its demo seed, and the README's and the
-- example policy's rules firing. Every refusal style where a refusal matters.
local T = require "helper"
local picks = require "runctl.jobs.selection"
local kinds = require "runctl.jobs.kinds"
local KEY = "sk-test-guards-0123456789"
local SCRIPTS = io.popen("pwd"):read("l") .. "/scripts"
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"
local R = T.seed_run
local STYLES = { "legacy", "live", "400", "200", "409" }

local SEED = {
  threads = {
    { id = "thread_g", runs = { R("run_orphan", "in_progress", 3600, { expires_at = -3000 }),
                                R("run_fresh", "in_progress", 3600, { expires_at = 600 }),
                                R("run_lapsed", "expired", 3600, { expires_at = -3000 }) } },
  },
  batches = {
    { id = "batch_run", status = "in_progress", created_at = -30000 },
    { id = "batch_val", status = "validating", created_at = -30000 },
    { id = "batch_lapsed", status = "in_progress", created_at = -100000 },   -- expires_at: created + 24h
  },
  fine_tuning_jobs = {
    { id = "ftjob-snap", status = "running", created_at = -50000, model = "gpt-4o-mini-2024-07-18" },
    { id = "ftjob-plain", status = "running", created_at = -50000, model = "gpt-4o-mini" },
    { id = "ftjob-tuned", status = "queued", created_at = -50000, model = "ft:gpt-4o-mini-2024-07-18:acme::abc123" },
    { id = "ftjob-tts", status = "running", created_at = -50000, model = "gpt-4o-mini-tts" },
    { id = "ftjob-big", status = "running", created_at = -50000, model = "gpt-4o-2024-08-06" },
    { id = "ftjob-old", status = "running", created_at = -50000, model = "gpt-4-0613" },
    { id = "ftjob-paused", status = "paused", created_at = -50000, model = "gpt-4o-mini-2024-07-18" },
    { id = "ftjob-done", status = "succeeded", created_at = -50000, model = "gpt-4o-mini-2024-07-18" },
  },
  evals = {
    { id = "eval_g", runs = {
      { id = "evalrun_old", status = "in_progress", created_at = -7200 },
      { id = "evalrun_queued", status = "queued", created_at = -5000, model = "gpt-4.1-2025-04-14" },
      { id = "evalrun_young", status = "in_progress", created_at = -60 },
      { id = "evalrun_done", status = "completed", created_at = -9000 },
      { id = "evalrun_gone", status = "canceled", created_at = -8000 } } },
    { id = "eval_other", runs = { { id = "evalrun_else", status = "in_progress", created_at = -7200 } } },
  },
}

local fake = T.fake("--seed " .. T.seed_file(SEED))
local env = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, RUNCTL_SCRIPTS = SCRIPTS }
local function reseed(seed) fake:reset() fake:seed(seed or SEED) fake:clear() end
local function run(args, extra)
  local e = {}
  for k, v in pairs(env) do e[k] = v end
  for k, v in pairs(extra or {}) do e[k] = v end
  return T.run(args, e)
end
local function report(out)
  local by = {}
  for line in out:gmatch("[^\n]+") do
    local rec = json.decode(line)
    if type(rec) == "table" and rec.action ~= nil and rec.id ~= json.null then by[rec.id] = rec end
  end
  return by
end
local function picked(by, action)
  local ids = {}
  for id, rec in pairs(by) do if rec.action == (action or "would_cancel") then ids[#ids + 1] = id end end
  table.sort(ids)
  return table.concat(ids, ",")
end
local function wire()
  local t = {}
  for _, r in ipairs(fake:requests()) do t[#t + 1] = r.method .. " " .. r.path end
  return table.concat(t, " ")
end
local function state(kind)
  local resp = assert(http.request { url = fake.url .. "/_fake/" .. kind })
  local out = {}
  for _, x in ipairs(json.decode(resp.body)) do out[x.id] = x.status end
  return out
end
local serial = 0
local function tmp_dir()
  serial = serial + 1
  local d = ("%s/guards-%d-%d/"):format(TMP, math.random(1e9), serial)
  os.execute("mkdir -p " .. d)
  return d
end
local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end
local function policy(text, files)
  local d = tmp_dir()
  for name, content in pairs(files or {}) do write(d .. name, content) end
  return write(d .. "policy.lua", text)
end
local function journal(path)
  local by = {}
  for line in (T.read_file(path) or ""):gmatch("[^\n]+") do
    local rec = json.decode(line)
    if type(rec) == "table" then by[rec.id] = rec end
  end
  return by
end
local function outcomes(by)
  local t = {}
  for id, rec in pairs(by) do t[#t + 1] = id .. "=" .. tostring(rec.outcome) end
  table.sort(t)
  return table.concat(t, " ")
end
local function metric(path, name, labels)
  local text = T.read_file(path) or ""
  return tonumber(text:match("\n" .. name:gsub("_", "_") .. "{" .. labels:gsub("[%p]", "%%%0") .. "} (%S+)"))
end

---------------------------------------------------------------------- 1. model filters

for _, case in ipairs {
  { "gpt-4o-mini", "gpt-4o-mini", true }, { "gpt-4o-mini", "gpt-4o-mini-2024-07-18", true },
  { "gpt-4o-mini", "ft:gpt-4o-mini-2024-07-18:acme::abc", true }, { "gpt-4o-mini", "ft:gpt-4o-mini:acme::x", true },
  { "gpt-4o-mini", "gpt-4o-mini-tts", false }, { "gpt-4o-mini", "gpt-4o", false },
  { "gpt-4o", "gpt-4o-mini-2024-07-18", false }, { "gpt-4o", "gpt-4o-2024-08-06", true },
  { "gpt-4", "gpt-4-0613", true }, { "gpt-4", "gpt-4o", false }, { "gpt-4", "gpt-4-turbo", false },
  { "gpt-4o-mini", "gpt-4o-mini-2024-07", false }, { "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18", true },
  { "gpt-4o-mini-2024-07-18", "gpt-4o-mini", false },
  { "=gpt-4o-mini", "gpt-4o-mini", true }, { "=gpt-4o-mini", "gpt-4o-mini-2024-07-18", false },
  { "=ft:gpt-4o-mini-2024-07-18:acme::abc", "ft:gpt-4o-mini-2024-07-18:acme::abc", true },
  { "gpt-4o-mini", nil, false },
} do
  T.is(picks.model_matches(case[1], case[2]), case[3],
       ("model filter %s %s %s"):format(case[1], case[3] and "picks" or "does not pick", tostring(case[2])))
end

-- cancel-older-than --model on the wire: only the picked jobs get a cancel
local function cot(args) return run("cancel-older-than --kind fine-tuning --older-than 12h --json " .. args) end
reseed()
local out, err, code = cot("--dry-run --model gpt-4o-mini")
T.is(picked(report(out)), "ftjob-plain,ftjob-snap,ftjob-tuned",
     "--model gpt-4o-mini: the name, its snapshot and a model tuned from it; not -tts, not gpt-4o")
T.unlike(err, "matched none", "no warning when the filter matched")
out = cot("--dry-run --model =gpt-4o-mini")
T.is(picked(report(out)), "ftjob-plain", "--model =gpt-4o-mini: that name exactly")
out = cot("--dry-run --model gpt-4o-mini --model gpt-4")
T.is(picked(report(out)), "ftjob-old,ftjob-plain,ftjob-snap,ftjob-tuned", "--model twice: any of them (gpt-4-0613 too)")
out = cot("--dry-run --model gpt-4o")
T.is(picked(report(out)), "ftjob-big", "--model gpt-4o: its snapshot only")
fake:clear()
out, err, code = cot("--model gpt-4o-mini --yes")
T.is(code, 0, "a real run exits 0", err)
T.is(fake:posted(), "/v1/fine_tuning/jobs/ftjob-plain/cancel /v1/fine_tuning/jobs/ftjob-snap/cancel "
     .. "/v1/fine_tuning/jobs/ftjob-tuned/cancel", "exactly those cancels on the wire")
reseed()
out, err, code = cot("--dry-run --model gpt-5")
T.is(picked(report(out)), "", "--model gpt-5 picks nothing")
T.like(err, "cancel%-older%-than: %-%-model gpt%-5 matched none of the 6 active fine%-tuning jobs listed; their models: "
       .. "ft:gpt%-4o%-mini%-2024%-07%-18:acme::abc123, gpt%-4%-0613, gpt%-4o%-2024%-08%-06, gpt%-4o%-mini, "
       .. "gpt%-4o%-mini%-2024%-07%-18, gpt%-4o%-mini%-tts", "and the summary says so, naming the models it saw")
T.is(code, 0, "that is no failure")

-- supervise: a rule's model filter on the wire, and the bad ones
reseed()
local jf = TMP .. "/guards-j-" .. math.random(1e9) .. ".jsonl"
out, err, code = run("supervise --once --journal " .. jf .. " " .. policy([[return { rules = {
  { name = "runaway fine-tunes", kind = "fine-tuning", older_than = "12h", model = "gpt-4o-mini" } } }]]))
T.is(code, 0, "supervise: the rule model = \"gpt-4o-mini\" runs", err)
T.is(outcomes(journal(jf)), "ftjob-plain=cancel_requested ftjob-snap=cancel_requested ftjob-tuned=cancel_requested",
     "supervise: it fires on the snapshot and the tuned model")
for _, case in ipairs {
  { "model = 5", "rule 1 %('x'%): field 'model' must be a string or a non%-empty list of strings" },
  { "model = { 'gpt-4o', 7 }", "rule 1 %('x'%): field 'model' must be a string or a non%-empty list of strings" },
  { "model = {}", "rule 1 %('x'%): field 'model' must be a string or a non%-empty list" },
  { "model = '='", "rule 1 %('x'%): field 'model': '=' names no model" },
  { "model = 'gpt-4o', kind = 'uploads', ids = { 'upload_a' }", "rule 1 %('x'%): field 'model' does not apply to uploads" },
  { "status = 'canceled'", "rule 1 %('x'%): field 'status': 'canceled' is not a status of fine%-tuning jobs that can be picked: "
                           .. "use paused, queued, running, validating_files" },
  { "action = 'pause', kind = 'batches'", "rule 1 %('x'%): field 'action': batches cannot be told to 'pause': use cancel" },
  { "action = 'explode'", "rule 1 %('x'%): field 'action': fine%-tuning jobs cannot be told to 'explode': use cancel or pause" },
  { "action = 3", "rule 1 %('x'%): field 'action' must be a non%-empty string" },
  { "action = 'pause', status = { 'running', 'paused' }",
    "rule 1 %('x'%): field 'status': a rule that pauses cannot pick 'paused' fine%-tuning jobs: they are paused already" },
} do
  fake:clear()
  local p = policy(("return { rules = { { name = 'x', kind = 'fine-tuning', %s } } }"):format(case[1]))
  out, err, code = run("supervise --once " .. p)
  T.is(code, 2, "bad input " .. case[1] .. ": exit 2")
  T.like(err, "policy%.lua: " .. case[2], "bad input " .. case[1] .. ": the error names the rule and field")
  T.is(#fake:requests(), 0, "bad input " .. case[1] .. ": nothing sent")
end
out, err, code = run("cancel-older-than --kind batches --older-than 1h --status paused")
T.is(code, 2, "--status paused for batches: exit 2")
T.like(err, "%-%-status: 'paused' is not a status of batches that can be picked", "and says why")

---------------------------------------------------------------------- 2. runs past expires_at

for _, style in ipairs(STYLES) do
  reseed()
  fake:cancel_style(style)
  out, err, code = run("cancel-older-than --older-than 15m --json thread_g")
  local by = report(out)
  T.is(picked(by, "cancelled"), "run_fresh,run_orphan", style .. ": runs older than 15m: the one past expires_at is cancelled too")
  T.is(by.run_orphan.note, "past expires_at", style .. ": its line notes past expires_at")
  T.is(by.run_fresh.note, json.null, style .. ": the other one has no note")
  T.is(by.run_lapsed.action, "expired", style .. ": a run the service expired is expired, nothing sent")
  T.is(fake:posted(), "/v1/threads/thread_g/runs/run_fresh/cancel /v1/threads/thread_g/runs/run_orphan/cancel",
       style .. ": the cancels on the wire")
end
-- the server's answer decides: a 400 'expired' is already_finished
reseed()
fake:faults { { method = "POST", path = "/runs/run_orphan/cancel", status = 400,
                body = '{"error":{"message":"Cannot cancel run with status \'expired\'.","type":"invalid_request_error"}}' } }
out, err, code = run("cancel-older-than --older-than 15m --json thread_g")
local by = report(out)
T.is(by.run_orphan.outcome .. "/" .. by.run_orphan.action .. "/" .. by.run_orphan.status_after,
     "already_finished/expired/expired", "the server says expired (400): already_finished, reported expired")
T.is(by.run_orphan.note, "past expires_at", "still noted past expires_at")
T.is(code, 0, "and that is no failure")
-- every tool: cancel (with and without --dry-run) and supervise
reseed()
out = run("cancel --json thread_g/run_orphan")
by = report(out)
T.is(by.run_orphan.action .. "/" .. tostring(by.run_orphan.note), "cancelled/past expires_at",
     "cancel: a run past expires_at is cancelled, noted from the answer")
reseed()
out = run("cancel --dry-run --json thread_g/run_orphan thread_g/run_lapsed")
by = report(out)
T.is(by.run_orphan.action .. "/" .. tostring(by.run_orphan.note), "would_cancel/past expires_at", "cancel --dry-run: would_cancel")
T.is(by.run_lapsed.action, "expired", "cancel --dry-run: the expired one: expired")
-- unblock-thread cancels it too, and its line says so (its dry run as well)
for _, dry in ipairs { "--dry-run ", "" } do
  reseed()
  out, err, code = run("unblock-thread --json " .. dry .. "thread_g")
  by = report(out)
  T.is(by.run_orphan.action .. "/" .. tostring(by.run_orphan.note),
       (dry ~= "" and "would_cancel" or "cancelled") .. "/past expires_at",
       "unblock-thread " .. dry .. "thread_g: the run past expires_at is cancelled, noted past expires_at", err)
  T.is(by.run_fresh.note, json.null, "unblock-thread " .. dry .. "thread_g: the other run has no note")
  T.is(code, 0, "unblock-thread " .. dry .. "thread_g: exit 0")
end
reseed()
run("supervise --once --journal " .. jf .. "2 " .. policy([[return { rules = {
  { name = "stuck runs", kind = "runs", threads = { "thread_g" }, older_than = "15m" } } }]]))
local j = journal(jf .. "2")
T.is(outcomes(j), "run_fresh=cancel_requested run_orphan=cancel_requested", "supervise: the runs rule fires, past expires_at too")
T.is(j.run_orphan.note, "past expires_at", "supervise: journaled with note past expires_at")
-- batches keep today's behaviour: the service expires them itself
reseed()
out = run("cancel-older-than --kind batches --older-than 6h --json --yes")
by = report(out)
T.is(by.batch_lapsed.action, "expired", "a batch past expires_at is left to the service: expired, not sent")
T.unlike(fake:posted(), "batch_lapsed", "no cancel for it on the wire")

---------------------------------------------------------------------- 3. outcomes per kind

local c = fake:client { max_retries = 2 }
local EVAL_RUNS = kinds.get("eval-runs")
-- a kind defined by an extension whose words differ ("canceled"), on the eval runs' paths
runctl.define("acme.evalruns", { methods = {
  cancel = { "POST", "/evals/{eval_id}/runs/{run_id}" }, retrieve = { "GET", "/evals/{eval_id}/runs/{run_id}" } } })
local ACME = kinds.define("acme-evalruns", { resource = "acme.evalruns", object = "eval.run", prefix = "acmerun_",
  parent = { name = "eval", field = "eval_id", prefix = "acmeeval_" },
  active = { "queued", "in_progress" }, cancelling = {}, done = { "canceled" },
  finished = { "completed", "failed", "canceled" } })
T.ok(ACME.done.canceled and ACME.finished.canceled, "kinds.define: a kind with its own words")
for _, cancel in ipairs { { "evals.runs", function(...) return c.evals.runs.cancel(...) end },
                          { "an extension's kind", function(...) return c.acme.evalruns.cancel(...) end } } do
  for _, style in ipairs(STYLES) do
    reseed()
    fake:cancel_style(style)
    local obj, e, resp = cancel[2]("eval_g", "evalrun_gone")
    local got = obj and resp.outcome or (e and e.outcome .. "/" .. tostring(e.object_status))
    T.is(got, (style == "200") and "cancel_requested" or "already_finished/canceled",
         cancel[1] .. ", " .. style .. ": a run already canceled: already_finished (200 unchanged: cancelled), not not_cancellable")
    obj, e, resp = cancel[2]("eval_g", "evalrun_done")
    got = obj and resp.outcome or (e and e.outcome .. "/" .. tostring(e.object_status))
    T.is(got, (style == "200") and "already_finished" or "already_finished/completed",
         cancel[1] .. ", " .. style .. ": a completed run is already_finished")
    -- the answer to the first attempt is lost; the retry hears "Cannot cancel ... 'canceled'"
    fake:clear()
    fake:faults { { method = "POST", path = "/evals/eval_g/runs/evalrun_old", close = "after" } }
    obj, e, resp = cancel[2]("eval_g", "evalrun_old")
    got = obj and (resp.outcome .. "/" .. obj.status .. "/" .. resp.attempts)
          or (e and e.outcome .. "/" .. tostring(e.object_status) .. "/" .. e.attempts)
    T.is(got, (style == "200") and "cancel_requested/canceled/2" or "cancel_requested/canceled/2",
         cancel[1] .. ", " .. style .. ": a lost answer then 'canceled': cancel_requested, not not_cancellable")
  end
end
T.is(EVAL_RUNS.finished.canceled and not EVAL_RUNS.finished.cancelled, true, "eval runs finish as canceled, their word")
T.raises(function() kinds.define("acme-bad", { resource = "acme.evalruns", object = "x", active = { "queued" },
                                              parent = { name = "eval", field = "eval_id" }, actions = { "pause" } }) end,
         "resource 'acme.evalruns' has no method 'pause' %(actions%)", "kinds.define: an action its resource lacks is refused")
T.raises(function() kinds.define("acme-bad", { resource = "acme.evalruns", object = "x", active = { "queued" },
                                              parent = { name = "eval", field = "eval_id" }, cancel_past_expiry = "yes" }) end,
         "cancel_past_expiry must be a boolean", "kinds.define: cancel_past_expiry must be a boolean")

---------------------------------------------------------------------- 4. eval runs, a built-in kind

T.is(type(evals) == "table" and type(evals.runs.cancel), "function", "evals.runs is a global of the runctl host")
reseed()
local obj, e, resp = c.evals.runs.cancel("eval_g", "evalrun_old")
T.is(obj and obj.status .. "/" .. resp.outcome, "canceled/cancel_requested", "evals.runs.cancel: canceled at once")
T.is(wire(), "POST /v1/evals/eval_g/runs/evalrun_old", "cancelEvalRun: POST to the run itself, no /cancel")
T.is(obj.eval_id, "eval_g", "the run names its eval")
T.is(obj.result_counts.total, 50, "the fake serves result_counts")
T.is(obj.per_model_usage[1].total_tokens, 5000, "and per_model_usage")
fake:clear()
obj = c.evals.runs.retrieve("eval_g", "evalrun_queued")
T.is(obj and obj.status, "queued", "evals.runs.retrieve")
T.is(wire(), "GET /v1/evals/eval_g/runs/evalrun_queued", "on the wire")
fake:clear()
local page = c.evals.runs.list("eval_g", { limit = 2 })
T.is(page.data[1].id .. "," .. page.data[2].id .. "," .. tostring(page.has_more), "evalrun_done,evalrun_gone,true",
     "evals.runs.list: order asc by default (oldest first), paged")
T.is(page.last_id, "evalrun_gone", "with last_id")
T.is(fake:last().method .. " " .. fake:last().path .. "?" .. fake:last().query, "GET /v1/evals/eval_g/runs?limit=2",
     "the list on the wire")
page = c.evals.runs.list("eval_g", { order = "desc", status = "in_progress" })
local ids = {}
for _, r in ipairs(page.data) do ids[#ids + 1] = r.id end
T.is(table.concat(ids, ","), "evalrun_young", "order desc with a status filter")
T.like(fake:last().query, "status=in_progress", "the status filter on the wire")
T.like(fake:last().query, "order=desc", "and the order")
ids = {}
for r in c.evals.runs.each("eval_g", { limit = 1 }) do ids[#ids + 1] = r.id end
T.is(table.concat(ids, ","), "evalrun_done,evalrun_gone,evalrun_old,evalrun_queued,evalrun_young",
     "evals.runs.each: every page, one eval's runs only")
T.raises(function() c.evals.runs.list("eval_g", { status = "cancelled" }) end, "status must be one of queued",
         "a status word eval runs lack is refused before sending")
local _, nf = c.evals.runs.cancel("eval_nope", "evalrun_old")
T.is(nf and nf.outcome, "not_found", "an unknown eval: not_found")
-- the fake: POST .../cancel is no route (the spec's curl example is wrong)
local r404 = http.request { method = "POST", url = fake.base .. "/evals/eval_g/runs/evalrun_queued/cancel",
                            headers = { Authorization = "Bearer " .. KEY } }
T.is(r404.status, 404, "the fake has no /cancel route for eval runs")

-- every tool
for _, style in ipairs(STYLES) do
  reseed()
  fake:cancel_style(style)
  out, err, code = run("cancel --json eval_g/evalrun_old eval_g/evalrun_done")
  by = report(out)
  T.is(by.evalrun_old.action .. "/" .. by.evalrun_old.status_after, "cancelled/canceled", style .. ": cancel EVAL_ID/RUN_ID")
  T.is(by.evalrun_old.eval_id, "eval_g", style .. ": the line names the eval")
  T.is(by.evalrun_done.action .. "/" .. by.evalrun_done.outcome, "already_done/already_finished",
       style .. ": a completed one is already_done")
  T.is(code, 0, style .. ": exit 0")
  T.is(fake:posted(), "/v1/evals/eval_g/runs/evalrun_done /v1/evals/eval_g/runs/evalrun_old", style .. ": the POSTs")
end
reseed()
out, err, code = run("cancel-older-than --kind eval-runs --older-than 1h --json eval_g eval_other")
by = report(out)
T.is(picked(by, "cancelled"), "evalrun_else,evalrun_old,evalrun_queued", "cancel-older-than --kind eval-runs EVAL_ID...")
T.is(by.evalrun_gone.action, "already_done", "an already canceled one is already_done")
T.is(by.evalrun_old.cost.result_counts.passed, 17, "its cost: result_counts")
T.is(by.evalrun_old.cost.per_model_usage[1].model_name, "gpt-4o-mini-2024-07-18", "and per_model_usage")
T.like(err, "on 2 evals", "the summary counts evals")
reseed()
fake:faults { { method = "POST", path = "/evals/eval_g/runs/evalrun_old", status = 500, count = 3 } }
local rep = TMP .. "/guards-rep-" .. math.random(1e9) .. ".jsonl"
out, err, code = run("cancel-older-than --kind eval-runs --older-than 1h --report " .. rep .. " eval_g")
T.is(code, 1, "an eval run whose cancel failed: exit 1")
fake:clear()
out, err, code = run("cancel-older-than --resume " .. rep .. " --json")
T.is(picked(report(out), "cancelled"), "evalrun_old", "--resume cancels the eval run the report left failed")
T.is(fake:posted(), "/v1/evals/eval_g/runs/evalrun_old", "under its eval, nothing else sent")
out, err, code = run("cancel-older-than --kind eval-runs --older-than 1h batch_x")
T.is(code, 2, "a batch ID given as an eval: exit 2")
T.like(err, "'batch_x' is the ID of a batch, not of an eval", "and says so")
reseed()
out, err, code = run("cancel-older-than --kind eval-runs --older-than 1h --model gpt-4.1 --json eval_g")
T.is(picked(report(out), "cancelled"), "evalrun_queued", "--model on eval runs")
reseed()
out, err, code = run("supervise --once --journal " .. jf .. "3 " .. policy([[return { rules = {
  { name = "old evals", kind = "eval-runs", evals_file = "evals.txt", older_than = "1h" } } }]],
  { ["evals.txt"] = "# evals\neval_g\n" }))
T.is(code .. tostring(out:match("%S")), "0nil", "supervise --journal FILE: exit 0, nothing on stdout", err)
T.is(outcomes(journal(jf .. "3")), "evalrun_old=cancel_requested evalrun_queued=cancel_requested", "supervise: an eval-runs rule")
T.is(journal(jf .. "3").evalrun_old.cost.result_counts.total, 50, "journaled with its cost")
reseed()
out, err, code = run("watch --once eval_g eval_g/evalrun_done")
T.is(code, 0, "watch EVAL_ID EVAL_ID/RUN_ID", err)
T.like(out, "EVAL%s+QUEUED%s+IN_PROGRESS%s+FINISHED", "watch: an eval's runs by status")
T.like(out, "eval_g%s+1%s+2%s+2", "with the counts")
T.like(out, "eval_g/evalrun_done%s+completed", "and a run given by ID")

---------------------------------------------------------------------- 5. IDs checked against their kind

for _, case in ipairs {
  { "kind = 'responses', ids_file = 'ids.txt'", "resp_a\n\n# a comment\nbatch_abc\n",
    "field 'ids_file': .-ids%.txt: line 4: 'batch_abc' is the ID of a batch, not of a response %(kind responses%)" },
  { "kind = 'responses', ids = { 'resp_a', 'ftjob-x' }", nil,
    "field 'ids': 'ftjob%-x' is the ID of a fine%-tuning job, not of a response %(kind responses%)" },
  { "kind = 'runs', threads_file = 'ids.txt'", "thread_a\nbatch_abc\n",
    "field 'threads_file': .-ids%.txt: line 2: 'batch_abc' is the ID of a batch, not of a thread %(kind runs%)" },
  { "kind = 'eval-runs', evals = { 'thread_a' }", nil,
    "field 'evals': 'thread_a' is the ID of a thread, not of an eval %(kind eval%-runs%)" },
  { "kind = 'runs', evals = { 'eval_a' }", nil, "field 'evals': runs are not listed per eval" },
  { "kind = 'file-batches', ids = { 'vs_a/batch_b' }", nil, "field 'ids': 'vs_a/batch_b' is the ID of a batch, not of a file batch" },
} do
  fake:clear()
  local p = policy(("return { rules = { { name = 'x', %s } } }"):format(case[1]), { ["ids.txt"] = case[2] or "" })
  out, err, code = run("supervise --once " .. p)
  T.is(code, 2, case[1] .. ": exit 2")
  T.like(err, "policy%.lua: rule 1 %('x'%): " .. case[3], case[1] .. ": names the file, line and kind")
  T.is(#fake:requests(), 0, case[1] .. ": nothing sent")
end

-- a thread or an eval a rule lists that is not found: not_found as well
reseed()
local nfd = tmp_dir()
out, err, code = run("supervise --once --dry-run --metrics " .. nfd .. "m.prom " .. policy([[return { rules = {
  { name = "t", kind = "runs", threads = { "thread_nope", "thread_g" } },
  { name = "e", kind = "eval-runs", evals_file = "evals.txt" } } }]], { ["evals.txt"] = "eval_nope\n" }))
T.is(code, 1, "a thread or an eval not found: an error of the pass (--once exits 1)")
T.like(err, "warning: thread thread_nope %(in rule 't'%): not found", "a thread not found: a warning naming it", err)
T.like(err, "warning: eval eval_nope %(in rule 'e'%): not found", "an eval not found: the same")
T.unlike(err, "cannot list", "neither is logged as a listing error")
T.is(metric(nfd .. "m.prom", "runctl_supervise_errors_total", 'type="not_found"'), 2, "both counted as not_found")
T.is(metric(nfd .. "m.prom", "runctl_supervise_errors_total", 'type="list"'), nil, "none as list")

-- not found: counted, warned once per ID, over several passes
reseed()
local d = tmp_dir()
local pol = write(d .. "policy.lua", [[return { interval = 0.2, rules = {
  { name = "resps", kind = "responses", ids = { "resp_missing" } },
  { name = "minis", kind = "fine-tuning", model = "gpt-5" } } }]])
local mf = d .. "m.prom"
local h = T.start("env OPENAI_API_KEY=" .. KEY .. " OPENAI_BASE_URL=" .. fake.base .. " RUNCTL_SCRIPTS=" .. SCRIPTS,
                  "supervise " .. pol .. " --metrics " .. mf .. " --journal " .. d .. "j.jsonl")
T.ok(T.wait_for(function() return (metric(mf, "runctl_supervise_passes_total", 'result="failed"') or 0) >= 3 end, 60),
     "supervise: three passes", h.err())
local before_reload = metric(mf, "runctl_supervise_passes_total", 'result="failed"') or 0
h.signal("HUP")
T.ok(T.wait_for(function()
  return h.err():find("policy reloaded", 1, true) ~= nil
         and (metric(mf, "runctl_supervise_passes_total", 'result="failed"') or 0) >= before_reload + 2
end, 60), "supervise: reloaded, then two more passes", h.err())
h.signal("TERM")
T.wait_for(function() return h.code() ~= nil end, 10)
local errtext = h.err()
local reloaded_at = errtext:find("policy reloaded", 1, true) or #errtext
local after = errtext:sub(reloaded_at)
errtext = errtext:sub(1, reloaded_at)
local _, warned = errtext:gsub("warning: response resp_missing %(in rule 'resps'%): not found", "")
T.is(warned, 1, "an ID not found is logged at warning level once", errtext)
T.ok((metric(mf, "runctl_supervise_errors_total", 'type="not_found"') or 0) >= 3, "and counted every pass as not_found")
local _, told = errtext:gsub("warning: rule 'minis': model gpt%-5 matched none of the 6 active fine%-tuning jobs listed; "
                             .. "their models: ft:gpt%-4o%-mini%-2024%-07%-18:acme::abc123, gpt%-4%-0613", "")
T.is(told, 1, "a model filter that matches nothing is told once per policy load, naming the models seen", errtext)
local _, told_again = after:gsub("warning: rule 'minis': model gpt%-5 matched none", "")
local _, warned_again = after:gsub("warning: response resp_missing %(in rule 'resps'%): not found", "")
T.is(told_again .. "/" .. warned_again, "1/1", "after a reload (a new policy load) each is told once more")

---------------------------------------------------------------------- 6. costs

for _, style in ipairs(STYLES) do
  reseed()
  fake:cancel_style(style)
  out, err, code = run("cancel --json batch_run batch_val")
  by = report(out)
  local cost = by.batch_run.cost
  T.is(cost.model, "gpt-4o-mini-2024-07-18", style .. ": a batch's cost carries its model")
  T.is(cost.usage and cost.usage.input_tokens .. "/" .. cost.usage.output_tokens .. "/" .. cost.usage.total_tokens,
       "4800/1600/6400", style .. ": and its usage (input/output/total tokens)")
  T.is(by.batch_val.cost.usage, nil, style .. ": a batch still validating has none: not in its cost")
  T.like(err, "cost: batch_run: cancelling; model gpt%-4o%-mini%-2024%-07%-18, output_file_id %-, "
         .. "request_counts completed=40 failed=2 total=100, usage input_tokens=4800 "
         .. 'input_tokens_details={"cached_tokens":0} output_tokens=1600', style .. ": the terminal summary shows them; a null is -")
  T.unlike(err, "userdata", style .. ": never userdata: (nil)")
end
reseed()
run("supervise --once --journal " .. jf .. "4 " .. policy([[return { rules = {
  { name = "stale", kind = "batches", older_than = "6h" } } }]]))
j = journal(jf .. "4")
T.is(j.batch_run.cost.usage.total_tokens .. " " .. j.batch_run.cost.model, "6400 gpt-4o-mini-2024-07-18",
     "the journal's cost has usage and model")
reseed()
out = run("watch --once batch_run ftjob-snap")
T.like(out, "batch_run%s+in_progress.-model gpt%-4o%-mini%-2024%-07%-18, output_file_id %-,", "watch shows them, a null as -")
T.like(out, "ftjob%-snap%s+running.-estimated_finish %-, trained_tokens %-", "nulls of a job's cost as -")

---------------------------------------------------------------------- 7. paused fine-tuning jobs

reseed()
out = run("cancel-older-than --kind fine-tuning --older-than 12h --dry-run --json")
by = report(out)
T.is(by["ftjob-paused"], nil, "the default (active) statuses leave a paused job alone")
out = run("cancel-older-than --kind fine-tuning --older-than 12h --status paused --json")
by = report(out)
T.is(picked(by, "cancelled"), "ftjob-paused", "--status paused picks it")
T.is(fake:posted(), "/v1/fine_tuning/jobs/ftjob-paused/cancel", "its cancel on the wire")
reseed()
out, err, code = run("list fine-tuning --status paused --json")
local listed = {}
for line in out:gmatch("[^\n]+") do
  local rec = json.decode(line)
  if type(rec) == "table" and type(rec.id) == "string" then listed[#listed + 1] = rec.id end
end
T.is(code .. " " .. table.concat(listed, ","), "0 ftjob-paused", "list --status paused lists the paused job", err)
out = run("cancel --dry-run --json ftjob-paused")
by = report(out)
T.is(by["ftjob-paused"] and by["ftjob-paused"].action, "would_cancel",
     "cancel --dry-run of a paused job: would_cancel (a real cancel applies to it), not already_done")
T.is(fake:posted(), "", "cancel --dry-run: no POST")
reseed()
out = run("watch --once --kind fine-tuning")
T.like(out, "VALIDATING_FILES%s+QUEUED%s+RUNNING%s+PAUSED%s+FINISHED", "watch shows a PAUSED column")
T.like(out, "fine%-tuning jobs%s+0%s+1%s+5%s+1%s+1", "counting the paused job")
obj, e, resp = c.fine_tuning.jobs.pause("ftjob-snap")
T.is(obj and obj.status, "paused", "fine_tuning.jobs.pause")
T.is(fake:last().method .. " " .. fake:last().path, "POST /v1/fine_tuning/jobs/ftjob-snap/pause", "on the wire")
obj = c.fine_tuning.jobs.resume("ftjob-snap")
T.is(obj and obj.status, "running", "fine_tuning.jobs.resume")
T.is(fake:last().method .. " " .. fake:last().path, "POST /v1/fine_tuning/jobs/ftjob-snap/resume", "on the wire")
_, e = c.fine_tuning.jobs.resume("ftjob-done")
T.is(e and e.status .. " " .. e.message, "400 Cannot resume a fine-tuning job with status 'succeeded'.",
     "resuming a finished job is refused")
reseed()
run("supervise --once --journal " .. jf .. "5 " .. policy([[return { rules = {
  { name = "pause minis", kind = "fine-tuning", model = "gpt-4o-mini", status = "running", action = "pause" },
  { name = "paused too long", kind = "fine-tuning", status = "paused", older_than = "12h" } } }]]))
j = journal(jf .. "5")
T.is(outcomes(j), "ftjob-paused=cancel_requested ftjob-plain=pause_requested ftjob-snap=pause_requested",
     "a rule's action = \"pause\" is journaled pause_requested; a rule's status picks paused jobs")
T.is(j["ftjob-snap"].status_after, "paused", "its status after")
T.is(fake:posted(), "/v1/fine_tuning/jobs/ftjob-paused/cancel /v1/fine_tuning/jobs/ftjob-plain/pause "
     .. "/v1/fine_tuning/jobs/ftjob-snap/pause", "pause and cancel on the wire")
T.is(state("fine_tuning_jobs")["ftjob-snap"], "paused", "the fake holds it paused")
reseed()
run("supervise --once --dry-run --journal " .. jf .. "6 " .. policy([[return { rules = {
  { name = "pause", kind = "fine-tuning", status = "running", action = "pause", model = "=gpt-4o-mini" } } }]]))
T.is(outcomes(journal(jf .. "6")), "ftjob-plain=would_pause", "--dry-run: would_pause, nothing sent")
T.is(fake:posted(), "", "no POST")

---------------------------------------------------------------------- 8. the fake

local extra = T.fake("--seed " .. T.seed_file(SEED) .. " --jobs 5")
local stats = json.decode(assert(http.request { url = extra.url .. "/_fake/stats" }).body)
T.is(stats.batches .. "/" .. stats.fine_tuning_jobs .. "/" .. stats.eval_runs, "8/13/11",
     "--seed FILE --jobs 5 adds 5 of each kind to the seed")
local ec = extra:client()
T.is(ec.batches.retrieve("batch_run").status, "in_progress", "the seed's objects are there")
extra:reset()
stats = json.decode(assert(http.request { url = extra.url .. "/_fake/stats" }).body)
T.is(stats.batches, 8, "and again after a reset")

local DEMO = "tests/fakeapi/seed-demo.json"
local demo = T.fake("--seed " .. DEMO)
local denv = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = demo.base, RUNCTL_SCRIPTS = SCRIPTS }
local seed = json.decode(T.read_file(DEMO))
local paused = 0
for _, job in ipairs(seed.fine_tuning_jobs or {}) do if job.status == "paused" then paused = paused + 1 end end
T.ok(#(seed.batches or {}) > 0 and #(seed.fine_tuning_jobs or {}) > 0 and #(seed.responses or {}) > 0
     and #(seed.evals or {}) > 0, "seed-demo.json holds batches, fine-tuning jobs, responses and evals")
T.is(paused, 1, "one fine-tuning job in it is paused")
out, err, code = T.run("cancel-older-than --kind batches --older-than 6h --dry-run --json", denv)
T.ok(code == 0 and picked(report(out)) ~= "", "demo: cancel-older-than --kind batches finds stale batches", err)
out, err, code = T.run("watch --once --kind fine-tuning", denv)
T.like(out, "PAUSED", "demo: watch --kind fine-tuning")
local resp_id
for _, r in ipairs(seed.responses) do if r.background and r.status == "in_progress" then resp_id = r.id end end
out, err, code = T.run("cancel --dry-run --json " .. tostring(resp_id), denv)
T.is(report(out)[resp_id] and report(out)[resp_id].action, "would_cancel", "demo: a background response to cancel")
local ev = seed.evals[1]
out, err, code = T.run("cancel-older-than --kind eval-runs --older-than 1h --dry-run --json " .. ev.id, denv)
T.ok(code == 0 and picked(report(out)) ~= "", "demo: eval runs to cancel", err)

-- the README's and the example policy's rules fire against the demo seed
local function rules_fired(policy_path, files)
  local pd = tmp_dir()
  write(pd .. "policy.lua", T.read_file(policy_path))
  for name, content in pairs(files or {}) do write(pd .. name, content) end
  local jpath = pd .. "j.jsonl"
  local _, perr, pcode = T.run("supervise " .. pd .. "policy.lua --once --dry-run --journal " .. jpath, denv)
  local fired = {}
  for _, rec in pairs(journal(jpath)) do
    if rec.outcome == "would_cancel" then fired[rec.rule] = (fired[rec.rule] or 0) + 1 end
  end
  return fired, pcode, perr
end
local threads = {}
for _, t in ipairs(seed.threads) do threads[#threads + 1] = t.id end
local fired, pcode, perr = rules_fired("share/runctl/supervise-policy.example.lua",
                                       { ["threads.txt"] = table.concat(threads, "\n") .. "\n" })
T.is(pcode, 0, "the example policy runs against the demo seed", perr)
local example_rules = 0
for line in T.read_file("share/runctl/supervise-policy.example.lua"):gmatch("[^\n]+") do
  local name = not line:match("^%s*%-%-") and line:match("name = \"([^\"]+)\"")
  if name then
    example_rules = example_rules + 1
    T.ok((fired[name] or 0) > 0, "the example policy's rule '" .. name .. "' fires", perr)
  end
end
T.ok(example_rules >= 3, "the example policy has rules")
-- the README's worked example (README.md, or docs/ once it moved there)
local block
for _, path in ipairs { "README.md", "docs/operators.md" } do
  local text = T.read_file(path) or ""
  block = block or text:match("```lua\n(return {\n  interval = \"1m\",[^`]-runaway fine%-tunes[^`]-)```")
end
T.ok(block ~= nil, "the README's worked policy example is found")
if block then
  local ppath = write(tmp_dir() .. "readme-policy.lua", block)
  fired, pcode, perr = rules_fired(ppath, { ["threads.txt"] = table.concat(threads, "\n") .. "\n" })
  T.is(pcode, 0, "the README's policy runs against the demo seed", perr)
  for name in block:gmatch("name = \"([^\"]+)\"") do
    T.ok((fired[name] or 0) > 0, "the README policy's rule '" .. name .. "' fires", perr)
  end
end

T.done()
