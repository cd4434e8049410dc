-- lua/lib/ops/args.lua — the bundled scripts' command line (require "runctl.ops.args"):
-- flags parsed against a spec, durations, usage errors, ID lists from
-- arguments, files and stdin.
local math = require("runctl.compat").math   -- Lua 5.1 (LuaJIT) too
local runctl = require "runctl"

local M = {}

---------------------------------------------------------------------- durations

local UNITS = { s = 1, m = 60, h = 3600, d = 86400, w = 604800 }

-- The longest duration taken: ten years (an age older than any object; a
-- larger number is a typo, and past 2^53 seconds it is not even exact).
M.MAX_DURATION = 3650 * 86400

-- "90s", "15m", "2h", "1d", "1w", "1h30m", "1.5h", "1e3s" or a bare number
-- of seconds -> seconds (a number >= 0); or nil, why: "too large" past
-- M.MAX_DURATION, else nil alone when s is not a duration.
function M.parse_duration(s)
  if type(s) ~= "string" or s == "" then return nil end
  local total
  if s:match("^%d+%.?%d*$") or s:match("^%d+%.?%d*[eE]%+?%d+$") or s:match("^%.%d+$") then
    total = tonumber(s)
  else
    total = 0
    local pos = 1
    while pos <= #s do
      local num, unit, nxt = s:match("^(%d+%.?%d*[eE]%+?%d+)([smhdw])()", pos)
      if not num then num, unit, nxt = s:match("^(%d*%.?%d+)([smhdw])()", pos) end
      if not num then num, unit, nxt = s:match("^(%d+%.?)([smhdw])()", pos) end
      if not num or not tonumber(num) then return nil end
      total = total + tonumber(num) * UNITS[unit]
      pos = nxt
    end
  end
  if not total or total ~= total or total < 0 then return nil end
  if total > M.MAX_DURATION then return nil, "too large" end
  return total
end

---------------------------------------------------------------------- the command line

-- Raised by parse() for a usage error and caught by M.main: carries the text.
local Usage = {}
Usage.__index = Usage
Usage.__tostring = function(u) return u.message end
function M.usage_error(msg) error(setmetatable({ message = msg }, Usage), 0) end
-- A configuration error: exits 2 like a usage error, with no "Try help" line.
function M.config_error(msg) error(setmetatable({ message = msg, config = true }, Usage), 0) end
function M.is_usage_error(v) return getmetatable(v) == Usage end

local function quote(v) return "'" .. tostring(v) .. "'" end

-- A noun with its article: "a batch", "an eval", "an upload".
function M.a(noun) return (noun:match("^[aeiouAEIOU]") and "an " or "a ") .. noun end

-- Value kinds: each returns the parsed value, or nil and what was wanted.
local KINDS = {
  string = function(v)
    if v ~= "" and not v:find("[%z\1-\31\127]") then return v end
    return nil, "a non-empty value without control characters"
  end,
  duration = function(v)
    local d, why = M.parse_duration(v)
    if d then return d end
    if why then return nil, nil, "too large: at most 3650d (ten years)" end
    return nil, "a duration such as 90s, 15m, 2h, 1d or 1w (s, m, h, d, w; 1h30m)"
  end,
  seconds = function(v)
    local d, why = M.parse_duration(v)
    if d and d > 0 then return d end
    if why then return nil, nil, "too large: at most 3650d (ten years)" end
    return nil, "a positive number of seconds (or 30s, 5m, 1h)"
  end,
  count = function(v)
    local n = math.tointeger(tonumber(v))
    if n and n >= 1 and n <= 100000 and v:match("^%d+$") then return n end
    return nil, "a whole number from 1 to 100000"
  end,
  count0 = function(v)
    local n = math.tointeger(tonumber(v))
    if n and n >= 0 and n <= 100000000 and v:match("^%d+$") then return n end
    return nil, "a whole number >= 0"
  end,
  rate = function(v)
    local n = tonumber(v)
    if n and n > 0 and n < math.huge and v:match("^[%d.]+$") then return n end
    return nil, "a positive number of requests per second"
  end,
  keyvalue = function(v)
    local k, val = v:match("^([^=]+)=(.*)$")
    if k and not v:find("[%z\1-\31\127]") then return { key = k, value = val } end
    return nil, "KEY=VALUE"
  end,
}

-- Whether the argument after an option with an optional value (--wait) is
-- something else: another option, "-" (stdin), or an ID ("thread_abc",
-- "ftjob-x", "T/R"). Anything else is the option's value and must parse:
-- `--wait abc` is an error, not --wait 60 and a thread ID "abc".
local function looks_like_id_or_option(a)
  if a:find("^%-[%d.]") then return false end          -- "-1": a bad value, said so
  return a:sub(1, 1) == "-" or a:find("/") ~= nil or a:find("^%a%w*[_-]") ~= nil
end

-- runctl's own options (lua/main.c): given after a script's name they reach
-- the script, which says where they belong.
-- (name -> what its value looks like, "" for none)
local GLOBAL = { ["--base-url"] = " URL", ["--org"] = " ID", ["--project"] = " ID",
                 ["--max-retries"] = " N", ["--timeout"] = " SECONDS", ["--dry-run"] = "",
                 ["--azure"] = "", ["-v"] = "", ["-vv"] = "", ["--verbose"] = "",
                 ["-q"] = "", ["--quiet"] = "" }

local function unknown_option(spec, name)
  local msg = "unknown option " .. quote(name)
  if GLOBAL[name] then
    msg = ("%s: runctl options go before the script name: runctl %s%s %s ..."):format(msg, name,
          GLOBAL[name], spec.name or "SCRIPT")
  end
  M.usage_error(msg)
end

-- Parses args against spec and returns opts (option name with '-' as '_' ->
-- value) and the positional arguments. spec = {
--   name = "cancel-older-than", usage = "...",
--   options = { ["--older-than"] = { kind = "duration", required = true,
--                                    unless = "--resume" },   -- (not required with it)
--               ["--dry-run"] = { kind = "flag" },
--               ["--metadata"] = { kind = "keyvalue", many = true },
--               ["--status"] = { kind = "list", choices = {...} },
--               ["--wait"] = { kind = "seconds", optional = 60 } } }
-- `--name=value` and `--name value` both work; an `optional` value is taken
-- from the next argument unless that is an option or an ID (see
-- looks_like_id_or_option), and must then parse; `--` ends the options.
-- Usage errors raise (see M.usage_error); --help prints usage and exits 0.
function M.parse(spec, args)
  M.script_name = spec.name
  local opts, positional = {}, {}
  local i, n = 1, #args
  while i <= n do
    local a = args[i]
    if a == "--" then
      for k = i + 1, n do positional[#positional + 1] = args[k] end
      break
    elseif a == "-h" or a == "--help" then
      io.stdout:write(spec.usage)
      os.exit(0)
    elseif a:sub(1, 2) == "--" then
      local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
      name = name or a
      local o = spec.options[name]
      if not o then unknown_option(spec, name) end
      local key = name:sub(3):gsub("%-", "_")
      local value
      if o.kind == "flag" then
        if inline then M.usage_error(name .. " takes no value") end
        value = true
      else
        local raw = inline
        if raw == nil and o.optional ~= nil then
          local nxt = args[i + 1]
          if nxt ~= nil and not looks_like_id_or_option(nxt) then raw, i = nxt, i + 1 end
        elseif raw == nil then
          if i + 1 > n then M.usage_error(name .. " needs a value") end
          i = i + 1
          raw = args[i]
        end
        if raw == nil then
          value = o.optional
        elseif o.kind == "list" then
          value = {}
          for item in (raw .. ","):gmatch("([^,]*),") do
            item = item:match("^%s*(.-)%s*$")
            if o.choices and not o.choices[item] then
              local names = {}
              for c in pairs(o.choices) do names[#names + 1] = c end
              table.sort(names)
              M.usage_error(("%s: %s is not one of %s"):format(name, quote(item), table.concat(names, ", ")))
            end
            if item ~= "" then value[#value + 1] = item end
          end
          if #value == 0 then M.usage_error(name .. " needs at least one value") end
        else
          local want, problem
          value, want, problem = KINDS[o.kind](raw)
          if value == nil and problem then
            M.usage_error(("%s: %s is %s"):format(name, quote(raw), problem))
          elseif value == nil then
            M.usage_error(("%s: %s is not %s"):format(name, quote(raw), want))
          end
        end
      end
      if o.many or o.kind == "list" then
        local list = opts[key] or {}
        if o.kind == "list" then
          for _, v in ipairs(value) do list[#list + 1] = v end
        else
          list[#list + 1] = value
        end
        opts[key] = list
      else
        opts[key] = value
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      unknown_option(spec, a)
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  -- `runctl --dry-run NAME` is the script's --dry-run too (it waits for nothing).
  if spec.options["--dry-run"] and runctl.dry_run then opts.dry_run = true end
  for name, o in pairs(spec.options) do
    local waived = o.unless and opts[o.unless:sub(3):gsub("%-", "_")] ~= nil
    if o.required and not waived and opts[name:sub(3):gsub("%-", "_")] == nil then
      M.usage_error(name .. " is required")
    end
  end
  return opts, positional
end

-- Lines of an ID list (a file, or "-" for stdin): '#' starts a comment, blank
-- lines are skipped, surrounding spaces trimmed, a UTF-8 byte order mark
-- (a file saved by some editors) dropped. Returns the list, nil and the
-- line number of each (for messages), or nil, err.
-- On a terminal, stdin is read after a prompt saying how to end it.
function M.read_lines(path)
  local f, err = io.stdin
  if path ~= "-" then
    f, err = io.open(path, "r")
    if not f then return nil, err end
  elseif runctl.isatty("stdin") then
    io.stderr:write(("%s: reading IDs from the terminal, one per line; end with Ctrl-D on a line of its own\n")
                    :format(M.script_name or "runctl"))
    io.stderr:flush()
  end
  local out, numbers, first, n = {}, {}, true, 0
  for line in f:lines() do
    n = n + 1
    if first then line, first = line:gsub("^\239\187\191", ""), false end
    line = line:gsub("#.*$", ""):match("^%s*(.-)%s*$")
    if line ~= "" then
      numbers[#out + 1] = n
      out[#out + 1] = line
    end
  end
  if f ~= io.stdin then f:close() end
  return out, nil, numbers
end

-- The IDs from arguments, a --*-file and stdin, in that order, without
-- repeats. Stdin is read when an argument is "-", when file is "-", or when
-- nothing else was given and stdin is not a terminal (a pipe).
-- Returns the list, or raises a usage error.
function M.collect_ids(positional, file, what)
  local ids, seen = {}, {}
  local read_stdin = false
  local function add(id)
    if id == "" then M.usage_error(("an empty %s (an argument '')"):format(what)) end
    if id:find("%s") then M.usage_error(("%s %s contains white space"):format(what, quote(id))) end
    if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
  end
  for _, a in ipairs(positional) do
    if a == "-" then read_stdin = true else add(a) end
  end
  if file and file ~= "-" then
    local lines, err = M.read_lines(file)
    if not lines then M.usage_error("cannot read " .. quote(file) .. ": " .. tostring(err)) end
    for _, l in ipairs(lines) do add(l) end
  elseif file == "-" then
    read_stdin = true
  end
  if read_stdin or (#ids == 0 and not runctl.isatty("stdin")) then
    for _, l in ipairs(M.read_lines("-")) do add(l) end
  end
  return ids
end


-- A script's usage text as people see it: %KINDS% becomes the kinds that can
-- be listed without IDs, %EACH_KINDS% those listed by themselves (no parent
-- IDs), extensions' kinds included. --help and `runctl help NAME` both use it.
function M.render_usage(text)
  local kinds = require "runctl.jobs.kinds"
  return (text:gsub("%%KINDS%%", function() return kinds.listable_names() end)
              :gsub("%%EACH_KINDS%%", function() return kinds.listable_names("each") end))
end

-- The usage a script declares, read as text without running it: the long
-- string of its top-level `local USAGE = [[`, rendered. Returns it, or nil, why.
function M.declared_usage(path)
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local source = f:read("a")
  f:close()
  local text = source:match("\nlocal USAGE = %[%[\n?(.-)%]%]") or source:match("^local USAGE = %[%[\n?(.-)%]%]")
  if not text then
    return nil, (path:match("([^/]+)%.lua$") or path) .. " declares no usage (a top-level local USAGE = [[...]])"
  end
  return M.render_usage(text)
end

return M
