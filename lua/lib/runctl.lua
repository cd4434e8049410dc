-- lua/lib/runctl.lua — the runctl module (require "runctl"): gathers the Lua
-- half of the API from its modules, and names the globals the host sets.
-- What each piece owns (lua/lib/api/): runctl.api.client (clients,
-- credentials, sending), runctl.api.new_client (runctl.client, with Azure
-- settings), runctl.api.binder and runctl.api.resources (endpoints as data),
-- runctl.api.errors, runctl.api.option_checks, runctl.api.http,
-- runctl.api.log, runctl.api.task_loops (task.map, task.each).
local math = require("runctl.compat").math   -- Lua 5.1 (LuaJIT) too
local core = require "runctl.core"
local json = require "runctl.json"
local errors = require "runctl.api.errors"
local client = require "runctl.api.client"
local bind = require "runctl.api.binder"

local M = {
  VERSION = core.VERSION, json = json, task = require "runctl.api.task_loops",
  log = require "runctl.api.log", http = require "runctl.api.http",
  Error = errors.Error, is_error = errors.is_error,
  client = require("runctl.api.new_client").client,
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
-- resumed, budget_stops, max_resumed, ready, tasks, in_engine, io_stops.
M.frame_budget = core.frame_budget
M.stats = core.stats

-- runctl.printable(text [, multiline]) -> text with every control character
-- (C0, C1, DEL, ESC...) and each byte of invalid UTF-8 shown escaped (\x1b,
-- \u009b, \xff): outside text (IDs, statuses, messages from a server, lines
-- of an ID file) on its way to a terminal or a log line. Newline and tab are
-- escaped too unless multiline is true. (core/text.c; docs/scripting.md.)
M.printable = core.printable

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

-- Job kinds as data (lua/lib/jobs/kinds.lua): runctl.kinds.define(name, def),
-- loaded on first use (see the metatable below: a -e line or a plain script
-- never needs it); and the params validators a definition may use
-- (runctl.params.limit100, ...).
M.params = require "runctl.api.params"

-- What a sandbox leaves out of its copy of this module: what changes the
-- state every run shares, and the host's own settings and figures, which
-- outlive a run: the frame budget, the scheduler's stats (lua/sandbox_env.c
-- reads this set; tests/lua/sandbox-reachable.txt lists what a script reaches).
M.HOST_ONLY = { define = true, kinds = true, HOST_ONLY = true, frame_budget = true, stats = true }

-- runctl.define(name, def): a resource at run time, with the schema of a
-- lua/lib/api/resources.lua entry. Every client (openai and those made before)
-- gets it; its top-level name is (again) a field of this module and, in the
-- runctl host (which set the globals), a global. Raises naming the field at
-- fault, at the caller's line.
function M.define(name, def)
  local root = type(name) == "string" and name:match("^[^.]+") or nil
  local known = false
  for _, r in ipairs(client.ROOTS) do known = known or r == root end
  local globals = rawget(_G, "runctl") == M
  if root and not known and (M[root] ~= nil or M.openai[root] ~= nil or (globals and _G[root] ~= nil)) then
    error(("runctl.define: %s: the name '%s' is taken (a field of runctl, of a client, or a global): "
           .. "pick another"):format(name, root), 2)
  end
  local top, is_new = bind.define(name, def)
  if not top then error("runctl.define: " .. is_new, 2) end
  if is_new then
    for _, list in ipairs { M.GLOBALS, client.ROOTS } do
      list[#list + 1] = top
      table.sort(list)
    end
  end
  M[top] = M.openai[top]
  if globals then rawset(_G, top, M[top]) end
end

-- Fields loaded on first read. Of this table only: a sandbox's copy of the
-- module shares this metatable and must not reach them (kinds is HOST_ONLY).
local LAZY = { kinds = "runctl.jobs.kinds" }

return setmetatable(M, {
  __metatable = false,
  __index = function(t, k)
    if k == "dry_run" then return core.dry_run() end
    if LAZY[k] and rawequal(t, M) then
      local v = require(LAZY[k])
      rawset(M, k, v)
      return v
    end
  end,
  __newindex = function(t, k, v)
    if k == "dry_run" then core.dry_run(v and true or false) else rawset(t, k, v) end
  end,
})
