-- lua/lib/ledger.lua — the exactly-once accounting of a bulk job (require
-- "runctl.ledger"): every object considered is added before work starts and
-- settled exactly once, which writes its line of the JSON-lines report.
local json = require "runctl.json"

local M = {}

local function quote(v) return "'" .. tostring(v) .. "'" end

M.EXIT_OK, M.EXIT_FAILED, M.EXIT_USAGE, M.EXIT_INTERRUPTED = 0, 1, 2, 130

-- The actions a report line can carry, in the order the summary lists them.
M.ACTIONS = { "cancelled", "would_cancel", "already_done", "expired", "skipped", "failed" }
local ACTION_SET = {}
for _, a in ipairs(M.ACTIONS) do ACTION_SET[a] = true end

-- The fields of every report line; an unknown value is written as null so
-- every line has the same shape.
M.FIELDS = { "thread_id", "run_id", "status_before", "status_after", "age", "action",
             "request_id", "error" }
---------------------------------------------------------------------- the report

local Report = {}
Report.__index = Report

-- Opens the JSON-lines report: path nil or "-" is stdout; else the file,
-- truncated. Returns the report, or nil, err.
function M.report(path)
  local f, err = io.stdout, nil
  if path and path ~= "-" then
    f, err = io.open(path, "w")
    if not f then return nil, err end
  end
  return setmetatable({ file = f, path = path, lines = 0 }, Report)
end

-- rec as one JSON line (no line feed): every name in fields is there, null
-- when rec lacks it, so all lines have one shape; rec's other fields follow.
function M.json_line(rec, fields)
  local t = {}
  for _, k in ipairs(fields) do
    local v = rec[k]
    if v == nil then v = json.null end
    t[k] = v
  end
  for k, v in pairs(rec) do if t[k] == nil then t[k] = v end end
  return assert(json.encode(t))
end

-- Writes one line. Each line is flushed so a report survives a second
-- Ctrl-C or a crash up to that line.
function Report:write(rec)
  local ok, err = self.file:write(M.json_line(rec, M.FIELDS), "\n")
  if ok then ok, err = self.file:flush() end
  if not ok and not self.write_error then self.write_error = tostring(err) end
  self.lines = self.lines + 1
end

function Report:close()
  if self.file ~= io.stdout then
    local ok, err = self.file:close()
    if not ok and not self.write_error then self.write_error = tostring(err) end
  end
  return self.write_error == nil, self.write_error
end

---------------------------------------------------------------------- the ledger

-- The accounting: every run considered is added (pending) before any work
-- starts and settled exactly once, which writes its report line. settle_rest
-- settles what is still pending (Ctrl-C, a refused confirmation), so the
-- report always has one line per run considered, whatever happened.
-- An entry without run_id stands for a whole thread (one that could not be
-- listed): it gets a line too but is counted apart from the runs.
local Ledger = {}
Ledger.__index = Ledger

function M.ledger(report)
  local counts, group_counts = {}, {}
  for _, a in ipairs(M.ACTIONS) do counts[a] = 0; group_counts[a] = 0 end
  return setmetatable({ report = report, counts = counts, group_counts = group_counts,
                        pending = {}, total = 0, settled = 0, failures = {}, keys = {},
                        seq = 0 }, Ledger)
end

local function key_of(e) return tostring(e.thread_id) .. "\0" .. tostring(e.run_id) end

-- Adds an entry to account for: e = {thread_id, run_id, status_before, age,
-- ...}. A run already added is not added again: returns the entry and
-- whether it is new.
function Ledger:add(e)
  local k = key_of(e)
  local old = self.keys[k]
  if old then return old, false end
  self.keys[k] = e
  self.pending[e] = true
  self.seq = self.seq + 1
  e.seq = self.seq
  if e.run_id ~= nil then self.total = self.total + 1 end
  return e, true
end

function Ledger:is_pending(e) return self.pending[e] == true end

-- Drops a pending entry without a line: a thread entry once it was listed.
function Ledger:forget(e)
  if self.pending[e] then
    self.pending[e] = nil
    if e.run_id ~= nil then self.total = self.total - 1 end
  end
end

-- "7 cancelled, 2 already done, 1 failed" (or "nothing to do").
function Ledger:counts_text()
  local parts = {}
  for _, a in ipairs(M.ACTIONS) do
    if self.counts[a] > 0 then parts[#parts + 1] = self.counts[a] .. " " .. a:gsub("_", " ") end
  end
  return #parts > 0 and table.concat(parts, ", ") or "nothing to do"
end

-- Settles e with fields {action, status_after, request_id, error} (merged
-- into e) and writes its line. Settling twice is a bug and raises.
function Ledger:settle(e, fields)
  if not self.pending[e] then
    error("ops: " .. tostring(e.thread_id) .. "/" .. tostring(e.run_id) .. " settled twice", 2)
  end
  local action = fields and fields.action or e.action
  if not ACTION_SET[action] then
    error("ops: unknown action " .. quote(action), 2)
  end
  for k, v in pairs(fields or {}) do e[k] = v end
  self.pending[e] = nil
  local counts = e.run_id ~= nil and self.counts or self.group_counts
  counts[e.action] = counts[e.action] + 1
  if e.action == "failed" then self.failures[#self.failures + 1] = e end
  local line = { object = e.object }      -- object: only on lines about other kinds than runs
  for _, k in ipairs(M.FIELDS) do line[k] = e[k] end
  self.report:write(line)
  if e.run_id ~= nil then
    self.settled = self.settled + 1
    if self.progress then self.progress:step(self:counts_text()) end
  end
end

-- After a cancel: settles e with fields, or, when `held` is given (a --wait
-- list) and the new status is one of `pending`, merges them and holds e there
-- for the wait phase.
function Ledger:settle_or_hold(e, fields, held, pending)
  if held and pending[fields.status_after] then
    for k, v in pairs(fields) do e[k] = v end
    held[#held + 1] = e
  else
    self:settle(e, fields)
  end
end

-- The on_error handler for each_concurrently: an entry whose work raised
-- settles as failed (unless it already settled).
function Ledger:fail_on_error()
  return function(e, err)
    if self:is_pending(e) then self:settle(e, { action = "failed", error = tostring(err) }) end
  end
end

-- Settles every pending entry, in the order they were added: one whose
-- action is already decided (a cancel sent, its wait cut short) keeps it and
-- gets why as its error if it has none; the others become `action` (default
-- skipped) with error why. Returns how many it settled.
function Ledger:settle_rest(why, action)
  local rest = {}
  for e in pairs(self.pending) do rest[#rest + 1] = e end
  table.sort(rest, function(a, b) return a.seq < b.seq end)
  for _, e in ipairs(rest) do
    if e.action then
      self:settle(e, { error = e.error or why })
    else
      self:settle(e, { action = action or "skipped", error = why })
    end
  end
  return #rest
end

-- The exit code the outcome calls for: 130 interrupted, 1 any failure.
function Ledger:exit_code(interrupted, extra_failure)
  if interrupted then return M.EXIT_INTERRUPTED end
  if self.counts.failed > 0 or self.group_counts.failed > 0 or extra_failure then
    return M.EXIT_FAILED
  end
  return M.EXIT_OK
end


return M
