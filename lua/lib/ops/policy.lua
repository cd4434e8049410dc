-- lua/lib/ops/policy.lua — a supervise policy (require "runctl.ops.policy"): a Lua file
-- returning { interval = "1m", rules = { { name =, kind =, filters..., match = fn } } },
-- loaded in an environment of its own and checked field by field, and the
-- listings its rules need (each listed once per pass, however many rules
-- share it).
--
-- The policy's environment has the pure libraries (string, table, math,
-- utf8, copies of them), the base functions that touch nothing outside
-- (pairs, type, tostring, pcall, setmetatable, ...), and os.time, os.date,
-- os.clock and os.getenv: no io, no os.execute/remove/exit, no require, no
-- load, no runctl. A policy decides; it does not act. Its code runs with an
-- instruction budget (M.call), so a loop that never ends cannot hang a service.
local compat = require "runctl.compat"
local math, table = compat.math, compat.table   -- Lua 5.1 (LuaJIT) too
local runctl = require "runctl"
local kinds = require "runctl.jobs.kinds"
local args = require "runctl.ops.args"
local picks = require "runctl.jobs.selection"
local budgets = require "runctl.ops.budget"

local M = {}

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- os.getenv without the secrets (the API and admin keys): a policy decides,
-- it never needs a key.
local SECRET = {}
for _, name in ipairs(require("runctl.api.option_checks").SECRET_VARS) do SECRET[name] = true end
local function getenv(name)
  if SECRET[name] then return nil end
  return os.getenv(name)
end

local function environment()
  local env = {
    string = copy(string), table = copy(table), math = copy(math), utf8 = utf8 and copy(utf8),   -- (none on LuaJIT)
    os = { time = os.time, date = os.date, clock = os.clock, getenv = getenv },
  }
  for _, name in ipairs { "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
                          "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring", "type",
                          "xpcall" } do
    env[name] = _G[name]
  end
  env._G = env
  return env
end

-- How many VM instructions one call of policy code may take: a policy that
-- loops forever must not hang the service.
M.BUDGET = 10000000

-- Calls policy code fn(...) like pcall, stopping it with an error once it
-- has run M.BUDGET instructions. Returns pcall's results.
function M.call(fn, ...)
  local hook, mask, count = debug.gethook()
  debug.sethook(function()
    error(("ran too long (more than %d instructions): stopped"):format(M.BUDGET), 2)
  end, "", M.BUDGET)
  local res = table.pack(pcall(fn, ...))
  debug.sethook(hook, mask, count)
  return table.unpack(res, 1, res.n)
end

-- What each field of a rule must be: a checker returning the value to keep,
-- or nil and what was wanted.
local function strings(v)
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" or #v == 0 then return nil, "a string or a non-empty list of strings" end
  for k, s in pairs(v) do
    if math.type(k) ~= "integer" or type(s) ~= "string" or s == "" or s:find("[%s%z]") then
      return nil, "a string or a non-empty list of strings without spaces"
    end
  end
  return v
end
local function text(v)
  if type(v) == "string" and v ~= "" and not v:find("[%z\1-\31\127]") then return v end
  return nil, "a non-empty string without control characters"
end
local function duration(v)
  if type(v) == "number" and v >= 0 and v < math.huge then return v end
  local d = args.parse_duration(v)
  if d then return d end
  return nil, "a duration such as \"90s\", \"15m\", \"6h\" or a number of seconds"
end
local function metadata(v)
  if type(v) ~= "table" then return nil, "a table of key = \"value\"" end
  local list = {}
  for k, val in pairs(v) do
    if type(k) ~= "string" or type(val) ~= "string" then return nil, "a table of key = \"value\" (strings)" end
    list[#list + 1] = { key = k, value = val }
  end
  table.sort(list, function(a, b) return a.key < b.key end)
  return list
end
local function is(want)
  return function(v)
    if type(v) == want then return v end
    return nil, "a " .. want
  end
end

local RULE_FIELDS = {
  name = text, kind = text, older_than = duration, age_from = text, status = strings,
  assistant = strings, model = strings, metadata = metadata, threads = strings,
  threads_file = text, evals = strings, evals_file = text, ids = strings, ids_file = text,
  match = is("function"), action = text, when_over = text,
}

-- The rule fields that give the parents a kind is listed per: threads for
-- runs, evals for eval runs.
local PARENT_FIELD = { thread = "threads", eval = "evals" }
local TOP_FIELDS = { interval = duration, rules = is("table"), budgets = is("table"), budget_interval = duration }

-- Checks t's fields against spec; returns the checked values, or raises
-- "where: field 'f': ..." (a string: the loader catches it).
local function fields(t, spec, where)
  local out = {}
  for k, v in pairs(t) do
    local check = spec[k]
    if not check then error(("%sunknown field '%s'"):format(where, tostring(k)), 0) end
    local val, want = check(v)
    if val == nil then error(("%sfield '%s' must be %s"):format(where, k, want), 0) end
    out[k] = val
  end
  return out
end

-- The IDs of a rule's threads/threads_file (or evals, ids), each as
-- { id =, at = where it was given }, a file read relative to the policy's
-- folder; at is "field 'ids'" or "field 'ids_file': FILE: line N".
local function id_list(r, field, dir, where)
  local out = {}
  for _, id in ipairs(r[field] or {}) do out[#out + 1] = { id = id, at = "field '" .. field .. "'" } end
  local file = r[field .. "_file"]
  if file then
    local path = file:sub(1, 1) == "/" and file or dir .. file
    local lines, err, numbers = args.read_lines(path)
    if not lines then error(("%sfield '%s_file': cannot read '%s': %s"):format(where, field, path, err), 0) end
    for i, id in ipairs(lines) do
      out[#out + 1] = { id = id, at = ("field '%s_file': %s: line %d"):format(field, path, numbers[i]) }
    end
  end
  return out
end

-- Raises when an ID given for kind (or for its parent: parent = true) has
-- the prefix of another kind: a file of batch IDs in a responses rule.
local function check_prefix(kind, ref, id, parent, where)
  local other = kinds.by_prefix(id)
  local what = other and (parent or other ~= kind) and other.one or nil
  local of_parent = not what and kinds.by_parent_prefix(id)
  if of_parent and not (parent and of_parent.parent.name == kind.parent.name) then what = of_parent.parent.name end
  if what then
    error(("%s%s: '%s' is the ID of %s, not of %s (kind %s)"):format(where, ref.at, ref.id, args.a(what),
          args.a(parent and kind.parent.name or kind.one), kind.name), 0)
  end
end

-- Where a rule's objects come from: the kind listed whole, per parent
-- (threads, evals), or the given IDs ("PARENT/ID" for a kind addressed
-- under a parent). Every ID is checked against the kind's prefixes.
local function sources(r, kind, dir, where)
  local mode = kind.list or "ids"
  -- (an extension's kind listed per another parent takes threads, as runs do)
  local pfield = mode == "parent" and (PARENT_FIELD[kind.parent.name] or "threads") or nil
  for _, f in pairs(PARENT_FIELD) do
    if f ~= pfield and (r[f] or r[f .. "_file"]) then
      error(("%sfield '%s': %s are not listed per %s"):format(where, r[f] and f or f .. "_file", kind.many,
            f:sub(1, -2)), 0)
    end
  end
  local parents = pfield and id_list(r, pfield, dir, where) or {}
  local ids = id_list(r, "ids", dir, where)
  if mode ~= "ids" and #ids > 0 then
    error(("%sfield 'ids': %s are listed without IDs: give none"):format(where, kind.many), 0)
  end
  if mode == "parent" and #parents == 0 then
    error(("%s%s are listed per %s: give %s or %s_file"):format(where, kind.many, kind.parent.name, pfield, pfield), 0)
  end
  if mode == "ids" and #ids == 0 then
    error(("%s%s cannot be listed: give ids or ids_file"):format(where, kind.many), 0)
  end
  local out = {}
  if mode == "each" then out[1] = { key = kind.name } end
  for _, t in ipairs(parents) do
    check_prefix(kind, t, t.id, true, where)
    out[#out + 1] = { key = kind.name .. " " .. t.id, parent = t.id }
  end
  for _, ref in ipairs(ids) do
    local parent, id = ref.id:match("^([^/]+)/([^/]+)$")
    if kind.parent and not parent then
      error(("%s%s: '%s' needs its %s: give %s_ID/ID"):format(where, ref.at, ref.id, kind.parent.name,
            kind.parent.name:upper():gsub("%W", "_")), 0)
    end
    if not kind.parent and ref.id:find("/", 1, true) then
      error(("%s%s: '%s' is not an ID"):format(where, ref.at, ref.id), 0)
    end
    if parent then check_prefix(kind, ref, parent, true, where) end
    check_prefix(kind, ref, id or ref.id, false, where)
    out[#out + 1] = { key = kind.name .. " " .. ref.id, parent = parent, id = id or ref.id }
  end
  return out
end

-- The action a rule takes: "cancel" (the default), or one of the kind's
-- actions ("pause" for fine-tuning jobs).
local function action_of(r, kind, where)
  local a = r.action or "cancel"
  if a == "cancel" or kind.actions[a] then return a end
  local can = { "cancel" }
  for name in pairs(kind.actions) do can[#can + 1] = name end
  table.sort(can)
  error(("%sfield 'action': %s cannot be told to '%s': use %s"):format(where, kind.many, a,
        table.concat(can, " or ")), 0)
end

-- Checks rule number i of the policy; returns it with its kind, filter and sources.
local function check_rule(raw, i, dir, prefix)
  if type(raw) ~= "table" then error(("%srule %d: must be a table"):format(prefix, i), 0) end
  local name = type(raw.name) == "string" and raw.name or ("rule " .. i)
  local where = ("%srule %d ('%s'): "):format(prefix, i, name)
  local r = fields(raw, RULE_FIELDS, where)
  if not r.kind then error(where .. "field 'kind' is required (" .. table.concat(kinds.names(), ", ") .. ")", 0) end
  local kind = kinds.get(r.kind)
  if not kind then
    error(("%sfield 'kind': '%s' is not a kind runctl knows: %s"):format(where, r.kind,
          table.concat(kinds.names(), ", ")), 0)
  end
  local api = kind.resource(runctl.openai)
  if not (api and api.cancel) then error(("%sfield 'kind': this runctl cannot cancel %s"):format(where, kind.many), 0) end
  local filter = { older_than = r.older_than, age_from = r.age_from, status = r.status,
                   assistant = r.assistant, model = r.model, metadata = r.metadata }
  local bad = picks.check(kind, filter, function(f) return "field '" .. f .. "'" end)
  if bad then error(where .. bad, 0) end
  local action = action_of(r, kind, where)
  for _, st in ipairs(action == "pause" and filter.status or {}) do
    if kind.paused[st] then
      error(("%sfield 'status': a rule that pauses cannot pick '%s' %s: they are paused already")
            :format(where, st, kind.many), 0)
    end
  end
  return { name = name, index = i, kind = kind, filter = filter, match = r.match, when_over = r.when_over,
           where = where, action = action, sources = sources(r, kind, dir, where) }
end

-- The policy's budgets (runctl.budget), checked, names unique, and every
-- rule's when_over naming one of them.
local function check_budgets(list, rules, prefix)
  local out, by_name = {}, {}
  if list ~= nil then
    for k in pairs(list) do
      if math.type(k) ~= "integer" or k < 1 or k > #list then error(prefix .. "field 'budgets' must be a list of budgets", 0) end
    end
  end
  for i, raw in ipairs(list or {}) do
    local b = budgets.check(raw, i, prefix)
    if by_name[b.name] then
      error(("%sbudget %d: the name '%s' is taken by budget %d"):format(prefix, i, b.name, by_name[b.name].index), 0)
    end
    b.index = i
    by_name[b.name] = b
    out[i] = b
  end
  for _, r in ipairs(rules) do
    if r.when_over and not by_name[r.when_over] then
      local names = {}
      for _, b in ipairs(out) do names[#names + 1] = "'" .. b.name .. "'" end
      error(("%sfield 'when_over': no budget named '%s' (%s)"):format(r.where, r.when_over,
            #names > 0 and "budgets: " .. table.concat(names, ", ") or "the policy has no budgets"), 0)
    end
  end
  return out, by_name
end

-- Loads and checks the policy file at path. Returns the policy
-- { path, interval, rules, listings, budgets, budget_by_name,
-- budget_interval }, or nil and a message naming the file, the rule (or
-- budget) and the field.
function M.load(path)
  local prefix = path .. ": "
  local chunk, err = loadfile(path, "t", environment())
  if not chunk then return nil, err end
  local ok, t = M.call(chunk)
  if not ok then return nil, tostring(t) end
  if type(t) ~= "table" then return nil, prefix .. "must return a table { rules = {...} } (got " .. type(t) .. ")" end
  local ok2, policy = pcall(function()
    local top = fields(t, TOP_FIELDS, prefix)
    if top.interval == 0 then error(prefix .. "field 'interval' must be more than 0 seconds", 0) end
    if not top.rules or #top.rules == 0 then error(prefix .. "field 'rules' must be a non-empty list of rules", 0) end
    local rules, names = {}, {}
    local dir = path:match("^(.*/)") or ""
    for i = 1, #top.rules do
      local r = check_rule(top.rules[i], i, dir, prefix)
      if names[r.name] then error(("%srule %d: the name '%s' is taken by rule %d"):format(prefix, i, r.name, names[r.name]), 0) end
      names[r.name] = i
      rules[i] = r
    end
    for k in pairs(top.rules) do
      if math.type(k) ~= "integer" or k < 1 or k > #rules then error(prefix .. "field 'rules' must be a list", 0) end
    end
    local blist, by_name = check_budgets(top.budgets, rules, prefix)
    return { path = path, interval = top.interval, rules = rules, listings = M.listings(rules),
             budgets = blist, budget_by_name = by_name,
             budget_interval = top.budget_interval or budgets.DEFAULT_INTERVAL }
  end)
  if not ok2 then return nil, tostring(policy) end
  return policy
end

-- The listings rules need, each once: { key, kind, parent, id, rules = {...} }
-- in the order the rules name them; each listing's rules keep policy order.
function M.listings(rules)
  local by_key, out = {}, {}
  for _, r in ipairs(rules) do
    for _, src in ipairs(r.sources) do
      local l = by_key[src.key]
      if not l then
        l = { key = src.key, kind = r.kind, parent = src.parent, id = src.id, rules = {} }
        by_key[src.key] = l
        out[#out + 1] = l
      end
      if l.rules[#l.rules] ~= r then l.rules[#l.rules + 1] = r end
    end
  end
  return out
end

return M
