-- lua/lib/jobs/selection.lua — which objects a filter picks (require "runctl.jobs.selection"):
-- the filters cancel-older-than and supervise share (age, status, assistant,
-- model, metadata), checked against a kind and applied to listed objects.
--
-- A filter f: { older_than = seconds (nil: any age), age_from = "created" or
-- "started" (nil: created), status = a list of the kind's active statuses
-- (nil: all of them), assistant = a list of IDs, model = a list of names
-- (any of them; only for kinds whose `filters` name the field),
-- metadata = a list of {key =, value =} (all of them) }.
local M = {}

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
    if not kind.active[st] then
      return ("%s: '%s' is not an active status of %s: use %s")
             :format(name_of("status"), tostring(st), kind.many, table.concat(sorted_keys(kind.active), ", "))
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

-- The filter as one test for objects listed at wall time `unix_time` (seconds since the
-- epoch): item -> verdict, age. verdict is "cancel" (in a wanted status: send
-- a cancel), "done" (cancelled or cancelling already), "expired" (its status
-- or its expiry time says so) or nil (not picked: another status, too young,
-- a filter does not match, not an object). age: whole seconds since its
-- created (or started) time, nil when it has none.
function M.picker(kind, f, unix_time)
  local wanted = set_of(f.status) or kind.active
  local by_field = {}
  for _, field in ipairs { "assistant", "model" } do
    if f[field] then by_field[kind.filters[field]] = set_of(f[field]) end
  end
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
    for _, kv in ipairs(metadata) do
      if type(item.metadata) ~= "table" or item.metadata[kv.key] ~= kv.value then return nil end
    end
    if kind.done[st] then return "done", age end
    local expires = kind.expires and item[kind.expires]
    if kind.expired[st] or (math.type(expires) and expires <= unix_time) then return "expired", age end
    return "cancel", age
  end
end

---------------------------------------------------------------------- listing (runctl list)

-- Every status an object of kind can have (its active, cancelling, done,
-- finished and expired statuses), sorted.
function M.statuses(kind)
  local all = {}
  for _, set in ipairs { kind.active, kind.cancelling, kind.done, kind.finished, kind.expired } do
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
  for _, field in ipairs { "assistant", "model" } do
    if f[field] then by_field[kind.filters[field] or field] = set_of(f[field]) end
  end
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
    for _, kv in ipairs(metadata) do
      if type(item.metadata) ~= "table" or item.metadata[kv.key] ~= kv.value then return nil end
    end
    return true, age
  end
end

return M
