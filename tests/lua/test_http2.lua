-- tests/lua/test_http2.lua — over TLS with HTTP/2 offered, concurrent requests
-- to one host share one multiplexed connection, and new connections resume the
-- TLS session of earlier ones. Against nginx (tests/tools/nginx-run.sh), which
-- names each answer's connection; skipped when nginx is not installed.
local T = require "helper"
local dir = (os.getenv("TEST_TMPDIR") or "/tmp") .. "/nginx-h2"
os.execute("rm -rf " .. T.quote(dir))
local ok, _, code = os.execute("sh tests/tools/nginx-run.sh start " .. T.quote(dir) .. " 2>" .. T.quote(dir .. ".why"))
if not ok then
  local why = (T.read_file(dir .. ".why") or ""):gsub("\n", " ")
  if code == 2 then
    T.ok(true, "# SKIP " .. why)
    T.done()
  end
  error("nginx did not start: " .. why)
end
local function port(name) return T.read_file(dir .. "/" .. name):match("%d+") end
local cert = dir .. "/cert.pem"
local function stop_nginx() os.execute("sh tests/tools/nginx-run.sh stop " .. T.quote(dir)) end

-- Each answer names its connection; n requests at once, one task each.
local function cancel_all(client, n)
  local tasks, answers = {}, {}
  for i = 1, n do
    tasks[i] = task.spawn(function()
      local run, err, resp = client.runs.cancel("thread_" .. i, "run_" .. i)
      answers[i] = run and resp.headers or tostring(err)
    end)
  end
  for _, t in ipairs(tasks) do task.join(t) end
  return answers
end

local function count(answers, header)
  local seen, distinct, failed = {}, 0, nil
  for _, a in ipairs(answers) do
    if type(a) ~= "table" then failed = failed or a
    elseif not seen[a[header]] then seen[a[header]] = true; distinct = distinct + 1 end
  end
  return distinct, seen, failed
end

-- The checks; nginx is stopped whatever happens in them.
local function checks()
  local h2 = runctl.client { api_key = "sk-test-h2", base_url = "https://127.0.0.1:" .. port("tls_port") .. "/v1",
                             ca_file = cert, max_retries = 0, max_concurrency = 32 }
  local answers = cancel_all(h2, 32)
  local conns, seen, failed = count(answers, "x-connection")
  T.is(failed, nil, "32 concurrent cancels over TLS all succeed")
  T.is(conns, 1, "they share one connection")
  local _, protocols = count(answers, "x-protocol")
  T.ok(protocols["HTTP/2.0"] and not protocols["HTTP/1.1"], "multiplexed over HTTP/2")
  local first_conn = type(answers[1]) == "table" and answers[1]["x-connection"]
  conns, seen = count(cancel_all(h2, 32), "x-connection")
  T.ok(conns == 1 and seen[first_conn], "a second batch reuses that connection")

  -- Up to the server's stream limit (nginx: 128), not libcurl's default 100.
  local wide = runctl.client { api_key = "sk-test-h2", base_url = "https://127.0.0.1:" .. port("tls_port") .. "/v1",
                               ca_file = cert, max_retries = 0, max_concurrency = 120 }
  conns, _, failed = count(cancel_all(wide, 120), "x-connection")
  T.ok(failed == nil and conns == 1, "120 concurrent cancels share one connection too", tostring(failed) .. " " .. conns)

  -- One request per connection (the server closes each): every connection
  -- after the first resumes the first one's TLS session, on any easy handle.
  local close = runctl.client { api_key = "sk-test-h2", base_url = "https://127.0.0.1:" .. port("close_port") .. "/v1",
                                ca_file = cert, max_retries = 0 }
  local first = cancel_all(close, 1)
  T.is(type(first[1]) == "table" and first[1]["x-session-reused"], ".", "the first TLS connection is a full handshake")
  answers = cancel_all(close, 4)
  conns, _, failed = count(answers, "x-connection")
  T.ok(failed == nil and conns == 4, "four requests at once open four connections here", tostring(failed))
  local resumed = 0
  for _, a in ipairs(answers) do
    if type(a) == "table" and a["x-session-reused"] == "r" then resumed = resumed + 1 end
  end
  T.is(resumed, 4, "each of them resumes the shared TLS session")

  -- Plain HTTP stays HTTP/1.1 with its own keep-alive connections.
  local plain = runctl.client { api_key = "sk-test-h2", base_url = "http://127.0.0.1:" .. port("plain_port") .. "/v1",
                                max_retries = 0 }
  answers = cancel_all(plain, 4)
  local _, plain_protocols, plain_failed = count(answers, "x-protocol")
  T.ok(plain_failed == nil and plain_protocols["HTTP/1.1"] and not plain_protocols["HTTP/2.0"],
       "plain HTTP requests go out as HTTP/1.1", tostring(plain_failed))
end

local ok_run, err_run = pcall(checks)
stop_nginx()
assert(ok_run, err_run)
T.done()
