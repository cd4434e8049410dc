-- lua/lib/taskmap.lua — task.map: an order-preserving, bounded parallel map
-- over tasks; added to the task module.
local task = require "runctl.task"
local typename = require("runctl.check").typename

-- task.map(items, fn, {concurrency = n}) -> results, errs (both indexed like items).
-- fn(item, i) returns a value, or nil, err; a raise becomes errs[i] too.
function task.map(items, fn, opts)
  if type(items) ~= "table" then
    error("task.map: items must be a table (got " .. typename(items) .. ")", 2)
  end
  if type(fn) ~= "function" then
    error("task.map: fn must be a function (got " .. typename(fn) .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("task.map: options must be a table {concurrency = n} (got " .. typename(opts) .. ")", 2)
  end
  local concurrency = opts and opts.concurrency or 16
  if math.type(concurrency) ~= "integer" or concurrency < 1 then
    error("task.map: concurrency must be a positive integer", 2)
  end
  local n = #items
  local results, errs = {}, {}
  local next_index = 0
  local function worker()
    while true do
      next_index = next_index + 1
      local i = next_index
      if i > n then return end
      local ok, value, err = pcall(fn, items[i], i)
      if not ok then errs[i] = value
      elseif value == nil then errs[i] = err
      else results[i] = value end
    end
  end
  local workers = {}
  for w = 1, math.min(concurrency, n) do workers[w] = task.spawn(worker) end
  for _, t in ipairs(workers) do
    local ok, err = task.join(t)
    if not ok then error(err, 0) end
  end
  return results, errs
end

return task
