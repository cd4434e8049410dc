-- tests/lua/test_embed_module.lua — runctl.so in the stock interpreter:
-- require "runctl" returns the module and sets no globals, takes cjson from
-- the system, blocks outside tasks and overlaps inside them, rc.poll drives
-- a Lua loop, and exiting with work in flight is clean.
local T = require "helper"
local E = require "embed"

local MODULE = E.build .. "/module/runctl.so"
local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local ENV = E.lua_env(MODULE, { OPENAI_API_KEY = E.KEY, OPENAI_BASE_URL = fake.base })

-- Runs code in lua5.4 with the built module first on package.cpath.
local function lua(code)
  local prelude = ("package.cpath = %q .. package.cpath\n"):format(E.cwd .. "/" .. E.build .. "/module/?.so;")
  return E.sh(E.wrap .. " lua5.4 -e " .. T.quote(prelude .. code), ENV)
end

local out, err, code = lua([[
local rc = require "runctl"
for _, k in ipairs { "runs", "openai", "client", "http", "json", "task", "log", "poll" } do
  assert(rc[k] ~= nil, "rc." .. k .. " is missing")
end
assert(require "runctl" == rc, "require caches the module")
for _, k in ipairs { "runctl", "openai", "runs", "http", "json", "task", "log", "responses", "batches" } do
  assert(rawget(_G, k) == nil, "global " .. k .. " was set")
end
print("fields ok")
]])
T.is(code, 0, "lua5.4 loads the module", err)
T.is(out, "fields ok\n", "require 'runctl' returns runs, openai, client, http, json, task, log and sets no globals")

-- Linked against neither Lua nor cjson: the interpreter provides both.
local p = io.popen("readelf -d " .. MODULE .. " 2>&1")
local dynamic = p:read("a")
p:close()
T.unlike(dynamic, "liblua", "the module does not link a Lua library (one Lua per process)")
T.unlike(dynamic, "cjson", "nor lua-cjson")
out, err, code = lua([[
local rc = require "runctl"
local cjson = package.loaded.cjson
assert(cjson, "runctl required cjson through the interpreter")
assert(package.searchpath("cjson", package.cpath), "a system cjson module is on package.cpath")
cjson.decode_invalid_numbers(true)
assert(rc.json.decode("NaN") == nil, "runctl's own cjson instance keeps its settings")
local v = rc.json.decode('{"a": 1, "b": [true, null]}')
assert(math.type(v.a) == "integer" and v.b[2] == rc.json.null)
print(rc.json.encode { b = 1, a = rc.json.array() })
]])
T.is(out, '{"a":[],"b":1}\n', "json works through the system's cjson, with a private instance", err)

-- Outside a task a call blocks until its answer.
fake:clear()
out, err, code = lua([[
local rc = require "runctl"
local run = assert(rc.runs.cancel("thread_main", "run_queued"))
print(run.status)
]])
T.is(out, "cancelling\n", "rc.runs.cancel from the main chunk blocks and returns the run", err)
local last = fake:last()
T.is(last and last.method .. " " .. last.path, "POST /v1/threads/thread_main/runs/run_queued/cancel",
     "the request on the wire")
T.is(last and T.header(last, "authorization"), "Bearer " .. E.KEY, "with the key from the environment")

-- Inside tasks calls overlap: the held request finishes after the quick one.
fake:reset()
fake:faults { { path = "run_in_progress", delay_ms = 600 } }
out, err, code = lua([[
local rc = require "runctl"
local order = {}
local slow = rc.task.spawn(function()
  assert(rc.runs.cancel("thread_main", "run_in_progress")) order[#order + 1] = "slow"
end)
local quick = rc.task.spawn(function()
  assert(rc.runs.cancel("thread_main", "run_requires_action")) order[#order + 1] = "quick"
end)
assert(rc.task.join(slow)) assert(rc.task.join(quick))
print(table.concat(order, ","))
]])
T.is(out, "quick,slow\n", "spawned cancels overlap; task.join from the main chunk drives them", err)

-- rc.poll drives a loop written in Lua; inside a task it refuses.
out, err, code = lua([[
local rc = require "runctl"
local done = false
-- A bare yield puts a task back in the queue for the next round: work that
-- is pending after the first poll however fast or slow the machine is.
rc.task.spawn(function() for _ = 1, 10 do coroutine.yield() end done = true end)
local first = rc.poll()
local rounds = 0
while rc.poll(0.01) > 0 do rounds = rounds + 1 end
local t = rc.task.spawn(function() return rc.poll() end)
local ok, e = rc.task.join(t)
print(first > 0, done, rounds > 0, ok, e:match("called from inside a task") ~= nil)
]])
T.is(out, "true\ttrue\ttrue\tfalse\ttrue\n",
     "rc.poll() returns at once with work pending, polling to 0 finishes it; a task may not call it", err)

-- Exiting the interpreter with requests in flight and tasks asleep is clean.
fake:faults { { path = "run_queued", delay_ms = 2000 } }
out, err, code = lua([[
local rc = require "runctl"
for i = 1, 5 do rc.task.spawn(function() rc.runs.retrieve("thread_main", "run_queued") end) end
rc.task.spawn(function() rc.task.sleep(3600) end)
rc.poll()
print("leaving with", rc.poll() > 0)
]])
T.is(code, 0, "lua5.4 exits 0 with requests in flight (lua_close cancels them)", err)
T.is(out, "leaving with\ttrue\n", "they were still pending at exit")
T.done()
