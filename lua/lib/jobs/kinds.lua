-- lua/lib/jobs/kinds.lua — job kinds as data (require "runctl.jobs.kinds"): what a kind
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
--   parent      objects addressed under another one (runs under threads, file
--               batches under vector stores): the report field holding its ID
--               { name = "thread", field = "thread_id", prefix = "thread_" }
--   aliases     other names --kind accepts ("fine_tuning")
--   list        how the tools find objects without being given their IDs:
--               "each" (the resource paginates by itself), "parent" (listed per
--               parent ID: runs per thread), or nil (IDs come from the user)
--   active*     statuses a cancel applies to (a list)
--   paused      statuses of an object a person paused: alive, shown by watch,
--               picked only when a filter names them (--status, a rule's status)
--   cancelling  statuses meaning a cancel is under way (default {"cancelling"})
--   done        statuses meaning it was cancelled already (default cancelling + "cancelled")
--   finished    statuses that are final (default: done + completed, failed, expired, ...)
--   expired     statuses meaning it ran out of time (default {"expired"})
--   pending     statuses --wait waits out (default: active + cancelling)
--   age_from    fields ages are measured from: { created = "created_at", started = "..." }
--   expires     field holding an expiry time ("expires_at"), or nil
--   cancel_past_expiry  true: an object still active past its expiry time is
--               cancelled like any other (the service does not always expire
--               it: runs); false/nil: it is reported expired, nothing sent
--               (the service expires it itself: batches, uploads)
--   wait        default --wait deadline in seconds (batches can stay cancelling 25 min)
--   cost        fields that say what the object cost or did, copied to report
--               lines as "cost": {field = value}, a missing field as null
--   cost_optional  more cost fields, copied only when the object has them
--               (a batch's usage and model: newer servers send them)
--   actions     what a supervise rule may do besides cancel: method names of
--               the resource ({ "pause" }), journaled as "<action>_requested"
--   filters     fields the --model/--assistant filters match: { model = "model" }
-- A kind table also gets: name, resource(client) -> the bound binding table,
-- stopped_anyway (finished statuses that are neither a cancel nor an expiry:
-- a cancelled object seen in one of them was not stopped by its cancel),
-- per_thread (list == "parent"), started (age_from.started), live (the
-- active, paused and cancelling statuses as an ordered list), and as sets
-- (status -> true) for active, paused, cancelling, done, finished, expired,
-- pending, selectable (active + paused: what a status filter may name).
local table = require("runctl.compat").table   -- Lua 5.1 (LuaJIT) too
local json = require "runctl.json"

local M = {}

local by_name, order, by_alias = {}, {}, {}
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
  expires = "string", wait = "number", cost = "strings", filters = "table", aliases = "strings",
  paused = "strings", cancel_past_expiry = "boolean", cost_optional = "strings", actions = "strings",
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
  local rdef = require("runctl.api.binder").definition(def.resource)
  local no_action
  for _, a in ipairs(def.actions and list_of(def.actions) or {}) do
    if rdef and not rdef.methods[a] then no_action = a end
  end
  local why = not rdef and "is not a defined resource (runctl.define it first)"
              or not rdef.methods.cancel and "needs a cancel method"
              or no_action and ("has no method '%s' (actions)"):format(no_action)
              or def.list and not (rdef.paginate and rdef.methods[rdef.paginate].params.limit)
                 and "needs paginate, with a limit parameter (list = \"" .. def.list .. "\")"
  if why then error(("runctl.kinds.define: %s: resource '%s' %s"):format(name, def.resource, why), 3) end
  -- The tools call cancel(parent_id, id) for a kind with a parent, cancel(id)
  -- otherwise: the path must take as many IDs.
  local _, ids = rdef.methods.cancel[2]:gsub("{[%w_]+}", "")
  local want = def.parent and 2 or 1
  if ids ~= want then
    error(("runctl.kinds.define: %s: resource '%s' cancels by %d ID(s) (%s) but a kind %s takes %d; %s")
          :format(name, def.resource, ids, rdef.methods.cancel[2], def.parent and "with a parent" or "without one",
                  want, def.parent and "drop parent or use a resource under its parent"
                                   or "give parent = { name = ..., field = ..., prefix = ... }"), 3)
  end
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
  local paused = def.paused and list_of(def.paused) or {}
  k.active, k.cancelling, k.done = set(list_of(def.active)), set(cancelling), set(done)
  k.paused = set(paused)
  k.selectable = set(list_of(def.active))
  for _, st in ipairs(paused) do k.selectable[st] = true end
  k.live = { table.unpack(list_of(def.active)) }          -- active, paused, cancelling, in order
  for _, st in ipairs(paused) do k.live[#k.live + 1] = st end
  for _, st in ipairs(cancelling) do k.live[#k.live + 1] = st end
  k.expired, k.pending, k.finished = set(expired), set(pending), set(finished)
  k.cost = def.cost and list_of(def.cost) or {}
  k.cost_optional = def.cost_optional and list_of(def.cost_optional) or {}
  k.actions = set(def.actions and list_of(def.actions) or {})
  k.filters = def.filters or {}
  k.age_from = def.age_from or { created = "created_at" }
  k.started = k.age_from.started
  k.per_thread = def.list == "parent"
  k.stopped_anyway = {}
  for st in pairs(k.finished) do
    if not k.done[st] and not k.expired[st] then k.stopped_anyway[st] = true end
  end
  k.aliases = def.aliases and list_of(def.aliases) or {}
  local dotted = def.resource
  k.resource = function(c) return resource_of(c, dotted) end
  k.resource_name = dotted
  if not by_name[name] then order[#order + 1] = name end
  by_name[name] = k
  for _, a in ipairs(k.aliases) do by_alias[a] = k end
  return k
end

-- kinds.get(name) -> the kind (by name or alias) or nil; kinds.names() ->
-- every name, in definition order.
function M.get(name) return by_name[name] or by_alias[name] end
function M.names() return { table.unpack(order) } end

-- The names and aliases of the kinds that can be listed without IDs (list
-- set; "each": not per parent, when only is "each"), as a set: --kind choices.
local function listable_kinds(only)
  local list = {}
  for _, name in ipairs(order) do
    local k = by_name[name]
    if k.list and (not only or k.list == only) then list[#list + 1] = k end
  end
  return list
end

function M.listable(only)
  local t = {}
  for _, k in ipairs(listable_kinds(only)) do
    t[k.name] = true
    for _, a in ipairs(k.aliases) do t[a] = true end
  end
  return t
end

-- Their names (no aliases) in definition order, joined by "|": what a usage
-- lists after --kind, extensions' kinds included (shell completion reads it).
function M.listable_names(only)
  local names = {}
  for _, k in ipairs(listable_kinds(only)) do names[#names + 1] = k.name end
  return table.concat(names, "|")
end

-- The kind whose resource is the dotted name rname ("evals.runs"), or nil.
function M.by_resource(rname)
  for _, name in ipairs(order) do
    if by_name[name].resource_name == rname then return by_name[name] end
  end
end

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

-- The kind whose parent's ID prefix starts id ("vs_" -> file batches), or nil.
function M.by_parent_prefix(id)
  for _, name in ipairs(order) do
    local p = by_name[name].parent
    if p and p.prefix and id:sub(1, #p.prefix) == p.prefix then return by_name[name] end
  end
end

-- The cost fields of obj for its kind: {field = value}, json.null for a
-- field the object leaves out or has null (its cost_optional fields only
-- when the object has them); nil when the kind has none.
function M.cost_of(kind, obj)
  if #kind.cost + #kind.cost_optional == 0 or type(obj) ~= "table" then return nil end
  local t = {}
  for _, f in ipairs(kind.cost) do
    local v = obj[f]
    if v == nil then v = json.null end
    t[f] = v
  end
  for _, f in ipairs(kind.cost_optional) do
    if obj[f] ~= nil and obj[f] ~= json.null then t[f] = obj[f] end
  end
  return t
end

-- "a batch", "an eval run": the article a kind's name takes.
local function a(name) return (name:find("^[aeiou]") and "an " or "a ") .. name end

-- What an ID on a command line names: "thread_a/run_b" (a parent, then the
-- ID: "/" or a space between), "vs_a/vsfb_b", "batch_x", ... The kind comes
-- from `forced` (a kind), else the ID's prefix, else the parent's (a pair
-- with neither is a run, as pairs always were). Returns kind, parent
-- (or nil), id; or nil and why.
function M.parse_ref(s, forced)
  local parent, id = s:match("^([^%s/]+)/([^%s/]+)$")
  if not parent then parent, id = s:match("^(%S+)%s+(%S+)$") end
  if not parent then id = s:match("^[^%s/]+$") end
  if not id then return nil, "is not an ID (or PARENT_ID/ID)" end
  local of_parent = parent and not forced and M.by_prefix(parent)
  if of_parent and not of_parent.parent then
    return nil, ("names %s, which has no parent ID: give the ID alone"):format(a(of_parent.one))
  end
  local kind = forced or M.by_prefix(id) or (parent and (M.by_parent_prefix(parent) or by_name.runs))
  if not kind then
    local known = {}
    for _, name in ipairs(order) do
      local k = by_name[name]
      for _, p in ipairs(k.prefixes) do
        if k ~= by_name.runs then known[#known + 1] = (k.parent and k.parent.field:upper() .. "/" or "") .. p end
      end
    end
    return nil, "is not THREAD_ID/RUN_ID nor an ID with a known prefix (" .. table.concat(known, ", ")
                .. "): pass --kind"
  end
  if kind.parent and not parent then
    return nil, ("names %s without its %s: give %s/%s"):format(a(kind.one), kind.parent.name,
                 kind.parent.field:upper(), kind.one:upper():gsub("[^%w]", "_") .. "_ID")
  end
  if parent and not kind.parent then
    return nil, ("names %s, which has no parent ID: give the ID alone"):format(a(kind.one))
  end
  return kind, parent, id
end

-- Run statuses, for the scripts that deal in runs only.
M.ACTIVE = set { "queued", "in_progress", "requires_action" }
M.PENDING = set { "queued", "in_progress", "requires_action", "cancelling" }

M.define("runs", {
  resource = "runs", object = "thread.run", one = "run", many = "runs", prefix = "run_",
  parent = { name = "thread", field = "thread_id", prefix = "thread_" }, list = "parent",
  active = { "queued", "in_progress", "requires_action" },
  age_from = { created = "created_at", started = "started_at" }, expires = "expires_at",
  cancel_past_expiry = true,    -- orphaned runs past expires_at stay active and block their thread
  wait = 60, cost = { "usage" }, filters = { model = "model", assistant = "assistant_id" },
})
M.define("batches", {
  resource = "batches", object = "batch", one = "batch", many = "batches", prefix = "batch_",
  list = "each", active = { "validating", "in_progress", "finalizing" },
  finished = { "completed", "failed", "cancelled", "expired" },
  age_from = { created = "created_at", started = "in_progress_at" }, expires = "expires_at",
  wait = 1800, cost = { "request_counts", "output_file_id" }, cost_optional = { "usage", "model" },
  filters = { model = "model" },
})
M.define("fine-tuning", {
  resource = "fine_tuning.jobs", object = "fine_tuning.job", one = "fine-tuning job",
  many = "fine-tuning jobs", prefix = "ftjob-", list = "each", aliases = { "fine_tuning", "fine-tuning-jobs" },
  active = { "validating_files", "queued", "running" }, paused = { "paused" }, cancelling = {},
  done = { "cancelled" }, expired = {}, age_from = { created = "created_at" }, wait = 300,
  cost = { "trained_tokens", "estimated_finish" }, filters = { model = "model" }, actions = { "pause" },
})
-- Background responses: no list endpoint, IDs come from the user; cancelled
-- at once, and best effort (one may read cancelled, then completed).
M.define("responses", {
  resource = "responses", object = "response", one = "response", many = "responses", prefix = "resp_",
  active = { "queued", "in_progress" }, cancelling = {}, done = { "cancelled" }, expired = {},
  finished = { "completed", "failed", "incomplete", "cancelled" }, wait = 60, cost = { "usage" },
  aliases = { "response" }, filters = { model = "model" },
})
M.define("file-batches", {
  resource = "vector_stores.file_batches", object = "vector_store.files_batch", one = "file batch",
  many = "file batches", prefix = "vsfb_", aliases = { "file_batches", "vector-store-file-batches" },
  parent = { name = "vector store", field = "vector_store_id", prefix = "vs_" },
  active = { "in_progress" }, cancelling = {}, done = { "cancelled" }, expired = {},
  finished = { "completed", "failed", "cancelled" }, wait = 60, cost = { "file_counts" },
})
M.define("uploads", {
  resource = "uploads", object = "upload", one = "upload", many = "uploads", prefix = "upload_",
  active = { "pending" }, cancelling = {}, done = { "cancelled" },
  finished = { "completed", "cancelled", "expired" }, expires = "expires_at", wait = 0,
})
-- Eval runs: listed per eval, cancelled at once, in their own words
-- ("canceled"); cancel is POST /evals/{eval_id}/runs/{run_id}, no /cancel.
M.define("eval-runs", {
  resource = "evals.runs", object = "eval.run", one = "eval run", many = "eval runs", prefix = "evalrun_",
  parent = { name = "eval", field = "eval_id", prefix = "eval_" }, list = "parent",
  aliases = { "eval_runs" },
  active = { "queued", "in_progress" }, cancelling = {}, done = { "canceled" }, expired = {},
  finished = { "completed", "failed", "canceled" }, wait = 60,
  cost = { "result_counts", "per_model_usage" }, filters = { model = "model" },
})

return M
