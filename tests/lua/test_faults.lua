-- tests/lua/test_faults.lua — retries, backoff, timeouts and broken responses:
-- what the user sees (result or err, kind, status, message, request ID,
-- attempts) and what went over the wire (how many attempts, the same
-- Idempotency-Key on each retry, delays never shorter than asked).
local T = require "helper"
local fake = T.fake("--cancel-delay-ms 600000 --seed " .. T.seed_file(T.basic_seed()))
-- retries capped at 50 ms so the suite stays quick; specific tests raise the cap
local c = fake:client { max_retries = 2, max_retry_delay = 0.05 }

local function retrieve(client, opts)
  return (client or c).runs.retrieve("thread_main", "run_failed", opts)
end

for _, status in ipairs { 408, 409, 429, 500, 502, 503, 504 } do
  fake:clear()
  fake:faults { { status = status } }
  local run, err, resp = retrieve()
  T.ok(run and resp.attempts == 2, ("status %d is retried and the retry succeeds"):format(status), tostring(err))
  T.is(#fake:requests(), 2, ("status %d: two attempts on the wire"):format(status))
end

for _, status in ipairs { 400, 401, 403, 404, 422 } do
  fake:clear()
  fake:faults { { status = status } }
  local run, err = retrieve()
  T.ok(run == nil and err.status == status and err.attempts == 1 and err.retryable == false,
       ("status %d is not retried"):format(status), tostring(err))
  T.is(#fake:requests(), 1, ("status %d: one attempt on the wire"):format(status))
end

-- retries run out: the last error, with the attempt count
fake:clear()
fake:faults { { status = 503, count = 3, body = '{"error":{"message":"overloaded","type":"server_error","param":null,"code":"busy"}}' } }
local run, err = retrieve()
T.is(run, nil, "3 x 503 with max_retries=2 fails")
T.is(err.kind, "api", "err.kind api")
T.is(err.status, 503, "err.status 503")
T.is(err.message, "overloaded", "err.message from the last body")
T.is(err.code, "busy", "err.code")
T.is(err.attempts, 3, "err.attempts counts every attempt")
T.is(err.retryable, true, "err.retryable")
T.like(err.request_id, "^req_", "err.request_id of the last attempt")
T.is(#fake:requests(), 3, "exactly 3 attempts on the wire")
T.like(tostring(err), "^503 server_error: overloaded %[req_", "tostring of a 503")

-- per-call max_retries beats the client's
fake:clear()
fake:faults { { status = 500, count = 5 } }
run, err = retrieve(nil, { max_retries = 4 })
T.is(err and err.attempts, 5, "opts.max_retries = 4 makes 5 attempts")
fake:clear()
fake:faults { { status = 500 } }
run, err = retrieve(nil, { max_retries = 0 })
T.is(err and err.attempts, 1, "opts.max_retries = 0 makes 1 attempt")
fake:faults { { status = 500, count = 9 } }
run, err = retrieve(runctl.client { api_key = "sk-test", base_url = fake.base, max_retry_delay = 0.01 })
T.is(err and err.attempts, 3, "the client's default is 2 retries")
fake:clear_faults()

-- x-should-retry overrides the status rules both ways
fake:clear()
fake:faults { { status = 400, headers = { ["x-should-retry"] = "true" } } }
run, err = retrieve()
T.ok(run ~= nil, "x-should-retry: true retries a 400", tostring(err))
T.is(#fake:requests(), 2, "two attempts")
fake:clear()
fake:faults { { status = 503, headers = { ["x-should-retry"] = "false" } } }
run, err = retrieve()
T.ok(run == nil and err.status == 503 and err.attempts == 1, "x-should-retry: false stops a 503 retry", tostring(err))

-- the same Idempotency-Key on every retry of a cancel
fake:clear()
fake:faults { { status = 500, count = 2, method = "POST" } }
run, err = c.runs.cancel("thread_main", "run_queued")
T.ok(run and run.status == "cancelling", "cancel succeeds on the third attempt", tostring(err))
local reqs = fake:requests()
T.is(#reqs, 3, "three POSTs on the wire")
local key = T.header(reqs[1], "idempotency-key")
T.ok(key and T.header(reqs[2], "idempotency-key") == key and T.header(reqs[3], "idempotency-key") == key,
     "all three carry the same Idempotency-Key")
fake:clear()
c.runs.cancel("thread_main", "run_in_progress")
T.ok(T.header(fake:last(), "idempotency-key") ~= key, "a new cancel gets a new key")

-- server-chosen delays: honoured (never shorter), capped when huge
local patient = fake:client { max_retries = 1, max_retry_delay = 30 }
local function delayed(headers)
  fake:clear()
  fake:faults { { status = 429, headers = headers } }
  return retrieve(patient)
end
local _, _, resp = delayed { ["retry-after-ms"] = "300" }
T.ok(resp and resp.elapsed >= 0.3, "retry-after-ms: 300 waits at least 0.3 s", resp and resp.elapsed)
_, _, resp = delayed { ["retry-after"] = "1" }
T.ok(resp and resp.elapsed >= 1.0, "retry-after: 1 waits at least 1 s", resp and resp.elapsed)
_, _, resp = delayed { ["retry-after-ms"] = "200", ["retry-after"] = "20" }
T.ok(resp and resp.attempts == 2, "retry-after-ms wins over retry-after (no 20 s wait)")
local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 3)
_, _, resp = delayed { ["retry-after"] = date }
T.ok(resp and resp.elapsed >= 0.9, "retry-after as an HTTP date is honoured", resp and resp.elapsed)
local capped = fake:client { max_retries = 1, max_retry_delay = 0.2 }
fake:clear()
fake:faults { { status = 503, headers = { ["retry-after"] = "3600" } } }
run, err, resp = retrieve(capped)
T.ok(run and resp.attempts == 2, "retry-after: 3600 is capped by max_retry_delay (the call returns)", tostring(err))
fake:faults { { status = 503, headers = { ["retry-after"] = "3600" } } }
run, err, resp = retrieve(patient, { max_retry_delay = 0.1 })
T.ok(run and resp.attempts == 2, "a per-call max_retry_delay caps too", tostring(err))
fake:faults { { status = 503, headers = { ["retry-after"] = "soon" } } }
run, err, resp = retrieve(capped)
T.ok(run and resp.attempts == 2, "an unparsable retry-after falls back to backoff", tostring(err))

-- while one request waits to retry, other tasks keep running
fake:clear()
fake:faults { { status = 503, path = "run_failed", headers = { ["retry-after-ms"] = "2000" } } }
local order = {}
local waiting = task.spawn(function() local r = retrieve(patient) order[#order + 1] = "retried" return r end)
local other = task.spawn(function()
  task.sleep(0.05)
  local r = c.runs.retrieve("thread_main", "run_completed")
  order[#order + 1] = "other"
  return r
end)
task.join(waiting) task.join(other)
T.is(table.concat(order, ","), "other,retried", "a backoff wait does not block other tasks")

-- timeouts: per attempt, then retried
fake:clear()
fake:faults { { delay_ms = 3000, count = 2 } }
run, err = retrieve(fake:client { max_retries = 1, timeout = 0.3, max_retry_delay = 0.01 })
T.is(err and err.kind, "timeout", "a slow server gives kind timeout")
T.is(err and err.attempts, 2, "timeouts are retried")
T.like(err and err.message, "[Tt]imed? ?out", "the message says it timed out")
-- (whether an attempt reached the server before its 0.3 s ran out depends on
-- how busy the machine is, e.g. under valgrind: only the upper bound is sure)
T.ok(#fake:requests() <= 2, "no attempt beyond the retry was sent", #fake:requests())
fake:clear_faults()

-- the per-attempt timeout covers the body: headers arrive, the body stalls
local stall = T.badpeer("stall-body")
local hr, herr = http.request { url = stall.url .. "/x", timeout = 0.3 }
T.ok(hr == nil and herr.kind == "timeout", "a stalled body times out (http.request)", tostring(herr))
run, err = runctl.client { api_key = "sk-test", base_url = stall.url .. "/v1", timeout = 0.3,
                           max_retries = 1, max_retry_delay = 0.01 }.runs.retrieve("t", "r")
T.ok(run == nil and err.kind == "timeout" and err.attempts == 2, "a stalled body times out (client, retried)", tostring(err))

-- connect timeout, separate from the request timeout
local hole = T.badpeer("blackhole")
run, err = runctl.client { api_key = "sk-test", base_url = hole.url .. "/v1", connect_timeout = 0.3,
                           timeout = 60, max_retries = 0 }.runs.retrieve("t", "r")
T.is(err and err.kind, "timeout", "a peer that never accepts gives a connect timeout")
T.like(err and err.message, "[Cc]onnect", "and the message says so")

-- connection refused, reset, truncated
-- (a port held bound but not listening: nobody else can take it meanwhile)
local refusing = T.badpeer("refuse")
run, err = runctl.client { api_key = "sk-test", base_url = refusing.url .. "/v1", max_retries = 1, max_retry_delay = 0.01 }
           .runs.retrieve("t", "r")
T.ok(run == nil and err.kind == "connection" and err.attempts == 2, "connection refused: kind connection, retried", tostring(err))
T.is(err.status, nil, "no status without a response")
-- (curl itself re-sends once when a reused connection dies before any byte
-- arrives, so each of our attempts may consume up to two faults)
fake:faults { { close = "before", count = 2 } }
run, err = retrieve(nil, { max_retries = 0 })
T.ok(run == nil and err.kind == "connection", "a connection closed before the response: kind connection", tostring(err))
fake:clear_faults()
fake:faults { { close = "before", count = 2 } }
run, err, resp = retrieve()
T.ok(run ~= nil and resp.attempts >= 2, "with retries, a closed connection is retried", tostring(err))
fake:clear_faults()
fake:faults { { truncate = true } }
run, err = retrieve(nil, { max_retries = 0 })
T.ok(run == nil and err.kind == "connection", "a truncated body is a connection error, not bad JSON", tostring(err))
fake:faults { { close = "middle" } }
run, err = retrieve(nil, { max_retries = 0 })
T.ok(run == nil and err.kind == "connection", "a connection closed mid-body is a connection error", tostring(err))

-- malformed JSON and HTML pages become errors, never crashes
fake:faults { { body = "{not json" } }
run, err = retrieve()
T.is(err and err.kind, "invalid_response", "malformed JSON: kind invalid_response")
T.is(err and err.status, 200, "with the status")
T.like(err and err.message, "not valid JSON", "and a message")
T.like(err and err.request_id, "^req_", "and the request ID")
fake:faults { { body = "[1,2,3]" } }
run, err = retrieve()
T.is(err and err.kind, "invalid_response", "a JSON array where an object is expected is invalid_response")
-- objects come back decoded as json.decode gives them, whichever decoder takes them
fake:faults { { body = ' \n{"id":"run_x","n":7,"f":0.5,"t":[true,null]} ' } }
run, err, resp = retrieve()
T.ok(run and run.id == "run_x" and math.type(run.n) == "integer" and run.f == 0.5 and run.t[1] == true
     and run.t[2] == json.null, "an object after white space is decoded", tostring(err))
T.ok(resp and resp.body == nil and resp.status == 200, "and its resp carries no body")
fake:faults { { body = '{"id":"run_x","note":"\\ud83d\\ude00\\u0000"}' } }
run, err = retrieve()
T.is(run and run.note, "\u{1F600}\0", "an object with a surrogate pair and a NUL escape is decoded (by cjson)")
fake:faults { { body = "" } }
run, err = retrieve()
T.ok(run and next(run) == nil, "an empty 200 body is an empty object", tostring(err))
fake:faults { { html = true, status = 502, count = 3 } }
run, err = retrieve()
T.ok(err and err.kind == "api" and err.status == 502 and err.attempts == 3, "an HTML 502 is retried then reported", tostring(err))
T.is(err and err.message, "502 Bad Gateway", "its message is the page title")
fake:faults { { status = 418, body = "I'm a teapot\n" } }
run, err = retrieve()
T.is(err and err.message, "I'm a teapot", "a plain-text error body becomes the message")
fake:faults { { status = 400, body = '{"message":"bare error object","type":"invalid_request_error"}' } }
run, err = retrieve()
T.is(err and err.message, "bare error object", "a bare error object is understood")
fake:faults { { status = 500, count = 3, body = "" } }
run, err = retrieve()
T.is(err and err.message, "HTTP 500", "an empty error body still gives a message")

-- bodies over max_bytes are refused without reading them into memory
local before = T.peak_rss_kib()
fake:faults { { large_bytes = 1024 * 1024 * 1024 } }
run, err = retrieve(nil, { max_bytes = 1024 * 1024 })
T.is(err and err.kind, "invalid_response", "a 1 GiB body over max_bytes is refused")
T.like(err and err.message, "exceeds max_bytes", "with a message naming max_bytes")
fake:faults { { large_bytes = 1024 * 1024 * 1024, chunked = true } }
run, err = retrieve(nil, { max_bytes = 1024 * 1024 })
T.is(err and err.kind, "invalid_response", "a chunked 1 GiB body (no length) is refused too")
T.ok(T.peak_rss_kib() - before < 64 * 1024, "memory did not grow with the refused bodies",
     (T.peak_rss_kib() - before) .. " KiB")
run, err = retrieve(nil, setmetatable({}, { __index = { max_bytes = 10 } }))
T.is(err and err.kind, "invalid_response", "a setting opts inherits through __index is honoured too")
fake:faults { { large_bytes = 200000 } }
hr = http.request { url = fake.base .. "/threads/thread_main/runs", max_bytes = 100000 }
T.ok(hr == nil, "http.request honours max_bytes")

-- redirects are not followed: credentials never go to another host
local other_host = T.fake("")
fake:faults { { status = 307, headers = { location = other_host.base .. "/threads/thread_main/runs/run_failed" } } }
run, err = retrieve()
T.ok(run == nil and err.status == 307, "a redirect is returned as an error, not followed", tostring(err))
T.is(#other_host:requests(), 0, "the other host received nothing")

T.done()
