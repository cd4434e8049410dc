-- lua/lib/taskmap.lua — task.map: an order-preserving, bounded parallel map
-- over tasks; added to the task module.
local task = require "runctl.task"
local typename = require("runctl.check").typename

-- task.map(items, fn, {concurrency = n, deadline = s}) -> results, errs (both
-- indexed like items). fn(item, i) returns a value, or nil, err; a raise
-- becomes errs[i] too. With a deadline, the items not done when it passes
-- (those in flight are called off) get errs[i] = an "aborted" error. Leaving
-- task.map in any way (the calling task cancelled too) ends its workers.
function task.map(items, fn, opts)
  if type(items) ~= "table" then
    error("task.map: items must be a table (got " .. typename(items) .. ")", 2)
  end
  if type(fn) ~= "function" then
    error("task.map: fn must be a function (got " .. typename(fn) .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("task.map: options must be a table {concurrency = n, deadline = s} (got " .. typename(opts) .. ")", 2)
  end
  local concurrency = opts and opts.concurrency or 16
  if math.type(concurrency) ~= "integer" or concurrency < 1 then
    error("task.map: concurrency must be a positive integer", 2)
  end
  local deadline = opts and opts.deadline
  if deadline ~= nil and (type(deadline) ~= "number" or not (deadline >= 0) or deadline == math.huge) then
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
  local _ <close> = setmetatable({}, { __close = function()
    for _, t in ipairs(workers) do pcall(task.cancel, t) end
  end })
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
end

return task
