-- lua/lib/api/cancel_outcomes.lua — what the answer to a cancel means (require
-- "runctl.api.cancel_outcomes"): the outcome a user can act on, which every cancel
-- binding puts on its resp or err (resp.outcome, err.outcome), and the report
-- action the bundled scripts write for it.
--
-- Outcomes:
--   cancel_requested    the cancel was accepted: the object is cancelling or cancelled
--   already_cancelling  someone else's cancel is under way
--   already_finished    it had stopped before (err.object_status / the object's status says how)
--   not_cancellable     it cannot be cancelled at all (e.g. not a background response)
--   not_found           no such object (404)
--   failed              the request failed (connection, timeout, other errors)
--   not_sent            --dry-run / runctl.dry_run: the client refused to send it;
--                       or the account had no quota left (err.kind "not_sent")
-- Servers answer "cannot cancel" differently (API-FACTS.md): 409 or 400
-- "Cannot cancel ... with status 'X'.", 200 with the object unchanged, or a
-- text without a status; the status decides, read with one GET when the text
-- does not say it. Such answers are final: core does not retry them.
local errors = require "runctl.api.errors"

local M = {}

local function set(list)
  local t = {}
  for _, v in ipairs(list) do t[v] = true end
  return t
end

-- The status words of an object whose kind is not known (a resource no
-- kind names): every built-in kind's words. A kind (runctl.kinds, built-in
-- or kinds.define'd) brings its own: eval runs say "canceled".
local DEFAULT = {
  stopping = set { "cancelling", "cancelled" },
  cancelling = set { "cancelling" },
  finished = set { "completed", "succeeded", "failed", "expired", "incomplete", "cancelled" },
}

-- The sets decisions use for kind k: stopping (cancelled or on the way),
-- cancelling, finished.
local function words(k)
  if not k then return DEFAULT end
  local stopping = {}
  for st in pairs(k.done) do stopping[st] = true end
  for st in pairs(k.cancelling) do stopping[st] = true end
  return { stopping = stopping, cancelling = k.cancelling, finished = k.finished }
end

M.OUTCOMES = { "cancel_requested", "already_cancelling", "already_finished", "not_cancellable",
               "not_found", "failed", "not_sent" }

-- The status a "Cannot cancel <thing> with status 'X'." text names, or nil.
local function status_in(message)
  return type(message) == "string" and message:match("^Cannot %a+ .- with status '([%w_]+)'") or nil
end

-- The outcome of a refused cancel, from the status the object has (named in
-- the text or read back), in the words w of its kind. attempts > 1: an
-- earlier attempt of this call may have landed (its answer was lost), so a
-- cancel found under way or done is this call's own.
local function refused(w, status, attempts, says_cannot, background)
  if background == false then return "not_cancellable" end     -- a synchronous response
  if w.stopping[status] and (attempts or 1) > 1 then return "cancel_requested" end
  if w.cancelling[status] then return "already_cancelling" end
  if w.finished[status] then return "already_finished" end
  if says_cannot then return "not_cancellable" end
  return "failed"
end

-- The kind a cancel binding's resource belongs to (rname "evals.runs"), or
-- nil. runctl.kinds is looked up when asked: it loads after the binder.
function M.kind_of(rname)
  local kinds = package.loaded["runctl.jobs.kinds"]
  return kinds and rname and kinds.by_resource(rname) or nil
end

-- Gives a cancel binding's answer its outcome: obj, nil, resp gets
-- resp.outcome; nil, err gets err.outcome and, when known, err.object_status
-- (and err.object when it was read back). refetch() -> obj | nil, err reads
-- the object once (nil when the resource has no retrieve). kind: the
-- object's kind (runctl.kinds), whose status words decide; nil: the
-- built-in kinds' words. Returns what it was given.
function M.decide(obj, err, resp, refetch, kind)
  local w = words(kind)
  if obj then
    local st = obj.status
    resp.outcome = w.finished[st] and not w.stopping[st] and "already_finished" or "cancel_requested"
    return obj, err, resp
  end
  -- nil, err: two values, as documented (LuaJIT's assert raises its last argument)
  if not errors.is_error(err) then return obj, err end
  if err.kind == "dry_run" or err.kind == "not_sent" then
    err.outcome = "not_sent"
  elseif err.kind ~= "api" then
    err.outcome = "failed"
  elseif err.status == 404 then
    err.outcome = "not_found"
  elseif err.status == 400 or err.status == 409 then
    local says_cannot = type(err.message) == "string" and err.message:find("^Cannot cancel") ~= nil
    local st, background = status_in(err.message), nil
    if not st and refetch then            -- the text does not say: the object does
      local got = refetch()
      if type(got) == "table" then
        st, background, err.object = type(got.status) == "string" and got.status or nil, got.background, got
      end
    end
    err.object_status = st
    -- a 429 was refused, never applied: only the other attempts may have landed
    err.outcome = refused(w, st, (err.attempts or 1) - (err.rate_limited or 0), says_cannot, background)
  else
    err.outcome = "failed"
  end
  return obj, err
end

---------------------------------------------------------------------- report lines

local ACTION = {
  cancel_requested = "cancelled", already_cancelling = "already_done", already_finished = "already_done",
  not_cancellable = "already_done", not_found = "failed", failed = "failed", not_sent = "would_cancel",
}

-- Turns the answer to a cancel into report fields {action, outcome,
-- status_after, request_id, error, note, seen, cause}: seen is the object the
-- answer carried or read back (for its cost), cause the error object of a
-- failure (a 401 stops the job: see Ledger:judge). status_before: what was
-- known before.
function M.classify_cancel(obj, err, resp, status_before)
  if obj then
    local f = { action = ACTION[resp.outcome] or "cancelled", outcome = resp.outcome or "cancel_requested",
                status_after = type(obj.status) == "string" and obj.status or nil,
                request_id = resp.request_id, seen = obj }
    if f.outcome == "already_finished" then
      f.note = "the server answered the cancel with the object unchanged: it had finished"
    end
    return f
  end
  if not errors.is_error(err) then
    return { action = "failed", outcome = "failed", status_after = status_before, error = tostring(err),
             cause = err }
  end
  if err.outcome == nil then M.decide(nil, err) end      -- an err not made by a cancel binding
  local outcome = err.outcome
  local f = { action = ACTION[outcome], outcome = outcome, request_id = err.request_id,
              status_after = err.object_status or status_before, seen = err.object }
  if outcome == "already_finished" and err.object_status == "expired" then
    f.action = "expired"
  elseif outcome == "cancel_requested" then
    f.note = ("attempt %d heard \"%s\": an earlier attempt, whose answer was lost, had landed")
             :format(err.attempts or 2, tostring(err.message))
  elseif outcome == "not_cancellable" or outcome == "already_finished" or outcome == "already_cancelling" then
    f.note = err.message                 -- what the server said, for people
  elseif outcome == "not_sent" and err.kind == "not_sent" then
    f.action, f.error, f.cause = "skipped", tostring(err), err
  elseif f.action == "failed" then
    f.error, f.cause = tostring(err), err
  end
  return f
end

return M
