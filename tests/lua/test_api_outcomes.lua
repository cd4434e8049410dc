-- tests/lua/test_api_outcomes.lua — what a cancel binding's answer means, in
-- every style of server the fake plays (live api.openai.com, 400 everywhere,
-- 200 with the object unchanged, 409 for finished responses): resp.outcome or
-- err.outcome and err.object_status, and how many attempts went over the wire
-- ("Cannot cancel ..." is final: never retried unless x-should-retry: true).
local T = require "helper"

local SEED = {
  threads = { { id = "thread_o", runs = {
    { id = "run_done", status = "completed" }, { id = "run_live", status = "in_progress" },
    { id = "run_stopping", status = "cancelling" } } } },
  batches = {
    { id = "batch_done", status = "completed" }, { id = "batch_stopping", status = "cancelling" },
    { id = "batch_live", status = "in_progress", cancel_delay_ms = 600000 },
    { id = "batch_lost", status = "in_progress", cancel_delay_ms = 600000 },
  },
  responses = {
    { id = "resp_done", status = "completed", background = true },
    { id = "resp_gone", status = "cancelled", background = true },
    { id = "resp_sync", status = "completed" },
    { id = "resp_live", status = "in_progress", background = true },
  },
  fine_tuning_jobs = { { id = "ftjob-done", status = "succeeded" } },
}

local fake = T.fake("--seed " .. T.seed_file(SEED))
local c = fake:client { max_retries = 2, max_retry_delay = 0.05 }

local function style(name) fake:cancel_style(name) end

-- The requests on the wire since the last clear, as "POST,GET".
local function wire()
  local m = {}
  for _, r in ipairs(fake:requests()) do m[#m + 1] = r.method end
  return table.concat(m, ",")
end

-- Cancels with fn and returns "outcome/status/HTTP status" and the methods on the wire.
local function outcome_of(fn, st)
  fake:reset()
  style(st)
  fake:clear()
  local obj, err, resp = fn()
  local o = obj and resp.outcome or err.outcome
  local status = obj and obj.status or err.object_status
  return ("%s/%s/%s"):format(tostring(o), tostring(status), obj and resp.status or tostring(err.status)), wire()
end

local CASES = {
  { "a completed batch", function() return c.batches.cancel("batch_done") end,
    { live = "already_finished/completed/409", ["400"] = "already_finished/completed/400",
      ["200"] = "already_finished/completed/200", ["409"] = "already_finished/completed/409" }, "POST" },
  { "a cancelling batch", function() return c.batches.cancel("batch_stopping") end,
    { live = "already_cancelling/cancelling/409", ["400"] = "already_cancelling/cancelling/400",
      ["200"] = "cancel_requested/cancelling/200", ["409"] = "already_cancelling/cancelling/409" }, "POST" },
  { "an in-progress batch", function() return c.batches.cancel("batch_live") end,
    { live = "cancel_requested/cancelling/200" }, "POST" },
  { "a completed run", function() return c.runs.cancel("thread_o", "run_done") end,
    { live = "already_finished/completed/400", ["200"] = "already_finished/completed/200",
      ["409"] = "already_finished/completed/400" }, "POST" },
  { "a cancelling run", function() return c.runs.cancel("thread_o", "run_stopping") end,
    { live = "already_cancelling/cancelling/400" }, "POST" },
  { "a completed background response", function() return c.responses.cancel("resp_done") end,
    { live = "already_finished/completed/400", ["400"] = "already_finished/completed/400",
      ["200"] = "already_finished/completed/200", ["409"] = "already_finished/completed/409" }, "POST" },
  { "a cancelled background response", function() return c.responses.cancel("resp_gone") end,
    { live = "cancel_requested/cancelled/200", ["400"] = "already_finished/cancelled/400",
      ["409"] = "already_finished/cancelled/409" }, "POST" },
  { "a succeeded fine-tuning job", function() return c.fine_tuning.jobs.cancel("ftjob-done") end,
    { live = "already_finished/succeeded/400", ["200"] = "already_finished/succeeded/200" }, "POST" },
  { "an unknown batch", function() return c.batches.cancel("batch_nope") end,
    { live = "not_found/nil/404", ["409"] = "not_found/nil/404" }, "POST" },
}

for _, case in ipairs(CASES) do
  for _, st in ipairs { "live", "400", "200", "409" } do
    local want = case[3][st]
    if want then
      local got, methods = outcome_of(case[2], st)
      T.is(got, want, ("%s, %s server: outcome/status"):format(case[1], st))
      T.is(methods, case[4], ("%s, %s server: one attempt, no retry"):format(case[1], st))
    end
  end
end

-- A text that names no status: the object is read once, and says.
local got, methods = outcome_of(function() return c.responses.cancel("resp_sync") end, "live")
T.is(got, "not_cancellable/completed/400", "a synchronous response: not_cancellable (it is not background)")
T.is(methods, "POST,GET", "read back once to tell a synchronous response from a finished one")
fake:reset()
fake:clear()
fake:faults { { path = "/responses/resp_done/cancel",
                status = 400, body = '{"error":{"message":"Cannot cancel a synchronous response.","type":"invalid_request_error"}}' } }
local obj, err = c.responses.cancel("resp_done")
T.is(err.outcome .. "/" .. tostring(err.object_status), "already_finished/completed",
     "vLLM's synchronous-response text for a finished background response: already_finished, from its status")
T.is(wire(), "POST,GET", "one POST, one GET")
T.is(err.object and err.object.id, "resp_done", "err.object is the object read back")

-- Other 409s are still retried; x-should-retry: true still wins.
fake:reset()
fake:clear()
fake:faults { { path = "/batches/batch_live/cancel", status = 409, count = 3,
                body = '{"error":{"message":"lock timeout","type":"conflict"}}' } }
obj, err = c.batches.cancel("batch_live")
T.is(err and err.outcome .. "/" .. err.attempts, "failed/3", "a 409 lock timeout is retried, then failed")
T.is(wire(), "POST,POST,POST,GET", "three attempts on the wire, then the object read once")
fake:reset()
fake:clear()
fake:faults { { path = "/batches/batch_done/cancel", status = 409, headers = { ["x-should-retry"] = "true" },
                body = '{"error":{"message":"Cannot cancel a batch with status \'completed\'."}}' } }
obj, err = c.batches.cancel("batch_done")
T.is(err and err.outcome .. "/" .. err.attempts, "already_finished/2",
     "x-should-retry: true on a Cannot cancel answer: retried (the live answer then)")
T.is(wire(), "POST,POST", "two attempts on the wire")

-- A cancel whose answer was lost: the retry hears "cancelling", and that is this call's cancel.
fake:reset()
fake:clear()
fake:faults { { path = "/batches/batch_lost/cancel", close = "after" } }
obj, err = c.batches.cancel("batch_lost")
T.is(err and err.outcome .. "/" .. err.object_status .. "/" .. err.attempts, "cancel_requested/cancelling/2",
     "answer lost, the retry hears 409 cancelling: cancel_requested")
T.is(wire(), "POST,POST", "two attempts on the wire")
fake:reset()
fake:clear()
fake:faults { { path = "/batches/batch_stopping/cancel", status = 500 } }
obj, err = c.batches.cancel("batch_stopping")
T.is(err and err.outcome .. "/" .. err.attempts, "cancel_requested/2",
     "after a 500 (which may have landed), cancelling counts as this call's cancel")

-- The retry after a reset answers with the object: the ordinary success.
fake:reset()
fake:clear()
fake:faults { { path = "/responses/resp_live/cancel", close = "before" } }
local r, _, resp = c.responses.cancel("resp_live")
T.is(r and r.status .. "/" .. resp.outcome .. "/" .. resp.attempts, "cancelled/cancel_requested/2",
     "a response cancelled on the retry: cancel_requested")

-- A dry run sends nothing: not_sent.
fake:clear()
runctl.dry_run = true
obj, err = c.batches.cancel("batch_live")
T.is(err and err.kind .. "/" .. err.outcome, "dry_run/not_sent", "under dry_run: not_sent")
local sent = #fake:requests()
T.is(sent, 0, "nothing on the wire")

T.done()
