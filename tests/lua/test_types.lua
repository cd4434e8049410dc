-- tests/lua/test_types.lua — types/runctl.lua (the LuaLS definitions) against
-- the runtime: every public name runctl exposes (the globals, runctl.* with the
-- module's runctl.poll, task.*, a task handle's methods, every client field and
-- resource table, what a call returns) is declared there, nothing declared is
-- missing at run time, and the generated bindings part is current.
local T = require "helper"
local E = require "embed"

local FILE = "types/runctl.lua"
local text = assert(T.read_file(FILE), FILE)

---------------------------------------------------------------------- reading the file

-- classes: name -> { members = { name -> { type =, optional = } }, parents = {...} }
-- globals: variable -> class (runctl, json, openai, runs, ...)
local classes, vars, globals = {}, {}, {}
local function class_of(name)
  classes[name] = classes[name] or { members = {}, parents = {} }
  return classes[name]
end
local function add_member(class, name, ty, optional)
  local m = class_of(class).members
  m[name] = m[name] or { type = ty, optional = optional }
end

local pending_class, pending_type
for line in text:gmatch("[^\n]*") do
  local cname, parent = line:match("^%-%-%-@class ([%w_.]+)%s*:?%s*([%w_.]*)")
  local fname, opt, ftype = line:match("^%-%-%-@field ([%w_]+)(%??) (%S+)")
  local tname = line:match("^%-%-%-@type ([%w_.]+)")
  local var = line:match("^local ([%w_]+) = {}") or line:match("^([%w_]+) = {}") or line:match("^([%w_]+) = nil")
  local owner, fn = line:match("^function ([%w_]+)[.:]([%w_]+)%(")
  if cname then
    pending_class = cname
    class_of(cname)
    if parent ~= "" then table.insert(classes[cname].parents, parent) end
  elseif fname and pending_class then
    local optional = opt == "?" or ftype:sub(-1) == "?"
    add_member(pending_class, fname, (ftype:gsub("%?$", "")), optional)
  elseif tname then
    pending_type = tname
  elseif var then
    local cls = pending_type or pending_class
    if cls then
      vars[var] = cls
      if not line:find("^local ") then globals[var] = cls end
    end
    pending_class, pending_type = nil, nil
  elseif owner then
    T.ok(vars[owner] ~= nil, "types: function " .. owner .. "." .. fn .. " belongs to a declared class")
    if vars[owner] then add_member(vars[owner], fn, "function", false) end
    pending_class, pending_type = nil, nil
  elseif not line:find("^%-%-%-") then
    pending_class, pending_type = nil, nil
  end
end

-- A class's members with its parents'.
local function members_of(name)
  local out = {}
  local c = classes[name]
  if not c then return out end
  for _, p in ipairs(c.parents) do for k, v in pairs(members_of(p)) do out[k] = v end end
  for k, v in pairs(c.members) do out[k] = v end
  return out
end

---------------------------------------------------------------------- walking the runtime

local missing, seen, walked = {}, {}, {}   -- seen[class][member] = true once non-nil somewhere
local function note_missing(path) missing[#missing + 1] = path end

local function walk(value, class, path, done)
  done = done or {}
  if done[value] then return end
  done[value] = true
  walked[class] = true
  seen[class] = seen[class] or {}
  local members = members_of(class)
  for k, v in pairs(value) do
    if type(k) == "string" and not k:find("^__") then
      local m = members[k]
      if not m then
        note_missing(path .. "." .. k)
      else
        seen[class][k] = true
        if type(v) == "table" and classes[m.type] then walk(v, m.type, path .. "." .. k, done) end
      end
    end
  end
  for k in pairs(members) do
    if value[k] ~= nil then seen[class][k] = true end     -- lazy fields (runctl.kinds, dry_run)
  end
end

-- The globals the host sets, and the module.
T.is(globals.runctl, "runctl", "types declare the global runctl as the runctl module")
for _, name in ipairs(runctl.GLOBALS) do
  if globals[name] then walk(_G[name], globals[name], name) else note_missing("global " .. name) end
end
walk(runctl, "runctl", "runctl")
for name in pairs(globals) do
  if name ~= "runctl" and _G[name] == nil then note_missing("(stale) global " .. name) end
end

-- Clients with every optional setting, Azure's too, so their fields are seen.
local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local full = runctl.client { api_key = "sk-test-1234567890", base_url = fake.base, organization = "org_1",
                             project = "proj_1", rate = 100, ca_file = "/dev/null" }
walk(full, "runctl.Client", "client")
walk(runctl.client { azure = true, api_key = "k", endpoint = "https://x.example", api_version = "2024-10-21" },
     "runctl.Client", "azure client")

-- A task handle's methods.
local t = task.spawn(function() end)
walk(debug.getmetatable(t).__index, "runctl.Task", "task handle")
task.join(t)

-- The module build adds runctl.poll: its fields are declared too.
local prelude = ("package.cpath = %q .. package.cpath\n"):format(E.cwd .. "/" .. E.build .. "/module/?.so;")
local out, err, code = E.sh(E.wrap .. " lua5.4 -e " .. T.quote(prelude .. [[
for k in pairs(require "runctl") do if type(k) == "string" then print(k) end end]]),
  E.lua_env(E.build .. "/module/runctl.so", {}))
T.is(code, 0, "lua5.4 lists the runctl.so module's fields", err)
local module_members = members_of("runctl")
for k in out:gmatch("[^\n]+") do
  if module_members[k] then seen.runctl[k] = true else note_missing("runctl (module) ." .. k) end
end

-- What calls return: resp, err (api, connection, a task's abort), http's resp.
local function fields(v, class, path)
  local members = members_of(class)
  for k in pairs(v) do
    if type(k) == "string" and not members[k] then note_missing(path .. "." .. k) end
  end
end
local obj, cerr, resp = full.runs.cancel("thread_main", "run_in_progress")
T.ok(obj ~= nil, "a cancel against the fake server succeeds", tostring(cerr))
if resp then fields(resp, "runctl.Resp", "resp") end
local _, nf = full.runs.cancel("thread_main", "run_nope")
T.ok(nf ~= nil, "a cancel of a missing run fails")
if nf then fields(nf, "runctl.Error", "err (api)") end
local _, conn = runctl.client { api_key = "k", base_url = "http://127.0.0.1:1/v1", max_retries = 0 }
  .runs.retrieve("thread_main", "run_x")
if conn then fields(conn, "runctl.Error", "err (connection)") end
local slow = task.spawn(task.sleep, 5)
task.cancel(slow)
local _, aborted = task.join(slow)
if aborted then fields(aborted, "runctl.Error", "err (aborted)") end
local hresp = http.request { url = fake.url .. "/v1/threads/thread_main/runs/run_in_progress",
                             headers = { Authorization = "Bearer sk-test-1234567890" } }
if hresp then fields(hresp, "runctl.HttpResp", "http resp") end

T.is(table.concat(missing, ", "), "", "everything the runtime exposes is declared in " .. FILE)

-- Nothing stale: every member of a class walked above exists at run time.
local stale = {}
for class in pairs(walked) do
  for k in pairs(members_of(class)) do
    if not seen[class][k] then stale[#stale + 1] = class .. "." .. k end
  end
end
table.sort(stale)
T.is(table.concat(stale, ", "), "", "everything " .. FILE .. " declares exists at run time")

-- Every resource and job kind made it in (the walk above reached them).
for _, name in ipairs(runctl.GLOBALS) do
  if type(_G[name]) == "table" and getmetatable(_G[name]) ~= nil then
    T.ok(walked["runctl.Client." .. name] or walked[globals[name] or ""], "the resource " .. name .. " was walked")
  end
end
for _, name in ipairs(runctl.kinds.names()) do
  local kind = runctl.kinds.all[name]
  local class = "runctl." .. (kind.one:gsub("[%s_-]+(%w)", string.upper):gsub("^%l", string.upper))
  T.ok(classes[class] ~= nil, "the objects of kind " .. name .. " are declared (" .. class .. ")")
end

-- The generated part is what tools/types.lua writes from today's resources and kinds.
local gen, gerr, gcode = E.sh(T.quote(os.getenv("RUNCTL") or "./runctl") .. " tools/types.lua --print")
T.is(gcode, 0, "tools/types.lua --print runs", gerr)
local region = text:match("(%-%-%-%- BEGIN GENERATED.-%-%-%-%- END GENERATED %-%-%-%-\n)")
T.ok(region ~= nil and region == gen, FILE .. "'s bindings part is current (run make types)")

-- LuaLS reads it: ---@meta first, and it is valid Lua.
T.like(text, "^%-%-%-@meta runctl\n", FILE .. " starts with ---@meta")
T.ok(load(text, "=" .. FILE) ~= nil, FILE .. " is valid Lua")

T.done()
