-- lua/lib/jobs/selection.lua — which objects a filter picks (require "runctl.jobs.selection"):
-- the filters cancel-older-than and supervise share (age, status, assistant,
-- model, metadata), checked against a kind and applied to listed objects.
--
-- A filter f: { older_than = seconds (nil: any age), age_from = "created" or
-- "started" (nil: created), status = a list of the kind's statuses it may
-- pick, active or paused (nil: all its active ones), assistant = a list of IDs, model = a list of names
-- (any of them; only for kinds whose `filters` name the field; see
-- M.model_matches), metadata = a list of {key =, value =} (all of them) }.
local math = require("runctl.compat").math   -- Lua 5.1 (LuaJIT) too
local M = {}

---------------------------------------------------------------------- model names

-- The model a name is about: a fine-tuned model's base
-- ("ft:gpt-4o-mini-2024-07-18:org::abc" -> "gpt-4o-mini-2024-07-18"), else
-- the name itself.
local function base_of(name)
  return name:match("^ft:([^:]+)") or name
end

-- Whether rest (what follows a filter's name) is a dated snapshot suffix:
-- "-2024-07-18" (today's form) or "-0613" (the older one: gpt-4-0613,
-- gpt-3.5-turbo-0125).
local function is_snapshot(rest)
  return rest:match("^%-%d%d%d%d%-%d%d%-%d%d$") ~= nil or rest:match("^%-%d%d%d%d$") ~= nil
end

-- Whether a model filter picks the model name a service reported:
--   "gpt-4o-mini"   the name, its dated snapshots (gpt-4o-mini-2024-07-18,
--                   and the older -MMDD form), and models fine-tuned from
--                   any of them (ft:gpt-4o-mini-2024-07-18:org::abc); not
--                   gpt-4o-mini-tts nor gpt-4o
--   "=gpt-4o-mini"  exactly that name, nothing else
function M.model_matches(filter, name)
  if type(name) ~= "string" then return false end
  if filter:sub(1, 1) == "=" then return name == filter:sub(2) end
  local base = base_of(name)
  if base == filter then return true end
  return base:sub(1, #filter) == filter and is_snapshot(base:sub(#filter + 1))
end

-- Whether any filter of the list picks name.
local function any_model(filters, name)
  for _, f in ipairs(filters) do
    if M.model_matches(f, name) then return true end
  end
  return false
end

local function set_of(list)
  if not list then return nil end
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- "created", "created_at" -> "created"; "started", "started_at" -> "started"; else nil.
function M.age_base(v)
  if v == nil then return "created" end
  return ({ created = "created", created_at = "created", started = "started", started_at = "started" })[v]
end

-- The first thing in f that does not fit kind, as a message naming the
-- filter as name_of(field) says ("--status" for a flag, "status" for a
-- policy field); nil when it all fits.
function M.check(kind, f, name_of)
  for _, st in ipairs(f.status or {}) do
    if not kind.selectable[st] then
      return ("%s: '%s' is not a status of %s that can be picked: use %s")
             :format(name_of("status"), tostring(st), kind.many, table.concat(sorted_keys(kind.selectable), ", "))
    end
  end
  for _, m in ipairs(f.model or {}) do
    if m == "=" or m == "" then
      return ("%s: '%s' names no model: give a name (\"gpt-4o-mini\") or an exact one (\"=gpt-4o-mini\")")
             :format(name_of("model"), m)
    end
  end
  for _, field in ipairs { "assistant", "model" } do
    if f[field] and not kind.filters[field] then
      return ("%s does not apply to %s"):format(name_of(field), kind.many)
    end
  end
  local base = M.age_base(f.age_from)
  if not base then
    return ("%s: '%s' is not created or started"):format(name_of("age_from"), tostring(f.age_from))
  end
  if base == "started" and not kind.started then
    return ("%s started: %s have no start time"):format(name_of("age_from"), kind.many)
  end
  return nil
end

-- Whether an object of kind, in status st and with expiry time expires,
-- has run out of time at `now` without the service saying so: the kind's
-- objects past expiry are cancelled (runs), not left alone.
function M.past_expiry(kind, st, expires, now)
  return kind.cancel_past_expiry == true and kind.active[st] == true and math.type(expires) ~= nil
         and expires <= now
end

-- What a report or journal line notes about an object cancelled past its expiry.
M.PAST_EXPIRY_NOTE = "past expires_at"

-- The filter as one test for objects listed at wall time `unix_time` (seconds
-- since the epoch): item -> verdict, age, note. verdict is "cancel" (in a wanted
-- status: send a cancel), "done" (cancelled or cancelling already),
-- "expired" (its status or its expiry time says so, and the service expires
-- such objects itself) or nil (not picked: another status, too young, a
-- filter does not match, not an object). age: whole seconds since its
-- created (or started) time, nil when it has none. note: M.PAST_EXPIRY_NOTE
-- for an object picked although past its expiry time (see M.past_expiry).
function M.picker(kind, f, unix_time)
  local wanted = set_of(f.status) or kind.active
  local by_field, models = {}, nil
  if f.assistant then by_field[kind.filters.assistant] = set_of(f.assistant) end
  if f.model then models = f.model end
  local model_field = kind.filters.model
  local from = M.age_base(f.age_from) == "started" and kind.started or kind.age_from.created or "created_at"
  local older_than, metadata = f.older_than, f.metadata or {}
  return function(item)
    if type(item) ~= "table" or type(item.id) ~= "string" then return nil end
    local st = item.status
    if not (wanted[st] or kind.done[st] or kind.expired[st]) then return nil end
    local since = item[from]
    local age = math.type(since) and math.floor(unix_time - since) or nil
    if older_than and (age == nil or age <= older_than) then return nil end   -- never started, or too young
    for field, allowed in pairs(by_field) do
      if not allowed[item[field]] then return nil end
    end
    if models and not any_model(models, item[model_field]) then return nil end
    for _, kv in ipairs(metadata) do
      if type(item.metadata) ~= "table" or item.metadata[kv.key] ~= kv.value then return nil end
    end
    if kind.done[st] then return "done", age end
    local expires = kind.expires and item[kind.expires]
    if M.past_expiry(kind, st, expires, unix_time) then return "cancel", age, M.PAST_EXPIRY_NOTE end
    if kind.expired[st] or (math.type(expires) and expires <= unix_time) then return "expired", age end
    return "cancel", age
  end
end

---------------------------------------------------------------------- listing (runctl list)

-- Every status an object of kind can have (its active, paused, cancelling,
-- done, finished and expired statuses), sorted.
function M.statuses(kind)
  local all = {}
  for _, set in ipairs { kind.active, kind.paused, kind.cancelling, kind.done, kind.finished, kind.expired } do
    for st in pairs(set) do all[st] = true end
  end
  return sorted_keys(all)
end

-- Like M.check for runctl list's filter, whose status may be any status of
-- the kind, with newer_than beside older_than.
function M.check_listing(kind, f, name_of)
  local known = {}
  for _, st in ipairs(M.statuses(kind)) do known[st] = true end
  for _, st in ipairs(f.status or {}) do
    if not known[st] then
      return ("%s: '%s' is not a status of %s: use %s"):format(name_of("status"), tostring(st), kind.many,
                                                                table.concat(M.statuses(kind), ", "))
    end
  end
  if f.older_than and f.newer_than and f.newer_than <= f.older_than then
    return ("%s and %s leave no age between them"):format(name_of("older_than"), name_of("newer_than"))
  end
  -- (model: any object that has a model field can be listed by it)
  return M.check(kind, { assistant = f.assistant, age_from = f.age_from }, name_of)
end

-- The listing filter as a test: item -> true, age when it matches (any
-- status in f.status, else every status; older than f.older_than, newer
-- than f.newer_than; assistant, model, metadata as in M.picker).
function M.matcher(kind, f, now)
  local wanted = set_of(f.status)
  local by_field = {}
  if f.assistant then by_field[kind.filters.assistant or "assistant_id"] = set_of(f.assistant) end
  local models, model_field = f.model, kind.filters.model or "model"
  local from = M.age_base(f.age_from) == "started" and kind.started or kind.age_from.created or "created_at"
  local metadata = f.metadata or {}
  return function(item)
    if type(item) ~= "table" or type(item.id) ~= "string" then return nil end
    if wanted and not wanted[item.status] then return nil end
    local since = item[from]
    local age = math.type(since) and math.floor(now - since) or nil
    if f.older_than and (age == nil or age <= f.older_than) then return nil end
    if f.newer_than and (age == nil or age >= f.newer_than) then return nil end
    for field, allowed in pairs(by_field) do
      if not allowed[item[field]] then return nil end
    end
    if models and not any_model(models, item[model_field]) then return nil end   -- as cancel-older-than's
    for _, kv in ipairs(metadata) do
      if type(item.metadata) ~= "table" or item.metadata[kv.key] ~= kv.value then return nil end
    end
    return true, age
  end
end

-- For the warning of a model filter that picks nothing: the model names of
-- the objects of kind in a filter's wanted statuses (active by default),
-- gathered with note(item) over a listing; then result() -> nil when the
-- filter has no model, or none of those objects was seen, or one matched;
-- else the sorted list of the names seen; count() -> how many such objects.
function M.model_watch(kind, f)
  if not f.model then return { note = function() end, result = function() return nil end } end
  local wanted = set_of(f.status) or kind.active
  local field = kind.filters.model
  local seen, any, matched, n = {}, false, false, 0
  return {
    count = function() return n end,        -- how many objects in those statuses were seen
    note = function(item)
      if type(item) ~= "table" or not wanted[item.status] then return end
      any, n = true, n + 1
      local name = item[field]
      if any_model(f.model, name) then matched = true end
      seen[type(name) == "string" and name or "(none)"] = true
    end,
    result = function()
      if not any or matched then return nil end
      return sorted_keys(seen)
    end,
  }
end

return M
