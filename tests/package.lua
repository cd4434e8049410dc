-- tests/package.lua — packaging as users meet it: one version everywhere, the
-- man pages (clean under groff, every --help flag in them), bash completion,
-- make install/uninstall under DESTDIR, the docs' C and Lua samples built
-- against an installed prefix and run without LD_LIBRARY_PATH, luarocks make
-- into a private tree used from the stock lua5.4, and make deb unpacked and
-- run. Run once by tests/run.sh (ONLY=package): ./runctl tests/package.lua
local T = require "helper"
local E = require "embed"

local MAKE = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -j2"
local RUNCTL = os.getenv("RUNCTL") or "./runctl"
local ABS_RUNCTL = RUNCTL:match("^/") and RUNCTL or (E.cwd .. "/" .. RUNCTL:gsub("^%./", ""))
local q = T.quote
-- The tree `make` built; a sanitizer build installs a fresh plain build
-- instead (a sample host built with plain flags cannot link ASan objects).
local BUILD = E.build == "build" and "build" or (E.tmp .. "/plain-build")

-- T.is with the command's stderr shown when it fails.
local function is0(code, name, err) return T.ok(code == 0, name, "exit status " .. tostring(code) .. "\n" .. (err or "")) end
-- The repository's scripts, wherever the runctl under test was built.
local SCRIPTS = { RUNCTL_SCRIPTS = E.cwd .. "/scripts" }
local function skip(name, reason) T.ok(true, name .. " # SKIP " .. reason) end
local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true end
local function esc(s) return (s:gsub("%p", "%%%0")) end
local function files_under(dir)   -- regular files and links below dir, relative, sorted
  return E.lines((E.sh("cd " .. q(dir) .. " && find . -type f -o -type l | sed 's|^\\./||' | sort")))
end

-- A fake server whose thread_abc has queued runs run_xyz, run_1, run_2.
local seed = { threads = { { id = "thread_abc", runs = {
  { id = "run_xyz", status = "queued" }, { id = "run_1", status = "queued" }, { id = "run_2", status = "in_progress" } } } } }
local fake = T.fake("--seed " .. T.seed_file(seed))
local api_env = { OPENAI_API_KEY = E.KEY, OPENAI_BASE_URL = fake.base }
local function cancels_seen()   -- "POST path" of every request since the last reset
  local seen = {}
  for _, r in ipairs(fake:requests()) do seen[#seen + 1] = r.method .. " " .. r.path end
  table.sort(seen)
  return table.concat(seen, ",")
end

-- ---- one version ----
local version = (T.read_file("lua/runctl.h") or ""):match('#define RUNCTL_VERSION "([^"]+)"')
local major = version and version:match("^(%d+)")
T.ok(version and major, "lua/runctl.h defines RUNCTL_VERSION", version)
local out = E.sh(q(RUNCTL) .. " --version")
T.like(out, "^runctl " .. esc(version) .. " ", "runctl --version prints it")
local rockspec = T.read_file("runctl-" .. version .. "-1.rockspec")
T.ok(rockspec ~= nil, "the rockspec at the root is named runctl-" .. version .. "-1.rockspec")
T.like(rockspec or "", '\nversion = "' .. esc(version) .. '%-1"', "and declares that version")
T.like(T.read_file("CHANGELOG.md") or "", "\n## " .. esc(version) .. " %- %d%d%d%d%-%d%d%-%d%d\n",
       "CHANGELOG.md has an entry for it")

-- ---- man pages ----
local _, err, code = E.sh(MAKE .. " man BUILD=" .. BUILD)
is0(code, "make man writes the pages", err)
local help = E.sh(q(RUNCTL) .. " --help")
local names = {}
for name in E.sh(q(RUNCTL) .. " help", SCRIPTS):gmatch("\n  (%S+)") do names[#names + 1] = name end
T.ok(#names >= 4, "runctl help lists the bundled scripts", table.concat(names, " "))

-- Every flag a help text lists, as roff writes it (\- for -).
local function flags_of(text)
  local flags = {}
  for line in text:gmatch("[^\n]+") do
    local spec = line:match("^ +(%-[^ ].-)  ") or line:match("^ +(%-%S+)$")
    for flag in (spec or ""):gmatch("%-%-?[%w%-]+") do flags[#flags + 1] = flag end
  end
  return flags
end
local function missing_flags(page, text)
  local missing = {}
  for _, flag in ipairs(flags_of(text)) do
    if not page:find(flag:gsub("%-", "\\-"), 1, true) then missing[#missing + 1] = flag end
  end
  return table.concat(missing, " ")
end

local page = T.read_file(BUILD .. "/man/runctl.1") or ""
T.is(missing_flags(page, help), "", "runctl(1) has every flag of runctl --help")
for _, section in ipairs { "NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "EXIT STATUS", "FILES", "EXAMPLES" } do
  T.like(page, "\n%.SH " .. section .. "\n", "runctl(1) has " .. section)
end
T.like(page, "OPENAI_API_KEY", "runctl(1) names the environment variables")
local pages_ok, script_pages = true, {}
for _, name in ipairs(names) do
  local p = T.read_file(BUILD .. "/man/runctl-" .. name .. ".1") or ""
  script_pages[#script_pages + 1] = BUILD .. "/man/runctl-" .. name .. ".1"
  local usage = E.sh(q(RUNCTL) .. " help " .. q(name), SCRIPTS)
  local missing = missing_flags(p, usage)
  if p == "" or missing ~= "" then pages_ok = T.ok(false, "runctl-" .. name .. "(1) has every flag of its usage", missing) end
  T.like(page, "runctl\\%-" .. esc(name:gsub("%-", "\\-")), "runctl(1) lists " .. name)
end
T.ok(pages_ok, "each bundled script has a page with every flag of `runctl help NAME`")
if have("groff") then
  local all = BUILD .. "/man/runctl.1 " .. table.concat(script_pages, " ")
  out, err, code = E.sh("for f in " .. all .. "; do groff -man -ww -z \"$f\" || exit 1; done")
  T.is(code == 0 and err, "", "groff -man -ww -z finds nothing to warn about in any page")
  out = E.sh("MANWIDTH=80 man -l " .. BUILD .. "/man/runctl-cancel-older-than.1 2>&1")
  T.like(out, "%-%-kind runs|batches|fine%-tuning", "man renders a script's page with its flags")
else
  skip("groff -man -ww -z finds nothing to warn about", "groff is not installed (apt-get install groff-base)")
  skip("man renders a script's page", "groff is not installed")
end

-- ---- bash and zsh completion ----
-- The same cases for both: the words so far (the last is being completed) and
-- what completing it offers, as one line.
local COMPLETION_CASES = {
  { { "--" }, "^%-%-base%-url .*%-%-dry%-run .*%-%-version$" },
  { { "can" }, "^cancel cancel%-older%-than$" },
  { { "--timeout", "5", "unb" }, "^unblock%-thread$" },
  { { "help", "wa" }, "^watch$" },
  { { "cancel-older-than", "--ki" }, "^%-%-kind$" },
  { { "cancel-older-than", "--kind", "" }, "^runs batches fine%-tuning eval%-runs$" },
  { { "--dry-run", "cancel-older-than", "--age-from", "s" }, "^started$" },
  { { "watch", "--" }, "%-%-interval .*%-%-once" },
  { { "cancel", "--file", "CHANGE" }, "^CHANGELOG%.md$" },
  { { "cancel-older-than", "--older-than", "" }, "^$" },
  { { "list", "" }, "^runs batches fine%-tuning eval%-runs$" },                 -- a script's first argument: the kinds
  { { "list", "--limit", "5", "f" }, "^fine%-tuning$" },
  { { "list", "batches", "" }, "^$" },                                -- only the first
  { { "supervise", "share/runctl/supervise-pol" }, "^share/runctl/supervise%-policy%.example%.lua$" },
  { { "supervise", "CHANGE" }, "^$" },                                -- .lua files only
  { { "spend", "--by", "" }, "^project line_item model$" },
  { { "spend", "--window", "" }, "^today month$" },          -- not the DURATION placeholder
  { { "spend", "--bud" }, "^%-%-budget$" },
}
-- complete(shell, setup, case_line): runs one script of `setup` then a
-- case_line(words, n) per case in SHELL; checks each printed line.
local function check_completion(shell, setup, case_line)
  local script = { setup }
  for _, c in ipairs(COMPLETION_CASES) do
    local words = { q(ABS_RUNCTL) }
    for _, w in ipairs(c[1]) do words[#words + 1] = q(w) end
    script[#script + 1] = case_line(table.concat(words, " "), #c[1])
  end
  local f = T.write_file(table.concat(script, "\n") .. "\n")
  local sh_out, sh_err = E.sh(shell .. " " .. f, SCRIPTS)
  local lines = E.lines(sh_out:gsub("\n\n", "\n-\n"):gsub("\n$", "\n-"))
  for i, c in ipairs(COMPLETION_CASES) do
    local got = (lines[i] or "-"):gsub("^%-$", "")
    T.like(got, c[2], shell .. ": completing `runctl " .. table.concat(c[1], " ") .. "`", sh_err)
  end
end
if have("bash") then
  check_completion("bash", "source packaging/runctl.bash", function(words, n)
    return ("COMP_WORDS=(%s); COMP_CWORD=%d; _runctl; echo \"${COMPREPLY[*]}\""):format(words, n)
  end)
else
  for _ = 1, #COMPLETION_CASES do skip("bash completion", "bash is not installed") end
end
-- zsh: compadd and _files stand in for the completion system's (they filter by
-- the word being completed, as it does), the file is loaded as compinit would.
local ZSH_SETUP = [=[
compadd() { local w; for w in "${@[$(( ${@[(i)--]} + 1 )),-1]}"; do [[ $w == ${PREFIX}* ]] && offered+=("$w"); done }
_files() { local w g='*'; [[ $1 == -g ]] && g=$2; for w in ${~PREFIX}*(N); do [[ $w == ${~g} ]] && offered+=("$w"); done }
typeset -a offered words
typeset CURRENT=1 PREFIX=
source packaging/_runctl
]=]
if have("zsh") then
  check_completion("zsh -f", ZSH_SETUP, function(words, n)
    return ("words=(%s); CURRENT=%d; PREFIX=${words[CURRENT]}; offered=(); _runctl; print -r -- \"${offered[*]}\"")
           :format(words, n + 1)
  end)
else
  for _ = 1, #COMPLETION_CASES do skip("zsh completion", "zsh is not installed") end
end

-- ---- make install / uninstall under DESTDIR ----
local stage = E.tmp .. "/pkg-stage"
_, err, code = E.sh(("%s install BUILD=%s PREFIX=/usr/local DESTDIR=%s"):format(MAKE, BUILD, stage))
is0(code, "make install DESTDIR=... succeeds", err)
local installed = " " .. table.concat(files_under(stage), " ") .. " "
for _, f in ipairs { "usr/local/bin/runctl", "usr/local/share/man/man1/runctl.1",
                     "usr/local/share/man/man1/runctl-cancel-older-than.1",
                     "usr/local/share/bash-completion/completions/runctl",
                     "usr/local/share/zsh/vendor-completions/_runctl",
                     "usr/local/lib/librunctl.so." .. version, "usr/local/lib/librunctl.so." .. major,
                     "usr/local/lib/lua/5.4/runctl.so", "usr/local/share/runctl/scripts/watch.lua",
                     "usr/local/share/runctl/types/runctl.lua" } do
  T.like(installed, " " .. esc(f) .. " ", "make install puts " .. f:gsub("^usr/local/", "PREFIX/") .. " in place")
end
_, err, code = E.sh(("%s uninstall BUILD=%s PREFIX=/usr/local DESTDIR=%s"):format(MAKE, BUILD, stage))
is0(code, "make uninstall with the same DESTDIR succeeds", err)
T.is(table.concat(files_under(stage), " "), "", "and leaves no file or link behind")
T.is(E.sh("test -e " .. stage .. "/usr/local/share/runctl && echo left"), "", "nor runctl's own folders")

-- ---- the docs' samples, against an installed prefix, no LD_LIBRARY_PATH ----
local prefix = E.tmp .. "/pkg-prefix"
_, err, code = E.sh(("%s install BUILD=%s PREFIX=%s"):format(MAKE, BUILD, prefix))
is0(code, "make install PREFIX=(a folder of the user's) succeeds", err)
out = E.sh("readelf -d " .. prefix .. "/lib/librunctl.so." .. version)
T.like(out, "SONAME.-%[librunctl%.so%." .. major .. "%]", "the library's soname carries the major version")
T.unlike(E.sh("env -u LD_LIBRARY_PATH ldd " .. q(prefix .. "/bin/runctl")), "not found",
         "the installed runctl finds every library it links")
T.like(T.read_file(prefix .. "/lib/pkgconfig/runctl.pc") or "", "Libs: .*%-Wl,%-rpath,%${libdir}",
       "runctl.pc gives hosts an rpath to a prefix outside the linker's folders")

-- The C samples of every doc; the Lua ones of the embedding guide (the others
-- are checked by tests/lua/test_docs.lua).
local docs = { "README.md" }
for path in E.sh("ls docs/*.md"):gmatch("%S+") do docs[#docs + 1] = path end
local samples = {}
for _, path in ipairs(docs) do
  for lang, body in (T.read_file(path) or ""):gmatch("\n```(%a+)\n(.-)\n```") do
    if lang == "c" then samples[#samples + 1] = { lang = lang, body = body } end
  end
end
local embedding = T.read_file("docs/embedding.md") or ""
for lang, body in embedding:gmatch("\n```(%a+)\n(.-)\n```") do
  if lang == "lua" then samples[#samples + 1] = { lang = lang, body = body } end
  if lang == "sh" then
    for line in body:gmatch("[^\n]+") do
      if line:match("^lua5%.4 ") then samples[#samples + 1] = { lang = "lua5.4", body = line } end
    end
  end
end
T.ok(#samples >= 4, "the docs have C and Lua samples to try (" .. #samples .. ")")

-- What each sample must print, by its file name (a sample with none listed
-- must exit 0 and print something).
local expect = {
  ["host.c"] = { out = "^cancelling\n$", wire = "POST /v1/threads/thread_abc/runs/run_xyz/cancel",
                 fail_args = "thread_abc run_missing", fail_err = "^cancel thread_abc/run_missing failed: 404 " },
  ["sandbox.c"] = { out = "^refused: sandbox: instruction limit exceeded" },
  ["cancel-all.lua"] = { args = "thread_abc run_1 run_2", out = "^run_1\tcancelling\nrun_2\tcancelling\n$",
                         wire = "POST /v1/threads/thread_abc/runs/run_1/cancel,POST /v1/threads/thread_abc/runs/run_2/cancel" },
  ["lua5.4 -e"] = { out = "^cancelling\n$", wire = "POST /v1/threads/thread_abc/runs/run_xyz/cancel" },
}
local dir = E.tmp .. "/pkg-samples"
os.execute("mkdir -p " .. dir)
local pc_env = "PKG_CONFIG_PATH=" .. q(prefix .. "/lib/pkgconfig")
local lua_env = { LUA_CPATH = prefix .. "/lib/lua/5.4/?.so;;" }
for k, v in pairs(api_env) do lua_env[k] = v end
for _, s in ipairs(samples) do
  -- LÖVE and Neovim samples (docs/embedding.md) run in those hosts, not lua5.4:
  -- test_docs compiles them, tests/lua/test_hosts.lua runs the same code in them.
  if s.lang == "lua" and (s.body:find("%f[%w]love%.") or s.body:find("%f[%w]vim%.")) then goto next end
  local name = s.lang == "lua5.4" and "lua5.4 -e" or s.body:match("^/%* (%S+%.c) ") or s.body:match("^%-%- (%S+%.lua) ")
  T.ok(name, "a docs sample names its file in its first line", s.body:sub(1, 60))
  name = name or "unnamed"
  local want = expect[name] or {}
  local run_cmd
  if s.lang == "c" then
    local path = dir .. "/" .. name
    local f = assert(io.open(path, "w"))
    f:write(s.body, "\n")
    f:close()
    local exe = path:gsub("%.c$", "")
    _, err, code = E.sh(("cd %s && %s cc -Wall -Wextra -Werror %s $(%s pkg-config --cflags --libs runctl) -o %s")
                        :format(q(dir), pc_env, q(name), pc_env, q(exe)))
    is0(code, name .. " from the docs compiles and links with pkg-config --cflags --libs runctl", err)
    T.like(E.sh("env -u LD_LIBRARY_PATH ldd " .. q(exe)), "librunctl%.so%." .. major .. " => " .. esc(prefix) .. "/lib/",
           name .. " finds the installed librunctl by itself")
    run_cmd = q(exe)
  elseif s.lang == "lua" then
    local path = dir .. "/" .. name
    local f = assert(io.open(path, "w"))
    f:write(s.body, "\n")
    f:close()
    run_cmd = "lua5.4 " .. q(path) .. " " .. (want.args or "")
  else
    run_cmd = s.body
  end
  fake:reset()
  out, err, code = E.sh("env -u LD_LIBRARY_PATH " .. run_cmd, s.lang == "c" and api_env or lua_env)
  is0(code, name .. " from the docs runs (no LD_LIBRARY_PATH)", err)
  T.like(out, want.out or "%S", name .. " prints what it should", err)
  if want.wire then T.is(cancels_seen(), want.wire, name .. " sends its cancels") end
  if want.fail_args then        -- the failure path: the error printed, exit 1
    out, err, code = E.sh("env -u LD_LIBRARY_PATH " .. run_cmd .. " " .. want.fail_args, api_env)
    T.is(code, 1, name .. " exits 1 when its cancel fails", err)
    T.like(err, want.fail_err, name .. " prints the error of a failed cancel")
    T.is(out, "", name .. " prints nothing on stdout then")
  end
  ::next::
end

-- ---- make rock alone (no LuaRocks): its folders from pkg-config ----
local rockdir = E.tmp .. "/pkg-rock-alone"
_, err, code = E.sh(("%s rock ROCK_BUILD=%s"):format(MAKE, q(rockdir)))
is0(code, "make rock alone (no LuaRocks variables) builds the module", err)
fake:reset()
out, err = E.sh("lua5.4 -e " .. q('package.cpath = "' .. rockdir .. '/module/?.so;" .. package.cpath; '
                                  .. 'print(assert(require("runctl").runs.cancel("thread_abc", "run_xyz")).status)'), api_env)
T.is(out, "cancelling\n", "the stock lua5.4 cancels with the module make rock built", err)

-- ---- LuaRocks: luarocks make into a private tree, used from the stock lua5.4 ----
if not have("luarocks") then
  skip("luarocks make builds and installs the module", "luarocks is not installed (make deps installs it)")
  skip("lua5.4 cancels with the rock's module", "luarocks is not installed")
else
  local tree = E.tmp .. "/pkg-rocks"
  -- --deps-mode=none: lua-cjson comes from Debian's lua-cjson, which luarocks does not know.
  _, err, code = E.sh(("luarocks --lua-version 5.4 --tree %s make --deps-mode=none runctl-%s-1.rockspec")
                      :format(q(tree), version))
  is0(code, "luarocks make builds the module and installs it into a private tree", err)
  local env = { LUA_CPATH = tree .. "/lib/lua/5.4/?.so;;" }
  for k, v in pairs(api_env) do env[k] = v end
  fake:reset()
  out, err, code = E.sh("lua5.4 -e " .. q('local rc = require "runctl"; print(package.searchpath("runctl", package.cpath), rc.VERSION, '
                                          .. 'assert(rc.runs.cancel("thread_abc", "run_xyz")).status)'), env)
  T.is(out, ("%s/lib/lua/5.4/runctl.so\t%s\tcancelling\n"):format(tree, version),
       "the stock lua5.4 requires the rock's module and cancels with it", err)
  local rock_dir = E.sh(("luarocks --lua-version 5.4 --tree %s show --rock-dir runctl"):format(q(tree))):match("[^\n]+")
  T.ok(rock_dir and io.open(rock_dir .. "/types/runctl.lua") ~= nil,
       "the rock carries the LuaLS definitions (ROCK_DIR/types/runctl.lua)", rock_dir)
  -- Then for LuaJIT, as docs/installing.md says, in the same checkout: its own
  -- objects, not the 5.4 ones just built (once installed as they were:
  -- "undefined symbol: lua_ident" in luajit).
  if not (have("luajit") and io.open("/usr/include/luajit-2.1/lua.h")) then
    skip("luarocks --lua-version 5.1 make with LuaJIT's headers", "luajit or libluajit-5.1-dev is missing (make deps)")
  else
    local tree51 = E.tmp .. "/pkg-rocks-51"
    _, err, code = E.sh(("luarocks --lua-version 5.1 --tree %s make --deps-mode=none runctl-%s-1.rockspec "
                         .. "LUA_INCDIR=/usr/include/luajit-2.1"):format(q(tree51), version))
    is0(code, "luarocks --lua-version 5.1 make builds the module with LuaJIT's headers after a 5.4 one", err)
    local env51 = { LUA_CPATH = tree51 .. "/lib/lua/5.1/?.so;;" }
    for k, v in pairs(api_env) do env51[k] = v end
    fake:reset()
    out, err = E.sh("luajit -e " .. q('print(assert(require("runctl").runs.cancel("thread_abc", "run_1")).status)'), env51)
    T.is(out, "cancelling\n", "luajit requires that rock's module and cancels with it", err)
  end
end

-- ---- make deb: unpacked and run ----
if not have("dpkg-deb") then
  skip("make deb builds the package", "dpkg-deb is not installed (not a Debian system)")
else
  local arch = E.sh("dpkg --print-architecture"):match("%S+")
  local debdir = E.tmp .. "/pkg-deb"
  local deb = ("%s/runctl_%s_%s.deb"):format(debdir, version, arch)
  -- DEB_BUILD relative, as its default is: deb.sh once failed to cd into it (a spurious error)
  _, err, code = E.sh(("mkdir -p %s && %s deb DEB_BUILD=$(realpath --relative-to=. %s/build) DEB_OUT=%s")
                      :format(debdir, MAKE, debdir, debdir))
  is0(code, "make deb succeeds", err)
  T.unlike(err, "can't cd", "make deb prints no cd error", err)
  T.ok(io.open(deb) ~= nil, "and writes runctl_VERSION_ARCH.deb", deb)
  local info = E.sh("dpkg-deb -I " .. q(deb))
  T.like(info, "\n Package: runctl\n", "its control file names the package")
  T.like(info, "\n Version: " .. esc(version) .. "\n", "with the version of lua/runctl.h")
  T.like(info, "\n Architecture: " .. esc(arch) .. "\n", "and this machine's architecture")
  local depends = info:match("\n Depends: ([^\n]*)") or ""
  for _, pkg in ipairs { "libc6", "libcurl4", "liblua5.4%-0", "lua%-cjson" } do
    T.like(", " .. depends .. ",", ", " .. pkg .. "[ ,]", "Depends names " .. pkg:gsub("%%", ""))
  end
  local contents = E.sh("dpkg-deb -c " .. q(deb))
  local libdir = "usr/lib/" .. (E.sh("cc -print-multiarch"):match("%S+") or "")
  for _, f in ipairs { "usr/bin/runctl", "usr/share/runctl/scripts/cancel-older-than.lua",
                       "usr/share/man/man1/runctl.1.gz", "usr/share/man/man1/runctl-watch.1.gz",
                       "usr/share/bash-completion/completions/runctl", "usr/share/zsh/vendor-completions/_runctl",
                       "usr/share/doc/runctl/changelog.gz",
                       libdir .. "/librunctl.so." .. version, libdir .. "/librunctl.a", "usr/include/runctl.h",
                       libdir .. "/pkgconfig/runctl.pc", libdir .. "/lua/5.4/runctl.so",
                       "usr/share/runctl/types/runctl.lua" } do
    T.like(contents, " %./" .. esc(f) .. "[\n ]", "the package holds " .. f)
  end
  local root = debdir .. "/x"
  _, err, code = E.sh(("dpkg-deb -x %s %s"):format(q(deb), q(root)))
  is0(code, "dpkg-deb -x unpacks it", err)
  out = E.sh(root .. "/usr/bin/runctl --version")
  T.like(out, "^runctl " .. esc(version) .. " ", "the unpacked binary runs")
  fake:reset()
  out, err, code = E.sh(root .. "/usr/bin/runctl cancel thread_abc/run_xyz", api_env)
  T.like(out, '"action":"cancelled"', "and runs a bundled script from its own share/ against the server", err)
  T.is(cancels_seen(), "POST /v1/threads/thread_abc/runs/run_xyz/cancel", "which sent the cancel")
end
T.done()
