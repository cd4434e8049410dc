-- tests/lua/test_scripts_ops.lua — runctl.ops, the code the bundled scripts share:
-- durations, argument parsing, ID lists, the report and its ledger (exactly one
-- line per run), classifying a cancel's outcome, the progress bar, the prompt.
local T = require "helper"
local ops = require "runctl.ops"

-- durations
local D = ops.parse_duration
T.is(D("90s"), 90, "90s")
T.is(D("15m"), 900, "15m")
T.is(D("2h"), 7200, "2h")
T.is(D("1d"), 86400, "1d")
T.is(D("1h30m"), 5400, "1h30m adds up")
T.is(D("1.5h"), 5400.0, "1.5h")
T.is(D("45"), 45, "a bare number is seconds")
T.is(D("0"), 0, "0 is a duration")
for _, bad in ipairs { "", "5x", "h", "-5m", "1e", "0x10", "2 h", "1h-", ".", "m5" } do
  T.is(D(bad), nil, "not a duration: " .. ("%q"):format(bad))
end
T.is(D("1e3"), 1000.0, "1e3: a number in exponent form")
T.is(D("1w"), 604800, "1w: a week")
T.is(select(2, D("1e9h")), "too large", "1e9h: too large, not \"not a duration\"")
T.is(select(2, D("3651d")), "too large", "past ten years: too large")
T.is(D("3650d"), 3650 * 86400, "ten years is the most")
T.is(ops.fmt_age(59), "59s", "fmt_age seconds")
T.is(ops.fmt_age(7384), "2h03m", "fmt_age hours and minutes")
T.is(ops.fmt_age(90061), "1d01h", "fmt_age days and hours")
T.is(ops.fmt_age(nil), "?", "fmt_age of nothing")
T.is(ops.plural(1, "run") .. "/" .. ops.plural(2, "run"), "1 run/2 runs", "plural")

-- argument parsing
local SPEC = { name = "x", usage = "usage: x\n", options = {
  ["--older-than"] = { kind = "duration", required = true },
  ["--dry-run"] = { kind = "flag" },
  ["--wait"] = { kind = "seconds", optional = 60 },
  ["--status"] = { kind = "list", choices = { queued = true, in_progress = true } },
  ["--metadata"] = { kind = "keyvalue", many = true },
  ["--concurrency"] = { kind = "count" },
  ["--rate"] = { kind = "rate" },
  ["--name"] = { kind = "string" },
} }
local function parse(...) return ops.parse(SPEC, { ... }) end
local function usage(pattern, name, ...)
  local args = { ... }
  local ok, err = pcall(ops.parse, SPEC, args)
  T.ok(not ok and ops.is_usage_error(err), name .. " is a usage error", tostring(err))
  T.like(tostring(err), pattern, name .. ": the message names it")
end

local o, pos = parse("--older-than", "2h", "t1", "--dry-run", "t2")
T.is(o.older_than, 7200, "--older-than VALUE")
T.is(o.dry_run, true, "a flag")
T.is(table.concat(pos, ","), "t1,t2", "positional arguments in order, around options")
o = parse("--older-than=15m")
T.is(o.older_than, 900, "--name=value")
o, pos = parse("--older-than", "1h", "--wait", "thread_1")
T.is(o.wait, 60, "--wait without a value takes its default")
T.is(pos[1], "thread_1", "and leaves the next argument alone when it is an ID")
o, pos = parse("--older-than", "1h", "--wait", "T/R", "--wait", "--dry-run")
T.is(o.wait, 60, "or a THREAD_ID/RUN_ID pair, or another option")
T.is(pos[1], "T/R", "(the pair stays an argument)")
o, pos = parse("--older-than", "1h", "--wait", "-")
T.is(pos[1], "-", "or - for stdin")
o, pos = parse("--older-than", "1h", "--wait", "30", "t1")
T.is(o.wait, 30, "--wait SECONDS takes the value when it parses")
o = parse("--older-than", "1h", "--wait=2m")
T.is(o.wait, 120, "--wait=2m")
o = parse("--older-than", "1h", "--status", "queued,in_progress", "--status", "queued")
T.is(table.concat(o.status, ","), "queued,in_progress,queued", "a list, comma-separated and repeatable")
o = parse("--older-than", "1h", "--metadata", "env=prod", "--metadata", "team=a=b")
T.is(#o.metadata, 2, "a repeatable option collects its values")
T.is(o.metadata[2].key .. "|" .. o.metadata[2].value, "team|a=b", "KEY=VALUE splits at the first '='")
o, pos = parse("--older-than", "1h", "--", "--not-an-option")
T.is(pos[1], "--not-an-option", "-- ends the options")
o, pos = parse("--older-than", "1h", "-")
T.is(pos[1], "-", "a lone - is positional (stdin)")
o = parse("--older-than", "1h", "--concurrency", "8", "--rate", "2.5")
T.is(o.concurrency, 8, "--concurrency N")
T.is(o.rate, 2.5, "--rate R")

usage("%-%-older%-than is required", "a missing required option")
usage("%-%-older%-than: '5x' is not a duration such as 90s", "a bad duration", "--older-than", "5x")
usage("unknown option '%-%-bogus'", "an unknown option", "--older-than", "1h", "--bogus")
usage("unknown option '%-x'", "an unknown short option", "--older-than", "1h", "-x")
usage("%-%-concurrency needs a value", "a missing value", "--older-than", "1h", "--concurrency")
usage("%-%-concurrency: '0' is not a whole number from 1", "--concurrency 0", "--older-than", "1h", "--concurrency", "0")
usage("%-%-concurrency: '2%.5' is not a whole number", "--concurrency 2.5", "--older-than", "1h", "--concurrency", "2.5")
usage("%-%-rate: 'fast' is not a positive number", "--rate fast", "--older-than", "1h", "--rate", "fast")
usage("%-%-rate: '0' is not a positive number", "--rate 0", "--older-than", "1h", "--rate", "0")
usage("%-%-status: 'completed' is not one of in_progress, queued", "a value outside the choices",
      "--older-than", "1h", "--status", "queued,completed")
usage("%-%-metadata: 'env' is not KEY=VALUE", "--metadata without =", "--older-than", "1h", "--metadata", "env")
usage("%-%-dry%-run takes no value", "a flag with a value", "--older-than", "1h", "--dry-run=yes")
usage("%-%-wait: '0' is not a positive number of seconds", "--wait=0", "--older-than", "1h", "--wait=0")
usage("%-%-name: '' is not a non%-empty value", "an empty string", "--older-than", "1h", "--name", "")
-- an optional value that is given must parse: never --wait 60 and an ID "abc"
for _, bad in ipairs { "0", "abc", "nan", "", "-1", "inf", "1x" } do
  usage("^%-%-wait: '" .. bad:gsub("%p", "%%%0") .. "' is not a positive number of seconds",
        "--wait " .. (bad == "" and '""' or bad), "--older-than", "1h", "--wait", bad, "thread_a")
end
-- runctl's own options after the script's name: say where they go
usage("unknown option '%-%-base%-url': runctl options go before the script name: runctl %-%-base%-url URL ",
      "--base-url after the script", "--older-than", "1h", "--base-url", "http://x/v1")
usage("unknown option '%-v': runctl options go before the script name: runctl %-v ", "-v after the script",
      "--older-than", "1h", "-v")

-- ID lists: comments, blanks, trimming, no repeats
local file = T.write_file("# threads to clean\nthread_a\n\n  thread_b  # the big one\nthread_a\n")
local lines = ops.read_lines(file)
T.is(table.concat(lines, ","), "thread_a,thread_b,thread_a", "read_lines drops comments and blanks, trims")
T.is(select(2, ops.read_lines("/nonexistent/x")) ~= nil, true, "read_lines of a missing file returns nil, err")
local ids = ops.collect_ids({ "thread_c", "thread_a" }, file, "thread ID")
T.is(table.concat(ids, ","), "thread_c,thread_a,thread_b", "collect_ids: arguments then file, without repeats")
local ok, err = pcall(ops.collect_ids, {}, "/nonexistent/x", "thread ID")
T.like(tostring(err), "cannot read '/nonexistent/x'", "collect_ids names a file it cannot read")
ok, err = pcall(ops.collect_ids, { "a b" }, nil, "thread ID")
T.like(tostring(err), "thread ID 'a b' contains white space", "an ID with a space is refused")

-- the report and the ledger
local path = os.getenv("TEST_TMPDIR") or "/tmp"
path = path .. "/ops-report-" .. math.random(1e9) .. ".jsonl"
local report = assert(ops.report(path))
local ledger = ops.ledger(report)
local a = ledger:add { thread_id = "t", run_id = "r1", status_before = "queued", age = 10 }
local b = ledger:add { thread_id = "t", run_id = "r2", status_before = "in_progress", age = 20 }
local c = ledger:add { thread_id = "t", run_id = "r3", status_before = "queued", age = 30 }
local tl = ledger:add { thread_id = "t_missing" }
local again, new = ledger:add { thread_id = "t", run_id = "r1" }
T.ok(again == a and new == false, "adding the same run twice gives the first entry")
T.is(ledger.total, 3, "thread entries are not counted as runs")
ledger:settle(a, { action = "cancelled", status_after = "cancelling", request_id = "req_1" })
T.raises(function() ledger:settle(a, { action = "failed" }) end, "settled twice", "a run cannot be settled twice")
T.raises(function() ledger:settle(b, { action = "bogus" }) end, "unknown action 'bogus'", "actions are checked")
ledger:settle(tl, { action = "failed", error = "cannot list runs: 404" })
c.action, c.status_after = "cancelled", "cancelling"          -- decided, then cut short
T.is(ledger:settle_rest("interrupted"), 2, "settle_rest settles what is pending")
T.is(b.action .. "/" .. b.error, "skipped/interrupted", "an undecided run becomes skipped with the reason")
T.is(c.action .. "/" .. c.error, "cancelled/interrupted", "a decided run keeps its action")
T.is(ledger:counts_text(), "2 cancelled, 1 skipped; not listed: 1 failed",
     "counts_text counts runs, then what could not be listed")
T.is(ledger:exit_code(false), 1, "a failed thread makes the exit code 1")
T.is(ledger:exit_code(true), 130, "interrupted is 130")
T.ok(report:close(), "the report closes cleanly")
local text = T.read_file(path)
local n = 0
local by_run = {}
for line in text:gmatch("[^\n]+") do
  n = n + 1
  local rec = assert(json.decode(line))
  by_run[rec.run_id == json.null and "thread" or rec.run_id] = rec
  local keys = {}
  for k in pairs(rec) do keys[#keys + 1] = k end
  table.sort(keys)
  T.is(table.concat(keys, ","), "action,age,cost,error,id,kind,note,outcome,request_id,run_id,status_after,"
       .. "status_before,thread_id",
       "line " .. n .. " has exactly the report fields")
end
T.is(n, 4, "one line per settled entry")
T.is(by_run.r1.request_id, "req_1", "fields are written")
T.is(by_run.r2.request_id, json.null, "an unknown field is null")
T.is(by_run.thread.error, "cannot list runs: 404", "a thread line carries its error")
T.is(select(2, ops.report("/nonexistent/dir/x.jsonl")) ~= nil, true, "an unwritable report path returns nil, err")

-- classify_cancel: every outcome of a cancel
local E = runctl.Error
local function api(status, message) return setmetatable({ kind = "api", status = status, message = message,
                                                          request_id = "req_e" }, E) end
local f = ops.classify_cancel({ status = "cancelling" }, nil, { request_id = "req_ok" }, "queued")
T.is(f.action .. "/" .. f.status_after .. "/" .. f.request_id, "cancelled/cancelling/req_ok", "success is cancelled")
f = ops.classify_cancel(nil, setmetatable({ kind = "dry_run", message = "dry run" }, E), nil, "queued")
T.is(f.action .. "/" .. f.status_after, "would_cancel/queued", "a dry-run refusal is would_cancel")
f = ops.classify_cancel(nil, api(400, "Cannot cancel run with status 'completed'."), nil, "in_progress")
T.is(f.action .. "/" .. f.status_after, "already_done/completed", "finished meanwhile is already_done")
T.is(f.error, nil, "already_done carries no error")
f = ops.classify_cancel(nil, api(400, "Cannot cancel run with status 'expired'."), nil, "in_progress")
T.is(f.action, "expired", "expired meanwhile is expired")
f = ops.classify_cancel(nil, api(400, "Invalid 'run_id'."), nil, "queued")
T.is(f.action, "failed", "another 400 is a failure")
f = ops.classify_cancel(nil, api(500, "fault injected"), nil, "queued")
T.is(f.action .. "/" .. f.request_id, "failed/req_e", "a 500 is failed with its request ID")
T.like(f.error, "^500", "and its error text")
f = ops.classify_cancel(nil, setmetatable({ kind = "connection", message = "reset" }, E), nil, "queued")
T.is(f.action .. "/" .. f.error, "failed/connection: reset", "a connection error is failed")
f = ops.classify_cancel(nil, "weird", nil, "queued")
T.is(f.action, "failed", "a non-error value is failed")

-- progress bar and prompt
T.is(ops.render_progress("cancelling", 5, 10, "5 cancelled", 10), "cancelling [#####-----] 5/10  5 cancelled",
     "render_progress")
T.is(ops.render_progress("x", 0, 0, nil, 4), "x [####] 0/0", "render_progress of nothing is full")
local sink = { buf = {} }
function sink:write(...) for _, s in ipairs { ... } do self.buf[#self.buf + 1] = s end return self end
function sink:flush() return self end
local bar = ops.progress("cancelling", 2, { enabled = true, out = sink })
bar:step("1 cancelled")
bar:step("2 cancelled")
bar:finish()
local drawn = table.concat(sink.buf)
T.like(drawn, "\r\27%[Kcancelling %[#+%-*%] 1/2  1 cancelled", "the bar is drawn in place")
T.like(drawn, "2/2  2 cancelled\r\27%[K$", "the last step is drawn and finish() erases the line")
sink.buf = {}
bar = ops.progress("x", 2, { enabled = false, out = sink })
bar:step() bar:finish()
T.is(#sink.buf, 0, "a disabled bar draws nothing")
ok, err = ops.confirm("go?", { tty = false, out = sink })
T.ok(ok == false and err == "stdin is not a terminal", "confirm refuses without a terminal and does not ask")
local function input(s) return { read = function() return s end } end
T.is(ops.confirm("go?", { tty = true, out = sink, input = input("y") }), true, "confirm: y")
T.is(ops.confirm("go?", { tty = true, out = sink, input = input(" YES ") }), true, "confirm: YES")
T.is(ops.confirm("go?", { tty = true, out = sink, input = input("n") }), false, "confirm: n")
T.is(select(2, ops.confirm("go?", { tty = true, out = sink, input = input(nil) })), "no answer", "confirm: end of input")
T.like(table.concat(sink.buf), "go%? %[y/N%] ", "the question is asked")

-- the script client: --concurrency and --rate pass through
local real_getenv = os.getenv
-- luacheck: push ignore 122 (the stand-in key, for ops.client)
os.getenv = function(k)                                  -- (this test runs without a key)
  if k == "OPENAI_API_KEY" then return "sk-test-ops" end
  return real_getenv(k)
end
-- luacheck: pop
local client = ops.client { concurrency = 3, rate = 5 }
T.is(client.max_concurrency, 3, "--concurrency sets the client's max_concurrency")
T.is(client.rate, 5, "--rate sets the client's rate")
T.is(ops.client {}.max_concurrency, openai.max_concurrency, "without them the defaults hold")

-- What runctl.ops offers is a written list (lua/lib/ops/init.lua): every ops.NAME a
-- bundled script uses is on it.
for _, script in ipairs { "cancel", "cancel-older-than", "unblock-thread", "watch", "supervise" } do
  local src = assert(T.read_file("scripts/" .. script .. ".lua"), script):gsub("runctl%.ops%.", "")
  local missing = {}
  for name in src:gmatch("%f[%w_]ops%.([%a_][%w_]*)") do
    if ops[name] == nil then missing[#missing + 1] = name end
  end
  T.is(table.concat(missing, ", "), "", "every ops field scripts/" .. script .. ".lua uses exists")
end

-- One clock vocabulary: wall time is unix_time (whole seconds since the epoch,
-- like created_at); runctl.now() is monotonic; no ops name means either.
local wall = ops.unix_time()
T.is(math.type(wall), "integer", "ops.unix_time() is whole seconds")
T.ok(math.abs(wall - os.time()) <= 1, "ops.unix_time() is wall time (os.time)", wall)
T.ok(math.abs(runctl.now() - os.time()) > 86400, "runctl.now() is monotonic, not wall time", runctl.now())
T.is(ops.now, nil, "ops has no now (was wall time: ops.unix_time)")
T.is(ops.clock, nil, "ops has no clock (was monotonic: runctl.now)")

T.done()
