-- tests/lua/test_cli.lua — the runctl command: script/-e/stdin, arg and ...,
-- --help/--version, errors with tracebacks, flags and environment, dry-run.
local T = require "helper"
local fake = T.fake("--seed " .. T.seed_file(T.basic_seed()))
local KEY = "sk-test-abcdefghijklmnop"
local env = { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base }

local out, err, code = T.run("--version")
T.like(out, "^runctl %d+%.%d+%.%d+", "--version prints the version")
T.is(code, 0, "--version exits 0")
out, err, code = T.run("--help")
T.like(out, "usage: runctl", "--help prints usage")
T.like(out, "%-%-dry%-run", "--help lists the flags")
out, err, code = T.run("")
T.is(code, 2, "no script is a usage error (exit 2)")
out, err, code = T.run("--bogus x")
T.like(err, "unknown option '%-%-bogus'", "unknown flag is named")
T.is(code, 2, "unknown flag exits 2")
out, err, code = T.run("--max-retries lots -e 1")
T.like(err, "%-%-max%-retries needs a whole number", "bad flag value is explained")
out, err, code = T.run("--timeout -e 1")
T.like(err, "%-%-timeout needs a positive number", "--timeout validates")

-- -e, arg and ...
out, err, code = T.run("-e " .. T.quote("print(select('#', ...), arg[0], arg[1], arg[2], ...)") .. " a b")
T.is(out, "2\t-e\ta\tb\ta\tb\n", "-e CODE ARGS: ... and arg")
local script = T.write_file("print(arg[0] ~= nil, ...)\nreturn 1")
out, err, code = T.run(script .. " x 'y z'")
T.is(out, "true\tx\ty z\n", "script args arrive as ... and arg")
out, err, code = T.run("- one", nil, "print('stdin', ...)")
T.is(out, "stdin\tone\n", "'-' reads the script from stdin")
out, err, code = T.run("/nonexistent/script.lua")
T.like(err, "cannot open /nonexistent/script%.lua", "missing script is reported")
T.is(code, 2, "missing script exits 2")

-- errors: message + traceback, non-zero, never a crash
out, err, code = T.run("-e " .. T.quote("local function f() error('kaput') end f()"))
T.like(err, "kaput", "error message printed")
T.like(err, "stack traceback", "with a traceback")
T.is(code, 1, "script error exits 1")
-- runctl's own Lua is embedded precompiled, with its debug info: a traceback
-- through it names the module's file and line as the source would.
out, err, code = T.run("-e " .. T.quote("runctl.escape_id(nil)"))
T.like(err, "runctl%.escape_id: id must be a string", "an error raised inside runctl's Lua reads the same")
T.like(err, "\n%s*%[runctl%]/runctl%.lua:%d+: in function 'runctl%.escape_id'",
       "and its traceback names runctl's module file and line ([runctl]/runctl.lua:N)")
out, err, code = T.run("-e " .. T.quote("error(setmetatable({}, {__tostring = function() return 'custom' end}))"))
T.like(err, "custom", "error objects print via __tostring")
out, err, code = T.run("-e " .. T.quote("error({})"))
T.is(code, 1, "a table error without __tostring still exits 1 cleanly")
out, err, code = T.run("-e " .. T.quote("x = = 1"))
T.like(err, "unexpected symbol near '='", "syntax errors are reported")
T.is(code, 1, "syntax error exits 1")
out, err, code = T.run("-e " .. T.quote("task.spawn(function() error('in a task', 0) end)"))
T.like(err, "in a task", "an unjoined failed task is reported")
T.is(code, 1, "and makes the exit status 1")
out, err, code = T.run("-e " .. T.quote("os.exit(7)"))
T.is(code, 7, "os.exit sets the status")

-- a real cancel through the CLI, env config, trimmed
out, err, code = T.run("-e " .. T.quote("local r = assert(runs.cancel('thread_main', 'run_queued')) print(r.status)"),
                       { OPENAI_API_KEY = "  " .. KEY .. "\t", OPENAI_BASE_URL = " " .. fake.base .. " " })
T.is(out, "cancelling\n", "runs.cancel from -e with trimmed environment")
T.is(code, 0, "exit 0")
T.is(T.header(fake:last(), "authorization"), "Bearer " .. KEY, "trimmed key sent")

-- env: org/project; empty means unset
fake:clear()
T.run("-e " .. T.quote("runs.retrieve('thread_main', 'run_failed')"),
      { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, OPENAI_ORG_ID = "org-env", OPENAI_PROJECT_ID = "" })
local req = fake:last()
T.is(T.header(req, "openai-organization"), "org-env", "OPENAI_ORG_ID sets OpenAI-Organization")
T.is(T.header(req, "openai-project"), nil, "empty OPENAI_PROJECT_ID is unset")

-- flags beat env
fake:clear()
T.run("--base-url " .. fake.base .. " --org org-flag --project proj-flag -e "
      .. T.quote("runs.retrieve('thread_main', 'run_failed')"),
      { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = "http://127.0.0.1:1/v1", OPENAI_ORG_ID = "org-env" })
req = fake:last()
T.ok(req ~= nil, "--base-url beats OPENAI_BASE_URL")
T.is(req and T.header(req, "openai-organization"), "org-flag", "--org beats OPENAI_ORG_ID")
T.is(req and T.header(req, "openai-project"), "proj-flag", "--project sets OpenAI-Project")
out = T.run("--max-retries 5 --timeout 7 -e " .. T.quote("print(openai.max_retries, openai.timeout)"), env)
T.is(out, "5\t7.0\n", "--max-retries and --timeout set the default client")
out = T.run("--max-retries 5 -e " .. T.quote("print(runctl.client{max_retries = 1}.max_retries)"), env)
T.is(out, "1\n", "a client table beats the flags")

-- no key: clear error, nothing sent
fake:clear()
out, err, code = T.run("-e " .. T.quote("runs.cancel('thread_main', 'run_queued')"), { OPENAI_BASE_URL = fake.base })
T.like(err, "no API key: set OPENAI_API_KEY", "missing key says how to set one")
T.is(code, 1, "and exits 1")
T.is(#fake:requests(), 0, "nothing was sent")

-- dry-run: GET goes, POST refused by the client
fake:clear()
out, err, code = T.run("--dry-run -e " .. T.quote([[
  print(runctl.dry_run)
  local r = assert(runs.retrieve('thread_main', 'run_in_progress'))
  local x, e = runs.cancel('thread_main', 'run_in_progress')
  print(x, e.kind, tostring(e))
  local h, he = http.request{method = 'POST', url = ']] .. fake.base .. [[/threads/x/runs/y/cancel'}
  print(h, he.kind)
  print(pcall(function() runctl.dry_run = false end))
]]), env)
T.like(out, "^true\n", "runctl.dry_run is true under --dry-run")
T.like(out, "nil\tdry_run\tdry_run: dry run: not sending POST http://127%.0%.0%.1:%d+/v1/threads/thread_main/runs/run_in_progress/cancel\n",
       "a cancel returns nil, err with kind dry_run")
T.like(out, "\nnil\tdry_run\n", "http.request POST is refused too")
T.like(out, "false\t.-cannot be switched off", "dry-run cannot be switched off")
local reqs = fake:requests()
T.is(#reqs, 1, "only the GET reached the server")
T.is(reqs[1] and reqs[1].method, "GET", "and it was the GET")
out = T.run("-e " .. T.quote("runctl.dry_run = true print(runctl.dry_run, select(2, runs.cancel('t', 'r')).kind)"), env)
T.is(out, "true\tdry_run\n", "a script can switch dry-run on")

-- -v logs attempts without the key
out, err, code = T.run("-v -e " .. T.quote("runs.retrieve('thread_main', 'run_failed')"), env)
T.like(err, "GET http://127%.0%.0%.1:%d+/v1/threads/thread_main/runs/run_failed %-> 200", "-v logs each attempt")
T.unlike(err, KEY, "-v never prints the key")
out, err, code = T.run("-vv -e " .. T.quote("runs.retrieve('thread_main', 'run_failed')"), env)
T.like(err, "Authorization: REDACTED", "-vv shows headers with auth redacted")
T.unlike(err, KEY, "-vv never prints the key")
out, err, code = T.run("-e " .. T.quote("runs.retrieve('thread_main', 'run_failed')"),
                       { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, OPENAI_LOG = "debug" })
T.like(err, "Authorization: REDACTED", "OPENAI_LOG=debug logs like -vv")

-- require "runctl" gives the same API
out = T.run("-e " .. T.quote("local rc = require 'runctl' print(rc.runs == runs, rc.openai == openai, rc.task == task, "
                             .. "rc.json == json, rc.http == http, rc.log == log)"), env)
T.is(out, "true\ttrue\ttrue\ttrue\ttrue\ttrue\n", "require 'runctl' exposes the globals as fields")

T.done()
