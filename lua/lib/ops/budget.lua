-- lua/lib/ops/budget.lua — spend budgets (require "runctl.ops.budget"): a budget's
-- fields checked, its window turned into a time range, and what was spent in
-- it measured from the organization's costs (USD) or usage (tokens) through
-- the client's admin key. supervise decides with it; `runctl spend` shows it.
--
-- A window is "today" or "month" (UTC calendar) or a duration ("1h", "6h"):
-- the last that many seconds. The API sums spend into buckets (costs: 1 day;
-- usage: 1 minute, 1 hour or 1 day), so the window is widened to whole
-- buckets: the bucket holding the window's start counts in full.
-- A usage budget's models are matched as a rule's model filter is
-- (runctl.jobs.selection.model_matches: "gpt-4o" counts its dated snapshots,
-- which is what the usage reports; "=gpt-4o" that name only), by runctl on
-- results grouped by model: the API's own models filter is not sent (whether
-- it takes a name for its snapshots is unverified; the fake's takes exact names).
local args = require "runctl.ops.args"
local math = require("runctl.compat").math        -- math.type on LuaJIT too
local picks = require "runctl.jobs.selection"

local M = {}

M.DEFAULT_INTERVAL = 300        -- seconds between measurements: the data is coarse
M.STALE_INTERVALS = 3           -- a figure older than this many intervals is stale

-- The usage endpoints whose results count tokens (input + output).
M.TOKEN_ENDPOINTS = { completions = true, embeddings = true, moderations = true,
                      audio_speeches = true, audio_transcriptions = true }

local FIELD_ORDER = "name, usd or tokens, window, source, project_ids, api_key_ids, models, line_items, endpoint"

---------------------------------------------------------------------- checking

local function strings(v)
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" or #v == 0 then return nil, "a string or a non-empty list of strings" end
  for k, s in pairs(v) do
    if math.type(k) ~= "integer" or type(s) ~= "string" or s == "" or s:find("[%z\1-\31\127]") then
      return nil, "a string or a non-empty list of strings"
    end
  end
  return v
end
local function models(v)
  local list, want = strings(v)
  if not list then return nil, want end
  for _, m in ipairs(list) do
    if m == "=" then return nil, "model names (\"gpt-4o\": it and its snapshots; \"=gpt-4o\": that name only)" end
  end
  return list
end
local function text(v)
  if type(v) == "string" and v ~= "" and not v:find("[%z\1-\31\127]") then return v end
  return nil, "a non-empty string without control characters"
end
local function limit(v)
  if type(v) ~= "number" or v ~= v or v == math.huge then return nil, "a number" end
  if v < 0 then return nil, "0 or more (a limit cannot be negative)" end
  return v
end
local function window(v)
  if v == "today" or v == "month" then return v end
  local d = type(v) == "number" and v or args.parse_duration(v)
  if d and d > 0 and d < math.huge then return d end
  return nil, "\"today\", \"month\" (UTC calendar) or a duration such as \"1h\", \"6h\", \"7d\""
end
local function source(v)
  if v == "costs" or v == "usage" then return v end
  return nil, "\"costs\" (USD) or \"usage\" (tokens)"
end
local function endpoint(v)
  if M.TOKEN_ENDPOINTS[v] then return v end
  local names = {}
  for name in pairs(M.TOKEN_ENDPOINTS) do names[#names + 1] = name end
  table.sort(names)
  return nil, "one of " .. table.concat(names, ", ")
end

local FIELDS = {
  name = text, usd = limit, tokens = limit, window = window, source = source,
  project_ids = strings, api_key_ids = strings, models = models, line_items = strings,
  endpoint = endpoint,
}

-- Checks budget number i of a policy; returns it as { name, limit, unit,
-- window, source, filters... }, or raises "PREFIXbudget i ('name'): ..." (a
-- string: the policy loader catches it).
function M.check(raw, i, prefix)
  if type(raw) ~= "table" then error(("%sbudget %d: must be a table { %s }"):format(prefix, i, FIELD_ORDER), 0) end
  local label = type(raw.name) == "string" and raw.name or ("budget " .. i)
  local where = ("%sbudget %d ('%s'): "):format(prefix, i, label)
  local b = {}
  for k, v in pairs(raw) do
    local check = FIELDS[k]
    if not check then error(("%sunknown field '%s' (%s)"):format(where, tostring(k), FIELD_ORDER), 0) end
    local val, want = check(v)
    if val == nil then error(("%sfield '%s' must be %s"):format(where, k, want), 0) end
    b[k] = val
  end
  if not b.name then error(where .. "field 'name' is required (rules name it in when_over)", 0) end
  if b.usd and b.tokens then error(where .. "give usd or tokens, not both (one budget, one unit)", 0) end
  if not (b.usd or b.tokens) then error(where .. "give a limit: usd = 200 (costs) or tokens = 5e6 (usage)", 0) end
  if not b.window then error(where .. "field 'window' is required: \"today\", \"month\" or a duration such as \"1h\"", 0) end
  b.window_text = type(raw.window) == "string" and raw.window or (("%g"):format(raw.window) .. "s")
  b.unit = b.usd and "usd" or "tokens"
  b.limit = b.usd or b.tokens
  b.source = b.source or (b.usd and "costs" or "usage")
  if b.unit == "usd" and b.source ~= "costs" then
    error(where .. "field 'source': usage counts tokens, not money: give tokens = N, or source = \"costs\"", 0)
  end
  if b.unit == "tokens" and b.source ~= "usage" then
    error(where .. "field 'source': costs count money, not tokens: give usd = N, or source = \"usage\"", 0)
  end
  if b.source == "costs" and (b.models or b.endpoint) then
    error(where .. "field '" .. (b.models and "models" or "endpoint") .. "' applies to usage budgets only "
          .. "(costs are by project, line item and API key)", 0)
  end
  if b.source == "usage" and b.line_items then
    error(where .. "field 'line_items' applies to costs budgets only", 0)
  end
  b.endpoint = b.endpoint or (b.source == "usage" and "completions" or nil)
  b.usd, b.tokens = nil, nil
  return b
end

---------------------------------------------------------------------- windows

-- Days from 1970-01-01 to y-m-d (proleptic Gregorian; no time zone involved).
local function days_from_civil(y, m, d)
  local floor = math.floor
  y = m <= 2 and y - 1 or y
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- The window of budget b at Unix time now: its start (Unix seconds), a key
-- naming this window (a trip is journaled once per key) and a label. A
-- duration window's key is the period of that length (counted from Unix time
-- 0) that now falls in: a trip is journaled at most once per such period.
function M.window(b, now)
  now = math.floor(now)
  if b.window == "today" then
    local start = now - now % 86400
    return start, os.date("!%Y-%m-%d", start), "today"
  elseif b.window == "month" then
    local t = os.date("!*t", now)
    local start = days_from_civil(t.year, t.month, 1) * 86400
    return start, os.date("!%Y-%m", start), "month"
  end
  local d = math.floor(b.window)
  local period = now - now % d
  return now - d, os.date("!%Y-%m-%dT%H:%M:%SZ", period), b.window_text
end

-- The bucket width and page size a usage listing of the window uses.
local function usage_width(b)
  if b.window == "today" then return "1h", 24 end
  if b.window == "month" then return "1d", 31 end
  if b.window <= 86400 then return "1m", 1440 end
  if b.window <= 7 * 86400 then return "1h", 168 end
  return "1d", 31
end

---------------------------------------------------------------------- measuring

local function set_of(list)
  if not list then return nil end
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

-- The params of the listing that measures b from start.
function M.params(b, start)
  local p = { start_time = start, project_ids = b.project_ids, api_key_ids = b.api_key_ids }
  if b.source == "costs" then
    p.bucket_width, p.limit = "1d", 180
    if b.line_items then p.group_by = { "line_item" } end
  else
    p.bucket_width, p.limit = usage_width(b)
    if b.models then p.group_by = { "model" } end     -- matched here (see above), not by the API
  end
  return p
end

-- What one result adds to a budget of this unit.
function M.amount(unit, r)
  if type(r) ~= "table" then return 0 end
  if unit == "usd" then
    local a = r.amount
    if type(a) ~= "table" or type(a.value) ~= "number" then return 0 end
    if type(a.currency) == "string" and a.currency:lower() ~= "usd" then return 0 end
    return a.value
  end
  local n = 0
  for _, f in ipairs { "input_tokens", "output_tokens" } do
    if type(r[f]) == "number" then n = n + r[f] end
  end
  return n
end

-- Measures what budget b has spent in its window at Unix time now, with
-- client c (its admin key). Returns spent, nil | nil, err (a listing failed:
-- the caller keeps its last figure). Every page is followed.
function M.measure(c, b, now)
  local start = M.window(b, now)
  local api = b.source == "costs" and c.organization or c.organization.usage
  local what = b.source == "costs" and "costs" or b.endpoint
  local items = set_of(b.line_items)
  local function counts(r)
    if type(r) ~= "table" or (items and not items[r.line_item]) then return false end
    if not b.models then return true end
    for _, m in ipairs(b.models) do
      if picks.model_matches(m, r.model) then return true end
    end
    return false
  end
  local spent = 0
  local ok, err = pcall(function()
    for bucket in api.each(what, M.params(b, start)) do
      for _, r in ipairs(type(bucket) == "table" and type(bucket.results) == "table" and bucket.results or {}) do
        if counts(r) then spent = spent + M.amount(b.unit, r) end
      end
    end
  end)
  if not ok then return nil, err end
  return math.floor(spent * 1e6 + 0.5) / 1e6        -- sums of cents, without float noise
end

-- Whether spent is over b's limit (reaching the limit counts as over).
function M.over(b, spent) return spent ~= nil and spent >= b.limit end

-- "$12.34" or "1,234,567 tokens".
function M.format(unit, v)
  if v == nil then return "?" end
  if unit == "usd" then return ("$%.2f"):format(v) end
  local s = ("%d"):format(math.floor(v + 0.5))
  s = s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return s .. " tokens"
end

return M
