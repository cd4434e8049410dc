-- tests/lua/test_scripts_cancel_older_than.lua — `runctl cancel-older-than` against the
-- fake API: usage errors, each filter, each action, dry-run sending no POST, the
-- accounting under injected faults, the confirmation, --wait, running twice.
local T = require "helper"
local KEY = "sk-test-scripts-0123456789"
local SCRIPTS = io.popen("pwd"):read("l") .. "/scripts"

local R = T.seed_run

local SEED = { threads = {
  { id = "thread_a", runs = {
    R("a_queued", "queued", 7200), R("a_progress", "in_progress", 7250), R("a_action", "requires_action", 7300),
    R("a_young", "in_progress", 60), R("a_expiring", "in_progress", 7400, { expires_at = -100 }),
    R("a_cancelling", "cancelling", 7500), R("a_cancelled", "cancelled", 7600),
    R("a_completed", "completed", 7700), R("a_expired", "expired", 7800) } },
  { id = "thread_b", runs = {
    R("b_prod", "in_progress", 7200, { assistant_id = "asst_B", model = "gpt-4o-mini",
                                       metadata = { env = "prod", team = "core" } }),
    R("b_staging", "in_progress", 7300, { metadata = { env = "staging" } }),
    R("b_started_late", "in_progress", 7400, { started_at = -60 }),
    R("b_never_started", "queued", 7500, { started_at = json.null }) } },
} }

local fake = T.fake("--seed " .. T.seed_file(SEED))
local env = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, RUNCTL_SCRIPTS = SCRIPTS }

local function cot(args, stdin, flags)
  return T.run((flags or "") .. " cancel-older-than " .. args, env, stdin)
end

local report = T.report

local function actions(by)
  local keys = {}
  for k, rec in pairs(by) do keys[#keys + 1] = k .. "=" .. tostring(rec.action) end
  table.sort(keys)
  return table.concat(keys, " ")
end

local function posts()
  local out = {}
  for _, r in ipairs(fake:requests()) do
    if r.method == "POST" then out[#out + 1] = r end
  end
  return out
end

local function reseed() fake:seed(SEED) fake:clear() end

-- usage errors: exit 2, the bad flag or value named, nothing sent
fake:clear()
local out, err, code = cot("thread_a")
T.is(code, 2, "--older-than missing: exit 2")
T.like(err, "cancel%-older%-than: %-%-older%-than is required", "and says so")
T.like(err, "Try 'runctl help cancel%-older%-than'", "with a hint")
out, err, code = cot("--older-than 5x thread_a")
T.is(code, 2, "a bad age: exit 2")
T.like(err, "%-%-older%-than: '5x' is not a duration such as 90s, 15m, 2h, 1d or 1w", "a bad age is named")
out, err, code = cot("--older-than 1h")
T.is(code, 2, "no thread IDs and no --kind: exit 2")
T.like(err, "which objects%? Name a kind with %-%-kind runs|batches|fine%-tuning", "it says which kinds there are")
out, err, code = cot("--kind runs --older-than 1h")
T.like(err, "no thread IDs: give them as arguments, with %-%-threads%-file FILE, or on stdin", "--kind runs: no thread IDs explained")
out, err, code = cot("--older-than 1h --bogus thread_a")
T.like(err, "unknown option '%-%-bogus'", "an unknown option is named")
T.is(code, 2, "unknown option: exit 2")
for _, case in ipairs {
  { "--concurrency 0", "%-%-concurrency: '0' is not a whole number" },
  { "--concurrency many", "%-%-concurrency: 'many' is not a whole number" },
  { "--rate -1", "%-%-rate: '%-1' is not a positive number" },
  { "--status completed", "%-%-status: 'completed' is not a status of runs that can be picked: use in_progress, queued, requires_action" },
  { "--status queued,running", "%-%-status: 'running' is not a status of runs that can be picked" },
  { "--kind jobs", "%-%-kind: 'jobs' is not one of batches, eval%-runs, eval_runs, fine%-tuning" },
  { "--age-from sideways", "%-%-age%-from: 'sideways' is not one of" },
  { "--age-from created,started", "%-%-age%-from takes one value" },
  { "--metadata env", "%-%-metadata: 'env' is not KEY=VALUE" },
  { "--confirm-above -3", "%-%-confirm%-above: '%-3' is not a whole number" },
  { "--wait=0", "%-%-wait: '0' is not a positive number of seconds" },
  { "--report /nonexistent/dir/r.jsonl", "%-%-report: cannot open /nonexistent/dir/r%.jsonl" },
  { "--threads-file /nonexistent/threads.txt", "cannot read '/nonexistent/threads%.txt'" },
  { "--dry-run=yes", "%-%-dry%-run takes no value" },
} do
  out, err, code = cot("--older-than 1h " .. case[1] .. " thread_a")
  T.is(code, 2, case[1] .. ": exit 2")
  T.like(err, case[2], case[1] .. ": the message names the flag and value")
end
T.is(#fake:requests(), 0, "no usage error sent a request")

-- --help
out, err, code = cot("--help")
T.is(code, 0, "--help exits 0")
T.like(out, "^usage: runctl cancel%-older%-than %-%-kind KIND %-%-older%-than AGE", "--help prints the usage on stdout")
for _, flag in ipairs { "--older-than", "--age-from", "--status", "--assistant", "--model", "--metadata",
                        "--threads-file", "--dry-run", "--yes", "--confirm-above", "--wait",
                        "--concurrency", "--rate", "--report" } do
  T.like(out, "\n  " .. flag:gsub("%-", "%%-") .. " ", "--help documents " .. flag)
end
local out2 = T.run("help cancel-older-than", env)
T.is(out2, out, "runctl help cancel-older-than prints the same usage")

-- dry run: every action a listing can decide, and no POST on the wire
reseed()
out, err, code = cot("--older-than 1h --dry-run thread_a thread_b")
T.is(code, 0, "dry run exits 0")
local list, by, seen = report(out)
T.is(actions(by), table.concat({
  "a_action=would_cancel", "a_cancelled=already_done", "a_cancelling=already_done", "a_expired=expired",
  "a_expiring=would_cancel", "a_progress=would_cancel", "a_queued=would_cancel", "b_never_started=would_cancel",
  "b_prod=would_cancel", "b_staging=would_cancel", "b_started_late=would_cancel" }, " "),
  "dry run: every run considered and its action; young and completed runs are not considered")
T.is(#list, 11, "one line per run considered")
local once = true
for _, n in pairs(seen) do once = once and n == 1 end
T.ok(once, "no run appears twice")
T.is(#posts(), 0, "dry run: no POST reached the server")
T.is(by.a_queued.status_before, "queued", "status_before")
T.is(by.a_queued.status_after, "queued", "status_after of a would_cancel is its status")
T.ok(by.a_queued.age >= 7200 and by.a_queued.age < 7300, "age is in seconds from created_at", by.a_queued.age)
T.is(math.type(by.a_queued.age), "integer", "age is a whole number")
T.is(by.a_queued.thread_id, "thread_a", "thread_id")
T.is(by.a_queued.request_id, json.null, "request_id is null when nothing was sent")
T.is(by.a_queued.error, json.null, "error is null when nothing went wrong")
T.is(by.a_expiring.status_after, "in_progress", "a run still active past its expires_at would be cancelled")
T.is(by.a_expiring.note, "past expires_at", "and its line says it is past expires_at")
T.is(by.a_cancelling.status_after, "cancelling", "a cancelling run is already_done")
T.like(err, "11 runs considered %(older than 1h00m, of 13 listed on 2 threads%): 8 would cancel, 2 already done, 1 expired",
       "the summary on stderr counts each action")
T.like(err, "dry run: no cancel was sent", "the summary says it was a dry run")
T.unlike(out, "considered", "stdout has only the report")
T.unlike(out .. err, KEY, "the API key appears nowhere")

-- the global --dry-run works the same way: the client refuses, the script reports
fake:clear()
out, err, code = cot("--older-than 1h thread_a", nil, "--dry-run")
list, by = report(out)
T.is(by.a_queued and by.a_queued.action, "would_cancel", "runctl --dry-run cancel-older-than: would_cancel")
T.is(#posts(), 0, "runctl --dry-run: no POST")

-- filters (all in dry runs)
local function considered(args)
  fake:clear()
  local o = cot("--dry-run --older-than 1h " .. args)
  local _, b = report(o)
  local ids = {}
  for k, rec in pairs(b) do if rec.action == "would_cancel" then ids[#ids + 1] = k end end
  table.sort(ids)
  return table.concat(ids, ",")
end
T.is(considered("--assistant asst_B thread_a thread_b"), "b_prod", "--assistant")
T.is(considered("--assistant asst_B --assistant asst_A thread_b"),
     "b_never_started,b_prod,b_staging,b_started_late", "--assistant is repeatable (any of them)")
T.is(considered("--model gpt-4o-mini thread_a thread_b"), "b_prod", "--model")
T.is(considered("--metadata env=prod thread_a thread_b"), "b_prod", "--metadata KEY=VALUE")
T.is(considered("--metadata env=prod --metadata team=core thread_b"), "b_prod", "--metadata twice: both match")
T.is(considered("--metadata env=prod --metadata team=other thread_b"), "", "--metadata twice: all must match")
T.is(considered("--status queued thread_a thread_b"), "a_queued,b_never_started", "--status queued")
T.is(considered("--status requires_action,in_progress thread_a"), "a_action,a_expiring,a_progress", "--status with a list")
T.is(considered("--age-from started thread_b"), "b_prod,b_staging",
     "--age-from started: a run started recently or never is not old enough")
T.is(considered("--age-from created thread_b"), "b_never_started,b_prod,b_staging,b_started_late",
     "--age-from created is the default")
fake:clear()
out = cot("--dry-run --older-than 3h thread_a")
T.is(#report(out), 0, "--older-than 3h: nothing on thread_a is that old")
T.like(select(2, cot("--dry-run --older-than 3h thread_a")), "0 runs considered", "and the summary says so")

-- a real run, then a second one
reseed()
out, err, code = cot("--older-than 1h thread_a thread_b")
T.is(code, 0, "real run exits 0")
list, by = report(out)
local cancelled = {}
for k, rec in pairs(by) do if rec.action == "cancelled" then cancelled[#cancelled + 1] = k end end
table.sort(cancelled)
T.is(table.concat(cancelled, ","),
     "a_action,a_expiring,a_progress,a_queued,b_never_started,b_prod,b_staging,b_started_late",
     "the old active runs are cancelled, the one past its expires_at too")
local sent = {}
local rid_ok = true
for _, p in ipairs(posts()) do
  local rid = p.path:match("/runs/([^/]+)/cancel$")
  sent[#sent + 1] = rid
  rid_ok = rid_ok and by[rid] and by[rid].request_id == p.request_id
end
table.sort(sent)
T.is(table.concat(sent, ","), table.concat(cancelled, ","), "exactly those got a POST .../cancel")
T.ok(rid_ok, "each line's request_id is the one the server gave that cancel")
T.is(by.a_progress.status_after, "cancelling", "status_after is what the cancel returned")
T.is(by.a_expiring.action, "cancelled", "the run still active past its expires_at is cancelled")
T.is(by.a_expiring.note, "past expires_at", "with a note saying so")
T.is(by.a_expired.action, "expired", "the run the service expired is reported expired, nothing sent")
T.like(err, "8 cancelled, 2 already done, 1 expired", "the summary counts")
local state = {}
for _, r in ipairs(fake:runs("thread_a")) do state[r.id] = r.status end
T.is(state.a_young, "in_progress", "the young run was not touched")
T.is(state.a_expired, "expired", "nor the expired one")
T.ok(state.a_expiring == "cancelling" or state.a_expiring == "cancelled",
     "the one past expires_at was cancelled on the server", state.a_expiring)

fake:clear()
out, err, code = cot("--older-than 1h thread_a thread_b")
T.is(code, 0, "second run exits 0")
list, by = report(out)
local done = 0
for _, k in ipairs(cancelled) do
  if by[k] and by[k].action == "already_done" and (by[k].status_after == "cancelled"
                                                    or by[k].status_after == "cancelling") then
    done = done + 1
  end
end
T.is(done, #cancelled, "second run: the runs the first one cancelled are already_done")
T.is(#posts(), 0, "second run: no cancel was sent again")
T.like(err, "10 already done, 1 expired", "second run summary")

-- thread IDs from a file, from stdin, without repeats; --report FILE
reseed()
local tfile = T.write_file("# the threads\nthread_a   # support\n\nthread_a\n")
out = cot("--dry-run --older-than 1h --threads-file " .. tfile)
list = report(out)
T.is(#list, 7, "--threads-file: comments skipped, a repeated thread listed once")
out = cot("--dry-run --older-than 1h -", "thread_b\n")
list = report(out)
T.is(#list, 4, "'-' reads thread IDs from stdin")
out = cot("--dry-run --older-than 1h", "thread_b\n# comment\n")
list = report(out)
T.is(#list, 4, "without IDs, a piped stdin is read")
out = cot("--dry-run --older-than 1h --threads-file - thread_a", "thread_b\n")
list = report(out)
T.is(#list, 11, "--threads-file - adds stdin to the arguments")
local rpath = (os.getenv("TEST_TMPDIR") or "/tmp") .. "/cot-report-" .. math.random(1e9) .. ".jsonl"
out, err, code = cot("--dry-run --older-than 1h --report " .. rpath .. " thread_a")
T.is(out, "", "--report FILE: nothing on stdout")
T.is(#report(T.read_file(rpath) or ""), 7, "--report FILE: the lines are in the file")
T.like(err, "7 runs considered", "--report FILE: the summary still goes to stderr")

-- faults: every run still gets exactly one line
local FSEED = { threads = { { id = "thread_f", runs = {
  R("f1", "in_progress", 7201), R("f2", "in_progress", 7202), R("f3", "in_progress", 7203),
  R("f4", "in_progress", 7204), R("f5", "in_progress", 7205), R("f6", "in_progress", 7206),
  R("f7", "queued", 7207) } } } }
fake:seed(FSEED)
fake:clear()
-- with --concurrency 1 the cancels go out in listing order: queue one fault for each
local c = fake:client()
local order = {}
for _, r in ipairs(assert(c.runs.list("thread_f", { limit = 100 })).data) do order[#order + 1] = r.id end
local FAULTS = {
  f1 = { status = 500 },
  f2 = { close = "middle" },
  f3 = { status = 400, body = { error = { message = "Cannot cancel run with status 'completed'.",
                                          type = "invalid_request_error" } } },
  f4 = { status = 400, body = { error = { message = "Cannot cancel run with status 'expired'.",
                                          type = "invalid_request_error" } } },
  f5 = { status = 502, html = true },
  f6 = { body = "{not json" },
}
local queue = {}
for _, id in ipairs(order) do
  local f = FAULTS[id]
  if f then
    f.path = "/runs/" .. id .. "/cancel"
    queue[#queue + 1] = f
  end
end
fake:faults(queue)
out, err, code = cot("--older-than 1h --concurrency 1 thread_f", nil, "--max-retries 0")
list, by, seen = report(out)
T.is(#list, 7, "faults: one line for each of the 7 runs")
once = true
for _, n in pairs(seen) do once = once and n == 1 end
T.ok(once, "faults: no run twice")
T.is(code, 1, "faults: exit 1 when some failed")
T.is(by.f1.action, "failed", "a 500 is failed")
T.like(by.f1.error, "^500 server_error: fault injected %[req_", "with the API's error")
T.like(by.f1.request_id, "^req_", "and the request ID")
T.is(by.f2.action, "failed", "a connection closed in the middle of the answer is failed")
T.like(by.f2.error, "^connection:", "as a connection error")
T.is(by.f3.action, "already_done", "400 Cannot cancel ... 'completed' is already_done")
T.is(by.f3.status_after, "completed", "with the status the API named")
T.is(by.f3.error, json.null, "and no error")
T.is(by.f4.action, "expired", "400 Cannot cancel ... 'expired' is expired")
T.is(by.f5.action, "failed", "an HTML 502 is failed")
T.like(by.f5.error, "502 Bad Gateway", "with the page's title as the message")
T.is(by.f6.action, "failed", "a malformed answer is failed")
T.like(by.f6.error, "^invalid_response", "as an invalid response")
T.is(by.f7.action, "cancelled", "the run without a fault is cancelled")
T.like(err, "1 cancelled, 1 already done, 1 expired, 4 failed", "the summary counts each")
T.like(err, "failed: thread_f/f1: 500", "the summary lists the failures")

-- a 429 with retry-after-ms slows the job down instead of failing it
fake:seed(FSEED)
fake:clear()
fake:faults { { path = "/runs/f1/cancel", status = 429, headers = { ["retry-after-ms"] = "20" } } }
out, err, code = cot("--older-than 1h thread_f")
list, by = report(out)
T.is(by.f1 and by.f1.action, "cancelled", "a 429 is retried and the cancel lands")
local f1_posts = 0
for _, p in ipairs(posts()) do if p.path:find("/f1/cancel", 1, true) then f1_posts = f1_posts + 1 end end
T.is(f1_posts, 2, "two attempts reached the server for it")
T.is(code, 0, "and the job succeeds")

-- a per-attempt timeout is a failure of that run only (the timeout is long
-- enough for every other request even under valgrind on a busy machine; the
-- held one is held far longer)
fake:seed(FSEED)
fake:faults { { path = "/runs/f3/cancel", delay_ms = 30000 } }
out, err, code = cot("--older-than 1h thread_f", nil, "--max-retries 0 --timeout 4")
list, by = report(out)
T.is(#list, 7, "timeout: every run has its line")
T.is(by.f3.action, "failed", "the run whose cancel timed out is failed")
T.like(by.f3.error, "^timeout", "as a timeout")
T.is(by.f4.action, "cancelled", "the others are cancelled")
T.is(code, 1, "exit 1")

-- a thread that cannot be listed gets a line of its own; the others go on
reseed()
fake:faults { { method = "GET", path = "/threads/thread_b/runs", status = 500 } }
out, err, code = cot("--dry-run --older-than 1h thread_a thread_b", nil, "--max-retries 0")
list, by = report(out)
T.is(by["thread:thread_b"] and by["thread:thread_b"].action, "failed", "the thread that cannot be listed: failed")
T.like(by["thread:thread_b"].error, "^cannot list runs: 500", "with the reason")
T.like(by["thread:thread_b"].request_id, "^req_", "and the request ID")
T.is(by.a_queued.action, "would_cancel", "the other thread is processed")
T.is(code, 1, "exit 1")
T.like(err, "failed: thread_b: cannot list runs", "the summary names the thread")
fake:faults { { method = "GET", path = "/threads/thread_a/runs", body = "{oops" } }
out, err, code = cot("--dry-run --older-than 1h thread_a", nil, "--max-retries 0")
list, by = report(out)
T.like(by["thread:thread_a"] and by["thread:thread_a"].error, "invalid_response", "a malformed page fails the thread")
out, err, code = cot("--dry-run --older-than 1h thread_nope")
list, by = report(out)
T.like(by["thread:thread_nope"] and by["thread:thread_nope"].error, "404 .*No thread found", "an unknown thread: 404")

-- a failure on the second page: the runs of the first page still count
local big = {}
for i = 1, 130 do big[i] = R(("big_%03d"):format(i), "in_progress", 7200 + i) end
fake:seed { threads = { { id = "thread_big", runs = big } } }
fake:clear()
fake:faults { { method = "GET", path = "/threads/thread_big/runs" },         -- page 1: as usual
              { method = "GET", path = "/threads/thread_big/runs", status = 500 } }
out, err, code = cot("--dry-run --older-than 1h thread_big", nil, "--max-retries 0")
list, by = report(out)
local runs_seen = 0
for _, rec in ipairs(list) do if rec.run_id ~= json.null then runs_seen = runs_seen + 1 end end
T.is(runs_seen, 100, "page 2 failed: the 100 runs of page 1 have their lines")
T.is(by["thread:thread_big"] and by["thread:thread_big"].action, "failed", "and the thread is failed")
T.is(code, 1, "exit 1")
local pages = 0
for _, r in ipairs(fake:requests()) do if r.method == "GET" then pages = pages + 1 end end
T.is(pages, 2, "two pages were asked for")

-- confirmation above a threshold: refused when stdin is not a terminal
local many = {}
for i = 1, 25 do many[i] = R(("m_%02d"):format(i), "in_progress", 7200 + i) end
local MSEED = { threads = { { id = "thread_many", runs = many } } }
fake:seed(MSEED)
fake:clear()
out, err, code = cot("--older-than 1h thread_many")
T.is(code, 2, "25 runs without --yes and no terminal: exit 2")
T.like(err, "not cancelling 25 runs %(more than %-%-confirm%-above 20%): stdin is not a terminal; pass %-%-yes",
       "the refusal says why and what to do")
list = report(out)
local skipped = 0
for _, rec in ipairs(list) do
  if rec.action == "skipped" and rec.error == "not confirmed: stdin is not a terminal" then skipped = skipped + 1 end
end
T.is(skipped, 25, "every run is reported skipped, not confirmed")
T.is(#posts(), 0, "no cancel was sent")
out, err, code = cot("--older-than 1h --dry-run thread_many")
T.is(code, 0, "a dry run never asks")
out, err, code = cot("--older-than 1h --confirm-above 30 thread_many")
T.is(code, 0, "--confirm-above 30: 25 runs need no confirmation")
T.is(#posts(), 25, "and all 25 are cancelled")
fake:seed(MSEED)
fake:clear()
out, err, code = cot("--older-than 1h --yes thread_many")
T.is(code, 0, "--yes: no question")
T.is(#posts(), 25, "--yes: all 25 are cancelled")

-- --wait: until every cancelled run leaves cancelling, with a deadline
local WSEED = { threads = { { id = "thread_w", runs = {
  R("w1", "in_progress", 7200), R("w2", "queued", 7300), R("w_stuck", "cancelling", 7400) } } } }
fake:seed { threads = { { id = "thread_w", runs = { R("w1", "in_progress", 7200), R("w2", "queued", 7300) } } } }
fake:clear()
out, err, code = cot("--older-than 1h --wait 20 thread_w")
list, by = report(out)
T.is(by.w1.action .. "/" .. by.w1.status_after, "cancelled/cancelled", "--wait: status_after is the final status")
T.is(by.w2.status_after, "cancelled", "--wait: for every cancelled run")
local gets = 0
for _, r in ipairs(fake:requests()) do
  if r.method == "GET" and r.path:find("/runs/w[12]$") then gets = gets + 1 end
end
T.ok(gets >= 2, "--wait polled the runs", gets)
T.like(err, "waiting up to 20s for 2 runs to leave cancelling", "--wait says what it waits for")
T.is(code, 0, "--wait: exit 0 once every run left cancelling")
fake:seed(WSEED)
out, err, code = cot("--older-than 1h --wait 1 thread_w")
list, by = report(out)
T.is(#list, 3, "--wait 1: every run has its line")
T.is(by.w_stuck.action .. "/" .. by.w_stuck.status_after, "already_done/cancelling", "the stuck run stays cancelling")
T.is(by.w_stuck.error, json.null, "a run cancelling before this run is not waited for: no deadline error")
T.is(by.w1.status_after, "cancelled", "the others reached cancelled meanwhile")
T.like(err, "1 run already cancelling before this run %(someone else's cancel%): not waited for, not counted against it",
       "the summary says so")
T.unlike(err, "still cancelling", "and does not contradict itself")
T.is(code, 0, "exit 0: this run did all it set out to")
fake:seed { threads = { { id = "thread_w", runs = { R("w1", "in_progress", 7200) } } } }
out, err, code = cot("--older-than 1h --wait thread_w")
list, by = report(out)
T.is(by.w1 and by.w1.status_after, "cancelled", "--wait without SECONDS before a thread ID")
T.is(code, 0, "exit 0 once every run left cancelling")

T.done()
