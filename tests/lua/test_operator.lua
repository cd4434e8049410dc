-- tests/lua/test_operator.lua — the operator's paths through the bundled
-- scripts: configuration checked before anything is sent, a refused key
-- stopping the job, hints for common mistakes, flag values validated, help
-- without running, and recovery: reports that say whether they are complete,
-- cancel --file refusing what it cannot finish, --resume doing exactly what
-- is left after Ctrl-C (while listing, cancelling, waiting) and kill -9.
local T = require "helper"
local KEY = "sk-test-operator-0123456789"
local CWD = io.popen("pwd"):read("l")
local SCRIPTS = CWD .. "/scripts"
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"

local fake = T.fake("--api-key " .. KEY)
local function env(extra)
  local e = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, RUNCTL_SCRIPTS = SCRIPTS }
  for k, v in pairs(extra or {}) do e[k] = v ~= false and v or nil end
  return e
end
local ENV = ("env -u OPENAI_LOG OPENAI_API_KEY=%s OPENAI_BASE_URL=%s RUNCTL_SCRIPTS=%s")
            :format(KEY, fake.base, SCRIPTS)
local function run(args, extra, stdin) return T.run(args, env(extra), stdin) end
local function tmp(name) return ("%s/%s-%d.jsonl"):format(TMP, name, math.random(1e9)) end

local function R(id, status, age) return { id = id, status = status, created_at = -age, expires_at = json.null } end
local function thread(tid, n, status)
  local runs = {}
  for i = 1, n do runs[i] = R(("%s_%02d"):format(tid, i), status or "in_progress", 7200 + i) end
  return { id = tid, runs = runs }
end
local function seed(threads) fake:seed { threads = threads } fake:clear() fake:clear_faults() end
local function count(method, pattern)
  local n = 0
  for _, r in ipairs(fake:requests()) do
    if r.method == method and (not pattern or r.path:find(pattern)) then n = n + 1 end
  end
  return n
end
-- How many POSTs each run got, and how many runs on the threads are still active.
local function posts_per_run()
  local per = {}
  for _, r in ipairs(fake:requests()) do
    local run_id = r.method == "POST" and r.path:match("/runs/([^/]+)/cancel$")
    if run_id then per[run_id] = (per[run_id] or 0) + 1 end
  end
  return per
end
local function active_on(tids)
  local n = 0
  for _, tid in ipairs(tids) do
    for _, r in ipairs(fake:runs(tid)) do
      if r.status == "in_progress" or r.status == "queued" then n = n + 1 end
    end
  end
  return n
end
local function no_source_path(text, name) T.unlike(text, "%.lua:%d+", name .. ": no source path") end

---------------------------------------------------------------------- configuration first

seed { thread("thread_cfg", 2) }
local old_report = T.write_file("{\"keep\": true}\n")
local out, err, code = run("cancel-older-than --older-than 1h --report " .. old_report .. " thread_cfg",
                           { OPENAI_API_KEY = false })
T.is(code, 2, "no OPENAI_API_KEY: exit 2")
T.is(err, "cancel-older-than: OPENAI_API_KEY is not set: export OPENAI_API_KEY=sk-... "
          .. "(runctl reads the key from the environment only)\n", "one line naming the variable and the fix")
T.is(#fake:requests(), 0, "no key: nothing was sent")
T.is(T.read_file(old_report), "{\"keep\": true}\n", "and the last report was not truncated")
no_source_path(err, "no key")

out, err, code = run("cancel thread_cfg/thread_cfg_01", { OPENAI_BASE_URL = "user:secret@127.0.0.1:" .. fake.port .. "/v1" })
T.is(code, 2, "a base URL without scheme: exit 2")
T.like(err, "^cancel: OPENAI_BASE_URL 'REDACTED@127%.0%.0%.1:%d+/v1' has no scheme: write it as a full URL",
       "named, with how to write it")
T.unlike(err, "secret", "the userinfo of a URL typed without scheme is not echoed")
out, err, code = run("--base-url ftp://host/v1 cancel thread_cfg/thread_cfg_01")
T.is(code, 2, "an ftp:// base URL: exit 2")
T.like(err, "^cancel: %-%-base%-url 'ftp://host/v1' is not an http:// or https:// URL", "naming the flag")
out, err, code = run("--azure cancel thread_cfg/thread_cfg_01")
T.is(code, 2, "--azure without its settings: exit 2")
T.like(err, "^cancel: %-%-azure needs AZURE_OPENAI_API_KEY .*AZURE_OPENAI_ENDPOINT .*OPENAI_API_VERSION",
       "naming every variable missing")
T.unlike(err, "runctl%.client", "no Lua advice")
out, err, code = run("watch --once thread_cfg", { OPENAI_API_KEY = false })
T.is(code, 2, "watch checks the key too")
T.is(#fake:requests(), 0, "no configuration error sent anything")
local core = require "runctl.core"
T.is(core.redact_url("user:secret@host/v1"), "REDACTED@host/v1", "redact_url hides userinfo without a scheme")

---------------------------------------------------------------------- a refused key stops the job

seed { thread("thread_k1", 2), thread("thread_k2", 2), thread("thread_k3", 2) }
out, err, code = run("cancel-older-than --older-than 1h --concurrency 1 thread_k1 thread_k2 thread_k3",
                     { OPENAI_API_KEY = "sk-test-revoked-000000" })
local list, by = T.report(out)
T.is(code, 1, "a 401: exit 1")
T.is(#fake:requests(), 1, "a 401 stops the job at once: one request, not one per thread")
T.is(by["thread:thread_k1"] and by["thread:thread_k1"].action, "failed", "the thread that met it failed")
T.is(by["thread:thread_k2"] and by["thread:thread_k2"].action, "skipped", "the rest is skipped")
T.like(by["thread:thread_k3"] and by["thread:thread_k3"].error, "^not attempted: the API refused the credentials %(401%)",
       "saying why")
T.like(err, "stopped: the API refused the credentials %(401%): check OPENAI_API_KEY", "the summary says why it stopped")
T.like(err, "not listed: 2 skipped, 1 failed", "and never says nothing to do")
no_source_path(err, "401")

fake:clear()
fake:faults { { method = "POST", path = "/cancel", status = 403, count = 1 } }
out, err, code = run("cancel --concurrency 1 thread_k1/thread_k1_01 thread_k1/thread_k1_02 thread_k2/thread_k2_01")
list, by = T.report(out)
T.is(count("POST"), 1, "a 403 on a cancel stops the cancels")
T.is(by.thread_k1_02.action .. "," .. by.thread_k2_01.action, "skipped,skipped", "the others are skipped")
T.like(err, "refused access %(403%)", "saying why")

fake:clear()
out, err, code = run("watch --interval 0.1 thread_k1", { OPENAI_API_KEY = "sk-test-revoked-000000" })
T.is(code, 1, "watch with a refused key stops: exit 1")
T.is(#fake:requests(), 1, "after the one refresh that met it")
T.like(err, "watch: stopped: the API refused the credentials %(401%)", "saying why")

---------------------------------------------------------------------- hints

seed { thread("thread_h", 1) }
out, err, code = run("cancel-older-than --older-than 1h thread_h", { OPENAI_BASE_URL = fake.url })
T.like(err, "OPENAI_BASE_URL 'http://127%.0%.0%.1:%d+' answered 404: does your base URL end in /v1%?",
       "a 404 from a base URL without /v1 asks about it")
fake:clear()
out, err, code = run("cancel-older-than --older-than 1h thread_h --dry-run --base-url " .. fake.base)
T.is(code, 2, "a runctl option after the script name: exit 2")
T.like(err, "unknown option '%-%-base%-url': runctl options go before the script name: runctl %-%-base%-url URL cancel%-older%-than",
       "with where it goes")
T.is(#fake:requests(), 0, "nothing sent for usage errors")

---------------------------------------------------------------------- flag values

for _, bad in ipairs { "0", "abc", "nan", "''", "-5" } do
  out, err, code = run("cancel-older-than --older-than 1h --wait " .. bad .. " thread_h")
  T.is(code, 2, "--wait " .. bad .. ": exit 2")
  T.like(err, "%-%-wait: '.-' is not a positive number of seconds", "--wait " .. bad .. ": names flag and value")
end
T.is(#fake:requests(), 0, "and nothing was sent")

-- --dry-run --wait waits for nothing: no retrieve after the listing
seed { { id = "thread_dw", runs = { R("dw_run", "in_progress", 7200), R("dw_stuck", "cancelling", 7300) } } }
for _, cmd in ipairs { "cancel-older-than --older-than 1h --dry-run --wait 600 thread_dw",
                       "--dry-run cancel-older-than --older-than 1h --wait 600 thread_dw",
                       "--dry-run cancel --wait 600 thread_dw/dw_run" } do
  fake:clear()
  out, err, code = run(cmd)
  list, by = T.report(out)
  T.is(code, 0, cmd .. ": exit 0")
  T.is(count("GET", "/runs/dw_"), cmd:find("^%-%-dry%-run cancel ") and 1 or 0, cmd .. ": no polling")
  T.is(by.dw_run and by.dw_run.action, "would_cancel", cmd .. ": would_cancel, no error")
  T.is(by.dw_run and by.dw_run.error, json.null, cmd .. ": and no wait error")
end

---------------------------------------------------------------------- help without running

local dir = TMP .. "/op-scripts-" .. math.random(1e9)
os.execute("mkdir -p " .. dir)
local marker = dir .. "/ran"
local f = assert(io.open(dir .. "/mine.lua", "w"))
f:write("-- mine.lua — a user script that ignores --help\nlocal USAGE = [[\nusage: runctl mine [--x N]\n",
        "  --x N   a number\n]]\nio.open(", ("%q"):format(marker), ", 'w'):close()\n")
f:close()
f = assert(io.open(dir .. "/bare.lua", "w"))
f:write("io.open(", ("%q"):format(marker), ", 'w'):close()\n")
f:close()
out, err, code = T.run("help mine", { RUNCTL_SCRIPTS = dir })
T.is(out, "usage: runctl mine [--x N]\n  --x N   a number\n", "runctl help NAME prints the declared USAGE")
T.is(code, 0, "exit 0")
out, err, code = T.run("help bare", { RUNCTL_SCRIPTS = dir })
T.is(code, 1, "a script without USAGE: exit 1")
T.like(err, "bare declares no usage", "saying so")
T.is(T.read_file(marker), nil, "runctl help NAME never runs the script")
out, err, code = T.run("help nosuch", { RUNCTL_SCRIPTS = dir })
T.is(code, 2, "help of an unknown name: exit 2")
for _, name in ipairs { "cancel", "cancel-older-than", "unblock-thread", "watch" } do
  local a = T.run("help " .. name, env())
  local b = T.run(name .. " --help", env())
  local prefix = "usage: runctl " .. name .. " "
  T.ok(a == b and a:sub(1, #prefix) == prefix, "help " .. name .. " is the text its --help prints", a)
end

---------------------------------------------------------------------- the report's frame

seed { thread("thread_r1", 2), thread("thread_r2", 2) }
local rpath = tmp("framed")
run("cancel-older-than --older-than 1h --report " .. rpath .. " thread_r1 - ", nil, "thread_r2\n")
local _, _, _, frame = T.report(T.read_file(rpath))
T.is(frame.header and frame.header.report, "cancel-older-than", "the report opens with a header naming the script")
T.is(frame.header and table.concat(frame.header.threads, ","), "thread_r1,thread_r2",
     "with the threads it works on (stdin's too)")
T.is(frame.header and frame.header.action, nil, "the header has no action (readers filtering on it skip it)")
T.is(frame.trailer and frame.trailer.complete, true, "and closes with complete: true")
T.is(frame.trailer and frame.trailer.counts.cancelled, 4, "with the counts")
out, err, code = run("cancel --file " .. rpath)
T.is(code, 0, "cancel --file of a complete report with nothing left: exit 0")
T.is(count("POST"), 4, "and sends nothing more")

-- a report of an older runctl (no header) with a thread never listed
fake:clear()
out, err, code = run("cancel --file " .. T.write_file('{"action":"failed","run_id":null,"thread_id":"thread_x"}\n'
                                                    .. '{"action":"skipped","run_id":"r1","thread_id":"thread_y"}\n'))
T.is(code, 2, "an older report with a thread never listed: exit 2")
T.like(err, "1 threads were never listed.-run runctl cancel%-older%-than %-%-older%-than AGE %[FILTERS%] thread_x",
       "naming the command for those threads")
T.is(#fake:requests(), 0, "nothing sent")

-- a thread file saved with a byte order mark
seed { thread("thread_bom", 1) }
out, err, code = run("cancel-older-than --older-than 1h --threads-file " .. T.write_file("\239\187\191thread_bom\n"))
T.is(code, 0, "a thread file with a UTF-8 BOM: exit 0")
T.is(count("POST"), 1, "its first thread is cancelled")

---------------------------------------------------------------------- recovery

local THREADS = { "thread_a", "thread_b", "thread_c", "thread_d" }
local function seed4() seed { thread("thread_a", 3), thread("thread_b", 3), thread("thread_c", 3), thread("thread_d", 3) } end
local ALL = table.concat(THREADS, " ")
local function lines_in(path)
  local _, n = (T.read_file(path) or ""):gsub("\n", "")
  return n
end

-- Ctrl-C while listing: threads never listed get skipped lines; cancel --file
-- refuses and names the command; --resume lists exactly those.
seed4()
fake:faults { { method = "GET", path = "/threads/thread_c/runs", delay_ms = 1500, count = 1 } }
rpath = tmp("listing")
local h = T.start(ENV, "cancel-older-than --older-than 1h --concurrency 1 --report " .. rpath .. " " .. ALL)
T.ok(T.wait_for(function() return count("GET", "/threads/thread_c/runs") >= 1 end), "listing thread_c is held")
h.signal("INT")
T.ok(T.wait_for(function() return h.code() ~= nil end, 20), "Ctrl-C while listing: it exits")
T.is(h.code(), 130, "exit 130")
list, by, _, frame = T.report(T.read_file(rpath))
T.is(by["thread:thread_c"] and by["thread:thread_c"].action, "skipped", "the thread cut off is skipped")
T.is(by["thread:thread_d"] and by["thread:thread_d"].action, "skipped", "the thread never started is skipped")
T.is(frame.trailer and frame.trailer.interrupted, true, "the closing line says it was interrupted")
fake:clear()
out, err, code = run("cancel --file " .. rpath)
T.is(code, 2, "cancel --file of it: exit 2")
T.like(err, "left 2 threads never listed .*nothing was sent%. Resume it with: runctl cancel%-older%-than %-%-resume "
       .. rpath:gsub("%p", "%%%0"), "names the exact command")
T.is(#fake:requests(), 0, "and sends nothing")
out, err, code = run("cancel-older-than --resume " .. rpath .. " --older-than 2h")
T.is(code, 2, "--resume with a filter: exit 2")
T.like(err, "%-%-resume takes its filters from the report: drop %-%-older%-than", "saying so")
out, err, code = run("cancel-older-than --resume " .. rpath .. " --report " .. rpath)
T.is(code, 2, "--resume into the report it reads: exit 2")
T.is(#fake:requests(), 0, "(nothing sent)")
local rpath2 = tmp("listing-resumed")
out, err, code = run("cancel-older-than --resume " .. rpath .. " --report " .. rpath2)
T.is(code, 0, "--resume: exit 0")
T.is(count("GET", "/threads/thread_[ab]/runs"), 0, "the threads already listed are not listed again")
T.is(active_on(THREADS), 0, "every run on every thread is cancelled in the end")
local max = 0
for _, n in pairs(posts_per_run()) do max = math.max(max, n) end
T.is(max, 1, "no run got a second cancel")

-- Ctrl-C while cancelling, then --resume with the same filters
seed4()
fake:faults { { method = "POST", path = "/cancel", delay_ms = 1500, count = 1 } }
rpath = tmp("cancelling")
h = T.start(ENV, "cancel-older-than --older-than 1h --concurrency 1 --report " .. rpath .. " " .. ALL)
T.ok(T.wait_for(function() return count("POST") >= 1 end), "a cancel is held")
h.signal("INT")
T.ok(T.wait_for(function() return h.code() ~= nil end, 20), "Ctrl-C while cancelling: it exits")
out, err, code = run("cancel --file " .. rpath)
T.is(code, 0, "cancel --file of it finishes the skipped runs (no thread left unlisted)")
T.is(active_on(THREADS), 0, "every run is cancelled")

-- Ctrl-C during --wait, then resume
seed { { id = "thread_w", runs = { R("w_stuck", "in_progress", 7300) } } }
fake:config { cancel_delay_ms = 600000 }        -- it stays cancelling
rpath = tmp("waiting")
h = T.start(ENV, "cancel-older-than --older-than 1h --wait 600 --report " .. rpath .. " thread_w")
T.ok(T.wait_for(function() return count("GET", "/runs/w_stuck$") >= 1 end), "--wait is polling")
h.signal("INT")
T.ok(T.wait_for(function() return h.code() ~= nil end, 20), "Ctrl-C during --wait: it exits")
_, by, _, frame = T.report(T.read_file(rpath))
T.is(by.w_stuck and by.w_stuck.error, "interrupted while waiting", "the run waited on says so")
T.is(frame.trailer and frame.trailer.complete, true, "the report is complete")
fake:config { cancel_delay_ms = 100 }

-- kill -9 while cancelling: the report has no closing line; cancel --file
-- refuses; --resume does what is left, each run cancelled once
seed4()
fake:faults { { method = "POST", path = "/cancel", delay_ms = 300, count = 100 } }
rpath = tmp("killed")
h = T.start(ENV, "cancel-older-than --older-than 1h --concurrency 1 --report " .. rpath .. " " .. ALL)
T.ok(T.wait_for(function() return lines_in(rpath) >= 3 end), "two runs are reported (and the header)")
h.signal("KILL")
T.ok(T.wait_for(function() return h.code() ~= nil end, 20), "kill -9: it is gone")
_, _, _, frame = T.report(T.read_file(rpath))
T.ok(frame.header and not frame.trailer, "the report has its header and no closing line: cut short")
fake:clear_faults()
out, err, code = run("cancel --file " .. rpath)
T.is(code, 2, "cancel --file of a cut-short report: exit 2")
T.like(err, "was cut short %(it has no closing line%).*Resume it with: runctl cancel%-older%-than %-%-resume",
       "says it was cut short and names the command")
local settled = {}
for _, rec in ipairs((T.report(T.read_file(rpath)))) do settled[rec.run_id] = rec.action == "cancelled" end
fake:clear()
out, err, code = run("cancel-older-than --resume " .. rpath .. " --report " .. tmp("killed-resumed"))
T.is(code, 0, "--resume of it: exit 0")
T.is(active_on(THREADS), 0, "every run is cancelled in the end")
local again = {}
for run_id in pairs(posts_per_run()) do if settled[run_id] then again[#again + 1] = run_id end end
T.is(table.concat(again, ","), "", "no run the report had settled was sent again")
T.ok(next(settled) ~= nil, "(the report had settled some)")

-- --kind batches: a listing that failed is resumed too
fake:seed { threads = json.array(), batches = { { id = "batch_r1", status = "in_progress", created_at = -30000 },
                                                { id = "batch_r2", status = "validating", created_at = -30000 } } }
fake:clear()
fake:faults { { method = "GET", path = "/v1/batches", status = 500 } }
rpath = tmp("batches")
out, err, code = run("--max-retries 0 cancel-older-than --kind batches --older-than 1h --report " .. rpath)
T.is(code, 1, "batches: a failed listing: exit 1")
out, err, code = run("cancel --file " .. rpath)
T.is(code, 2, "cancel --file refuses it")
T.like(err, "could not finish listing .*%-%-resume", "naming --resume")
fake:clear()
out, err, code = run("cancel-older-than --resume " .. rpath .. " --report " .. tmp("batches-resumed"))
T.is(code, 0, "--resume lists the batches again: exit 0")
T.is(count("POST", "/batches/batch_r[12]/cancel$"), 2, "and cancels both")

-- a second Ctrl-C: stops at once, the report says it is incomplete
seed4()
fake:faults { { method = "POST", path = "/cancel", delay_ms = 60000, count = 1 } }
rpath = tmp("twice")
h = T.start(ENV, "cancel-older-than --older-than 1h --concurrency 1 --report " .. rpath .. " " .. ALL)
T.ok(T.wait_for(function() return count("POST") >= 1 end), "a cancel is held")
h.signal("INT")
T.ok(T.wait_for(function() return h.err():find("interrupted: finishing") end), "the first Ctrl-C is noted")
h.signal("INT")
T.ok(T.wait_for(function() return h.code() ~= nil end, 20), "the second Ctrl-C stops it at once")
T.like(h.err(), "stopped at once: a report being written is incomplete", "saying the report is incomplete")
_, _, _, frame = T.report(T.read_file(rpath))
T.ok(frame.header and not frame.trailer, "and the report has no closing line")
fake:clear_faults()

---------------------------------------------------------------------- on a terminal

-- Runs `runctl ARGS` on a pseudo-terminal of cols x rows (script(1)); stdin
-- is the terminal. Returns what it showed and the exit status.
local function on_tty(args, cols, rows, extra_env)
  local outp = TMP .. "/tty-" .. math.random(1e9) .. ".out"
  local cmd = ("stty cols %d rows %d; %s %s %s %s"):format(cols, rows, ENV, extra_env or "",
                                                           os.getenv("RUNCTL") or "./runctl", args)
  local _, _, c = os.execute(("sleep 0 </dev/null | script -qec %s /dev/null >%s 2>&1"):format(T.quote(cmd), outp))
  return T.read_file(outp) or "", c
end
if os.execute("command -v script >/dev/null 2>&1") then
  seed { thread("thread_tty", 2), thread("thread_tty2", 1) }
  out, code = on_tty("cancel-older-than --older-than 1h thread_tty thread_tty2", 60, 24)
  T.is(code, 0, "on a terminal: exit 0")
  T.like(out, "\27%[32mcancelled%s*\27%[0m  thread_tty/thread_tty_01  in_progress %-> cancelling  2h00m",
         "a readable, coloured line per run")
  T.unlike(out, '"action"', "no JSON lines on a terminal")
  T.unlike(out, '"complete"', "nor the report's frame")
  local summary = 0
  for line in out:gsub("\27%[[%d;]*%a", ""):gmatch("[^\r\n]+") do
    if line:find("^cancel%-older%-than:") or line:find("^  %S") then
      summary = summary + 1
      T.ok(#line < 60, "the summary wraps at word boundaries to the width", line)
    end
  end
  T.ok(summary >= 2, "(the summary wrapped)", summary)
  T.like(out, "cancel%-older%-than: 3 runs considered %(older than 1h00m, of\r?\n  3 listed",
         "(cut between words)")
  seed { thread("thread_tty", 1) }
  out = on_tty("cancel-older-than --older-than 1h thread_tty", 100, 24, "NO_COLOR=1")
  T.like(out, "\27%[Kcancelled      thread_tty/thread_tty_01", "NO_COLOR: no colour")
  T.unlike(out, "\27%[3", "(no colour code at all)")
  seed { thread("thread_tty", 1) }
  out = on_tty("cancel-older-than --json --older-than 1h thread_tty", 100, 24)
  T.like(out, '{"action":"cancelled"', "--json: JSON lines on a terminal too")
  T.like(out, '{"complete":true', "with the frame")

  local many = {}
  for i = 1, 12 do many[i] = thread(("thread_w%02d"):format(i), 2) end
  seed(many)
  local ids = {}
  for i = 1, 12 do ids[i] = ("thread_w%02d"):format(i) end
  out, code = on_tty("watch --count 1 " .. table.concat(ids, " "), 100, 10)
  T.is(code, 0, "watch on a small terminal: exit 0")
  local shown = {}
  for line in out:gsub("^.*\27%[2J", ""):gmatch("[^\r\n]+") do shown[#shown + 1] = line end
  T.ok(#shown <= 9, "watch fits a 10-row terminal", #shown)
  T.like(shown[1] or "", "^runctl watch: 12 threads", "its title stays at the top")
  T.like(shown[2] or "", "^THREAD%s+QUEUED%s+IN_PROGRESS%s+REQUIRES_ACTION%s+CANCELLING%s+FINISHED%s+OLDEST_ACTIVE",
         "its columns are labelled")
  T.like(shown[3] or "", "^    ACTIVE RUN%s+STATUS%s+AGE%s+MODEL", "the active runs' columns too")
  T.like(shown[#shown] or "", "^%.%.%. %d+ more$", "what did not fit is counted")
else
  T.ok(true, "# SKIP script(1) is not installed: no terminal tests")
end

-- watch leaves on Ctrl-C: exit 0, no "interrupted"
seed { thread("thread_wc", 1) }
h = T.start(ENV, "watch --interval 0.2 thread_wc")
T.ok(T.wait_for(function() return count("GET") >= 2 end), "watch is refreshing")
h.signal("INT")
T.ok(T.wait_for(function() return h.code() ~= nil end, 20), "Ctrl-C stops watch")
T.is(h.code(), 0, "watch: Ctrl-C exits 0")
T.unlike(h.err(), "interrupted", "without an interrupted note")

---------------------------------------------------------------------- standard descriptors

-- (the shell's own redirections, so not T.run's)
local function sh(args)
  local errf = TMP .. "/sh-" .. math.random(1e9) .. ".err"
  local _, _, c = os.execute(("%s %s %s 2>%s"):format(os.getenv("RUNCTL_WRAP") or "",
                                                      os.getenv("RUNCTL") or "./runctl", args, errf))
  return T.read_file(errf) or "", c
end
err, code = sh("-e 'print(\"hello\")' >/dev/full")
T.is(code, 1, "output to /dev/full: exit 1")
T.like(err, "cannot write to standard output", "saying so")
-- stdout closed at start must be /dev/null, not whatever runctl opens first
-- (curl's own socket took descriptor 1, and printed lines went into it)
local probe = TMP .. "/probe-" .. math.random(1e9)
err, code = sh(("-e 'local f = io.open(%q, \"w\") f:write(io.popen(\"readlink /proc/$PPID/fd/1\"):read(\"a\")) f:close()' >&-")
               :format(probe))
T.is(code, 0, "stdout closed at start: exit 0")
T.is(T.read_file(probe), "/dev/null\n", "and descriptor 1 is /dev/null")
local probe2 = TMP .. "/probe-" .. math.random(1e9)
sh(("-e 'local f = io.open(%q, \"w\") f:write(tostring(io.stdin:read(\"a\"))) f:close()' <&-")
               :format(probe2))
T.is(T.read_file(probe2), "", "stdin closed at start reads as /dev/null (empty, not another file)")

T.done()
