-- lua/lib/ops/breaker.lua — supervise's budgets over time (require
-- "runctl.ops.breaker"): each budget measured at most every budget_interval,
-- its last figure kept when a listing fails (a budget never trips on missing
-- data), staleness, the trip journaled once per window, the budget metrics,
-- and what a trip would cancel (or pause). runctl.ops.budget measures; this decides.
local core = require "runctl.core"
local runctl = require "runctl"
local budgets = require "runctl.ops.budget"

local M = {}

local SPENT, LIMIT = "runctl_supervise_budget_spent", "runctl_supervise_budget_limit"
local OVER, MEASURED = "runctl_supervise_budget_over", "runctl_supervise_budget_measured_timestamp_seconds"
local STALE = "runctl_supervise_budget_stale"

-- Defines the budget metrics on registry reg (runctl.ops.metrics); returns reg.
function M.add_metrics(reg)
  return reg
    :gauge(SPENT, "What a budget's window has spent, as last measured, by budget and unit (usd, tokens).")
    :gauge(LIMIT, "A budget's limit, by budget and unit.")
    :gauge(OVER, "1 while a budget is over its limit (its when_over rules cancel), else 0.")
    :gauge(MEASURED, "When a budget was last measured (Unix time; absent until it has been).")
    :gauge(STALE, "1 when a budget has no figure, or one older than 3 budget intervals (its listings keep failing), else 0.")
end

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end
local function unix_time() return math.floor(core.unix_time()) end

-- An error's text for people: a raise's source position dropped.
local function text_of(err)
  if runctl.is_error(err) then return tostring(err) end
  return (tostring(err):gsub("^[^\n]-:%d+: ", "", 1))
end

local Breaker = {}
Breaker.__index = Breaker

-- A breaker measuring with client c (its admin key), writing metrics to reg.
function M.new(c, reg)
  return setmetatable({ client = c, reg = reg, state = {} }, Breaker)
end

-- A budget's state across passes, kept by name over a reload: the last
-- figure, the window it is for, when it was measured and last tried.
function Breaker:state_of(b)
  local st = self.state[b.name]
  if not st then
    st = {}
    self.state[b.name] = st
  end
  return st
end

-- After a reload: every budget is measured at the next pass.
function Breaker:remeasure()
  for _, st in pairs(self.state) do st.tried_at = nil end
end

-- Measures b when interval seconds have passed since the last try. A failed
-- listing keeps the last figure and is reported through on.fail.
function Breaker:measure(b, interval, on)
  local st = self:state_of(b)
  local clock = runctl.now()
  if st.tried_at and clock - st.tried_at < interval then return end
  st.tried_at = clock
  local now = unix_time()
  local spent, err = budgets.measure(self.client, b, now)
  if spent then
    local _, key = budgets.window(b, now)
    st.spent, st.window_key, st.measured_at, st.measured_clock, st.stale_warned = spent, key, now, clock, nil
    return on.log("debug", "budget '%s': %s of %s (%s, %s)", b.name, budgets.format(b.unit, spent),
                  budgets.format(b.unit, b.limit), b.window_text, b.source)
  end
  local refused = runctl.is_error(err) and (err.status == 401 or err.status == 403)
  on.fail(refused and "auth" or "budget", "budget '%s': cannot measure its %s: %s; the last figure stays (%s)",
          b.name, b.source, text_of(err), st.spent and budgets.format(b.unit, st.spent) or "none yet: no trip")
end

-- A trip: journaled once per window (the journal remembers it across restarts).
local function journal_trip(b, st, start, label, on)
  local written, jerr = on.journal:event {
    time = iso(), event = "budget_exceeded", budget = b.name, spent = st.spent, limit = b.limit, unit = b.unit,
    window = label, window_start = iso(start), source = b.source, measured_at = iso(st.measured_at) }
  if written == nil then return on.fail("journal", "cannot write the journal: %s", jerr) end
  if written then
    on.log("warning", "BUDGET EXCEEDED: '%s' spent %s of %s (%s, %s): its rules cancel from now on",
           b.name, budgets.format(b.unit, st.spent), budgets.format(b.unit, b.limit), label, b.source)
  end
end

-- Whether st's figure is stale: none after a try, or older than
-- STALE_INTERVALS budget intervals.
local function is_stale(st, interval)
  if st.measured_clock == nil then return st.tried_at ~= nil end
  return interval > 0 and runctl.now() - st.measured_clock > budgets.STALE_INTERVALS * interval
end

-- Measures the policy's budgets (when due) and decides them for a pass.
-- on = { log = fn(level, fmt, ...), fail = fn(type, fmt, ...), journal }.
-- Returns over: budget name -> true when its figure is for the current
-- window and at its limit or over.
function Breaker:decide(policy, on)
  local reg, over, now = self.reg, {}, unix_time()
  for _, name in ipairs { SPENT, LIMIT, OVER, MEASURED, STALE } do reg:clear(name) end
  for _, b in ipairs(policy.budgets) do
    self:measure(b, policy.budget_interval, on)
    local st = self:state_of(b)
    local start, key, label = budgets.window(b, now)
    local current = st.spent ~= nil and st.window_key == key
    st.current = current and st.spent or nil        -- the figure for this window, if any
    over[b.name] = current and budgets.over(b, st.spent)
    local stale = is_stale(st, policy.budget_interval)
    reg:set(LIMIT, { budget = b.name, unit = b.unit }, b.limit)
    if current then reg:set(SPENT, { budget = b.name, unit = b.unit }, st.spent) end
    reg:set(OVER, { budget = b.name }, over[b.name] and 1 or 0)
    if st.measured_at then reg:set(MEASURED, { budget = b.name }, st.measured_at) end
    reg:set(STALE, { budget = b.name }, stale and 1 or 0)
    if stale and st.measured_at and not st.stale_warned then
      st.stale_warned = true
      on.log("warning", "budget '%s': its figure is stale (measured %s, more than %d budget intervals ago)",
             b.name, iso(st.measured_at), budgets.STALE_INTERVALS)
    end
    if over[b.name] then journal_trip(b, st, start, label, on) end
  end
  return over
end

-- --once, --dry-run: logs what each when_over rule would cancel if its
-- budget tripped. would_trip: rule -> the IDs its filters pick.
function Breaker:show_trips(policy, over, would_trip, log)
  for _, r in ipairs(policy.rules) do
    local b = r.when_over and policy.budget_by_name[r.when_over]
    if b and not over[b.name] then
      local ids, st = would_trip[r] or {}, self:state_of(b)
      log("info", "rule '%s': budget '%s' is under its limit (%s of %s, %s): a trip would %s %d %s%s%s",
          r.name, b.name, budgets.format(b.unit, st.current), budgets.format(b.unit, b.limit), b.window_text,
          r.action or "cancel", #ids, #ids == 1 and r.kind.one or r.kind.many, #ids > 0 and ": " or "", table.concat(ids, " "))
    end
  end
end

return M
