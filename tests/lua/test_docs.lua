-- tests/lua/test_docs.lua — every code sample of README.md and docs/*.md is
-- checked: Lua compiles (a runnable one runs against the fake server), a
-- synopsis names only functions the runtime has, JSON parses (a seed seeds
-- the fake server), each `runctl` command line names a real script and only
-- flags its usage lists. (C samples and the embedding guide's Lua ones are
-- built and run against an installed prefix by tests/package.lua.)
local T = require "helper"

local docs = { "README.md" }
local ls = io.popen("ls docs/*.md")
for path in ls:lines() do docs[#docs + 1] = path end
ls:close()
T.ok(#docs >= 8, "docs/ holds the guides (" .. (#docs - 1) .. " files)")

-- Every fenced block: {path, info (the whole info string), body}.
local blocks = {}
for _, path in ipairs(docs) do
  local text = assert(T.read_file(path), path)
  for info, body in ("\n" .. text):gmatch("\n```([^\n]*)\n(.-)\n```") do
    blocks[#blocks + 1] = { path = path, info = info, body = body }
  end
end

local function where(b) return b.path .. ": " .. b.body:match("^[^\n]*"):sub(1, 50) end

---------------------------------------------------------------------- Lua

-- The functions a synopsis names: "a.b.c(" chains whose root is a global of
-- the runtime (what a script sees), each must be a function there.
local function check_synopsis(b)
  for chain in b.body:gmatch("([%a_][%w_]*%.[%w_.]+)%s*%(") do
    local root = chain:match("^[^.]+")
    if _G[root] ~= nil and root ~= "string" and root ~= "table" and root ~= "io" and root ~= "os" then
      local v = _G
      for part in chain:gmatch("[^.]+") do v = type(v) == "table" and v[part] or nil end
      T.is(type(v), "function", where(b) .. ": " .. chain .. " exists")
    end
  end
end

local fake = T.fake("--seed " .. T.seed_file {
  batches = { { id = "batch_old", status = "in_progress", created_at = -8 * 3600 },
              { id = "batch_new", status = "in_progress", created_at = -60 } } })
local env = { OPENAI_API_KEY = "sk-test-docs-0123456789", OPENAI_BASE_URL = fake.base,
              RUNCTL_SCRIPTS = io.popen("pwd"):read("l") .. "/scripts" }

-- What a runnable sample (first line "-- NAME.lua: runctl NAME.lua ...")
-- must print against the seed above.
local RUNS = { ["stale.lua"] = "^batch_old\tcancelling\n$" }

for _, b in ipairs(blocks) do
  if b.info == "lua" then
    local f, err = load(b.body, "=" .. b.path)
    T.ok(f, where(b) .. ": compiles", err)
    local name = b.body:match("^%-%- (%S+%.lua):? ")
    if name and RUNS[name] then
      local out, e, code = T.run(T.write_file(b.body), env)
      T.is(code, 0, name .. " from " .. b.path .. " runs", e)
      T.like(out, RUNS[name], name .. " prints what it says it does")
    end
  elseif b.info == "lua fragment" then   -- an entry of a table constructor
    T.ok(load("return {\n" .. b.body .. "\n}", "=" .. b.path), where(b) .. ": compiles as a table entry")
  elseif b.info == "lua synopsis" then
    check_synopsis(b)
  end
end

---------------------------------------------------------------------- JSON

for _, b in ipairs(blocks) do
  if b.info == "json" then
    local v, err = json.decode(b.body)
    T.ok(v, where(b) .. ": parses", err)
    if type(v) == "table" and (v.batches or v.threads) then   -- a seed: the fake serves it
      local seeded = T.fake("--seed " .. T.seed_file(v))
      local got = http.request { url = seeded.url .. "/_fake/batches" }
      T.like(got and got.body or "", v.batches and v.batches[1].id or "%[", where(b) .. ": the fake server serves the seed")
      seeded:stop()
    end
  end
end

---------------------------------------------------------------------- command lines

-- The bundled scripts of this tree, whichever build's runctl runs them.
local SCRIPTS = { RUNCTL_SCRIPTS = io.popen("pwd"):read("l") .. "/scripts" }
local function help_of(name)
  local out = T.run(name and ("help " .. name) or "--help", SCRIPTS)
  return out
end
local scripts = {}
for name in T.run("help", SCRIPTS):gmatch("\n%s+([%w-]+)%s") do scripts[name] = true end
T.ok(scripts.cancel and scripts.supervise, "runctl help lists the bundled scripts")
local main_help = help_of(nil)

-- A runctl command line: runctl [OPTIONS] NAME [ARGS]; each --flag of NAME's
-- part must be in `runctl help NAME`, each before it in `runctl --help`.
local function check_command(b, line)
  local words = {}
  for w in line:gsub("%s#.*$", ""):gmatch("%S+") do words[#words + 1] = w end
  local i = 2
  while words[i] and words[i]:match("^%-.") and words[i] ~= "-e" do
    local flag = words[i]:match("^(%-%-?[%w-]+)")
    T.ok(main_help:find(flag, 1, true), where(b) .. ": runctl option " .. flag .. " exists")
    if flag == "--base-url" then i = i + 1 end
    i = i + 1
  end
  local name = words[i]
  if not name or name:match("%.lua$") or name == "-e" or name == "-" or name == "help" then return end
  if not scripts[name] then
    T.ok(false, where(b) .. ": runctl " .. name .. " is a bundled script")
    return
  end
  local usage = help_of(name)
  for j = i + 1, #words do
    local flag = words[j]:match("^(%-%-[%w-]+)")
    if flag then T.ok(usage:find(flag, 1, true), where(b) .. ": runctl " .. name .. " takes " .. flag) end
  end
end

local commands = 0
for _, b in ipairs(blocks) do
  if b.info == "sh" then
    for line in b.body:gmatch("[^\n]+") do
      line = line:gsub("^sudo ", ""):gsub("^[%u_]+=%S+%s+", ""):gsub("^[%u_]+=%S+%s+", "")
      if line:match("^runctl%s") then
        commands = commands + 1
        check_command(b, line)
      end
    end
  end
end
T.ok(commands >= 20, "the docs show runctl command lines (" .. commands .. ")")

-- The same for a command line quoted in prose (`runctl NAME --flag ...`)
-- when NAME is a bundled script: a flag it does not take is a lie too.
local spans = 0
for _, path in ipairs(docs) do
  for span in assert(T.read_file(path)):gmatch("`(runctl [^`\n]+)`") do
    local name = span:match("^runctl ([%w-]+)")
    if name and scripts[name] then
      spans = spans + 1
      check_command({ path = path, body = span }, span)
    end
  end
end
T.ok(spans >= 5, "the docs quote runctl command lines in prose (" .. spans .. ")")

T.done()
