-- tests/lua/test_response_headers.lua — the engine keeps every response header
-- intact however many and however long (its header store grows while they
-- arrive), and a request on a reused transfer never sees an earlier answer's.
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
T.done()
