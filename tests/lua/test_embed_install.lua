-- tests/lua/test_embed_install.lua — `make install PREFIX=... [DESTDIR=...]`
-- puts the binary, the bundled scripts, librunctl.a/.so, runctl.h, runctl.pc
-- and the Lua module in place; a small host builds against the installed copy
-- with nothing but `pkg-config --cflags --libs runctl` and runs against the
-- fake server, and the stock lua5.4 requires the installed module.
local T = require "helper"
local E = require "embed"

local PREFIX = E.tmp .. "/prefix"
local STAGE = E.tmp .. "/stage"
-- Reuse the tree `make` just built; a sanitizer build installs a fresh plain
-- build instead (a host built with plain flags cannot link ASan objects).
local build = E.build == "build" and "" or ("BUILD=" .. E.tmp .. "/plain-build")
local MAKE = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s"

local function exists(path) return os.execute("test -e " .. T.quote(path)) == true end

local out, err, code = E.sh(("%s install PREFIX=%s %s"):format(MAKE, PREFIX, build))
T.is(code, 0, "make install PREFIX=... succeeds", err)
local want = {
  "bin/runctl", "share/runctl/scripts/cancel-older-than.lua", "lib/librunctl.a", "lib/librunctl.so.0",
  "lib/librunctl.so", "include/runctl.h", "lib/pkgconfig/runctl.pc", "lib/lua/5.4/runctl.so",
}
local missing = {}
for _, f in ipairs(want) do
  if not exists(PREFIX .. "/" .. f) then missing[#missing + 1] = f end
end
T.is(table.concat(missing, " "), "", "it installs the binary, scripts, libraries, header, runctl.pc and the module")

local PC = "PKG_CONFIG_PATH=" .. PREFIX .. "/lib/pkgconfig pkg-config "
local version = (T.read_file("lua/runctl.h") or ""):match('#define RUNCTL_VERSION "([^"]+)"')
out = E.sh(PC .. "--modversion runctl")
T.is(out, version .. "\n", "pkg-config knows runctl and its version")
out = E.sh(PC .. "--cflags --libs runctl")
T.like(out, "%-I" .. PREFIX:gsub("%p", "%%%0") .. "/include", "--cflags points at the installed header")
T.like(out, "%-L" .. PREFIX:gsub("%p", "%%%0") .. "/lib %-lrunctl", "--libs links the installed library")
T.like(out, "%-llua5%.4", "and Lua, which the host provides")

-- A host built from nothing but the installed copy (its own folder, so the
-- repository's headers are out of sight).
local dir = E.tmp .. "/host"
os.execute("mkdir -p " .. dir .. " && cp examples/minimal-host.c " .. dir .. "/")
out, err, code = E.sh(("cd %s && cc minimal-host.c $(%s --cflags --libs runctl) -o host"):format(dir, PC))
T.is(code, 0, "a host builds with only pkg-config --cflags --libs runctl", err)
local p = io.popen("LD_LIBRARY_PATH=" .. PREFIX .. "/lib ldd " .. dir .. "/host")
local deps = p:read("a")
p:close()
T.like(deps, "librunctl%.so%.0 => " .. PREFIX:gsub("%p", "%%%0") .. "/lib/librunctl%.so%.0",
       "it links the installed shared library")

local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local script = T.write_file('local run = assert(runs.cancel("thread_main", "run_queued")) print(run.status)')
out, err, code = E.sh(("%s %s/host %s"):format(E.wrap, dir, script),
                      { LD_LIBRARY_PATH = PREFIX .. "/lib", OPENAI_API_KEY = E.KEY, OPENAI_BASE_URL = fake.base })
T.is(out, "cancelling\n", "the installed host cancels a run on the fake server", err)
local last = fake:last()
T.is(last and last.method .. " " .. last.path, "POST /v1/threads/thread_main/runs/run_queued/cancel", "as seen on the wire")

-- The same host with librunctl.a linked in (libcurl, cjson and Lua shared:
-- runctl.pc's private requirements name them).
out, err, code = E.sh(("cd %s && cc minimal-host.c $(%s --cflags runctl) %s/lib/librunctl.a "
                       .. "$(%s --libs runctl libcurl lua5.4-cjson | sed 's/-lrunctl//') -o host-static")
                      :format(dir, PC, PREFIX, PC))
T.is(code, 0, "it also links librunctl.a into the host", err)
fake:reset()
out, err, code = E.sh(("%s %s/host-static %s"):format(E.wrap, dir, script),
                      { OPENAI_API_KEY = E.KEY, OPENAI_BASE_URL = fake.base })
T.is(out, "cancelling\n", "and that host works too", err)

-- The installed module in the stock interpreter, found through its cpath.
fake:reset()
local code_lua = ("package.cpath = %q .. package.cpath\n"):format(PREFIX .. "/lib/lua/5.4/?.so;")
                 .. 'local rc = require "runctl"\nprint(assert(rc.runs.cancel("thread_main", "run_queued")).status, runs)'
local module = PREFIX .. "/lib/lua/5.4/runctl.so"
out, err, code = E.sh(E.wrap .. " lua5.4 -e " .. T.quote(code_lua),
                      E.lua_env(module, { OPENAI_API_KEY = E.KEY, OPENAI_BASE_URL = fake.base }))
T.is(out, "cancelling\tnil\n", "lua5.4 requires the installed module and cancels (no globals set)", err)

-- The installed command finds its bundled scripts.
out, err, code = E.sh(PREFIX .. "/bin/runctl help")
T.like(out, "cancel%-older%-than", "the installed runctl lists the bundled scripts")

-- The LuaJIT build installed beside it (runctl-luajit.pc), and the same host
-- built for LuaJIT as docs/embedding.md says: lua-compat53's header for the
-- Lua 5.3 C API the sample uses (luaL_tolstring).
local function luajit_ready()
  return E.build == "build" and os.execute("command -v luajit >/dev/null") == true
         and exists("/usr/include/luajit-2.1/lua.h") and exists("/usr/include/lua5.1/compat-5.3.h")
end
if not luajit_ready() then
  T.skip(5, E.build ~= "build" and "the LuaJIT install is checked in the plain build's pass"
            or "luajit, libluajit-5.1-dev or lua-compat53-dev is missing (make deps)")
else
  out, err, code = E.sh(("%s LUA=luajit install PREFIX=%s"):format(MAKE, PREFIX))
  T.is(code, 0, "make LUA=luajit install PREFIX=... succeeds beside the 5.4 install", err)
  out = E.sh(PC .. "--cflags --libs runctl-luajit")
  T.like(out, "%-lrunctl%-luajit .*%-lluajit%-5%.1", "runctl-luajit.pc links librunctl-luajit and LuaJIT")
  out, err, code = E.sh(("cd %s && cc -DCOMPAT53_INCLUDE_SOURCE -include compat-5.3.h minimal-host.c "
                         .. "$(%s --cflags --libs runctl-luajit) -o host-luajit"):format(dir, PC))
  T.is(code, 0, "a LuaJIT host builds with lua-compat53's header and pkg-config runctl-luajit", err)
  fake:reset()
  out, err = E.sh(("%s %s/host-luajit %s"):format(E.wrap, dir, script),
                  { OPENAI_API_KEY = E.KEY, OPENAI_BASE_URL = fake.base })
  T.is(out, "cancelling\n", "and cancels a run on the fake server", err)
  p = io.popen("ldd " .. dir .. "/host-luajit")
  deps = p:read("a")
  p:close()
  T.like(deps, "libluajit%-5%.1", "linked with LuaJIT (one Lua in the process)")
end

-- DESTDIR stages the same tree under another root; runctl.pc names PREFIX.
out, err, code = E.sh(("%s install PREFIX=/opt/runctl DESTDIR=%s %s"):format(MAKE, STAGE, build))
T.is(code, 0, "make install DESTDIR=... PREFIX=/opt/runctl succeeds", err)
T.ok(exists(STAGE .. "/opt/runctl/lib/librunctl.so.0") and exists(STAGE .. "/opt/runctl/lib/lua/5.4/runctl.so")
     and exists(STAGE .. "/opt/runctl/bin/runctl"), "files land under DESTDIR/PREFIX")
T.like(T.read_file(STAGE .. "/opt/runctl/lib/pkgconfig/runctl.pc") or "", "prefix=/opt/runctl\n",
       "and runctl.pc names the final prefix, not the staging folder")
T.done()
