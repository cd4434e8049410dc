-- tests/lua/test_harden_reports.lua — no line is ever lost from a report or
-- a journal (issue 25): an answer holding 1e999 or invalid UTF-8 still gets
-- its line, and the file stays strict UTF-8 JSON (checked with Python's json
-- module, NaN and Infinity refused); a line that cannot be written whole
-- fails the run (exit 1) and says so; supervise journals what it did with an
-- odd object, so the next pass does not cancel it again.
local T = require "helper"

local function seed()
  return { threads = { { id = "thread_r", runs = { T.seed_run("run_1", "queued", 7200),
                                                   T.seed_run("run_2", "in_progress", 7200) } } } }
end
local fake = T.fake("--seed " .. T.seed_file(seed()))
local ENV = { OPENAI_API_KEY = "sk-test-1234567890", OPENAI_BASE_URL = fake.base,
              RUNCTL_SCRIPTS = io.popen("pwd"):read("l") .. "/scripts" }
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"

-- Whether Python's json module (strict UTF-8, no NaN/Infinity) reads every line of path.
local PY = [[
import json, sys
def refuse(c): raise ValueError("non-standard constant " + c)
n = 0
with open(sys.argv[1], encoding="utf-8", errors="strict") as f:
    for line in f:
        json.loads(line, parse_constant=refuse)
        n += 1
print(n)
]]
local py_file = T.write_file(PY)
local has_python = os.execute("command -v python3 >/dev/null 2>&1")
-- Whether s is valid UTF-8 (utf8.len where there is one; by hand on Lua 5.1).
local function valid_utf8(s)
  if utf8 then return utf8.len(s) ~= nil end
  local i, size = 1, #s
  while i <= size do
    local c = s:byte(i)
    local len = c < 0x80 and 1 or (c >= 0xc2 and c <= 0xdf) and 2 or (c >= 0xe0 and c <= 0xef) and 3
                or (c >= 0xf0 and c <= 0xf4) and 4 or nil
    if not len or i + len - 1 > size then return false end
    for j = i + 1, i + len - 1 do
      local b = s:byte(j)
      if b < 0x80 or b > 0xbf then return false end
    end
    i = i + len
  end
  return true
end

local function strict_lines(path)
  if not has_python then return "skipped" end
  local p = io.popen(("python3 %s %s 2>&1"):format(py_file, path))
  local out = p:read("a")
  p:close()
  return tonumber(out:match("^(%d+)\n$")), out
end


-- A cancel answered with a number JSON cannot hold (1e999 decodes to infinity).
local INF_BODY = '{"id":"run_1","object":"thread.run","thread_id":"thread_r","status":"cancelling",'
                 .. '"usage":{"prompt_tokens":1e999,"completion_tokens":-1e999,"total_tokens":1}}'
fake:faults { { path = "/runs/run_1/cancel", status = 200, body = INF_BODY } }
local report = TMP .. "/inf.jsonl"
local _, err, code = T.run(("cancel-older-than --older-than 1m --yes --report %s thread_r"):format(report), ENV)
local _, by, _, frame = T.report(T.read_file(report))
T.is(code, 0, "an answer holding 1e999: the run ends ok", err)
T.ok(by.run_1 and by.run_1.action == "cancelled", "  ... and the object has its report line", T.read_file(report))
local usage = by.run_1 and by.run_1.cost and by.run_1.cost.usage
T.ok(usage and usage.prompt_tokens == json.null, "  ... 1e999 written as null", T.read_file(report))
T.ok(frame.trailer and frame.trailer.complete == true and frame.trailer.lines == 2, "  ... and the report is complete")
local n, why = strict_lines(report)
T.ok(n == 4 or n == "skipped", "  ... every line reads in Python's strict json (" .. tostring(n) .. ")", why)

-- Invalid UTF-8 from an ID file: the line is there, the file valid UTF-8.
fake:reset()
fake:seed(seed())
report = TMP .. "/utf8.jsonl"
local ids = T.write_file("thread_r/run_\xff\xfe\n thread_r/run_1\n")
T.run(("cancel --file %s --report %s"):format(ids, report), ENV)
local text = T.read_file(report) or ""
T.ok(text:find('"run_\xef\xbf\xbd\xef\xbf\xbd"', 1, true), "an ID with invalid UTF-8: its line holds it with U+FFFD", text)
T.ok(valid_utf8(text), "  ... the report is valid UTF-8")
n, why = strict_lines(report)
T.ok(n == 4 or n == "skipped", "  ... and Python's strict json reads every line (" .. tostring(n) .. ")", why)

-- A line that cannot be encoded whole (nothing from a server can make one
-- now, so the report is driven directly): it is written all the same, with
-- line_error, and the report's close fails, which fails the job (exit 1).
local ledger = require "runctl.ops.ledger"
report = TMP .. "/odd.jsonl"
local r = ledger.report(report, { report = "test", args = {}, threads = {} })
r:write { kind = "runs", id = "run_odd", run_id = "run_odd", action = "cancelled", cost = { f = print } }
r:write { kind = "runs", id = "run_next", run_id = "run_next", action = "cancelled" }
local ok, werr = r:close()
_, by = T.report(T.read_file(report))
T.ok(not ok and werr:find("could not be written whole"), "a line that cannot be encoded whole fails the report's close", werr)
T.ok(by.run_odd and by.run_odd.action == "cancelled" and by.run_odd.cost == "(not encodable: table)"
     and by.run_odd.line_error, "  ... yet its line is there, saying what it is about, with line_error", T.read_file(report))
T.ok(by.run_next ~= nil, "  ... and the lines after it too")
local journals = require "runctl.ops.journal"
local jpath = T.write_file("")      -- a new file: a journal already holding run_odd would skip it
local j = assert(journals.open(jpath))
local written, jwhy = j:record { kind = "runs", id = "run_odd", outcome = "cancel_requested", cost = { f = print } }
j:close()
T.ok(written == true and jwhy ~= nil and (T.read_file(jpath) or ""):find('"run_odd"', 1, true),
     "the journal too writes the line, and says a field was left out", jwhy)

fake:reset()
fake:seed(seed())
_, err, code = T.run("cancel-older-than --older-than 1m --yes --report /dev/full thread_r", ENV)
T.is(code, 1, "a report that cannot be written (a full disk): exit 1", err)
T.like(err, "cannot write the report", "  ... and it says so")

---------------------------------------------------------------------- supervise

fake:reset()
fake:seed(seed())
fake:faults { { path = "/runs/run_1/cancel", status = 200, body = INF_BODY } }
local journal = T.write_file("")   -- a new journal (the ASan pass runs this file again)
local policy = T.write_file('return { rules = { { name = "old", kind = "runs", threads = { "thread_r" }, older_than = "1m" } } }')
_, err, code = T.run(("supervise %s --once --journal %s"):format(policy, journal), ENV)
local lines = {}
for l in (T.read_file(journal) or ""):gmatch("[^\n]+") do
  local rec = json.decode(l)
  if rec and rec.id then lines[rec.id] = rec end
end
T.ok(lines.run_1 and lines.run_1.outcome == "cancel_requested", "supervise journals the cancel of an object holding 1e999",
     T.read_file(journal) .. err)
n, why = strict_lines(journal)
T.ok(n == 2 or n == "skipped", "  ... the journal reads in Python's strict json", why)
-- The next pass: the journal holds that decision, so no second line for it.
T.run(("supervise %s --once --journal %s"):format(policy, journal), ENV)
local count = 0
for l in (T.read_file(journal) or ""):gmatch("[^\n]+") do
  local rec = json.decode(l)
  if rec and rec.id == "run_1" and rec.outcome == "cancel_requested" then count = count + 1 end
end
T.is(count, 1, "  ... once: the next pass finds the decision journaled")

T.done()
