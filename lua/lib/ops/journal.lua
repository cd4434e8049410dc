-- lua/lib/ops/journal.lua — an append-only JSON-lines journal of decisions
-- (require "runctl.ops.journal"), restart-safe: it remembers which (object,
-- outcome) pairs it holds, reading the file's tail when it opens, and writes
-- each of those once. Every line is flushed as it is written, so a crash
-- loses at most the line being written.
local json = require "runctl.json"
local ledger = require "runctl.ops.ledger"
local outfile = require "runctl.outfile"

local M = {}

-- The fields of every line, null when unknown, so every line has one shape.
M.FIELDS = { "time", "rule", "kind", "id", "parent", "status_before", "status_after", "age",
             "outcome", "request_id", "error", "note", "cost" }

-- How much of an existing journal's end is read at start: the decisions a
-- restart must not repeat are the recent ones.
M.TAIL_BYTES = 4 * 1024 * 1024

local Journal = {}
Journal.__index = Journal

local function object_key(kind, id) return tostring(kind) .. " " .. tostring(id) end

-- The key an event line is held under: one budget trip per window.
local function event_key(rec)
  return tostring(rec.event) .. " " .. tostring(rec.budget) .. " " .. tostring(rec.window_start)
end

-- Reads the (kind, id, outcome) of the lines at the end of file f into seen,
-- and the events (budget trips) into events.
local function read_tail(f, seen, events)
  local size = f:seek("end")
  if size == 0 then return 0 end
  f:seek("set", math.max(0, size - M.TAIL_BYTES))
  local chunk = f:read("a") or ""
  if size > M.TAIL_BYTES then chunk = chunk:gsub("^[^\n]*\n", "", 1) end   -- a partial first line
  for line in chunk:gmatch("[^\n]+") do
    local rec = json.decode(line)
    if type(rec) == "table" and type(rec.event) == "string" then
      events[event_key(rec)] = true
    elseif type(rec) == "table" and type(rec.id) == "string" and type(rec.outcome) == "string" then
      local k = object_key(rec.kind, rec.id)
      seen[k] = seen[k] or {}
      seen[k][rec.outcome] = true
    end
  end
  return size, chunk:sub(-1)
end

-- Opens the journal at path for appending ("-" or nil: stdout, nothing
-- read). A last line cut short by a crash is ended first, so the next line
-- starts clean. Returns the journal, or nil, err.
function M.open(path)
  local seen, events = {}, {}
  if not path or path == "-" then
    return setmetatable({ file = io.stdout, seen = seen, events = events, lines = 0 }, Journal)
  end
  local f, err = outfile.open(path, "a")     -- never through a planted symlink; 0600 when new
  if not f then return nil, err end
  local size, last = read_tail(f, seen, events)
  f:seek("end")
  if size > 0 and last ~= "\n" then f:write("\n") end
  f:setvbuf("full")
  return setmetatable({ file = f, path = path, seen = seen, events = events, lines = 0 }, Journal)
end

-- Whether the journal holds outcome for the object (kind, id).
function Journal:holds(kind, id, outcome)
  local s = self.seen[object_key(kind, id)]
  return s ~= nil and s[outcome] == true
end

-- Writes rec (a table with at least kind, id, outcome) unless the journal
-- holds that outcome for that object already. Returns true when written
-- (true, why when written without a field that could not be encoded: see
-- ledger.encode_line); false when held; nil, err when the write failed (it
-- is tried again the next time).
function Journal:record(rec)
  if self:holds(rec.kind, rec.id, rec.outcome) then return false end
  local line, bad = ledger.encode_line(ledger.with_nulls(rec, M.FIELDS))
  local ok, err = self.file:write(line, "\n")
  if ok then ok, err = self.file:flush() end
  if not ok then return nil, tostring(err) end
  local k = object_key(rec.kind, rec.id)
  self.seen[k] = self.seen[k] or {}
  self.seen[k][rec.outcome] = true
  self.lines = self.lines + 1
  return true, bad
end

-- The fields of an event line (a budget trip), in this order, null when unknown.
M.EVENT_FIELDS = { "time", "event", "budget", "spent", "limit", "unit", "window", "window_start",
                   "source", "measured_at" }

-- Writes event rec ({ event, budget, window_start, ... }) unless the journal
-- holds that event for that budget and window already (also from before a
-- restart). Returns true when written, false when held, nil, err on failure.
function Journal:event(rec)
  local k = event_key(rec)
  if self.events[k] then return false end
  local ok, err = self.file:write(assert(json.encode(ledger.with_nulls(rec, M.EVENT_FIELDS))), "\n")
  if ok then ok, err = self.file:flush() end
  if not ok then return nil, tostring(err) end
  self.events[k] = true
  self.lines = self.lines + 1
  return true
end

-- Forgets every object not in `keep` (kind -> id -> true): the ones no rule
-- picked in a complete pass. Memory then follows what is active, not how
-- long the service has run; one that comes back is a new decision.
function Journal:forget_others(keep)
  for k in pairs(self.seen) do
    local kind, id = k:match("^(%S+) (.*)$")
    if not (keep[kind] and keep[kind][id]) then self.seen[k] = nil end
  end
end

function Journal:close()
  if self.file ~= io.stdout then return self.file:close() end
  return true
end

return M
