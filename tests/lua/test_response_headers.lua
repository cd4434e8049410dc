-- tests/lua/test_response_headers.lua — the engine keeps every response header
-- intact however many and however long (its header store grows while they
-- arrive), and a request on a reused transfer never sees an earlier answer's;
-- resp.headers is built when first read and then is an ordinary table.
local T = require "helper"
local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local c = fake:client()

local many = {}
for i = 1, 60 do
  many[("X-Header-%02d"):format(i)] = ("%02d-"):format(i) .. ("v"):rep(200)
end
fake:faults { { status = 200, headers = many, body = '{"id":"run_headers","object":"thread.run","status":"cancelled"}' } }
local run, err, resp = c.runs.retrieve("thread_main", "run_failed")
T.is(run and run.id, "run_headers", "a 200 with 60 long headers is read", tostring(err))
local intact = 0
for name, value in pairs(many) do
  if resp and resp.headers[name:lower()] == value then intact = intact + 1 end
end
T.is(intact, 60, "every one of the 60 headers (12 KB) arrives intact")

for _ = 1, 3 do
  run, err, resp = c.runs.retrieve("thread_main", "run_failed")
end
T.ok(run and resp.headers["x-header-01"] == nil and resp.headers["x-request-id"] ~= nil,
     "later answers on reused transfers carry only their own headers", tostring(err))

-- Built on first read: resp.request_id is there at once, resp.headers (or
-- pairs(resp)) builds a plain table of every header once.
fake:faults { { status = 200, headers = { ["X-Lazy"] = "built-late" },
                body = '{"id":"run_lazy","object":"thread.run","status":"cancelled"}' } }
run, err, resp = c.runs.retrieve("thread_main", "run_failed")
T.like(resp and resp.request_id, "^req_", "resp.request_id comes without reading the headers", tostring(err))
local request_id = resp.request_id
T.is(rawget(resp, "headers"), nil, "resp.headers is not built before it is read")
local h = resp.headers
T.ok(type(h) == "table" and getmetatable(h) == nil and h["x-request-id"] == request_id and h["x-lazy"] == "built-late",
     "resp.headers is a plain table with lower-case names")
T.ok(resp.headers == h and rawget(resp, "headers") == h and getmetatable(resp) == nil,
     "it is built once and kept in resp")
fake:faults { { status = 200, headers = { ["X-Seen"] = "yes" }, body = '{"id":"run_lazy"}' } }
run, err, resp = c.runs.retrieve("thread_main", "run_failed")
local keys = {}
for k, v in pairs(resp) do keys[k] = v end
if T.lua51 then
  T.skip(1, "Lua 5.1 has no __pairs: pairs(resp) lists resp.headers once it was read")
else
  T.ok(type(keys.headers) == "table" and keys.headers["x-seen"] == "yes" and keys.status == 200
       and next(resp.headers) ~= nil, "pairs(resp) lists the headers too", tostring(err))
end
local raw = http.request { url = fake.url .. "/v1/threads/thread_main/runs/run_1", headers = { Authorization = "Bearer sk-test" } }
T.ok(raw and raw.headers["content-type"] ~= nil, "http.request's resp.headers is read the same way")
T.done()
