-- tests/lua/test_supervise.lua — `runctl supervise POLICY.lua` against the fake
-- API: policies rejected with file, rule and field; rules per kind, filters and
-- match; --once and --dry-run; the journal (one line per decision, also across
-- restarts); the metrics file parsed and checked; the daemon: reload on SIGHUP
-- (a broken policy keeps the old one), SIGTERM and Ctrl-C letting requests in
-- flight finish, faults and 401s between passes, memory flat over many passes.
-- The daemon is followed by polling its journal, metrics and log files.
local T = require "helper"
local KEY = "sk-test-supervise-0123456789"
local SCRIPTS = io.popen("pwd"):read("l") .. "/scripts"
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"

local R = T.seed_run

local SEED = {
  threads = {
    { id = "thread_a", runs = { R("run_old", "in_progress", 3600), R("run_young", "queued", 60),
                                R("run_other", "in_progress", 3600, { assistant_id = "asst_B" }) } },
    { id = "thread_b", runs = { R("run_b_old", "requires_action", 7200), R("run_b_done", "completed", 7200) } },
  },
  batches = {
    { id = "batch_old", status = "in_progress", created_at = -30000 },
    { id = "batch_young", status = "in_progress", created_at = -60 },
    { id = "batch_failing", status = "in_progress", created_at = -120,
      request_counts = { total = 1000, completed = 10, failed = 500 } },
    { id = "batch_prod", status = "validating", created_at = -30000, metadata = { env = "prod" } },
    { id = "batch_done", status = "completed", created_at = -40000 },
    { id = "batch_stopping", status = "cancelling", created_at = -40000 },
  },
  fine_tuning_jobs = {
    { id = "ftjob-mini", status = "running", created_at = -50000, model = "gpt-4o-mini" },
    { id = "ftjob-big", status = "running", created_at = -50000, model = "gpt-4o" },
    { id = "ftjob-young", status = "queued", created_at = -100, model = "gpt-4o-mini" },
  },
}

local fake = T.fake("--seed " .. T.seed_file(SEED))
local env = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, RUNCTL_SCRIPTS = SCRIPTS }
local function reseed(seed) fake:reset() fake:seed(seed or SEED) fake:clear() end

local serial = 0
local function tmp_path(what)
  serial = serial + 1
  return ("%s/sv-%d-%d-%s"):format(TMP, math.random(1e9), serial, what)
end

-- Writes a policy file (with threads.txt beside it) and returns its path.
local function policy(text, path)
  path = path or tmp_path("policy.lua")
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  local dir = path:match("^(.*/)")
  f = assert(io.open(dir .. "threads.txt", "w"))
  f:write("# the threads to watch\nthread_a\nthread_b\n")
  f:close()
  return path
end

local function supervise(args, extra)
  local e = {}
  for k, v in pairs(env) do e[k] = v end
  for k, v in pairs(extra or {}) do e[k] = v end
  return T.run("supervise " .. args, e)
end

-- The journal's lines, decoded, and a map "id" -> "rule:outcome".
local function journal(path)
  local lines, by = {}, {}
  for line in (T.read_file(path) or ""):gmatch("[^\n]+") do
    local rec = json.decode(line)
    lines[#lines + 1] = rec or { unparsable = line }
    if type(rec) == "table" then by[rec.id] = tostring(rec.rule) .. ":" .. tostring(rec.outcome) end
  end
  return lines, by
end

local function summary(by)
  local keys = {}
  for id, v in pairs(by) do keys[#keys + 1] = id .. "=" .. v end
  table.sort(keys)
  return table.concat(keys, " ")
end

local function posted() return fake:posted() end

local function count_requests(method, pattern)
  local n = 0
  for _, r in ipairs(fake:requests()) do
    if r.method == method and r.path:find(pattern) then n = n + 1 end
  end
  return n
end

---------------------------------------------------------------------- the metrics file

-- Whether 'a="x",b="y \" z"' is a valid label list: names, then quoted
-- values in which only \\, \" and \n are escapes.
local function valid_labels(inner)
  local pos = 1
  while true do
    local nxt = inner:match('^[%a_][%w_]*="()', pos)
    if not nxt then return false end
    pos = nxt
    while true do
      local c = inner:sub(pos, pos)
      if c == "" or c == "\n" then return false end
      if c == '"' then break end
      if c == "\\" then
        if not inner:sub(pos + 1, pos + 1):match('^[\\"n]$') then return false end
        pos = pos + 1
      end
      pos = pos + 1
    end
    pos = pos + 1
    if pos > #inner then return true end
    if inner:sub(pos, pos) ~= "," then return false end
    pos = pos + 1
  end
end

-- Parses the Prometheus text format strictly: every sample's family has its
-- HELP and TYPE lines before it, names and label syntax are valid, values are
-- numbers. Returns {name -> {labeltext -> value}}, types, or nil, problem.
local function parse_metrics(text)
  if not text or text == "" then return nil, "empty" end
  if text:sub(-1) ~= "\n" then return nil, "no final line feed" end
  local samples, types, helps = {}, {}, {}
  for line in text:gmatch("([^\n]*)\n") do
    local kw, name, rest = line:match("^# (%u+) ([%a_:][%w_:]*) (.*)$")
    if kw == "HELP" then
      helps[name] = rest
    elseif kw == "TYPE" then
      if not helps[name] then return nil, "TYPE before HELP: " .. line end
      if rest ~= "counter" and rest ~= "gauge" then return nil, "bad type: " .. line end
      types[name] = rest
      samples[name] = {}
    else
      local sname, labels, value = line:match("^([%a_:][%w_:]*)(%b{}) (%S+)$")
      if not sname then
        sname, value = line:match("^([%a_:][%w_:]*) (%S+)$")
        labels = ""
      end
      if not sname then return nil, "not a sample: " .. line end
      if not types[sname] then return nil, "sample before its TYPE: " .. line end
      if labels ~= "" and not valid_labels(labels:sub(2, -2)) then return nil, "bad labels: " .. line end
      local v = tonumber(value) or ((value == "NaN" or value:match("^[+-]Inf$")) and 0)
      if not v then return nil, "bad value: " .. line end
      samples[sname][labels] = v
    end
  end
  return samples, types
end

local function metrics_of(path)
  local m, types = parse_metrics(T.read_file(path))
  return m or {}, types or {}
end

---------------------------------------------------------------------- the exposition format itself

local metrics = require "runctl.ops.metrics"
T.is(metrics.escape_label('say "hi" \\ there\nnow'), 'say \\"hi\\" \\\\ there\\nnow',
     "label values: quote, backslash and line feed escaped")
local reg = metrics.new():counter("x_total", "Things,\nwith a \\ in the help."):gauge("y", "A gauge.")
reg:inc("x_total", { rule = 'a "quoted" rule', kind = "batches" })
reg:inc("x_total", { rule = 'a "quoted" rule', kind = "batches" }, 2)
reg:set("y", nil, 0.25)
T.is(reg:text(), '# HELP x_total Things,\\nwith a \\\\ in the help.\n# TYPE x_total counter\n'
     .. 'x_total{kind="batches",rule="a \\"quoted\\" rule"} 3\n# HELP y A gauge.\n# TYPE y gauge\ny 0.25\n',
     "HELP, TYPE, sorted labels, escaped text, one line each")
T.ok(parse_metrics(reg:text()) ~= nil, "which the strict parser accepts")
T.raises(function() reg:inc("nope") end, "no metric 'nope'", "an undefined metric raises")
T.raises(function() metrics.new():gauge("bad name", "x") end, "bad metric name", "a bad name raises")
T.raises(function() reg:set("y", { ["bad-label"] = 1 }, 1) end, "bad label name", "a bad label name raises")
local mdir = tmp_path("m")
local wrote, werr = reg:write(mdir .. "/none/x.prom")
T.ok(wrote == nil and werr ~= nil, "a metrics file that cannot be written: nil, err", werr)
-- a metrics file that cannot be written is an error of the pass, logged
local out, err, code = supervise(policy("return { rules = { { kind = 'batches' } } }") .. " --once --dry-run --journal "
                           .. tmp_path("j") .. " --metrics " .. mdir .. "/none/x.prom")
T.like(err, "error: cannot write the metrics to .*/none/x%.prom", "supervise logs it")
T.is(#fake:requests() > 0, true, "and its passes still run")
fake:clear()
T.is(parse_metrics('# HELP x X.\n# TYPE x gauge\nx{a="b} 1\n'), nil, "(the parser refuses a bad label)")
T.is(parse_metrics('x 1\n'), nil, "(and a sample without its TYPE)")

---------------------------------------------------------------------- bad policies

out, err, code = supervise("")
T.is(code, 2, "no policy file: exit 2")
T.like(err, "give one policy file", "no policy file: says so")
out, err, code = supervise(policy("return { rules = {} }") .. " --frequency 3")
T.is(code, 2, "an unknown option: exit 2")
T.like(err, "unknown option '%-%-frequency'", "an unknown option is named")
out, err, code = supervise(policy("return {") .. " --once")
T.is(code, 2, "a policy that does not parse: exit 2")
T.like(err, "policy%.lua:1:", "a policy that does not parse: the file and line are named")

for _, case in ipairs {
  { "return 42", "must return a table" },
  { "return { rules = {} }", "field 'rules' must be a non%-empty list" },
  { "return { rule = {} }", "policy%.lua: unknown field 'rule'" },
  { "return { interval = 0, rules = { { kind = 'batches' } } }", "field 'interval' must be more than 0" },
  { "return { interval = 'soon', rules = { { kind = 'batches' } } }", "field 'interval' must be a duration" },
  { "return { rules = { { name = 'x', kind = 'batches', older = '6h' } } }",
    "policy%.lua: rule 1 %('x'%): unknown field 'older'" },
  { "return { rules = { { kind = 'batches' }, { kind = 'batches', older_than = '6 hours' } } }",
    "rule 2 %('rule 2'%): field 'older_than' must be a duration" },
  { "return { rules = { { name = 'x', kind = 'jobs' } } }",
    "rule 1 %('x'%): field 'kind': 'jobs' is not a kind runctl knows: runs, batches, fine%-tuning" },
  { "return { rules = { { name = 'x' } } }", "rule 1 %('x'%): field 'kind' is required" },
  { "return { rules = { { name = 'x', kind = 'batches', status = 'queued' } } }",
    "rule 1 %('x'%): field 'status': 'queued' is not a status of batches that can be picked: use finalizing, in_progress, validating" },
  { "return { rules = { { name = 'x', kind = 'batches', assistant = 'asst_A' } } }",
    "rule 1 %('x'%): field 'assistant' does not apply to batches" },
  { "return { rules = { { name = 'x', kind = 'fine-tuning', age_from = 'started' } } }",
    "field 'age_from' started: fine%-tuning jobs have no start time" },
  { "return { rules = { { name = 'x', kind = 'batches', age_from = 'yesterday' } } }",
    "field 'age_from': 'yesterday' is not created or started" },
  { "return { rules = { { name = 'x', kind = 'runs' } } }",
    "rule 1 %('x'%): runs are listed per thread: give threads or threads_file" },
  { "return { rules = { { name = 'x', kind = 'runs', threads_file = 'nowhere.txt' } } }",
    "rule 1 %('x'%): field 'threads_file': cannot read '.*nowhere%.txt'" },
  { "return { rules = { { name = 'x', kind = 'batches', threads = { 'thread_a' } } } }",
    "field 'threads': batches are not listed per thread" },
  { "return { rules = { { name = 'x', kind = 'batches', ids = { 'batch_1' } } } }",
    "field 'ids': batches are listed without IDs" },
  { "return { rules = { { name = 'x', kind = 'batches', match = true } } }", "field 'match' must be a function" },
  { "return { rules = { { name = 'x', kind = 'batches', metadata = { env = 1 } } } }", "field 'metadata' must be a table" },
  { "return { rules = { { name = 'x', kind = 'batches' }, { name = 'x', kind = 'runs', threads = { 'thread_a' } } } }",
    "rule 2: the name 'x' is taken by rule 1" },
  { "return { rules = { 'batches' } }", "rule 1: must be a table" },
  { "local f = io.open('/etc/passwd') return { rules = { { kind = 'batches' } } }", "attempt to index a nil value %(global 'io'%)" },
  { "os.execute('true') return { rules = { { kind = 'batches' } } }", "attempt to call a nil value %(field 'execute'%)" },
  { "require 'runctl' return { rules = { { kind = 'batches' } } }", "attempt to call a nil value %(global 'require'%)" },
} do
  out, err, code = supervise(policy(case[1]) .. " --once")
  T.is(code, 2, "rejected at start (exit 2): " .. case[1])
  T.like(err, case[2], "  names the problem: " .. case[2])
end
T.is(#fake:requests(), 0, "a rejected policy sends nothing")
out, err, code = supervise(policy("error('token sk-test-supervise-leak0123 and ' .. tostring(os.getenv('OPENAI_API_KEY'))"
                                 .. " .. ' ' .. tostring(os.getenv('OPENAI_ADMIN_KEY')))") .. " --once",
                          { OPENAI_ADMIN_KEY = "sk-test-supervise-admin0123" })
T.is(code, 2, "a policy that raises: exit 2")
T.like(err, "token sk%-REDACTED and nil nil", "keys in a policy's error are masked; os.getenv hides the API and admin keys")
T.unlike(err, "leak0123", "no key shape shows")
out, err, code = supervise(policy([[
if runctl or json or task or http or io or load or require or debug or package or getmetatable then
  error("the policy sees " .. tostring(runctl or json or task or http or io or load or require or debug))
end
local ok = pcall(function() string.format = nil end)
return { rules = { { kind = "batches", older_than = os.getenv("NO_SUCH_VAR") or "1h" } } }
]]) .. " --once --dry-run --journal " .. tmp_path("j"))
T.is(code, 0, "the policy's environment has none of runctl, io, load, require, debug", err)
T.like(err, "would_cancel", "and it works (os.getenv); its string.format = nil left supervise's own alone")

---------------------------------------------------------------------- --once: each kind, filters, match

local POLICY = [[
-- every kind, filters and a match
return {
  interval = "1m",
  rules = {
    { name = "stale batches", kind = "batches", older_than = "6h", status = { "in_progress", "finalizing" } },
    { name = "failing batches", kind = "batches",
      match = function(b) return b.request_counts ~= nil and b.request_counts.failed > 100 end },
    { name = "prod batches", kind = "batches", older_than = "1h", metadata = { env = "prod" } },
    { name = "runaway fine-tunes", kind = "fine-tuning", older_than = "12h", model = "gpt-4o-mini" },
    { name = "stuck runs", kind = "runs", threads_file = "threads.txt", older_than = "15m", assistant = "asst_A" },
    { name = "queued runs", kind = "runs", threads = { "thread_a" }, status = "queued", older_than = "30s" },
  },
}
]]
reseed()
local dir_policy = policy(POLICY)
local jfile, mfile = tmp_path("journal.jsonl"), tmp_path("supervise.prom")
out, err, code = supervise(dir_policy .. " --once --journal " .. jfile .. " --metrics " .. mfile)
T.is(code, 0, "--once: exit 0")
T.is(out, "", "--once with --journal: nothing on stdout")
local lines, by = journal(jfile)
T.is(summary(by), "batch_failing=failing batches:cancel_requested batch_old=stale batches:cancel_requested "
     .. "batch_prod=prod batches:cancel_requested ftjob-mini=runaway fine-tunes:cancel_requested "
     .. "run_b_old=stuck runs:cancel_requested run_old=stuck runs:cancel_requested "
     .. "run_young=queued runs:cancel_requested",
     "each rule cancels what it picks: age, status, metadata, model, assistant, match, threads_file")
T.is(#lines, 7, "one journal line per decision")
T.is(posted(), "/v1/batches/batch_failing/cancel /v1/batches/batch_old/cancel /v1/batches/batch_prod/cancel "
     .. "/v1/fine_tuning/jobs/ftjob-mini/cancel /v1/threads/thread_a/runs/run_old/cancel "
     .. "/v1/threads/thread_a/runs/run_young/cancel /v1/threads/thread_b/runs/run_b_old/cancel",
     "exactly those cancels on the wire")
T.is(count_requests("GET", "^/v1/batches"), 1, "three rules on batches: one listing per pass")
T.is(count_requests("GET", "^/v1/threads/thread_a/runs"), 1, "two rules on thread_a: listed once")
local rec
for _, l in ipairs(lines) do if l.id == "batch_failing" then rec = l end end
T.ok(rec and rec.time:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"), "a line has its time (UTC)", rec and rec.time)
T.is(rec and rec.kind, "batches", "a line has its kind")
T.is(rec and rec.status_before, "in_progress", "a line has the status before")
T.is(rec and rec.status_after, "cancelling", "and the status the cancel answered")
T.like(rec and rec.request_id, "^req_", "a line has the request ID")
local wire
for _, r in ipairs(fake:requests()) do if r.path == "/v1/batches/batch_failing/cancel" then wire = r end end
T.is(rec and rec.request_id, wire and wire.request_id, "the request ID is the cancel's own")
T.is(rec and rec.cost and rec.cost.request_counts and rec.cost.request_counts.failed, 500,
     "a line has the kind's cost fields (request_counts)")
T.ok(rec and rec.cost and rec.cost.output_file_id == json.null, "a cost field the object lacks is null")
T.ok(rec and rec.age >= 120 and rec.age < 1000, "a line has the age in seconds", rec and rec.age)
for _, l in ipairs(lines) do
  if l.id == "run_old" then rec = l end
end
T.is(rec.parent, "thread_a", "a run's line names its thread as parent")
T.ok(rec.error == json.null, "no error on a success")
T.like(err, "rule 'stale batches': batch batch_old %(in_progress, 8h%d%dm old%): cancel_requested %[req_",
       "one log line per action on stderr")
T.unlike(err, KEY, "the key never appears in the log")

-- the metrics file
local m, types = parse_metrics(T.read_file(mfile))
T.ok(m ~= nil, "the metrics file is valid exposition text", types)
m = m or {}
T.is(types.runctl_supervise_cancels_total, "counter", "cancels are a counter")
T.is(m.runctl_supervise_cancels_total['{kind="batches",outcome="cancel_requested",rule="stale batches"}'], 1,
     "cancels by kind, rule and outcome")
T.is(m.runctl_supervise_cancels_total['{kind="runs",outcome="cancel_requested",rule="stuck runs"}'], 2,
     "two runs cancelled by one rule")
T.is(m.runctl_supervise_active_objects['{kind="batches",status="in_progress"}'], 3, "active batches by status")
T.is(m.runctl_supervise_active_objects['{kind="batches",status="cancelling"}'], 1, "cancelling batches counted too")
T.is(m.runctl_supervise_active_objects['{kind="batches",status="finalizing"}'], 0, "a status with none reads 0")
T.is(m.runctl_supervise_active_objects['{kind="runs",status="requires_action"}'], 1, "runs by status (all threads)")
local oldest = m.runctl_supervise_oldest_active_age_seconds['{kind="fine-tuning"}']
T.ok(oldest and oldest >= 50000 and oldest < 51000, "the oldest active age by kind", oldest)
T.is(m.runctl_supervise_passes_total['{result="ok"}'], 1, "one pass, ok")
T.ok((m.runctl_supervise_last_success_timestamp_seconds[""] or 0) > 1.7e9, "the last success time is set")
T.ok(m.runctl_supervise_pass_duration_seconds[""] ~= nil, "the pass duration is there")
T.is(m.runctl_supervise_policy_rules[""], 6, "the rules in force")
T.ok(next(m.runctl_supervise_errors_total) == nil, "no errors")
T.is(T.read_file(mfile .. ".tmp"), nil, "no temporary metrics file is left")

-- a restart on the same journal: what is cancelling now is not journaled again
out, err, code = supervise(dir_policy .. " --once --journal " .. jfile)
T.is(code, 0, "a second run: exit 0")
T.is(#journal(jfile), 7, "a restart on an existing journal adds no line")
T.is(out, "", "nothing on stdout either")

---------------------------------------------------------------------- --dry-run, restarts, stdout

reseed()
local dry = tmp_path("dry.jsonl")
out, err, code = supervise(dir_policy .. " --once --dry-run --journal " .. dry)
T.is(code, 0, "--dry-run: exit 0")
T.is(posted(), "", "--dry-run sends no cancel")
lines, by = journal(dry)
T.is(by.batch_old, "stale batches:would_cancel", "--dry-run journals would_cancel")
T.is(#lines, 7, "--dry-run: one line per decision")
T.ok(lines[1].request_id == json.null, "would_cancel has no request ID")
supervise(dir_policy .. " --once --dry-run --journal " .. dry)
T.is(#journal(dry), 7, "a second dry run adds no line: the journal holds them")
-- a journal whose last line was cut short by a crash
local f = assert(io.open(dry, "a"))
f:write('{"id":"batch_x","outco')
f:close()
supervise(dir_policy .. " --once --journal " .. dry)
lines, by = journal(dry)
T.is(#lines, 15, "after a cut-short line: the real cancels are journaled (7 would_cancel, 1 broken, 7 new)")
T.ok(lines[8].unparsable ~= nil and lines[9].outcome == "cancel_requested",
     "the broken line stays alone; the next line starts clean")

reseed()
out, err, code = supervise(dir_policy .. " --once --dry-run")
lines = {}
for line in out:gmatch("[^\n]+") do lines[#lines + 1] = json.decode(line) end
T.is(#lines, 7, "without --journal the journal goes to stdout")

-- kinds that cannot be listed: the IDs given (ids, ids_file), each read back every pass
reseed { threads = json.array(), responses = {
  { id = "resp_live", status = "in_progress", background = true, created_at = -600 },
  { id = "resp_young", status = "in_progress", background = true, created_at = -5 },
  { id = "resp_sync", status = "in_progress", background = false, created_at = -600 },
  { id = "resp_done", status = "completed", background = true, created_at = -600 } } }
local rdir = tmp_path("resp") .. "/"
os.execute("mkdir -p " .. rdir)
local idf = assert(io.open(rdir .. "ids.txt", "w"))
idf:write("resp_sync\nresp_done\n")
idf:close()
local resp_policy = policy([[return { rules = {
  { name = "background", kind = "responses", ids = { "resp_live", "resp_young", "resp_gone" }, older_than = "1m" },
  { name = "from a file", kind = "responses", ids_file = "ids.txt" } } }]], rdir .. "policy.lua")
jfile, mfile = tmp_path("resp.jsonl"), tmp_path("resp.prom")
out, err, code = supervise(resp_policy .. " --once --journal " .. jfile .. " --metrics " .. mfile)
lines, by = journal(jfile)
T.is(summary(by), "resp_live=background:cancel_requested resp_sync=from a file:not_cancellable",
     "responses by ID: the old background one cancelled, a synchronous one not cancellable")
T.is(code, 1, "an ID that is not found (404) is an error of the pass: --once exits 1", err)
T.like(err, "supervise: warning: response resp_gone %(in rule 'background'%): not found", "logged as a warning")
T.is(metrics_of(mfile).runctl_supervise_errors_total['{type="not_found"}'], 1, "counted as type not_found")
T.is(fake:posted(), "/v1/responses/resp_live/cancel /v1/responses/resp_sync/cancel", "those cancels on the wire")
T.is(count_requests("GET", "^/v1/responses/resp_live$") + count_requests("GET", "^/v1/responses/resp_gone$"), 2,
     "each ID read once per pass")
for _, l in ipairs(lines) do if l.id == "resp_sync" then rec = l end end
T.like(rec.note, "Cannot cancel a synchronous response", "the server's reason is in the line's note")
T.is(metrics_of(mfile).runctl_supervise_active_objects['{kind="responses",status="in_progress"}'], 3,
     "the responses read back count as active objects")

-- a kind addressed under a parent (file batches under vector stores): ids are PARENT/ID
reseed { threads = json.array(), vector_stores = { { id = "vs_1", file_batches = {
  { id = "vsfb_1", status = "in_progress", created_at = -600 } } } } }
jfile = tmp_path("vsfb.jsonl")
out, err, code = supervise(policy([[return { rules = { { name = "files", kind = "file-batches", ids = { "vs_1/vsfb_1" } } } }]])
                           .. " --once --journal " .. jfile)
T.is(code, 0, "file batches by PARENT/ID", err)
T.is(fake:posted(), "/v1/vector_stores/vs_1/file_batches/vsfb_1/cancel", "the cancel under its vector store")
lines = journal(jfile)
T.is(lines[1] and lines[1].parent, "vs_1", "its line names the parent")
out, err, code = supervise(policy([[return { rules = { { name = "files", kind = "file-batches", ids = { "vsfb_1" } } } }]]) .. " --once")
T.is(code, 2, "a file batch ID without its vector store: rejected")
T.like(err, "rule 1 %('files'%): field 'ids': 'vsfb_1' needs its vector store: give VECTOR_STORE_ID/ID", "saying how")

-- a rule listing something that cannot be listed: the pass fails, --once exits 1
reseed()
fake:faults { { status = 500, method = "GET", path = "/fine_tuning", count = 3, headers = { ["retry-after-ms"] = "1" } } }
out, err, code = supervise(dir_policy .. " --once --journal " .. tmp_path("j") .. " --metrics " .. mfile)
T.is(code, 1, "--once: a pass with an error exits 1")
T.like(err, "supervise: error: cannot list fine%-tuning jobs: 500", "the failed listing is logged")
m = metrics_of(mfile)
T.is(m.runctl_supervise_errors_total['{type="list"}'], 1, "the listing error is counted")
T.is(m.runctl_supervise_passes_total['{result="failed"}'], 1, "the pass is counted as failed")
T.is(m.runctl_supervise_last_success_timestamp_seconds[""], nil, "no success time without a success")
T.like(posted(), "batch_old/cancel", "the other listings' rules still act")

-- an object the client refuses to address (a listed ID runctl cannot put in a URL): logged, counted, the pass goes on
reseed { threads = json.array(), batches = { { id = "..", status = "in_progress", created_at = -30000 },
                                             { id = "batch_fine", status = "in_progress", created_at = -30000 } } }
out, err, code = supervise(policy([[return { rules = { { name = "all", kind = "batches" } } }]])
                           .. " --once --journal " .. tmp_path("j") .. " --metrics " .. mfile)
T.is(code, 1, "a cancel that raises: --once exits 1")
T.like(err, "rule 'all': batch %.%.: cannot cancel: batches%.cancel: ", "it is logged, without a source position")
T.unlike(err, "supervise%.lua:%d", "no source path in the log")
T.is(fake:posted(), "/v1/batches/batch_fine/cancel", "the other cancels go on")
T.is(metrics_of(mfile).runctl_supervise_errors_total['{type="cancel"}'], 1, "and it is counted")

-- a cancel refused with 403: journaled as failed, logged as the key's problem, counted as auth
reseed()
fake:faults { { status = 403, method = "POST", path = "/batches/batch_old/cancel",
                body = '{"error":{"message":"You have insufficient permissions.","type":"invalid_request_error",'
                       .. '"param":null,"code":null}}' } }
jfile = tmp_path("403.jsonl")
out, err, code = supervise(policy([[return { rules = { { name = "old", kind = "batches", older_than = "6h" } } }]])
                           .. " --once --journal " .. jfile .. " --metrics " .. mfile)
T.is(code, 1, "a refused cancel: --once exits 1")
T.like(err, "rule 'old': batch batch_old %(in_progress, 8h%d+m old%): cancel failed: the API refused access %(403%)",
       "a 403 on a cancel is logged as a refusal")
by = select(2, journal(jfile))
T.is(summary(by), "batch_old=old:failed batch_prod=old:cancel_requested", "it is journaled failed, the other goes on")
T.is(metrics_of(mfile).runctl_supervise_errors_total['{type="auth"}'], 1, "counted as an auth error")

-- a match that raises: the object is left alone, the error logged and counted
reseed()
local bad_match = policy([[return { rules = { { name = "oops", kind = "batches",
  match = function(b) return b.request_counts.failed.nope > 1 end } } }]])
out, err, code = supervise(bad_match .. " --once --journal " .. tmp_path("j") .. " --metrics " .. mfile)
T.is(code, 1, "a match that raises: exit 1 with --once")
T.like(err, "rule 'oops': match raised an error, batch batch_old left alone", "it is logged per object")
T.is(posted(), "", "nothing cancelled by a raising match")
T.is(metrics_of(mfile).runctl_supervise_errors_total['{type="match"}'], 4, "each raise counted (the 4 active batches)")

-- a match that never returns is stopped, like one that raises
reseed()
out, err, code = supervise(policy([[return { rules = { { name = "loop", kind = "batches",
  match = function(b) while true do end end } } }]]) .. " --once --journal " .. tmp_path("j"))
T.is(code, 1, "a match that loops forever: stopped, --once exits 1")
T.like(err, "rule 'loop': match raised an error, batch batch_old left alone: .*ran too long", "it is logged")
out, err, code = supervise(policy("while true do end") .. " --once")
T.is(code, 2, "a policy whose loading loops forever: stopped, exit 2")
T.like(err, "ran too long", "and says so")

-- journald: priority prefixes when stderr is the journal
reseed()
out, err = supervise(dir_policy .. " --once --dry-run --journal " .. tmp_path("j"), { JOURNAL_STREAM = "8:1234" })
T.like(err, "^<6>supervise: info: ", "under systemd each line starts with its syslog priority")

-- the configuration is checked before anything: no key, exit 2, no journal made
local nokey_journal = tmp_path("nokey.jsonl")
out, err, code = T.run("supervise " .. policy("return { rules = { { kind = 'batches' } } }") .. " --once --journal "
                       .. nokey_journal, { OPENAI_BASE_URL = fake.base, RUNCTL_SCRIPTS = SCRIPTS })
T.is(code, 2, "no API key: exit 2")
T.like(err, "OPENAI_API_KEY is not set", "and it says which variable")
T.is(T.read_file(nokey_journal), nil, "no journal is created")

-- any kind runctl knows: one an extension file defines
reseed()
local extdir = tmp_path("ext")
os.execute("mkdir -p " .. extdir)
local ext = assert(io.open(extdir .. "/gpu.lua", "w"))
ext:write([[
runctl.define("gpu.jobs", {
  methods = { cancel = { "POST", "/batches/{job_id}/cancel" }, retrieve = { "GET", "/batches/{job_id}" },
              list = { "GET", "/batches", params = { limit = runctl.params.limit100, after = runctl.params.cursor } } },
  paginate = "list",
})
runctl.kinds.define("gpu-jobs", { resource = "gpu.jobs", object = "batch", one = "GPU job", many = "GPU jobs",
  list = "each", active = { "validating", "in_progress", "finalizing" } })
]])
ext:close()
jfile = tmp_path("ext.jsonl")
out, err, code = supervise(policy([[return { rules = { { name = "gpu", kind = "gpu-jobs", older_than = "6h" } } }]])
                           .. " --once --journal " .. jfile, { RUNCTL_PATH = extdir })
T.is(code, 0, "a policy on an extension's kind runs", err)
lines, by = journal(jfile)
T.is(summary(by), "batch_old=gpu:cancel_requested batch_prod=gpu:cancel_requested", "the extension's kind is supervised")
T.is(lines[1] and lines[1].kind, "gpu-jobs", "its lines name the kind")

---------------------------------------------------------------------- what ships in share/runctl

-- the example policy loads and picks what it says
reseed()
out, err, code = supervise("share/runctl/supervise-policy.example.lua --once --dry-run --journal " .. tmp_path("j"))
T.is(code, 0, "the example policy loads and runs", err)
T.like(err, "rule 'stale batches': batch batch_old .*would_cancel", "the example policy's rules act")

-- the systemd unit: hardened, the journal in its StateDirectory, the key from an EnvironmentFile
local unit = T.read_file("share/runctl/runctl-supervise.service.in") or ""
for _, line in ipairs {
  "ExecStart=@BINDIR@/runctl supervise /etc/runctl/policy.lua --journal /var/lib/runctl/journal.jsonl "
    .. "--metrics /run/runctl/supervise.prom",
  "ExecReload=/bin/kill -HUP $MAINPID", "EnvironmentFile=/etc/runctl/supervise.env", "DynamicUser=yes",
  "StateDirectory=runctl", "RuntimeDirectory=runctl", "ProtectSystem=strict", "ProtectHome=yes",
  "NoNewPrivileges=yes", "PrivateTmp=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "Restart=on-failure",
} do
  T.ok(unit:find("\n" .. line .. "\n", 1, true), "the unit has " .. line)
end
local analyze = io.popen("command -v systemd-analyze"):read("l")
if analyze then
  local runctl_bin = os.getenv("RUNCTL") or "./runctl"
  if runctl_bin:sub(1, 1) ~= "/" then runctl_bin = io.popen("pwd"):read("l") .. "/" .. runctl_bin:gsub("^%./", "") end
  local filled = unit:gsub("@BINDIR@/runctl", runctl_bin):gsub("@DATADIR@", "/usr/local/share/runctl")
  local udir = tmp_path("unit")
  os.execute("mkdir -p " .. udir)
  local uf = assert(io.open(udir .. "/runctl-supervise.service", "w"))
  uf:write(filled)
  uf:close()
  local p = io.popen("systemd-analyze verify --man=no " .. udir .. "/runctl-supervise.service 2>&1; echo rc=$?")
  local said = p:read("a")
  p:close()
  T.like(said, "rc=0\n$", "systemd-analyze verify accepts the unit", said)
else
  T.ok(true, "systemd-analyze verify accepts the unit # SKIP systemd-analyze is not installed")
end

---------------------------------------------------------------------- the daemon

-- Starts `runctl supervise ARGS` in the background (T.start's handle).
local function start(args, extra)
  local prefix = "env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u OPENAI_ORG_ID -u OPENAI_PROJECT_ID -u OPENAI_LOG"
  if os.getenv("RUNCTL_SECRET_SCAN") then prefix = prefix .. " OPENAI_LOG=debug" end
  local e = {}
  for k, v in pairs(env) do e[k] = v end
  for k, v in pairs(extra or {}) do e[k] = v end
  for k, v in pairs(e) do prefix = prefix .. " " .. k .. "=" .. T.quote(v) end
  return T.start(prefix, "supervise " .. args)
end

-- Polls cond() until it holds, for at most secs seconds (default 120: a
-- slow run under valgrind still gets there); returns whether it held.
local function wait_for(cond, secs) return T.wait_for(cond, secs or 120) end

local function passes(path, result)
  local got = metrics_of(path)
  local p = got.runctl_supervise_passes_total or {}
  if result then return p['{result="' .. result .. '"}'] or 0 end
  return (p['{result="ok"}'] or 0) + (p['{result="failed"}'] or 0)
end

local function journaled(path, id, rule_outcome)
  return function()
    local _, b = journal(path)
    return b[id] == rule_outcome
  end
end

-- reload on SIGHUP, a broken policy keeps the old one, SIGTERM lets the cancel in flight finish
reseed()
local live = policy([[return { rules = { { name = "stale batches", kind = "batches", older_than = "6h" } } }]])
jfile, mfile = tmp_path("live.jsonl"), tmp_path("live.prom")
local d = start(live .. " --interval 0.2 --journal " .. jfile .. " --metrics " .. mfile)
T.ok(wait_for(journaled(jfile, "batch_old", "stale batches:cancel_requested")), "daemon: the first pass cancels")
T.ok(wait_for(function() return passes(mfile) >= 3 end), "daemon: passes keep coming")
T.is(#journal(jfile), 2, "daemon: later passes journal nothing new (batch_old and batch_prod are cancelling)")
policy([[return { rules = {
  { name = "stale batches", kind = "batches", older_than = "6h" },
  { name = "runaway fine-tunes", kind = "fine-tuning", older_than = "12h", model = "gpt-4o-mini" } } }]], live)
d.signal("HUP")
T.ok(wait_for(journaled(jfile, "ftjob-mini", "runaway fine-tunes:cancel_requested")),
     "SIGHUP: the edited policy is in force")
T.like(d.err(), "policy reloaded: .*, 2 rule%(s%)", "the reload is logged")
policy([[return { rules = { { name = "typo", kind = "batches", olderr = "1h" } } }]], live)
d.signal("HUP")
T.ok(wait_for(function() return d.err():find("policy not reloaded, the old one stays: .*rule 1 %('typo'%): unknown field 'olderr'") end),
     "SIGHUP with a broken policy: the error is logged with file, rule and field")
T.ok(wait_for(function() return (metrics_of(mfile).runctl_supervise_errors_total or {})['{type="policy"}'] == 1 end),
     "the failed reload is counted")
local S2 = { threads = json.array(), batches = { { id = "batch_new", status = "in_progress", created_at = -30000 } },
             fine_tuning_jobs = { { id = "ftjob-new", status = "running", created_at = -50000, model = "gpt-4o-mini" } } }
fake:seed(S2)
T.ok(wait_for(journaled(jfile, "batch_new", "stale batches:cancel_requested")), "the old policy stays in force")
T.ok(wait_for(journaled(jfile, "ftjob-new", "runaway fine-tunes:cancel_requested")), "all of it")
T.is(d.code(), nil, "still running")
-- a cancel held up on the wire when SIGTERM comes
fake:faults { { method = "POST", path = "/cancel", delay_ms = 1500 } }
fake:clear()
fake:seed { threads = json.array(), batches = { { id = "batch_slow", status = "in_progress", created_at = -30000 } } }
T.ok(wait_for(function() return count_requests("POST", "batch_slow/cancel") > 0 end), "a cancel is in flight")
d.signal("TERM")
T.ok(wait_for(function() return d.code() end), "SIGTERM: the daemon exits")
T.is(d.code(), 0, "SIGTERM: exit 0")
T.ok(journaled(jfile, "batch_slow", "stale batches:cancel_requested")(), "SIGTERM: the cancel in flight finished and is journaled")
T.like(d.err(), "stopped after %d+ pass%(es%)", "the stop is logged")
local _, seen = {}, {}
for _, l in ipairs(journal(jfile)) do seen[l.id] = (seen[l.id] or 0) + 1 end
T.is(seen.batch_old, 1, "no line twice in the daemon's journal")
T.is(count_requests("POST", "batch_slow/cancel"), 1, "the cancel was sent once")

-- Ctrl-C: the same graceful stop
reseed()
live = policy([[return { rules = { { name = "stale batches", kind = "batches", older_than = "6h" } } }]])
mfile = tmp_path("int.prom")
d = start(live .. " --interval 0.2 --journal " .. tmp_path("j") .. " --metrics " .. mfile)
T.ok(wait_for(function() return passes(mfile) >= 1 end), "a daemon for Ctrl-C runs")
d.signal("INT")
T.ok(wait_for(function() return d.code() end), "Ctrl-C: the daemon exits")
T.is(d.code(), 0, "Ctrl-C: exit 0")

-- faults between passes: 5xx after retries, a 429 storm (waited out behind the
-- account's pace, within its pass), 401s; the next pass comes on schedule
reseed()
fake:faults {
  { status = 500, method = "GET", path = "/batches", count = 3, headers = { ["retry-after-ms"] = "1" } },
  { status = 429, method = "GET", path = "/batches", count = 3, headers = { ["retry-after-ms"] = "1" } },
  { status = 401, method = "GET", path = "/batches", count = 2,
    body = '{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}' },
}
jfile, mfile = tmp_path("faults.jsonl"), tmp_path("faults.prom")
d = start(live .. " --interval 0.05 --journal " .. jfile .. " --metrics " .. mfile)
T.ok(wait_for(journaled(jfile, "batch_old", "stale batches:cancel_requested")), "after the faults a pass goes through")
d.signal("TERM")
T.ok(wait_for(function() return d.code() end), "the faulty daemon stops")
T.is(d.code(), 0, "exit 0 after faults")
m = metrics_of(mfile)
T.is(m.runctl_supervise_errors_total['{type="list"}'], 1, "a 5xx pass: one listing error; the 429s are waited out")
T.is(m.runctl_supervise_errors_total['{type="auth"}'], 2, "two 401 passes: two auth errors")
T.is(m.runctl_supervise_passes_total['{result="failed"}'], 3, "three failed passes")
T.is(m.runctl_supervise_rate_limited_total[""], 3, "the three 429s are counted")
T.ok(m.runctl_supervise_rate_limit_pace ~= nil, "the current pace is a metric")
T.ok((m.runctl_supervise_passes_total['{result="ok"}'] or 0) >= 1, "then passes succeed")
T.ok((m.runctl_supervise_last_success_timestamp_seconds[""] or 0) > 1.7e9, "with a success time")
err = d.err()
T.like(err, "cannot list batches: 500", "the 5xx is logged")
T.unlike(err, "cannot list batches: 429", "the 429s are no listing error")
T.like(err, "error: AUTHENTICATION FAILED listing batches: the API refused the credentials %(401%): check "
       .. "OPENAI_API_KEY %[Incorrect API key provided%.%]; the next pass tries again", "a 401 is logged loudly")
local gets = count_requests("GET", "^/v1/batches")
local total = passes(mfile)
T.ok(gets == 3 + 3 + total - 1, "retries for 5xx, 429s waited out; a 401 is tried once per pass, not in a loop",
     ("GETs %d, passes %d"):format(gets, total))
T.unlike(err, KEY, "the key never appears in the log")

-- a 429 insufficient_quota: no quota left is its own error type, logged as
-- such, and not counted among the rate limit's 429s
reseed()
fake:faults { { status = 429, method = "GET", path = "/batches", count = 1,
                body = '{"error":{"message":"You exceeded your current quota, please check your plan and billing details.",'
                       .. '"type":"insufficient_quota","param":null,"code":"insufficient_quota"}}' } }
mfile = tmp_path("quota.prom")
local _, qerr = supervise(live .. " --once --metrics " .. mfile)
m = metrics_of(mfile)
T.like(qerr, "error: NO QUOTA listing batches: the account has no quota left: check billing; the next pass tries again",
       "insufficient_quota is logged as no quota left, not as an authentication failure")
T.is(m.runctl_supervise_errors_total['{type="quota"}'], 1, "  counted as a quota error")
T.is(m.runctl_supervise_errors_total['{type="auth"}'], nil, "  not as an auth error")
T.is((m.runctl_supervise_rate_limited_total or {})[""], 0, "  nor among the rate limit's 429s")
fake:clear_faults()

-- memory stays flat over many passes
reseed()
mfile = tmp_path("mem.prom")
d = start(dir_policy .. " --interval 0.005 --dry-run --journal " .. tmp_path("j") .. " --metrics " .. mfile)
local function memory_at(n)
  local bytes
  wait_for(function()
    local mm = metrics_of(mfile)
    local p = (mm.runctl_supervise_passes_total or {})['{result="ok"}'] or 0
    bytes = p >= n and (mm.runctl_supervise_lua_memory_bytes or {})[""] or nil
    return bytes ~= nil
  end, 900)
  return bytes
end
local early, late = memory_at(50), memory_at(1050)
d.signal("TERM")
wait_for(function() return d.code() end)
print(("# Lua memory after 50 passes: %s bytes, after 1050: %s"):format(tostring(early), tostring(late)))
T.ok(early and late and late - early < 32 * 1024, "memory stays flat over 1000 passes",
     ("after 50 passes %s bytes, after 1050 %s"):format(tostring(early), tostring(late)))
T.is(d.code(), 0, "and the daemon stops cleanly")

T.done()
