-- tests/lua/test_scripts_interactive.lua — the bundled scripts as a process:
-- Ctrl-C (SIGINT by PID while cancels are held in flight by the fake API),
-- --concurrency bounding what is in flight, and on a terminal (a pty from
-- script(1)): the progress bar, the confirmation prompt, watch redrawing.
local T = require "helper"
local KEY = "sk-test-scripts-0123456789"
local CWD = io.popen("pwd"):read("l")
local SCRIPTS = CWD .. "/scripts"
local RUNCTL = os.getenv("RUNCTL") or "./runctl"
if RUNCTL:sub(1, 1) ~= "/" then RUNCTL = CWD .. "/" .. RUNCTL end
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"

local function R(id, status, age)
  return { id = id, status = status, created_at = -age, expires_at = json.null }
end
local function seed_of(tid, n, status)
  local runs = {}
  for i = 1, n do runs[i] = R(("%s_%02d"):format(tid, i), status or "in_progress", 7200 + i) end
  return { threads = { { id = tid, runs = runs } } }
end

local fake = T.fake("")
local ENV = ("env -u OPENAI_LOG OPENAI_API_KEY=%s OPENAI_BASE_URL=%s RUNCTL_SCRIPTS=%s")
            :format(KEY, fake.base, SCRIPTS)

local report = T.report

local function posts()
  local n = {}
  for _, r in ipairs(fake:requests()) do if r.method == "POST" then n[#n + 1] = r end end
  return n
end

local wait_for = T.wait_for
local function start(args) return T.start(ENV, args) end

local serial = 0
-- Runs a command on a pseudo-terminal (script(1)); stdin is fed through it.
local function on_tty(args, input)
  serial = serial + 1
  local outp = ("%s/tty-%d-%d.out"):format(TMP, math.random(1e9), serial)
  local cmd = ("%s %s %s"):format(ENV, RUNCTL, args)
  local feed = input and ("printf %s | "):format(T.quote(input)) or "sleep 0 </dev/null | "
  local _, _, code = os.execute(("%sscript -qec %s /dev/null >%s 2>&1"):format(feed, T.quote(cmd), outp))
  return T.read_file(outp) or "", code
end
local have_script = os.execute("command -v script >/dev/null 2>&1")

-- Ctrl-C while two cancels are held in flight: they finish, nothing new starts,
-- the report has all six runs, exit 130.
fake:seed(seed_of("thread_s", 6))
fake:clear()
fake:faults { { method = "POST", path = "/cancel", delay_ms = 1500, count = 2 } }
local rpath = TMP .. "/sigint-report-" .. math.random(1e9) .. ".jsonl"
local h = start("--max-retries 0 cancel-older-than --older-than 1h --concurrency 2 --report " .. rpath .. " thread_s")
T.ok(wait_for(function() return #posts() >= 2 end), "two cancels are in flight")
T.ok(h.signal("INT"), "SIGINT sent to the script's PID")
T.ok(wait_for(function() return h.code() ~= nil end, 20), "the script exits after Ctrl-C")
T.is(h.code(), 130, "exit 130 after Ctrl-C")
local list, by = report(T.read_file(rpath))
T.is(#list, 6, "the report has a line for each of the 6 runs")
local cancelled, skipped = {}, 0
for _, rec in ipairs(list) do
  if rec.action == "cancelled" then cancelled[#cancelled + 1] = rec end
  if rec.action == "skipped" and rec.error == "interrupted" then skipped = skipped + 1 end
end
T.is(#cancelled, 2, "the two cancels in flight completed and are reported cancelled")
T.ok(cancelled[1] and cancelled[1].status_after == "cancelling" and cancelled[1].request_id ~= json.null,
     "with the status and request ID of their answer")
T.is(skipped, 4, "the four not started are skipped, error interrupted")
T.is(#posts(), 2, "no cancel was started after Ctrl-C")
local active = 0
for _, r in ipairs(fake:runs("thread_s")) do if r.status == "in_progress" then active = active + 1 end end
T.is(active, 4, "the server still has the four skipped runs in progress")
T.like(h.err(), "interrupted: 4 runs and 0 threads skipped; the report has a line for each", "the summary is written after Ctrl-C")
T.like(h.err(), "2 cancelled, 4 skipped", "and counts both")

-- Ctrl-C during --wait: the wait stops, every run keeps its action, exit 130;
-- a run found cancelling already is not waited for (nor polled).
fake:seed { threads = { { id = "thread_w", runs = { R("w_run", "in_progress", 7200), R("w_stuck", "cancelling", 7300) } } } }
fake:config { cancel_delay_ms = 600000 }
fake:clear()
h = start("cancel-older-than --older-than 1h --wait 60 thread_w")
T.ok(wait_for(function()
  for _, r in ipairs(fake:requests()) do
    if r.method == "GET" and r.path:find("/runs/w_run$") then return true end
  end
end), "--wait is polling the run it cancelled")
h.signal("INT")
T.ok(wait_for(function() return h.code() ~= nil end, 20), "Ctrl-C ends the wait")
T.is(h.code(), 130, "exit 130")
list, by = report(h.out())
T.is(#list, 2, "both runs have their line")
T.is(by.w_run and by.w_run.error, "interrupted while waiting", "the run waited on says the wait was cut")
T.is(by.w_run and by.w_run.action, "cancelled", "the cancelled run is reported cancelled")
T.is(by.w_stuck and by.w_stuck.outcome, "already_cancelling", "the run cancelling before is reported so")
local polled_stuck = false
for _, r in ipairs(fake:requests()) do
  if r.method == "GET" and r.path:find("/runs/w_stuck$") then polled_stuck = true end
end
T.ok(not polled_stuck, "and never polled: this run did not cancel it")
fake:config { cancel_delay_ms = 100 }

-- unblock-thread and cancel stop the same way
fake:seed(seed_of("thread_u", 3))
fake:clear()
fake:faults { { method = "POST", path = "/cancel", delay_ms = 1500 } }
h = start("cancel --concurrency 1 thread_u/thread_u_01 thread_u/thread_u_02 thread_u/thread_u_03")
T.ok(wait_for(function() return #posts() >= 1 end), "cancel: one cancel in flight")
h.signal("INT")
T.ok(wait_for(function() return h.code() ~= nil end, 20), "cancel: exits after Ctrl-C")
T.is(h.code(), 130, "cancel: exit 130")
list = report(h.out())
local acts = {}
for _, rec in ipairs(list) do acts[#acts + 1] = rec.action end
table.sort(acts)
T.is(table.concat(acts, ","), "cancelled,skipped,skipped", "cancel: the one in flight finished, the rest skipped")

-- --concurrency bounds the cancels in flight: with 1, the second cannot
-- start while the first is held; with 3, all three are in flight together.
fake:seed(seed_of("thread_c", 3))
fake:clear()
fake:faults { { method = "POST", path = "/cancel", delay_ms = 1200 } }
h = start("cancel-older-than --older-than 1h --concurrency 1 thread_c")
T.ok(wait_for(function() return #posts() >= 1 end), "--concurrency 1: the first cancel is in flight")
task.sleep(0.4)
T.is(#posts(), 1, "--concurrency 1: the second has not started while the first is held")
T.ok(wait_for(function() return h.code() ~= nil end, 20), "--concurrency 1: finishes")
T.is(#posts(), 3, "--concurrency 1: then all three were sent")
fake:seed(seed_of("thread_c", 3))
fake:clear()
fake:faults { { method = "POST", path = "/cancel", delay_ms = 1500, count = 3 } }
h = start("cancel-older-than --older-than 1h --concurrency 3 --rate 1000 thread_c")
T.ok(wait_for(function() return #posts() >= 3 end), "--concurrency 3: three cancels are sent")
T.is(h.code(), nil, "--concurrency 3: all three were in flight at once (the first is still held)")
T.ok(wait_for(function() return h.code() ~= nil end, 20), "--concurrency 3: finishes")
T.is(h.code(), 0, "--concurrency 3 --rate 1000: exit 0")

-- on a terminal: the progress bar, the prompt, watch
if have_script then
  fake:seed(seed_of("thread_t", 25))
  fake:clear()
  local out, code = on_tty("cancel-older-than --older-than 1h thread_t", "n\n")
  T.like(out, "cancel%-older%-than: cancel these 25 runs on 1 thread%? %[y/N%]", "on a terminal it asks before 25 runs")
  T.is(code, 2, "answering n: exit 2")
  T.like(out, "not cancelling 25 runs %(more than %-%-confirm%-above 20%): not confirmed", "and says so")
  T.is(#posts(), 0, "answering n: nothing sent")
  out, code = on_tty("cancel-older-than --older-than 1h thread_t", "y\n")
  T.is(code, 0, "answering y: exit 0")
  T.is(#posts(), 25, "answering y: the 25 runs are cancelled")
  T.like(out, "\r\27%[Kcancelling %[[#%-]+%] %d+/25", "a progress bar is drawn on stderr")
  T.like(out, "listing %[[#%-]+%] 1/1", "while listing too")
  local _, n = out:gsub("\27%[32mcancelled%s*\27%[0m  thread_t/thread_t_%d+  in_progress %-> cancelling", "")
  T.is(n, 25, "the report lines are still complete, one readable (coloured) line per run")

  fake:seed(seed_of("thread_t", 2))
  out, code = on_tty("watch --count 2 --interval 0.1 thread_t")
  T.is(code, 0, "watch --count 2 on a terminal: exit 0")
  local _, clears = out:gsub("\27%[H\27%[2J", "")
  T.is(clears, 2, "watch redraws the table in place on a terminal")
  T.like(out, "every 0%.1s, q or Ctrl%-C to stop", "and says how to stop")
else
  T.ok(true, "# SKIP script(1) is not installed: no terminal tests")
end

T.done()
