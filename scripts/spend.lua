-- scripts/spend.lua — what the organization spends now: costs and usage for a window, by project, line item or model; budgets' state
-- Reads the organization's costs (USD) and completions usage (tokens) for a
-- window through the admin key, sums them per group and prints a table on
-- a terminal, JSON lines elsewhere. With --budget POLICY, each budget of a
-- supervise policy instead: its window, what it spent, its limit, whether
-- it is over (what supervise would decide now).
local ops = require "runctl.ops"
local budgets = require "runctl.ops.budget"
local policies = require "runctl.ops.policy"
local clients = require "runctl.api.client"
local json = require "runctl.json"

local NAME = "spend"
local USAGE = [[
usage: runctl spend [--window today|month|DURATION] [--by project|line_item|model] [--json]
       runctl spend --budget POLICY.lua [--json]

What is this costing us right now: the organization's costs (USD, from the
costs listing) and completions usage (input and output tokens, requests)
for a window, summed per project, line item or model. A table on a
terminal; JSON lines when piped (or with --json): one line per group, then
one with "group": null and the totals.

With --budget, each budget of a supervise policy: its window, what it spent
(measured now), its limit, and whether it is over (what supervise decides).

Needs an organization admin key (with the api.usage.read scope) in
OPENAI_ADMIN_KEY; a project key is refused. Costs come in 1-day buckets
and may lag by hours: today's figure can be low.

Options:
  --window today|month|DURATION
                          the window (default today): today or month (UTC
                          calendar), or the last 1h, 6h, 7d, ...
  --by project|line_item|model
                          group by (default project); line items exist in
                          the costs only, models in the usage only
  --project ID            only this project (repeat for more)
  --budget FILE           show the budgets of supervise policy FILE
  --json                  JSON lines even on a terminal
  -h, --help              this text

Exit status: 0, 1 (a listing failed, or a budget is over with --budget),
2 (usage error, or no admin key).
]]

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--window"] = { kind = "string" },
    ["--by"] = { kind = "string" },
    ["--project"] = { kind = "string", many = true },
    ["--budget"] = { kind = "string" },
    ["--json"] = { kind = "flag" },
  },
}

local BY = { project = "project_id", line_item = "line_item", model = "model" }

-- The admin client: only the admin key is needed (no OPENAI_API_KEY).
local function admin_client()
  local ok, c = pcall(runctl.client, {})
  if not ok then ops.config_error((tostring(c):gsub("^[^\n]-:%d+: ", "", 1))) end
  if not clients.has_admin_key(c) then ops.config_error(clients.NO_ADMIN_KEY) end
  return c
end

-- An error's text for people (a key a server echoed is masked by the client already).
local function text_of(err)
  if runctl.is_error(err) then return tostring(err) end
  return (tostring(err):gsub("^[^\n]-:%d+: ", "", 1))
end

-- Sums every bucket of a listing into rows[group] (fields added up).
local function sum_into(rows, order, api, what, params, field, add)
  for bucket in api.each(what, params) do
    for _, r in ipairs(type(bucket) == "table" and type(bucket.results) == "table" and bucket.results or {}) do
      local key = r[field]
      if key == nil or key == json.null then key = "(none)" end
      local row = rows[key]
      if not row then
        row = { group = key, usd = 0, input_tokens = 0, output_tokens = 0, num_model_requests = 0 }
        rows[key] = row
        order[#order + 1] = key
      end
      add(row, r)
    end
  end
end

local function add_cost(row, r) row.usd = row.usd + budgets.amount("usd", r) end
local function add_usage(row, r)
  for _, f in ipairs { "input_tokens", "output_tokens", "num_model_requests" } do
    if type(r[f]) == "number" then row[f] = row[f] + r[f] end
  end
end

-- The rows of the window, and the listings that failed (texts).
local function measure(c, o, window)
  local by = o.by or "project"
  local field = BY[by]
  local rows, order, failed = {}, {}, {}
  local function listing(source, api, what, add)
    local b = { window = window.window, window_text = window.window_text, source = source, project_ids = o.project }
    local start = budgets.window(b, ops.unix_time())
    local params = budgets.params(b, start)
    params.group_by = { field }
    local ok, err = pcall(sum_into, rows, order, api, what, params, field, add)
    if not ok then failed[#failed + 1] = source .. ": " .. text_of(err) end
  end
  if by ~= "model" then listing("costs", c.organization, "costs", add_cost) end
  if by ~= "line_item" and #failed == 0 then listing("usage", c.organization.usage, "completions", add_usage) end
  table.sort(order)
  local out = {}
  for i, key in ipairs(order) do out[i] = rows[key] end
  return out, failed
end

local function fmt_tokens(n) return (budgets.format("tokens", n):gsub(" tokens$", "")) end

-- Prints rows as a table with a total line; the groups (project IDs, line
-- items, models) come from the server, so they are shown printable.
local function print_table(rows, o, window)
  local by = o.by or "project"
  local total = { group = "TOTAL", usd = 0, input_tokens = 0, output_tokens = 0, num_model_requests = 0 }
  local lines = { { by:upper():gsub("_", " "), "USD", "INPUT TOKENS", "OUTPUT TOKENS", "REQUESTS" } }
  local function line(r)
    return { runctl.printable(tostring(r.group)), by ~= "model" and ("%.2f"):format(r.usd) or "-",
             by ~= "line_item" and fmt_tokens(r.input_tokens) or "-",
             by ~= "line_item" and fmt_tokens(r.output_tokens) or "-",
             by ~= "line_item" and fmt_tokens(r.num_model_requests) or "-" }
  end
  for _, r in ipairs(rows) do
    lines[#lines + 1] = line(r)
    for _, f in ipairs { "usd", "input_tokens", "output_tokens", "num_model_requests" } do total[f] = total[f] + r[f] end
  end
  lines[#lines + 1] = line(total)
  local width = {}
  for _, l in ipairs(lines) do
    for i, cell in ipairs(l) do width[i] = math.max(width[i] or 0, utf8 and utf8.len(cell) or #cell) end
  end
  io.stdout:write(("Spend %s (since %s UTC)\n"):format(window.window_text,
                  os.date("!%Y-%m-%d %H:%M", window.start)))
  for _, l in ipairs(lines) do
    local cells = { ("%-" .. width[1] .. "s"):format(l[1]) }
    for i = 2, #l do cells[i] = ("%" .. width[i] .. "s"):format(l[i]) end
    io.stdout:write(table.concat(cells, "  "), "\n")
  end
end

local function print_json(rows, o, window)
  local by = o.by or "project"
  local total = { usd = 0, input_tokens = 0, output_tokens = 0, num_model_requests = 0 }
  local function emit(group, r)
    local usd = math.floor(r.usd * 1e6 + 0.5) / 1e6        -- sums of cents, without float noise
    io.stdout:write(json.encode { window = window.window_text, start_time = window.start, group_by = by,
                                  group = group, usd = by ~= "model" and usd or json.null,
                                  input_tokens = by ~= "line_item" and r.input_tokens or json.null,
                                  output_tokens = by ~= "line_item" and r.output_tokens or json.null,
                                  num_model_requests = by ~= "line_item" and r.num_model_requests or json.null }, "\n")
  end
  for _, r in ipairs(rows) do
    emit(r.group, r)
    for f in pairs(total) do total[f] = total[f] + r[f] end
  end
  emit(json.null, total)
end

-- --budget POLICY: each budget measured now.
local function show_budgets(c, o)
  local policy, err = policies.load(o.budget)
  if not policy then ops.usage_error("--budget: " .. err) end
  if #policy.budgets == 0 then ops.usage_error("--budget: " .. o.budget .. " has no budgets") end
  local as_json = o.json or not runctl.isatty("stdout")
  local code, now = 0, ops.unix_time()
  for _, b in ipairs(policy.budgets) do
    local start, _, label = budgets.window(b, now)
    local spent, merr = budgets.measure(c, b, now)
    local over = budgets.over(b, spent)
    if not spent or over then code = 1 end
    local over_or_null = json.null
    if spent then over_or_null = over end
    if as_json then
      io.stdout:write(json.encode { budget = b.name, spent = spent or json.null, limit = b.limit, unit = b.unit,
                                    window = label, window_start = os.date("!%Y-%m-%dT%H:%M:%SZ", start),
                                    source = b.source, over = over_or_null,
                                    measured_at = os.date("!%Y-%m-%dT%H:%M:%SZ", now),
                                    error = not spent and text_of(merr) or json.null }, "\n")
    else
      local state = not spent and "UNKNOWN (" .. text_of(merr) .. ")" or over and "OVER" or "under"
      io.stdout:write(("%-20s %14s of %-14s %3s  %-6s %-6s %s\n"):format(b.name, budgets.format(b.unit, spent),
                      budgets.format(b.unit, b.limit),
                      spent and b.limit > 0 and ("%d%%"):format(math.floor(spent / b.limit * 100)) or "",
                      label, b.source, state))
    end
  end
  return code
end

local function main(argv)
  local o, positional = ops.parse(SPEC, argv)
  if #positional > 0 then ops.usage_error("unexpected argument " .. positional[1]) end
  if o.by and not BY[o.by] then ops.usage_error("--by: '" .. o.by .. "' is not one of project, line_item, model") end
  if o.budget and (o.window or o.by or o.project) then
    ops.usage_error("--budget takes each budget's own window and filters: drop --window, --by and --project")
  end
  local window = { window = "today", window_text = "today" }
  if o.window then
    local ok, why = pcall(budgets.check, { name = "w", usd = 0, window = o.window }, 1, "")
    if not ok then ops.usage_error("--window: '" .. o.window .. "' is not " .. tostring(why):match("must be (.*)$")) end
    window.window = o.window == "today" and "today" or o.window == "month" and "month" or ops.parse_duration(o.window)
    window.window_text = o.window
  end
  local c = admin_client()
  if o.budget then return show_budgets(c, o) end
  window.start = budgets.window(window, ops.unix_time())
  local rows, failed = measure(c, o, window)
  if #failed > 0 then            -- a part would mislead: nothing is printed
    io.stderr:write(NAME, ": cannot read the ", failed[1], "\n")
    return 1
  end
  if o.json or not runctl.isatty("stdout") then print_json(rows, o, window) else print_table(rows, o, window) end
  return 0
end

ops.main(NAME, main, { ... })
