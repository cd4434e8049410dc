-- lua/lib/ops.lua — what the bundled scripts share (require "runctl.ops"):
-- command-line parsing, durations, ID lists, the JSON-lines report and the
-- ledger that gives every run considered exactly one line, the summary, the
-- progress bar on a terminal, the confirmation prompt and exit codes.
local core = require "runctl.core"
local json = require "runctl.json"
local task = require "runctl.task"
local runctl = require "runctl"

local M = {}

M.EXIT_OK, M.EXIT_FAILED, M.EXIT_USAGE, M.EXIT_INTERRUPTED = 0, 1, 2, 130

-- The actions a report line can carry, in the order the summary lists them.
M.ACTIONS = { "cancelled", "would_cancel", "already_done", "expired", "skipped", "failed" }
local ACTION_SET = {}
for _, a in ipairs(M.ACTIONS) do ACTION_SET[a] = true end

-- The fields of every report line; an unknown value is written as null so
-- every line has the same shape.
M.FIELDS = { "thread_id", "run_id", "status_before", "status_after", "age", "action",
             "request_id", "error" }

M.ACTIVE = { queued = true, in_progress = true, requires_action = true }
M.PENDING = { queued = true, in_progress = true, requires_action = true, cancelling = true }

local function set(...)
  local t = {}
  for _, v in ipairs { ... } do t[v] = true end
  return t
end

-- What the scripts need to know about each kind of cancellable object:
-- `active` can be cancelled, `done` was cancelled already (already_done),
-- `expired` ran out of time, `pending` is what --wait waits out; `started`
-- names the time --age-from started measures from; `per_thread` objects are
-- listed per thread. resource(client) is the bound binding table.
M.KINDS = {
  runs = {
    object = "thread.run", one = "run", many = "runs", per_thread = true,
    active = M.ACTIVE, done = set("cancelling", "cancelled"), expired = set("expired"),
    pending = M.PENDING, started = "started_at",
    resource = function(c) return c.runs end,
  },
  batches = {
    object = "batch", one = "batch", many = "batches",
    active = set("validating", "in_progress", "finalizing"), done = set("cancelling", "cancelled"),
    expired = set("expired"), pending = set("validating", "in_progress", "finalizing", "cancelling"),
    started = "in_progress_at",
    resource = function(c) return c.batches end,
  },
  ["fine-tuning"] = {
    object = "fine_tuning.job", one = "fine-tuning job", many = "fine-tuning jobs",
    active = set("validating_files", "queued", "running"), done = set("cancelled"), expired = {},
    pending = set("validating_files", "queued", "running"),
    resource = function(c) return c.fine_tuning and c.fine_tuning.jobs end,
  },
}

---------------------------------------------------------------------- durations

local UNITS = { s = 1, m = 60, h = 3600, d = 86400, w = 604800 }

-- "90s", "15m", "2h", "1d", "1h30m", "1.5h" or a bare number of seconds ->
-- seconds (a number >= 0), or nil when s is not a duration.
function M.parse_duration(s)
  if type(s) ~= "string" or s == "" then return nil end
  local n = tonumber(s)
  if n then
    if n >= 0 and n < math.huge and s:match("^[%d.]+$") then return n end
    return nil
  end
  local total, pos = 0, 1
  while pos <= #s do
    local num, unit, nxt = s:match("^(%d+%.?%d*)([smhdw])()", pos)
    if not num then return nil end
    total = total + tonumber(num) * UNITS[unit]
    pos = nxt
  end
  return total
end

-- plural(1, "run") -> "1 run"; plural(3, "run") -> "3 runs".
function M.plural(n, word) return n .. " " .. word .. (n == 1 and "" or "s") end

-- 7384 -> "2h03m"; the two largest units, so a column of ages stays short.
function M.fmt_age(secs)
  if type(secs) ~= "number" then return "?" end
  secs = math.floor(secs)
  if secs < 0 then secs = 0 end
  if secs >= 86400 then return ("%dd%02dh"):format(secs // 86400, secs % 86400 // 3600) end
  if secs >= 3600 then return ("%dh%02dm"):format(secs // 3600, secs % 3600 // 60) end
  if secs >= 60 then return ("%dm%02ds"):format(secs // 60, secs % 60) end
  return secs .. "s"
end

---------------------------------------------------------------------- the command line

-- Raised by parse() for a usage error and caught by M.main: carries the text.
local Usage = {}
Usage.__index = Usage
Usage.__tostring = function(u) return u.message end
function M.usage_error(msg) error(setmetatable({ message = msg }, Usage), 0) end
function M.is_usage_error(v) return getmetatable(v) == Usage end

local function quote(v) return "'" .. tostring(v) .. "'" end

-- Value kinds: each returns the parsed value, or nil and what was wanted.
local KINDS = {
  string = function(v)
    if v ~= "" and not v:find("[%z\1-\31\127]") then return v end
    return nil, "a non-empty value without control characters"
  end,
  duration = function(v)
    local d = M.parse_duration(v)
    if d then return d end
    return nil, "a duration such as 90s, 15m, 2h or 1d"
  end,
  seconds = function(v)
    local d = M.parse_duration(v)
    if d and d > 0 then return d end
    return nil, "a positive number of seconds (or 30s, 5m, 1h)"
  end,
  count = function(v)
    local n = math.tointeger(tonumber(v))
    if n and n >= 1 and n <= 100000 and v:match("^%d+$") then return n end
    return nil, "a whole number from 1 to 100000"
  end,
  count0 = function(v)
    local n = math.tointeger(tonumber(v))
    if n and n >= 0 and n <= 100000000 and v:match("^%d+$") then return n end
    return nil, "a whole number >= 0"
  end,
  rate = function(v)
    local n = tonumber(v)
    if n and n > 0 and n < math.huge and v:match("^[%d.]+$") then return n end
    return nil, "a positive number of requests per second"
  end,
  keyvalue = function(v)
    local k, val = v:match("^([^=]+)=(.*)$")
    if k and not v:find("[%z\1-\31\127]") then return { key = k, value = val } end
    return nil, "KEY=VALUE"
  end,
}

-- Parses args against spec and returns opts (option name with '-' as '_' ->
-- value) and the positional arguments. spec = {
--   name = "cancel-older-than", usage = "...",
--   options = { ["--older-than"] = { kind = "duration", required = true },
--               ["--dry-run"] = { kind = "flag" },
--               ["--metadata"] = { kind = "keyvalue", many = true },
--               ["--status"] = { kind = "list", choices = {...} },
--               ["--wait"] = { kind = "seconds", optional = 60 } } }
-- `--name=value` and `--name value` both work; an `optional` value is taken
-- from the next argument only when it parses; `--` ends the options.
-- Usage errors raise (see M.usage_error); --help prints usage and exits 0.
function M.parse(spec, args)
  local opts, positional = {}, {}
  local i, n = 1, #args
  while i <= n do
    local a = args[i]
    if a == "--" then
      for k = i + 1, n do positional[#positional + 1] = args[k] end
      break
    elseif a == "-h" or a == "--help" then
      io.stdout:write(spec.usage)
      os.exit(M.EXIT_OK)
    elseif a:sub(1, 2) == "--" then
      local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
      name = name or a
      local o = spec.options[name]
      if not o then M.usage_error("unknown option " .. quote(name)) end
      local key = name:sub(3):gsub("%-", "_")
      local value
      if o.kind == "flag" then
        if inline then M.usage_error(name .. " takes no value") end
        value = true
      else
        local raw = inline
        if raw == nil and o.optional ~= nil then
          local nxt = args[i + 1]
          local parsed = nxt ~= nil and nxt:sub(1, 1) ~= "-" and
                         (o.kind == "list" and nxt or KINDS[o.kind](nxt))
          if parsed then raw, i = nxt, i + 1 end
        elseif raw == nil then
          if i + 1 > n then M.usage_error(name .. " needs a value") end
          i = i + 1
          raw = args[i]
        end
        if raw == nil then
          value = o.optional
        elseif o.kind == "list" then
          value = {}
          for item in (raw .. ","):gmatch("([^,]*),") do
            item = item:match("^%s*(.-)%s*$")
            if o.choices and not o.choices[item] then
              local names = {}
              for c in pairs(o.choices) do names[#names + 1] = c end
              table.sort(names)
              M.usage_error(("%s: %s is not one of %s"):format(name, quote(item), table.concat(names, ", ")))
            end
            if item ~= "" then value[#value + 1] = item end
          end
          if #value == 0 then M.usage_error(name .. " needs at least one value") end
        else
          local want
          value, want = KINDS[o.kind](raw)
          if value == nil then
            M.usage_error(("%s: %s is not %s"):format(name, quote(raw), want))
          end
        end
      end
      if o.many or o.kind == "list" then
        local list = opts[key] or {}
        if o.kind == "list" then
          for _, v in ipairs(value) do list[#list + 1] = v end
        else
          list[#list + 1] = value
        end
        opts[key] = list
      else
        opts[key] = value
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      M.usage_error("unknown option " .. quote(a))
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  for name, o in pairs(spec.options) do
    if o.required and opts[name:sub(3):gsub("%-", "_")] == nil then
      M.usage_error(name .. " is required")
    end
  end
  return opts, positional
end

-- Lines of an ID list (a file, or "-" for stdin): '#' starts a comment, blank
-- lines are skipped, surrounding spaces trimmed. Returns the list, or nil, err.
function M.read_lines(path)
  local f, err = io.stdin, nil
  if path ~= "-" then
    f, err = io.open(path, "r")
    if not f then return nil, err end
  end
  local out = {}
  for line in f:lines() do
    line = line:gsub("#.*$", ""):match("^%s*(.-)%s*$")
    if line ~= "" then out[#out + 1] = line end
  end
  if f ~= io.stdin then f:close() end
  return out
end

-- The IDs from arguments, a --*-file and stdin, in that order, without
-- repeats. Stdin is read when an argument is "-", when file is "-", or when
-- nothing else was given and stdin is not a terminal (a pipe).
-- Returns the list, or raises a usage error.
function M.collect_ids(positional, file, what)
  local ids, seen = {}, {}
  local read_stdin = false
  local function add(id)
    if id:find("%s") then M.usage_error(("%s %s contains white space"):format(what, quote(id))) end
    if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
  end
  for _, a in ipairs(positional) do
    if a == "-" then read_stdin = true else add(a) end
  end
  if file and file ~= "-" then
    local lines, err = M.read_lines(file)
    if not lines then M.usage_error("cannot read " .. quote(file) .. ": " .. tostring(err)) end
    for _, l in ipairs(lines) do add(l) end
  elseif file == "-" then
    read_stdin = true
  end
  if read_stdin or (#ids == 0 and not runctl.isatty("stdin")) then
    for _, l in ipairs(M.read_lines("-")) do add(l) end
  end
  return ids
end

---------------------------------------------------------------------- the terminal

-- Whether the human output (summary, progress) should be quiet: runctl -q.
function M.quiet() return core.log_level() < 0 end

-- A one-line progress bar on stderr, drawn only on a terminal and at most
-- ten times a second; finish() erases it so the summary starts clean.
local Progress = {}
Progress.__index = Progress

function M.progress(label, total, opts)
  opts = opts or {}
  local p = setmetatable({ label = label, total = total, done = 0, last = -1, width = 24,
                           out = opts.out or io.stderr, drawn = false }, Progress)
  if opts.enabled == nil then
    p.enabled = runctl.isatty("stderr") and not M.quiet()
  else
    p.enabled = opts.enabled
  end
  return p
end

-- The text of the bar for done of total with a short note, e.g. counts.
function M.render_progress(label, done, total, note, width)
  width = width or 24
  local fill = total > 0 and math.floor(width * done / total) or width
  if fill > width then fill = width end
  return ("%s [%s%s] %d/%d%s"):format(label, ("#"):rep(fill), ("-"):rep(width - fill), done, total,
                                       note and note ~= "" and ("  " .. note) or "")
end

-- Moves the bar one step (see update).
function Progress:step(note) return self:update(self.done + 1, note) end

function Progress:update(done, note, force)
  self.done = done
  if not self.enabled then return end
  local now = core.now()
  if not force and done < self.total and now - self.last < 0.1 then return end
  self.last = now
  self.out:write("\r\27[K", M.render_progress(self.label, done, self.total, note, self.width))
  self.out:flush()
  self.drawn = true
end

function Progress:finish()
  if self.enabled and self.drawn then
    self.out:write("\r\27[K")
    self.out:flush()
  end
  self.drawn = false
end

-- Asks question on a terminal; true only for an answer of y or yes. When
-- stdin is not a terminal it does not ask: it returns false, why.
function M.confirm(question, opts)
  opts = opts or {}
  local tty = opts.tty
  if tty == nil then tty = runctl.isatty("stdin") end
  if not tty then return false, "stdin is not a terminal" end
  local out = opts.out or io.stderr
  out:write(question, " [y/N] ")
  out:flush()
  local answer = (opts.input or io.stdin):read("l")
  if answer == nil then return false, "no answer" end
  answer = answer:lower():match("^%s*(.-)%s*$")
  if answer == "y" or answer == "yes" then return true end
  return false, "not confirmed"
end

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

-- Writes one line; a field that is nil is written as null. Each line is
-- flushed so a report survives a second Ctrl-C or a crash up to that line.
function Report:write(rec)
  local t = {}
  for _, k in ipairs(M.FIELDS) do
    local v = rec[k]
    if v == nil then v = json.null end
    t[k] = v
  end
  for k, v in pairs(rec) do if t[k] == nil then t[k] = v end end
  local line = assert(json.encode(t))
  local ok, err = self.file:write(line, "\n")
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

---------------------------------------------------------------------- cancelling

-- Sleeps secs in short steps, returning early (false) once Ctrl-C was
-- pressed: a timer is not woken by the signal, so long waits are cut up.
function M.sleep(secs)
  local deadline = core.now() + secs
  while true do
    if runctl.interrupted() then return false end
    local left = deadline - core.now()
    if left <= 0 then return true end
    task.sleep(math.min(left, 0.1))
  end
end

-- Turns the outcome of a cancel into report fields {action, status_after,
-- request_id, error}. A 400 "Cannot cancel run with status 'X'" (or batch,
-- fine-tuning job) means it finished (or expired) between listing and
-- cancelling: not a failure.
function M.classify_cancel(obj, err, resp, status_before)
  if obj then
    return { action = "cancelled", status_after = type(obj.status) == "string" and obj.status or nil,
             request_id = resp and resp.request_id }
  end
  if not runctl.is_error(err) then
    return { action = "failed", status_after = status_before, error = tostring(err) }
  end
  if err.kind == "dry_run" then
    return { action = "would_cancel", status_after = status_before }
  end
  local st = err.status == 400 and type(err.message) == "string"
             and err.message:match("^Cannot cancel [%w _.-]- with status '([%w_]+)'")
  if st then
    return { action = st == "expired" and "expired" or "already_done", status_after = st,
             request_id = err.request_id }
  end
  return { action = "failed", status_after = status_before, request_id = err.request_id,
           error = tostring(err) }
end

-- Runs fn(item) for each item, at most `concurrency` at once, and starts no
-- new item once Ctrl-C was pressed (those already running finish). A raise in
-- fn is passed to on_error(item, err). Returns whether it was interrupted.
function M.each_concurrently(items, concurrency, fn, on_error)
  local stopped = false
  task.map(items, function(item)
    if stopped or runctl.interrupted() then stopped = true return true end
    local ok, err = pcall(fn, item)
    if not ok then
      if on_error then on_error(item, err) else error(err, 0) end
    end
    return true
  end, { concurrency = math.max(1, math.min(concurrency, #items)) })
  return stopped or runctl.interrupted()
end

-- Polls until no entry is still in one of the `pending` statuses, or the
-- deadline (seconds from now) passes, or Ctrl-C. retrieve(e) returns the
-- object, nil, resp or nil, err; on_update(e, obj, err) is called after each
-- poll. Polls start quick and back off to 2 s (or openai-poll-after-ms).
-- Returns the entries still pending and why ("deadline" or "interrupted").
function M.wait_all(entries, opts)
  local pending = opts.pending or M.PENDING
  local deadline = core.now() + opts.timeout
  local left = {}
  for _, e in ipairs(entries) do
    if pending[e.status_after] then left[#left + 1] = e end
  end
  local delay = opts.first_delay or 0.2
  while #left > 0 do
    if runctl.interrupted() then return left, "interrupted" end
    local remaining = deadline - core.now()
    if remaining <= 0 then return left, "deadline" end
    if not M.sleep(math.min(delay, remaining)) then return left, "interrupted" end
    local hint
    local still = {}
    M.each_concurrently(left, opts.concurrency or 16, function(e)
      local obj, err, resp = opts.retrieve(e)
      if obj and type(obj.status) == "string" then e.status_after = obj.status end
      local ms = resp and resp.headers and tonumber(resp.headers["openai-poll-after-ms"])
      if ms and ms >= 0 then hint = ms / 1000 end
      if opts.on_update then opts.on_update(e, obj, err) end
      if pending[e.status_after] then still[#still + 1] = e end
    end, function(e) still[#still + 1] = e end)
    if runctl.interrupted() then
      -- entries not polled this round keep their last status
      local seen = {}
      for _, e in ipairs(still) do seen[e] = true end
      for _, e in ipairs(left) do
        if not seen[e] and pending[e.status_after] then still[#still + 1] = e end
      end
      return still, "interrupted"
    end
    left = still
    delay = hint or math.min(delay * 2, 2)
  end
  return left, nil
end

-- --wait for the entries a script held back because their cancel left them
-- cancelling (their action is decided): polls them with retrieve(e) until
-- their status leaves `pending` (default M.PENDING) or `timeout` seconds
-- pass, then settles them, the ones still pending with an error saying so.
-- opts: name, timeout, retrieve, concurrency, pending, one/many (nouns),
-- shown (the --wait the messages name, when timeout is what is left of it).
-- Returns how many were still pending at the deadline, and whether Ctrl-C
-- cut the wait short.
function M.wait_and_settle(ledger, entries, opts)
  if #entries == 0 then return 0, false end
  M.say(false, "%s: waiting up to %gs for %d %s to leave cancelling", opts.name, opts.shown or opts.timeout,
        #entries, #entries == 1 and (opts.one or "run") or (opts.many or "runs"))
  local left, why = M.wait_all(entries, {
    timeout = opts.timeout, concurrency = opts.concurrency, retrieve = opts.retrieve,
    pending = opts.pending,
    on_update = function(e, _, err) e.wait_error = err and tostring(err) or nil end,
  })
  for _, e in ipairs(left) do
    e.error = why == "deadline"
              and ("still %s after waiting %gs%s"):format(e.status_after, opts.shown or opts.timeout,
                                                           e.wait_error and ": " .. e.wait_error or "")
              or "interrupted while waiting"
  end
  for _, e in ipairs(entries) do
    e.wait_error = nil
    if ledger:is_pending(e) then ledger:settle(e) end
  end
  return why == "deadline" and #left or 0, why == "interrupted"
end

---------------------------------------------------------------------- running a script

-- Runs body(args) and exits with its code. A usage error prints
-- "NAME: message" and a hint on stderr and exits 2; any other raise (a bug)
-- is raised again with the traceback of where it happened, which the host
-- prints before exiting 1.
function M.main(name, body, args)
  runctl.interrupted()          -- opt in to a graceful first Ctrl-C at once
  local ok, code = xpcall(body, function(e)
    if M.is_usage_error(e) then return e end
    return debug.traceback(tostring(e), 2)
  end, args)
  if not ok then
    if M.is_usage_error(code) then
      io.stderr:write(name, ": ", code.message, "\nTry 'runctl help ", name, "'.\n")
      os.exit(M.EXIT_USAGE)
    end
    error(code, 0)
  end
  io.stdout:flush()
  os.exit(code or 0)
end

-- A client for the script: the flags and environment, with --concurrency
-- and --rate on top.
function M.client(opts)
  local cfg = {}
  if opts.concurrency then cfg.max_concurrency = opts.concurrency end
  if opts.rate then cfg.rate = opts.rate end
  local ok, c = pcall(runctl.client, cfg)
  if not ok then   -- a configuration problem (e.g. --azure without its settings): exit 2, no traceback
    M.usage_error((tostring(c):gsub("^[^\n]-:%d+: ", "", 1)))
  end
  return c
end

-- A monotonic clock in seconds, for deadlines and elapsed times.
M.clock = core.now

-- Now, in whole seconds since the epoch, as the API's timestamps are.
function M.now() return math.floor(core.time()) end

-- Writes the human summary lines to stderr (not under -q unless asked).
function M.say(force, fmt, ...)
  if M.quiet() and not force then return end
  io.stderr:write(select("#", ...) > 0 and fmt:format(...) or fmt, "\n")
end

return M
