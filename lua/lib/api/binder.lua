-- lua/lib/api/binder.lua — the resource binder: turns each entry of
-- lua/lib/api/resources.lua (paths, params, paginate, wait) into functions bound
-- to a client, with ID checks, escaping, params validation, each and wait.
local compat = require "runctl.compat"
local math, table = compat.math, compat.table   -- Lua 5.1 (LuaJIT) too
local core = require "runctl.core"
local task = require "runctl.task"
local check = require "runctl.api.option_checks"
local errors = require "runctl.api.errors"
local outcome = require "runctl.api.cancel_outcomes"

local M = {}
local typename, check_fields, is_null = check.typename, check.check_fields, check.is_null
local OPTS_FIELDS = check.OPTS_FIELDS
local new_error = errors.new

-- Resources are data (lua/lib/api/resources.lua): adding an endpoint is one entry there.
-- A dotted resource name ("fine_tuning.jobs") hangs off its parent table on
-- every client (c.fine_tuning.jobs); the first part is what the host exports.
local RESOURCES = require "runctl.api.resources"

-- Checks params against spec {name = validator} and returns the query table to
-- send: a fresh table, so validators that expand a parameter (metadata[k]=v)
-- never touch the caller's.
local function check_params(where, params, spec, level)
  if params == nil then return nil end
  if type(params) ~= "table" then
    error(("%s: params must be a table (got %s)"):format(where, typename(params)), level + 1)
  end
  local query = {}
  for k, v in pairs(params) do
    local validator = spec[k]
    if not validator then
      error(("%s: unknown parameter '%s'"):format(where, tostring(k)), level + 1)
    end
    local ok, want, expanded = validator(v)
    if not ok then
      error(("%s: %s must be %s (got %s)"):format(where, k, want,
            type(v) == "string" and ("%q"):format(v) or type(v) == "number" and tostring(v)
            or typename(v)), level + 1)
    end
    if expanded then
      for ek, ev in pairs(expanded) do query[ek] = ev end
    else
      query[k] = v
    end
  end
  return query
end

local function check_opts(where, opts, level)
  if opts == nil then return nil end
  if type(opts) ~= "table" then
    error(("%s: opts must be a table (got %s)"):format(where, typename(opts)), level + 1)
  end
  check_fields(where, opts, OPTS_FIELDS, level + 1)
  return opts
end

-- Compiles "/threads/{thread_id}/runs/{run_id}" into literal pieces and ID names.
local function compile_path(template)
  local literals, names = {}, {}
  local pos = 1
  while true do
    local s, e, name = template:find("{([%w_]+)}", pos)
    if not s then break end
    literals[#literals + 1] = template:sub(pos, s - 1)
    names[#names + 1] = name
    pos = e + 1
  end
  literals[#literals + 1] = template:sub(pos)
  return literals, names
end

-- A method named cancel is a cancel: core treats its "Cannot cancel ..."
-- answers as final, and its answer gets an outcome (runctl.api.cancel_outcomes), read
-- back with one GET of the same path without /cancel when the text does not
-- say the object's status and the resource can retrieve.
local CANCEL_OPTS = { final_cannot_cancel = true }

local function cancel_opts(opts)
  if opts == nil then return CANCEL_OPTS end
  local o = { final_cannot_cancel = true }
  for k, v in pairs(opts) do o[k] = v end
  return o
end

-- The answer is read in the status words of the resource's kind (rname).
local function send_cancel(c, rname, where, verb, path, beta, opts, perform, can_refetch, admin)
  local obj, err, resp = perform(c, where, verb, path, nil, nil, beta, cancel_opts(opts), admin)
  local kind = outcome.kind_of(rname)
  if obj then return outcome.decide(obj, err, resp, nil, kind) end      -- no read-back: no closure made
  local refetch = can_refetch and function()
    local get_opts = {}
    for k, v in pairs(opts or {}) do if k ~= "idempotency_key" then get_opts[k] = v end end
    return perform(c, where, "GET", (path:gsub("/cancel$", "")), nil, nil, beta, get_opts, admin)
  end
  return outcome.decide(obj, err, resp, refetch, kind)
end

local function make_method(rname, mname, def, beta, perform, unusable, can_refetch, admin)
  local verb, params_spec = def[1], def.params
  local is_cancel = mname == "cancel" and not params_spec
  local literals, names = compile_path(def[2])
  local where = rname .. "." .. mname
  local nids = #names
  local labels = {}
  for i, n in ipairs(names) do labels[i] = where .. ": " .. n end
  local max_args = nids + (params_spec and 2 or 1)
  return function(c)
    return function(...)
      local why = unusable(c)     -- a client whose settings could not be resolved
      if why then error(where .. ": " .. why, 2) end
      local nargs = select("#", ...)
      if nargs > max_args then
        error(("%s: too many arguments (%d given, at most %d)"):format(where, nargs, max_args), 2)
      end
      local path
      if nids == 1 then
        path = literals[1] .. core.escape_id((...), labels[1]) .. literals[2]
      elseif nids == 2 then
        local a, b = ...
        path = literals[1] .. core.escape_id(a, labels[1]) .. literals[2]
               .. core.escape_id(b, labels[2]) .. literals[3]
      else
        local parts = { literals[1] }
        for i = 1, nids do
          parts[#parts + 1] = core.escape_id((select(i, ...)), labels[i])
          parts[#parts + 1] = literals[i + 1]
        end
        path = table.concat(parts)
      end
      local query, opts
      if params_spec then
        query = check_params(where, (select(nids + 1, ...)), params_spec, 2)
        opts = check_opts(where, (select(nids + 2, ...)), 2)
      else
        opts = check_opts(where, (select(nids + 1, ...)), 2)
      end
      if is_cancel then return send_cancel(c, rname, where, verb, path, beta, opts, perform, can_refetch, admin) end
      return perform(c, where, verb, path, query, nil, beta, opts, admin)
    end, nids, params_spec
  end
end

-- each(ids..., params, opts): iterates every item of every page; raises err on
-- failure. The next page starts after the page's last_id, or after the last
-- item's id where pages carry no last_id (fine-tuning jobs).
local function make_each(rname, list_fn, nids, params_spec)
  local where = rname .. ".each"
  return function(...)
    local ids = table.pack(...)
    if ids.n > nids + 2 then
      error(("%s: too many arguments (%d given, at most %d)"):format(where, ids.n, nids + 2), 2)
    end
    local params = ids[nids + 1]
    check_params(where, params, params_spec, 2)
    local own = {}
    for k, v in pairs(params or {}) do own[k] = v end
    params = own
    local opts = check_opts(where, ids[nids + 2], 2)
    for i = 1, nids do core.escape_id(ids[i], where .. ": id") end
    local page, i, done = nil, 0, false
    return function()
      while true do
        if page and i < #page.data then
          i = i + 1
          return page.data[i]
        end
        if done then return nil end
        if page then
          local cursor = page.last_id
          if is_null(cursor) then
            local last = page.data[#page.data]
            cursor = type(last) == "table" and last.id or nil
          end
          if not page.has_more or is_null(cursor) then done = true return nil end
          params.after = cursor
        end
        local args = {}
        for k = 1, nids do args[k] = ids[k] end
        args[nids + 1] = params
        args[nids + 2] = opts
        local p, err = list_fn(table.unpack(args, 1, nids + 2))
        if not p then error(err, 2) end
        if type(p.data) ~= "table" then
          error(new_error { kind = "invalid_response", message = where .. ": page has no data array" }, 2)
        end
        page, i = p, 0
        if #p.data == 0 then done = true return nil end
      end
    end
  end
end

-- each(method, params, opts) of a resource paged by a cursor param (the
-- costs and usage listings: `page` = the previous answer's next_page):
-- iterates every item (bucket) of every page of that method; raises err on
-- failure. methods: name -> { fn, params spec }.
local function make_cursor_each(rname, methods, cursor)
  local where = rname .. ".each"
  local names = {}
  for name in pairs(methods) do names[#names + 1] = name end
  table.sort(names)
  return function(mname, params, opts, ...)
    local m = methods[mname]
    if not m then
      error(("%s: the first argument must name what to list: %s (got %s)"):format(where,
            table.concat(names, ", "), type(mname) == "string" and ("%q"):format(mname) or typename(mname)), 2)
    end
    if select("#", ...) > 0 then error(where .. ": too many arguments (at most 3: method, params, opts)", 2) end
    check_params(where, params, m.params, 2)
    check_opts(where, opts, 2)
    local own = {}
    for k, v in pairs(params or {}) do own[k] = v end
    local page, i, done = nil, 0, false
    return function()
      while true do
        if page and i < #page.data then
          i = i + 1
          return page.data[i]
        end
        if done then return nil end
        if page then
          if not page.has_more or is_null(page.next_page) or page.next_page == own[cursor] then
            done = true
            return nil
          end
          own[cursor] = page.next_page
        end
        local p, err = m.fn(own, opts)
        if not p then error(err, 2) end
        if type(p.data) ~= "table" then
          error(new_error { kind = "invalid_response", message = where .. ": page has no data array" }, 2)
        end
        page, i = p, 0
        if #p.data == 0 and not p.has_more then done = true return nil end
      end
    end
  end
end

-- wait(ids..., {timeout=, interval=}): polls retrieve until the status leaves
-- the resource's in-progress set; honours openai-poll-after-ms.
local function make_wait(rname, retrieve, nids, while_status)
  local where = rname .. ".wait"
  return function(...)
    local ids = table.pack(...)
    local w = ids[nids + 1]
    if w ~= nil and type(w) ~= "table" then
      error(where .. ": options must be a table {timeout=, interval=} (got " .. typename(w) .. ")", 2)
    end
    w = w or {}
    check_fields(where, w, { timeout = "number", interval = "positive" }, 2)
    for i = 1, nids do core.escape_id(ids[i], where .. ": id") end
    local deadline = core.now() + (w.timeout or 600)
    local interval = w.interval or 1
    while true do
      local obj, err, resp = retrieve(table.unpack(ids, 1, nids))
      if not obj then return nil, err end
      if not while_status[obj.status] then return obj, nil, resp end
      local delay = interval
      local hint = tonumber(resp.headers["openai-poll-after-ms"])
      if hint and hint >= 0 then delay = hint / 1000 end
      local left = deadline - core.now()
      if left <= 0 then
        return nil, new_error { kind = "timeout", request_id = resp.request_id, attempts = resp.attempts,
          message = ("%s is still %s after waiting %gs"):format(tostring(obj.id or ids[nids]),
                                                                  tostring(obj.status), w.timeout or 600) }
      end
      task.sleep(math.min(delay, left))
    end
  end
end

---------------------------------------------------------------------- checking a definition

local DEF_FIELDS = { beta = true, methods = true, paginate = true, wait = true, admin = true, cursor = true }
local METHOD_FIELDS = { [1] = true, [2] = true, params = true }
local GENERATED = { each = true, wait = true }   -- names paginate and wait add

-- Checks a path template: starts with '/', no spaces, control characters,
-- '?' or '#', every brace a {name}, no name twice. Returns nil or why.
local function path_problem(path)
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" then
    return "must be a string starting with '/' (\"/things/{thing_id}/cancel\")"
  end
  if path:find("[%s%z\1-\31\127?#]") then
    return "must not contain spaces, control characters, '?' or '#'"
  end
  local seen = {}
  for name in path:gmatch("{([^}]*)}") do
    if not name:match("^[%a_][%w_]*$") then return "has a bad ID name {" .. name .. "}" end
    if seen[name] then return "names {" .. name .. "} twice" end
    seen[name] = true
  end
  if path:gsub("{[%a_][%w_]*}", ""):find("[{}]") then return "has an unmatched '{' or '}'" end
end

local function method_problem(mname, mdef)
  if type(mname) ~= "string" or not mname:match("^[%a_][%w_]*$") or GENERATED[mname] then
    return "a method name must be a word other than each and wait (got " .. tostring(mname) .. ")"
  end
  local at = "methods." .. mname
  if type(mdef) ~= "table" then return at .. " must be a table { \"VERB\", \"/path/{id}\" [, params = {...}] }" end
  for k in pairs(mdef) do
    if not METHOD_FIELDS[k] then return at .. ": unknown field '" .. tostring(k) .. "'" end
  end
  if type(mdef[1]) ~= "string" or not mdef[1]:match("^%u+$") then
    return at .. "[1] (the verb) must be an upper-case HTTP method such as \"POST\""
  end
  local why = path_problem(mdef[2])
  if why then return at .. "[2] (the path) " .. why end
  if mdef.params ~= nil then
    if type(mdef.params) ~= "table" then return at .. ".params must be a table of validators" end
    for pname, validator in pairs(mdef.params) do
      if type(pname) ~= "string" or type(validator) ~= "function" then
        return at .. ".params." .. tostring(pname)
               .. " must be a function v -> ok, \"what was wanted\" (keyed by the parameter name)"
      end
    end
  end
end

-- "evals.runs": words joined by dots.
local function is_dotted(name)
  if type(name) ~= "string" then return false end
  for part in (name .. "."):gmatch("([^.]*)%.") do
    if not part:match("^[%a_][%w_]*$") then return false end
  end
  return true
end

-- A status set, given as { queued = true } or { "queued" }; nil if neither.
local function status_set(t)
  if type(t) ~= "table" or next(t) == nil then return nil end
  local set = {}
  for k, v in pairs(t) do
    if type(k) == "string" and v == true then set[k] = true
    elseif math.type(k) == "integer" and type(v) == "string" then set[v] = true
    else return nil end
  end
  return set
end

-- Checks a resource definition (the schema of a lua/lib/api/resources.lua entry).
-- Returns true, or nil and an error naming the offending field.
function M.check(name, def)
  local function bad(msg) return nil, ("%s: %s"):format(tostring(name), msg) end
  if not is_dotted(name) then
    return nil, "the name must be a word or dotted words such as \"evals.runs\" (got " .. tostring(name) .. ")"
  end
  if type(def) ~= "table" then return bad("the definition must be a table") end
  for k in pairs(def) do
    if not DEF_FIELDS[k] then return bad("unknown field '" .. tostring(k) .. "' (use beta, methods, paginate, cursor, wait, admin)") end
  end
  if def.beta ~= nil and (type(def.beta) ~= "string" or def.beta:find("[%z\1-\31\127]")) then
    return bad("beta must be a string without control characters (the OpenAI-Beta value)")
  end
  if type(def.methods) ~= "table" or next(def.methods) == nil then
    return bad("methods must be a table of { \"VERB\", \"/path/{id}\" [, params = {...}] }")
  end
  for mname, mdef in pairs(def.methods) do
    local why = method_problem(mname, mdef)
    if why then return bad(why) end
  end
  if def.admin ~= nil and type(def.admin) ~= "boolean" then return bad("admin must be true or false") end
  if def.cursor ~= nil then
    if type(def.cursor) ~= "string" or not def.cursor:match("^[%a_][%w_]*$") then
      return bad("cursor must name the param that takes the previous page's next_page (\"page\")")
    end
    if type(def.paginate) ~= "table" or #def.paginate == 0 then
      return bad("with cursor, paginate must list the methods each pages ({ \"costs\" })")
    end
    for _, mname in ipairs(def.paginate) do
      local m = def.methods[mname]
      if not (m and m.params and m.params[def.cursor]) then
        return bad("paginate: " .. tostring(mname) .. " must be a method taking params with a '" .. def.cursor .. "' cursor")
      end
    end
  elseif def.paginate ~= nil then
    local m = def.methods[def.paginate]
    if not m then return bad("paginate must name one of its methods (got " .. tostring(def.paginate) .. ")") end
    if not (m.params and m.params.after) then
      return bad("paginate: methods." .. def.paginate .. " must take params with an 'after' cursor")
    end
  end
  if def.wait ~= nil then
    local w = def.wait
    if type(w) ~= "table" then return bad("wait must be a table { using = \"retrieve\", while_status = {...} }") end
    for k in pairs(w) do
      if k ~= "using" and k ~= "while_status" then return bad("wait: unknown field '" .. tostring(k) .. "'") end
    end
    if not def.methods[w.using] then return bad("wait.using must name one of its methods (got " .. tostring(w.using) .. ")") end
    if def.methods[w.using].params then return bad("wait.using: methods." .. w.using .. " must take IDs only") end
    if not status_set(w.while_status) then
      return bad("wait.while_status must be a non-empty set { queued = true } or list { \"queued\" } of statuses")
    end
  end
  return true
end

---------------------------------------------------------------------- binding

-- What client.lua gives M.resources: perform(c, where, verb, path, query,
-- body, beta, opts) sends one request; unusable(c) says why client c cannot
-- send (or nil); attach(c, root, tree) puts a root's tree on a client made
-- earlier (clients are read-only to everybody else).
local hooks

-- One resource's binder: client -> table of its bound methods (each, wait too).
local function resource_binder(rname, rdef)
  local binders = {}
  for mname, def in pairs(rdef.methods) do
    binders[mname] = make_method(rname, mname, def, rdef.beta, hooks.perform, hooks.unusable,
                                 rdef.methods.retrieve ~= nil, rdef.admin)
  end
  local while_status = rdef.wait and status_set(rdef.wait.while_status)
  return function(c)
    local bound = {}
    local meta = {}
    for mname, binder in pairs(binders) do
      local fn, nids, params_spec = binder(c)
      bound[mname] = fn
      meta[mname] = { nids = nids, params = params_spec }
    end
    if rdef.cursor then
      local paged = {}
      for _, mname in ipairs(rdef.paginate) do paged[mname] = { fn = bound[mname], params = meta[mname].params } end
      bound.each = make_cursor_each(rname, paged, rdef.cursor)
    elseif rdef.paginate then
      local m = meta[rdef.paginate]
      bound.each = make_each(rname, bound[rdef.paginate], m.nids, m.params or {})
    end
    if rdef.wait then
      local m = meta[rdef.wait.using]
      bound.wait = make_wait(rname, bound[rdef.wait.using], m.nids, while_status)
    end
    return bound
  end
end

-- The resource tree: "fine_tuning.jobs" and "vector_stores.file_batches" become
-- children of "fine_tuning" and "vector_stores", which exist on a client even
-- when they have no methods of their own.
local definitions_of = {}     -- resource name -> its definition
local binder_of = {}          -- resource name -> binder(client) -> its bound functions
local bound_keys = {}         -- resource name -> the keys its binder puts on its node
local roots = {}              -- root name -> function(client) -> that root's tree
local members_of = {}         -- root name -> the resource names under it, sorted
local clients = setmetatable({}, { __mode = "k" })   -- every client bound so far

-- Puts resource rname's bound functions for client c into holder (where a
-- root's tree is being built), creating the nodes on the way.
local function graft(holder, c, rname)
  local node = holder
  for part in rname:gmatch("[^.]+") do
    node[part] = node[part] or {}
    node = node[part]
  end
  for k, v in pairs(binder_of[rname](c)) do node[k] = v end
end

-- Adds (or replaces) a resource; clients made before get its root's tree
-- anew. Returns the root name and whether it is a new one.
local function add_resource(rname, rdef)
  definitions_of[rname] = rdef
  binder_of[rname] = resource_binder(rname, rdef)
  local keys = {}
  for mname in pairs(rdef.methods) do keys[mname] = true end
  if rdef.paginate then keys.each = true end
  if rdef.wait then keys.wait = true end
  local redefined = bound_keys[rname] ~= nil
  bound_keys[rname] = keys
  local root = rname:match("^[^.]+")
  local is_new_root = roots[root] == nil
  if is_new_root then
    local members = {}
    members_of[root] = members
    roots[root] = function(c)
      clients[c] = true
      local holder = {}
      for _, name in ipairs(members) do graft(holder, c, name) end
      return holder[root]
    end
  end
  if not redefined then
    local members = members_of[root]
    members[#members + 1] = rname
    table.sort(members)                   -- "a" before "a.b" before "a.b.c"
  end
  for c in pairs(clients) do hooks.attach(c, root, roots[root](c)) end
  return root, is_new_root
end

-- Returns { root name = function(client) -> that root's bound table }, the
-- table client.new binds from: M.define adds to it later. client_hooks:
-- { perform =, unusable =, attach = } (see hooks above). The entries of
-- resources.lua are not checked here, at every start, but by
-- tests/lua/test_resources.lua (each passes M.check).
function M.resources(client_hooks)
  hooks = client_hooks
  local names = {}
  for rname in pairs(RESOURCES) do names[#names + 1] = rname end
  table.sort(names)
  for _, rname in ipairs(names) do add_resource(rname, RESOURCES[rname]) end
  return roots
end

-- Why name (with its methods) would clobber another resource on a client:
-- a part of its path that is a method of a resource above it, or a method
-- whose name is a resource below it. nil when it fits.
local function clash(name, def)
  for other, keys in pairs(bound_keys) do
    if name:sub(1, #other + 1) == other .. "." then
      local part = name:sub(#other + 2):match("^[^.]+")
      if keys[part] then return ("'%s' is a method of %s"):format(part, other) end
    end
    for mname in pairs(def.methods) do
      local under = name .. "." .. mname
      if other == under or other:sub(1, #under + 1) == under .. "." then
        return ("method %s would hide the resource %s"):format(mname, other)
      end
    end
  end
end

-- bind.define(name, def) -> root, is_new_root | nil, err. Adds (or
-- replaces) a resource at run time: every client, those made before the call
-- included, gets its root's table anew (a table saved before stays as it was).
function M.define(name, def)
  local ok, why = M.check(name, def)
  if not ok then return nil, why end
  if def.admin then   -- the admin key goes to runctl's own costs and usage listings only
    return nil, name .. ": admin: only runctl's own resources are sent with the admin key"
  end
  why = clash(name, def)
  if why then return nil, name .. ": " .. why end
  local own = { beta = def.beta, paginate = def.paginate, cursor = def.cursor, admin = def.admin, methods = {} }
  for mname, m in pairs(def.methods) do own.methods[mname] = { m[1], m[2], params = m.params } end
  if def.wait then own.wait = { using = def.wait.using, while_status = status_set(def.wait.while_status) } end
  return add_resource(name, own)
end

-- bind.definition(name) -> the definition of a resource (nil if none).
function M.definition(name) return definitions_of[name] or RESOURCES[name] end

return M
