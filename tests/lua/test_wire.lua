-- tests/lua/test_wire.lua — the exact request on the wire: method, raw path,
-- percent-encoding of IDs, headers, body, query; hostile IDs stay one segment.
local T = require "helper"
local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local c = fake:client()

-- cancel: POST, exact path, empty body, the SDK headers
fake:clear()
local run, err, resp = c.runs.cancel("thread_main", "run_queued")
T.ok(run and not err, "cancel of a queued run succeeds", tostring(err))
local req = fake:last()
T.is(req.method, "POST", "cancel is a POST")
T.is(req.path, "/v1/threads/thread_main/runs/run_queued/cancel", "cancel path")
T.is(req.query, "", "cancel has no query")
T.is(req.body, "", "cancel body is empty")
T.is(T.header(req, "content-length"), "0", "cancel sends Content-Length: 0")
T.is(T.header(req, "content-type"), nil, "no Content-Type without a body")
T.is(T.header(req, "authorization"), "Bearer sk-test-1234567890", "Authorization: Bearer KEY")
T.is(T.header(req, "openai-beta"), "assistants=v2", "OpenAI-Beta: assistants=v2")
T.is(T.header(req, "accept"), "application/json", "Accept: application/json")
T.like(T.header(req, "user-agent"), "^runctl/%d+%.%d+%.%d+$", "User-Agent: runctl/VERSION")
T.is(T.header(req, "openai-organization"), nil, "no OpenAI-Organization when unset")
T.is(T.header(req, "openai-project"), nil, "no OpenAI-Project when unset")
T.like(T.header(req, "idempotency-key"), "^runctl%-%x+$", "POST carries an Idempotency-Key")
T.is(T.header(req, "expect"), nil, "no Expect header")
T.is(resp.request_id, req.request_id, "resp.request_id is the server's x-request-id")

-- retrieve and list: GET, no body, no idempotency key
fake:clear()
c.runs.retrieve("thread_main", "run_completed")
req = fake:last()
T.is(req.method .. " " .. req.path, "GET /v1/threads/thread_main/runs/run_completed", "retrieve is GET on the run path")
T.is(T.header(req, "idempotency-key"), nil, "GET has no Idempotency-Key")
T.is(T.header(req, "content-length"), nil, "GET has no Content-Length")

fake:clear()
c.runs.list("thread_main", { limit = 2, order = "asc", after = "run_x y" })
req = fake:last()
T.is(req.method .. " " .. req.path, "GET /v1/threads/thread_main/runs", "list is GET on the runs path")
T.is(req.query, "after=run_x%20y&limit=2&order=asc", "list query: sorted, escaped")

-- organization, project, extra headers, client query
local c2 = fake:client { organization = "org-1", project = "proj_1",
                         headers = { ["X-Trace"] = "t1" }, query = { ["api-version"] = "2025-01-01" } }
fake:clear()
c2.runs.retrieve("thread_main", "run_completed", { headers = { ["X-Call"] = "c1" }, query = { extra = "1" } })
req = fake:last()
T.is(T.header(req, "openai-organization"), "org-1", "OpenAI-Organization when set")
T.is(T.header(req, "openai-project"), "proj_1", "OpenAI-Project when set")
T.is(T.header(req, "x-trace"), "t1", "client headers sent")
T.is(T.header(req, "x-call"), "c1", "per-call headers sent")
T.is(req.query, "api-version=2025-01-01&extra=1", "client and per-call query merged")

-- a call with opts.headers and a plain call on the same client do not share
-- header lists: credentials are never lost, no line is sent twice
local c4 = fake:client()
fake:clear()
c4:request { path = "/threads/thread_main/runs/run_failed", beta = "", headers = { Accept = "text/plain" } }
c4:request { path = "/threads/thread_main/runs/run_failed", beta = "" }
c4.runs.retrieve("thread_main", "run_failed", { headers = { ["X-Trace"] = "1" } })
c4.runs.retrieve("thread_main", "run_failed")
local four = fake:requests()
T.is(T.header(four[1], "accept"), "text/plain", "opts.headers replaces a fixed header")
T.is(T.header(four[1], "openai-beta"), nil, "beta = \"\" sends no OpenAI-Beta")
T.is(T.header(four[2], "authorization"), "Bearer sk-test-1234567890", "a plain call after an opts.headers call keeps its credentials")
T.is(T.header(four[2], "accept"), "application/json", "and its own Accept")
T.is(T.header(four[3], "authorization"), "Bearer sk-test-1234567890", "an opts.headers call after a plain one: credentials once")
T.is(T.header(four[4], "x-trace"), nil, "per-call headers do not leak into later calls")

-- auth = "api-key" (Azure style)
local c3 = fake:client { auth = "api-key" }
fake:clear()
c3.runs.retrieve("thread_main", "run_completed")
req = fake:last()
T.is(T.header(req, "api-key"), "sk-test-1234567890", "auth=api-key sends api-key: KEY")
T.is(T.header(req, "authorization"), nil, "and no Authorization header")

-- a per-call idempotency key is sent as given
fake:clear()
c.runs.cancel("thread_main", "run_in_progress", { idempotency_key = "my-key-1" })
T.is(T.header(fake:last(), "idempotency-key"), "my-key-1", "opts.idempotency_key is sent")

-- one order of precedence for header lines (docs/scripting.md, "On the wire"): a later
-- source replaces an earlier line of the same name; false sends none
local c5 = fake:client { headers = { accept = "text/csv", ["Idempotency-Key"] = "client-key", ["User-Agent"] = false } }
fake:clear()
c5.runs.cancel("thread_main", "run_in_progress")
c5.runs.cancel("thread_main", "run_in_progress", { headers = { ACCEPT = "text/x", ["Content-Type"] = "text/plain" } })
c5:request { method = "POST", path = "/threads/thread_main/runs/run_in_progress/cancel", body = { a = 1 },
             headers = { Authorization = false, ["openai-beta"] = "assistants=v9" } }
local five = fake:requests()
T.is(T.header(five[1], "accept"), "text/csv", "a client header replaces the default Accept (sent once)")
T.is(T.header(five[1], "idempotency-key"), "client-key", "a client's Idempotency-Key is not doubled by a generated one")
T.is(T.header(five[1], "user-agent"), nil, "a client header given as false sends no such header")
T.is(T.header(five[1], "openai-beta"), "assistants=v2", "the endpoint's OpenAI-Beta")
T.is(T.header(five[2], "accept"), "text/x", "per-call headers replace the client's (names compared without case)")
T.is(T.header(five[2], "content-type"), "text/plain", "a per-call Content-Type is sent as given")
T.is(T.header(five[2], "authorization"), "Bearer sk-test-1234567890", "with the credentials")
T.is(T.header(five[3], "authorization"), nil, "per-call Authorization = false sends no credentials")
T.is(T.header(five[3], "openai-beta"), "assistants=v9", "a per-call OpenAI-Beta replaces the endpoint's")
T.is(T.header(five[3], "content-type"), "application/json", "a body gets Content-Type: application/json")
local c6 = fake:client { headers = { ["Content-Type"] = "text/plain" } }
fake:clear()
c6:request { method = "POST", path = "/threads/thread_main/runs/run_in_progress/cancel", body = { a = 1 } }
T.is(T.header(fake:last(), "content-type"), "text/plain", "a client's Content-Type is the only one a body gets")

-- hostile IDs: encoded, one segment, never another URL
local hostile = {
  { "a/b", "a%2Fb" }, { "?x=1", "%3Fx=1" }, { "#frag", "%23frag" }, { "100%", "100%25" },
  { "a b", "a%20b" }, { "x\r\nHost: evil", "x%0D%0AHost:%20evil" }, { "../x", "..%2Fx" },
  { "é", "%C3%A9" },
}
for _, h in ipairs(hostile) do
  fake:clear()
  local r, e = c.runs.cancel("thread_main", h[1])
  req = fake:last()
  T.is(req and req.path, "/v1/threads/thread_main/runs/" .. h[2] .. "/cancel",
       ("run ID %q is encoded as one segment"):format(h[1]))
  T.ok(r == nil and e and e.status == 404, ("unknown run %q is a 404 from the run route"):format(h[1]), tostring(e))
  T.is(e and e.message, "No run found with id '" .. h[1] .. "'.",
       ("the server saw exactly the ID %q"):format(h[1]))
  T.is(T.header(req, "host"), "127.0.0.1:" .. fake.port, "no injected Host header")
end
fake:clear()
c.runs.list("a/b?c")
T.is(fake:last().path, "/v1/threads/a%2Fb%3Fc/runs", "thread ID encoded in list")

T.is(runctl.escape_id(("a/"):rep(150)), ("a%2F"):rep(150), "a 300-byte ID is escaped whole")
T.is(runctl.escape_id(("b"):rep(300)), ("b"):rep(300), "and one with nothing to escape comes back as it is")

-- invalid IDs raise before anything is sent
fake:clear()
T.raises(function() c.runs.cancel("", "run_1") end, "runs%.cancel: thread_id must not be empty", "empty thread_id raises")
T.raises(function() c.runs.cancel("t", "") end, "runs%.cancel: run_id must not be empty", "empty run_id raises")
T.raises(function() c.runs.cancel("t", ".") end, "run_id must not be '%.' or '%.%.'", "'.' raises")
T.raises(function() c.runs.cancel("..", "r") end, "thread_id must not be '%.' or '%.%.'", "'..' raises")
T.raises(function() c.runs.cancel("t", "a\0b") end, "run_id must not contain a NUL byte", "NUL raises")
T.raises(function() c.runs.cancel("t", 42) end, "run_id must be a string %(got number%)", "a number raises")
T.raises(function() c.runs.cancel(nil, "r") end, "thread_id must be a string %(got nil%)", "nil raises")
T.raises(function() c.runs.retrieve({}, "r") end, "runs%.retrieve: thread_id must be a string %(got table%)", "a table raises")
T.raises(function() c.runs.list(true) end, "runs%.list: thread_id must be a string %(got boolean%)", "a boolean raises")
T.raises(function() c.runs.cancel("t", ("x"):rep(2000)) end, "run_id is too long", "a 2000-byte ID raises")
T.is(#fake:requests(), 0, "nothing was sent for invalid IDs")

-- c:request reaches any endpoint through the same transport
fake:clear()
local obj, rerr, rresp = c:request { method = "GET", path = "/threads/thread_main/runs/run_failed" }
T.ok(obj and obj.id == "run_failed" and rresp.status == 200, "c:request GET returns the decoded object", tostring(rerr))
req = fake:last()
T.is(T.header(req, "openai-beta"), "assistants=v2", "c:request adds the beta header on /threads")
fake:clear()
c:request { method = "POST", path = "/threads/thread_main/runs/run_requires_action/cancel", body = { reason = "x" } }
req = fake:last()
T.is(req.body, '{"reason":"x"}', "c:request encodes a table body as JSON")
T.is(T.header(req, "content-type"), "application/json", "with Content-Type: application/json")

-- http.request adds no auth
fake:clear()
local hr = assert(http.request { url = fake.base .. "/threads/thread_main/runs", headers = { ["X-A"] = "1" } })
req = fake:last()
T.is(hr.status, 401, "http.request without a key gets the server's 401")
T.is(T.header(req, "authorization"), nil, "http.request sends no Authorization")
T.is(T.header(req, "x-a"), "1", "http.request sends the given headers")
T.is(type(hr.body), "string", "http.request returns the body as a string")
T.is(hr.headers["x-request-id"], hr.request_id, "http.request resp has lower-case headers and request_id")

T.done()
