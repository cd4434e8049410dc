-- lua/lib/runctl.lua — the runctl module (require "runctl"): gathers the Lua
-- half of the API from its modules, and names the globals the host sets.
-- What each piece owns: runctl.client (clients, credentials, sending),
-- runctl.azure (runctl.client with Azure settings), runctl.bind and
-- runctl.resources (endpoints as data), runctl.errors, runctl.check (option
-- checking), runctl.http, runctl.log, runctl.taskmap (task.map).
local core = require "runctl.core"
local json = require "runctl.json"
local errors = require "runctl.errors"
local client = require "runctl.client"

local M = {
  VERSION = core.VERSION, json = json, task = require "runctl.taskmap",
  log = require "runctl.log", http = require "runctl.http",
  Error = errors.Error, is_error = errors.is_error,
  client = require("runctl.azure").client,
}

-- runctl.now() -> monotonic seconds (for measuring; not wall-clock time).
M.now = core.now

-- runctl.interrupted() -> true once Ctrl-C was pressed; a script that asks
-- gets a graceful first Ctrl-C (in-flight requests finish), the second ends it.
M.interrupted = core.interrupted

-- runctl.isatty("stdin"|"stdout"|"stderr"|fd) -> whether it is a terminal.
function M.isatty(which)
  local fd = ({ stdin = 0, stdout = 1, stderr = 2 })[which] or which
  if math.type(fd) ~= "integer" then
    error("runctl.isatty: expected \"stdin\", \"stdout\", \"stderr\" or a file descriptor", 2)
  end
  return core.isatty(fd)
end

-- runctl.frame_budget([ms]) -> the budget of each runctl_poll(L, 0) (and
-- runctl.poll) call in milliseconds, 0 when there is none; ms sets it (0 or
-- false: no budget). runctl.stats() -> the scheduler's bookkeeping: polls,
-- resumed, budget_stops, max_resumed, ready, tasks, in_engine.
M.frame_budget = core.frame_budget
M.stats = core.stats

-- runctl.escape_id(id) -> id percent-encoded as one path segment.
function M.escape_id(id) return core.escape_id(id, "runctl.escape_id: id") end

M.openai = M.client()
-- The names the host sets as globals: the default client, every top-level
-- resource bound to it (runs, batches, fine_tuning, ...), and the modules.
M.GLOBALS = { "openai", "http", "json", "task", "log" }
for _, name in ipairs(client.ROOTS) do
  M[name] = M.openai[name]
  M.GLOBALS[#M.GLOBALS + 1] = name
end
table.sort(M.GLOBALS)

-- runctl.dry_run reads and latches the host's flag (once on, it stays on).
-- Its metatable is locked, so no script can change what the flag does.
return setmetatable(M, {
  __metatable = false,
  __index = function(_, k)
    if k == "dry_run" then return core.dry_run() end
  end,
  __newindex = function(t, k, v)
    if k == "dry_run" then core.dry_run(v and true or false) else rawset(t, k, v) end
  end,
})
