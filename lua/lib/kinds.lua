-- lua/lib/kinds.lua — job kinds as data (require "runctl.kinds"): what a kind
-- of cancellable object is for the tools (cancel, cancel-older-than, watch,
-- supervise). Built-in kinds and an extension's are declared the same way,
-- with kinds.define(name, def); the tools look kinds up here and nowhere else.
--
-- def (what define checks; * marks required fields):
--   resource*   dotted name of the resource in runctl.resources ("batches",
--               "fine_tuning.jobs"), whose cancel/retrieve[/list] the tools call
--   object*     the API's `object` value ("batch")
--   one, many   nouns for people ("batch", "batches"; default: name)
--   prefix      ID prefix(es) that tell the kind from an ID alone ("batch_"),
--               a string or a list
--   parent      objects addressed under another one (runs under threads):
--               { name = "thread", field = "thread_id", prefix = "thread_" }
--   list        how the tools find objects without being given their IDs:
--               "each" (the resource paginates by itself), "parent" (listed per
--               parent ID: runs per thread), or nil (IDs come from the user)
--   active*     statuses a cancel applies to (a list)
--   cancelling  statuses meaning a cancel is under way (default {"cancelling"})
--   done        statuses meaning it was cancelled already (default cancelling + "cancelled")
--   finished    statuses that are final (default: done + completed, failed, expired, ...)
--   expired     statuses meaning it ran out of time (default {"expired"})
--   pending     statuses --wait waits out (default: active + cancelling)
--   age_from    fields ages are measured from: { created = "created_at", started = "..." }
--   expires     field holding an expiry time ("expires_at"), or nil
--   wait        default --wait deadline in seconds (batches can stay cancelling 25 min)
--   cost        fields that say what the object cost or did, copied to report lines
--   filters     fields the --model/--assistant filters match: { model = "model" }
-- A kind table also gets: name, resource(client) -> the bound binding table,
-- per_thread (list == "parent"), started (age_from.started), pending_list
-- (the pending statuses in the order given: active, then cancelling); and as sets
-- (status -> true) for active, cancelling, done, finished, expired, pending.
local M = {}

local by_name, order = {}, {}
M.all = by_name                 -- name -> kind (read only: use define)

local function set(list)
  local t = {}
  for _, v in ipairs(list) do t[v] = true end
  return t
end

local function list_of(v) return type(v) == "table" and v or { v } end

local FIELDS = {
  resource = "string", object = "string", one = "string", many = "string", prefix = "strings",
  parent = "table", list = "string", active = "strings", cancelling = "strings", done = "strings",
  finished = "strings", expired = "strings", pending = "strings", age_from = "table",
  expires = "string", wait = "number", cost = "strings", filters = "table",
}

local function check_def(name, def)
  if type(name) ~= "string" or not name:match("^[%w][%w_-]*$") then
    error("runctl.kinds.define: the name must be a word such as \"batches\" (got "
          .. tostring(name) .. ")", 3)
  end
  if type(def) ~= "table" then error("runctl.kinds.define: " .. name .. ": def must be a table", 3) end
  for k, v in pairs(def) do
    local want = FIELDS[k]
    if not want then error(("runctl.kinds.define: %s: unknown field '%s'"):format(name, tostring(k)), 3) end
    local ok = want == "strings" and (type(v) == "string" or type(v) == "table")
               or type(v) == want
    if not ok then
      error(("runctl.kinds.define: %s: %s must be %s (got %s)"):format(name, k,
            want == "strings" and "a string or a list of strings" or "a " .. want, type(v)), 3)
    end
  end
  for _, k in ipairs { "resource", "object", "active" } do
    if def[k] == nil then error(("runctl.kinds.define: %s: %s is required"):format(name, k), 3) end
  end
  if def.list and def.list ~= "each" and def.list ~= "parent" then
    error(("runctl.kinds.define: %s: list must be \"each\" or \"parent\""):format(name), 3)
  end
  -- The resource must exist with what the tools call: cancel (retrieve too,
  -- for --dry-run and --wait), and each (paginate) for a kind that is listed.
  local rdef = require("runctl.bind").definition(def.resource)
  local why = not rdef and "is not a defined resource (runctl.define it first)"
              or not rdef.methods.cancel and "needs a cancel method"
              or def.list and not (rdef.paginate and rdef.methods[rdef.paginate].params.limit)
                 and "needs paginate, with a limit parameter (list = \"" .. def.list .. "\")"
  if why then error(("runctl.kinds.define: %s: resource '%s' %s"):format(name, def.resource, why), 3) end
end

-- The binding table of a dotted resource name on client c ("fine_tuning.jobs").
local function resource_of(c, dotted)
  local node = c
  for part in dotted:gmatch("[^.]+") do
    node = type(node) == "table" and node[part] or nil
  end
  return node
end

-- kinds.define(name, def) -> the kind. Defining a name again replaces it.
function M.define(name, def)
  check_def(name, def)
  local k = {}
  for f, v in pairs(def) do k[f] = v end
  k.name = name
  k.one, k.many = def.one or name, def.many or name
  k.prefixes = def.prefix and list_of(def.prefix) or {}
  local cancelling = list_of(def.cancelling or "cancelling")
  local done = def.done and list_of(def.done) or { "cancelled", table.unpack(cancelling) }
  local expired = list_of(def.expired or "expired")
  local pending = def.pending and list_of(def.pending) or { table.unpack(list_of(def.active)) }
  if not def.pending then for _, s in ipairs(cancelling) do pending[#pending + 1] = s end end
  local finished = def.finished and list_of(def.finished)
                   or { "completed", "succeeded", "failed", "incomplete", "cancelled", table.unpack(expired) }
  k.pending_list = pending
  k.active, k.cancelling, k.done = set(list_of(def.active)), set(cancelling), set(done)
  k.expired, k.pending, k.finished = set(expired), set(pending), set(finished)
  k.cost = def.cost and list_of(def.cost) or {}
  k.filters = def.filters or {}
  k.age_from = def.age_from or { created = "created_at" }
  k.started = k.age_from.started
  k.per_thread = def.list == "parent"
  local dotted = def.resource
  k.resource = function(c) return resource_of(c, dotted) end
  if not by_name[name] then order[#order + 1] = name end
  by_name[name] = k
  return k
end

-- kinds.get(name) -> the kind or nil; kinds.names() -> every name, in definition order.
function M.get(name) return by_name[name] end
function M.names() return { table.unpack(order) } end

-- The kind whose `object` value is object, or nil.
function M.by_object(object)
  for _, name in ipairs(order) do
    if by_name[name].object == object then return by_name[name] end
  end
end

-- The kind an ID's prefix names (the longest matching prefix wins), or nil.
function M.by_prefix(id)
  local best, best_len = nil, 0
  for _, name in ipairs(order) do
    for _, p in ipairs(by_name[name].prefixes) do
      if #p > best_len and id:sub(1, #p) == p then best, best_len = by_name[name], #p end
    end
  end
  return best
end

-- Run statuses, for the scripts that deal in runs only.
M.ACTIVE = set { "queued", "in_progress", "requires_action" }
M.PENDING = set { "queued", "in_progress", "requires_action", "cancelling" }

M.define("runs", {
  resource = "runs", object = "thread.run", one = "run", many = "runs", prefix = "run_",
  parent = { name = "thread", field = "thread_id", prefix = "thread_" }, list = "parent",
  active = { "queued", "in_progress", "requires_action" },
  age_from = { created = "created_at", started = "started_at" }, expires = "expires_at",
  wait = 60, filters = { model = "model", assistant = "assistant_id" },
})
M.define("batches", {
  resource = "batches", object = "batch", one = "batch", many = "batches", prefix = "batch_",
  list = "each", active = { "validating", "in_progress", "finalizing" },
  age_from = { created = "created_at", started = "in_progress_at" }, expires = "expires_at",
  wait = 1800, cost = { "request_counts", "output_file_id" },
})
M.define("fine-tuning", {
  resource = "fine_tuning.jobs", object = "fine_tuning.job", one = "fine-tuning job",
  many = "fine-tuning jobs", prefix = "ftjob-", list = "each",
  active = { "validating_files", "queued", "running" }, cancelling = {}, done = { "cancelled" },
  expired = {}, age_from = { created = "created_at" }, wait = 300,
  cost = { "trained_tokens", "estimated_finish" }, filters = { model = "model" },
})

return M
