-- lua/lib/api/option_checks.lua — checking what scripts pass in (option tables, header
-- maps, query tables) and the small helpers every module uses (typename, env).
local math = require("runctl.compat").math   -- Lua 5.1 (LuaJIT) too
local core = require "runctl.core"
local json = require "runctl.json"

local M = {}

M.DEFAULT_MAX_BYTES = 64 * 1024 * 1024    -- the largest response body a request accepts

-- runctl's own objects lock their metatables (getmetatable answers a name).
local function typename(v)
  local mt = getmetatable(v)
  if type(mt) == "string" and type(v) == "table" then return mt end
  return type(mt) == "table" and type(mt.__name) == "string" and mt.__name or type(v)
end

-- Reads an environment variable, trimmed; empty means unset.
local function env(name)
  local v = os.getenv(name)
  if v then
    v = v:match("^%s*(.-)%s*$")
    if v == "" then v = nil end
  end
  return v
end

local function is_null(v) return v == nil or v == json.null end

local checks = {
  string = function(v) return type(v) == "string" end,
  number = function(v) return type(v) == "number" and v >= 0 and v == v and v < math.huge end,
  positive = function(v) return type(v) == "number" and v > 0 and v < math.huge end,
  integer = function(v) return math.type(v) == "integer" and v >= 0
                            or (type(v) == "number" and v >= 0 and v == math.floor(v) and v < 2^53) end,
  table = function(v) return type(v) == "table" end,
  boolean = function(v) return type(v) == "boolean" end,
}
local wanted = {
  string = "a string", number = "a non-negative number", positive = "a positive number",
  integer = "a non-negative integer", table = "a table", boolean = "a boolean",
}

-- Checks the fields of an option table against spec {name = kind}; raises
-- "<where>: <name> must be <kind> (got <type>)" or names the unknown field.
local function check_fields(where, t, spec, level)
  for k, v in pairs(t) do
    local kind = spec[k]
    if kind == nil then
      error(("%s: unknown option '%s'"):format(where, tostring(k)), level + 1)
    end
    if not checks[kind](v) then
      error(("%s: %s must be %s (got %s)"):format(where, k, wanted[kind], typename(v)), level + 1)
    end
  end
end

-- Turns {name = value} into "Name: value" lines, checking both sides; a
-- value false becomes "Name:", which sends no such header (see rc_build_headers
-- in lua/headers.c, the one place that decides what a request sends).
local function header_lines(where, map, into, level)
  for name, value in pairs(map) do
    if type(name) ~= "string" or not name:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
      error(("%s: header name %q is not a valid token"):format(where, tostring(name)), level + 1)
    end
    if type(value) == "number" then value = tostring(value) end
    if value == false then
      into[#into + 1] = name .. ":"
    else
      if type(value) ~= "string" then
        error(("%s: header '%s' must be a string (got %s)"):format(where, name, typename(value)), level + 1)
      end
      if value:find("[\r\n%z]") then
        error(("%s: header '%s' must not contain CR, LF or NUL"):format(where, name), level + 1)
      end
      into[#into + 1] = name .. ": " .. value
    end
  end
  return into
end

local function query_string(where, parts, level)
  local keys, n = {}, 0
  local merged = {}
  for _, q in ipairs(parts) do
    for k, v in pairs(q) do
      if type(k) ~= "string" then
        error(("%s: query keys must be strings (got %s)"):format(where, typename(k)), level + 1)
      end
      local tv = type(v)
      if tv == "table" and #v > 0 then      -- a list: the key repeated (project_ids[]=a&project_ids[]=b)
        local items = {}
        for i, item in ipairs(v) do
          if type(item) ~= "string" and type(item) ~= "number" then
            error(("%s: query value '%s' must be a list of strings (item %d is %s)")
                  :format(where, k, i, typename(item)), level + 1)
          end
          items[i] = tostring(item)
        end
        v = items
      elseif tv == "number" then
        v = math.type(v) == "float" and v == math.floor(v) and ("%d"):format(v) or tostring(v)
      elseif tv == "boolean" then v = tostring(v)
      elseif tv ~= "string" then
        error(("%s: query value '%s' must be a string, number or boolean, or a non-empty list of strings (got %s)")
              :format(where, k, typename(v)), level + 1)
      end
      if merged[k] == nil then n = n + 1; keys[n] = k end
      merged[k] = v
    end
  end
  if n == 0 then return "" end
  table.sort(keys)
  local out = {}
  for i = 1, n do
    local k, v = core.escape_query(keys[i]), merged[keys[i]]
    if type(v) == "table" then
      for j, item in ipairs(v) do v[j] = k .. "=" .. core.escape_query(item) end
      out[#out + 1] = table.concat(v, "&")
    else
      out[#out + 1] = k .. "=" .. core.escape_query(v)
    end
  end
  return table.concat(out, "&")
end

-- Environment variables whose values are secrets: never printed, and never
-- handed to code that only decides (a supervise policy's os.getenv).
M.SECRET_VARS = { "OPENAI_API_KEY", "OPENAI_ADMIN_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN" }

checks.any = function() return true end
M.checks = checks
M.typename, M.env, M.is_null = typename, env, is_null
M.check_fields, M.header_lines, M.query_string = check_fields, header_lines, query_string

-- The per-call options every binding and client:request take.
M.OPTS_FIELDS = {
  timeout = "positive", connect_timeout = "positive", max_retries = "integer",
  max_retry_delay = "number", max_bytes = "integer", headers = "table", query = "table",
  idempotency_key = "string",
}

return M
