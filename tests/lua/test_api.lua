-- tests/lua/test_api.lua — return conventions and the error model of the
-- bindings: obj, nil, resp on success; nil, err with every field on failure;
-- list parameters and runs.each pagination; runs.wait; the missing-key error.
local T = require "helper"

local seed = T.basic_seed()
-- a thread with 7 runs for pagination
local many = {}
for i = 1, 7 do many[i] = { id = ("run_p%02d"):format(i), status = "completed", created_at = -1000 + i } end
seed.threads[#seed.threads + 1] = { id = "thread_pages", runs = many }
local fake = T.fake("--api-key sk-test-1234567890 --cancel-delay-ms 200 --seed " .. T.seed_file(seed))
local c = fake:client()

-- success
local run, err, resp = c.runs.cancel("thread_main", "run_in_progress")
T.ok(run ~= nil and err == nil, "cancel returns obj, nil, resp", tostring(err))
T.is(run.status, "cancelling", "a cancelled in_progress run reads cancelling")
T.is(run.id, "run_in_progress", "the run object is decoded")
T.is(math.type(run.created_at), "integer", "whole numbers decode as integers")
T.is(resp.status, 200, "resp.status")
T.like(resp.request_id, "^req_%x+$", "resp.request_id")
T.is(resp.headers["x-request-id"], resp.request_id, "resp.headers has lower-case names")
T.is(resp.attempts, 1, "resp.attempts")
T.ok(type(resp.elapsed) == "number" and resp.elapsed >= 0, "resp.elapsed is a number")

-- cancelling -> cancelled later
local waited = assert(c.runs.wait("thread_main", "run_in_progress", { timeout = 10, interval = 0.05 }))
T.is(waited.status, "cancelled", "runs.wait returns once the run left cancelling")
T.ok(type(waited.cancelled_at) == "number", "cancelled runs have cancelled_at")

-- cancel of a finished run: 400 with the server's message
run, err = c.runs.cancel("thread_main", "run_completed")
T.is(run, nil, "failure returns nil first")
T.is(err.kind, "api", "err.kind is api")
T.is(err.status, 400, "err.status")
T.is(err.type, "invalid_request_error", "err.type")
T.is(err.message, "Cannot cancel run with status 'completed'.", "err.message is the server's")
T.like(err.request_id, "^req_", "err.request_id")
T.is(err.retryable, false, "400 is not retryable")
T.is(err.attempts, 1, "err.attempts")
T.is(tostring(err), "400 invalid_request_error: Cannot cancel run with status 'completed'. ["
     .. err.request_id .. "]", "tostring(err) format")
T.ok(runctl.is_error(err), "runctl.is_error recognises err")
local ok, raised = pcall(function() assert(c.runs.cancel("thread_main", "run_failed")) end)
T.ok(not ok and runctl.is_error(raised) and raised.status == 400, "assert(...) raises the err object itself")

-- cancel twice: the second sees cancelling
c.runs.cancel("thread_main", "run_queued")
run, err = c.runs.cancel("thread_main", "run_queued")
T.is(err and err.message, "Cannot cancel run with status 'cancelling'.", "second cancel: status cancelling")

-- 404s
run, err = c.runs.retrieve("thread_nope", "run_x")
T.is(err and err.status, 404, "unknown thread is a 404")
T.is(err and err.message, "No thread found with id 'thread_nope'.", "404 thread message")
run, err = c.runs.retrieve("thread_main", "run_nope")
T.is(err and err.message, "No run found with id 'run_nope'.", "404 run message")

-- wrong key: 401, and the key is not in the error
local bad = fake:client { api_key = "sk-wrong-key-zzzz" }
run, err = bad.runs.retrieve("thread_main", "run_failed")
T.is(err and err.status, 401, "wrong key is a 401")
T.is(err and err.code, "invalid_api_key", "err.code from the body")
T.unlike(tostring(err), "zzzz", "the key does not appear in the error")

-- missing beta header through c:request with another beta
run, err = c:request { path = "/threads/thread_main/runs", beta = "assistants=v1" }
T.is(err and err.status, 400, "a wrong OpenAI-Beta is refused by the server")

-- list parameters
local page = assert(c.runs.list("thread_pages", { limit = 3, order = "asc" }))
T.is(#page.data, 3, "limit=3 gives 3 runs")
T.is(page.data[1].id, "run_p01", "asc order starts with the oldest")
T.is(page.has_more, true, "has_more")
T.is(page.first_id, "run_p01", "first_id")
T.is(page.last_id, "run_p03", "last_id")
page = assert(c.runs.list("thread_pages", { limit = 3, order = "asc", after = "run_p03" }))
T.is(page.data[1].id, "run_p04", "after= continues")
page = assert(c.runs.list("thread_pages", { limit = 2, order = "desc", before = "run_p05" }))
T.is(page.data[1] and page.data[1].id, "run_p07", "before= in desc order gives the newer ones")
page = assert(c.runs.list("thread_pages"))
T.is(page.data[1].id, "run_p07", "default order is desc")
page = assert(c.runs.list("thread_empty"))
T.is(#page.data, 0, "an empty thread lists no runs")
T.is(page.has_more, false, "and has_more is false")

-- bad params and opts raise, naming the problem
T.raises(function() c.runs.list("t", { limit = 0 }) end, "runs%.list: limit must be an integer from 1 to 100 %(got 0%)", "limit 0 raises")
T.raises(function() c.runs.list("t", { limit = 1.5 }) end, "limit must be an integer from 1 to 100", "limit 1.5 raises")
T.raises(function() c.runs.list("t", { order = "up" }) end, 'order must be "asc" or "desc" %(got "up"%)', "bad order raises")
T.raises(function() c.runs.list("t", { after = "" }) end, "after must be a non%-empty ID string", "empty cursor raises")
T.raises(function() c.runs.list("t", { colour = 1 }) end, "unknown parameter 'colour'", "unknown param raises")
T.raises(function() c.runs.list("t", "limit=3") end, "params must be a table %(got string%)", "params not a table raises")
T.raises(function() c.runs.cancel("t", "r", { timeout = -1 }) end, "timeout must be a positive number", "negative timeout raises")
T.raises(function() c.runs.cancel("t", "r", { retries = 1 }) end, "unknown option 'retries'", "unknown opt raises")
T.raises(function() c.runs.cancel("t", "r", {}, {}) end, "too many arguments", "extra arguments raise")
T.raises(function() c.runs.cancel("t", "r", { headers = { ["X-A"] = "1\r\nX-B: 2" } }) end,
         "header 'X%-A' must not contain CR, LF or NUL", "header injection raises")
T.raises(function() runctl.client { max_retries = -1 } end, "runctl%.client: max_retries must be a non%-negative integer",
         "bad client option raises")
T.raises(function() runctl.client { colour = "red" } end, "runctl%.client: unknown option 'colour'", "unknown client option raises")
T.raises(function() runctl.client { auth = "basic" } end, 'auth must be "bearer" or "api%-key"', "bad auth raises")
T.raises(function() runctl.client "x" end, "expected a table of settings %(got string%)", "client with a string raises")

-- runs.each: every page, stops on has_more=false
local ids = {}
for r in c.runs.each("thread_pages", { limit = 2, order = "asc" }) do ids[#ids + 1] = r.id end
T.is(table.concat(ids, ","), "run_p01,run_p02,run_p03,run_p04,run_p05,run_p06,run_p07", "each walks every page in order")
fake:clear()
ids = {}
for r in c.runs.each("thread_pages", { limit = 3 }) do ids[#ids + 1] = r.id end
T.is(#ids, 7, "each with the default order sees all 7")
local reqs = fake:requests()
T.is(#reqs, 3, "7 runs at limit 3 take 3 requests")
T.is(reqs[2].query, "after=run_p05&limit=3", "the next page asks after the last_id")
local n = 0
for _ in c.runs.each("thread_empty") do n = n + 1 end
T.is(n, 0, "each over an empty thread yields nothing")
-- stops on an empty page even if the server says has_more
fake:faults { { path = "/runs", body = '{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":true}' } }
n = 0
for _ in c.runs.each("thread_pages") do n = n + 1 end
T.is(n, 0, "each stops on an empty page")
ok, raised = pcall(function() for _ in c.runs.each("thread_nope") do end end)
T.ok(not ok and runctl.is_error(raised) and raised.status == 404, "each raises the err on failure", tostring(raised))

-- no API key: a clear error, nothing sent
fake:clear()
local saved = os.getenv("OPENAI_API_KEY")
T.is(saved, nil, "the test runs without OPENAI_API_KEY")
local nokey = runctl.client { base_url = fake.base }
T.raises(function() nokey.runs.cancel("thread_main", "run_queued") end,
         "no API key: set OPENAI_API_KEY in the environment, or pass api_key", "missing key raises with how to fix it")
T.is(#fake:requests(), 0, "nothing was sent without a key")

T.done()
