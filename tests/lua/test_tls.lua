-- tests/lua/test_tls.lua — TLS verification is always on: a self-signed server
-- is refused unless its certificate is given as ca_file (client or request).
local T = require "helper"
local dir = os.getenv("TEST_TMPDIR") or "/tmp"
local cert, key = dir .. "/tls-cert.pem", dir .. "/tls-key.pem"
local ok = os.execute(("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
  .. "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1"):format(key, cert))
assert(ok, "openssl could not make a test certificate")
local log = dir .. "/s_server.out"
os.remove(log)          -- an earlier run may have left one: never read its port
local p = io.popen(("openssl s_server -accept 127.0.0.1:0 -cert %s -key %s -www < /dev/null > %s 2>&1 & echo $!")
                   :format(cert, key, log))
local pid = p:read("l")
p:close()
local port
for _ = 1, 500 do
  port = (T.read_file(log) or ""):match("ACCEPT 127%.0%.0%.1:(%d+)")
  if port then break end
  task.sleep(0.01)
end
assert(port, "openssl s_server did not start")
local url = "https://127.0.0.1:" .. port .. "/"

local resp, err = http.request { url = url, timeout = 10 }
T.is(resp, nil, "a self-signed server is refused by default")
T.is(err and err.kind, "connection", "as a connection error")
T.like(err and err.message, "[Cc]ertificate", "naming the certificate problem")

resp, err = http.request { url = url, timeout = 10, ca_file = cert }
T.is(resp and resp.status, 200, "with its certificate as ca_file the request goes through", tostring(err))

local c = runctl.client { api_key = "sk-test-tls", base_url = "https://127.0.0.1:" .. port .. "/v1", max_retries = 2 }
local run
run, err = c.runs.retrieve("t", "r")
T.ok(run == nil and err.kind == "connection" and err.attempts == 1,
     "a client refuses it too, without retrying a verification failure", tostring(err))
c = runctl.client { api_key = "sk-test-tls", base_url = "https://127.0.0.1:" .. port .. "/v1", ca_file = cert,
                    max_retries = 0 }
run, err = c.runs.retrieve("t", "r")
T.ok(err and err.kind ~= "connection", "a client with ca_file completes the handshake (the page is not JSON)", tostring(err))
-- The engine reuses the handle that request used: its ca_file must not carry over.
resp, err = http.request { url = url, timeout = 10 }
T.is(resp, nil, "the next request without ca_file is refused again (the earlier ca_file did not carry over)")
T.like(err and err.message, "[Cc]ertificate", "for its certificate")
T.raises(function() runctl.client { ca_file = 5 } end, "ca_file must be a string", "ca_file is checked")

os.execute("kill " .. pid .. " 2>/dev/null")
T.done()
