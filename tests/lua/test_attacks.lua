-- tests/lua/test_attacks.lua — runctl tried as an attacker would: a script
-- hunting for the API key (through clients, metatables, errors, responses),
-- sandboxed scripts trying to freeze the host past its limits, to reach a
-- host outside the allow-list (proxies, loopback spellings, redirects), or
-- to change what the next script in the same sandbox does. Each test names
-- the attack it stops.
local T = require "helper"
local E = require "embed"

local KEY = E.KEY
local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local other = T.fake()          -- a host that is not allowed (a would-be proxy, a redirect target)
local PORT = fake.port
local SANDBOX = E.wrap .. " " .. E.build .. "/sandbox-host"

-- Every string reachable from v without the debug library (fields, keys,
-- metatables, pairs, tostring); returns the paths where needle shows.
local function hunt(v, needle)
  local seen, found = {}, {}
  local function walk(x, path)
    if type(x) == "string" then
      if x:find(needle, 1, true) then found[#found + 1] = path end
      return
    end
    if type(x) ~= "table" and type(x) ~= "userdata" and type(x) ~= "function" then return end
    if seen[x] then return end
    seen[x] = true
    walk(tostring(x), path .. "<tostring>")
    if type(x) ~= "table" then return end
    for k, y in next, x do walk(k, path .. "[key]") walk(y, path .. "." .. tostring(k)) end
    local ok, iter, state, init = pcall(pairs, x)
    if ok then for k, y in iter, state, init do walk(k, path .. "[pairs key]") walk(y, path .. ":" .. tostring(k)) end end
    walk(getmetatable(x), path .. "<mt>")
  end
  walk(v, "v")
  return found
end

---------------------------------------------------------------------- secrets, no sandbox

local c = runctl.client { api_key = KEY, base_url = fake.base, max_retries = 0 }
local run, _, resp = c.runs.retrieve("thread_main", "run_failed")
assert(run, "the fake server answers")
local _, err = c.runs.retrieve("thread_main", "run_nope")
local _, terr = runctl.client { api_key = KEY, base_url = "http://127.0.0.1:1/v1", max_retries = 0 }
                  .runs.retrieve("thread_main", "run_nope")
c:request { method = "POST", path = "/threads/thread_main/runs/run_queued/cancel", headers = { ["X-A"] = "1" } }
T.is(T.header(fake:last(), "authorization"), "Bearer " .. KEY, "the client does send its key (so the hunt below can fail)")
T.is(#hunt({ c, run, resp, err, terr }, KEY), 0,
     "no field, key, metatable, pairs entry or tostring of a client, a result, a resp or an error holds the key")
T.is(getmetatable(c), "runctl.client", "a client's metatable is locked (getmetatable answers a name)")
-- A server that echoes the key it was sent (in a refusal's text, a success's
-- body, a header): the answer reaches scripts, tools and logs with it masked.
fake:faults {
  { path = "/threads/thread_main/runs/run_failed", status = 401, count = 1,
    body = '{"error":{"message":"Incorrect API key provided: ' .. KEY .. '.","type":"invalid_request_error"}}' },
  { path = "/threads/thread_main/runs/run_queued", status = 200, count = 1, headers = { ["x-echo"] = "Bearer " .. KEY },
    body = '{"id":"run_queued","object":"thread.run","thread_id":"thread_main","status":"queued","note":"' .. KEY .. '"}' },
}
local _, eerr = c.runs.retrieve("thread_main", "run_failed")
local erun, _, eresp = c.runs.retrieve("thread_main", "run_queued")
T.is(#hunt({ eerr, erun, eresp, eresp and eresp.headers }, KEY), 0,
     "an answer echoing the key (401 text, 200 body, a header) reaches the script without it")
T.like(eerr and eerr.message, "Incorrect API key provided: %*%*%*%*", "  the echo is masked with '*'")
T.is(erun and erun.status, "queued", "  and the masked body still decodes")
fake:faults { { path = "/threads/thread_main/runs/run_failed/cancel", status = 401, count = 1,
                body = '{"error":{"message":"Incorrect API key provided: ' .. KEY .. '."}}' } }
local echo_out, echo_err = T.run("-v cancel thread_main/run_failed",
                          { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base })
T.like(echo_err, "Incorrect API key provided", "runctl cancel shows a refusal that echoed the key")
T.ok(not (echo_out .. echo_err):find(KEY, 1, true), "  without the key, on stdout, stderr or the -v log")
fake:clear_faults()
T.is(next(c), nil, "a client has no raw fields to read")
T.raises(function() c.runs = {} end, "read%-only", "a client's fields cannot be replaced")
T.raises(function() c.runs.retrieve = print end, "read%-only", "nor its resources' functions")
T.raises(function() setmetatable(c, nil) end, "protected metatable", "nor its metatable")
T.raises(function() c.request({}, { path = "/x" }) end, "call it with a colon",
         "client:request on a table that is not a client refuses (no state to borrow)")
T.like(tostring(c), "^runctl client %(http://127%.0%.0%.1:%d+/v1%)$", "tostring of a client names its base URL only")
-- The sender cache a client once had: replaced by a script's function, it
-- was handed the header lines, credentials included, on calls with opts.headers.
local stolen = {}
local function thief(_, _, extra)
  stolen[#stolen + 1] = extra
  return nil, { kind = "connection", message = "stolen", attempts = 1 }
end
pcall(function() c._senders[false] = thief c._senders[""] = thief end)
pcall(rawset, c, "_senders", setmetatable({}, { __index = function() return thief end }))
c.runs.retrieve("thread_main", "run_failed", { headers = { ["X-B"] = "1" } })
c.runs.retrieve("thread_main", "run_failed")
T.is(#hunt(stolen, KEY), 0, "a function planted in a client's sender cache is never handed the credential line")
T.is(getmetatable(err), "runctl.error", "an error object's metatable is locked too")
T.is(err.__index, nil, "and leads nowhere (no __index back to the shared metatable)")
T.ok(runctl.is_error(err) and runctl.is_error(terr), "is_error still knows runctl's errors")
local loaded = 0
for name, mod in pairs(package.loaded) do
  if type(name) == "string" and name:find("^runctl") then
    loaded = loaded + 1
    T.is(#hunt(mod, KEY), 0, "no key reachable from require \"" .. name .. "\"")
  end
end
T.ok(loaded >= 5, "the modules were walked (" .. loaded .. ")")

---------------------------------------------------------------------- the sandbox

-- Runs the sandbox host over scripts {name, code} in one sandbox; returns
-- name -> outcome line, the whole output, the exit code.
local function host(flags, list, env)
  local paths, by_name = {}, {}
  for i, item in ipairs(list) do
    paths[i] = T.write_file(item[2])
    by_name[paths[i]] = item[1]
  end
  local e = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base }
  for k, v in pairs(env or {}) do e[k] = v end
  local out, errout, code = E.sh(SANDBOX .. " " .. flags .. " " .. table.concat(paths, " "), e)
  local result = {}
  for line in out:gmatch("[^\n]+") do
    local path, rest = line:match("^(%S+): (.*)$")
    if path and by_name[path] then result[by_name[path]] = rest end
  end
  return result, out .. errout, code
end

local GOOD = { "good", "assert(json.encode({ 1, 2 }) == '[1,2]')" }
local ALLOW = "--allow-host 127.0.0.1:" .. PORT

---------------------------------------------------------------------- limits

-- Code that would run forever where the limits' hook is off, if it could.
local FOREVER = "function() while true do end end"
local LIMIT_ATTACKS = {
  { "xpcall_handler", "xpcall(" .. FOREVER .. ", " .. FOREVER .. ")" },
  GOOD,
  { "xpcall_error", "xpcall(function() error('x') end, " .. FOREVER .. ")" },
  { "xpcall_nested", "xpcall(function() xpcall(" .. FOREVER .. ", " .. FOREVER .. ") end, " .. FOREVER .. ")" },
  { "close", "do local x <close> = setmetatable({}, { __close = " .. FOREVER .. " })\nwhile true do end end" },
  { "close_error", "local x <close> = setmetatable({}, { __close = " .. FOREVER .. " })\nerror('x')" },
  { "close_in_sort", "local x <close> = setmetatable({}, { __close = " .. FOREVER .. " })\n"
                     .. "table.sort({ 3, 2, 1 }, " .. FOREVER .. ")" },
  { "close_in_wrap", "coroutine.wrap(function() local x <close> = setmetatable({}, { __close = " .. FOREVER .. " })\n"
                     .. "while true do end end)()" },
  { "close_in_task", "task.spawn(function() local x <close> = setmetatable({}, { __close = " .. FOREVER .. " })\n"
                     .. "table.sort({ 3, 2, 1 }, " .. FOREVER .. ") end)" },
  { "close_suspended", "local co = coroutine.create(function() local x <close> = setmetatable({}, { __close = "
                       .. FOREVER .. " }) coroutine.yield() end)\ncoroutine.resume(co) coroutine.close(co)" },
  { "tostring_error", "error(setmetatable({}, { __tostring = " .. FOREVER .. " }))" },
  { "pcall_after_trip", "local n = 0\nwhile true do n = n + 1 pcall(" .. FOREVER .. ") end" },
  { "wrap_loop", "local co = coroutine.wrap(function() while true do coroutine.yield() end end)\n"
                 .. "while true do pcall(co) end" },
  { "coroutine_handler", "local co = coroutine.create(function() xpcall(" .. FOREVER .. ", " .. FOREVER .. ") end)\n"
                         .. "coroutine.resume(co) while true do coroutine.resume(co) end" },
  { "task_handler", "task.spawn(function() xpcall(" .. FOREVER .. ", " .. FOREVER .. ") end)" },
  { "sort_forever", "table.sort({ 3, 2, 1, 5, 4 }, function(a, b) while true do end end)" },
  { "gsub_forever", "('abc'):gsub('.', function() while true do end end)" },
  { "sleepers", "for i = 1, 50 do task.spawn(function() task.sleep(0.05) while true do end end) end\n"
                .. "while true do end" },
  { "good2", GOOD[2] },
}

for _, mode in ipairs { "--instructions 3000000", "--seconds 0.3", "--seconds 0.3 --frame-loop" } do
  local r, all = host(mode, LIMIT_ATTACKS)
  local want = mode:find("instructions") and "instruction limit exceeded" or "time limit exceeded"
  for _, item in ipairs(LIMIT_ATTACKS) do
    local name = item[1]
    if name:find("^good") then
      T.is(r[name], "ok", mode .. ": " .. name .. ": the next script in the same sandbox runs", all)
    elseif E.luajit and name:find("^close") then
      T.skip(1, "Lua 5.1 (LuaJIT) has no to-be-closed variables to attack with")
    else
      T.like(r[name], want, mode .. ": " .. name .. " is stopped by the limit, and the host carries on", all)
    end
  end
end

-- Once a limit tripped, nothing of that run executes again: not a message
-- handler, nor a __close, nor a task asleep when it tripped.
fake:clear()
local r, all = host("--instructions 2000000 " .. ALLOW, {
  { "after_trip", ([[
local function mark(what) http.request { url = %q .. what } end
task.spawn(function() task.sleep(0.2) mark("/sleeper-ran") end)
%s
xpcall(function() while true do end end, function() mark("/handler-ran") end)
mark("/after-ran")
]]):format("http://127.0.0.1:" .. PORT .. "/_mark", E.luajit and "-- (no <close> on Lua 5.1)"
               or 'local x <close> = setmetatable({}, { __close = function() mark("/close-ran") end })') },
  GOOD,
})
T.like(r.after_trip, "instruction limit exceeded", "a run that set up handlers, a __close and a sleeper trips", all)
T.is(r.good, "ok", "and the next one runs")
local reqs = {}
for _, q in ipairs(fake:requests()) do reqs[#reqs + 1] = q.path end
T.is(table.concat(reqs, " "), "", "no handler, __close, sleeper or later line of the tripped run sent anything")

---------------------------------------------------------------------- memory

r, all = host("--memory 3000000", {
  { "task_tree", "local function grow(n) if n > 0 then task.spawn(grow, n - 1) task.spawn(grow, n - 1) end return {} end\n"
                 .. "grow(30)" },
  GOOD,
  { "rep_sep", "local s = ('x'):rep(20000, ('y'):rep(1000))" },
  { "concat", "local t = {} for i = 1, 1e7 do t[i] = 'abcdefgh' .. i end\nlocal s = table.concat(t)" },
  { "recursion", "local function f(n) return 1 + f(n + 1) end\nf(1)" },
  { "good2", GOOD[2] },
})
T.like(r.task_tree, "^error: sandbox: memory limit exceeded %(3000000 bytes%)$",
       "a task.spawn storm that fills memory in the scheduler is reported as the memory limit", all)
T.is(r.good, "ok", "and the next script runs")
T.like(r.rep_sep, "memory limit exceeded", "string.rep with a huge separator is refused")
T.like(r.concat, "memory limit exceeded", "a huge table.concat is refused")
T.like(r.recursion, E.luajit and "stack overflow" or "memory limit exceeded",
       "deep recursion hits the memory limit (or the stack's), not the host")
T.is(r.good2, "ok", "and the sandbox still works")

---------------------------------------------------------------------- hostile input

r, all = host("", {
  { "deep_json", "local v, e = json.decode(('['):rep(100000) .. (']'):rep(100000))\n"
                 .. "assert(v == nil and e, 'refused')" },
  { "cyclic_json", "local t = {} t[1] = t\nlocal v, e = json.encode(t)\nassert(v == nil and e, 'refused')" },
  { "deep_encode", "local t = {} for i = 1, 100000 do t = { t } end\nlocal v, e = json.encode(t)\nassert(v == nil and e, 'refused')" },
  { "deep_pattern", "local s = ('('):rep(300) .. ('a'):rep(10) .. (')'):rep(300)\n"
                    .. "local ok, e = pcall(string.find, 'aaaa', s)\nassert(not ok and e, 'refused')" },
  { "many_args", "local t = {} for i = 1, 500 do t[i] = i end\n"
                 .. "local h = task.spawn(function(...) return select('#', ...), ... end, table.unpack(t))\n"
                 .. "local res = table.pack(task.join(h))\n"
                 .. "assert(res[1] == true and res[2] == 500 and res.n == 502, 'all 500 arguments and results')\n"
                 .. "local ok, e = pcall(table.unpack, {}, 1, 1e8)\nassert(not ok and e:find('too many results'), e)" },
  { "many_headers", "local h = {} for i = 1, 10000 do h['x-h' .. i] = 'v' end\n"
                    .. "local ok, e = pcall(runs.retrieve, 't', 'r', { headers = h })\n"
                    .. "assert(not ok and e:find('too many headers'), e)" },
  { "long_key", "local ok, e = pcall(runs.cancel, 't', 'r', { idempotency_key = ('k'):rep(1e6) })\n"
                .. "assert(not ok and e:find('idempotency_key is too long'), e)\n"
                .. "ok, e = pcall(openai.request, openai, { path = '/threads', beta = ('b'):rep(1e6) })\n"
                .. "assert(not ok and e:find('OpenAI%-Beta value is too long'), e)" },
  GOOD,
})
T.is(r.many_args, "ok", "task.spawn and task.join with 500 arguments and results (and table.unpack of 1e8 refused)", all)
T.is(r.many_headers, "ok", "10,000 per-call headers raise a clear error")
T.is(r.long_key, "ok", "a 1 MB Idempotency-Key or OpenAI-Beta raises a clear error")
T.is(r.deep_json, "ok", "json.decode of 100,000 nested arrays returns nil, err", all)
T.is(r.cyclic_json, "ok", "json.encode of a cyclic table returns nil, err")
T.is(r.deep_encode, "ok", "json.encode of 100,000 nested tables returns nil, err")
T.is(r.deep_pattern, "ok", "a pattern with 300 captures raises a clear error")
T.is(r.good, "ok", "the host is alive after all of them")

---------------------------------------------------------------------- the allow-list

local function refused(u) return ("local r, e = http.request { url = %q, connect_timeout = 1 }"):format(u) end
r, all = host("--allow-host api.example.test", {
  { "decimal", refused("http://2130706433:" .. PORT .. "/") },
  { "hex", refused("http://0x7f000001:" .. PORT .. "/") },
  { "octal", refused("http://017700000001:" .. PORT .. "/") },
  { "short", refused("http://127.1:" .. PORT .. "/") },
  { "mapped", refused("http://[::ffff:127.0.0.1]:" .. PORT .. "/") },
  { "localhost", refused("http://localhost:" .. PORT .. "/") },
  { "zero", refused("http://0.0.0.0:" .. PORT .. "/") },
})
for _, name in ipairs { "decimal", "hex", "octal", "short", "mapped", "localhost", "zero" } do
  T.like(r[name], "not allowed", "loopback spelled " .. name .. " is refused when only api.example.test is allowed", all)
end

-- A redirect to a host that is not allowed is returned, never followed.
fake:faults { { path = "run_failed", status = 302,
                headers = { location = other.url .. "/v1/threads/thread_main/runs/run_failed" } } }
other:clear()
r, all = host(ALLOW, {
  { "redirect", "local r, e = runs.retrieve('thread_main', 'run_failed')\n"
                .. "assert(r == nil and e.status == 302, 'the 302 itself: ' .. tostring(e))" },
})
fake:clear_faults()
T.is(r.redirect, "ok", "a redirect comes back as the 302 it is", all)
T.is(#other:requests(), 0, "and the host it names never hears from the sandbox")

-- libcurl honours the proxy variables: a proxy that is not allowed is not used.
for _, var in ipairs { "http_proxy", "ALL_PROXY", "all_proxy" } do
  other:clear()
  fake:clear()
  r, all = host(ALLOW, { { "proxied", "assert(runs.retrieve('thread_main', 'run_failed'))" } },
                { [var] = other.url })
  T.is(r.proxied, "ok", var .. " set to a host that is not allowed: the request goes straight to the allowed host", all)
  T.is(#other:requests(), 0, "and the would-be proxy never sees it (nor the key)")
  T.is(#fake:requests(), 1, "the allowed host got it")
end
other:clear()
r, all = host("--allow-host 127.0.0.1", { { "allowed_proxy", "runs.retrieve('thread_main', 'run_failed')" } },
              { http_proxy = other.url })
T.ok(#other:requests() >= 1, "a proxy that is itself an allowed host is used", all)

---------------------------------------------------------------------- isolation between runs

r, all = host(ALLOW, {
  { "tamper", [[
assert(not pcall(function() openai.runs = {} end), 'client fields are read-only')
assert(not pcall(function() runs.retrieve = print end), 'resource functions are read-only')
assert(not pcall(rawset, openai, 'runs', {}), 'rawset on a client is refused')
assert(not pcall(rawset, runs, 'retrieve', print), 'rawset on a resource table is refused')
assert(not pcall(setmetatable, openai, {}), 'its metatable is protected')
assert(getmetatable(openai) == 'runctl.client')
assert(not pcall(function() getmetatable(runctl).__newindex = print end), 'runctl metatable locked')
runctl.dry_run = true
string.rep = nil ; table.concat = nil ; json.decode = nil ; task.spawn = nil ; http.request = nil
runctl.client = nil ; runctl.json.encode = nil ; math.floor = nil ; coroutine.wrap = nil ; os.time = nil
runctl.Error.__tostring = function() return 'owned' end
]] },
  { "after", [[
assert(runctl.dry_run == false, 'dry_run back to the host setting')
assert(string.rep and table.concat and json.decode and task.spawn and http.request and math.floor)
assert(runctl.client and runctl.json.encode and coroutine.wrap and os.time)
assert(runs.retrieve('thread_main', 'run_failed'))
local r, e = runs.cancel('thread_main', 'run_queued')
assert(r or e.kind == 'api', 'the cancel was sent (no dry-run refusal): ' .. tostring(e))
local _, e = runs.retrieve('thread_main', 'nope')
assert(tostring(e):find('404'), 'error text is runctl own: ' .. tostring(e))
]] },
})
T.is(r.tamper, "ok", "a script's attempts to change clients and runctl's metatables are refused", all)
T.is(r.after, "ok", "and what it changed (dry_run, libraries, runctl's tables) is not seen by the next script")

-- runctl.kinds is loaded on first read through the module's metatable, which
-- a sandbox's copy of the module shares: reading it there must not load it.
r, all = host(ALLOW, {
  { "lazy_kinds", [[
assert(runctl.kinds == nil and rawget(runctl, 'kinds') == nil, 'runctl.kinds')
assert(setmetatable({}, { __index = runctl }).kinds == nil, 'through an __index chain')
assert(runctl.define == nil and runctl.HOST_ONLY == nil, 'define, HOST_ONLY')
for k in pairs(runctl) do assert(k ~= 'kinds' and k ~= 'define', 'pairs: ' .. k) end
]] },
  { "lazy_kinds_again", "assert(runctl.kinds == nil and rawget(runctl, 'kinds') == nil)" },
})
T.is(r.lazy_kinds, "ok", "a sandboxed script cannot reach runctl.kinds (loaded on first use in a host)", all)
T.is(r.lazy_kinds_again, "ok", "nor can the next script in the same sandbox")

-- getmetatable never hands out a metatable the whole state shares.
r, all = host("--allow-host 127.0.0.1:1", {
  { "array_meta", "assert(getmetatable(json.array {}) == nil, 'hidden')" },
  { "error_meta", "local _, e = http.request { url = 'http://127.0.0.1:1/' }\nassert(getmetatable(e) == 'runctl.error')" },
})
T.is(r.array_meta, "ok", "json.array's shared metatable is hidden (a __gc planted there would run unlimited)", all)
T.is(r.error_meta, "ok", "an error object's metatable is a name")

---------------------------------------------------------------------- pattern matching

-- A backtracking pattern runs inside one C call, where the limits' hook never
-- looks: 26 'a's against 26 'a*' and a 'b' would hold the host for minutes.
-- The sandbox refuses such a match before it starts, in every form a script
-- can call it; the error names the cause and the way out.
local ATTACK_S, ATTACK_P = "('a'):rep(26)", "(('a*'):rep(26) .. 'b')"
local PATTERN_ATTACKS = {
  { "method_find", "local x = " .. ATTACK_S .. ":find" .. ATTACK_P },
  { "string_find", "string.find(" .. ATTACK_S .. ", " .. ATTACK_P .. ")" },
  { "method_match", "local x = " .. ATTACK_S .. ":match" .. ATTACK_P },
  { "gmatch", "for _ in " .. ATTACK_S .. ":gmatch" .. ATTACK_P .. " do end" },
  { "gsub", "string.gsub(" .. ATTACK_S .. ", " .. ATTACK_P .. ", 'x')" },
  { "anchored", "local x = " .. ATTACK_S .. ":find('^' .. " .. ATTACK_P .. ")" },
  { "two_stars", "local x = ('a'):rep(10000):find('a*a*b', 2)" },       -- cubic: n start positions, n^2 splits
  { "one_star", "local x = ('a'):rep(100000):find('a*b')" },            -- quadratic on 100 kB
  { "lazy_no_newline", "for l in ('x'):rep(1e6):gmatch('(.-)\\n') do end" },
  { "balanced", "local x = ('('):rep(100000):find('%b()')" },            -- %b scans to the end at each start
  { "long_fixed", "local x = ('a'):rep(1e6):match(('a'):rep(1e5) .. 'b')" },  -- 1e5 bytes compared at 1e6 starts
  { "in_task", "assert(task.join(task.spawn(function() return ('a'):rep(26):match(('a-'):rep(26) .. 'b') end)))" },
    { "plain_long_needle", "local x = ('a'):rep(4e6):find(('a'):rep(1e6) .. 'b', 1, true)" },  -- memcmp of 1 MB at 3e6 starts
  GOOD,
}
for _, mode in ipairs { "--seconds 1", "--instructions 3000000" } do
  local res, res_all = host(mode, PATTERN_ATTACKS)
  for _, item in ipairs(PATTERN_ATTACKS) do
    local name = item[1]
    if name:find("^good") then
      T.is(res[name], "ok", mode .. ": the next script in the same sandbox runs", res_all)
    else
      T.like(res[name], "^error: .*sandbox: string%.%a+: pattern too costly %(up to .* steps on %d+ characters, limit 1e%+07%); "
             .. (name:find("^plain") and "use a shorter needle$" or "use a plain find %(4th argument true%) or a pattern with fewer"),
             mode .. ": " .. name .. " is refused, the host gets control back", res_all)
    end
  end
end

-- What scripts do every day still works, on subjects up to 10 MB.
local ORDINARY = [[
local body = ('lorem ipsum dolor '):rep(560)
local s = '  \t' .. body .. ' \n'
assert(#s > 10000 and s:match('^%s*(.-)%s*$') == body:sub(1, -2), 'trim of 10 kB')
local text = ('the quick brown fox jumps over the lazy dog\n'):rep(2400)
local out, n = text:gsub('(%w+)', '<%1>')
assert(#text > 100000 and n == 9 * 2400 and out:find('^<the> <quick>'), 'gsub of words on 100 kB')
local lines, count = ('x'):rep(79) .. '\n', 0
lines = lines:rep(13108)
for line in lines:gmatch('[^\n]+') do count = count + (#line == 79 and 1 or 0) end
assert(#lines > 1048576 and count == 13108, 'gmatch over the lines of 1 MB')
local num = ('1234567890'):rep(10000)
assert(num:find('%d+') == 1 and select(2, num:find('%d+')) == #num and num:match('^%d+$') == num, '%d+')
assert(string.match('id=' .. num, '^(%a+)=(%d+)$') == 'id', 'anchored captures')
local big = ('ab'):rep(5000000) .. 'needle'
assert(big:find('needle', 1, true) == 10000001, 'plain find on 10 MB')
assert(big:find(('ab'):rep(60) .. 'n', 1, true) == 9999881, 'plain find of 121 bytes on 10 MB')
assert(big:find('needle') == 10000001, 'a pattern without special characters on 10 MB')
assert(('x = 1'):find('(.-)%s*=') == 1, 'a short subject takes any pattern')
]]
local REFUSALS = [[
local ok, e = pcall(string.find, ('a'):rep(26), ('a*'):rep(26) .. 'b')
assert(not ok and e:find('pattern too costly'), 'a refusal can be caught')
assert(('a'):rep(26):find(('a*'):rep(26) .. 'b', 1, true) == nil, 'the same pattern, plain')
]]
r, all = host("--seconds 60", { { "ordinary", ORDINARY .. REFUSALS }, GOOD })
T.is(r.ordinary, "ok", "ordinary patterns work in the sandbox (trim, gsub, gmatch, %d+, plain find on 10 MB)", all)

-- Outside the sandbox nothing is checked: runctl's own Lua runs unchanged
-- (a pattern that is slow but not stuck shows it).
local out, errout, code = T.run(T.write_file(ORDINARY .. [[
assert(('x'):rep(5000):find('(.-)%s*=') == nil)
print('unchecked')
]]))
T.is(out, "unchecked\n", "the same patterns run outside the sandbox, and one the sandbox refuses runs there", errout)
T.is(code, 0, "runctl exits 0")
r, all = host("", { { "refused_inside", "local x = ('x'):rep(5000):find('(.-)%s*=')" } })
T.like(r.refused_inside, "pattern too costly", "while the sandbox refuses that one", all)

-- An error a guarded library function raises names the script's line, as
-- it would without the guard; an error from Lua code it calls back keeps its own.
r, all = host("--seconds 5", {
  { "find_error", "local x = 1\nlocal y = ('abc'):find('%')" },
  { "rep_error", "\n\nstring.rep('x', 'y')" },
  { "move_error", "table.move({}, 'a', 2, 1)" },
  { "callback_error", "local x = 1\n('a'):gsub('a', function() error('boom') end)" },
})
T.like(r.find_error, "^error: .-:2: malformed pattern", "a malformed pattern names the script's line", all)
T.like(r.rep_error, "^error: .-:3: bad argument #2 to '[%w.]*rep' %(number expected", "string.rep's bad argument too", all)
T.like(r.move_error, "^error: .-:1: bad argument #2 to '[%w.]*move'", "and table.move's", all)
T.like(r.callback_error, "^error: [^:]+:2: boom$", "an error in a gsub callback keeps its own position, once", all)

-- Two more C calls that allocate nothing while they run for hours.
r, all = host("--seconds 1", {
  { "empty_rep", "assert((''):rep(1e12) == '' and string.rep('', 1e12, '') == '' and ('ab'):rep(2, ',') == 'ab,ab')\n"
                 .. "local ok, e = pcall(string.rep, '', 'x')\nassert(not ok and e:find('number expected'), e)" },
  { "move_holes", "table.move({}, 1, 1e12, 2)" },
  { "move_ok", "local t = table.move({ 1, 2, 3 }, 1, 3, 2)\nassert(t[1] == 1 and t[4] == 3)" },
})
T.is(r.empty_rep, "ok", "an empty string repeated 1e12 times is '' at once (and rep still checks its arguments)", all)
T.like(r.move_holes, "^error: .*sandbox: table%.move: at most 10000000 elements at once$", "table.move over 1e12 holes is refused", all)
T.is(r.move_ok, "ok", "an ordinary table.move works")

---------------------------------------------------------------------- the key, from a sandbox

r, all = host(ALLOW, {
  { "key_hunt", ([[
local key = %q
assert(runs.retrieve("thread_main", "run_failed"))
local c2 = runctl.client { api_key = key .. "-2" }
local ok, _, resp = c2.runs.retrieve("thread_main", "run_failed")
local _, err = c2.runs.retrieve("thread_main", "nope")
local found, seen = {}, {}
local function walk(v, path)
  if type(v) == "string" then
    if v:find(key, 1, true) then found[#found + 1] = path end
    return
  end
  if (type(v) ~= "table" and type(v) ~= "function" and type(v) ~= "userdata") or seen[v] then return end
  seen[v] = true
  walk(tostring(v), path .. "<tostring>")
  if type(v) ~= "table" then return end
  for k, x in next, v do walk(k, path .. "[key]") walk(x, path .. "." .. tostring(k)) end
  for k, x in pairs(v) do walk(k, path .. "[pairs]") walk(x, path .. ":" .. tostring(k)) end
  walk(getmetatable(v), path .. "<mt>")
end
walk({ _G, ok, resp, err, c2 }, "")
-- load with an environment of the script's own reaches no upvalue either
local f = load("return ...", "=x", "t", setmetatable({}, { __index = _G }))
walk({ f(runs.retrieve, openai) }, "load")
assert(#found == 0, "the API key is reachable at " .. table.concat(found, ", "))
]]):format(KEY) },
})
T.is(r.key_hunt, "ok", "no API key is reachable from a sandboxed script (globals, clients, resp, errors)", all)

T.done()
