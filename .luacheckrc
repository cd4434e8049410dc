-- .luacheckrc — luacheck settings for runctl's Lua (make lint; tests/run.sh runs it
-- as its "lint" step): lua/lib, scripts, tests, tools and bench, as Lua 5.4.
std = "lua54"
codes = true
-- The house style wraps at a sentence rather than a column: code lines stay
-- under 140 (luacheck's default, 120, would reflow about 150 lines).
max_line_length = 140
-- Methods keep the colon form (svc:stopping(), fake:requests()) even when they
-- need no self: the callers' form is the API.
self = false

-- The globals the runctl host sets (runctl.GLOBALS, lua/lib/runctl.lua): what
-- scripts, tests and benches run with. A new top-level resource is one more name here.
-- Scripts may switch runctl.dry_run on: the one field they write.
local RUNTIME = { runctl = { other_fields = true, fields = { dry_run = { read_only = false } } },
                  "openai", "http", "json", "task", "log",
                  "runs", "responses", "batches", "fine_tuning", "vector_stores", "uploads", "evals" }

-- The Lua half of the API gets them from require, never as globals.
files["lua/lib"] = { read_globals = {} }
files["scripts"] = { read_globals = RUNTIME }
-- A test takes a call's whole answer (out, err, code = E.sh(...)) and asserts
-- on what its case is about: values set together with a used one may go
-- unused (a value set alone and never read still warns).
files["tests"] = { read_globals = RUNTIME, unused_secondaries = false }
files["tools"] = { read_globals = RUNTIME }
files["bench"] = { read_globals = RUNTIME }
-- A wrk script: wrk sets `wrk` and calls the `request` it defines.
files["bench/wrk-cancel.lua"] = { globals = { "wrk", "request" } }
files["packaging"] = { read_globals = RUNTIME }
-- LuaJIT hosts (tests/hosts, bench/love): LÖVE's and Neovim's own globals; the
-- LuaJIT test runner gives the 5.4 tests what 5.1 lacks (tests/luajit/run.lua).
files["tests/hosts"] = { std = "luajit" }
files["tests/hosts/love"] = { std = "luajit", globals = { "love" } }
files["tests/hosts/nvim.lua"] = { std = "luajit", read_globals = { "vim" } }
files["tests/hosts/nvim_watch.lua"] = { std = "luajit", read_globals = { "vim" } }
files["bench/love"] = { std = "luajit", globals = { "love" } }
files["tests/luajit"] = { std = "luajit" }
files["share"] = { read_globals = RUNTIME }
-- LuaLS definitions: declarations with empty bodies, globals on purpose.
exclude_files = { "types/runctl.lua" }
