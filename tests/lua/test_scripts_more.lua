-- tests/lua/test_scripts_more.lua — the other bundled scripts (cancel,
-- unblock-thread, watch), `runctl help`, and finding the scripts by name from
-- another directory: beside the binary, in an installed layout, in $RUNCTL_SCRIPTS.
local T = require "helper"
local KEY = "sk-test-scripts-0123456789"
local CWD = io.popen("pwd"):read("l")
local SCRIPTS = CWD .. "/scripts"
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"

local function R(id, status, age, extra)
  local r = { id = id, status = status, created_at = -age, expires_at = json.null }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end
local SEED = { threads = {
  { id = "thread_a", runs = {
    R("a_queued", "queued", 7200), R("a_progress", "in_progress", 7300), R("a_action", "requires_action", 7400),
    R("a_expiring", "in_progress", 7500, { expires_at = -60 }), R("a_completed", "completed", 7600),
    R("a_cancelling", "cancelling", 7700) } },
  { id = "thread_b", runs = { R("b_progress", "in_progress", 100), R("b_done", "failed", 200) } },
  { id = "thread_idle", runs = { R("i_done", "completed", 300) } },
} }
local fake = T.fake("--seed " .. T.seed_file(SEED))
local env = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, RUNCTL_SCRIPTS = SCRIPTS }
local function run(args, stdin, flags) return T.run((flags or "") .. " " .. args, env, stdin) end
local function reseed() fake:seed(SEED) fake:clear() end

local report = T.report
local function posted()
  local ids = {}
  for _, r in ipairs(fake:requests()) do
    if r.method == "POST" then ids[#ids + 1] = r.path:match("/runs/([^/]+)/cancel$") or r.path end
  end
  table.sort(ids)
  return table.concat(ids, ",")
end

---------------------------------------------------------------------- cancel

reseed()
local out, err, code = run("cancel")
T.is(code, 2, "cancel without pairs: exit 2")
T.like(err, "no runs: give THREAD_ID/RUN_ID pairs", "cancel without pairs says how to give them")
out, err, code = run("cancel just_one_id")
T.is(code, 2, "cancel with a bad pair: exit 2")
T.like(err, "'just_one_id' is not THREAD_ID/RUN_ID", "the bad pair is named")
out, err, code = run("cancel --file /nonexistent/pairs")
T.like(err, "%-%-file: cannot read /nonexistent/pairs", "an unreadable --file is named")
T.is(code, 2, "exit 2")
T.is(#fake:requests(), 0, "no usage error sent a request")
out, err, code = run("cancel --help")
T.like(out, "^usage: runctl cancel %[OPTIONS%] THREAD_ID/RUN_ID", "cancel --help")
for _, flag in ipairs { "--file", "--dry-run", "--wait", "--concurrency", "--rate", "--report" } do
  T.like(out, "\n  " .. flag:gsub("%-", "%%-") .. " ", "cancel --help documents " .. flag)
end

out, err, code = run("cancel thread_a/a_queued thread_a/a_completed thread_a/nope thread_a/a_queued")
local list, by = report(out)
T.is(#list, 3, "cancel: one line per distinct pair")
T.is(by.a_queued.action .. "/" .. by.a_queued.status_after, "cancelled/cancelling", "cancel: cancelled")
T.ok(by.a_queued.age >= 7200 and by.a_queued.age < 7300, "cancel: age from the answer", by.a_queued.age)
T.is(by.a_completed.action .. "/" .. by.a_completed.status_before, "already_done/completed",
     "cancel: a finished run is already_done, its status known from the answer")
T.is(by.nope.action, "failed", "cancel: an unknown run is failed")
T.like(by.nope.error, "^404 .*No run found with id 'nope'", "with the 404")
T.is(code, 1, "cancel: exit 1 when one failed")
T.is(posted(), "a_completed,a_queued,nope", "cancel: one POST per pair")
T.like(err, "cancel: 3 runs: 1 cancelled, 1 already done, 1 failed", "cancel: the summary")

reseed()
out, err, code = run("cancel --dry-run thread_a/a_progress thread_a/a_completed thread_a/a_expiring thread_a/nope")
list, by = report(out)
T.is(posted(), "", "cancel --dry-run: no POST")
T.is(by.a_progress.action .. "/" .. by.a_progress.status_before, "would_cancel/in_progress",
     "cancel --dry-run: would_cancel with the status it has")
T.is(by.a_completed.action, "already_done", "cancel --dry-run: already_done")
T.is(by.a_expiring.action .. "/" .. tostring(by.a_expiring.note), "would_cancel/past expires_at",
     "cancel --dry-run: a run still active past its expires_at would be cancelled, and the line says why")
T.is(by.nope.action, "failed", "cancel --dry-run: an unknown run is failed")
T.is(code, 1, "cancel --dry-run: exit 1 for the unknown run")

-- pairs from a file (both forms, comments), from stdin, from a report
reseed()
local pf = T.write_file("# pairs\nthread_a a_queued\nthread_a/a_progress  # the slow one\n\n")
out, err, code = run("cancel --file " .. pf)
T.is(posted(), "a_progress,a_queued", "cancel --file: 'T R' and 'T/R' lines, comments skipped")
T.is(code, 0, "exit 0")
reseed()
run("cancel -", "thread_a/a_action\n")
T.is(posted(), "a_action", "cancel -: pairs from stdin")
reseed()
local rpath = TMP .. "/plan-" .. math.random(1e9) .. ".jsonl"
T.run("cancel-older-than --older-than 1h --dry-run --report " .. rpath .. " thread_a", env)
fake:clear()
out, err, code = run("cancel --file " .. rpath)
T.is(posted(), "a_action,a_expiring,a_progress,a_queued",
     "cancel --file REPORT: the would_cancel lines of a dry run are cancelled, the others left alone")
T.is(code, 0, "exit 0")

reseed()
out, err, code = run("cancel --wait 20 thread_a/a_action thread_a/a_queued")
list, by = report(out)
T.is(by.a_action.status_after .. "," .. by.a_queued.status_after, "cancelled,cancelled",
     "cancel --wait: until they leave cancelling")
T.is(code, 0, "exit 0")
reseed()
out, err, code = run("cancel --wait 1 thread_a/a_cancelling")
list, by = report(out)
T.is(by.a_cancelling.action, "already_done", "cancel of a cancelling run: already_done")
T.is(by.a_cancelling.error, json.null, "--wait does not wait for a cancel this run did not send")
T.is(code, 0, "someone else's cancel under way: exit 0")

---------------------------------------------------------------------- unblock-thread

local USEED = { threads = {
  { id = "thread_u1", runs = { R("u_active", "in_progress", 50), R("u_action", "requires_action", 60),
                               R("u_old", "completed", 5000) } },
  { id = "thread_u2", runs = { R("u2_stuck", "cancelling", 70) } },
  { id = "thread_u3", runs = { R("u3_done", "completed", 80) } },
} }
fake:seed(USEED)
fake:clear()
out, err, code = run("unblock-thread --help")
T.like(out, "^usage: runctl unblock%-thread", "unblock-thread --help")
out, err, code = run("unblock-thread")
T.is(code, 2, "unblock-thread without threads: exit 2")
out, err, code = run("unblock-thread --wait soon thread_u1")
T.like(err, "%-%-wait: 'soon' is not a positive number of seconds", "unblock-thread names a bad --wait")
T.is(#fake:requests(), 0, "no request on a usage error")

out, err, code = run("unblock-thread --dry-run thread_u1 thread_u2")
list, by = report(out)
T.is(posted(), "", "unblock-thread --dry-run: no POST")
T.is(by.u_active.action .. "," .. by.u_action.action, "would_cancel,would_cancel", "would_cancel the active runs")
T.is(by.u2_stuck.action, "already_done", "a cancelling run is already_done")
T.is(by.u_old, nil, "a finished run is not reported")
T.like(err, "thread_u1: would cancel 2 runs", "the summary per thread")
T.is(code, 0, "exit 0")

fake:clear()
out, err, code = run("unblock-thread thread_u1 thread_u3")
list, by = report(out)
T.is(posted(), "u_action,u_active", "unblock-thread cancels every active run")
T.is(by.u_active.action .. "/" .. by.u_active.status_after, "cancelled/cancelled",
     "and waits until it is cancelled")
T.is(by.u_action.status_after, "cancelled", "every one of them")
T.like(err, "thread_u1: accepts new work %(2 runs cancelled%)", "the summary says the thread accepts new work")
T.like(err, "thread_u3: accepts new work\n", "an idle thread accepts new work at once")
T.is(code, 0, "exit 0")
local blocking = 0
for _, r in ipairs(fake:runs("thread_u1")) do
  if r.status ~= "completed" and r.status ~= "cancelled" then blocking = blocking + 1 end
end
T.is(blocking, 0, "nothing on the thread is active or cancelling any more")

out, err, code = run("unblock-thread --wait 1 thread_u2")
list, by = report(out)
T.is(by.u2_stuck.action, "already_done", "a run stuck in cancelling: already_done")
T.is(by.u2_stuck.error, "still cancelling after waiting 1s", "with the deadline as its error")
T.like(err, "thread_u2: still blocked by u2_stuck %(cancelling%) after 1s", "the summary names the blocker")
T.is(code, 1, "exit 1 when a thread is still blocked")

-- a cancel that fails is tried again on the next pass
fake:seed(USEED)
fake:clear()
fake:faults { { path = "/u_active/cancel", status = 500 } }
out, err, code = run("unblock-thread thread_u1", nil, "--max-retries 0")
list, by = report(out)
T.is(by.u_active.action .. "/" .. by.u_active.status_after, "cancelled/cancelled",
     "a failed cancel is retried on the next pass and lands")
local n = 0
for _, r in ipairs(fake:requests()) do if r.path:find("/u_active/cancel", 1, true) then n = n + 1 end end
T.is(n, 2, "two cancels were sent for it")
T.is(#list, 2, "one line per run")
T.is(code, 0, "exit 0")

-- a thread that cannot be listed gets its own line; the others are still handled
fake:seed { threads = { { id = "thread_u4", runs = { R("u4_stuck", "cancelling", 10) } } } }
out, err, code = run("unblock-thread --wait 1 thread_u4 thread_nope")
list, by = report(out)
T.is(by["thread:thread_nope"] and by["thread:thread_nope"].action, "failed", "a thread that cannot be listed: failed")
T.like(err, "thread_nope: cannot list runs: 404", "and named in the summary")
local _, times = err:gsub("thread_nope: cannot list runs", "")
T.is(times, 1, "once: with the failures under the summary, not also among the thread lines", err)
T.is(code, 1, "exit 1")

---------------------------------------------------------------------- watch

reseed()
out, err, code = run("watch --help")
T.like(out, "^usage: runctl watch", "watch --help")
out, err, code = run("watch")
T.is(code, 2, "watch without threads: exit 2")
out, err, code = run("watch --interval 0 thread_a")
T.like(err, "%-%-interval: '0' is not a positive number", "watch names a bad --interval")

out, err, code = run("watch --once thread_a thread_b thread_idle")
T.is(code, 0, "watch --once: exit 0")
T.like(out, "^runctl watch: 3 threads at %d%d:%d%d:%d%d\n", "a title with the time")
T.like(out, "\nTHREAD%s+QUEUED%s+IN_PROGRESS%s+REQUIRES_ACTION%s+CANCELLING%s+FINISHED%s+OLDEST_ACTIVE\n",
       "the header of the table")
T.like(out, "\nthread_a%s+1%s+2%s+1%s+1%s+1%s+2h0%dm\n", "thread_a: counts per status, oldest active age")
T.like(out, "\n    a_cancelling%s+cancelling%s+2h0%dm", "the active runs below, oldest first")
T.like(out, "\nthread_b%s+0%s+1%s+0%s+0%s+1%s+1m4%ds\n", "thread_b")
T.like(out, "\nthread_idle%s+0%s+0%s+0%s+0%s+1%s+%-\n", "an idle thread has no oldest active run")
T.unlike(out, "\27", "no terminal codes when stdout is not a terminal")
T.unlike(out, "Ctrl%-C", "--once does not say how to stop")
T.like(out, "\n    ACTIVE RUN%s+STATUS%s+AGE%s+MODEL\n", "the active runs' columns are labelled")
local _, rows = out:gsub("\n    %l%S*%s+%S+%s+%S+", "")
T.is(rows, 6, "one line per active run (5 on thread_a, 1 on thread_b)")
T.is(posted(), "", "watch only reads")

out = run("watch --once --active 0 thread_a")
T.unlike(out, "\n    ", "--active 0: no run lines")
out = run("watch --once --active 2 thread_a")
T.like(out, "\n    %.%.%. 3 more active\n", "--active 2: the rest is counted")
out = run("watch --once --runs 2 thread_a")
T.like(out, "\nthread_a%s+1%s+1%s+0%s+0%s+0%s", "--runs 2: only the 2 most recent runs are counted")

out, err, code = run("watch --count 2 --interval 0.1 thread_b")
local _, titles = out:gsub("runctl watch: 1 thread at", "")
T.is(titles, 2, "watch --count 2: two refreshes")
T.like(out, "%(every 0%.1s%)\n", "the interval is shown")
T.like(out, "\n\nrunctl watch: ", "refreshes are separated by a blank line")
T.is(code, 0, "exit 0")

out, err, code = run("watch --once thread_b thread_nope")
T.like(out, "\nthread_nope%s+error: 404 .*No thread found", "a thread that cannot be listed shows its error")
T.is(code, 1, "watch --once: exit 1 when a thread could not be listed")

---------------------------------------------------------------------- runctl help and finding scripts

local SUMMARIES = {
  ["cancel-older-than"] = "cancel every active object of a kind %(batches, fine%-tuning jobs, runs%) older than an age",
  ["list"] = "list the objects of a kind %(batches, fine%-tuning jobs, a thread's runs%), with filters",
  ["get"] = "read objects by ID %(a batch, fine%-tuning job, response, run, %.%.%.%) and show them",
  ["cancel"] = "cancel the given objects %(runs, batches, fine%-tuning jobs, responses, file batches, uploads%)",
  ["unblock-thread"] = "cancel every active run on the given threads and wait until they accept new work",
  ["watch"] = "a live table of what runs: runs per thread, batches, fine%-tuning jobs, given objects",
}
out, err, code = T.run("help", env)
T.is(code, 0, "runctl help: exit 0")
for name, summary in pairs(SUMMARIES) do
  T.like(out, "\n  " .. name:gsub("%-", "%%-") .. "%s+" .. summary .. "\n", "runctl help lists " .. name)
  local o2, _, c2 = T.run("help " .. name, env)
  T.like(o2, "^usage: runctl " .. name:gsub("%-", "%%-") .. " ", "runctl help " .. name .. " prints its usage")
  T.is(c2, 0, "runctl help " .. name .. ": exit 0")
end

-- a copy of the binary with scripts/ beside it, and an installed layout
-- (PREFIX/bin/runctl + PREFIX/share/runctl/scripts), each run from elsewhere
local bin = os.getenv("RUNCTL") or "./runctl"
if bin:sub(1, 1) ~= "/" then bin = CWD .. "/" .. bin end
local root = ("%s/layout-%d"):format(TMP, math.random(1e9))
local ok = os.execute(("mkdir -p %s/tree/scripts %s/prefix/bin %s/prefix/share/runctl/scripts %s/elsewhere"
                       .. " && cp %s %s/tree/runctl && cp %s/*.lua %s/tree/scripts/"
                       .. " && cp %s %s/prefix/bin/runctl && cp %s/*.lua %s/prefix/share/runctl/scripts/")
                      :format(root, root, root, root, T.quote(bin), root, SCRIPTS, root,
                              T.quote(bin), root, SCRIPTS, root))
T.ok(ok, "a build tree and an installed layout are set up")
local function from_elsewhere(exe, args)
  local o = io.popen(("cd %s/elsewhere && env -u RUNCTL_SCRIPTS OPENAI_API_KEY=%s OPENAI_BASE_URL=%s %s %s %s 2>&1 </dev/null")
                     :format(root, KEY, fake.base, os.getenv("RUNCTL_WRAP") or "", exe, args))
  local text = o:read("a")
  local _, _, c = o:close()
  return text, c
end
for _, layout in ipairs { { "beside the binary", root .. "/tree/runctl" },
                          { "installed (PREFIX/share/runctl/scripts)", root .. "/prefix/bin/runctl" } } do
  local text, c = from_elsewhere(layout[2], "help")
  T.like(text, "\n  cancel%-older%-than%s+cancel every active object", layout[1] .. ": runctl help lists the scripts")
  T.like(text, "\n  watch%s+a live table", layout[1] .. ": all of them")
  text, c = from_elsewhere(layout[2], "cancel-older-than --older-than 1h --dry-run thread_a")
  T.like(text, '"action":"would_cancel"', layout[1] .. ": runs a script by name from another directory")
  T.is(c, 0, layout[1] .. ": exit 0")
end
local extra = root .. "/extra"
os.execute("mkdir -p " .. extra)
local f = assert(io.open(extra .. "/hello.lua", "w"))
f:write("-- scripts/hello.lua — says hello from RUNCTL_SCRIPTS\nprint('hello', ...)\n")
f:close()
local o3 = io.popen(("cd %s/elsewhere && RUNCTL_SCRIPTS=%s %s help; RUNCTL_SCRIPTS=%s %s hello x")
                    :format(root, extra, root .. "/tree/runctl", extra, root .. "/tree/runctl"))
local text = o3:read("a")
o3:close()
T.like(text, "\n  hello%s+says hello from RUNCTL_SCRIPTS\n", "$RUNCTL_SCRIPTS: listed by runctl help")
T.like(text, "\nhello\tx\n", "$RUNCTL_SCRIPTS: run by name")
os.execute("rm -rf " .. T.quote(root))

T.done()
