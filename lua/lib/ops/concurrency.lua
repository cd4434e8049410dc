-- lua/lib/ops/concurrency.lua — bulk work at bounded concurrency (require "runctl.ops.concurrency"):
-- new work stops at Ctrl-C; sleeps that wake for it;
-- and --wait: polling cancelled objects until they leave cancelling.
local core = require "runctl.core"
local task = require "runctl.task"
local runctl = require "runctl"
local kinds = require "runctl.jobs.kinds"
local term = require "runctl.ops.term"

local M = {}

---------------------------------------------------------------------- cancelling

-- Sleeps secs in short steps, returning early (false) once Ctrl-C was
-- pressed: a timer is not woken by the signal, so long waits are cut up.
-- tick(), when given, is called at each step (a live line's clock).
function M.sleep(secs, tick)
  local deadline = core.now() + secs
  while true do
    if runctl.interrupted() then return false end
    local left = deadline - core.now()
    if left <= 0 then return true end
    task.sleep(math.min(left, 0.1))
    if tick then tick() end
  end
end

-- The live line of a wait, on a terminal (stderr; nothing elsewhere):
-- "waiting [####----] 3/10 stopped  slowest: batch_x cancelling  24m50s left".
-- line.draw(done, slowest) with the count stopped and the text of the
-- slowest object (or nil); line.tick() redraws the clock; line.finish()
-- erases it. deadline: on the core.now() clock. Where the slowest object
-- does not fit (a narrow terminal), the time left is shown alone.
function M.wait_line(label, unit, total, deadline)
  local bar = term.progress(label, total, { unit = unit })
  local line = { done = 0 }
  function line.draw(done, slowest, force)
    line.done, line.slowest = done or line.done, slowest
    if not bar.enabled then return end
    local left = term.fmt_age(math.max(0, math.ceil(deadline - core.now()))) .. " left"
    local note = line.slowest and ("slowest: " .. line.slowest .. "  " .. left) or left
    local cols = term.size("stderr")
    if cols and #("%s %d/%d %s  %s"):format(label, line.done, total, unit or "", note) > cols - 1 then note = left end
    bar:update(line.done, note, force)
  end
  function line.tick() line.draw(line.done, line.slowest) end
  function line.finish() bar:finish() end
  line.bar = bar
  return line
end

-- The wait line for entries {kind, parent, id, status_after, age}: how many
-- left `pending` (a set, or per entry its kind's), and the oldest still in it.
function M.entries_line(entries, deadline, pending)
  local line = M.wait_line("waiting", "stopped", #entries, deadline)
  local draw = line.draw
  function line.update(force)
    local stopped, slow = 0, nil
    for _, e in ipairs(entries) do
      local p = pending or (e.kind and e.kind.pending) or kinds.PENDING
      if p[e.status_after] then
        if not slow or (e.age or 0) > (slow.age or 0) then slow = e end
      else
        stopped = stopped + 1
      end
    end
    draw(stopped, slow and ("%s %s"):format(slow.parent and (slow.parent .. "/" .. slow.id) or tostring(slow.id),
                                            tostring(slow.status_after)), force)
  end
  return line
end

-- Stops every bulk job at once for why (a refused API key): each_concurrently
-- starts nothing more; what is left is settled by the script as skipped.
local stopped_because
function M.stop(why) stopped_because = stopped_because or why end
function M.stopped() return stopped_because end

-- Runs fn(item) for each item, at most `concurrency` at once, and starts no
-- new item once Ctrl-C was pressed or M.stop was called (those already
-- running finish). A raise in fn is passed to on_error(item, err). Returns
-- whether it was interrupted (Ctrl-C; a stop is not an interruption).
function M.each_concurrently(items, concurrency, fn, on_error)
  local stopped = false
  task.map(items, function(item)
    if stopped or runctl.interrupted() then stopped = true return true end
    if stopped_because then return true end
    local ok, err = pcall(fn, item)
    if not ok then
      if on_error then on_error(item, err) else error(err, 0) end
    end
    return true
  end, { concurrency = math.max(1, math.min(concurrency, #items)) })
  return stopped or runctl.interrupted()
end

-- Polls until no entry is still in one of the `pending` statuses, or the
-- deadline (seconds from now) passes, or Ctrl-C (opts.poll_all: every entry
-- is polled at least once, pending or not). retrieve(e) returns the
-- object, nil, resp or nil, err; on_update(e, obj, err) is called after each
-- poll. Polls start quick and back off to 2 s (or openai-poll-after-ms).
-- Returns the entries still pending and why ("deadline" or "interrupted").
function M.wait_all(entries, opts)
  local pending = opts.pending or kinds.PENDING
  local deadline = core.now() + opts.timeout
  local left = {}
  for _, e in ipairs(entries) do
    if pending[e.status_after] or opts.poll_all then left[#left + 1] = e end
  end
  local delay = opts.first_delay or 0.2
  while #left > 0 do
    if runctl.interrupted() then return left, "interrupted" end
    if stopped_because then return left, "stopped" end
    local remaining = deadline - core.now()
    if remaining <= 0 then return left, "deadline" end
    if not M.sleep(math.min(delay, remaining), opts.on_tick) then return left, "interrupted" end
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
-- their status leaves `pending` (default kinds.PENDING) or `timeout` seconds
-- pass, then settles them, the ones still pending with an error saying so.
-- Every entry is read at least once (its final cost, a flip-back).
-- opts: name, timeout, retrieve, concurrency, pending, one/many (nouns),
-- shown (the --wait the messages name, when timeout is what is left of it),
-- on_seen(e, obj) for each object read, no_cancelling (the kind stops at
-- once: the message says "read back stopped"), line (a live line from
-- M.entries_line shared by the waits of a job; one of its own otherwise).
-- Returns how many were still pending at the deadline, and whether Ctrl-C
-- cut the wait short.
function M.wait_and_settle(ledger, entries, opts)
  if #entries == 0 then return 0, false end
  term.say(false, "%s: waiting up to %gs for %d %s to %s", opts.name, opts.shown or opts.timeout,
        #entries, #entries == 1 and (opts.one or "run") or (opts.many or "runs"),
        opts.no_cancelling and "read back stopped" or "leave cancelling")
  local line = opts.line or M.entries_line(entries, core.now() + opts.timeout, opts.pending)
  local left, why = M.wait_all(entries, {
    timeout = opts.timeout, concurrency = opts.concurrency, retrieve = opts.retrieve,
    pending = opts.pending,
    poll_all = true,
    on_update = function(e, obj, err)
      e.wait_error = err and tostring(err) or nil
      if obj and opts.on_seen then opts.on_seen(e, obj) end
      line.update()
    end,
    on_tick = line.tick,
  })
  if not opts.line then line.finish() end
  for _, e in ipairs(left) do
    e.error = why == "deadline"
              and ("still %s after waiting %gs%s"):format(e.status_after, opts.shown or opts.timeout,
                                                           e.wait_error and ": " .. e.wait_error or "")
              or why == "stopped" and ("not waited for: " .. stopped_because)
              or "interrupted while waiting"
  end
  for _, e in ipairs(entries) do
    e.wait_error = nil
    if ledger:is_pending(e) then ledger:settle(e) end
  end
  return why == "deadline" and #left or 0, why == "interrupted"
end


return M
