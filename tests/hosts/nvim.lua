-- tests/hosts/nvim.lua — Neovim (nvim --headless) drives runctl from a
-- vim.loop timer every 16 ms; see tests/hosts/scenario.lua.
package.path = assert(os.getenv("RUNCTL_HOSTS_DIR")) .. "/?.lua;" .. package.path
local S = require "scenario"
S.start()
local timer = vim.loop.new_timer()
timer:start(0, 16, vim.schedule_wrap(function()
  if S.step() then
    timer:stop()
    os.exit(S.finish() and 0 or 1)
  elseif S.frames > 60 * 60 then
    io.stdout:write("timeout after ", S.frames, " frames\n")
    os.exit(2)
  end
end))
