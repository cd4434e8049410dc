-- tests/lua/test_embed_lib.lua — the embedding API from C: runs
-- tests/embed/test_embed.c (built as BUILD/test_embed, TAP) against two fake
-- servers, a quick one and one that holds every request a second, and reports
-- each of its checks here. Also the smallest host, examples/minimal-host.
local T = require "helper"
local E = require "embed"

local seed = T.seed_file(T.basic_seed())
local quick = T.fake("--seed " .. seed)
local slow = T.fake("--latency-ms 1000 --seed " .. seed)

local out, err, code = E.sh(("%s %s/test_embed %s %s"):format(E.wrap, E.build, quick.base, slow.base),
                            { OPENAI_API_KEY = E.KEY })
local plan, seen = nil, 0
local diag = {}
for line in out:gmatch("[^\n]+") do
  local verdict, name = line:match("^(ok) %d+ %- (.*)$")
  if not verdict then verdict, name = line:match("^(not ok) %d+ %- (.*)$") end
  if verdict then
    seen = seen + 1
    T.ok(verdict == "ok", "C: " .. name, table.concat(diag, "\n"))
    diag = {}
  elseif line:match("^#") then
    diag[#diag + 1] = line
  else
    plan = tonumber(line:match("^1%.%.(%d+)$")) or plan
  end
end
T.ok(plan ~= nil and plan == seen, ("test_embed ran its whole plan (%s of %s)"):format(seen, tostring(plan)), err)
T.is(code, 0, "test_embed exits 0 (under valgrind: no leak, no invalid access)", err)

-- examples/minimal-host: a Lua file as a task, polled to the end.
local script = T.write_file([[
local thread_id = ...
local run = assert(runs.cancel(thread_id, "run_queued"))
print(run.id, run.status)
]])
out, err, code = E.sh(("%s %s/minimal-host %s thread_main"):format(E.wrap, E.build, script),
                      { OPENAI_API_KEY = E.KEY, OPENAI_BASE_URL = quick.base })
T.is(out, "run_queued\tcancelling\n", "minimal-host runs a script as a task with its arguments", err)
T.is(code, 0, "and exits 0")
local failing = T.write_file("error('bad things')")
out, err, code = E.sh(("%s %s/minimal-host %s"):format(E.wrap, E.build, failing), {})
T.like(err, "the script failed: .*bad things", "a failing script is reported through task.join")
T.is(code, 1, "and exits 1")
T.done()
