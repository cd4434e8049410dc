-- tests/lua/test_stack.lua — no argument count, result count or nesting depth a
-- script or the command line can produce overflows a Lua or C stack: spawn and
-- join with thousands of values, every binding with hundreds of extra arguments,
-- JSON nested past its limit both ways, the command with thousands of arguments.
local T = require "helper"

local function values(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

-- spawn passes n arguments; the task returns them all; join hands them back
for _, n in ipairs { 0, 1, 50, 200, 250, 500, 5000 } do
  local t = task.spawn(function(...) return ... end, table.unpack(values(n)))
  local got = table.pack(task.join(t))
  local intact = got.n == n + 1 and got[1] == true
  for i = 1, n do intact = intact and got[i + 1] == i end
  T.ok(intact, ("spawn and join carry %d arguments and results"):format(n),
       ("got %d values"):format(got.n))
end

-- the same from a task spawned by a task, and from host code that joins (blocks)
local outer = task.spawn(function()
  local inner = task.spawn(function(...) return select("#", ...), ... end, table.unpack(values(300)))
  return task.join(inner)
end)
local got = table.pack(task.join(outer))
T.ok(got[1] == true and got[2] == true and got[3] == 300 and got[303] == 300 and got.n == 303,
     "a task's task passes 300 values up two joins", ("got %d values"):format(got.n))

-- a task that yields by hand with many values, then returns many
local yielder = task.spawn(function()
  for _ = 1, 3 do coroutine.yield(table.unpack(values(400))) end
  return table.unpack(values(400))
end)
got = table.pack(task.join(yielder))
T.ok(got[1] == true and got.n == 401 and got[401] == 400, "bare yields of 400 values are dropped, 400 results kept")

-- a task that fails after receiving many arguments
local failing = task.spawn(function(...) error(("got %d"):format(select("#", ...)), 0) end,
                           table.unpack(values(1000)))
local ok, err = task.join(failing)
T.ok(ok == false and err == "got 1000", "a failing task with 1000 arguments joins as false, err")

-- more arguments than a stack can take: a clean error, never a crash
ok, err = pcall(function()
  return task.spawn(function() end, table.unpack(values(2000000)))
end)
T.ok(not ok and type(err) == "string", "unpacking two million values raises instead of crashing",
     tostring(err))

-- a hundred thousand values through spawn and join (the limit is the stack's
-- own; LuaJIT's unpack and calls take about 8000)
local nvalues = T.lua51 and 7000 or 100000
got = table.pack(task.join(task.spawn(function(...) return select("#", ...), ... end,
                                      table.unpack(values(nvalues)))))
T.ok(got[2] == nvalues and got.n == nvalues + 2 and got[nvalues + 2] == nvalues,
     nvalues .. " values through spawn and join")

-- JSON: the same nesting limit both ways, deeper input is refused cleanly
local function nested(depth) return ("["):rep(depth) .. "1" .. ("]"):rep(depth) end
local v = json.decode(nested(1000))
T.is(json.encode(v), nested(1000), "1000 levels decode and encode back unchanged")
for _ = 1, 1000 do v = v[1] end
T.is(math.type(v), "integer", "a number 1000 levels deep still decodes as an integer")
v, err = json.decode(nested(1001))
T.ok(v == nil and tostring(err):find("too many nested", 1, true), "1001 levels: decode returns nil, err", tostring(err))
v, err = json.decode(("["):rep(1000000))
T.ok(v == nil and type(err) == "string", "a million open brackets: nil, err")
v, err = json.decode(('{"a":'):rep(100000))
T.ok(v == nil and type(err) == "string", "a hundred thousand open objects: nil, err")
local deep = {}
local cur = deep
for _ = 1, 100000 do cur.a = {} cur = cur.a end
v, err = json.encode(deep)
T.ok(v == nil and tostring(err):find("nesting deeper than 1000", 1, true), "encoding 100000 levels: nil, err", tostring(err))
local cycle = {}
cycle[1] = cycle
v, err = json.encode(cycle)
T.ok(v == nil and tostring(err):find("cycle", 1, true), "a cycle: nil, err naming the likely cause")

-- the command line: thousands of arguments reach the script (the main task)
local out, stderr, code = T.run("-e 'print(select(\"#\", ...), arg[#arg])' $(seq 20000)")
T.is(code, 0, "20000 arguments: exit 0", stderr)
T.is(out, "20000\t20000\n", "the script sees all 20000 arguments")

-- a bundled script given 5000 thread IDs, against the fake server, in --dry-run
local threads, ids = {}, {}
for i = 1, 5000 do
  ids[i] = ("thread_%04d"):format(i)
  threads[i] = { id = ids[i], runs = json.array() }
end
threads[1].runs = { { id = "run_old", status = "in_progress", created_at = -7200, expires_at = json.null,
                      assistant_id = "asst_A", model = "gpt-4o" } }
local many = T.fake("--seed " .. T.seed_file({ threads = threads }))
local env = { OPENAI_API_KEY = "sk-test-stack-0123456789", OPENAI_BASE_URL = many.base,
              RUNCTL_SCRIPTS = io.popen("pwd"):read("l") .. "/scripts" }
many:clear()
out, stderr, code = T.run("cancel-older-than --dry-run --older-than 1h " .. table.concat(ids, " "), env)
T.is(code, 0, "cancel-older-than with 5000 thread IDs: exit 0", stderr)
local list, by = T.report(out)
T.is(by.run_old and by.run_old.action, "would_cancel", "the old run of the first thread would be cancelled",
     out:sub(1, 300))
local lists, posts = 0, 0
for _, req in ipairs(many:requests()) do
  if req.method == "GET" then lists = lists + 1 elseif req.method == "POST" then posts = posts + 1 end
end
T.ok(lists >= 5000, ("every thread was listed (%d GETs)"):format(lists))
T.is(posts, 0, "dry run: nothing was posted")
T.ok(#list >= 1, "a report was written")

-- every binding with hundreds of extra arguments: returns or raises, never crashes
-- (last: dry-run, once on, stays on; nothing a stray call might start is sent)
local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local c = fake:client()
runctl.dry_run = true
local seen, calls, raised = {}, 0, 0
local function try_all(where, tbl, depth)
  if seen[tbl] or depth > 2 then return end
  seen[tbl] = true
  local names = {}
  for k in pairs(tbl) do if type(k) == "string" then names[#names + 1] = k end end
  table.sort(names)
  for _, k in ipairs(names) do
    local value = tbl[k]
    -- sleep and join would block on what they are given (or wait on themselves);
    -- their argument checks are covered below with finite values
    local skip = where == "task" and (k == "sleep" or k == "join")
    if type(value) == "function" and not skip then
      for _, filler in ipairs { "x", 1 } do
        local args = {}
        for i = 1, 300 do args[i] = filler end
        local t = task.spawn(function() return pcall(value, table.unpack(args)) end)
        local done, pok = task.join(t)
        calls = calls + 1
        if done and not pok then raised = raised + 1 end
      end
    elseif type(value) == "table" then
      try_all(where .. "." .. k, value, depth + 1)
    end
  end
end
for _, name in ipairs(runctl.GLOBALS) do try_all(name, _G[name], 0) end
try_all("client", c, 0)
try_all("core", require "runctl.core", 0)
T.ok(calls > 60, ("every binding was called with 300 extra arguments (%d calls, %d raised)"):format(calls, raised))
T.ok(raised > 0, "bindings given nonsense raise")
ok, err = pcall(task.sleep, 0, table.unpack(values(300)))
T.ok(ok, "task.sleep ignores extra arguments", tostring(err))
local done = task.spawn(function() return 1 end)
got = table.pack(task.join(done, table.unpack(values(300))))
T.ok(got[1] == true and got[2] == 1 and got.n == 2, "task.join ignores extra arguments")
T.raises(function() c.runs.retrieve("thread_main", "run_queued", table.unpack(values(300))) end,
         "runs.retrieve: too many arguments %(302 given, at most 3%)", "a resource method names the extra arguments")

T.done()
