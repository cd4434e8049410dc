-- tests/lua/test_cancel.lua — calling work off: task.cancel on a task waiting
-- for a request (it leaves the engine at once), a sleep, a join, or not started
-- yet; its to-be-closed variables close; joiners get nil, err (kind "aborted");
-- what cannot be cancelled raises; an unjoined cancelled task is no failure.
local T = require "helper"
local core = require "runctl.core"
local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local c = fake:client()

local function closer(log, name)
  return setmetatable({}, { __close = function() log[#log + 1] = name end })
end
-- scope(closer, fn): fn with closer as a to-be-closed variable (Lua 5.1 has
-- none: runctl.compat.scope stands in there, closed as the task ends).
local scope = require("runctl.compat").scope

-- a task waiting for a request the server holds: the transfer leaves the engine at once
fake:faults { { path = "run_queued", delay_ms = 5000 } }
assert(runctl.frame_budget)
local st = runctl.stats()
T.ok(math.type(st.io_stops) == "integer" and math.type(st.budget_stops) == "integer" and st.in_engine == 0,
     "runctl.stats() has the engine's io_stops beside the scheduler's counts")
local log = {}
local t = task.spawn(function()
  return scope(closer(log, "request"), function()
    local run, err = c.runs.cancel("thread_main", "run_queued")
    log[#log + 1] = "went on"
    return run, err
  end)
end)
task.sleep(0.05)     -- a few rounds: the task started and its request is in flight
local in_engine, _, alive = core.pending()
T.is(in_engine, 1, "the request is in flight")
T.is(tostring(t):match("^task %((%a+)%)"), "waiting", "the task waits for it")
T.is(task.cancel(t), true, "task.cancel returns true for a task it ended")
in_engine, _, alive = core.pending()
T.is(in_engine, 0, "the transfer left the engine at once (nothing pending)")
T.is(alive, 1, "no task alive but the main one")
T.is(table.concat(log, ","), "request", "its to-be-closed variable closed; it did not go on")
local v, err = task.join(t)
T.ok(v == nil and runctl.is_error(err) and err.kind == "aborted", "join of a cancelled task: nil, err with kind aborted",
     tostring(err))
T.is(tostring(err), "aborted: the task was cancelled", "the error says so")
T.like(tostring(t), "^task %(cancelled%)", "tostring of a cancelled task")
T.is(task.cancel(t), false, "cancelling it again returns false")
fake:clear_faults()

-- a sleeping task: the timer is disarmed
log = {}
t = task.spawn(function()
  scope(closer(log, "sleep"), function() task.sleep(3600) log[#log + 1] = "woke" end)
end)
task.sleep(0)
in_engine = core.pending()
T.is(in_engine, 1, "a sleep is a timer in the engine")
task.cancel(t)
in_engine = core.pending()
T.is(in_engine, 0, "cancelling the sleeper disarms its timer")
T.is(table.concat(log, ","), "sleep", "the sleeper's to-be-closed variable closed")

-- a task never started: its function never runs
local ran = false
t = task.spawn(function() ran = true end)
T.is(task.cancel(t), true, "a queued task can be cancelled")
task.sleep(0)
T.is(ran, false, "its function never runs")
v, err = task.join(t)
T.ok(v == nil and err.kind == "aborted", "and joins as aborted")

-- whoever joins a cancelled task wakes with nil, err; the others' joins go on
local sleeper = task.spawn(function() task.sleep(3600) end)
local joiners = {}
for i = 1, 3 do
  joiners[i] = task.spawn(function() local a, b = task.join(sleeper) return a, b and b.kind end)
end
task.sleep(0)
task.cancel(joiners[2])
task.cancel(sleeper)
for i = 1, 3 do
  local ok, a, kind = task.join(joiners[i])
  if i == 2 then
    T.ok(ok == nil and a.kind == "aborted", "the cancelled joiner joins as aborted")
  else
    T.ok(ok == true and a == nil and kind == "aborted", ("joiner %d woke with nil, err (aborted)"):format(i))
  end
end

-- a finished task: nothing to cancel; its outcome stays
t = task.spawn(function() return 42 end)
task.join(t)
T.is(task.cancel(t), false, "cancelling a finished task returns false")
local ok, n = task.join(t)
T.ok(ok == true and n == 42, "and its outcome is unchanged")
t = task.spawn(function() error("boom", 0) end)
task.sleep(0)
task.cancel(t)
ok, err = task.join(t)
T.ok(ok == false and err == "boom", "a failed task keeps its shape: false, err")

-- what cannot be cancelled raises
t = task.spawn(function() return pcall(task.cancel, task.running()) end)
local _, pok, perr = task.join(t)
T.ok(pok == false and tostring(perr):find("a task cannot cancel itself", 1, true), "a task cannot cancel itself",
     tostring(perr))
T.raises(function() task.cancel({}) end, "bad argument #1 to 'cancel'", "task.cancel checks its argument")

-- a task woken but not resumed yet (ready): two joiners of one task, the first
-- to run cancels the other, which is then queued with its join's answer
local gate = task.spawn(function() task.sleep(0.01) end)
local pair, went_on = {}, {}
for i = 1, 2 do
  pair[i] = task.spawn(function()
    task.join(gate)
    went_on[#went_on + 1] = i
    return task.cancel(pair[3 - i])
  end)
end
local r1 = table.pack(task.join(pair[1]))
local r2 = table.pack(task.join(pair[2]))
T.is(#went_on, 1, "only the first woken joiner went on")
local winner, loser = r1[1] == true and r1 or r2, r1[1] == true and r2 or r1
T.ok(winner[2] == true and loser[1] == nil and loser[2].kind == "aborted",
     "it cancelled the other one while that one was ready to run")

-- deadlines: a task still waiting when its deadline passes is cancelled
fake:faults { { path = "run_in_progress", delay_ms = 3000 } }
log = {}
t = task.spawn(function()
  return scope(closer(log, "deadline"), function() return c.runs.retrieve("thread_main", "run_in_progress") end)
end)
T.is(task.deadline(t, 0.05), t, "task.deadline returns the task")
v, err = task.join(t)
T.ok(v == nil and err.kind == "aborted" and err.reason == "deadline", "past its deadline the task joins as aborted (reason deadline)",
     tostring(err))
T.like(tostring(err), "^aborted: the task's deadline passed %(0%.05 s%)", "the error names the deadline")
T.is(table.concat(log, ","), "deadline", "its to-be-closed variable closed")
T.is((core.pending()), 0, "its request left the engine")
fake:clear_faults()
t = task.spawn(function() task.sleep(0.01) return "in time" end)
task.deadline(t, 30)
ok, v = task.join(t)
T.ok(ok == true and v == "in time", "a task done before its deadline keeps its results")
T.is((core.pending()), 0, "and its deadline timer is gone")
t = task.spawn(function() task.sleep(0.05) return "kept" end)
task.deadline(t, 0.01)
task.deadline(t, nil)
ok, v = task.join(t)
T.ok(ok == true and v == "kept", "task.deadline(t, nil) removes the deadline")
T.raises(function() task.deadline(t, -1) end, "must be a finite, non%-negative number", "a negative deadline raises")
T.raises(function() task.deadline({}, 1) end, "bad argument #1 to 'deadline'", "task.deadline checks its task")
T.is(task.deadline(t, 1), t, "a deadline on a finished task does nothing")

-- task.map with a deadline: the items not done get an aborted error, the others their results
fake:faults { { path = "run_queued", delay_ms = 3000, count = 100 } }
local items = { "run_failed", "run_queued", "run_completed", "run_queued" }
local results, errs = task.map(items, function(id) return c.runs.retrieve("thread_main", id) end,
                               { concurrency = 4, deadline = 0.2 })
T.ok(results[1] and results[1].id == "run_failed" and results[3] and results[3].id == "run_completed",
     "task.map with a deadline: the items done in time have their results")
T.ok(errs[2] and errs[2].kind == "aborted" and errs[4] and errs[4].kind == "aborted" and results[2] == nil,
     "the items still in flight get an aborted error", tostring(errs[2]))
T.is((core.pending()), 0, "nothing of the map is left in the engine")
results, errs = task.map(items, function(id) return c.runs.retrieve("thread_main", id) end,
                         { concurrency = 1, deadline = 0.2 })
T.ok(results[1] and errs[2] and errs[2].kind == "aborted" and errs[3] and errs[3].kind == "aborted"
     and errs[4] and errs[4].kind == "aborted", "with one worker, the items never started are aborted too")
fake:clear_faults()
T.raises(function() task.map({}, print, { deadline = -1 }) end, "deadline must be a finite, non%-negative number",
         "task.map checks its deadline")

-- the task that called task.map is cancelled: its workers end with it
fake:faults { { path = "run_queued", delay_ms = 3000, count = 100 } }
local mapper = task.spawn(function()
  return task.map({ "run_queued", "run_queued", "run_queued" },
                  function(id) return c.runs.retrieve("thread_main", id) end)
end)
task.sleep(0.05)
local _, _, before = core.pending()
task.cancel(mapper)
local in_eng, _, after = core.pending()
T.ok(before == 5 and after == 1 and in_eng == 0, "cancelling a task inside task.map ends its workers and their requests",
     ("tasks %d -> %d, in engine %d"):format(before, after, in_eng))
fake:clear_faults()

-- handles: the task object answers done?, result and cancel for code that does not join
local h = task.spawn(c.runs.retrieve, "thread_main", "run_failed")
T.is(h:done(), false, "h:done() is false before it ran")
T.raises(function() h:result() end, "has not ended yet", "h:result() raises while it runs")
while not h:done() do task.sleep(0.001) end
local run, rerr, resp = h:result()
T.ok(run and run.id == "run_failed" and rerr == nil and resp and resp.status == 200,
     "h:result() gives what the function returned (run, nil, resp)")
h = task.spawn(function() error("boom", 0) end)
task.sleep(0)
v, err = h:result()
T.ok(v == nil and err == "boom", "a handle whose work raised: nil, err")
h = task.spawn(c.runs.retrieve, "thread_main", "run_queued")
T.is(h:cancel(), true, "h:cancel() calls it off")
v, err = h:result()
T.ok(h:done() and v == nil and err.kind == "aborted", "then h:done() and h:result() is nil, aborted")

-- two sleepers woken in the same round: the first to run resumes the other by
-- hand (its sleep is over, so it runs on until it yields), then cancels it;
-- nothing of the other's finished sleep may be touched again (ASan checks)
local co_of, first, pair2 = {}, nil, {}
for i = 1, 2 do
  pair2[i] = task.spawn(function()
    co_of[i] = coroutine.running()
    task.sleep(0.01)
    if first == nil then
      first = i
      local resumed, what = coroutine.resume(co_of[3 - i])
      collectgarbage()
      return resumed, what, task.cancel(pair2[3 - i])
    end
    coroutine.yield("ran on")
    task.sleep(3600)
  end)
end
task.join(pair2[1])
task.join(pair2[2])
local okw, resumed, what, cancelled = task.join(pair2[first])
T.ok(okw and resumed and what == "ran on" and cancelled == true,
     "a task resumed by hand after its sleep ended, then cancelled", tostring(what))
T.is((core.pending()), 0, "nothing left in the engine")

-- a task's own coroutine closed by hand while it waits: its request and
-- sleep are collected; cancelling the task afterwards touches neither
if T.lua51 then
  T.skip(3, "Lua 5.1 has no coroutine.close")
else
  for _, kind in ipairs { "sleep", "request" } do
    local co
    fake:faults { { path = "run_queued", delay_ms = 3000 } }
    t = task.spawn(function()
      co = coroutine.running()
      if kind == "sleep" then task.sleep(3600) else c.runs.retrieve("thread_main", "run_queued") end
    end)
    task.sleep(0.02)
    local closed = coroutine.close(co)
    collectgarbage()
    collectgarbage()
    T.ok(closed and task.cancel(t) == true and (core.pending()) == 0,
         ("a task whose coroutine was closed while waiting for a %s can still be cancelled"):format(kind))
    fake:clear_faults()
  end

  -- the same after the wait ended but before the task ran again (it is ready):
  -- a joiner of a finished task, closed by hand, the finished task collected
  do
    local target = task.spawn(function() task.sleep(0.01) end)
    local co, joiner
    joiner = task.spawn(function() co = coroutine.running() task.join(target) end)
    local waker = task.spawn(function()
      task.join(target)                 -- woken with the joiner; acts before it runs again
      if not tostring(joiner):match("^task %(ready%)") then return "joiner not ready" end
      coroutine.close(co)
      target = nil                      -- the finished task is now garbage
      collectgarbage()
      collectgarbage()
      return task.cancel(joiner)
    end)
    local _, outcome = task.join(waker)
    T.is(outcome, true, "a ready joiner closed by hand, its finished target collected, can be cancelled")
  end
end

-- unjoined cancelled tasks are not failures: the command exits 0
local out, stderr, code = T.run("-e 'local t = task.spawn(function() task.sleep(60) end) task.sleep(0) task.cancel(t) print(\"ok\")'")
T.is(code, 0, "a script leaving a cancelled task unjoined exits 0", stderr)
T.is(out, "ok\n", "and runs to its end")

T.done()
