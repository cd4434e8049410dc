-- tests/luajit/run.lua — runs a Lua test file in `luajit` (or lua5.1) with the
-- LuaJIT build of the module (build-luajit/module/runctl.so), as the runctl
-- command would run it: the module's globals set, the file's main chunk a task,
-- the loop driven by runctl.poll until it ends. Usage:
--   luajit tests/luajit/run.lua BUILD_DIR TEST_FILE [ARGS...]
local build, file = arg[1], arg[2]
package.cpath = build .. "/module/?.so;" .. package.cpath
local runctl = require "runctl"
for _, name in ipairs(runctl.GLOBALS) do _G[name] = runctl[name] end
_G.runctl = runctl
-- The tests are written for Lua 5.4: the harness (not the module, which never
-- touches the interpreter's globals) gives them what 5.1 lacks.
local compat = require "runctl.compat"
-- luacheck: push ignore 122 142 (the harness completes the standard tables on purpose)
math.type, math.tointeger = compat.math.type, compat.math.tointeger
table.pack, table.unpack = compat.table.pack, compat.table.unpack
local execute = os.execute
function os.execute(cmd)                  -- 5.2's results: true|nil, "exit"|"signal", code
  local status = execute(cmd)
  if cmd == nil then return status ~= 0 end
  if status % 256 ~= 0 then return nil, "signal", status % 128 end
  local code = math.floor(status / 256)
  return code == 0 or nil, "exit", code
end
-- luacheck: pop
_G.arg = { [0] = file, select(3, unpack(arg)) }
-- The tests of the runctl command and its bundled scripts: the command is a
-- Lua 5.4 program (the 5.4 pass runs them); the rest run here too.
local COMMAND = "tests the runctl command, a Lua 5.4 program (the Lua 5.4 pass runs it)"
local ONLY_54 = {
  test_cli = COMMAND, test_operator = COMMAND, test_supervise = COMMAND,
  test_scripts_cancel_older_than = COMMAND, test_scripts_interactive = COMMAND,
  test_scripts_jobs = COMMAND, test_scripts_more = COMMAND, test_scripts_outcomes = COMMAND,
  test_screen = COMMAND,
  test_embed_install = "tests make install of the Lua 5.4 build",
  test_ext = "installs the runctl command and runs extension files through it",
  test_embed_module = "loads runctl.so into the stock lua5.4 (tests/hosts load the LuaJIT one)",
  test_hosts = "starts LÖVE and Neovim itself, from the Lua 5.4 pass",
  test_types = "checks the editor types (types/runctl.lua) against the Lua 5.4 runtime",
  test_docs = "checks the docs' samples with the runctl command",
}
-- A test file may say so itself on its first lines ("-- lua5.4-only: why").
local why = ONLY_54[file:match("([^/]+)%.lua$")]
local f = assert(io.open(file))
for _ = 1, 5 do
  why = why or (f:read("*l") or ""):match("^%-%- lua5%.4%-only: (.*)")
end
f:close()
if why then
  print("1..0 # SKIP Lua 5.4 only: " .. why)
  os.exit(0)
end
local chunk = assert(loadfile(file))
local main = runctl.task.spawn(chunk, unpack(_G.arg))
while not main:done() do runctl.poll(-1) end
local ok, err = runctl.task.join(main)   -- the outcome: join of a finished task does not wait
if not ok then
  io.stderr:write(("%s: %s\n"):format(file, tostring(err)))
  os.exit(1)
end
os.exit(0)
