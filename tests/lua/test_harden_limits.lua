-- tests/lua/test_harden_limits.lua — the sandbox's limits hold in C too
-- (issue 25): the JSON encoder's output counts against the memory limit and
-- its work against the time and instruction limits, and a list of C-heavy
-- library calls ends in a named error, each with the host's peak memory
-- (examples/sandbox-host --max-rss) near the limit, whatever the request.
local T = require "helper"
local E = require "embed"

local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local HOST = E.wrap .. " " .. E.build .. "/sandbox-host --max-rss"
local ENV = { OPENAI_API_KEY = E.KEY, OPENAI_BASE_URL = fake.base }
local MB = 1024 * 1024
local asan = E.build:match("asan") ~= nil or E.wrap ~= ""

-- Runs one script in a fresh sandbox host; returns its outcome line and peak RSS in kB.
local function run(flags, code)
  local out, err = E.sh(HOST .. " " .. flags .. " " .. T.write_file(code), ENV)
  return out:match(": (%a+.-)\n") or (out .. err), tonumber(out:match("max rss: (%d+) kB")) or 0
end

local _, base_rss = run("--memory 8000000", "local x = 1")
T.ok(base_rss > 0, "the host reports its peak memory (" .. base_rss .. " kB for an empty script)")
-- Within a few MB of the limit above what the host needs for nothing.
local function near_limit(rss, limit, name)
  if asan then return T.ok(true, name .. " (not measured under a sanitizer or wrapper)") end
  T.ok(rss - base_rss < (limit + 6 * MB) / 1024, ("%s: peak %d kB, %d kB above an empty run")
       :format(name, rss, rss - base_rss))
end

-- A few hundred bytes of Lua that encode to 2^24 copies of one leaf.
local DAG = [[
local t = { 1 }
for i = 1, 24 do t = { a = t, b = t } end
local s, err = json.encode(t)
print("encoded", s and #s, err)
]]
local line, rss = run("--memory 8000000 --seconds 60", DAG)
T.is(line, "error: sandbox: memory limit exceeded (8000000 bytes)", "a DAG of shared subtables ends with the memory limit")
near_limit(rss, 8 * MB, "  ... and the host's memory stays near the limit")

-- 2^30 leaves: gigabytes of output, which the time limit ends first (or, on
-- a machine encoding over 1 GB/s, the memory limit: either is a named end).
line, rss = run("--memory 1000000000 --seconds 1", (DAG:gsub("1, 24", "1, 30")))
T.ok(line == "error: sandbox: time limit exceeded (1 s)" or line == "error: sandbox: memory limit exceeded (1000000000 bytes)",
     "with memory to spare, the encoder's work ends with the time limit", line)
line = run("--memory 1000000000 --instructions 1000000", DAG)
T.is(line, "error: sandbox: instruction limit exceeded (1000000 instructions)",
     "  ... or the instruction limit (values the encoder visits count)")

-- A pcall cannot swallow the trip: the script ends with it.
line = run("--memory 8000000 --seconds 60", "local ok = pcall(json.encode, (function() local t = {1} "
           .. "for i = 1, 24 do t = {t, t} end return t end)())\nwhile true do end")
T.is(line, "error: sandbox: memory limit exceeded (8000000 bytes)", "a pcall around json.encode does not swallow the memory limit")

-- A flat 1 GB request body: one 1 MB string a thousand times, to an allowed host.
local FLAT = [[
local big = string.rep("x", 1000000)
local t = {}
for i = 1, 1000 do t[i] = big end
local r, err = openai:request { method = "POST", path = "/threads", body = { messages = t } }
print("sent", r, err)
]]
line, rss = run("--memory 8000000 --seconds 5 --allow-host 127.0.0.1:" .. fake.port, FLAT)
T.is(line, "error: sandbox: memory limit exceeded (8000000 bytes)", "a flat 1 GB request body ends with the memory limit")
near_limit(rss, 8 * MB, "  ... and the host's memory stays near the limit")
fake:clear()

-- A large answer is held in C until its request ends: never more than the memory limit of it.
fake:faults { { path = "/big", status = 200, large_bytes = 100000000 } }
line, rss = run("--memory 8000000 --seconds 20 --allow-host 127.0.0.1:" .. fake.port, ([[
local r, err = http.request { url = %q, max_bytes = 1e12 }
error(r and ("got " .. #r.body .. " bytes") or tostring(err))]]):format(fake.url .. "/big"))
T.like(line, "exceeds max_bytes %(8000000 bytes%)",
       "a 100 MB answer to a script asking for max_bytes = 1e12 is refused at the memory limit")
near_limit(rss, 8 * MB, "  ... and the host's memory stays near the limit")
fake:clear_faults()

-- C-heavy library calls under a 4 MB limit: each ends in a named error (the
-- memory limit, or the library's own refusal), never a crash or 1 GB of RSS.
local HEAVY = {
  { "string.rep", [[local s = string.rep("x", 1e9)]] },
  { "string.rep with a separator", [[local s = ("x"):rep(1e8, ",")]] },
  { "string.format %99999d", [[local s = string.format("%99999d", 1)]], "invalid [co][op][nt][vi][eo]" },   -- 5.4: conversion, 5.1: option
  { "string.format of many long strings", [[
local t = {} for i = 1, 100 do t[i] = ("z"):rep(100000) end
local s = ("%s"):rep(100):format(table.unpack(t))]] },
  { "table.concat", [[local t = {} for i = 1, 1000 do t[i] = ("y"):rep(100000) end local s = table.concat(t)]] },
  { "table.concat of one string many times", [[
local y = ("y"):rep(100000) local t = {} for i = 1, 1000 do t[i] = y end local s = table.concat(t)]] },
  { "json.encode", [[local y = ("y"):rep(100000) local t = {} for i = 1, 1000 do t[i] = y end local s = json.encode(t)]] },
  { "string.gsub with a huge replacement", [[local s = string.rep("a", 1000):gsub("a", string.rep("b", 100000))]] },
  { "utf8.char over many arguments", [[
local t = {} for i = 1, 200 do t[i] = 0x10FFFF end local s = utf8.char(table.unpack(t)):rep(100000)]] },
  { "utf8.char over a million arguments", [[
local t = {} for i = 1, 1e6 do t[i] = 0x10FFFF end local s = utf8.char(table.unpack(t))]] },
  { "string.pack", [[local s = string.pack("s4", ("x"):rep(1000000)):rep(100)]] },
  { "string.upper of a long string, again and again", [[
local s = ("q"):rep(3000000) local t = {} for i = 1, 100 do t[i] = s:upper() .. i end]] },
}
local lua51 = E.build:find("luajit") ~= nil      -- LuaJIT's sandbox: no utf8, no string.pack
for _, case in ipairs(HEAVY) do
  if lua51 and (case[1]:find("utf8") or case[1]:find("pack")) then
    T.ok(true, case[1] .. ": skipped (Lua 5.1's library has no such function)")
    T.ok(true, "  ... skipped")
    goto next_case
  end
  line, rss = run("--memory 4000000 --seconds 5", case[2] .. "\nerror('the call did not fail')")
  local want = case[3] or "sandbox: memory limit exceeded %(4000000 bytes%)"
  T.like(line, want, case[1] .. " ends in a named error")
  near_limit(rss, 4 * MB, "  ... " .. case[1] .. ": the host's memory stays near the limit")
  ::next_case::
end

---------------------------------------------------------------------- json.decode

-- JSON the fast decoder once left to lua-cjson (surrogate escapes, nesting past
-- 64): cjson's buffer is malloc'd, so every memory error inside it leaked the
-- text's size (600 KB here:
-- 300,000 numbers, 4.8 MB as a table). Now the fast path decodes it in Lua's
-- own memory: a plain memory error, and the host stays near the limit.
local DECODE = [[
local text = string.rep("[", 100) .. "[" .. string.rep("1,", 300000) .. '"\\ud83d\\ude00"]' .. string.rep("]", 100)
local ok, err = pcall(json.decode, text)
for i = 1, 300 do pcall(json.decode, text) end
print(ok, err)
]]
-- The same script 30 times in one sandbox: a leak would add up run after run.
local path = T.write_file(DECODE)
local out = E.sh(HOST .. " --memory 4000000 --seconds 60" .. (" " .. path):rep(30), ENV)
local _, refused = out:gsub("false\tnot enough memory\n[^\n]*: ok\n", "")
-- (LuaJIT makes no emergency collection: the sandbox collects after the
-- script's task returns, or recording its outcome met the same refusal.)
T.is(refused, 30, "json.decode past the memory limit is a memory error (a script may catch it), every run", out:sub(1, 300))
near_limit(tonumber(out:match("max rss: (%d+) kB")) or 0, 4 * MB,
           "  ... and the host's memory stays near the limit after 30 runs (nothing leaks outside it)")
T.is(run("", [[
local v = assert(json.decode('{"s":"\\ud83d\\ude00\\u0000","deep":' .. string.rep("[", 900) .. string.rep("]", 900) .. '}'))
assert(v.s == "\240\159\152\128\0")
local nope, err = json.decode('{"a":\1}')
assert(nope == nil and err == "invalid JSON: unexpected byte 1 at character 6", err)
nope, err = json.decode('[1,2')
assert(nope == nil and err == "invalid JSON: unexpected end of text", err)
]]), "ok", "in a sandbox json.decode decodes what cjson did and words its own errors")

---------------------------------------------------------------------- what a script reaches

-- Everything a sandboxed script can reach, compared with the reviewed list.
local walk = E.sh(E.wrap .. " " .. E.build .. "/sandbox-host tests/lua/sandbox_walk.lua", ENV)
local got, want = {}, {}
for l in walk:gmatch("[^\n]+") do if not l:match(": ok$") then got[l] = true end end
-- The LuaJIT build's sandbox has Lua 5.1's libraries: its own list.
local LIST = E.build:find("luajit") and "tests/lua/sandbox-reachable-luajit.txt" or "tests/lua/sandbox-reachable.txt"
for l in T.read_file(LIST):gmatch("[^\n]+") do
  if not l:match("^#") then want[l] = true end
end
local added, missing = {}, {}
for l in pairs(got) do if not want[l] then added[#added + 1] = l end end
for l in pairs(want) do if not got[l] then missing[#missing + 1] = l end end
table.sort(added)
table.sort(missing)
T.ok(next(want) ~= nil and #added == 0, "a sandboxed script reaches nothing beyond " .. LIST,
     "not reviewed: " .. table.concat(added, ", "))
T.ok(#missing == 0, "  ... and the list holds nothing a script no longer reaches", table.concat(missing, ", "))
-- Spend is the host's business: a sandbox's clients take no admin key from the
-- environment (organization.* then raises, naming what is missing).
local admin_env = { OPENAI_ADMIN_KEY = "sk-admin-test-0123456789" }
for k, v in pairs(ENV) do admin_env[k] = v end
local said = E.sh(HOST .. " " .. T.write_file([[
local ok, err = pcall(organization.costs, { start_time = 0 })
print(ok, err)
]]), admin_env)
T.like(said, "^false\t[^\n]*no admin key", "a sandbox's clients ignore OPENAI_ADMIN_KEY", said)
T.unlike(walk, "frame_budget", "runctl.frame_budget is host-only (it outlives a run)")
T.unlike(walk, "stats", "runctl.stats is host-only")
T.is(run("", "assert(runctl.frame_budget == nil and runctl.stats == nil)"), "ok",
     "  ... and a script that looks finds neither")

T.done()
