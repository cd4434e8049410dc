-- lua/lib/ops/metrics.lua — metrics in the Prometheus text exposition format
-- (require "runctl.ops.metrics"): counters and gauges with labels, rendered with
-- their HELP and TYPE lines and escaped label values, and written atomically
-- (a temporary file renamed over the target), as node_exporter's textfile
-- collector expects.
local math = require("runctl.compat").math   -- Lua 5.1 (LuaJIT) too
local outfile = require "runctl.outfile"

local M = {}

local Registry = {}
Registry.__index = Registry

function M.new() return setmetatable({ families = {}, order = {} }, Registry) end

local function define(self, kind, name, help)
  if not name:match("^[%a_:][%w_:]*$") then error("metrics: bad metric name '" .. name .. "'", 3) end
  if not self.families[name] then
    self.families[name] = { name = name, kind = kind, help = help, series = {} }
    self.order[#self.order + 1] = name
  end
  return self
end
function Registry:counter(name, help) return define(self, "counter", name, help) end
function Registry:gauge(name, help) return define(self, "gauge", name, help) end

-- A label value as the format wants it: backslash, double quote and line
-- feed escaped.
function M.escape_label(v)
  return (tostring(v):gsub("[\\\"\n]", { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

-- {kind = "batches", rule = "x"} -> 'kind="batches",rule="x"' (names sorted).
local function label_text(labels)
  if not labels then return "" end
  local names = {}
  for k in pairs(labels) do
    if not tostring(k):match("^[%a_][%w_]*$") then error("metrics: bad label name '" .. tostring(k) .. "'", 3) end
    names[#names + 1] = k
  end
  table.sort(names)
  for i, k in ipairs(names) do names[i] = k .. '="' .. M.escape_label(labels[k]) .. '"' end
  return table.concat(names, ",")
end

local function family(self, name)
  local f = self.families[name]
  if not f then error("metrics: no metric '" .. tostring(name) .. "'", 3) end
  return f
end

-- Adds by (default 1) to the series of name with these labels.
function Registry:inc(name, labels, by)
  local s = family(self, name).series
  local key = label_text(labels)
  s[key] = (s[key] or 0) + (by or 1)
end

-- Sets the series of name with these labels to value.
function Registry:set(name, labels, value)
  family(self, name).series[label_text(labels)] = value
end

-- Drops every series of name (a gauge measured afresh each time).
function Registry:clear(name) family(self, name).series = {} end

local function number(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" end
  if v == -math.huge then return "-Inf" end
  if math.type(v) == "integer" or (v == math.floor(v) and math.abs(v) < 2^53) then
    return ("%d"):format(v)
  end
  return ("%.9g"):format(v)
end

-- The exposition text: each family's HELP and TYPE lines, then its series
-- sorted by labels.
function Registry:text()
  local out = {}
  for _, name in ipairs(self.order) do
    local f = self.families[name]
    out[#out + 1] = ("# HELP %s %s"):format(name, (f.help:gsub("[\\\n]", { ["\\"] = "\\\\", ["\n"] = "\\n" })))
    out[#out + 1] = ("# TYPE %s %s"):format(name, f.kind)
    local keys = {}
    for k in pairs(f.series) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      out[#out + 1] = (k == "" and name or (name .. "{" .. k .. "}")) .. " " .. number(f.series[k])
    end
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

-- Writes the text to path atomically: a new file next to it with a random
-- name (path.tmp-XXXXXX, which the textfile collector ignores), made
-- exclusively so no planted file or link is written through, then renamed
-- over path (a symlink at path is refused: runctl.outfile). Mode 0644: the
-- collector runs as another user. Returns true, or nil, err.
function Registry:write(path)
  local f, tmp = outfile.temp(path, tonumber("644", 8))
  if not f then return nil, tmp end
  local ok, werr = f:write(self:text())
  local closed, cerr = f:close()
  if not ok or not closed then
    os.remove(tmp)
    return nil, tostring(werr or cerr)
  end
  return outfile.replace(tmp, path)
end

return M
