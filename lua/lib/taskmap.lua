-- lua/lib/taskmap.lua — bounded parallel loops over tasks, added to the task
-- module: task.map (order-preserving, keeps every result) and task.each
-- (streams: keeps nothing, for jobs of any size).
local task = require "runctl.task"
local typename = require("runctl.check").typename

-- Checks the arguments of task.map or task.each (named by where; items may be
-- a function for task.each) and returns the concurrency (default 16).
local function check_args(where, items, fn, opts, items_may_be_function)
  if type(items) ~= "table" and not (items_may_be_function and type(items) == "function") then
    error(("%s: items must be a table%s (got %s)"):format(where,
          items_may_be_function and " or an iterator function" or "", typename(items)), 3)
  end
  if type(fn) ~= "function" then
    error(where .. ": fn must be a function (got " .. typename(fn) .. ")", 3)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(where .. ": options must be a table {concurrency = n} (got " .. typename(opts) .. ")", 3)
  end
  local concurrency = opts and opts.concurrency or 16
  if math.type(concurrency) ~= "integer" or concurrency < 1 then
    error(where .. ": concurrency must be a positive integer", 3)
  end
  return concurrency
end

-- Runs fn(item, i) for every item next_item() hands out (i, item; nil at the
-- end) in `workers` tasks, passing each outcome to record(i, value, err): a
-- raise or nil, err is a failure. Waits for all; a worker's own failure raises.
local function run(next_item, fn, workers, record)
  local function worker()
    while true do
      local i, item = next_item()
      if i == nil then return end
      local ok, value, err = pcall(fn, item, i)
      if not ok then record(i, nil, value)
      elseif value == nil then record(i, nil, err)
      else record(i, value) end
    end
  end
  local tasks = {}
  for w = 1, workers do tasks[w] = task.spawn(worker) end
  for _, t in ipairs(tasks) do
    local ok, err = task.join(t)
    if not ok then error(err, 0) end
  end
end

-- A next_item over items[1..#items].
local function over_table(items)
  local n, i = #items, 0
  return function()
    if i >= n then return nil end
    i = i + 1
    return i, items[i]
  end, n
end

-- task.map(items, fn, {concurrency = n}) -> results, errs (both indexed like items).
-- fn(item, i) returns a value, or nil, err; a raise becomes errs[i] too.
function task.map(items, fn, opts)
  local concurrency = check_args("task.map", items, fn, opts, false)
  local results, errs = {}, {}
  local next_item, n = over_table(items)
  run(next_item, fn, math.min(concurrency, n), function(i, value, err)
    if value == nil then errs[i] = err else results[i] = value end
  end)
  return results, errs
end

-- task.each(items, fn, {concurrency = n}) -> done, failed, first_err: like
-- task.map but keeps no result, so memory stays flat however many items there
-- are. items is a table or an iterator function returning the next item (nil
-- at the end), such as io.lines(path). fn(item, i) returns a value (done) or
-- nil, err, or raises (failed); first_err is the first failure's error.
function task.each(items, fn, opts)
  local concurrency = check_args("task.each", items, fn, opts, true)
  local next_item, workers
  if type(items) == "table" then
    next_item, workers = over_table(items)
    workers = math.min(concurrency, workers)
  else
    local i, ended = 0, false
    next_item = function()             -- never called again once it ended (or raised):
      if ended then return nil end     -- io.lines raises after its last line
      ended = true
      local item = items()
      if item == nil then return nil end
      ended = false
      i = i + 1
      return i, item
    end
    workers = concurrency
  end
  local done, failed, first_err = 0, 0, nil
  run(next_item, fn, workers, function(_, value, err)
    if value ~= nil then
      done = done + 1
    else
      failed = failed + 1
      if failed == 1 then first_err = err end
    end
  end)
  return done, failed, first_err
end

return task
