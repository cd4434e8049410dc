-- tests/hosts/love/main.lua — LÖVE 11 drives runctl from love.update (one
-- runctl.poll per frame, never blocking it); see tests/hosts/scenario.lua.
package.path = assert(os.getenv("RUNCTL_HOSTS_DIR")) .. "/?.lua;" .. package.path
local S = require "scenario"

function love.load() S.start() end

function love.update()
  if S.step() then love.event.quit(S.finish() and 0 or 1)
  elseif S.frames > 60 * 60 then
    io.stdout:write("timeout after ", S.frames, " frames\n")
    love.event.quit(2)
  end
end
