-- tests/lua/embed.lua — what the embedding tests (test_embed_*.lua) share:
-- where the built libraries, module and example hosts are, and running a
-- command (under $RUNCTL_WRAP, as runctl itself is) to get its output.
local T = require "helper"
local E = {}

-- The build folder: the one the fake server was built in (build, build-asan).
E.build = (os.getenv("EMBED_BUILD") or "") ~= "" and os.getenv("EMBED_BUILD")   -- the LuaJIT pass
          or (os.getenv("FAKEAPI") or "build/fakeapi"):match("^(.*)/[^/]+$") or "build"
E.luajit = E.build:find("luajit", 1, true) ~= nil
E.wrap = os.getenv("RUNCTL_WRAP") or ""
E.tmp = os.getenv("TEST_TMPDIR") or "/tmp"
E.cwd = io.popen("pwd"):read("l")
E.KEY = "sk-test-embed-0123456789"

local serial = 0

-- Runs cmd (a shell command line) with env (a table) on top of a clean
-- OpenAI environment; returns stdout, stderr, exit code.
function E.sh(cmd, env)
  serial = serial + 1
  local out = ("%s/embed-%d.out"):format(E.tmp, serial)
  local err = ("%s/embed-%d.err"):format(E.tmp, serial)
  local prefix = "env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u OPENAI_ORG_ID -u OPENAI_PROJECT_ID -u OPENAI_LOG"
  for k, v in pairs(env or {}) do prefix = prefix .. " " .. k .. "=" .. T.quote(v) end
  local _, _, code = os.execute(("%s sh -c %s < /dev/null > %s 2> %s"):format(prefix, T.quote(cmd), out, err))
  return T.read_file(out) or "", T.read_file(err) or "", code
end

-- Lines of text as an array.
function E.lines(text)
  local list = {}
  for line in text:gmatch("[^\n]+") do list[#list + 1] = line end
  return list
end

-- Environment for running the stock lua5.4 with a module built with ASan:
-- the sanitizer runtimes must be loaded first, since the interpreter has none.
function E.lua_env(module_path, env)
  env = env or {}
  local p = io.popen("ldd " .. T.quote(module_path) .. " 2>/dev/null")
  local preload = {}
  for line in p:lines() do
    local lib = line:match("=>%s*(%S*lib[au]b?san%.so%S*)")
    if lib then preload[#preload + 1] = lib end
  end
  p:close()
  if #preload > 0 then env.LD_PRELOAD = table.concat(preload, " ") end
  return env
end

-- A seed with one thread of n queued runs named run_1 .. run_n.
function E.queued_seed(thread_id, n)
  local runs = {}
  for i = 1, n do runs[i] = { id = "run_" .. i, status = "queued", created_at = -60 } end
  return { threads = { { id = thread_id, runs = runs } } }
end

return E
