-- tests/lua/test_tasks.lua — the concurrency model: tasks, join, sleep, overlap
-- of spawned requests, errors inside tasks, calls from non-task coroutines.
local T = require "helper"
local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local c = fake:client()

-- spawn/join with values
local t = task.spawn(function(a, b) return a + b, "x" end, 2, 3)
local ok, sum, x = task.join(t)
T.ok(ok and sum == 5 and x == "x", "join returns true and the task's results")
ok, sum = task.join(t)
T.ok(ok and sum == 5, "joining a finished task again returns the same results")
T.like(tostring(t), "^task %(done%)", "tostring of a task")

-- errors come back through join
t = task.spawn(function() error("boom", 0) end)
local okj, e = task.join(t)
T.ok(okj == false and e == "boom", "a failed task joins as false, err")
t = task.spawn(function() error({ code = 7 }) end)
okj, e = task.join(t)
T.ok(okj == false and type(e) == "table" and e.code == 7, "error objects pass through join unchanged")
T.raises(function() task.spawn("not a function") end, "bad argument #1 to 'spawn'", "spawn checks its argument")
T.raises(function() task.join({}) end, "bad argument #1 to 'join'", "join checks its argument")
t = task.spawn(function() return task.join(task.running()) end)
okj, e = task.join(t)
T.like(tostring(e), "a task cannot join itself", "joining yourself is an error")

-- sleep: ordering of wake-ups follows deadlines, not spawn order
local order = {}
local a = task.spawn(function() task.sleep(0.05) order[#order + 1] = "slow" end)
local b = task.spawn(function() task.sleep(0.001) order[#order + 1] = "fast" end)
task.join(a) task.join(b)
T.is(table.concat(order, ","), "fast,slow", "the shorter sleep wakes first")
T.raises(function() task.sleep(-1) end, "must be a finite, non%-negative number", "negative sleep raises")
T.raises(function() task.sleep("soon") end, "number expected", "sleep needs a number")

-- two spawned cancels overlap: the first is held by the server, the second
-- completes meanwhile (sequential requests could not finish in this order)
fake:faults { { path = "run_queued", delay_ms = 2000 } }
local finished = {}
local slow = task.spawn(function()
  local r, err = c.runs.cancel("thread_main", "run_queued")
  finished[#finished + 1] = "slow"
  return r, err
end)
local quick = task.spawn(function()
  local r, err = c.runs.cancel("thread_main", "run_in_progress")
  finished[#finished + 1] = "quick"
  return r, err
end)
local ok1, r1, e1 = task.join(slow)
local ok2, r2, e2 = task.join(quick)
T.ok(ok1 and r1 and ok2 and r2, "both spawned cancels succeed", tostring(e1 or e2))
T.is(table.concat(finished, ","), "quick,slow", "the second cancel finished while the first was in flight")

-- a sleeping task does not hold up requests in others
fake:reset()
finished = {}
local sleeper = task.spawn(function() task.sleep(1.5) finished[#finished + 1] = "sleeper" end)
local worker = task.spawn(function() c.runs.retrieve("thread_main", "run_failed") finished[#finished + 1] = "request" end)
task.join(sleeper) task.join(worker)
T.is(table.concat(finished, ","), "request,sleeper", "a request completes while another task sleeps")

-- calls from a plain coroutine (not a task) block instead of yielding to it
local co = coroutine.wrap(function()
  local r = c.runs.retrieve("thread_main", "run_failed")
  coroutine.yield(r and r.id)
  return "after"
end)
T.is(co(), "run_failed", "a binding inside a user coroutine completes (blocking)")
T.is(co(), "after", "and the coroutine's own yields still work")

-- task.sleep outside a task-yieldable context (inside a coroutine)
local co2 = coroutine.wrap(function() task.sleep(0.01) return "slept" end)
T.is(co2(), "slept", "task.sleep inside a user coroutine blocks then returns")

-- coroutine.yield in a task just lets others run
local ticks = {}
local y1 = task.spawn(function() for i = 1, 3 do ticks[#ticks + 1] = "a" .. i coroutine.yield() end end)
local y2 = task.spawn(function() for i = 1, 3 do ticks[#ticks + 1] = "b" .. i coroutine.yield() end end)
task.join(y1) task.join(y2)
T.is(table.concat(ticks, ","), "a1,b1,a2,b2,a3,b3", "bare yields interleave tasks round-robin")

-- a task's coroutine resumed by hand (not by the loop) keeps waiting for its
-- request, sleep or join instead of reading an unfinished result
-- (Lua 5.1 has no continuation: there the binding returns what the resumer passed)
if T.lua51 then
  T.skip(3, "Lua 5.1: a waiting task resumed by hand returns from its binding (no lua_yieldk)")
else
  fake:reset()
  fake:faults { { path = "run_in_progress", delay_ms = 1500 } }
  local captured = {}
  local victim = task.spawn(function()
    captured.co = coroutine.running()
    return c.runs.retrieve("thread_main", "run_in_progress")
  end)
  local sleeper2 = task.spawn(function()
    captured.sleep_co = coroutine.running()
    task.sleep(0.5)
    return "woke"
  end)
  local intruder = task.spawn(function()
    task.sleep(0.1)
    return coroutine.resume(captured.co), coroutine.resume(captured.sleep_co)
  end)
  local oki, res1, res2 = task.join(intruder)
  T.ok(oki and res1 == true and res2 == true, "resuming a waiting task by hand returns at once")
  local okv, run = task.join(victim)
  T.ok(okv and run and run.id == "run_in_progress", "and the task still gets its real response")
  local oks, woke = task.join(sleeper2)
  T.ok(oks and woke == "woke", "a sleep resumed by hand sleeps on")
end

-- task.map: order preserving, bounded, errors per item
local in_flight, peak = 0, 0
local results, errs = task.map({ 1, 2, 3, 4, 5, 6 }, function(v)
  in_flight = in_flight + 1
  if in_flight > peak then peak = in_flight end
  task.sleep(0.01 * (7 - v))
  in_flight = in_flight - 1
  if v == 4 then return nil, "four" end
  if v == 5 then error("five", 0) end
  return v * 10
end, { concurrency = 2 })
T.is(table.concat({ results[1], results[2], results[3], results[6] }, ","), "10,20,30,60", "task.map keeps the order")
T.is(errs[4], "four", "nil, err becomes errs[i]")
T.is(errs[5], "five", "a raise becomes errs[i]")
T.is(peak, 2, "task.map never runs more than concurrency at once")
T.raises(function() task.map({}, function() end, { concurrency = 0 }) end, "concurrency must be a positive integer",
         "task.map checks concurrency")

-- task.each: bounded like task.map, keeps nothing, counts outcomes; items may
-- be an iterator function (such as io.lines)
in_flight, peak = 0, 0
local seen = {}
local function outcome(v, i)
  in_flight = in_flight + 1
  if in_flight > peak then peak = in_flight end
  task.sleep(0.001 * (v % 3))
  in_flight = in_flight - 1
  seen[#seen + 1] = v .. "@" .. i
  if v == 4 then return nil, "four" end
  if v == 5 then error("five", 0) end
  return v
end
local done, failed, first_err = task.each({ 1, 2, 3, 4, 5, 6, 7 }, outcome, { concurrency = 3 })
T.ok(done == 5 and failed == 2 and (first_err == "four" or first_err == "five"),
     "task.each counts what was done and what failed, and returns the first error", tostring(first_err))
T.is(#seen, 7, "task.each calls fn once per item")
T.is(peak, 3, "task.each never runs more than concurrency at once")
local path = os.tmpname()
local f = assert(io.open(path, "w"))
for i = 1, 50 do f:write(i, "\n") end
f:close()
seen = {}
done, failed = task.each(io.lines(path), function(line, i)
  seen[#seen + 1] = line == tostring(i) and i or -1
  task.sleep(0)
  return true
end, { concurrency = 8 })
os.remove(path)
table.sort(seen)
T.ok(done == 50 and failed == 0 and seen[1] == 1 and seen[50] == 50,
     "task.each streams an iterator (io.lines): every item once, numbered in order")
T.is(select("#", task.each({}, print)), 3, "task.each over nothing returns 0, 0, nil")
T.raises(function() task.each(7, print) end, "task.each: items must be a table or an iterator function %(got number%)",
         "task.each checks items")
T.raises(function() task.each({}, print, { concurrency = 1.5 }) end, "concurrency must be a positive integer",
         "task.each checks concurrency")
T.raises(function() task.each(function() error("broken iterator", 0) end, print) end, "broken iterator",
         "an iterator that raises makes task.each raise")

-- many concurrent cancels through one client all land
fake:reset()
local threads = {}
for i = 1, 30 do threads[i] = task.spawn(function() return c.runs.retrieve("thread_main", "run_completed") end) end
local good = 0
for _, th in ipairs(threads) do
  local okk, r = task.join(th)
  if okk and r then good = good + 1 end
end
T.is(good, 30, "30 concurrent requests all succeed")

T.done()
