-- tests/lua/test_scripts_jobs.lua — `cancel-older-than --kind batches|fine-tuning`
-- ("cancel every batch older than 6h" is one command, no IDs needed) and
-- `cancel --file` of such a report, against the fake API: every action, the
-- filters that apply, usage errors, faults, --wait, running twice.
local T = require "helper"
local KEY = "sk-test-scripts-0123456789"
local SCRIPTS = io.popen("pwd"):read("l") .. "/scripts"

local SEED = {
  threads = json.array(),
  batches = {
    { id = "batch_old", status = "in_progress", created_at = -30000 },
    { id = "batch_validating", status = "validating", created_at = -25000 },
    { id = "batch_finalizing", status = "finalizing", created_at = -22000 },
    { id = "batch_young", status = "in_progress", created_at = -600 },
    { id = "batch_done", status = "completed", created_at = -40000 },
    { id = "batch_gone", status = "cancelled", created_at = -40000 },
    { id = "batch_stuck", status = "cancelling", created_at = -40000 },
    { id = "batch_lapsed", status = "in_progress", created_at = -100000 },      -- expires_at: created + 24h
    { id = "batch_expired", status = "expired", created_at = -90000 },
    { id = "batch_prod", status = "in_progress", created_at = -30000, metadata = { env = "prod" } },
  },
  fine_tuning_jobs = {
    { id = "ftjob-run", status = "running", created_at = -30000 },
    { id = "ftjob-queued", status = "queued", created_at = -30000, model = "gpt-4o-2024-08-06" },
    { id = "ftjob-files", status = "validating_files", created_at = -30000 },
    { id = "ftjob-young", status = "running", created_at = -600 },
    { id = "ftjob-ok", status = "succeeded", created_at = -30000 },
    { id = "ftjob-gone", status = "cancelled", created_at = -30000 },
  },
}

local fake = T.fake("--seed " .. T.seed_file(SEED))
local env = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, RUNCTL_SCRIPTS = SCRIPTS }
local function cot(args, flags) return T.run((flags or "") .. " cancel-older-than " .. args, env) end
local function reseed(seed) fake:seed(seed or SEED) fake:clear() end

local function report(out)
  local list, by = {}, {}
  for line in out:gmatch("[^\n]+") do
    local rec = json.decode(line)
    if type(rec) == "table" and rec.action ~= nil then      -- (not the header or closing line)
      list[#list + 1] = rec
      by[rec.run_id ~= json.null and rec.run_id or "list"] = rec
    end
  end
  return list, by
end
local function actions(by)
  local keys = {}
  for k, rec in pairs(by) do keys[#keys + 1] = k .. "=" .. tostring(rec.action) end
  table.sort(keys)
  return table.concat(keys, " ")
end
local function posted() return fake:posted() end
local function state(kind)
  local resp = assert(http.request { url = fake.url .. "/_fake/" .. kind })
  local out = {}
  for _, x in ipairs(json.decode(resp.body)) do out[x.id] = x.status end
  return out
end

-- usage errors
reseed()
for _, case in ipairs {
  { "--kind batches --older-than 6h thread_a", "%-%-kind batches lists every batch: give no thread IDs" },
  { "--kind batches --older-than 6h --threads-file x", "give no thread IDs" },
  { "--kind batches --older-than 6h --assistant asst_A", "%-%-assistant does not apply to batches" },
  { "--kind fine-tuning --older-than 6h --assistant asst_A", "%-%-assistant does not apply to fine%-tuning jobs" },
  { "--kind batches --older-than 6h --status queued",
    "%-%-status: 'queued' is not a status of batches that can be picked: use finalizing, in_progress, validating" },
  { "--kind fine-tuning --older-than 6h --age-from started", "%-%-age%-from started: fine%-tuning jobs have no start time" },
  { "--kind batches,fine-tuning --older-than 6h", "%-%-kind takes one value" },
} do
  local out, err, code = cot(case[1])
  T.is(code, 2, case[1] .. ": exit 2")
  T.like(err, case[2], case[1] .. ": says why")
end
T.is(#fake:requests(), 0, "no usage error sent a request")

-- batches: a dry run shows every action; no POST
local out, err, code = cot("--kind batches --older-than 6h --dry-run")
local list, by = report(out)
T.is(code, 0, "batches dry run: exit 0")
T.is(actions(by), "batch_expired=expired batch_finalizing=would_cancel batch_gone=already_done "
     .. "batch_lapsed=expired batch_old=would_cancel batch_prod=would_cancel batch_stuck=already_done "
     .. "batch_validating=would_cancel", "every old batch considered, with its action")
T.is(posted(), "", "no POST")
T.is(by.batch_old.object, "batch", "lines say which kind of object they are about")
T.is(by.batch_old.thread_id, json.null, "thread_id is null for a batch")
T.ok(by.batch_old.age >= 30000 and by.batch_old.age < 30100, "age in seconds", by.batch_old.age)
T.like(err, "8 batches considered %(older than 6h00m, of 10 listed%): 4 would cancel, 2 already done, 2 expired",
       "the summary names batches")

-- filters that apply to batches
local function would(args)
  fake:clear()
  local _, b = report(cot("--dry-run --older-than 6h " .. args))
  local ids = {}
  for k, rec in pairs(b) do if rec.action == "would_cancel" then ids[#ids + 1] = k end end
  table.sort(ids)
  return table.concat(ids, ",")
end
T.is(would("--kind batches --metadata env=prod"), "batch_prod", "batches: --metadata")
T.is(would("--kind batches --status validating,finalizing"), "batch_finalizing,batch_validating", "batches: --status")
T.is(would("--kind batches --age-from started"), "batch_finalizing,batch_old,batch_prod",
     "batches: --age-from started uses in_progress_at (a validating batch has none)")
T.is(would("--kind batches --older-than 1m"), "batch_finalizing,batch_old,batch_prod,batch_validating,batch_young",
     "the last --older-than wins")

-- batches for real, then a second time
reseed()
out, err, code = cot("--kind batches --older-than 6h")
list, by = report(out)
T.is(code, 0, "batches: exit 0")
T.is(posted(), "/v1/batches/batch_finalizing/cancel /v1/batches/batch_old/cancel /v1/batches/batch_prod/cancel "
     .. "/v1/batches/batch_validating/cancel", "POST /batches/{id}/cancel for each old active batch")
T.is(by.batch_old.action .. "/" .. by.batch_old.status_after, "cancelled/cancelling", "cancelled, now cancelling")
T.like(by.batch_old.request_id, "^req_", "with its request ID")
local st = state("batches")
T.is(st.batch_young, "in_progress", "the young batch is left alone")
T.is(st.batch_lapsed, "in_progress", "the lapsed one is reported expired, not cancelled")
fake:clear()
out, err, code = cot("--kind batches --older-than 6h")
list, by = report(out)
T.is(posted(), "", "second pass: nothing sent")
T.is(by.batch_old.action, "already_done", "second pass: the cancelled batches are already_done")
T.is(code, 0, "second pass: exit 0")

-- --wait until they are cancelled; a batch stuck in cancelling hits the deadline
reseed { threads = json.array(), batches = { { id = "batch_w", status = "in_progress", created_at = -30000 } } }
out, err, code = cot("--kind batches --older-than 6h --wait 20")
list, by = report(out)
T.is(by.batch_w.status_after, "cancelled", "batches --wait: until cancelled")
T.like(err, "waiting up to 20s for 1 batch to leave cancelling", "--wait names batches")
T.is(code, 0, "exit 0")
reseed()
out, err, code = cot("--kind batches --older-than 6h --wait 1 --yes")
list, by = report(out)
T.is(by.batch_stuck.outcome, "already_cancelling", "a batch cancelling before this run: already_cancelling")
T.is(by.batch_stuck.error, json.null, "not waited for: no deadline error")
T.is(by.batch_old.status_after, "cancelled", "the others were cancelled meanwhile")
T.like(err, "1 batch already cancelling before this run", "the summary says so")
T.is(code, 0, "exit 0")

-- faults: a listing that fails, a cancel that fails, one that raced
reseed()
fake:faults { { method = "GET", path = "/v1/batches", status = 500 } }
out, err, code = cot("--kind batches --older-than 6h --dry-run", "--max-retries 0")
list, by = report(out)
T.is(#list, 1, "batches cannot be listed: one line")
T.is(by.list.action .. "/" .. by.list.object, "failed/batch", "failed, about batches")
T.like(by.list.error, "^cannot list batches: 500", "with the reason")
T.is(code, 1, "exit 1")
reseed()
fake:faults { { path = "/batch_old/cancel", status = 400,
                body = { error = { message = "Cannot cancel batch with status 'completed'.", type = "invalid_request_error" } } },
              { path = "/batch_prod/cancel", status = 500 } }
out, err, code = cot("--kind batches --older-than 6h --concurrency 1", "--max-retries 0")
list, by = report(out)
T.is(by.batch_old.action .. "/" .. by.batch_old.status_after, "already_done/completed",
     "400 Cannot cancel batch with status 'completed': already_done")
T.is(by.batch_prod.action, "failed", "a 500: failed")
T.like(err, "failed: batch_prod: 500", "the summary names the batch")
T.is(#list, 8, "still one line per batch considered")
T.is(code, 1, "exit 1")

-- fine-tuning jobs
reseed()
out, err, code = cot("--kind fine-tuning --older-than 6h")
list, by = report(out)
T.is(actions(by), "ftjob-files=cancelled ftjob-gone=already_done ftjob-queued=cancelled ftjob-run=cancelled",
     "fine-tuning: the old active jobs are cancelled; succeeded and young ones are not considered")
T.is(posted(), "/v1/fine_tuning/jobs/ftjob-files/cancel /v1/fine_tuning/jobs/ftjob-queued/cancel "
     .. "/v1/fine_tuning/jobs/ftjob-run/cancel", "POST /fine_tuning/jobs/{id}/cancel")
T.is(by["ftjob-run"].status_after, "cancelled", "a fine-tuning job is cancelled at once")
T.is(by["ftjob-run"].object, "fine_tuning.job", "lines say fine_tuning.job")
T.like(err, "4 fine%-tuning jobs considered", "the summary names fine-tuning jobs")
T.is(code, 0, "exit 0")
reseed()
T.is(would("--kind fine-tuning --model gpt-4o-2024-08-06"), "ftjob-queued", "fine-tuning: --model")
T.is(would("--kind fine_tuning --status running"), "ftjob-run", "fine-tuning: --status (and the fine_tuning spelling)")

-- cancel --file takes what a --kind report left to do
reseed()
local plan = (os.getenv("TEST_TMPDIR") or "/tmp") .. "/jobs-plan-" .. math.random(1e9) .. ".jsonl"
local b_out = T.run("cancel-older-than --kind batches --older-than 6h --dry-run", env)
local f_out = T.run("cancel-older-than --kind fine-tuning --older-than 6h --dry-run", env)
local f = assert(io.open(plan, "w"))
f:write(b_out, f_out)
f:close()
fake:clear()
out, err, code = T.run("cancel --wait 20 --file " .. plan, env)
list, by = report(out)
T.is(posted(), "/v1/batches/batch_finalizing/cancel /v1/batches/batch_old/cancel /v1/batches/batch_prod/cancel "
     .. "/v1/batches/batch_validating/cancel /v1/fine_tuning/jobs/ftjob-files/cancel "
     .. "/v1/fine_tuning/jobs/ftjob-queued/cancel /v1/fine_tuning/jobs/ftjob-run/cancel",
     "cancel --file: the would_cancel batches and jobs of the reports are cancelled")
T.is(#list, 7, "one line each")
T.is(by.batch_old.status_after .. "/" .. by.batch_old.object, "cancelled/batch", "cancel --wait: batches until cancelled")
T.is(by["ftjob-run"].action, "cancelled", "and the fine-tuning jobs")
T.is(code, 0, "exit 0")
out, err, code = T.run("cancel -", env, '{"object":"assistant","run_id":"asst_x"}\n')
T.like(err, "names an object of an unknown kind 'assistant'", "cancel: a line of an unknown kind is refused")
T.is(code, 2, "exit 2")

T.done()
