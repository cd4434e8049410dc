-- lua/lib/api/log.lua — log.error/warn/info/debug: one line each on stderr,
-- filtered by the host's log level (-q, -v, OPENAI_LOG).
local core = require "runctl.core"

local log = {}
local function emitter(level, label)
  return function(fmt, ...)
    if core.log_level() < level then return end
    local msg = fmt
    if select("#", ...) > 0 or type(fmt) ~= "string" then
      local ok, s = pcall(string.format, tostring(fmt), ...)
      msg = ok and s or tostring(fmt)
    end
    io.stderr:write("runctl: ", label, ": ", msg, "\n")
  end
end
log.error = emitter(-1, "error")
log.warn = emitter(0, "warning")
log.info = emitter(1, "info")
log.debug = emitter(2, "debug")

return log
