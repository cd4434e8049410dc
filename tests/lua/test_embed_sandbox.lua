-- tests/lua/test_embed_sandbox.lua — the sandbox, through examples/sandbox-host
-- (one sandbox, scripts run one after another): each limit stops a hostile
-- script with a clear error, a pcall cannot swallow it, tasks the script
-- spawns are limited too, and the host then runs the next script fine. Also
-- the host allow-list for requests (userinfo, ports, IPv6, case, numeric IPv4)
-- and that no API key is reachable from a script.
local T = require "helper"
local E = require "embed"

local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local PORT = fake.port
local HOST = E.wrap .. " " .. E.build .. "/sandbox-host"
local ENV = { OPENAI_API_KEY = E.KEY, OPENAI_BASE_URL = fake.base }

local function script(code) return T.write_file(code) end

-- Lua's message for a nil value used as op; LuaJIT (EMBED_BUILD=build-luajit)
-- words it "attempt to index global 'io' (a nil value)".
local function nil_value(op, what)
  if E.luajit then return ("attempt to %s %s %%(a nil value%%)"):format(op, what) end
  return ("attempt to %s a nil value %%(%s%%)"):format(op, what)
end

-- Runs the sandbox host with flags over the scripts (name -> code, in order
-- of the list); returns a table path -> outcome line, the raw output, the code.
local function host(flags, list)
  local paths, by_name = {}, {}
  for i, item in ipairs(list) do
    paths[i] = script(item[2])
    by_name[paths[i]] = item[1]
  end
  local out, err, code = E.sh(HOST .. " " .. flags .. " " .. table.concat(paths, " "), ENV)
  local result = {}
  for line in out:gmatch("[^\n]+") do
    local path, rest = line:match("^(%S+): (.*)$")
    if path and by_name[path] then result[by_name[path]] = rest end
  end
  return result, out .. err, code
end

local GOOD = { "good", "assert(json.encode({ 1, 2 }) == '[1,2]')" }

---------------------------------------------------------------------- instructions

local r, all, code = host("--instructions 2000000", {
  { "loop", "while true do end" },
  GOOD,
  { "pcall", "while true do pcall(function() while true do end end) end" },
  { "spawned", "task.spawn(function() local n = 0 while true do n = n + 1 end end)" },
  { "coroutine", "local co = coroutine.wrap(function() while true do end end) co()" },
  { "good2", GOOD[2] },
})
T.like(r.loop, "^error: .*sandbox: instruction limit exceeded %(2000000 instructions%)$",
       "an endless loop is stopped by the instruction limit", all)
T.is(r.good, "ok", "the next script in the same sandbox runs fine")
T.like(r.pcall, "instruction limit exceeded", "a pcall around the loop cannot swallow the limit")
T.like(r.spawned, "instruction limit exceeded", "a task the script spawned is limited too (it inherits the hook)")
T.like(r.coroutine, "instruction limit exceeded", "so is a plain coroutine")
T.is(r.good2, "ok", "and the host still runs scripts after all of them")
T.is(code, 1, "the host exits 1 since some scripts failed, having run them all")

---------------------------------------------------------------------- time

r, all = host("--seconds 0.3", {
  { "spin", "while true do end" },
  { "sleep", "task.sleep(3600)" },
  { "sleep_then_spin", "task.sleep(0.5) while true do end" },
  GOOD,
})
T.like(r.spin, "^error: .*sandbox: time limit exceeded %(0%.3 s%)$", "a busy loop is stopped by the time limit", all)
T.like(r.sleep, "^error: sandbox: time limit exceeded %(0%.3 s%)$",
       "so is a script asleep past it (waiting counts too)")
T.like(r.sleep_then_spin, "time limit exceeded", "and one that wakes up after it")
T.is(r.good, "ok", "the next script runs (the sleep ended with the run its limit stopped)")

r, all = host("--seconds 0.3 --frame-loop", {
  { "spin", "while true do end" },
  { "sleep", "task.sleep(3600)" },
  GOOD,
})
T.like(r.spin, "time limit exceeded", "driven from a frame loop (runctl_poll(L, 0)): a busy loop is stopped", all)
T.like(r.sleep, "time limit exceeded", "and a long sleep too, reported by runctl_sandbox_status")
T.is(r.good, "ok", "then the next script runs")

---------------------------------------------------------------------- memory

r, all = host("--memory 3000000", {
  { "table", "local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end" },
  GOOD,
  { "hoard", "local keep = {}\n"
             .. "while true do pcall(function() for i = 1, 1e8 do keep[#keep + 1] = ('y'):rep(200) .. i end end) end" },
  { "bigstring", "local s = ('x'):rep(1e9)" },
  { "concat", "local s = 'x' while true do s = s .. s end" },
  { "churn", "local n = 0\nfor i = 1, 300 do local s = ('z'):rep(100000) .. i n = n + #s end\nassert(n > 3e7)" },
  -- 800 KB of garbage an iteration: LuaJIT's collector, paced by objects, falls
  -- behind such a loop unless the sandbox collects for it (collect_soon).
  { "churn_big", "local n = 0\nfor i = 1, 300 do local s = ('z'):rep(400000) .. i n = n + #s end\nassert(n > 1e8)" },
  { "good2", GOOD[2] },
})
T.like(r.table, "^error: sandbox: memory limit exceeded %(3000000 bytes%)$", "a growing table is stopped by the memory limit", all)
T.is(r.good, "ok", "the next script runs (the memory came back)")
T.like(r.hoard, "memory limit exceeded", "catching the memory error and hoarding more does not help")
T.like(r.bigstring, "memory limit exceeded", "a 1 GB string.rep is refused")
T.like(r.concat, "memory limit exceeded", "so is doubling a string forever")
T.is(r.churn, "ok", "a script that makes 30 MB of garbage but holds little stays under a 3 MB limit")
T.is(r.churn_big, "ok", "  ... and one that makes 240 MB of it in 400 KB strings")
T.is(r.good2, "ok", "and the sandbox is still usable at the end")

---------------------------------------------------------------------- globals

r, all = host("", {
  { "io", "io.open('/etc/passwd')" },
  { "execute", "os.execute('true')" },
  { "require", "require 'os'" },
  { "dofile", "dofile('/etc/passwd')" },
  { "debug", "debug.getregistry()" },
  { "gc", "setmetatable({}, { __gc = function() while true do end end })" },
  { "string_meta", "getmetatable('').__index.find = function() end" },
  { "binary", "assert(load('\\27Lua\\84\\0'))" },
})
T.like(r.io, nil_value("index", "global 'io'"), "no io", all)
T.like(r.execute, nil_value("call", "field 'execute'"), "no os.execute")
T.like(r.require, nil_value("call", "global 'require'"), "no require (no package loaders)")
T.like(r.dofile, nil_value("call", "global 'dofile'"), "no dofile")
T.like(r.debug, nil_value("index", "global 'debug'"), "no debug")
T.like(r.gc, "sandbox: setmetatable: metatables with __gc are not allowed",
       "no __gc finalizers (they would run with the limits off)")
T.like(r.string_meta, "attempt to index a nil value", "the string metatable is out of reach")
T.like(r.binary, E.luajit and "attempt to load chunk with wrong mode" or "attempt to load a binary chunk",
       "load refuses binary chunks")

-- runctl's own metatables are out of reach, so no finalizer (or anything
-- else) can be smuggled into them: an error object's leads nowhere.
r, all = host("--allow-host 127.0.0.1:1", {
  { "poison", "local _, err = http.request { url = 'http://127.0.0.1:1/' }\n"
              .. "assert(runctl.is_error(err), 'a connection error object')\n"
              .. "err.__index.__gc = function() while true do end end" },
})
T.like(r.poison, nil_value("index", "field '__index'"), "runctl's Error metatable is out of a script's reach", all)

---------------------------------------------------------------------- hosts

local function url(path) return ("http://127.0.0.1:%s%s"):format(PORT, path) end
local function get(u) return ("local r, err = http.request { url = %q }\nassert(r, tostring(err))"):format(u) end
local function refused(u) return ("http.request { url = %q }"):format(u) end

r, all = host("--allow-host 127.0.0.1:" .. PORT .. " --allow-host LOCALHOST:" .. PORT .. " --allow-host '*.example.test'", {
  { "allowed", get(url("/v1/threads/thread_main/runs")) },
  { "client", "local run = assert(runs.retrieve('thread_main', 'run_failed'))\nassert(run.status == 'failed')" },
  { "spawned", "local t = task.spawn(function() return assert(runs.retrieve('thread_main', 'run_queued')).id end)\n"
               .. "local ok, id = task.join(t) assert(ok and id == 'run_queued', tostring(id))" },
  { "other_port", refused("http://127.0.0.1:1/") },
  { "other_host", refused("http://127.0.0.2:" .. PORT .. "/") },
  { "userinfo", refused("http://127.0.0.1:" .. PORT .. "@evil.example/") },
  { "fragment", refused("http://evil.example#@127.0.0.1:" .. PORT .. "/") },
  { "lookalike", refused("http://127.0.0.1.evil.example:" .. PORT .. "/") },
  { "ipv6", refused("http://[::1]:" .. PORT .. "/") },
  { "case", get("http://LocalHost:" .. PORT .. "/v1/threads/thread_main/runs") },
  { "dot", ("local r, err = http.request { url = %q }\n"
            .. "assert(r or err.kind == 'connection', 'passed the policy: ' .. tostring(err))")
           :format("http://localhost.:" .. PORT .. "/") },
  { "numeric", get("http://2130706433:" .. PORT .. "/v1/threads/thread_main/runs") },
  { "user_ok", get("http://someone:pw@127.0.0.1:" .. PORT .. "/v1/threads/thread_main/runs") },
  { "wildcard", "local r, err = http.request { url = 'http://api.example.test/', connect_timeout = 1 }\n"
                .. "assert(r == nil and err.kind == 'connection', 'allowed, then no such host: ' .. tostring(err))" },
  { "wildcard_apex", refused("http://example.test/") },
  { "wildcard_suffix", refused("http://evilexample.test/") },
  { "client_base", "local c = runctl.client { base_url = 'http://evil.example/v1' }\nc.runs.cancel('thread_main', 'run_queued')" },
  { "ca_file", "http.request { url = " .. ("%q"):format(url("/")) .. ", ca_file = '/etc/passwd' }" },
})
T.is(r.allowed, "ok", "http.request reaches an allowed host:port", all)
T.is(r.client, "ok", "so does the default client (OPENAI_BASE_URL on an allowed host)")
T.is(r.spawned, "ok", "and a request from a spawned task")
T.like(r.other_port, "^error: sandbox: requests to 127%.0%.0%.1:1 are not allowed %(the host is not in the sandbox's allow%-list%)$",
       "another port of an allowed host is refused, with a clear error")
T.like(r.other_host, "requests to 127%.0%.0%.2:" .. PORT .. " are not allowed", "another host is refused")
T.like(r.userinfo, "requests to evil%.example:80 are not allowed", "host:port@evil: the host is what follows the userinfo")
T.like(r.fragment, "requests to evil%.example:80 are not allowed", "evil#@allowed: the fragment does not name the host")
T.like(r.lookalike, "requests to 127%.0%.0%.1%.evil%.example:" .. PORT .. " are not allowed", "an allowed name as a prefix is refused")
T.like(r.ipv6, "requests to %[::1%]:" .. PORT .. " are not allowed", "an IPv6 literal is checked without its brackets")
T.is(r.case, "ok", "host names match without regard to case")
T.is(r.dot, "ok", "nor to a trailing dot")
T.is(r.numeric, "ok", "a numeric IPv4 form is checked as the address curl connects to (127.0.0.1)")
T.is(r.user_ok, "ok", "userinfo before an allowed host is fine")
T.is(r.wildcard, "ok", "*.example.test allows a subdomain")
T.like(r.wildcard_apex, "requests to example%.test:80 are not allowed", "but not the domain itself")
T.like(r.wildcard_suffix, "requests to evilexample%.test:80 are not allowed", "nor a name that merely ends the same")
T.like(r.client_base, "requests to evil%.example:80 are not allowed", "a client pointed elsewhere cannot send its key there")
T.like(r.ca_file, "ca_file is not allowed", "a script may not name a CA file")

r, all = host("", { { "none", refused(url("/")) } })
T.like(r.none, "requests to 127%.0%.0%.1:" .. PORT .. " are not allowed", "with no allowed hosts nothing can be reached", all)

---------------------------------------------------------------------- blocking

-- Where a call cannot yield (a plain coroutine, a sort comparator) it would
-- block the host, outside every limit: a sandbox raises instead.
fake:clear()
r, all = host("--allow-host 127.0.0.1:" .. PORT, {
  { "co_sleep", "coroutine.wrap(function() task.sleep(3600) end)()" },
  { "co_request", ("coroutine.wrap(function() http.request { url = %q } end)()"):format(url("/v1/threads/thread_main/runs")) },
  { "sort_join", "local t = task.spawn(function() end)\n"
                 .. "table.sort({ 3, 2, 1 }, function(a, b) task.join(t) return a < b end)" },
  { "hijack", "local victim\n"
              .. "task.spawn(function() victim = coroutine.running() task.sleep(0.2) end)\n"
              .. "task.sleep(0.01)\nassert(coroutine.resume(victim))\ntask.sleep(0.3)" },
  GOOD,
})
T.like(r.co_sleep, "sandbox: this call cannot wait here", "task.sleep in a plain coroutine raises instead of blocking", all)
T.like(r.co_request, "sandbox: this call cannot wait here", "so does a request there")
T.is(#fake:requests(), 0, "and that request was never sent")
-- (LuaJIT refuses the yield itself: it cannot yield across table.sort's C call)
T.like(r.sort_join, E.luajit and "attempt to yield across C%-call boundary" or "sandbox: this call cannot wait here",
       "and task.join in a sort comparator")
T.ok(r.hijack ~= nil, "a task's coroutine resumed by hand outside the scheduler: the run ends (" .. tostring(r.hijack) .. ")")
T.is(r.good, "ok", "the host went on to the next script in the same sandbox")

---------------------------------------------------------------------- secrets

-- After a request (so every cache exists), walk everything a script can reach.
r, all = host("--allow-host 127.0.0.1:" .. PORT, {
  { "key_hunt", ([[
local key = %q
assert(runs.retrieve("thread_main", "run_failed"))
assert(runctl.client { api_key = key .. "-2" }.runs.retrieve("thread_main", "run_failed"))
local seen, found = {}, {}
local function walk(v, path)
  if type(v) == "string" then
    if v:find(key, 1, true) then found[#found + 1] = path end
    return
  end
  if type(v) ~= "table" or seen[v] then return end
  seen[v] = true
  for k, x in next, v do
    walk(k, path .. "[key]")
    walk(x, path .. "." .. tostring(k))
  end
  local mt = getmetatable(v)
  if type(mt) == "table" then walk(mt, path .. "<mt>") end
end
walk(_G, "_G")
assert(#found == 0, "the API key is reachable at " .. table.concat(found, ", "))
assert(os.getenv == nil)
]]):format(E.KEY) },
})
T.is(r.key_hunt, "ok", "no API key is reachable from a script's globals, caches included", all)

T.done()
