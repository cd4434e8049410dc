-- tests/lua/test_screen.lua — what an operator sees (issue 28), on a
-- pseudo-terminal (script(1), 40 and 120 columns, NO_COLOR) and piped: the
-- live waiting line, the next step named last, kinds first, waits that judge
-- only this run, the confirmation table, narrow layouts, watch --json,
-- runctl list and get, cancel - on a terminal.
local T = require "helper"
local ops = require "runctl.ops"
local KEY = "sk-test-screen-0123456789"
local CWD = io.popen("pwd"):read("l")
local SCRIPTS = CWD .. "/scripts"
local RUNCTL = os.getenv("RUNCTL") or "./runctl"
if RUNCTL:sub(1, 1) ~= "/" then RUNCTL = CWD .. "/" .. RUNCTL end
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"

local fake = T.fake("--api-key " .. KEY)
local ENV = ("env -u OPENAI_LOG -u NO_COLOR OPENAI_API_KEY=%s OPENAI_BASE_URL=%s RUNCTL_SCRIPTS=%s")
            :format(KEY, fake.base, SCRIPTS)
local function env(extra)
  local e = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, RUNCTL_SCRIPTS = SCRIPTS }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end
local function run(args, extra, stdin) return T.run(args, env(extra), stdin) end
local function tmp(name) return ("%s/screen-%s-%d.jsonl"):format(TMP, name, math.random(1e9)) end
local have_script = os.execute("command -v script >/dev/null 2>&1")

local serial = 0
-- Runs runctl ARGS on a pseudo-terminal `cols` wide (script(1)), input fed
-- to it; returns what the terminal showed and the exit code.
local function on_tty(args, opts)
  opts = opts or {}
  serial = serial + 1
  local outp = ("%s/screen-tty-%d-%d.out"):format(TMP, math.random(1e9), serial)
  local cmd = ("stty cols %d rows %d; %s %s %s %s"):format(opts.cols or 120, opts.rows or 40, ENV,
                                                            opts.env or "", RUNCTL, args)
  local feed = opts.input and ("printf %s | "):format(T.quote(opts.input)) or "sleep 0 </dev/null | "
  local _, _, code = os.execute(("%sscript -qec %s /dev/null >%s 2>&1"):format(feed, T.quote(cmd), outp))
  return T.read_file(outp) or "", code
end

-- The lines a terminal ends up showing for `text`: each \r\27[K starts the line
-- again (a redrawn progress line), CR LF ends one.
local function drawn(text)
  local out = {}
  for seg in text:gsub("\r\n", "\n"):gmatch("[^\n]+") do
    for part in (seg .. "\r\27[K"):gmatch("(.-)\r\27%[K") do
      if part ~= "" then out[#out + 1] = part end
    end
  end
  return out
end
local function widest(lines)
  local w = 0
  for _, l in ipairs(lines) do
    local plain = l:gsub("\27%[[%d;]*[A-Za-z]", "")
    w = math.max(w, #plain)
  end
  return w
end
local function last_line(text) return (text:gsub("\n$", "")):match("([^\n]*)$") end
local function posts(pattern)
  local n = 0
  for _, r in ipairs(fake:requests()) do
    if r.method == "POST" and (not pattern or r.path:find(pattern)) then n = n + 1 end
  end
  return n
end
-- Splits a shell command line of plain words (what runctl prints) into the
-- arguments after "runctl".
local function args_of(cmd) return (cmd:gsub("^runctl ", "")) end

local function B(id, status, age, extra)
  local b = { id = id, status = status, created_at = -age }
  for k, v in pairs(extra or {}) do b[k] = v end
  return b
end
local function R(id, status, age) return { id = id, status = status, created_at = -age, expires_at = json.null } end
local function seed(s)
  s.threads = s.threads or json.array()
  s.batches = s.batches or json.array()
  fake:seed(s)
  fake:clear()
  fake:clear_faults()
end

if not have_script then
  T.ok(true, "# SKIP script(1) is not installed: no terminal tests")
  T.done()
  return
end

---------------------------------------------------------------------- 1. waiting is visible

seed { batches = { B("batch_w1", "in_progress", 30000, { cancel_delay_ms = 1500 }),
                   B("batch_w2", "in_progress", 20000, { cancel_delay_ms = 600 }) } }
local out, code = on_tty("cancel-older-than --kind batches --older-than 1h --wait 60")
T.is(code, 0, "--wait on a terminal: exit 0 once both stopped")
T.like(out, "waiting %[[#%-]+%] 0/2 stopped  slowest: batch_w1 cancelling  %d+m%d+s left",
       "a live line: stopped of total, the slowest object's status, time left")
T.like(out, "waiting %[[#%-]+%] 1/2 stopped  slowest: batch_w1 cancelling", "it moves as objects stop")
T.like(out, "waiting %[#+%] 2/2 stopped", "and ends with all stopped")
T.like(out, "\r\27%[K[^\r]*cancel%-older%-than: 2 batches considered", "it is erased before the summary")

seed { batches = { B("batch_w1", "in_progress", 30000, { cancel_delay_ms = 900 }) } }
out = on_tty("cancel-older-than --kind batches --older-than 1h --wait 60", { cols = 40 })
local lines = drawn(out)
local counts_kept = false
for _, l in ipairs(lines) do if l:find("0/1 stopped") then counts_kept = true end end
T.ok(counts_kept, "at 40 columns the waiting line keeps its counts")
local over = 0
for _, l in ipairs(lines) do if l:find("stopped") and #l > 39 then over = over + 1 end end
T.is(over, 0, "and never wraps (at most 39 columns)")
local left_kept, cut_word = false, false
for _, l in ipairs(lines) do
  if l:find("0/1 stopped  [%dms]+ left$") then left_kept = true end
  if l:find("stopped  slowest") and not l:find(" left$") then cut_word = true end
end
T.ok(left_kept, "at 40 columns the waiting line keeps the time left", table.concat(lines, " | "))
T.ok(not cut_word, "and shows no slowest object cut short", table.concat(lines, " | "))

seed { batches = { B("batch_w1", "in_progress", 30000, { cancel_delay_ms = 300 }) } }
local o, e, c = run("cancel-older-than --kind batches --older-than 1h --wait 60")
T.is(c, 0, "--wait piped: exit 0")
local json_only = o ~= ""
for line in o:gmatch("[^\n]+") do if type(json.decode(line)) ~= "table" then json_only = false end end
T.ok(json_only, "piped, stdout stays JSON lines only")
T.unlike(e, "[\r\27]", "and stderr has no live line (not a terminal)")

-- unblock-thread: a live line from the start, threads free of how many
seed { threads = { { id = "thread_u", runs = { R("u_run", "in_progress", 7200) } } } }
fake:config { cancel_delay_ms = 1200 }
out, code = on_tty("unblock-thread thread_u")
fake:config { cancel_delay_ms = 100 }
T.is(code, 0, "unblock-thread on a terminal: exit 0")
T.like(out, "unblocking %[[#%-]+%] 0/1 threads free  slowest: thread_u/u_run cancelling  %d+m%d+s left",
       "unblock-thread shows a live line while it waits")

-- jobs.wait from a script: progress = true draws the same line; a function gets each read
seed { batches = { B("batch_p1", "in_progress", 30000, { cancel_delay_ms = 700 }) } }
local script_path = T.write_file([[
assert(batches.cancel("batch_p1"))
local b = assert(batches.wait("batch_p1", { progress = true, interval = 0.2 }))
print("ended " .. b.status)
]])
out, code = on_tty(script_path)
T.is(code, 0, "batches.wait{progress = true}: exit 0")
T.like(out, "waiting %[[#%-]+%] 0/1 stopped  slowest: batch_p1 cancelling  %d+m%d+s left",
       "jobs.wait with progress = true draws the live line on a terminal")
T.like(out, "ended cancelled", "and returns the stopped object")
seed { batches = { B("batch_p2", "in_progress", 30000, { cancel_delay_ms = 500 }) } }
script_path = T.write_file([[
assert(batches.cancel("batch_p2"))
local seen = {}
local b = assert(batches.wait("batch_p2", { interval = 0.2, progress = function(obj, left)
  seen[#seen + 1] = obj.status .. (type(left) == "number" and left > 0 and "+" or "?")
end }))
print(table.concat(seen, ","))
local ok, err = pcall(batches.wait, "batch_p2", { progress = "yes" })
print(err)
]])
o, e, c = run(script_path)
T.like(o, "^cancelling%+,.*cancelled%+\n", "progress = function(obj, seconds_left) is called after each read", e)
T.like(o, "batches%.wait: progress must be true or a function", "a bad progress value is named")
T.unlike(e, "\27", "piped: no live line")

---------------------------------------------------------------------- 2. the next step, always named

local function thread(tid, n)
  local runs = {}
  for i = 1, n do runs[i] = R(("%s_%02d"):format(tid, i), "in_progress", 7200 + i) end
  return { id = tid, runs = runs }
end
seed { threads = { thread("thread_n", 6) } }
fake:faults { { method = "POST", path = "/cancel", delay_ms = 1500, count = 2 } }
local rpath = tmp("sigint")
local h = T.start(ENV, "cancel-older-than --older-than 1h --concurrency 2 --report " .. rpath .. " thread_n")
T.ok(T.wait_for(function() return posts() >= 2 end), "two cancels in flight")
h.signal("INT")
T.ok(T.wait_for(function() return h.code() ~= nil end, 20), "Ctrl-C: it exits")
local base = rpath:gsub("%.jsonl$", "")
local want = ("runctl cancel-older-than --resume %s --report %s.resumed.jsonl"):format(rpath, base)
T.is(last_line(h.err()), "cancel-older-than: next: resume it (what is left, with its filters): " .. want,
     "after Ctrl-C the last line is the exact command that resumes the job")
fake:clear_faults()
fake:clear()
o, e, c = run(args_of(want))
T.is(c, 0, "that command works: exit 0", e)
T.is(posts(), 4, "it cancels exactly the 4 runs left (each once)")
T.unlike(e, "next:", "a complete run names no next step")

-- SIGTERM ends the job as Ctrl-C does: the same last line
seed { threads = { thread("thread_t", 4) } }
fake:faults { { method = "POST", path = "/cancel", delay_ms = 1500, count = 1 } }
rpath = tmp("sigterm")
h = T.start(ENV, "cancel --concurrency 1 --report " .. rpath .. " thread_t/thread_t_01 thread_t/thread_t_02")
T.ok(T.wait_for(function() return posts() >= 1 end), "a cancel in flight")
h.signal("TERM")
T.ok(T.wait_for(function() return h.code() ~= nil end, 20), "SIGTERM: it exits")
want = ("runctl cancel --file %s --report %s.retry.jsonl"):format(rpath, (rpath:gsub("%.jsonl$", "")))
T.is(last_line(h.err()), "cancel: next: retry what failed or was skipped: " .. want,
     "after SIGTERM the last line names the retry too")
fake:clear_faults()
fake:clear()
o, e, c = run(args_of(want))
T.is(c, 0, "which works", e)
T.is(posts(), 1, "and sends only the one skipped")

seed { threads = { thread("thread_f", 2) } }
fake:faults { { method = "POST", path = "thread_f_02/cancel", status = 500, count = 1 } }
rpath = tmp("failed")
base = rpath:gsub("%.jsonl$", "")
o, e, c = run("--max-retries 0 cancel --report " .. rpath .. " thread_f/thread_f_01 thread_f/thread_f_02")
T.is(c, 1, "a failed cancel: exit 1")
want = ("runctl cancel --file %s --report %s.retry.jsonl"):format(rpath, base)
T.is(last_line(e), "cancel: next: retry what failed or was skipped: " .. want, "the last line names the retry")
fake:clear()
o, e, c = run(args_of(want))
T.is(c, 0, "the retry works: exit 0", e)
T.is(posts(), 1, "and sends only the one that failed")
local _, by = T.report(T.read_file(base .. ".retry.jsonl"))
T.is(by.thread_f_02 and by.thread_f_02.action, "cancelled", "which is now cancelled")

seed { threads = { thread("thread_f", 1) } }
fake:faults { { method = "POST", path = "/cancel", status = 500, count = 1 } }
rpath = tmp("piped")
os.execute(("%s %s --max-retries 0 cancel thread_f/thread_f_01 2>%s | cat >/dev/null"):format(ENV, RUNCTL, rpath))
e = T.read_file(rpath) or ""
T.is(last_line(e), "cancel: next: no report was kept (stdout is a pipe); run it again with one, which redoes "
                   .. "nothing already done: runctl cancel thread_f/thread_f_01 --report cancel.jsonl",
     "no report: the last line says how to get one")
seed { threads = { thread("thread_f", 1) } }
fake:faults { { method = "POST", path = "/cancel", status = 500, count = 1 } }
rpath = tmp("stdout")
local errp = rpath .. ".err"
os.execute(("cd %s && %s %s --max-retries 0 cancel thread_f/thread_f_01 >%s 2>%s"):format(T.quote(TMP), ENV,
           RUNCTL, rpath, errp))
T.like(last_line(T.read_file(errp) or ""), "^cancel: next: retry what failed or was skipped: runctl cancel %-%-file "
       .. rpath:gsub("%p", "%%%0"), "stdout redirected to a file: the command names that file")
seed { threads = { thread("thread_f", 1) } }
fake:faults { { method = "POST", path = "/cancel", status = 500, count = 1 } }
os.execute(("%s %s --max-retries 0 cancel thread_f/thread_f_01 >/dev/null 2>%s"):format(ENV, RUNCTL, errp))
T.like(last_line(T.read_file(errp) or ""), "^cancel: next: no report was kept %(stdout is not a file%)",
       "stdout to /dev/null: no report, said so (not --file /dev/null)")
seed { threads = { thread("thread_f", 1) } }
out = on_tty("--max-retries 0 cancel thread_f/thread_f_01 thread_f/nope_01")
T.like(out, "next: no report was kept %(stdout is a terminal%)", "on a terminal too")
seed { batches = { B("batch_int", "in_progress", 30000, { cancel_delay_ms = 60000 }) } }
out = on_tty("cancel --wait 60 batch_int", { env = "timeout -s INT 2" })
T.like(out, "interrupted: 0 batches skipped; stdout has a line for each", "Ctrl-C without a report: no report spoken of")
T.like(out, "next: no report was kept %(stdout is a terminal%)", "and the next step says how to keep one")

seed { batches = { B("batch_slow", "in_progress", 30000, { cancel_delay_ms = 60000 }) } }
o, e, c = run("cancel --wait 1 batch_slow")
T.is(c, 1, "still cancelling when --wait ran out: exit 1")
T.is(last_line(e), "cancel: next: follow them until they stop: runctl watch batch_slow",
     "the next step is to watch what is still stopping")
o, e, c = run("watch --once batch_slow")
T.like(o, "batch_slow%s+cancelling", "which works")

-- unblock-thread still blocked at its deadline, threads from stdin: the command names them
seed { threads = { { id = "thread_b", runs = { R("b_run", "in_progress", 7200) } } } }
fake:config { cancel_delay_ms = 600000 }
rpath = tmp("unblock")
o, e, c = run("unblock-thread --wait 1 --report " .. rpath, nil, "thread_b\n")
fake:config { cancel_delay_ms = 100 }
T.is(c, 1, "unblock-thread still blocked: exit 1")
want = ("runctl unblock-thread --wait 1 thread_b --report %s.retry.jsonl"):format((rpath:gsub("%.jsonl$", "")))
T.is(last_line(e), "unblock-thread: next: run it again (it lists the threads anew): " .. want,
     "the next step names the threads read from stdin")
fake:seed { threads = { { id = "thread_b", runs = { R("b_run", "cancelled", 7200) } } } }
o, e, c = run(args_of(want))
T.is(c, 0, "and works once the run has stopped", e)

---------------------------------------------------------------------- 3. kinds first

seed { batches = { B("batch_k", "in_progress", 30000) } }
out, code = on_tty("cancel-older-than --older-than 2h")
T.is(code, 2, "cancel-older-than without --kind or thread IDs: exit 2")
T.like(out, "which objects%? Name a kind with %-%-kind runs|batches|fine%-tuning|eval%-runs:", "it names the kinds")
T.like(out, "runctl cancel%-older%-than %-%-kind batches %-%-older%-than 2h%s+every batch", "with a command for each")
T.like(out, "runctl cancel%-older%-than %-%-older%-than 2h THREAD_ID%.%.%.%s+runs, per thread", "runs with threads")
T.like(out, "runctl cancel%-older%-than %-%-kind eval%-runs %-%-older%-than 2h EVAL_ID%.%.%.%s+eval runs, per eval",
       "a kind listed per parent with its --kind")
T.is(#fake:requests(), 0, "and sends nothing")
o, e, c = run("cancel-older-than --older-than 2h", nil, "")
T.is(c, 2, "piped and empty stdin: exit 2")
T.like(e, "which objects%?", "the same answer")
o, e, c = run("watch")
T.like(e, "nothing to watch: name a kind with %-%-kind batches|fine%-tuning", "watch says which kinds there are")
T.like(e, "runctl watch %-%-kind batches%s+every recent batch", "with a command for each")
o = run("cancel-older-than --help")
T.like(o, "Cancels every active object of one kind older than AGE", "help speaks of objects")
T.like(o, "\n  %$ runctl cancel%-older%-than %-%-kind batches ", "with per-kind examples")
T.like(o, "1w, 1h30m", "and documents w")

---------------------------------------------------------------------- 5. confirmation shows what it confirms

local function bseed(n)
  local list = {}
  for i = 1, n do
    list[i] = B(("batch_c%d"):format(i), "in_progress", 30000 + i, { model = "gpt-4o-mini",
      request_counts = { total = 10, completed = i, failed = 0 } })
  end
  seed { batches = list }
end
bseed(3)
rpath = tmp("declined")
out, code = on_tty("cancel-older-than --kind batches --older-than 1h --confirm-above 1 --report " .. rpath, { input = "n\n" })
T.is(code, 2, "declined: exit 2")
T.like(out, "KIND%s+ID%s+STATUS%s+AGE%s+MODEL%s+COST SO FAR\r?\n", "a compact table first: kind, ID, status, age, model, cost")
T.like(out, "batch%s+batch_c3%s+in_progress%s+8h20m%s+gpt%-4o%-mini%s+3/10 requests", "one row per object")
T.like(out, "cancel%-older%-than: cancel these 3 batches%? %[y/N%]", "then it asks")
T.is(posts(), 0, "declined: nothing sent")
local list
list, by = T.report(T.read_file(rpath))
T.is(by.batch_c1 and by.batch_c1.error, "not confirmed", "a declined line reads skipped (not confirmed)")
bseed(3)
out = on_tty("cancel-older-than --kind batches --older-than 1h --confirm-above 1", { input = "n\n" })
T.like(out, "skipped%s*\27%[0m  batch_c1  in_progress  8h20m  %(not confirmed%)", "on the terminal as well")
bseed(3)
out = on_tty("cancel-older-than --kind batches --older-than 1h --confirm-above 1", { input = "n\n", cols = 40 })
local table_lines = {}       -- the table's (report lines below it are a log, and may wrap)
for _, l in ipairs(drawn(out)) do
  if l:find("^KIND") or l:find("^batch ") then table_lines[#table_lines + 1] = l end
end
T.ok(#table_lines == 4 and widest(table_lines) <= 39, "at 40 columns the table does not wrap", widest(table_lines))
T.like(out, "KIND%s+ID%s+STATUS%s+AGE\r?\n", "at 40 columns the table keeps ID, status and age (model, cost left out)")
T.like(out, "\nbatch%s+batch_c2%s+in_progress%s+8h20m\r?\n", "per object")
bseed(2)
out = on_tty("cancel-older-than --kind batches --older-than 1h --confirm-above 1", { input = "y\n", env = "NO_COLOR=1" })
T.is(posts(), 2, "answering y: sent")
T.unlike(out, "\27%[3%dm", "NO_COLOR: no colour")
T.like(out, "cancelled%s+batch_c1", "the lines are there")

bseed(2)
o, e, c = run("cancel-older-than --kind batches --older-than 0")
T.is(c, 2, "--older-than 0 alone: exit 2")
T.like(e, "%-%-older%-than 0 picks every active object whatever its age: add %-%-all %(or %-%-yes%)", "says why")
T.is(posts(), 0, "nothing sent")
o, e, c = run("cancel-older-than --kind batches --all")
T.is(c, 0, "--all: every active object")
T.is(posts(), 2, "both cancelled")
o, e, c = run("cancel-older-than --kind batches --all --older-than 2h")
T.like(e, "%-%-all and %-%-older%-than 2h00m contradict each other", "--all with an age is refused")
o, e, c = run("cancel-older-than --kind batches")
T.like(e, "%-%-older%-than is required: an age such as 2h %(or %-%-all", "no age: says how to give one")
o, e, c = run("cancel-older-than --kind batches --older-than 1e9h")
T.like(e, "%-%-older%-than: '1e9h' is too large: at most 3650d", "1e9h is too large, said so")
T.is(c, 2, "exit 2")

---------------------------------------------------------------------- 6. narrow and wide

local many = {}
for i = 1, 4 do many[i] = B(("batch_narrow_0000000%d"):format(i), "in_progress", 3600 * i, { model = "gpt-4o" }) end
seed { batches = many }
out = on_tty("watch --once --kind batches", { cols = 40 })
lines = drawn(out:gsub("\27%[H\27%[2J", ""))
T.ok(widest(lines) <= 39, "watch at 40 columns: no line wider than the terminal", widest(lines))
T.like(out, "batch_narrow_00000004", "it keeps each ID whole")
T.like(out, "in_progress%s+4h00m", "with its status and age")
out = on_tty("watch --once --kind batches", { cols = 120 })
T.like(out, "BATCHES%s+VALIDATING%s+IN_PROGRESS%s+FINALIZING", "at 120 columns the wide table")
T.like(out, "batch_narrow_00000004%s+in_progress%s+4h00m%s+gpt%-4o", "with the model too")
out = on_tty("watch --once --kind batches batch_missing_0000000000001", { cols = 120 })
T.like(out, "BATCHES%s+VALIDATING%s+IN_PROGRESS", "a long error line does not force the narrow layout on 120 columns")
T.like(out, "\nbatch_missing_0000000000001%s+error%s+404 invalid_request_error", "the object's error is shown, cut to fit")
T.ok(widest(drawn(out:gsub("\27%[H\27%[2J", ""))) <= 119, "and nothing wraps")
o, e, c = run("watch --json --once --kind batches batch_narrow_00000001")
local recs = {}
for line in o:gmatch("[^\n]+") do recs[#recs + 1] = json.decode(line) end
T.is(c, 0, "watch --json: exit 0")
T.is(recs[1] and recs[1].type, "row", "watch --json: a row line")
T.is(recs[1] and recs[1].counts and recs[1].counts.in_progress, 4, "with its counts")
T.is(recs[2] and recs[2].type .. " " .. recs[2].id .. " " .. recs[2].status, "object batch_narrow_00000004 in_progress",
     "then one line per active object, oldest first")
T.is(recs[#recs] and recs[#recs].id, "batch_narrow_00000001", "and the objects given by ID")
T.is(recs[#recs] and recs[#recs].refresh, 1, "each line says which refresh")
out = on_tty("watch --json --once --kind batches")
T.unlike(out, "\27%[H", "watch --json on a terminal: JSON, no redraw")

local r40 = ops.render_progress("cancelling", 5, 10, "5 cancelled, 0 failed", 24, 40)
T.ok(#r40 <= 39 and r40:find("5/10", 1, true), "the progress line at 40 columns keeps its counts", r40)
T.is(ops.render_progress("cancelling", 5, 10, "5 cancelled", 24, 12), "5/10  5 can", "at 12 columns the counts stay, the label goes")
T.is(ops.render_progress("x", 5, 10, nil, 24, 12), "x 5/10", "the bar goes before the counts")
T.is(ops.render_progress("waiting", 0, 3, "1m58s left", 24, 40, "stopped"), "waiting 0/3 stopped  1m58s left",
     "the bar goes before the note is cut")
T.is(ops.render_progress("cancelling", 5, 10, "5 cancelled", 24, 120),
     "cancelling [############------------] 5/10  5 cancelled", "wide: the whole line")
local sink = { text = "" }
function sink:write(...) for _, s in ipairs { ... } do self.text = self.text .. s end end
function sink:flush() end
local bar = ops.progress("cancelling", 10, { out = sink, enabled = true })
bar:update(3, "3 cancelled", true)
bar:status("paced by the server: 5/s")
T.like(sink.text, "3/10  3 cancelled  paced by the server: 5/s$", "a status note has its place after the counts")

---------------------------------------------------------------------- 7. list and get

local pages = {}
for i = 1, 150 do
  pages[i] = B(("batch_l%03d"):format(i), i % 3 == 0 and "completed" or "in_progress", 600 * i,
               { model = i % 2 == 0 and "gpt-4o" or "gpt-4o-mini", metadata = { team = i % 5 == 0 and "red" or "blue" } })
end
seed { batches = pages }
o, e, c = run("list batches")
local n = select(2, o:gsub("\n", ""))
T.is(c, 0, "list batches piped: exit 0", e)
T.is(n, 150, "every page followed: 150 JSON lines")
T.is(json.decode(o:match("^[^\n]+")).object, "batch", "each the object as the API returned it")
local gets = 0
for _, r in ipairs(fake:requests()) do if r.method == "GET" then gets = gets + 1 end end
T.is(gets, 2, "two pages of 100")
fake:clear()
o = run("list batches --limit 5")
T.is(select(2, o:gsub("\n", "")), 5, "--limit 5: five")
T.is(#fake:requests(), 1, "--limit stops early: one page read")
o = run("list batches --status completed --model gpt-4o --metadata team=red")
local ids = {}
for line in o:gmatch("[^\n]+") do ids[#ids + 1] = json.decode(line).id end
T.is(table.concat(ids, ","), "batch_l030,batch_l060,batch_l090,batch_l120,batch_l150",
     "--status, --model and --metadata filter (all must match)")
o = run("list batches --older-than 1445m --newer-than 1d2h")
ids = {}
for line in o:gmatch("[^\n]+") do ids[#ids + 1] = json.decode(line).id end
T.is(table.concat(ids, ","), "batch_l145,batch_l146,batch_l147,batch_l148,batch_l149,batch_l150",
     "--older-than and --newer-than bound the age")
o, e, c = run("list batches --status running")
T.like(e, "%-%-status: 'running' is not a status of batches: use cancelled, cancelling, completed", "a bad status")
o, e, c = run("list responses")
T.like(e, "responses cannot be listed %(the API has no list%): read them by ID with runctl get ID", "responses: get")
o, e, c = run("list runs")
T.like(e, "runs are listed per thread: give thread IDs", "runs need thread IDs")
o, e, c = run("list")
T.like(e, "which kind%? runctl list runs|batches|fine%-tuning", "no kind")
out = on_tty("list batches --limit 3")
T.like(out, "ID%s+STATUS%s+AGE%s+MODEL%s+COST SO FAR\r?\n", "list on a terminal: a table")
T.like(out, "batch_l003%s+completed%s+30m%d%ds%s+gpt%-4o%-mini%s+%d+/%d+ requests", "a row per object, newest first")
out = on_tty("list batches --limit 3", { cols = 40 })
T.ok(widest(drawn(out)) <= 39, "list at 40 columns fits", widest(drawn(out)))

seed { evals = { { id = "eval_s", runs = { { id = "evalrun_a", status = "in_progress", created_at = -600, model = "gpt-4o" },
                                          { id = "evalrun_b", status = "completed", created_at = -900 } } } } }
out = on_tty("list eval-runs eval_s --status in_progress")
T.like(out, "ID%s+STATUS%s+AGE%s+MODEL%s+COST SO FAR%s+EVAL\r?\n", "list eval-runs: a table with the eval")
T.like(out, "evalrun_a%s+in_progress%s+10m%d%ds%s+gpt%-4o.-eval_s", "its runs, filtered")
T.unlike(out, "evalrun_b", "the filter leaves the completed one out")
o, e, c = run("get eval_s/evalrun_b")
T.like(o, '"id":"evalrun_b"', "get EVAL_ID/evalrun_...: the eval run", e)
seed { batches = pages }
o, e, c = run("get batch_l001 batch_l002")
recs = {}
for line in o:gmatch("[^\n]+") do recs[#recs + 1] = json.decode(line) end
T.is(c, 0, "get piped: exit 0")
T.is(#recs == 2 and recs[1].id .. "," .. recs[2].id, "batch_l001,batch_l002", "the objects, in the order given")
o, e, c = run("get -", nil, "batch_l003\n# a comment\nbatch_nope\n")
T.is(c, 1, "get of a missing object: exit 1")
T.like(o, '"id":"batch_l003"', "the others are shown")
T.like(e, "get: batch_nope: 404 ", "the missing one is said on stderr")
out = on_tty("get batch_l003")
T.like(out, "KIND%s+ID%s+STATUS%s+AGE%s+MODEL", "get on a terminal: a table")
T.like(out, "batch%s+batch_l003%s+completed%s+30m%d%ds%s+gpt%-4o%-mini", "with the object")
o, e, c = run("get")
T.is(c, 2, "get without IDs (stdin empty): exit 2")
o = run("help")
T.like(o, "\n  list%s+list the objects of a kind", "runctl help lists list")
T.like(o, "\n  get%s+read objects by ID", "and get")

---------------------------------------------------------------------- 9. make demo's next steps, make fake

local demo = T.read_file("tools/demo.sh") or ""
local tries = {}
for cmd in demo:gmatch('\necho "  %$RUNCTL ([^"\n]+)"') do tries[#tries + 1] = cmd end
T.is(#tries, 3, "make demo ends with three commands to try next")
T.like(demo, "start it with \\`make fake\\`", "against the server make fake starts")
T.like(T.read_file("Makefile") or "", "\nfake: %$%(FAKEAPI%)\n.-%-%-seed tools/demo%-seed%.json",
       "make fake serves tools/demo-seed.json")
local counts = fake:seed(json.decode(T.read_file("tools/demo-seed.json")))
local every = true
for _, k in ipairs { "threads", "runs", "batches", "responses", "fine_tuning_jobs", "vector_store_file_batches", "uploads", "eval_runs" } do
  if not (counts and counts[k] and counts[k] > 0) then every = false end
end
T.ok(every, "the seed has an object of every kind", counts)
fake:clear()
for _, cmd in ipairs(tries) do
  o, e, c = run(cmd)
  T.is(c, 0, "runctl " .. cmd .. ": works against that seed", e)
  T.like(o, '"id":"%S+"', "runctl " .. cmd .. ": shows objects")
end

---------------------------------------------------------------------- 9. cancel - on a terminal

seed { threads = { thread("thread_d", 1) } }
out, code = on_tty("cancel -", { input = "thread_d/thread_d_01\n\4" })
T.like(out, "cancel: reading IDs from the terminal, one per line; end with Ctrl%-D", "cancel - says how to end its input")
T.is(posts(), 1, "and cancels what was typed")

T.done()
