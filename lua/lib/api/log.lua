-- lua/lib/api/log.lua — log.error/warn/info/debug: one line each on stderr,
-- filtered by the host's log level (-q, -v, OPENAI_LOG); outside text in
-- them is shown escaped (runctl.printable), never sent to the terminal raw.
local core = require "runctl.core"

local log = {}

-- The arguments with every string made one printable line (core.printable):
-- a value from outside cannot forge a line or drive the terminal. Other
-- values pass as they are, for the format's %d (an error object's tostring
-- is printable already).
local function printable_args(...)
  local n = select("#", ...)
  local args = { ... }
  for i = 1, n do
    if type(args[i]) == "string" then args[i] = core.printable(args[i]) end
  end
  return table.unpack(args, 1, n)
end

-- Each line goes through core.printable: the arguments as single lines, the
-- whole message keeping the newlines the format itself holds.
local function emitter(level, label)
  return function(fmt, ...)
    if core.log_level() < level then return end
    local msg = fmt
    if select("#", ...) > 0 or type(fmt) ~= "string" then
      local ok, s = pcall(string.format, tostring(fmt), printable_args(...))
      msg = ok and s or tostring(fmt)
    end
    io.stderr:write("runctl: ", label, ": ", core.printable(msg, true), "\n")
  end
end
log.error = emitter(-1, "error")
log.warn = emitter(0, "warning")
log.info = emitter(1, "info")
log.debug = emitter(2, "debug")

return log
