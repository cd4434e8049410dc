-- lua/lib/ops/ledger.lua — the exactly-once accounting of a bulk job (require
-- "runctl.ops.ledger"): every object considered is added before work starts and
-- settled exactly once, which writes its line of the JSON-lines report.
local json = require "runctl.json"
local runctl = require "runctl"
local core = require "runctl.core"
local config = require "runctl.ops.config"
local bulk = require "runctl.ops.concurrency"
local term = require "runctl.ops.term"
local outfile = require "runctl.outfile"

local M = {}

local function quote(v) return "'" .. tostring(v) .. "'" end

M.EXIT_OK, M.EXIT_FAILED, M.EXIT_USAGE, M.EXIT_INTERRUPTED = 0, 1, 2, 130

-- The actions a report line can carry, in the order the summary lists them.
M.ACTIONS = { "cancelled", "would_cancel", "already_done", "expired", "skipped", "failed" }
local ACTION_SET = {}
for _, a in ipairs(M.ACTIONS) do ACTION_SET[a] = true end

-- The fields of every report line; an unknown value is written as null so
-- every line has the same shape. kind and id name the object (run_id repeats
-- id for the readers of older reports); thread_id is a run's thread (other
-- kinds with a parent add its field, e.g. vector_store_id); outcome is the
-- finer result (runctl.api.cancel_outcomes); cost what the object said it cost or did.
M.FIELDS = { "kind", "id", "thread_id", "run_id", "status_before", "status_after", "age", "action",
             "outcome", "request_id", "error", "note", "cost" }
---------------------------------------------------------------------- the report

local Report = {}
Report.__index = Report

-- Opens the JSON-lines report: path nil or "-" is stdout; else the file,
-- truncated. Returns the report, or nil, err.
-- With header = {report = NAME, args = {...}, threads = {...}} the report
-- opens with a line saying which script wrote it, with which arguments, on
-- which threads, and close() ends it with {"complete": true, ...}: a report
-- without that closing line was cut short (kill -9, a second Ctrl-C). Neither
-- line has an "action", so readers that filter on it are not misled.
-- On a terminal (stdout, unless as_json: --json) the lines are for people
-- instead: one readable line per object, coloured unless NO_COLOR is set.
function M.report(path, header, as_json)
  local f, err = io.stdout
  if path and path ~= "-" then
    f, err = outfile.open(path, "w")     -- never through a planted symlink; 0600 when new
    if not f then return nil, err end
  end
  local human = f == io.stdout and not as_json and runctl.isatty("stdout")
  local r = setmetatable({ file = f, path = path, lines = 0, counts = {}, framed = header ~= nil and not human,
                           human = human and { colour = term.colour("stdout"), controls = term.controls("stdout") } },
                     Report)
  if header and not human then
    local h = { format = 1, started_at = math.floor(core.unix_time()) }
    for k, v in pairs(header) do h[k] = v end
    if h.args then h.args = json.array(h.args) end
    if h.threads then h.threads = json.array(h.threads) end
    r:put(h)
  end
  return r
end

-- t as the text of one JSON line. The encoder writes NaN and infinities as
-- null and invalid UTF-8 as U+FFFD; should t still not encode (nesting
-- deeper than the encoder goes, a value JSON has no form for), the line is
-- written all the same, saying what it is about: its strings, numbers and
-- booleans as they are, any other value as "(not encodable: TYPE)", and
-- line_error saying why. Returns the text and, in that case, the error.
function M.encode_line(t)
  local s, err = json.encode(t)
  if s then return s end
  local safe = { line_error = tostring(err) }
  for k, v in pairs(t) do
    local tv = type(v)
    if tv == "string" or tv == "number" or tv == "boolean" or v == json.null then
      safe[tostring(k)] = v
    else
      safe[tostring(k)] = "(not encodable: " .. tv .. ")"
    end
  end
  return assert(json.encode(safe)), tostring(err)
end

-- Writes one JSON object as a line, flushed. A line that could not be
-- written whole fails the job (write_error: exit 1, said in the summary).
function Report:put(t)
  local line, bad = M.encode_line(t)
  if bad and not self.write_error then
    self.write_error = "a line could not be written whole (" .. bad .. "): see its line_error"
  end
  local ok, err = self.file:write(line, "\n")
  if ok then ok, err = self.file:flush() end
  if not ok and not self.write_error then self.write_error = tostring(err) end
end

-- The colour of each action on a terminal.
local PAINT = { cancelled = "32", would_cancel = "36", already_done = "2", expired = "2",
                skipped = "33", failed = "31" }

-- A report line for people: "cancelled     thread_a/run_1  in_progress -> cancelling  2h03m".
local function human_line(rec, colour)
  local what = rec.thread_id and rec.run_id and (rec.thread_id .. "/" .. rec.run_id)
               or rec.run_id or (rec.thread_id and ("thread " .. rec.thread_id)) or "listing"
  local change = rec.status_before and (rec.status_before .. (rec.status_after and rec.status_after ~= rec.status_before
                                        and (" -> " .. rec.status_after) or "")) or rec.status_after or ""
  local action = ("%-13s"):format(rec.action or "")
  local parts = { term.paint(colour, PAINT[rec.action], action), what, change,
                  rec.age and term.fmt_age(rec.age) or "" }
  if rec.error then parts[#parts + 1] = "(" .. rec.error .. ")" end
  for i = 2, #parts do parts[i] = term.printable(parts[i]) end   -- IDs, statuses, errors: from outside
  return (table.concat(parts, "  "):gsub("%s+$", ""))
end

-- rec as a line's object: every name in fields is there, null when rec
-- lacks it, so all lines have one shape; rec's other fields follow.
function M.with_nulls(rec, fields)
  local t = {}
  for _, k in ipairs(fields) do
    local v = rec[k]
    if v == nil then v = json.null end
    t[k] = v
  end
  for k, v in pairs(rec) do if t[k] == nil then t[k] = v end end
  return t
end

-- Writes one line. Each line is flushed so a report survives a second
-- Ctrl-C or a crash up to that line.
function Report:write(rec)
  if self.human then             -- first clear a progress bar drawn on the same terminal
    self.file:write(self.human.controls and "\r\27[K" or "", human_line(rec, self.human.colour), "\n")
    self.file:flush()
    self.lines = self.lines + 1
    return
  end
  self:put(M.with_nulls(rec, M.FIELDS))
  self.lines = self.lines + 1
  if rec.action then self.counts[rec.action] = (self.counts[rec.action] or 0) + 1 end
end

-- Ends the report: the closing line (when it has a header), then the file.
function Report:close()
  if self.framed then
    self:put { complete = true, lines = self.lines, interrupted = runctl.interrupted(),
               counts = self.counts }
    self.framed = false
  end
  if self.file ~= io.stdout then
    local ok, err = self.file:close()
    if not ok and not self.write_error then self.write_error = tostring(err) end
  end
  return self.write_error == nil, self.write_error
end

---------------------------------------------------------------------- the ledger

-- "thread_a/run_b", "batch_x", "thread_a" (a group), for people.
function M.name_of(e)
  if e.parent and e.id then return e.parent .. "/" .. e.id end
  return tostring(e.id or e.parent or (e.kind and e.kind.many))
end

-- An entry's report line (M.FIELDS, and `object` on lines about other kinds
-- than runs, as older reports had it).
function M.line(e)
  local kind = e.kind
  local line = { kind = kind and kind.name, id = e.id, run_id = e.id }
  for _, k in ipairs(M.FIELDS) do
    if line[k] == nil and k ~= "thread_id" then line[k] = e[k] end
  end
  if kind and kind.parent then line[kind.parent.field] = e.parent end
  if not kind then line.thread_id = e.parent end                  -- an entry of no kind: a run
  if kind and not kind.per_thread then line.object = kind.object end
  return line
end

-- The accounting: every run considered is added (pending) before any work
-- starts and settled exactly once, which writes its report line. settle_rest
-- settles what is still pending (Ctrl-C, a refused confirmation), so the
-- report always has one line per run considered, whatever happened.
-- An entry is {kind (runctl.kinds), parent, id, status_before, age, ...};
-- one without id stands for a whole group (a thread that could not be
-- listed, a kind's list): it gets a line too but is counted apart.
local Ledger = {}
Ledger.__index = Ledger

function M.ledger(report)
  local counts, group_counts = {}, {}
  for _, a in ipairs(M.ACTIONS) do counts[a] = 0; group_counts[a] = 0 end
  return setmetatable({ report = report, counts = counts, group_counts = group_counts,
                        pending = {}, total = 0, settled = 0, failures = {}, keys = {},
                        seq = 0 }, Ledger)
end

local function key_of(e)
  return tostring(e.kind and e.kind.name) .. "\0" .. tostring(e.parent) .. "\0" .. tostring(e.id)
end

-- Adds an entry to account for (see above). An object already added is not
-- added again: returns the entry and whether it is new.
function Ledger:add(e)
  e.id, e.parent = e.id or e.run_id, e.parent or e.thread_id    -- the fields' older names
  local k = key_of(e)
  local old = self.keys[k]
  if old then return old, false end
  self.keys[k] = e
  self.pending[e] = true
  self.seq = self.seq + 1
  e.seq = self.seq
  if e.id ~= nil then self.total = self.total + 1 end
  return e, true
end

function Ledger:is_pending(e) return self.pending[e] == true end

-- Drops a pending entry without a line: a thread entry once it was listed.
function Ledger:forget(e)
  if self.pending[e] then
    self.pending[e] = nil
    if e.id ~= nil then self.total = self.total - 1 end
  end
end

local function counts_of(counts)
  local parts = {}
  for _, a in ipairs(M.ACTIONS) do
    if counts[a] > 0 then parts[#parts + 1] = counts[a] .. " " .. a:gsub("_", " ") end
  end
  return table.concat(parts, ", ")
end

-- "7 cancelled, 2 already done, 1 failed" (or "nothing to do"), then what
-- could not be listed: "; not listed: 1 failed, 25 skipped".
function Ledger:counts_text()
  local runs, groups = counts_of(self.counts), counts_of(self.group_counts)
  if groups ~= "" then return (runs ~= "" and runs or "none") .. "; not listed: " .. groups end
  return runs ~= "" and runs or "nothing to do"
end

-- What a failure (fields.cause: the error object) means for the whole job: a
-- refused key stops it (bulk.stop: nothing new starts, the rest is skipped
-- saying why), a likely mistake gets a hint in the summary.
function Ledger:judge(cause)
  if cause == nil then return end
  local why = config.refusal(cause)
  if why and not self.refused then
    self.refused = why
    bulk.stop(why)
    term.note("stopped: " .. why)
  end
  term.note(config.hint(cause))
end

-- Settles e with fields {action, status_after, request_id, error, cause}
-- (merged into e) and writes its line. Settling twice is a bug and raises.
function Ledger:settle(e, fields)
  if not self.pending[e] then
    error("ops: " .. M.name_of(e) .. " settled twice", 2)
  end
  local action = fields and fields.action or e.action
  if not ACTION_SET[action] then
    error("ops: unknown action " .. quote(action), 2)
  end
  for k, v in pairs(fields or {}) do e[k] = v end
  -- (a raise inside runctl names a source file: not for the operator's eyes)
  if type(e.error) == "string" then e.error = e.error:gsub("[^%s:]*%.lua:%d+: ", "") end
  self:judge(e.cause)
  e.cause = nil
  self.pending[e] = nil
  local counts = e.id ~= nil and self.counts or self.group_counts
  counts[e.action] = counts[e.action] + 1
  if e.action == "failed" then self.failures[#self.failures + 1] = e end
  self.report:write(M.line(e))
  if e.id ~= nil then
    self.settled = self.settled + 1
    if self.progress then self.progress:step(self:counts_text()) end
  end
end

-- After a cancel: settles e with fields, or, when `held` is given (a --wait
-- list) and the cancel left it (or found it) in one of the `pending` statuses,
-- merges them and holds e there for the wait phase (a dry run waits for nothing).
function Ledger:settle_or_hold(e, fields, held, pending)
  local sent = fields.action == "cancelled" or fields.action == "already_done"
  if held and sent and pending[fields.status_after] then
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
  if self.refused then why = "not attempted: " .. self.refused end
  local rest = {}
  for e in pairs(self.pending) do rest[#rest + 1] = e end
  table.sort(rest, function(a, b) return a.seq < b.seq end)
  for _, e in ipairs(rest) do
    if e.action then
      self:settle(e, { error = e.error or why })
    else
      self:settle(e, { action = action or "skipped", error = why,
                       outcome = self.refused and "not_sent" or nil })
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
