-- tests/lua/test_budget.lua — the budget breaker against the fake API: the
-- costs and usage bindings on the wire (admin key, arrays, paging, refusals),
-- budgets in supervise policies (rejected with budget, rule and field; a
-- trip exactly at the limit; one journal line per window; rules without
-- when_over unaffected; failed listings never trip; the interval; staleness;
-- metrics), `runctl spend`, the fake's spend routes, and the admin key in
-- no output.
local T = require "helper"
local ADMIN = "sk-test-admin-budget-0123456789"
local PROJECT_KEY = "sk-test-project-budget-0123456789"
local SCRIPTS = io.popen("pwd"):read("l") .. "/scripts"
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"

local SEED = {
  batches = {
    { id = "batch_a", status = "in_progress", created_at = -600 },
    { id = "batch_b", status = "validating", created_at = -600 },
  },
  fine_tuning_jobs = { { id = "ftjob-old", status = "running", created_at = -90000, model = "gpt-4o" } },
  costs = { { time = 0, usd = 19.5, project_id = "proj_x", line_item = "batch" },
            { time = 0, usd = 7, project_id = "proj_y", line_item = "gpt-4o, input" } },
  usage = { { time = 0, project_id = "proj_x", model = "gpt-4o", input_tokens = 600, output_tokens = 300,
              input_cached_tokens = 100, num_model_requests = 3 },
            { time = 0, project_id = "proj_x", model = "gpt-4o-mini", input_tokens = 5000, output_tokens = 0,
              num_model_requests = 1 } },
}

local fake = T.fake("--seed " .. T.seed_file(SEED) .. " --api-key " .. PROJECT_KEY .. " --admin-key " .. ADMIN)
local env = { OPENAI_API_KEY = PROJECT_KEY, OPENAI_ADMIN_KEY = ADMIN, OPENAI_BASE_URL = fake.base,
              RUNCTL_SCRIPTS = SCRIPTS }
local function reseed(seed) fake:reset() fake:seed(seed or SEED) fake:clear() end

local function control(method, path, body)
  return http.request { method = method, url = fake.url .. "/_fake" .. path,
                        body = body and assert(json.encode(body)) or nil }
end
local function add_spend(t) assert(control("POST", "/spend", t).status == 200) end

local serial = 0
local function tmp_path(what)
  serial = serial + 1
  return ("%s/bg-%d-%d-%s"):format(TMP, math.random(1e9), serial, what)
end
local function policy(text)
  local path = tmp_path("policy.lua")
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end
local function run(args, extra)
  local e = {}
  for k, v in pairs(env) do e[k] = v end
  for k, v in pairs(extra or {}) do e[k] = v or nil end
  return T.run(args, e)
end
local function lines_of(path)
  local out = {}
  for line in (T.read_file(path) or ""):gmatch("[^\n]+") do out[#out + 1] = json.decode(line) or { unparsable = line } end
  return out
end
local function events(list)
  local out = {}
  for _, rec in ipairs(list) do if rec.event then out[#out + 1] = rec end end
  return out
end
local function cancels(list)
  local out = {}
  for _, rec in ipairs(list) do if rec.outcome then out[#out + 1] = rec.id .. ":" .. tostring(rec.budget) end end
  table.sort(out)
  return table.concat(out, " ")
end
local function requests(method, pattern)
  local out = {}
  for _, r in ipairs(fake:requests()) do
    if r.method == method and r.path:find(pattern) then out[#out + 1] = r end
  end
  return out
end
local function metric(path, name, labels)
  for line in (T.read_file(path) or ""):gmatch("[^\n]+") do
    local n, l, v = line:match("^([%w_]+)(%b{}) (%S+)$")
    if n == name and l == labels then return tonumber(v) end
  end
end

---------------------------------------------------------------------- windows

local budgets = require "runctl.ops.budget"
for _, t in ipairs { 951782400 + 3600, 1709251200 - 1, 1796404880, 4102444799 } do   -- leap days, year ends
  local start, key = budgets.window({ window = "month" }, t)
  T.is(os.date("!%Y-%m-%d %H:%M:%S", start), os.date("!%Y-%m-01 00:00:00", t), "month window of " .. t .. ": the 1st, 00:00 UTC")
  T.is(key, os.date("!%Y-%m", t), "  keyed by the month")
end
local start, key, label = budgets.window({ window = "today" }, 1796404880.5)
T.is(start, 1796342400, "today: since 00:00 UTC")
T.is(key .. " " .. label, "2026-12-04 today", "  keyed by the day")
start, key, label = budgets.window({ window = 3600, window_text = "1h" }, 1796404880)
T.is(start, 1796404880 - 3600, "a duration: the last that many seconds")
T.is(key .. " " .. label, "2026-12-04T17:00:00Z 1h", "  journaled once per period of that length (from the epoch)")

---------------------------------------------------------------------- the bindings on the wire

local c = runctl.client { api_key = PROJECT_KEY, admin_key = ADMIN, base_url = fake.base, max_retries = 1 }
local now = os.time()
local page, err = c.organization.costs { start_time = now - 86400, project_ids = { "proj_x", "proj_y" },
                                         group_by = { "project_id", "line_item" } }
T.ok(page and page.object == "page" and type(page.data) == "table", "organization.costs answers a page", tostring(err))
local req = fake:last()
T.is(req.path, "/v1/organization/costs", "GET /v1/organization/costs")
T.is(req.query, ("group_by%%5B%%5D=project_id&group_by%%5B%%5D=line_item&project_ids%%5B%%5D=proj_x&"
                 .. "project_ids%%5B%%5D=proj_y&start_time=%d"):format(now - 86400),
     "arrays go out as name[]=a&name[]=b, in order (what the SDKs send)")
T.is(T.header(req, "authorization"), "Bearer " .. ADMIN, "sent with the admin key, not the API key")
local sum = 0
for _, b in ipairs(page.data) do
  for _, r in ipairs(b.results) do sum = sum + r.amount.value end
end
T.is(sum, 26.5, "the seeded costs come back in the buckets")

c.organization.usage.completions { start_time = now - 3600, bucket_width = "1m", models = "gpt-4o",
                                          batch = false, group_by = { "model" }, limit = 120 }
req = fake:last()
T.is(req.path, "/v1/organization/usage/completions", "GET /v1/organization/usage/completions")
T.like(req.query, "^batch=false&bucket_width=1m&group_by%%5B%%5D=model&limit=120&models%%5B%%5D=gpt%-4o&start_time=%d+$",
       "usage filters on the wire (a string is a one-item list)")
for _, name in ipairs { "completions", "embeddings", "moderations", "images", "audio_speeches",
                        "audio_transcriptions", "vector_stores", "code_interpreter_sessions" } do
  local p, e = c.organization.usage[name] { start_time = now - 60 }
  T.ok(p and fake:last().path == "/v1/organization/usage/" .. name, "organization.usage." .. name .. " is bound",
       tostring(e))
end

-- a list in any query table repeats its key
fake:clear()
c:request { method = "GET", path = "/batches", query = { ["ids[]"] = { "a", "b c" }, limit = 2 } }
T.is(fake:last().query, "ids%5B%5D=a&ids%5B%5D=b%20c&limit=2", "c:request: a list value repeats its key, each value escaped")
T.raises(function() c:request { path = "/batches", query = { ids = { "a", {} } } } end,
         "query value 'ids' must be a list of strings %(item 2 is table%)", "a list holding a table raises")

-- paging: each(method, ...) follows next_page to the end
fake:clear()
local n = 0
for bucket in c.organization.each("costs", { start_time = now - 5 * 86400, limit = 2 }) do
  n = n + 1
  T.ok(bucket.object == "bucket", "each yields buckets")
end
T.is(n, 6, "each: every bucket of every page (5 days back and today)")
local reqs = requests("GET", "/organization/costs$")
T.is(#reqs, 3, "three pages of 2 buckets")
T.unlike(reqs[1].query, "page=", "the first page has no cursor")
T.like(reqs[2].query, "page=page_%d+", "the next pages send page = the previous next_page")
T.ok(reqs[2].query ~= reqs[3].query, "and each cursor moves on")
n = 0
for _ in c.organization.usage.each("embeddings", { start_time = now - 600, bucket_width = "1m", limit = 4 }) do n = n + 1 end
T.ok(n >= 10 and n <= 11, "usage.each pages too (1-minute buckets over 10 minutes)", n)

-- bad params raise, naming the parameter
for _, case in ipairs {
  { function() c.organization.costs { start_time = now, bogus = 1 } end, "organization.costs: unknown parameter 'bogus'" },
  { function() c.organization.costs { start_time = now, group_by = { "model" } } end,
    "group_by must be a list of api_key_id, line_item, project_id" },
  { function() c.organization.costs { start_time = now, limit = 181 } end, "limit must be an integer from 1 to 180" },
  { function() c.organization.costs { start_time = now, bucket_width = "1h" } end, "bucket_width must be \"1d\"" },
  { function() c.organization.costs { start_time = "yesterday" } end, "start_time must be a Unix time" },
  { function() c.organization.usage.completions { start_time = now, project_ids = {} } end, "project_ids must be a non%-empty list" },
  { function() c.organization.each("invoices", {}) end, "organization.each: the first argument must name what to list: costs" },
} do
  T.raises(case[1], case[2], "refused: " .. case[2])
end

-- refusals: a project key in the admin key's place, a wrong key, no key
local proj = runctl.client { api_key = PROJECT_KEY, admin_key = PROJECT_KEY, base_url = fake.base }
page, err = proj.organization.costs { start_time = now }
T.ok(page == nil and err.status == 403, "a project key: 403", tostring(err))
T.like(err and err.message, "an admin key is needed: the key in OPENAI_ADMIN_KEY", "  says an admin key is needed, naming OPENAI_ADMIN_KEY")
T.like(err and err.message, "Missing scopes: api%.usage%.read", "  with the server's own words")
local wrong = runctl.client { api_key = PROJECT_KEY, admin_key = "sk-wrong-admin-0123456789", base_url = fake.base }
page, err = wrong.organization.costs { start_time = now }
T.ok(page == nil and err.status == 401 and err.message:find("check OPENAI_ADMIN_KEY", 1, true),
     "a wrong key: 401 naming OPENAI_ADMIN_KEY", tostring(err))
local out, stderr, code = T.run("-e " .. T.quote("organization.costs{start_time = 1}"),
                                { OPENAI_API_KEY = PROJECT_KEY, OPENAI_BASE_URL = fake.base })
T.is(code, 1, "no admin key: the call raises")
T.like(stderr, "organization%.costs: no admin key: .*set OPENAI_ADMIN_KEY in the environment, or pass admin_key",
       "  naming OPENAI_ADMIN_KEY and admin_key")
fake:clear()
T.ok(c.batches.list() ~= nil, "the API key still serves the other endpoints")
T.is(T.header(fake:last(), "authorization"), "Bearer " .. PROJECT_KEY, "  with the API key, never the admin key")

-- the admin key is out of reach: no field, no text, no redefinition
local seen = {}
for k, v in pairs(c) do seen[#seen + 1] = tostring(k) .. "=" .. tostring(v) end
T.unlike(table.concat(seen, " ") .. tostring(c), "admin%-budget", "no field or text of a client holds the admin key")
T.is(c.admin_key, nil, "client.admin_key is nil")
local oc = runctl.client { api_key = PROJECT_KEY, organization = "org-budget", base_url = fake.base }
T.is(oc.organization_id .. " " .. type(oc.organization.costs), "org-budget function",
     "c.organization is the listings; the organization setting reads back as organization_id")
local ok, why = pcall(runctl.define, "organization.steal", { admin = true, methods = { get = { "GET", "/x" } } })
T.ok(not ok, "runctl.define refuses a resource sent with the admin key")
T.like(tostring(why), "only runctl's own resources are sent with the admin key", "  saying why")

-- a 429 on a costs page is paced and retried like any request
fake:clear()
fake:faults { { path = "/organization/costs", status = 429, headers = { ["retry-after-ms"] = "10" } } }
n = 0
for _ in c.organization.each("costs", { start_time = now - 86400 }) do n = n + 1 end
T.is(n, 2, "a 429 on a costs page: retried, every bucket still read")
T.is(#requests("GET", "/organization/costs$"), 2, "  two attempts on the wire")

---------------------------------------------------------------------- the fake's spend routes

local resp = control("POST", "/spend", { costs = { { time = 0, usd = "lots" } } })
T.is(resp.status, 400, "POST /_fake/spend: a bad entry is refused")
T.like(resp.body, "costs%[0%]: usd must be a number", "  naming the entry and field")
local before = json.decode(control("GET", "/spend").body)
T.is(#before.costs, 2, "  and nothing was added")
resp = control("GET", "/v1/../organization/costs")
T.ok(resp.status >= 400, "(control routes are not the API)")
resp = http.request { url = fake.base .. "/organization/costs?start_time=1", headers = { Authorization = "Bearer " .. PROJECT_KEY } }
T.is(resp.status, 403, "the fake: a project key gets 403")
T.like(resp.body, "Missing scopes: api%.usage%.read", "  with the live text")
resp = http.request { url = fake.base .. "/organization/costs", headers = { Authorization = "Bearer " .. ADMIN } }
T.is(resp.status, 400, "the fake: start_time is required")

---------------------------------------------------------------------- policies with budgets, refused

fake:clear()

for _, case in ipairs {
  { [[budgets = { { name = "cap", usd = 20, window = "today" } },
      rules = { { name = "r", kind = "batches", when_over = "capp" } }]],
    "rule 1 %('r'%): field 'when_over': no budget named 'capp' %(budgets: 'cap'%)" },
  { [[rules = { { name = "r", kind = "batches", when_over = "cap" } }]], "no budget named 'cap' %(the policy has no budgets%)" },
  { [[budgets = { { name = "cap", usd = 20, tokens = 5, window = "today" } }, rules = { { kind = "batches" } }]],
    "budget 1 %('cap'%): give usd or tokens, not both" },
  { [[budgets = { { name = "cap", window = "today" } }, rules = { { kind = "batches" } }]], "budget 1 %('cap'%): give a limit" },
  { [[budgets = { { name = "cap", usd = 20, window = "fortnight" } }, rules = { { kind = "batches" } }]],
    "budget 1 %('cap'%): field 'window' must be \"today\", \"month\"" },
  { [[budgets = { { name = "cap", usd = 20 } }, rules = { { kind = "batches" } }]], "field 'window' is required" },
  { [[budgets = { { name = "cap", usd = -1, window = "today" } }, rules = { { kind = "batches" } }]],
    "budget 1 %('cap'%): field 'usd' must be 0 or more" },
  { [[budgets = { { name = "cap", usd = 5, window = "today", source = "usage" } }, rules = { { kind = "batches" } }]],
    "field 'source': usage counts tokens, not money" },
  { [[budgets = { { name = "cap", usd = 5, window = "today", models = { "gpt-4o" } } }, rules = { { kind = "batches" } }]],
    "field 'models' applies to usage budgets only" },
  { [[budgets = { { name = "cap", usd = 5, window = "today" }, { name = "cap", usd = 6, window = "month" } },
      rules = { { kind = "batches" } }]], "budget 2: the name 'cap' is taken by budget 1" },
  { [[budgets = { { usd = 5, window = "today" } }, rules = { { kind = "batches" } }]],
    "budget 1 %('budget 1'%): field 'name' is required" },
  { [[budgets = { { name = "cap", usd = 5, window = "today", typo = 1 } }, rules = { { kind = "batches" } }]], "unknown field 'typo'" },
  { [[budgets = { { name = "cap", tokens = 5, window = "1h", models = { "=" } } }, rules = { { kind = "batches" } }]],
    "budget 1 %('cap'%): field 'models' must be model names" },
  { [[budget_interval = "soon", budgets = {}, rules = { { kind = "batches" } }]], "field 'budget_interval' must be a duration" },
} do
  local path = policy("return { " .. case[1] .. " }")
  out, stderr, code = run("supervise " .. path .. " --once")
  T.is(code, 2, "a bad budget: exit 2 (" .. case[2]:gsub("%%", "") .. ")")
  T.like(stderr, case[2], "  names it")
end
out, stderr, code = run("supervise " .. policy([[return { budgets = { { name = "cap", usd = 5, window = "today" } },
  rules = { { kind = "batches", when_over = "cap" } } }]]) .. " --once", { OPENAI_ADMIN_KEY = false })
T.is(code, 2, "budgets without an admin key: exit 2")
T.like(stderr, "the policy has budgets.*set OPENAI_ADMIN_KEY", "  naming OPENAI_ADMIN_KEY")
T.is(#fake:requests(), 0, "refused policies send nothing")

---------------------------------------------------------------------- a trip, exactly at the limit

local POLICY = policy([[
return {
  budget_interval = 0,
  budgets = { { name = "daily cap", usd = 20, window = "today", project_ids = { "proj_x" } } },
  rules = {
    { name = "stop batches", kind = "batches", when_over = "daily cap" },
    { name = "stale tunes", kind = "fine-tuning", older_than = "12h" },
  },
}]])
reseed()
local jfile, mfile = tmp_path("journal.jsonl"), tmp_path("metrics.prom")
local sv = "supervise " .. POLICY .. " --once --journal " .. jfile .. " --metrics " .. mfile
out, stderr, code = run(sv .. " --dry-run")
T.is(code, 0, "--dry-run under the limit: exit 0", stderr)
T.like(stderr, "rule 'stop batches': budget 'daily cap' is under its limit %(%$19%.50 of %$20%.00, today%): "
       .. "a trip would cancel 2 batches: batch_a batch_b", "--dry-run shows what a trip would cancel")
T.is(#requests("POST", "/cancel$"), 0, "  and sends no cancel")
T.is(#lines_of(jfile), 1, "  journaling only the other rule's would_cancel")
os.remove(jfile)
fake:clear()

out, stderr, code = run(sv)
T.is(code, 0, "$19.50 of $20: exit 0", stderr)
T.like(stderr, "a trip would cancel 2 batches", "--once shows what a trip would cancel too")
local list = lines_of(jfile)
T.is(#events(list), 0, "under the limit: no budget_exceeded")
T.is(cancels(list), "ftjob-old:nil", "under the limit: the when_over rule picks nothing; the rule without when_over cancels as always")
T.is(metric(mfile, "runctl_supervise_budget_spent", '{budget="daily cap",unit="usd"}'), 19.5, "metric: spent")
T.is(metric(mfile, "runctl_supervise_budget_limit", '{budget="daily cap",unit="usd"}'), 20, "metric: limit")
T.is(metric(mfile, "runctl_supervise_budget_over", '{budget="daily cap"}'), 0, "metric: not over")
local measured = metric(mfile, "runctl_supervise_budget_measured_timestamp_seconds", '{budget="daily cap"}')
T.ok(measured and math.abs(measured - os.time()) < 600, "metric: measured timestamp", measured)
local costs_req = requests("GET", "/organization/costs$")[1]
T.like(costs_req and costs_req.query, "^bucket_width=1d&limit=180&project_ids%%5B%%5D=proj_x&start_time=%d+$",
       "the budget's costs listing: 1-day buckets, its projects")
local day = os.time() - os.time() % 86400
T.is(tonumber(costs_req.query:match("start_time=(%d+)")), day, "  from the start of today (UTC)")

add_spend { costs = { { time = 0, usd = 0.5, project_id = "proj_y" } } }
run(sv)
T.is(#events(lines_of(jfile)), 0, "spend of another project does not count")
add_spend { costs = { { time = 0, usd = 0.5, project_id = "proj_x" } } }
fake:clear()
out, stderr, code = run(sv)
T.is(code, 0, "$20.00 of $20: the pass runs", stderr)
list = lines_of(jfile)
local ev = events(list)
T.is(#ev, 1, "at the limit: one budget_exceeded line")
ev = ev[1] or {}
T.is(ev.event .. "|" .. ev.budget .. "|" .. ev.spent .. "|" .. ev.limit .. "|" .. ev.window .. "|" .. ev.source,
     "budget_exceeded|daily cap|20|20|today|costs", "  with budget, spent, limit, window, source")
T.like(ev.measured_at, "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", "  and measured_at")
T.is(ev.window_start, os.date("!%Y-%m-%dT00:00:00Z"), "  and the window's start")
T.is(cancels(list), "batch_a:daily cap batch_b:daily cap ftjob-old:nil", "the trip cancels the batches, each carrying the budget's name")
T.is(#requests("POST", "/batches/.*/cancel$"), 2, "  two cancels on the wire")
T.like(stderr, "BUDGET EXCEEDED: 'daily cap' spent %$20%.00 of %$20%.00", "the trip is logged")
T.is(metric(mfile, "runctl_supervise_budget_over", '{budget="daily cap"}'), 1, "metric: over")

run(sv)
T.is(#events(lines_of(jfile)), 1, "the next pass (a restart on the same journal): no second budget_exceeded this window")

---------------------------------------------------------------------- faults: a failed listing never trips

reseed()
add_spend { costs = { { time = 0, usd = 100, project_id = "proj_x" } } }
jfile, mfile = tmp_path("fault.jsonl"), tmp_path("fault.prom")
fake:faults { { path = "/organization/costs", status = 500, count = 10 } }
out, stderr, code = run("supervise " .. POLICY .. " --once --journal " .. jfile .. " --metrics " .. mfile)
T.is(code, 1, "a failed costs listing: --once exits 1")
T.like(stderr, "budget 'daily cap': cannot measure its costs: .*the last figure stays %(none yet: no trip%)",
       "  logged: the figure stays, no trip")
list = lines_of(jfile)
T.is(#events(list), 0, "  no budget_exceeded")
T.is(cancels(list), "ftjob-old:nil", "  no batch cancelled (the other rule runs as always)")
T.is(metric(mfile, "runctl_supervise_errors_total", '{type="budget"}'), 1, "  counted as an error")
T.is(metric(mfile, "runctl_supervise_budget_over", '{budget="daily cap"}'), 0, "  metric: not over")
T.is(metric(mfile, "runctl_supervise_budget_spent", '{budget="daily cap",unit="usd"}'), nil, "  no spent figure")
fake:clear_faults()

---------------------------------------------------------------------- every page counts

reseed { batches = SEED.batches, costs = { { time = -190 * 86400, usd = 60, project_id = "proj_x" },
                                           { time = 0, usd = 40, project_id = "proj_x" } } }
jfile = tmp_path("pages.jsonl")
run("supervise " .. policy([[return { budget_interval = 0,
  budgets = { { name = "long", usd = 100, window = "200d" } },
  rules = { { name = "r", kind = "batches", when_over = "long" } } }]]) .. " --once --journal " .. jfile)
T.is(#requests("GET", "/organization/costs$"), 2, "a 200-day window: two pages of 180 one-day buckets")
T.like(requests("GET", "/organization/costs$")[2].query, "page=page_%d+", "  the second asks for the next page")
T.is((events(lines_of(jfile))[1] or {}).spent, 100, "  and both count: $60 on the first page, $40 on the second, a trip")

---------------------------------------------------------------------- a tokens budget from the usage

reseed()
local TOKENS = policy([[
return {
  budget_interval = 0,
  budgets = { { name = "token burn", tokens = 1000, window = "1h", models = { "gpt-4o" } } },
  rules = { { name = "stop tunes", kind = "fine-tuning", when_over = "token burn" } },
}]])
jfile = tmp_path("tokens.jsonl")
run("supervise " .. TOKENS .. " --once --journal " .. jfile)
T.is(#events(lines_of(jfile)), 0, "900 of 1,000 tokens (gpt-4o only: gpt-4o-mini's 5,000 not counted): no trip")
local ureq = requests("GET", "/organization/usage/completions$")[1]
T.like(ureq and ureq.query, "^bucket_width=1m&group_by%%5B%%5D=model&limit=1440&start_time=%d+$",
       "the usage listing: 1-minute buckets, by model (runctl matches the budget's models)")
add_spend { usage = { { time = 0, model = "gpt-4o", input_tokens = 50, output_tokens = 50 } } }
run("supervise " .. TOKENS .. " --once --journal " .. jfile)
list = lines_of(jfile)
T.is(#events(list), 1, "1,000 tokens: the budget trips")
T.is((events(list)[1] or {}).source, "usage", "  source usage")
T.is(cancels(list), "ftjob-old:token burn", "  its rule cancels")
-- the usage reports dated snapshots: models = { "gpt-4o" } counts them, as a
-- rule's model filter does; "=gpt-4o" that name only; gpt-4o-mini's never
reseed()
add_spend { usage = { { time = 0, model = "gpt-4o-2024-08-06", input_tokens = 600, output_tokens = 0 },
                      { time = 0, model = "gpt-4o-mini-2024-07-18", input_tokens = 7000, output_tokens = 0 } } }
out, stderr, code = run("spend --budget " .. TOKENS)
local snap = json.decode(out:match("[^\n]+") or "null") or {}
T.is(snap.spent, 1500, "models = { \"gpt-4o\" }: its snapshot's 600 tokens count beside gpt-4o's 900", stderr)
T.is(code, 1, "  so the budget is over (spend --budget exits 1)")
jfile = tmp_path("tokens-snap.jsonl")
run("supervise " .. TOKENS .. " --once --journal " .. jfile)
T.is(cancels(lines_of(jfile)), "ftjob-old:token burn", "  and supervise trips on it")
out, stderr, code = run("spend --budget " .. policy([[
return { budgets = { { name = "exact", tokens = 1000, window = "1h", models = { "=gpt-4o" } } },
         rules = { { kind = "fine-tuning", when_over = "exact" } } }]]))
snap = json.decode(out:match("[^\n]+") or "null") or {}
T.is(snap.spent, 900, "models = { \"=gpt-4o\" }: that name only", stderr)

---------------------------------------------------------------------- the daemon: interval and staleness

reseed()
local function start_daemon(args, extra)
  local prefix = "env -u OPENAI_API_KEY -u OPENAI_ADMIN_KEY -u OPENAI_BASE_URL -u OPENAI_ORG_ID -u OPENAI_PROJECT_ID -u OPENAI_LOG"
  if os.getenv("RUNCTL_SECRET_SCAN") then prefix = prefix .. " OPENAI_LOG=debug" end
  local e = {}
  for k, v in pairs(env) do e[k] = v end
  for k, v in pairs(extra or {}) do e[k] = v end
  for k, v in pairs(e) do prefix = prefix .. " " .. k .. "=" .. T.quote(v) end
  return T.start(prefix, args)
end
local function passes(path)
  return (metric(path, "runctl_supervise_passes_total", '{result="ok"}') or 0)
         + (metric(path, "runctl_supervise_passes_total", '{result="failed"}') or 0)
end
mfile = tmp_path("slow.prom")
local d = start_daemon("supervise " .. policy([[return { budget_interval = "1h",
  budgets = { { name = "cap", usd = 1000, window = "month" } },
  rules = { { name = "r", kind = "batches", when_over = "cap" } } }]]) .. " --interval 0.05 --journal "
  .. tmp_path("slow.jsonl") .. " --metrics " .. mfile)
T.ok(T.wait_for(function() return passes(mfile) >= 5 end, 120), "daemon: passes keep coming")
d.signal("TERM")
T.ok(T.wait_for(function() return d.code() ~= nil end, 60), "daemon: stops on SIGTERM")
T.is(#requests("GET", "/organization/costs$"), 1, "budget_interval 1h: measured once over five passes, not every pass")
local t = os.time()
T.like(requests("GET", "/organization/costs$")[1].query, ("start_time=%d"):format(
       t - t % 86400 - (tonumber(os.date("!%d", t)) - 1) * 86400), "month: from the first of the month (UTC)")

-- SIGHUP: the edited policy's budgets are measured at once, whatever the interval
reseed()
mfile, jfile = tmp_path("hup.prom"), tmp_path("hup.jsonl")
local hup = policy([[return { budget_interval = "1h", budgets = { { name = "cap", usd = 1000, window = "today" } },
  rules = { { name = "r", kind = "batches", when_over = "cap" } } }]])
d = start_daemon("supervise " .. hup .. " --interval 0.05 --journal " .. jfile .. " --metrics " .. mfile)
T.ok(T.wait_for(function() return passes(mfile) >= 2 end, 120), "daemon (reload): passes come")
local f = assert(io.open(hup, "w"))
f:write([[return { budget_interval = "1h", budgets = { { name = "cap", usd = 10, window = "today" } },
  rules = { { name = "r", kind = "batches", when_over = "cap" } } }]])
f:close()
d.signal("HUP")
T.ok(T.wait_for(function() return #events(lines_of(jfile)) == 1 end, 120),
     "SIGHUP lowering the limit: measured again at once, and the budget trips")
T.ok(T.wait_for(function() return cancels(lines_of(jfile)) == "batch_a:cap batch_b:cap" end, 120), "  its rule cancels")
T.is(#requests("GET", "/organization/costs$"), 2, "  two measurements: at start and after the reload")
d.signal("TERM")
T.ok(T.wait_for(function() return d.code() ~= nil end, 60), "daemon (reload): stops")

reseed()
mfile = tmp_path("stale.prom")
d = start_daemon("supervise " .. policy([[return { budget_interval = 0.05,
  budgets = { { name = "cap", usd = 1000, window = "today" } },
  rules = { { name = "r", kind = "batches", when_over = "cap" } } }]]) .. " --interval 0.05 --journal "
  .. tmp_path("stale.jsonl") .. " --metrics " .. mfile)
T.ok(T.wait_for(function() return metric(mfile, "runctl_supervise_budget_measured_timestamp_seconds", '{budget="cap"}') end, 120),
     "daemon: the budget is measured")
fake:faults { { path = "/organization/costs", status = 500, count = 100000 } }
T.ok(T.wait_for(function() return metric(mfile, "runctl_supervise_budget_stale", '{budget="cap"}') == 1 end, 120),
     "listings failing for more than 3 budget intervals: the stale metric says 1")
T.ok(T.wait_for(function() return d.err():find("budget 'cap': its figure is stale", 1, true) end, 60),
     "  and a warning is logged")
T.is(metric(mfile, "runctl_supervise_budget_spent", '{budget="cap",unit="usd"}'), 26.5, "  the last figure stays")
d.signal("TERM")
T.ok(T.wait_for(function() return d.code() ~= nil end, 60), "daemon: stops")
fake:clear_faults()

---------------------------------------------------------------------- runctl spend

reseed()
out, stderr, code = run("spend")
local rows = {}
for line in out:gmatch("[^\n]+") do rows[#rows + 1] = json.decode(line) end
T.is(code, 0, "spend: exit 0", stderr)
T.is(#rows, 3, "spend piped: JSON lines, one per project and a total")
T.is(rows[1] and (rows[1].group .. " " .. rows[1].usd .. " " .. rows[1].input_tokens .. " " .. rows[1].output_tokens),
     "proj_x 19.5 5600 300", "  proj_x: its costs and its tokens")
T.is(rows[3] and rows[3].group, json.null, "  the total line has group null")
T.is(rows[3] and rows[3].usd, 26.5, "  and the sums")
out = run("spend --by line_item --window month")
T.like(out, '"group":"gpt%-4o, input"', "spend --by line_item: costs by line item")
T.like(out, '"input_tokens":null', "  (line items have no tokens)")
out = run("spend --by model --window 1h")
T.like(out, '"group":"gpt%-4o%-mini"', "spend --by model: usage by model")
out, stderr, code = run("spend --budget " .. POLICY)
local b = json.decode(out:match("[^\n]+") or "") or {}
T.is(code, 0, "spend --budget: exit 0 while under", stderr)
T.is(("%s %s %s %s"):format(b.budget, b.spent, b.limit, tostring(b.over)), "daily cap 19.5 20 false",
     "spend --budget: each budget's state")
add_spend { costs = { { time = 0, usd = 1, project_id = "proj_x" } } }
out, stderr, code = run("spend --budget " .. POLICY)
T.is(code, 1, "spend --budget: exit 1 when one is over")
T.like(out, '"over":true', "  over: true")
out, stderr, code = run("spend", { OPENAI_ADMIN_KEY = false })
T.is(code, 2, "spend without an admin key: exit 2")
T.like(stderr, "spend: no admin key: .*OPENAI_ADMIN_KEY", "  naming OPENAI_ADMIN_KEY")
out, stderr, code = run("spend", { OPENAI_ADMIN_KEY = PROJECT_KEY })
T.is(code, 1, "spend with a project key: exit 1")
T.like(stderr, "an admin key is needed: the key in OPENAI_ADMIN_KEY", "  saying an admin key is needed")
T.is(out, "", "  and printing nothing that would mislead")
-- a server whose refusal echoes the admin key: spend never prints it (supervise's log masks it too)
fake:faults { { path = "/organization/costs", status = 401, count = 20,
                body = '{"error":{"message":"Incorrect API key provided: ' .. ADMIN .. '.","type":"invalid_request_error"}}' } }
for _, args in ipairs { "spend", "spend --budget " .. POLICY } do
  out, stderr, code = run(args)
  T.is(code, 1, args .. ": a 401 whose text echoes the admin key: exit 1")
  T.ok(not (out .. stderr):find(ADMIN, 1, true), args .. ": the echoed admin key is not printed")
end
assert(control("DELETE", "/faults").status == 200)
out, stderr, code = run("spend --by week")
T.is(code, 2, "spend --by week: exit 2")
T.like(stderr, "not one of project, line_item, model", "  naming the choices")
out, stderr, code = run("spend --window 3x")
T.is(code, 2, "spend --window 3x: exit 2")
-- on a terminal (a pty from script(1)): a table
if os.execute("command -v script >/dev/null 2>&1") then
  local ttyout = tmp_path("tty.out")
  local prefix = "env -u OPENAI_LOG"
  for k, v in pairs(env) do prefix = prefix .. " " .. k .. "=" .. T.quote(v) end
  local cmd = prefix .. " " .. (os.getenv("RUNCTL_WRAP") or "") .. " " .. (os.getenv("RUNCTL") or "./runctl") .. " spend"
  os.execute(("script -qec %s /dev/null </dev/null >%s 2>&1"):format(T.quote(cmd), ttyout))
  local tty = (T.read_file(ttyout) or ""):gsub("\r", "")
  T.like(tty, "Spend today %(since %d%d%d%d%-%d%d%-%d%d 00:00 UTC%)\nPROJECT +USD +INPUT TOKENS +OUTPUT TOKENS +REQUESTS\n",
         "spend on a terminal: a table with a title and labelled columns", tty)
  T.like(tty, "\nproj_x +20%.50 +5,600 +300 +4\nproj_y +7%.00 +0 +0 +0\nTOTAL +27%.50 +5,600 +300 +4\n",
         "  one row per project and the total, numbers right-aligned")
else
  T.ok(true, "spend on a terminal # SKIP script(1) is not installed")
  T.ok(true, "  rows # SKIP script(1) is not installed")
end
out, stderr, code = run("spend --help")
T.like(out, "usage: runctl spend", "spend --help")

---------------------------------------------------------------------- the example policy loads

local policies = require "runctl.ops.policy"
local example, perr = policies.load("share/runctl/budget-policy.example.lua")
T.ok(example and #example.budgets >= 2, "share/runctl/budget-policy.example.lua loads", perr)
T.ok(example and example.budget_interval > 0, "  with a budget interval")
reseed()
out, stderr, code = run("supervise share/runctl/budget-policy.example.lua --once --dry-run --journal " .. tmp_path("ex.jsonl"))
T.is(code, 0, "  and runs: supervise --once --dry-run", stderr)
T.like(stderr, "rule 'stop batches': budget 'daily cap' is under its limit %(%$0%.00 of %$200%.00, today%)",
       "  showing each when_over rule's budget")

-- the shape issue #29 promised, word for word, stays valid
local promised, load_err = policies.load(policy([[return {
  budgets = {
    { name = "daily cap", usd = 200, window = "today", project_ids = { "proj_x" } },   -- costs
    { name = "token burn", tokens = 50e6, window = "1h", source = "usage", models = { "gpt-4o" } },
  },
  rules = {
    { name = "stop batches", kind = "batches", when_over = "daily cap" },
    { name = "stop tunes",  kind = "fine-tuning", when_over = "daily cap", action = "cancel" },
  }
}]]))
T.ok(promised and #promised.budgets == 2 and promised.rules[2].when_over == "daily cap",
     "the documented policy shape (budgets, when_over, action) loads", load_err)
T.is(promised and promised.budget_interval, 300, "  measured every 5 minutes by default")

---------------------------------------------------------------------- the admin key in no output

reseed()
jfile, mfile = tmp_path("debug.jsonl"), tmp_path("debug.prom")
add_spend { costs = { { time = 0, usd = 1, project_id = "proj_x" } } }
out, stderr, code = run("supervise " .. POLICY .. " --once --journal " .. jfile .. " --metrics " .. mfile,
                        { OPENAI_LOG = "debug" })
local all = out .. stderr .. (T.read_file(jfile) or "") .. (T.read_file(mfile) or "")
T.like(stderr, "organization/costs", "debug logging shows the costs requests")
T.unlike(all, "admin%-budget", "the admin key is in no output, journal or metrics (OPENAI_LOG=debug)")
local so, se = run("spend", { OPENAI_LOG = "debug" })
T.unlike(so .. se, "admin%-budget", "nor in runctl spend's")

-- POST /_fake/config takes spend as POST /_fake/spend does (last: it adds spend)
local n_costs = #json.decode(control("GET", "/spend").body).costs
resp = control("POST", "/config", { spend = { costs = { { time = 0, usd = 1.25, project_id = "proj_cfg" } } } })
T.is(resp.status, 200, "POST /_fake/config {spend = ...} adds spend too")
local after = json.decode(control("GET", "/spend").body)
T.is(#after.costs, n_costs + 1, "  one entry more")
T.is(after.costs[#after.costs] and after.costs[#after.costs].project_id, "proj_cfg", "  the one given")
resp = control("POST", "/config", { spend = { costs = { { time = 0, usd = "lots" } } } })
T.is(resp.status, 400, "POST /_fake/config with a bad spend entry is refused")
T.like(resp.body, "costs%[0%]: usd must be a number", "  naming the entry and field")
resp = control("POST", "/config", { spend = "x" })
T.like(resp.body, "spend must be an object", "POST /_fake/config {spend = 'x'}: refused, saying what it takes")
T.done()
