-- lua/lib/extensions.lua — extension files (require "runctl.extensions"): which directories
-- hold them, in what order they run, and package.path for the modules beside
-- them. The host runs them through runctl_load_extensions (lua/ext.c).
local extdir = require "runctl.extdir"
local check = require "runctl.api.option_checks"

local M = {}

-- ext.dirs() -> the extension directories, earliest first: each of
-- $RUNCTL_PATH (colon-separated), the user's ($XDG_CONFIG_HOME/runctl/ext,
-- else ~/.config/runctl/ext), then the system's (PREFIX/share/runctl/ext).
function M.dirs()
  local dirs = {}
  for d in (check.env("RUNCTL_PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  local config = check.env("XDG_CONFIG_HOME")
  if not (config and config:sub(1, 1) == "/") then         -- XDG: a relative value is ignored
    local home = check.env("HOME")
    config = home and home .. "/.config"
  end
  if config then dirs[#dirs + 1] = config .. "/runctl/ext" end
  dirs[#dirs + 1] = extdir.system()
  return dirs
end

-- The message of an extension's error, with its file when Lua gave none.
local function located(path, e)
  local msg = type(e) == "string" and e or tostring(e)
  if msg:sub(1, #path + 1) ~= path .. ":" then msg = path .. ": " .. msg end
  return msg
end

-- ext.load() -> true | nil, "FILE:LINE: message". Puts the directories first
-- in package.path (DIR/?.lua, DIR/?/init.lua: helper modules belong in a
-- subdirectory, since every top-level *.lua file is an extension), then runs
-- every *.lua file of each directory, sorted by name; a file name loaded
-- from an earlier directory hides the same name in later ones. Stops at the
-- first broken file.
function M.load()
  local dirs = M.dirs()
  local searched = {}
  for _, d in ipairs(dirs) do searched[#searched + 1] = d .. "/?.lua;" .. d .. "/?/init.lua" end
  package.path = table.concat(searched, ";") .. ";" .. package.path
  local seen = {}
  for _, d in ipairs(dirs) do
    local names, why, missing = extdir.list(d)
    if not names and not missing then return nil, why end
    table.sort(names or {})
    for _, name in ipairs(names or {}) do
      if not seen[name] then
        seen[name] = true
        local path = d .. "/" .. name
        local chunk, err = loadfile(path, "t")
        if not chunk then return nil, err end
        local ok, e = pcall(chunk)
        if not ok then return nil, located(path, e) end
      end
    end
  end
  return true
end

return M
