-- lua/lib/api/params.lua — query parameter validators (require "runctl.api.params",
-- also runctl.params): what the params of a resource's method (resources.lua,
-- runctl.define) are checked with.
local math = require("runctl.compat").math        -- math.type on LuaJIT too

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

-- A list of non-empty strings sent the way the SDKs send arrays: name[]=a&name[]=b.
-- allowed: nil, or a set of the words the list may hold.
function M.list(name, allowed)
  local words = {}
  for w in pairs(allowed or {}) do words[#words + 1] = w end
  table.sort(words)
  local want = allowed and ("a list of " .. table.concat(words, ", ")) or "a non-empty list of strings"
  return function(v)
    if type(v) == "string" then v = { v } end
    if type(v) ~= "table" or #v == 0 then return false, want end
    local list = {}
    for k, s in pairs(v) do
      if math.type(k) ~= "integer" or type(s) ~= "string" or s == "" or has_control(s)
         or (allowed and not allowed[s]) then
        return false, want
      end
      list[k] = s
    end
    return true, want, { [name .. "[]"] = list }
  end
end

-- Unix seconds (start_time, end_time of the costs and usage listings).
M.unix_time = function(v) return whole(v, 0, 2^53), "a Unix time in seconds (an integer)" end
M.boolean = function(v) return type(v) == "boolean", "true or false" end
-- One of the words of a set.
function M.one_of(set)
  local words = {}
  for w in pairs(set) do words[#words + 1] = ("%q"):format(w) end
  table.sort(words)
  return function(v) return set[v] == true, table.concat(words, " or ") end
end
-- An integer from lo to hi.
function M.range(lo, hi)
  return function(v) return whole(v, lo, hi), ("an integer from %d to %d"):format(lo, hi) end
end

return M
