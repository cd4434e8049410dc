-- tests/lua/test_scripts_outcomes.lua — the bundled scripts with every kind
-- and every outcome, against the fake API in each server style: `cancel` of
-- any mix of IDs (by prefix or --kind), the report line of each outcome (kind,
-- id, action, outcome, cost), the attempts on the wire, --wait per kind, a
-- flip-back seen by --wait and watch, and a batch that finished between
-- listing and cancelling in cancel-older-than.
local T = require "helper"
local KEY = "sk-test-outcomes-0123456789"
local SCRIPTS = io.popen("pwd"):read("l") .. "/scripts"

local SEED = {
  threads = { { id = "thread_o", runs = {
    { id = "run_live", status = "in_progress", created_at = -7200, expires_at = json.null },
    { id = "run_done", status = "completed", created_at = -7200 } } } },
  batches = {
    { id = "batch_live", status = "in_progress", created_at = -30000, cancel_delay_ms = 600000,
      request_counts = { total = 2000, completed = 142, failed = 0 } },
    { id = "batch_quick", status = "in_progress", created_at = -30000, cancel_delay_ms = 0 },
    { id = "batch_done", status = "completed", created_at = -30000 },
    { id = "batch_racing", status = "in_progress", created_at = -30000, cancel_delay_ms = 600000 },
  },
  responses = {
    { id = "resp_live", status = "in_progress", background = true, flip_back_ms = 600000 },
    { id = "resp_flip", status = "in_progress", background = true, flip_back_ms = 1 },
    { id = "resp_sync", status = "completed" },
    { id = "resp_done", status = "completed", background = true },
  },
  fine_tuning_jobs = { { id = "ftjob-live", status = "running", created_at = -600, trained_tokens = 777 },
                       { id = "ftjob-done", status = "succeeded", created_at = -600 } },
  vector_stores = { { id = "vs_1", file_batches = { { id = "vsfb_live", status = "in_progress" } } } },
  uploads = { { id = "upload_live", status = "pending" } },
}

local fake = T.fake("--seed " .. T.seed_file(SEED))
local env = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, RUNCTL_SCRIPTS = SCRIPTS }
local function run(args, stdin) return T.run(args, env, stdin) end

local function style(name) fake:cancel_style(name) end
local function reset(st) fake:reset() if st then style(st) end fake:clear() end

-- The report as id -> line (json.null fields as nil-comparable json.null).
local function by_id(out)
  local by = {}
  for line in out:gmatch("[^\n]+") do
    local rec = json.decode(line)
    if type(rec) == "table" then by[rec.id ~= json.null and rec.id or "group"] = rec end
  end
  return by
end
local function wire(filter)
  local m = {}
  for _, r in ipairs(fake:requests()) do
    if not filter or r.path:find(filter, 1, true) then m[#m + 1] = r.method .. " " .. r.path end
  end
  return table.concat(m, ", ")
end
local function line_of(rec)
  local st = rec.status_after
  return ("%s/%s/%s"):format(rec.action, rec.outcome, st == json.null and "nil" or tostring(st))
end

---------------------------------------------------------------- every kind, by prefix

reset("live")
local out, err, code = run("cancel thread_o/run_live batch_live ftjob-live resp_live vs_1/vsfb_live upload_live")
local by = by_id(out)
T.is(code, 0, "cancel of six kinds by prefix: exit 0")
local posts = {}
for _, r in ipairs(fake:requests()) do if r.method == "POST" then posts[#posts + 1] = r.path end end
table.sort(posts)
T.is(table.concat(posts, " "), "/v1/batches/batch_live/cancel /v1/fine_tuning/jobs/ftjob-live/cancel "
     .. "/v1/responses/resp_live/cancel /v1/threads/thread_o/runs/run_live/cancel /v1/uploads/upload_live/cancel "
     .. "/v1/vector_stores/vs_1/file_batches/vsfb_live/cancel", "one POST per ID, to its kind's route")
for id, want in pairs { run_live = "runs", batch_live = "batches", ["ftjob-live"] = "fine-tuning",
                        resp_live = "responses", vsfb_live = "file-batches", upload_live = "uploads" } do
  T.is(by[id] and by[id].kind .. "/" .. by[id].outcome, want .. "/cancel_requested", id .. ": kind and outcome")
end
T.is(by.run_live.thread_id .. "/" .. by.run_live.run_id, "thread_o/run_live", "a run's line has thread_id and run_id")
T.is(by.vsfb_live.vector_store_id, "vs_1", "a file batch's line names its vector store")
T.is(by.batch_live.thread_id, json.null, "thread_id is null for a batch")
T.is(by.batch_live.run_id, "batch_live", "run_id repeats id for older readers")
T.is(by.batch_live.cost.request_counts.completed, 142, "a batch's cost: request_counts")
T.is(by.batch_live.cost.output_file_id, json.null, "and no output file yet, said as null")
T.is(by["ftjob-live"].cost.trained_tokens, 777, "a fine-tuning job's cost: trained_tokens")
T.is(by.resp_live.cost.usage, json.null, "a response's usage null is said as such")
T.like(err, "cancel: 6 objects: 6 cancelled", "the summary counts objects of several kinds")
T.like(err, "cost: batch_live: cancelling; model gpt%-4o%-mini%-2024%-07%-18, output_file_id %-, "
       .. "request_counts completed=142 failed=0 total=2000",
       "the summary shows what a cancelled batch had done")

-- a dry run's report of several kinds, given back with --file, is done for real
reset("live")
out, err, code = run("cancel --dry-run thread_o/run_live batch_live vs_1/vsfb_live resp_done")
by = by_id(out)
T.is(line_of(by.vsfb_live), "would_cancel/not_sent/in_progress", "dry run: a file batch would be cancelled")
T.is(line_of(by.resp_done), "already_done/already_finished/completed", "dry run: a finished response is already done")
T.is(wire("/cancel"), "", "dry run: no cancel sent")
local _, nf_err, nf_code = run("cancel --dry-run batch_nope")
T.is(line_of(by_id(_).batch_nope), "failed/not_found/nil", "dry run: an unknown ID is not_found, as a real cancel says")
T.is(nf_code, 1, "and fails the job")
local file = T.write_file(out)
fake:clear()
out, err, code = run("cancel --file " .. file)
posts = {}
for _, r in ipairs(fake:requests()) do if r.method == "POST" then posts[#posts + 1] = r.path end end
table.sort(posts)
T.is(table.concat(posts, " "), "/v1/batches/batch_live/cancel /v1/threads/thread_o/runs/run_live/cancel "
     .. "/v1/vector_stores/vs_1/file_batches/vsfb_live/cancel", "cancel --file takes the would_cancel lines of each kind")
T.is(code, 0, "exit 0")

-- --kind forces the kind of IDs without a known prefix
reset("live")
run("cancel --kind batches batch_live")
T.is(wire("/cancel"), "POST /v1/batches/batch_live/cancel", "--kind batches")
out, err, code = run("cancel --kind fine-tuning nope-1")
T.is(wire("nope"), "POST /v1/fine_tuning/jobs/nope-1/cancel", "--kind fine-tuning sends any ID to that route")
T.is(by_id(out)["nope-1"].outcome, "not_found", "an unknown job: not_found")
T.is(code, 1, "not_found is a failure: exit 1")
for _, case in ipairs {
  { "cancel vsfb_live", "'vsfb_live' names a file batch without its vector store: give VECTOR_STORE_ID/FILE_BATCH_ID" },
  { "cancel batch_live/x", "names a batch, which has no parent ID" },
  { "cancel evalrun_x", "'evalrun_x' names an eval run without its eval: give EVAL_ID/EVAL_RUN_ID" },
  { "cancel --kind nope batch_live", "%-%-kind: 'nope' is not one of runs, batches" },
  { "cancel mystery_1", "'mystery_1' is not THREAD_ID/RUN_ID nor an ID with a known prefix" },
} do
  fake:clear()
  out, err, code = run(case[1])
  T.is(code, 2, case[1] .. ": exit 2")
  T.like(err, case[2], case[1] .. ": says why")
  T.is(#fake:requests(), 0, case[1] .. ": nothing sent")
end

---------------------------------------------------------------- each outcome in each server style

local OUTCOMES = {
  { "batch_done", { live = "already_done/already_finished/completed", ["400"] = "already_done/already_finished/completed",
                    ["200"] = "already_done/already_finished/completed", ["409"] = "already_done/already_finished/completed" } },
  { "thread_o/run_done", { live = "already_done/already_finished/completed", ["200"] = "already_done/already_finished/completed" } },
  { "resp_done", { live = "already_done/already_finished/completed", ["200"] = "already_done/already_finished/completed",
                   ["409"] = "already_done/already_finished/completed" } },
  { "ftjob-done", { live = "already_done/already_finished/succeeded", ["400"] = "already_done/already_finished/succeeded" } },
  { "batch_nope", { live = "failed/not_found/nil" } },
}
for _, case in ipairs(OUTCOMES) do
  for _, st in ipairs { "live", "400", "200", "409" } do
    if case[2][st] then
      reset(st)
      out, err, code = run("cancel " .. case[1])
      local id = case[1]:match("[^/]+$")
      local rec = by_id(out)[id]
      T.is(rec and line_of(rec), case[2][st], ("%s, %s server: action/outcome/status"):format(id, st))
      local n = 0
      for _, r in ipairs(fake:requests()) do if r.method == "POST" then n = n + 1 end end
      T.is(n, 1, ("%s, %s server: one attempt on the wire"):format(id, st))
      T.is(code, rec and rec.action == "failed" and 1 or 0, ("%s, %s server: exit code"):format(id, st))
    end
  end
end

reset("live")
out, err, code = run("cancel resp_sync")
by = by_id(out)
T.is(line_of(by.resp_sync), "already_done/not_cancellable/completed", "a synchronous response: not_cancellable")
T.is(by.resp_sync.note, "Cannot cancel a synchronous response.", "with what the server said as a note")
T.is(wire("resp_sync"), "POST /v1/responses/resp_sync/cancel, GET /v1/responses/resp_sync", "one POST, one GET")
T.is(code, 0, "not a failure of the job: exit 0")
T.like(err, "note: resp_sync: not_cancellable: Cannot cancel a synchronous response%.", "the summary says so")

---------------------------------------------------------------- bulk: finished between listing and cancelling

reset("live")
fake:faults { { path = "/batches/batch_racing/cancel", status = 409,
                body = '{"error":{"message":"Cannot cancel a batch with status \'completed\'.","type":"invalid_request_error"}}' } }
out, err, code = run("cancel-older-than --kind batches --older-than 6h")
by = by_id(out)
T.is(line_of(by.batch_racing), "already_done/already_finished/completed",
     "a batch that finished before its cancel arrived (live 409): already_done, not failed")
T.is(wire("batch_racing/cancel"), "POST /v1/batches/batch_racing/cancel", "and its 409 was not retried")
T.is(code, 0, "the job succeeds: exit 0")
T.is(by.batch_live.kind .. "/" .. by.batch_live.id, "batches/batch_live", "lines name kind and id")

-- the answer to a cancel was lost: the retry hears cancelling, and the job counts it as its cancel
reset("live")
fake:faults { { path = "/batches/batch_live/cancel", close = "after" } }
out, err, code = run("cancel-older-than --kind batches --older-than 6h")
by = by_id(out)
T.is(line_of(by.batch_live), "cancelled/cancel_requested/cancelling", "answer lost, retried: cancelled")
T.is(wire("batch_live/cancel"), "POST /v1/batches/batch_live/cancel, POST /v1/batches/batch_live/cancel",
     "two attempts on the wire")
T.like(err, "3 batches considered %(older than 6h00m, of 4 listed%): 3 cancelled",
       "the summary counts it as this job's cancel")
T.like(by.batch_live.note, "^attempt 2 heard \"Cannot cancel a batch with status 'cancelling'%.\": an earlier attempt",
       "and its note says why")

---------------------------------------------------------------- --wait per kind, flip-backs

reset("live")
out, err, code = run("cancel --wait batch_quick")
T.like(err, "waiting up to 1800s for 1 batch", "--wait without a value: a batch waits up to 30 minutes")
T.is(line_of(by_id(out).batch_quick), "cancelled/cancel_requested/cancelled", "and ends cancelled")
reset("live")
out, err, code = run("cancel --wait thread_o/run_live")
T.like(err, "waiting up to 60s for 1 run", "a run waits up to 60s")
reset("live")
out, err, code = run("cancel --wait 1 batch_live")
by = by_id(out)
T.is(line_of(by.batch_live), "cancelled/cancel_requested/cancelling", "the deadline passed: still cancelling, said so")
T.is(by.batch_live.error, "still cancelling after waiting 1s", "with why")
T.is(code, 1, "exit 1")

reset("live")
out, err, code = run("cancel --wait 30 resp_flip resp_live")
by = by_id(out)
T.is(line_of(by.resp_flip), "cancelled/finished_anyway/completed", "read back completed after its cancel: finished_anyway")
T.like(by.resp_flip.note, "finished anyway as 'completed'", "with a note")
T.is(line_of(by.resp_live), "cancelled/cancel_requested/cancelled", "the other stays cancelled")
T.like(err, "2 cancelled; 1 of them finished anyway", "the summary does not count it as a success")
T.is(code, 1, "a flip-back under --wait: exit 1")
T.is(wire("/responses/resp_flip"), "POST /v1/responses/resp_flip/cancel, GET /v1/responses/resp_flip",
     "an object cancelled at once is read back once")

-- watch: an object seen cancelled that later reads completed is marked
reset("live")
fake:seed { threads = json.array(), responses = { { id = "resp_w", status = "in_progress", background = true,
                                                    flip_back_ms = 1500 } } }
assert(http.request { method = "POST", url = fake.base .. "/responses/resp_w/cancel",
                      headers = { Authorization = "Bearer " .. KEY } })
out, err, code = run("watch --count 40 --interval 0.1 resp_w")
T.is(code, 0, "watch of a response: exit 0")
T.like(out, "resp_w%s+completed", "watch shows the response completed in the end")
if out:find("resp_w%s+cancelled") then
  T.like(out, "resp_w%s+completed.-finished anyway: cancelled, then completed", "and marks the flip-back")
else
  T.ok(true, "# skip the first refresh came after the flip")
end

-- watch --kind batches
reset("live")
out, err, code = run("watch --once --kind batches")
T.like(out, "\nBATCHES%s+VALIDATING%s+IN_PROGRESS%s+FINALIZING%s+CANCELLING%s+FINISHED", "watch --kind batches: the columns")
T.like(out, "\nbatches%s+0%s+3%s+0%s+0%s+1", "and the counts")
T.is(code, 0, "exit 0")

T.done()
