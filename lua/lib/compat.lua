-- lua/lib/compat.lua — what lua/lib needs of Lua 5.3/5.4 when it runs on Lua
-- 5.1 (LuaJIT 2.1: LÖVE, Neovim, OpenResty): math.type/tointeger, table.pack/
-- unpack, and scope, which stands in for a to-be-closed variable. On Lua 5.4
-- it hands back the real ones. A module that needs them starts with
--   local math = require("runctl.compat").math
-- On 5.1 every number is a double: a whole number counts as an integer.
local M = {}
M.lua51 = _VERSION == "Lua 5.1"

if not M.lua51 then
  M.math, M.table = math, table
  -- scope(closer, body, ...) -> body(...): closer's __close runs however the
  -- scope is left (a return, an error, the task being cancelled).
  M.scope = load("return function(closer, body, ...) local _ <close> = closer return body(...) end",
                 "=[runctl]/compat.lua")()
  return M
end

local floor = math.floor
local m, t = {}, {}
for k, v in pairs(math) do m[k] = v end
for k, v in pairs(table) do t[k] = v end

-- 5.4's integers are 64-bit; a double holds every integer up to 2^53 exactly.
m.maxinteger, m.mininteger = 2^53, -2^53

function m.type(x)
  if type(x) ~= "number" then return nil end
  if x == floor(x) and x >= -2^63 and x < 2^63 then return "integer" end
  return "float"
end

function m.tointeger(x)
  if m.type(x) == "integer" then return x end
  return nil
end

t.unpack = table.unpack or rawget(_G, "unpack")
t.pack = table.pack or function(...) return { n = select("#", ...), ... } end
M.math, M.table = m, t

-- No to-be-closed variables on 5.1: a scope's closer is registered for the
-- running coroutine, closed when the scope ends, and closed by the host
-- (lua/compat51.c calls close_thread) when the task ends or is cancelled
-- while inside it. PUC Lua 5.1 cannot yield across pcall: there a raise
-- inside the scope leaves the closer to the task's end.
local closers = setmetatable({}, { __mode = "k" })   -- coroutine -> closers, oldest first
local can_pcall = rawget(_G, "jit") ~= nil

local function close(c)
  local mt = getmetatable(c)
  if mt and mt.__close then mt.__close(c) end
end

local function leave(key, closer)
  local list = closers[key]
  for i = #list, 1, -1 do
    if list[i] == closer then table.remove(list, i) break end
  end
  close(closer)
end

local function finish(key, closer, ok, ...)
  leave(key, closer)
  if not ok then error((...), 0) end
  return ...
end

function M.scope(closer, body, ...)
  local key = coroutine.running() or closers
  local list = closers[key]
  if not list then list = {}; closers[key] = list end
  list[#list + 1] = closer
  if can_pcall then return finish(key, closer, pcall(body, ...)) end
  return finish(key, closer, true, body(...))
end

function M.close_thread(co)
  local list = closers[co]
  if not list then return end
  closers[co] = nil
  for i = #list, 1, -1 do pcall(close, list[i]) end
end

return M
