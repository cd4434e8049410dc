-- lua/lib/api/task_loops.lua — bounded parallel loops over tasks, added to the task
-- module: task.map (order-preserving, keeps every result) and task.each
-- (streams: keeps nothing, for jobs of any size).
local compat = require "runctl.compat"
local math, scope = compat.math, compat.scope   -- Lua 5.1 (LuaJIT) too
local task = require "runctl.task"
local typename = require("runctl.api.option_checks").typename

-- A to-be-closed value (compat.scope) that cancels the workers still running when the
-- caller's scope ends (an error, a deadline, the caller being cancelled).
local function cancel_on_close(workers)
  return setmetatable({}, { __close = function()
    for _, t in ipairs(workers) do pcall(task.cancel, t) end
  end })
end

-- Checks the arguments both loops take; returns the concurrency (default 16).
-- level: the caller of task.map/task.each, for the error's position.
local function check_loop(name, items, items_ok, fn, opts, opts_text)
  if not items_ok then
    error(("task.%s: items must be a table%s (got %s)"):format(name,
          name == "each" and " or an iterator function" or "", typename(items)), 3)
  end
  if type(fn) ~= "function" then
    error(("task.%s: fn must be a function (got %s)"):format(name, typename(fn)), 3)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("task.%s: options must be a table %s (got %s)"):format(name, opts_text, typename(opts)), 3)
  end
  local concurrency = opts and opts.concurrency or 16
  if math.type(concurrency) ~= "integer" or concurrency < 1 then
    error(("task.%s: concurrency must be a positive integer"):format(name), 3)
  end
  return concurrency
end

-- task.map(items, fn, {concurrency = n, deadline = s}) -> results, errs (both
-- indexed like items). fn(item, i) returns a value, or nil, err; a raise
-- becomes errs[i] too. With a deadline, the items not done when it passes
-- (those in flight are called off) get errs[i] = an "aborted" error. Leaving
-- task.map in any way (the calling task cancelled too) ends its workers.
function task.map(items, fn, opts)
  local concurrency = check_loop("map", items, type(items) == "table", fn, opts,
                                 "{concurrency = n, deadline = s}")
  local deadline = opts and opts.deadline
  -- not (deadline >= 0) is also true for NaN, which deadline < 0 would let through
  if deadline ~= nil and (type(deadline) ~= "number" or not (deadline >= 0) or deadline == math.huge) then -- luacheck: ignore 581
    error("task.map: deadline must be a finite, non-negative number of seconds", 2)
  end
  local n = #items
  local results, errs = {}, {}
  local next_index = 0
  local doing = {}            -- worker number -> the index it works on
  local function worker(w)
    while true do
      next_index = next_index + 1
      local i = next_index
      if i > n then return end
      doing[w] = i
      local ok, value, err = pcall(fn, items[i], i)
      doing[w] = nil
      if not ok then errs[i] = value
      elseif value == nil then errs[i] = err
      else results[i] = value end
    end
  end
  local workers = {}
  return scope(cancel_on_close(workers), function()
    for w = 1, math.min(concurrency, n) do
      workers[w] = task.spawn(worker, w)
      if deadline then task.deadline(workers[w], deadline) end
    end
    local aborted
    for w, t in ipairs(workers) do
      local ok, err = task.join(t)
      if ok == nil then         -- called off (its deadline): its item and the unstarted ones
        aborted = err
        if doing[w] then errs[doing[w]] = err end
      elseif not ok then
        error(err, 0)
      end
    end
    if aborted then
      for i = next_index + 1, n do errs[i] = aborted end
    end
    return results, errs
  end)
end

-- task.each(items, fn, {concurrency = n}) -> done, failed, first_err: like
-- task.map but keeps no result, so memory stays flat however many items there
-- are. items is a table or an iterator function returning the next item (nil
-- at the end), such as io.lines(path). fn(item, i) returns a value (done) or
-- nil, err, or raises (failed); first_err is the first failure's error.
-- Leaving task.each in any way ends its workers.
function task.each(items, fn, opts)
  local concurrency = check_loop("each", items, type(items) == "table" or type(items) == "function",
                                 fn, opts, "{concurrency = n}")
  local i, ended = 0, false
  local next_item
  if type(items) == "table" then
    local n = #items
    concurrency = math.min(concurrency, n)
    next_item = function()
      if i >= n then return nil end
      i = i + 1
      return i, items[i]
    end
  else
    next_item = function()             -- never called again once it ended (or raised):
      if ended then return nil end     -- io.lines raises after its last line
      ended = true
      local item = items()
      if item == nil then return nil end
      ended = false
      i = i + 1
      return i, item
    end
  end
  local done, failed, first_err = 0, 0, nil
  local function worker()
    while true do
      local index, item = next_item()
      if index == nil then return end
      local ok, value, err = pcall(fn, item, index)
      if ok and value ~= nil then
        done = done + 1
      else
        failed = failed + 1
        if failed == 1 then first_err = ok and err or value end
      end
    end
  end
  local workers = {}
  return scope(cancel_on_close(workers), function()
    for w = 1, concurrency do workers[w] = task.spawn(worker) end
    for _, t in ipairs(workers) do
      local ok, err = task.join(t)
      if not ok then error(err, 0) end
    end
    return done, failed, first_err
  end)
end

return task
