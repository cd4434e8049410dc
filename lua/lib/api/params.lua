-- lua/lib/api/params.lua — query parameter validators (require "runctl.api.params",
-- also runctl.params): what the params of a resource's method (resources.lua,
-- runctl.define) are checked with.
local function has_control(s) return s:find("[%z\1-\31\127]") ~= nil end

local function whole(v, lo, hi)
  return type(v) == "number" and v == math.floor(v) and v >= lo and v <= hi
end

-- Validators return ok, "what was wanted" [, expanded query pairs]. A
-- validator that returns a third value replaces the parameter by those pairs
-- (deepObject style: metadata = {k = v} goes out as metadata[k]=v).
local M = {
  limit100 = function(v) return whole(v, 1, 100), "an integer from 1 to 100" end,
  limit = function(v) return whole(v, 1, 2^31 - 1), "a positive integer" end,
  order = function(v) return v == "asc" or v == "desc", "\"asc\" or \"desc\"" end,
  eval_run_status = function(v)
    local ok = v == "queued" or v == "in_progress" or v == "completed" or v == "canceled" or v == "failed"
    return ok, "one of queued, in_progress, completed, canceled, failed"
  end,
  cursor = function(v) return type(v) == "string" and v ~= "" and not has_control(v), "a non-empty ID string" end,
  metadata = function(v)
    local want = "a table of string keys to string values"
    if type(v) ~= "table" then return false, want end
    local pairs_out = {}
    for k, s in pairs(v) do
      if type(k) ~= "string" or k == "" or has_control(k) or type(s) ~= "string" or has_control(s) then
        return false, want
      end
      pairs_out["metadata[" .. k .. "]"] = s
    end
    return true, want, pairs_out
  end,
}

return M
