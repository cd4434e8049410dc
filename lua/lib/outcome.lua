-- lua/lib/outcome.lua — what the answer to a cancel means (require
-- "runctl.outcome"): the outcome a user can act on, and the report action.
local runctl = require "runctl"

local M = {}

-- Turns the outcome of a cancel into report fields {action, status_after,
-- request_id, error, cause (the error object of a failure)}. A 400 "Cannot
-- cancel run with status 'X'" (or batch, fine-tuning job) means it finished (or expired) between listing and
-- cancelling: not a failure.
function M.classify_cancel(obj, err, resp, status_before)
  if obj then
    return { action = "cancelled", status_after = type(obj.status) == "string" and obj.status or nil,
             request_id = resp and resp.request_id }
  end
  if not runctl.is_error(err) then
    return { action = "failed", status_after = status_before, error = tostring(err), cause = err }
  end
  if err.kind == "dry_run" then
    return { action = "would_cancel", status_after = status_before }
  end
  local st = err.status == 400 and type(err.message) == "string"
             and err.message:match("^Cannot cancel [%w _.-]- with status '([%w_]+)'")
  if st then
    return { action = st == "expired" and "expired" or "already_done", status_after = st,
             request_id = err.request_id }
  end
  return { action = "failed", status_after = status_before, request_id = err.request_id,
           error = tostring(err), cause = err }
end

return M
