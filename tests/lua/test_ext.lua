-- tests/lua/test_ext.lua — extending an installed runctl without recompiling:
-- `make install PREFIX=...`, then an extension file in PREFIX/share/runctl/ext
-- defines a resource and a job kind the fake server serves (its batch routes
-- under /acme, via --path-prefix), and every tool (the bindings, cancel,
-- cancel-older-than --kind, watch --once) handles the kind like a built-in
-- one with the installed binary. Also: the order extensions load in,
-- package.path, --no-ext, a broken extension (FILE:LINE, exit 2, nothing
-- sent), and runctl.define's checks from an extension.
local T = require "helper"
local E = require "embed"

local PREFIX = E.tmp .. "/ext-prefix"
local MAKE = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s"
local BIN = PREFIX .. "/bin/runctl"
local SYSTEM = PREFIX .. "/share/runctl/ext"
local HOME = E.tmp .. "/ext-home"

local out, err, code = E.sh(("%s install PREFIX=%s BUILD=%s"):format(MAKE, PREFIX, E.build))
T.is(code, 0, "make install PREFIX=... succeeds", err)
T.ok(os.execute("test -d " .. T.quote(SYSTEM)) == true, "it creates the system extension directory share/runctl/ext")

local function write(path, text)
  os.execute("mkdir -p " .. T.quote(path:match("^(.*)/[^/]+$")))
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- The worked example of docs/extending.md, with the paths the fake
-- server serves: a compatible server's own cancellable jobs.
local ACME = [[
-- acme.lua — Acme's GPU jobs, a kind of job only Acme's server has
runctl.define("acme.jobs", {
  methods = {
    cancel = { "POST", "/acme/batches/{job_id}/cancel" },
    retrieve = { "GET", "/acme/batches/{job_id}" },
    list = { "GET", "/acme/batches", params = { limit = runctl.params.limit100, after = runctl.params.cursor } },
  },
  paginate = "list",
  wait = { using = "retrieve", while_status = { "validating", "in_progress", "finalizing", "cancelling" } },
})
runctl.kinds.define("acme-jobs", {
  resource = "acme.jobs", object = "acme.job", one = "acme job", many = "acme jobs",
  prefix = "acmejob_", list = "each",
  active = { "validating", "in_progress", "finalizing" },
  age_from = { created = "created_at", started = "in_progress_at" }, expires = "expires_at",
  wait = 600, cost = { "request_counts" },
})
]]
write(SYSTEM .. "/acme.lua", ACME)

local SEED = {
  threads = json.array(),
  batches = {
    { id = "acmejob_old", status = "in_progress", created_at = -30000 },
    { id = "acmejob_older", status = "validating", created_at = -40000 },
    { id = "acmejob_young", status = "in_progress", created_at = -60 },
    { id = "acmejob_done", status = "completed", created_at = -50000 },
    { id = "acmejob_stuck", status = "cancelling", created_at = -50000 },
    { id = "acmejob_two", status = "finalizing", created_at = -70 },
  },
}
local fake = T.fake("--path-prefix /v1/acme --seed " .. T.seed_file(SEED))
local function reseed() fake:seed(SEED) fake:clear() end

-- Runs the installed runctl with a clean environment (no user extensions
-- but those env names, no script folder but the installed one).
local function run(args, env)
  local all = { OPENAI_API_KEY = E.KEY, OPENAI_BASE_URL = fake.base, HOME = HOME }
  for k, v in pairs(env or {}) do all[k] = v end
  local cmd = "env -u XDG_CONFIG_HOME -u RUNCTL_PATH -u RUNCTL_SCRIPTS"
  for k, v in pairs(all) do cmd = cmd .. " " .. k .. "=" .. T.quote(v) end
  return E.sh(("%s %s %s %s"):format(cmd, E.wrap, BIN, args))
end

local function wire()
  local list = {}
  for _, r in ipairs(fake:requests()) do
    list[#list + 1] = r.method .. " " .. r.path .. (r.query ~= "" and ("?" .. r.query) or "")
  end
  table.sort(list)
  return table.concat(list, "\n")
end

---------------------------------------------------------------------- the bindings

reseed()
out, err, code = run([[-e '
local job = assert(acme.jobs.cancel("acmejob_old"))
print(job.status, runctl.acme == acme, openai.acme.jobs == acme.jobs)
print(pcall(acme.jobs.cancel, ""))
print(pcall(acme.jobs.list, { limit = 0 }))
local c = runctl.client{ api_key = "sk-other-0123456789", base_url = os.getenv("OPENAI_BASE_URL") }
print(c.acme.jobs.retrieve("acme job/1?x") == nil)
for j in acme.jobs.each({ limit = 2 }) do io.write(j.id, " ") end print()
print(assert(acme.jobs.wait("acmejob_old", { timeout = 5, interval = 0.01 })).status)
local _, err = acme.jobs.cancel("acmejob_done")
print(err and err.outcome, err and err.attempts)']])
local lines = E.lines(out)
T.is(code, 0, "a script uses the extension's resource", err)
T.is(lines[1], "cancelling\ttrue\ttrue", "acme.jobs.cancel: a global, a field of runctl and of openai")
T.like(lines[2], "^false\tacme%.jobs%.cancel: job_id must not be empty", "with the same ID checks")
T.like(lines[3], "^false\tacme%.jobs%.list: limit must be an integer from 1 to 100 %(got 0%)", "and params validation")
T.is(lines[4], "true", "a client made in the script has it too")
T.is(lines[5], "acmejob_young acmejob_two acmejob_old acmejob_older acmejob_done acmejob_stuck ", "each pages through every job")
T.is(lines[6], "cancelled", "wait polls until the job leaves its pending statuses")
T.is(lines[7], "already_finished\t1", "a cancel refused as finished: the same outcome as a built-in cancel, not retried")
local reqs = fake:requests()
T.is(reqs[1].method .. " " .. reqs[1].path, "POST /v1/acme/batches/acmejob_old/cancel", "the cancel on the wire")
T.is(reqs[1].headers["authorization"], "Bearer " .. E.KEY, "with the default client's credentials")
T.ok(reqs[1].headers["idempotency-key"] ~= nil and reqs[1].headers["openai-beta"] == nil,
     "an Idempotency-Key, and no OpenAI-Beta (the definition has no beta)")
T.is(reqs[2].path, "/v1/acme/batches/acme%20job%2F1%3Fx", "an ID is escaped as one path segment")
T.is(reqs[3].path .. "?" .. reqs[3].query, "/v1/acme/batches?limit=2", "the first page")
T.is(reqs[4].query, "after=acmejob_two&limit=2", "the next page starts after the last one")

-- runctl.define at run time, from a script: clients made before it get it too.
out, err, code = run([[-e '
local before = runctl.client{ api_key = "sk-other-0123456789" }
runctl.define("fine_tuning.checkpoints", { methods = { retrieve = { "GET", "/fine_tuning/checkpoints/{id}" } } })
print(type(before.fine_tuning.checkpoints.retrieve), type(fine_tuning.checkpoints.retrieve),
      runctl.fine_tuning == fine_tuning and fine_tuning == openai.fine_tuning, type(fine_tuning.jobs.cancel),
      pcall(function() before.fine_tuning.checkpoints.retrieve = print end))
runctl.define("gpu", { methods = { cancel = { "POST", "/gpu/{id}/cancel" } } })
print(gpu == openai.gpu, gpu == runctl.gpu, type(before.gpu.cancel))
print(select(2, pcall(runctl.define, "log", { methods = { x = { "GET", "/x" } } })))
print(select(2, pcall(runctl.define, "zz", { methods = { x = { "GET", "/x", params = { limit = 5 } } } })))
print(select(2, pcall(runctl.define, "zz", { methods = { x = { "GET", "/x" } }, wait = { using = "y", while_status = { "a" } } })))
print(select(2, pcall(runctl.define, "zz", { methods = { x = { "GET", "/x" } }, paginate = "x" })))
print(select(2, pcall(runctl.define, "runs.cancel", { methods = { x = { "GET", "/x" } } })))
print(select(2, pcall(runctl.define, "fine_tuning", { methods = { jobs = { "GET", "/x" } } })))
print(type(runs.cancel), type(fine_tuning.jobs))']])
lines = E.lines(out)
T.is(code, 0, "runctl.define from a script", err)
T.like(lines[1], "^function\tfunction\ttrue\tfunction\tfalse\t.*read%-only",
       "a client made before the call has it, the global and runctl's field too; its siblings stay; read-only like the rest")
T.is(lines[2], "true\ttrue\tfunction", "a new top-level name: a global, a field of runctl and of every client")
T.like(lines[3], "runctl%.define: log: the name 'log' is taken", "a taken name is refused")
T.like(lines[4], "runctl%.define: zz: methods%.x%.params%.limit must be a function", "a params validator that is not one")
T.like(lines[5], "runctl%.define: zz: wait%.using must name one of its methods %(got y%)", "wait.using naming no method")
T.like(lines[6], "runctl%.define: zz: paginate: methods%.x must take params with an 'after' cursor",
       "paginate on a method without a cursor")
T.like(lines[7], "runctl%.define: runs%.cancel: 'cancel' is a method of runs", "a name under a method is refused")
T.like(lines[8], "runctl%.define: fine_tuning: method jobs would hide the resource fine_tuning%.jobs", "a method over a resource too")
T.is(lines[9], "function\ttable", "both left as they were")

---------------------------------------------------------------------- the tools

reseed()
out, err, code = run("cancel-older-than --kind acme-jobs --older-than 1h --yes")
T.is(code, 0, "cancel-older-than --kind acme-jobs: exit 0", err)
local _, by = T.report(out)
T.is(by.acmejob_old and by.acmejob_old.action, "cancelled", "an old active job is cancelled")
T.is(by.acmejob_older and by.acmejob_older.action, "cancelled", "in each active status of the kind")
T.is(by.acmejob_old and by.acmejob_old.object, "acme.job", "the report names the kind's object")
T.is(by.acmejob_stuck and by.acmejob_stuck.action, "already_done", "a cancelling one is already done")
T.is(by.acmejob_young, nil, "a young one is left alone")
T.is(by.acmejob_done, nil, "a finished one is not considered")
T.like(err, "acme jobs considered", "the summary speaks of acme jobs")
T.is(wire(), table.concat({ "GET /v1/acme/batches?limit=100", "POST /v1/acme/batches/acmejob_old/cancel",
                            "POST /v1/acme/batches/acmejob_older/cancel" }, "\n"),
     "on the wire: the kind's list, then its cancels")

reseed()
out, err, code = run("cancel-older-than --kind acme-jobs --older-than 30s --dry-run")
T.is(code, 0, "a dry run of the kind", err)
local plan = out
T.like(plan, '"action":"would_cancel"', "says what it would cancel")
fake:clear()
local plan_file = E.tmp .. "/ext-plan.jsonl"
write(plan_file, plan)
out, err, code = run("cancel --file " .. plan_file)
T.is(code, 0, "cancel takes that report's lines of the kind", err)
_, by = T.report(out)
T.is(by.acmejob_young and by.acmejob_young.action, "cancelled", "and cancels them as acme jobs")
T.like(wire(), "POST /v1/acme/batches/acmejob_young/cancel", "through the kind's own cancel path")

reseed()
out, err, code = run("cancel acmejob_two")
T.is(code, 0, "cancel ID: the extension kind's prefix names its kind", err)
_, by = T.report(out)
T.is(by.acmejob_two and by.acmejob_two.action, "cancelled", "it is cancelled")
T.is(wire(), "POST /v1/acme/batches/acmejob_two/cancel", "with the kind's cancel")

reseed()
out, err, code = run("watch --once --kind acme-jobs")
T.is(code, 0, "watch --once --kind acme-jobs: exit 0", err)
T.like(out, "^runctl watch: acme jobs at %d%d:%d%d:%d%d\n", "a title naming the kind")
T.like(out, "\nACME JOBS%s+VALIDATING%s+IN_PROGRESS%s+FINALIZING%s+CANCELLING%s+FINISHED%s+OLDEST_ACTIVE\n",
       "columns: the kind's active statuses, then cancelling")
T.like(out, "\nacme jobs%s+1%s+2%s+1%s+1%s+1%s+13h5%dm\n", "its counts and its oldest pending age")
T.is(wire(), "GET /v1/acme/batches?limit=100", "watch only lists")

out = run("cancel-older-than --help")
T.like(out, "\n  %-%-kind runs|batches|fine%-tuning|eval%-runs|acme%-jobs\n",
       "cancel-older-than's usage lists the kind (shell completion reads it)")
out = run("watch --help")
T.like(out, "\n  %-%-kind batches|fine%-tuning|acme%-jobs\n", "and watch's")

reseed()
local POLICY = E.tmp .. "/ext-policy.lua"
write(POLICY, 'return { rules = { { name = "stale acme", kind = "acme-jobs", older_than = "1h" } } }\n')
out, err, code = run("supervise " .. POLICY .. " --once")
T.is(code, 0, "supervise --once with a rule on the extension's kind: exit 0", err)
local journal = {}
for _, rec in ipairs((T.report(out))) do if rec.id then journal[rec.id] = rec end end
T.is(journal.acmejob_old and journal.acmejob_old.outcome, "cancel_requested", "it cancels an old acme job")
T.is(journal.acmejob_old and journal.acmejob_old.kind, "acme-jobs", "journaled under the kind's name")
T.is(journal.acmejob_young, nil, "and leaves a young one alone")
T.like(wire(), "^GET /v1/acme/batches%?limit=100\nPOST /v1/acme/batches/acmejob_old/cancel\n",
       "on the wire: the kind's list, then its cancels")

-- The installed bash completion offers the kind (it reads `runctl help NAME`).
local COMPLETION = PREFIX .. "/share/bash-completion/completions/runctl"
if os.execute("command -v bash >/dev/null") == true and os.execute("test -f " .. T.quote(COMPLETION)) == true then
  local probe = T.write_file(("source %s\nCOMP_WORDS=(%s cancel-older-than --kind ''); COMP_CWORD=3; _runctl; "
                              .. "echo \"${COMPREPLY[*]}\"\n"):format(T.quote(COMPLETION), T.quote(BIN)))
  out, err = E.sh("env -u XDG_CONFIG_HOME -u RUNCTL_PATH HOME=" .. T.quote(HOME) .. " bash " .. probe)
  T.is(out, "runs batches fine-tuning eval-runs acme-jobs\n", "bash completion of --kind offers the extension's kind", err)
else
  T.ok(true, "# SKIP bash or the installed completion is missing")
end

---------------------------------------------------------------------- --no-ext, a broken extension

out, err, code = run("--no-ext cancel-older-than --kind acme-jobs --older-than 1h")
T.is(code, 2, "--no-ext: the kind is unknown", err)
out, err, code = run("--no-ext -e 'print(acme)'")
T.is(out, "nil\n", "--no-ext: no extension resource either")

local BROKEN = E.tmp .. "/ext-broken"
write(BROKEN .. "/bad.lua", "-- a typo in the verb\nrunctl.define('gpu', { methods = { cancel = { 'post', '/gpu/{id}/cancel' } } })\n")
reseed()
out, err, code = run("cancel acmejob_two", { RUNCTL_PATH = BROKEN })
T.is(code, 2, "a broken extension: exit 2")
T.like(err, "^runctl: extension: " .. BROKEN:gsub("%p", "%%%0") .. "/bad%.lua:2: runctl%.define: gpu: "
            .. "methods%.cancel%[1%] %(the verb%) must be an upper%-case HTTP method", "named with its file and line")
T.unlike(err, "traceback", "no traceback")
T.is(wire(), "", "before any work is done")
write(BROKEN .. "/bad.lua", "runctl.define('gpu', { methods = { cancel = { 'POST', '/gpu/{id/cancel' } } })\n")
out, err, code = run("-e 1", { RUNCTL_PATH = BROKEN })
T.like(err, "bad%.lua:1: runctl%.define: gpu: methods%.cancel%[2%] %(the path%) has an unmatched", "a bad path template")
write(BROKEN .. "/bad.lua", "runctl.kinds.define('gpu', { resource = 'gpu', object = 'gpu', active = { 'running' } })\n")
out, err, code = run("-e 1", { RUNCTL_PATH = BROKEN })
T.like(err, "bad%.lua:1: runctl%.kinds%.define: gpu: resource 'gpu' is not a defined resource", "a kind of no resource")
write(BROKEN .. "/bad.lua", "runctl.define('gpu', { methods = { cancel = { 'POST', '/gpu/{id}/cancel' } } })\n"
      .. "runctl.kinds.define('gpu', { resource = 'gpu', object = 'gpu', active = { 'running' },\n"
      .. "  parent = { name = 'cluster', field = 'cluster_id', prefix = 'cl_' } })\n")
out, err, code = run("-e 1", { RUNCTL_PATH = BROKEN })
T.like(err, "bad%.lua:2: runctl%.kinds%.define: gpu: resource 'gpu' cancels by 1 ID%(s%) %(/gpu/{id}/cancel%) "
            .. "but a kind with a parent takes 2; drop parent", "a kind with a parent over a one-ID resource", err)
write(BROKEN .. "/bad.lua", "runctl.define('gpu', { methods = { cancel = { 'POST', '/c/{cid}/gpu/{id}/cancel' } } })\n"
      .. "runctl.kinds.define('gpu', { resource = 'gpu', object = 'gpu', active = { 'running' } })\n")
out, err, code = run("-e 1", { RUNCTL_PATH = BROKEN })
T.like(err, "bad%.lua:2: runctl%.kinds%.define: gpu: resource 'gpu' cancels by 2 ID%(s%) .* but a kind without one "
            .. "takes 1; give parent = ", "and one without a parent over a two-ID resource", err)
write(BROKEN .. "/bad.lua", "local x = = 1\n")
out, err, code = run("-e 1", { RUNCTL_PATH = BROKEN })
T.like(err, "bad%.lua:1: unexpected symbol", "a syntax error")
T.is(code, 2, "exit 2")
out, err, code = run("--no-ext -e 'print(1)'", { RUNCTL_PATH = BROKEN })
T.is(out, "1\n", "--no-ext runs despite it")

---------------------------------------------------------------------- order and package.path

local D1, D2, USER = E.tmp .. "/ext-d1", E.tmp .. "/ext-d2", E.tmp .. "/ext-xdg/runctl/ext"
local function marker(name) return ("LOADED = (LOADED or '') .. %q\n"):format(name .. " ") end
write(D1 .. "/20-b.lua", marker("d1/20-b"))
write(D1 .. "/10-a.lua", marker("d1/10-a") .. "UTIL = require 'acmeutil.names'\n")
write(D1 .. "/acmeutil/names.lua", "return 'from a module beside the extensions'\n")
write(D1 .. "/notes.txt", "not lua\n")
write(D2 .. "/15-c.lua", marker("d2/15-c"))
write(D2 .. "/20-b.lua", marker("d2/20-b (hidden by d1's)"))
write(USER .. "/00-user.lua", marker("user/00"))
write(HOME .. "/.config/runctl/ext/00-home.lua", marker("home/00"))
out, err, code = run("-e 'print(LOADED) print(UTIL) print(acme ~= nil)'",
                     { RUNCTL_PATH = D1 .. ":" .. D2, XDG_CONFIG_HOME = E.tmp .. "/ext-xdg" })
lines = E.lines(out)
T.is(lines[1], "d1/10-a d1/20-b d2/15-c user/00 ", "RUNCTL_PATH's directories in order, sorted names, then the user's")
T.is(lines[2], "from a module beside the extensions", "require finds modules in the extension directories")
T.is(lines[3], "true", "and the system directory last")
out = run("-e 'print(LOADED)'")
T.is(out, "home/00 \n", "without XDG_CONFIG_HOME the user's directory is ~/.config/runctl/ext")

T.done()
