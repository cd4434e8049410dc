-- lua/lib/ops/cancel_job.lua — one bulk cancel job from start to end (require
-- "runctl.ops.cancel_job"), what cancel, cancel-older-than and unblock-thread share:
-- the set-up (dry run, report, client, ledger), a cancel sent and its outcome
-- and cost recorded, --wait per kind (flip-backs seen), and the end: the rest
-- of the report, the human summary on stderr and the exit code.
local math = require("runctl.compat").math   -- Lua 5.1 (LuaJIT) too
local core = require "runctl.core"
local runctl = require "runctl"
local args = require "runctl.ops.args"
local term = require "runctl.ops.term"
local ledgers = require "runctl.ops.ledger"
local kinds = require "runctl.jobs.kinds"
local outcome = require "runctl.api.cancel_outcomes"
local bulk = require "runctl.ops.concurrency"
local json = require "runctl.json"
local config = require "runctl.ops.config"
local picks = require "runctl.jobs.selection"

local M = {}

-- Checks the configuration (key, base URL, Azure settings) before any work
-- (M.client does, before a job opens its report): a problem exits 2 with one
-- line naming the variable or flag, nothing sent.
function M.check_config()
  local problem = config.problem()
  if problem then args.config_error(problem) end
end

-- A client for the script: the flags and environment, with --concurrency
-- and --rate on top.
function M.client(opts)
  M.check_config()
  local cfg = {}
  if opts.concurrency then cfg.max_concurrency = opts.concurrency end
  if opts.rate then cfg.rate = opts.rate end
  local ok, c = pcall(runctl.client, cfg)
  if not ok then   -- a configuration problem (e.g. --azure without its settings): exit 2, no traceback
    args.usage_error((tostring(c):gsub("^[^\n]-:%d+: ", "", 1)))
  end
  return c
end

-- What the progress line says while the server's rate limit holds the job
-- back: "paced by the server: 198/s", "paused by the server: 12s", or nil.
function M.pace_note(client)
  local rl = client:rate_limit()
  if not rl then return nil end
  local paused = rl.paused_until - core.now()
  if paused >= 1 then return ("paused by the server: %.0fs"):format(paused) end
  if rl.pacing and rl.pace > 0 then return ("paced by the server: %.0f/s"):format(rl.pace) end
  return nil
end

-- The summary's line on the server's rate limit, or nil when it never
-- answered 429: "the server's rate limit answered 429 36 times; paced at 196/s".
function M.rate_limit_text(client)
  local rl = client:rate_limit()
  if not rl or rl.rate_limited == 0 then return nil end
  return ("the server's rate limit answered 429 %d time%s%s"):format(rl.rate_limited,
         rl.rate_limited == 1 and "" or "s", rl.pace > 0 and (("; paced at %.0f/s"):format(rl.pace)) or "")
end

-- Wall time: whole seconds since the epoch, as the API's timestamps (created_at) are.
function M.unix_time() return math.floor(core.unix_time()) end

local Job = {}
Job.__index = Job

-- Starts a job for script `name` with its parsed options o (dry_run,
-- report, json, concurrency, rate, wait): under --dry-run the client refuses
-- every non-GET request from here on, so a dry run is enforced below the
-- script. header (see ledger.report: args, threads) opens the report; the
-- client (the configuration checked) comes first, so a misconfigured run
-- leaves the last report alone.
function M.start(name, o, header)
  header = header or {}
  if o.dry_run then runctl.dry_run = true end
  local client = M.client(o)
  local h = { report = name }
  for k, v in pairs(header or {}) do h[k] = v end
  local report, err = ledgers.report(o.report, h, o.json)
  if not report then args.usage_error("--report: cannot open " .. o.report .. ": " .. tostring(err)) end
  return setmetatable({ name = name, o = o, report = report, ledger = ledgers.ledger(report),
                        client = client, args = header.args, threads = header.threads, concurrency = o.concurrency or 16,
                        unix_time = M.unix_time(),
                        t0 = core.now(), held = {}, still = 0, still_lines = {},
                        before = 0, interrupted = false }, Job)
end

-- Calls verb ("cancel", "retrieve") of e's kind with e's IDs.
function Job:call(e, verb)
  local api = e.kind.resource(self.client)
  local fn = api and api[verb]
  if not fn then error(("this runctl cannot %s %s"):format(verb, e.kind.many), 0) end
  if e.kind.parent then return fn(e.parent, e.id) end
  return fn(e.id)
end

function Job:can(e, verb)
  local api = e.kind.resource(self.client)
  return api ~= nil and api[verb] ~= nil
end

-- Notes what an object says about e: its age (if unknown) and its cost.
function Job:saw(e, obj)
  if type(obj) ~= "table" then return end
  if e.age == nil and math.type(obj.created_at) then e.age = self.unix_time - obj.created_at end
  e.cost = kinds.cost_of(e.kind, obj) or e.cost
end

-- Sends e's cancel and settles e with its outcome, or holds it for --wait
-- when it is stopping (its cancel accepted, or someone else's under way) and
-- the kind can be read back.
function Job:cancel(e)
  local obj, err, resp = self:call(e, "cancel")
  local f = outcome.classify_cancel(obj, err, resp, e.status_before)
  local seen = f.seen
  if not e.past_note and type(seen) == "table" and e.kind.cancel_past_expiry and f.outcome == "cancel_requested"
     and math.type(seen[e.kind.expires]) and seen[e.kind.expires] <= self.unix_time then
    e.past_note = picks.PAST_EXPIRY_NOTE       -- the answer says it had run past its expiry time
  end
  if e.past_note then f.note = e.past_note end     -- picked past its expiry time: the line says so
  if f.action == "already_done" or f.action == "expired" then
    e.status_before = e.status_before or f.status_after
  end
  self:saw(e, f.seen)
  f.seen = nil
  -- only what this run stopped is waited for: one found cancelling already
  -- (someone else's cancel) is reported so and judged by no deadline
  local stopping = f.outcome == "cancel_requested"
  if f.outcome == "already_cancelling" then self.before = self.before + 1 end
  if self.o.wait and stopping and self:can(e, "retrieve") then
    for k, v in pairs(f) do e[k] = v end
    self.held[#self.held + 1] = e
  else
    self.ledger:settle(e, f)
  end
end

-- Cancels every entry, at most --concurrency at once, with a progress bar;
-- before(e), when given, runs first and returns true when it settled e.
-- Ctrl-C stops starting new ones.
function Job:cancel_all(entries, before)
  local ledger = self.ledger
  ledger.progress = term.progress(self.o.dry_run and "checking" or "cancelling", #entries)
  ledger.progress.note_fn = function() return M.pace_note(self.client) end
  local cut = bulk.each_concurrently(entries, self.concurrency, function(e)
    if before and before(e) then return end
    self:cancel(e)
  end, ledger:fail_on_error())
  ledger.progress:finish()
  ledger.progress = nil
  self.interrupted = self.interrupted or cut
end

-- An accepted cancel read back in a final status that is not a cancel (nor
-- an expiry) did not stop the object: it is reported so, not as a success.
local function check_flip(e, obj)
  if type(obj) == "table" and e.outcome == "cancel_requested" and e.kind.stopped_anyway[obj.status] then
    e.outcome = "finished_anyway"
    e.note = ("the cancel was accepted, then it finished anyway as '%s'"):format(obj.status)
  end
end

-- --wait: polls the held entries, each kind within its own deadline
-- (--wait SECONDS, or the kind's `wait` when --wait has no value), until
-- they leave cancelling; each is read at least once, so a flip-back shows.
function Job:wait()
  if not self.o.wait or self.interrupted or #self.held == 0 then return end
  local groups, order, longest = {}, {}, 0
  for _, e in ipairs(self.held) do
    if not groups[e.kind] then groups[e.kind] = {} order[#order + 1] = e.kind end
    table.insert(groups[e.kind], e)
  end
  local function timeout_of(kind) return self.o.wait == true and kind.wait or self.o.wait end
  for _, kind in ipairs(order) do longest = math.max(longest, timeout_of(kind)) end
  -- one live line for the whole wait, whatever the kinds
  local line = bulk.entries_line(self.held, core.now() + longest)
  bulk.each_concurrently(order, #order, function(kind)
    local n, cut = bulk.wait_and_settle(self.ledger, groups[kind], {
      name = self.name, timeout = timeout_of(kind), line = line,
      concurrency = self.concurrency, pending = kind.pending, one = kind.one, many = kind.many,
      no_cancelling = next(kind.cancelling) == nil,
      retrieve = function(e) return self:call(e, "retrieve") end,
      on_seen = function(e, obj) self:saw(e, obj) check_flip(e, obj) end,
    })
    if n > 0 then
      self.still = self.still + n
      self.still_lines[#self.still_lines + 1] = ("%d %s still cancelling when --wait %gs ran out"):format(
        n, n == 1 and kind.one or kind.many, timeout_of(kind))
    end
    self.interrupted = self.interrupted or cut
  end)
  line.finish()
  self.held = {}
end

---------------------------------------------------------------------- the end

-- "3 runs", "1 batch", "5 objects" (when the job's entries are of several kinds).
function Job:counted(n)
  local kind
  for _, e in pairs(self.ledger.keys) do
    if e.id ~= nil then
      if kind and e.kind ~= kind then return n .. (n == 1 and " object" or " objects") end
      kind = e.kind
    end
  end
  kind = kind or self.kind or kinds.get("runs")
  return n .. " " .. (n == 1 and kind.one or kind.many)
end

local function say_list(title, list, text_of)
  for i, e in ipairs(list) do
    if i > 10 then
      term.say(true, "  ... and %d more %s (see the report)", #list - 10, title)
      break
    end
    term.say(true, "  %s: %s: %s", title, ledgers.name_of(e), text_of(e))
  end
end

-- One value of a cost for people: a null is "-", a table its JSON.
local function cost_value(v)
  if v == json.null or v == nil then return "-" end
  if type(v) == "table" then return json.encode(v) or "?" end
  return tostring(v)
end

-- "request_counts completed=142 failed=0 total=2000, output_file_id -":
-- a table's fields one level down, a null as "-".
function M.cost_text(cost)
  local parts = {}
  for k, v in pairs(cost) do
    if type(v) == "table" and v ~= json.null and #v == 0 then
      local inner = {}
      for ik, iv in pairs(v) do inner[#inner + 1] = tostring(ik) .. "=" .. cost_value(iv) end
      table.sort(inner)
      parts[#parts + 1] = k .. " " .. (#inner > 0 and table.concat(inner, " ") or "{}")
    else
      parts[#parts + 1] = k .. " " .. cost_value(v)
    end
  end
  table.sort(parts)
  return table.concat(parts, ", ")
end

-- A cost for a table cell: "142/2000 requests", "1250000 tokens", "" when
-- the object says nothing countable (see cost_text for every field).
function M.cost_brief(cost)
  if type(cost) ~= "table" then return "" end
  local parts = {}
  local function counts(t, noun)
    if type(t) == "table" and math.type(t.total) then
      parts[#parts + 1] = ("%s/%d %s"):format(tostring(t.completed or 0), t.total, noun)
    end
  end
  counts(cost.request_counts, "requests")
  counts(cost.file_counts, "files")
  if type(cost.usage) == "table" and math.type(cost.usage.total_tokens) then
    parts[#parts + 1] = cost.usage.total_tokens .. " tokens"
  end
  if math.type(cost.trained_tokens) then parts[#parts + 1] = cost.trained_tokens .. " tokens trained" end
  return table.concat(parts, ", ")
end

-- The lines under the summary: failures, notes (not cancellable, finished
-- anyway), costs of what was cancelled.
function Job:details()
  local notes, costs = {}, {}
  local settled = {}
  for _, e in pairs(self.ledger.keys) do settled[#settled + 1] = e end
  table.sort(settled, function(a, b) return a.seq < b.seq end)
  for _, e in ipairs(settled) do
    if e.note and e.outcome ~= "already_finished" and e.outcome ~= "already_cancelling" then
      notes[#notes + 1] = e
    end
    if e.cost and e.action == "cancelled" then costs[#costs + 1] = e end
  end
  say_list("failed", self.ledger.failures, function(e) return tostring(e.error) end)
  say_list("note", notes, function(e) return e.outcome .. ": " .. e.note end)
  say_list("cost", costs, function(e) return ("%s; %s"):format(tostring(e.status_after), M.cost_text(e.cost)) end)
end

-- Ends the job: settles what is left (why: the error those lines get),
-- closes the report, writes the summary "NAME: head: counts [time]" and
-- what follows it, and returns the exit code. opts: why, refused (a refused
-- confirmation: exit 2), blocked (another reason to exit 1), group (the
-- noun for group lines, "thread", counted apart when skipped).
function Job:finish(head, opts)
  opts = opts or {}
  local ledger, name = self.ledger, self.name
  ledger:settle_rest(opts.why or (self.interrupted and "interrupted" or "not attempted"))
  local write_ok, write_err = self.report:close()
  local anyway = 0
  for _, e in pairs(ledger.keys) do if e.outcome == "finished_anyway" then anyway = anyway + 1 end end
  local code = ledger:exit_code(self.interrupted, self.still > 0 or anyway > 0 or opts.blocked or not write_ok)
  if opts.refused then code = ledgers.EXIT_USAGE end
  term.say(code ~= 0, "%s: %s: %s%s  [%.1fs]", name, head, ledger:counts_text(),
           anyway > 0 and ("; %d of them finished anyway"):format(anyway) or "", core.now() - self.t0)
  if self.o.dry_run then term.say(false, "%s: dry run: no cancel was sent", name) end
  local limited = M.rate_limit_text(self.client)
  if limited then term.say(false, "%s: %s", name, limited) end
  self:details()
  for _, line in ipairs(self.extra_lines or {}) do term.say(true, "%s: %s", name, line) end
  for _, line in ipairs(self.still_lines) do term.say(true, "%s: %s", name, line) end
  if self.interrupted then       -- "the report" only when one was kept (else the next step says how)
    term.say(true, "%s: interrupted: %s%s skipped; %s has a line for each", name,
             self:counted(ledger.counts.skipped),
             opts.group and (" and " .. term.plural(ledger.group_counts.skipped, opts.group)) or "",
             self:report_path() and "the report" or "stdout")
  end
  if self.before > 0 then
    term.say(false, "%s: %s already cancelling before this run (someone else's cancel): not waited for, "
             .. "not counted against it", name, self:counted(self.before))
  end
  if not write_ok then term.say(true, "%s: cannot write the report: %s", name, write_err) end
  if code ~= 0 and not opts.refused and not self.o.dry_run then term.next_step(self:next_step(opts)) end
  return code
end

---------------------------------------------------------------------- the next step

local function quote(s)
  s = tostring(s)
  if s:match("^[%w_./:=,@%-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Where the report went when it is a file: --report FILE, or stdout
-- redirected to a file (found through /proc: the shell's parent is this
-- process). nil and what stdout is instead: a terminal, a pipe, not a file.
function Job:report_path()
  local path = self.o.report
  if path and path ~= "-" then return path end
  if self.report.human then return nil, "a terminal" end
  if not io.stdout:seek("cur") then return nil, "a pipe" end
  local p = io.popen("readlink /proc/$PPID/fd/1 2>/dev/null")
  local target = p and p:read("l")
  if p then p:close() end
  -- (a device such as /dev/null seeks too; a deleted file keeps its name with " (deleted)")
  local f = target and target:sub(1, 1) == "/" and not target:find("^/dev/") and not target:find("^/proc/")
            and not target:find(" %(deleted%)$") and io.open(target, "r")
  if f then f:close() return target end
  return nil, "not a file"
end

-- "runctl NAME ARGS..." with the report left out (--report X) and extra
-- words added. What came from stdin cannot be given again that way: the
-- job's threads (header.threads) are written out instead of "-" (or added
-- when the arguments name none of them); other IDs read from stdin get a
-- note saying to feed them again.
function Job:command(extra)
  local words, skip, stdin, named = { "runctl", self.name }, false, false, false
  local threads = {}
  for _, t in ipairs(self.threads or {}) do if t then threads[t] = true end end
  for _, a in ipairs(self.args or {}) do
    if skip then skip = false
    elseif a == "--report" then skip = true
    elseif a == "-" then stdin = true
    elseif not a:match("^%-%-report=") then
      words[#words + 1] = quote(a)
      if threads[a] or a:match("^%-%-threads%-file") then named = true end
    end
  end
  if next(threads) and not named then
    for _, t in ipairs(self.threads) do words[#words + 1] = quote(t) end
    stdin = false
  end
  for _, w in ipairs(extra or {}) do words[#words + 1] = quote(w) end
  return table.concat(words, " ") .. (stdin and " (with the same IDs on stdin)" or "")
end

-- What watch takes to follow the objects still cancelling when --wait ran
-- out: their IDs (a run's thread), or --kind KIND when there are many of a
-- listable kind.
function Job:still_targets()
  local words, seen, by_kind = {}, {}, {}
  local list = {}
  for _, e in pairs(self.ledger.keys) do list[#list + 1] = e end
  table.sort(list, function(a, b) return a.seq < b.seq end)
  for _, e in ipairs(list) do
    if e.id and e.action == "cancelled" and e.kind and e.kind.pending[e.status_after] then
      local w = e.kind.per_thread and e.parent or (e.parent and (e.parent .. "/" .. e.id)) or e.id
      if not seen[w] then seen[w] = true words[#words + 1] = w end
      by_kind[e.kind] = true
    end
  end
  if #words > 8 then
    words = {}
    for kind in pairs(by_kind) do
      if kind.list ~= "each" then return nil end
      words[#words + 1] = "--kind " .. kind.name
    end
    table.sort(words)
  end
  return #words > 0 and table.concat(words, " ") or nil
end

-- The command that finishes what this run left (opts: finish's): a resume
-- or retry from the report when there is one, else how to get one; nil
-- when nothing is left to do again (a cancel accepted, then finished anyway).
function Job:next_step(opts)
  local path, stdout_is = self:report_path()
  local left = self.ledger.counts.failed + self.ledger.counts.skipped + self.ledger.group_counts.failed
               + self.ledger.group_counts.skipped
  if left == 0 and self.still > 0 then       -- only slow to stop: follow them
    local targets = self:still_targets()
    if targets then return "next: follow them until they stop: runctl watch " .. targets end
  end
  if left == 0 and self.still == 0 and not opts.blocked and not self.interrupted then return nil end
  if not path then
    local to = self.name .. ".jsonl"
    return ("next: no report was kept (stdout is %s); run it again with one, which redoes nothing already "
            .. "done: %s"):format(stdout_is, self:command { "--report", to })
  end
  local base = path:gsub("%.jsonl$", "")
  if self.name == "cancel-older-than" then
    return ("next: resume it (what is left, with its filters): runctl cancel-older-than --resume %s --report %s")
           :format(quote(path), quote(base .. ".resumed.jsonl"))
  elseif self.name == "cancel" then
    local cmd = ("runctl cancel --file %s --report %s"):format(quote(path), quote(base .. ".retry.jsonl"))
    if self.o.wait then cmd = cmd .. (self.o.wait == true and " --wait" or (" --wait " .. self.o.wait)) end
    return "next: retry what failed or was skipped: " .. cmd
  end
  return ("next: run it again (it lists the threads anew): %s"):format(self:command { "--report", base .. ".retry.jsonl" })
end

return M
