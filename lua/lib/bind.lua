-- lua/lib/bind.lua — the resource binder: turns each entry of
-- lua/lib/resources.lua (paths, params, paginate, wait) into functions bound
-- to a client, with ID checks, escaping, params validation, each and wait.
local core = require "runctl.core"
local task = require "runctl.task"
local check = require "runctl.check"
local errors = require "runctl.errors"

local M = {}
local typename, check_fields, is_null = check.typename, check.check_fields, check.is_null
local OPTS_FIELDS = check.OPTS_FIELDS
local new_error = errors.new

-- Resources are data (lua/lib/resources.lua): adding an endpoint is one entry there.
-- A dotted resource name ("fine_tuning.jobs") hangs off its parent table on
-- every client (c.fine_tuning.jobs); the first part is what the host exports.
local RESOURCES = require "runctl.resources"

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
    local check = spec[k]
    if not check then
      error(("%s: unknown parameter '%s'"):format(where, tostring(k)), level + 1)
    end
    local ok, want, expanded = check(v)
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

local function make_method(rname, mname, def, beta, perform, unusable)
  local verb, params_spec = def[1], def.params
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
      return perform(c, where, verb, path, query, nil, beta, opts)
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

-- One resource's binder: client -> table of its bound methods.
local function resource_binder(rname, rdef, perform, unusable)
  if type(rdef) ~= "table" or type(rdef.methods) ~= "table" then
    error("runctl.resources: " .. rname .. " needs a methods table")
  end
  local binders = {}
  for mname, def in pairs(rdef.methods) do
    if type(def) ~= "table" or not tostring(def[1]):match("^%u+$") or type(def[2]) ~= "string"
       or def[2]:sub(1, 1) ~= "/" then
      error("runctl.resources: " .. rname .. "." .. tostring(mname)
            .. " must be { \"VERB\", \"/path/{id}\" [, params = {...}] }")
    end
    binders[mname] = make_method(rname, mname, def, rdef.beta, perform, unusable)
  end
  return function(c)
    local bound = {}
    local meta = {}
    for mname, binder in pairs(binders) do
      local fn, nids, params_spec = binder(c)
      bound[mname] = fn
      meta[mname] = { nids = nids, params = params_spec }
    end
    if rdef.paginate then
      local m = meta[rdef.paginate]
      bound.each = make_each(rname, bound[rdef.paginate], m.nids, m.params or {})
    end
    if rdef.wait then
      local m = meta[rdef.wait.using]
      bound.wait = make_wait(rname, bound[rdef.wait.using], m.nids, rdef.wait.while_status)
    end
    return bound
  end
end

-- The resource tree: "fine_tuning.jobs" and "vector_stores.file_batches" become
-- children of "fine_tuning" and "vector_stores", which exist on a client even
-- when they have no methods of their own. Parents bind before their children.
-- perform(c, where, verb, path, query, body, beta, opts) sends one request;
-- unusable(c) says why client c cannot send (or nil). Returns { root name = function(client) -> that root's bound table }.
function M.resources(perform, unusable)
  local resources = {}
  local names = {}
  for rname in pairs(RESOURCES) do names[#names + 1] = rname end
  table.sort(names)
  local binder_of = {}
  for _, rname in ipairs(names) do binder_of[rname] = resource_binder(rname, RESOURCES[rname], perform, unusable) end
  local roots = {}
  for _, rname in ipairs(names) do
    local root = rname:match("^[^.]+")
    roots[root] = roots[root] or {}
    table.insert(roots[root], rname)
  end
  for root, members in pairs(roots) do
    resources[root] = function(c)
      local tree = {}
      for _, rname in ipairs(members) do     -- sorted: "a" before "a.b" before "a.b.c"
        local node = tree
        local parts = {}
        for part in rname:gmatch("[^.]+") do parts[#parts + 1] = part end
        for d = 2, #parts do
          node[parts[d]] = node[parts[d]] or {}
          node = node[parts[d]]
        end
        for k, v in pairs(binder_of[rname](c)) do node[k] = v end
      end
      return tree
    end
  end
  return resources
end

return M
