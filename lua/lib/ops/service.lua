-- lua/lib/ops/service.lua — what a script that keeps running needs (require
-- "runctl.ops.service"): stop requests (SIGTERM, Ctrl-C) and reload requests
-- (SIGHUP), a wait that wakes for them, and log lines fit for journald with
-- secrets masked.
local core = require "runctl.core"
local runctl = require "runctl"
local task = require "runctl.task"

local M = {}

-- Environment variables whose values are secrets: never printed.
local SECRET_VARS = require("runctl.api.option_checks").SECRET_VARS

-- text with every API key in it replaced: the values of the secret
-- variables, and anything shaped like an OpenAI key (sk-...).
function M.redact(text)
  text = tostring(text)
  for _, var in ipairs(SECRET_VARS) do
    local v = os.getenv(var)
    if v and #v >= 8 then
      text = text:gsub(v:gsub("%W", "%%%0"), "REDACTED")
    end
  end
  return (text:gsub("sk%-[%w_%-]+", "sk-REDACTED"))
end

-- syslog priorities: under systemd (JOURNAL_STREAM set), a line starting
-- "<3>" is logged at that priority, so `journalctl -p warning` works.
local PRIORITY = { error = 3, warning = 4, info = 6, debug = 7 }

local Service = {}
Service.__index = Service

-- Starts watching: from here SIGTERM and SIGHUP are counted instead of
-- ending the process, and the first Ctrl-C asks for a graceful stop.
-- name prefixes the log lines.
function M.start(name)
  runctl.interrupted()
  local hups = core.signals()
  return setmetatable({ name = name, hups = hups, journald = os.getenv("JOURNAL_STREAM") ~= nil }, Service)
end

-- Whether a stop was asked for (SIGTERM, SIGINT): finish what is in flight,
-- start nothing new.
function Service:stopping()
  local _, terms = core.signals()
  return terms > 0 or runctl.interrupted()
end

-- Whether a SIGHUP arrived since the last call (several count as one).
function Service:reload_requested()
  local hups = core.signals()
  if hups == self.hups then return false end
  self.hups = hups
  return true
end

-- Waits until `deadline` (core.now() time), in short steps (a timer is not
-- woken by a signal). Returns "stop", "reload" (a SIGHUP came: it counts
-- as handled) or "time".
function Service:wait_until(deadline)
  while true do
    if self:stopping() then return "stop" end
    if self:reload_requested() then return "reload" end
    local left = deadline - core.now()
    if left <= 0 then return "time" end
    task.sleep(math.min(left, 0.2))
  end
end

-- One line on stderr: "NAME: LEVEL: text" (errors and warnings always,
-- info unless -q, debug with -v), secrets masked.
function Service:log(level, fmt, ...)
  local lvl = core.log_level()
  if (level == "debug" and lvl < 1) or (level == "info" and lvl < 0) then return end
  local msg = select("#", ...) > 0 and fmt:format(...) or fmt
  msg = core.printable((M.redact(msg):gsub("[\r\n]+", " ")))   -- one line, no controls from outside
  io.stderr:write(self.journald and ("<" .. PRIORITY[level] .. ">") or "", self.name, ": ", level, ": ", msg, "\n")
  io.stderr:flush()
end

return M
