-- lua/lib/resources.lua — the API resources as data: for each, its beta header,
-- its methods {verb, path template, params?}, which method paginates and how to
-- wait. runctl.lua turns every entry into bound functions on every client.
--
-- Adding an endpoint is one line under methods; a new resource is one entry.
-- Path templates name their IDs in braces; each becomes a required string
-- argument, percent-encoded as one path segment. A method with `params` takes
-- a params table after its IDs (checked by the validators below), then opts.

local function has_control(s) return s:find("[%z\1-\31\127]") ~= nil end

local function whole(v, lo, hi)
  return type(v) == "number" and v == math.floor(v) and v >= lo and v <= hi
end

-- Validators return ok, "what was wanted".
local V = {
  limit100 = function(v) return whole(v, 1, 100), "an integer from 1 to 100" end,
  order = function(v) return v == "asc" or v == "desc", "\"asc\" or \"desc\"" end,
  cursor = function(v) return type(v) == "string" and v ~= "" and not has_control(v), "a non-empty ID string" end,
}

local LIST_PARAMS = { limit = V.limit100, order = V.order, after = V.cursor, before = V.cursor }

return {
  runs = {
    beta = "assistants=v2",
    methods = {
      cancel = { "POST", "/threads/{thread_id}/runs/{run_id}/cancel" },
      retrieve = { "GET", "/threads/{thread_id}/runs/{run_id}" },
      list = { "GET", "/threads/{thread_id}/runs", params = LIST_PARAMS },
    },
    paginate = "list",          -- adds each(ids..., params, opts)
    wait = { using = "retrieve", while_status = { queued = true, in_progress = true, cancelling = true } },
  },
}
