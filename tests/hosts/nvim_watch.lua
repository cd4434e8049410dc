-- tests/hosts/nvim_watch.lua — drives examples/nvim headless: :RunctlWatch on
-- two threads, waits for the listing, puts the cursor on the line of
-- RUNCTL_CANCEL_ID and presses c, waits for the answer, then writes the
-- buffer to stdout and quits (exit 0, or 1 when something never came).
local function main()
vim.cmd("runtime plugin/runctl.lua")          -- -u NONE loads no plugin by itself
local watch = require "runctl_watch"
vim.cmd("RunctlWatch thread_support thread_nightly")
local st = watch.state()
local function out(code)
  io.stdout:write(table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n"), "\n")
  io.stdout:flush()
  os.exit(code)
end
if not vim.wait(10000, function() return #st.rows > 0 end, 10) then out(1) end
local target = os.getenv("RUNCTL_CANCEL_ID")
for i, line in ipairs(vim.api.nvim_buf_get_lines(0, 0, -1, false)) do
  if line:find(target, 1, true) then vim.api.nvim_win_set_cursor(0, { i, 0 }) end
end
vim.api.nvim_feedkeys("c", "x", false)
local ok = vim.wait(10000, function()
  for _, row in ipairs(st.rows) do
    if row.id == target and row.status ~= "cancel sent..." and row.cancelling then return true end
  end
end, 10)
out(ok and 0 or 1)
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  io.stdout:write(tostring(err), "\n")
  os.exit(2)
end
