-- tests/lua/test_badinput.lua — every invalid argument to every binding raises
-- a clear message naming the argument (never a crash), and hostile IDs never
-- change the URL path or inject a header.
local T = require "helper"
local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local c = fake:client()

local cases = {
  -- runs.*
  { function() c.runs.cancel() end, "runs%.cancel: thread_id must be a string %(got nil%)" },
  { function() c.runs.cancel("t") end, "runs%.cancel: run_id must be a string %(got nil%)" },
  { function() c.runs.cancel("t", "r", "fast") end, "runs%.cancel: opts must be a table %(got string%)" },
  { function() c.runs.cancel("t", "r", { timeout = "5" }) end, "runs%.cancel: timeout must be a positive number %(got string%)" },
  { function() c.runs.cancel("t", "r", { max_retries = 1.5 }) end, "max_retries must be a non%-negative integer" },
  { function() c.runs.cancel("t", "r", { max_bytes = -1 }) end, "max_bytes must be a non%-negative integer" },
  { function() c.runs.cancel("t", "r", { headers = "x" }) end, "headers must be a table %(got string%)" },
  { function() c.runs.cancel("t", "r", { headers = { [1] = "x" } }) end, "header name \"1\" is not a valid token" },
  { function() c.runs.cancel("t", "r", { headers = { ["Bad Name"] = "x" } }) end, "header name \"Bad Name\" is not a valid token" },
  { function() c.runs.cancel("t", "r", { headers = { ["X-A"] = {} } }) end, "header 'X%-A' must be a string %(got table%)" },
  { function() c.runs.cancel("t", "r", { idempotency_key = "a\nb" }) end, "idempotency_key must not contain CR, LF or NUL" },
  { function() c.runs.cancel("t", "r", { query = { a = {} } }) end, "query value 'a' must be a string, number or boolean" },
  { function() c.runs.cancel("t", "r", { query = { [1] = "x" } }) end, "query keys must be strings" },
  { function() c.runs.retrieve("t", true) end, "runs%.retrieve: run_id must be a string %(got boolean%)" },
  { function() c.runs.list() end, "runs%.list: thread_id must be a string %(got nil%)" },
  { function() c.runs.list("t", { limit = "10" }) end, "runs%.list: limit must be an integer from 1 to 100 %(got \"10\"%)" },
  { function() c.runs.list("t", { limit = 101 }) end, "limit must be an integer from 1 to 100 %(got 101%)" },
  { function() c.runs.list("t", { before = 5 }) end, "before must be a non%-empty ID string %(got 5%)" },
  { function() c.runs.list("t", nil, 5) end, "runs%.list: opts must be a table %(got number%)" },
  { function() c.runs.each() end, "runs%.each: id must be a string %(got nil%)" },
  { function() c.runs.each("t", { order = 1 }) end, "runs%.each: order must be" },
  { function() c.runs.wait("t", "r", 5) end, "runs%.wait: options must be a table" },
  { function() c.runs.wait("t", "r", { timeout = "1" }) end, "runs%.wait: timeout must be a non%-negative number" },
  { function() c.runs.wait("t", "r", { interval = 0 }) end, "runs%.wait: interval must be a positive number" },
  { function() c.runs.wait(nil, "r") end, "runs%.wait: id must be a string %(got nil%)" },
  -- clients and c:request
  { function() runctl.client { base_url = 5 } end, "runctl%.client: base_url must be a string %(got number%)" },
  { function() runctl.client { timeout = 0 } end, "runctl%.client: timeout must be a positive number" },
  { function() runctl.client { headers = { ["X-A"] = "1\r\n" } } end, "runctl%.client: header 'X%-A' must not contain CR, LF or NUL" },
  { function() runctl.client { api_key = "sk-1\r\nX-Evil: 1" } end, "api_key contains a control character" },
  { function() runctl.client { organization = "org\nX" } end, "organization and project must not contain CR, LF or NUL" },
  { function() c.request({ path = "/x" }) end, "client:request: call it with a colon" },
  { function() c:request() end, "client:request: expected a table" },
  { function() c:request { path = "x" } end, "path must be a string starting with '/'" },
  { function() c:request { path = "/x?y=1" } end, "path must be a string starting with '/'.-'%?'" },
  { function() c:request { path = "/x y" } end, "without spaces" },
  { function() c:request { path = "/x", method = "get" } end, "method must be an upper%-case HTTP method" },
  { function() c:request { path = "/x", body = 5 } end, "body must be a string or a table %(got number%)" },
  { function() c:request { path = "/x", body = { f = print } } end, "body: json%.encode: cannot encode a function" },
  { function() c:request { path = "/x", tiemout = 1 } end, "client:request: unknown option 'tiemout'" },
  { function() runctl.client { api_key = "sk-test", base_url = "ftp://x" }.runs.retrieve("t", "r") end,
    "base_url must start with http:// or https://" },
  -- http.request
  { function() http.request() end, "http%.request: expected a table" },
  { function() http.request {} end, "http%.request: url is required" },
  { function() http.request { url = "file:///etc/passwd" } end, "http%.request: url must be an http:// or https:// URL" },
  { function() http.request { url = "http://127.0.0.1/a\r\nb" } end, "without spaces or control characters" },
  { function() http.request { url = "http://127.0.0.1/", method = "G T" } end, "method must be an upper%-case HTTP method" },
  { function() http.request { url = "http://127.0.0.1/", body = {} } end, "http%.request: body must be a string %(got table%)" },
  { function() http.request { url = "http://127.0.0.1/", timeout = -1 } end, "http%.request: timeout must be a positive number" },
  { function() http.request { url = "http://127.0.0.1/", headers = { ["X"] = "a\nb" } } end, "must not contain CR, LF or NUL" },
  { function() http.request { url = "http://127.0.0.1/", bogus = 1 } end, "http%.request: unknown option 'bogus'" },
  -- json, task, misc
  { function() json.decode() end, "bad argument #1 to 'decode'" },
  { function() json.decode({}) end, "bad argument #1 to 'decode' %(string expected, got table%)" },
  { function() json.array(5) end, "bad argument #1 to 'array' %(table expected, got number%)" },
  { function() task.spawn() end, "bad argument #1 to 'spawn' %(function expected, got no value%)" },
  { function() task.join("t") end, "bad argument #1 to 'join' %(runctl%.task expected, got string%)" },
  { function() task.sleep(0 / 0) end, "bad argument #1 to 'sleep' %(must be a finite, non%-negative number of seconds%)" },
  { function() task.sleep(math.huge) end, "must be a finite" },
  { function() task.map(nil, print) end, "task%.map: items must be a table %(got nil%)" },
  { function() task.map({}, nil) end, "task%.map: fn must be a function %(got nil%)" },
  { function() task.map({}, print, 3) end, "task%.map: options must be a table" },
  { function() runctl.escape_id("") end, "runctl%.escape_id: id must not be empty" },
  { function() runctl.isatty("tty") end, "runctl%.isatty: expected" },
}
for i, case in ipairs(cases) do
  local ok, err = pcall(case[1])
  T.ok(not ok and tostring(err):find(case[2]) ~= nil,
       ("bad input %d raises: %s"):format(i, case[2]:gsub("%%", "")), tostring(err))
end
T.is(#fake:requests(), 0, "no bad input ever reached the server")

-- errors point at the caller's line, not at runctl's own code
local ok, err = pcall(function() c.runs.list("t", { limit = 0 }) end)
T.like(tostring(err), "^tests/lua/test_badinput%.lua:%d+: ", "the message blames the calling line")
ok, err = pcall(function() c.runs.cancel("", "r") end)
T.like(tostring(err), "^tests/lua/test_badinput%.lua:%d+: ", "ID errors blame the calling line too")

-- hostile IDs never change the path or inject a header
local hostile = { "../x", "a/b", "?x=1", "x\r\nX-Injected: 1", "x\nHost: evil.example", ("A"):rep(1024), "%2e%2e" }
local function shown(id)
  return (id:sub(1, 30):gsub("%c", function(ch) return ("\\%d"):format(ch:byte()) end))
end
for _, id in ipairs(hostile) do
  fake:clear()
  c.runs.cancel("thread_main", id)
  local req = fake:last()
  local seg = req and req.path:match("^/v1/threads/thread_main/runs/([^/]+)/cancel$")
  T.ok(seg ~= nil, ("hostile ID '%s' stays one segment of the cancel path"):format(shown(id)), req and req.path)
  T.ok(req and T.header(req, "x-injected") == nil and T.header(req, "host") == "127.0.0.1:" .. fake.port,
       ("hostile ID '%s' injects no header"):format(shown(id)))
end
T.raises(function() c.runs.cancel("thread_main", ("A"):rep(1024 * 1024)) end, "run_id is too long",
         "a 1 MiB ID is refused with a clear error")

T.done()
