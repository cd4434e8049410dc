-- tests/lua/sandbox_walk.lua — run inside a sandbox (test_harden_limits.lua):
-- prints everything a script can reach from its globals and the string
-- metatable, one "path type" line each, sorted (a table reached again: "path = first path").
local seen, out = {}, {}
local function walk(v, path)
  if type(v) ~= "table" then
    out[#out + 1] = path .. " " .. type(v)
    return
  end
  if seen[v] then out[#out + 1] = path .. " = " .. seen[v] return end
  seen[v] = path
  out[#out + 1] = path .. " table"
  local keys = {}
  for k in next, v do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do walk(v[k], path .. "." .. tostring(k)) end
  local mt = getmetatable(v)
  if mt ~= nil then walk(mt, path .. "<mt>") end
end
walk(_G, "_G")
walk(getmetatable(""), "<string mt>")
print(table.concat(out, "\n"))
