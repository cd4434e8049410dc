-- tests/lua/test_harden_signals.lua — SIGTERM and SIGHUP stop every bulk
-- script like the first Ctrl-C (issue 25): requests in flight (held by the
-- fake's delay fault, not by sleeps) finish and are reported, the rest is
-- skipped, the summary and the closing line are written; the fake's state
-- then agrees with the report (nothing it cancelled is missing), and
-- --resume cancels what was left without cancelling anything twice. A
-- second signal stops at once, every line already decided still there.
local T = require "helper"
local KEY = "sk-test-signals-0123456789"
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"

local function seed_of(tid, n)
  local runs = {}
  for i = 1, n do runs[i] = T.seed_run(("%s_%02d"):format(tid, i), "in_progress", 7200 + i) end
  return { threads = { { id = tid, runs = runs } } }
end

local fake = T.fake("")
local SCRIPTS = io.popen("pwd"):read("l") .. "/scripts"
local ENV = ("env -u OPENAI_LOG OPENAI_API_KEY=%s OPENAI_BASE_URL=%s RUNCTL_SCRIPTS=%s"):format(KEY, fake.base, SCRIPTS)

local function posts(suffix)
  local n = {}
  for _, r in ipairs(fake:requests()) do
    if r.method == "POST" and r.path:find(suffix or "/cancel$") then n[#n + 1] = r.path end
  end
  return n
end

-- Runs ARGS, sends sig once count cancels are in flight (held by the fake);
-- returns the handle once it exited.
local function signalled(args, sig, in_flight, second)
  fake:clear()
  local h = T.start(ENV, args)
  T.ok(T.wait_for(function() return #posts() >= in_flight end), ("%s: %d cancels in flight"):format(sig, in_flight))
  h.signal(sig)
  if second then
    T.ok(T.wait_for(function() return h.err():find("finishing requests in flight") ~= nil end, 10), "  ... the note was written")
    h.signal(second)
  end
  T.ok(T.wait_for(function() return h.code() ~= nil end, 20), "  ... the script exits")
  return h
end

-- Whether the fake's state agrees with the report: every run it has
-- cancelling is reported cancelled, and every run reported cancelled is
-- cancelling there; returns the report's actions by run.
local function agrees(tid, text, name)
  local _, by = T.report(text)
  local missing, wrong = {}, {}
  for _, r in ipairs(fake:runs(tid)) do
    local rec = by[r.id]
    local cancelled = r.status == "cancelling" or r.status == "cancelled"
    if cancelled and not (rec and rec.action == "cancelled") then missing[#missing + 1] = r.id end
    if rec and rec.action == "cancelled" and not cancelled then wrong[#wrong + 1] = r.id end
  end
  T.ok(#missing == 0 and #wrong == 0, name .. ": the report agrees with the server (nothing cancelled missing)",
       "missing: " .. table.concat(missing, ",") .. " wrong: " .. table.concat(wrong, ","))
  return by
end

local function counts(text)
  local c = {}
  for _, rec in ipairs((T.report(text))) do c[rec.action] = (c[rec.action] or 0) + 1 end
  return c
end

for _, sig in ipairs { "TERM", "HUP" } do
  -- cancel-older-than: two cancels held in flight, four not started.
  local tid = "thread_" .. sig:lower()
  fake:seed(seed_of(tid, 6))
  fake:faults { { method = "POST", path = "/cancel", delay_ms = 3000, count = 2 } }
  local report = ("%s/sig-%s.jsonl"):format(TMP, sig)
  local h = signalled(("--max-retries 0 cancel-older-than --older-than 1h --concurrency 2 --report %s %s")
                      :format(report, tid), sig, 2)
  T.is(h.code(), 130, "cancel-older-than, SIG" .. sig .. ": exit 130, as after Ctrl-C")
  local text = T.read_file(report)
  local c = counts(text)
  T.ok(c.cancelled == 2 and c.skipped == 4, "  ... the two in flight are reported cancelled, the four others skipped",
       text)
  local _, _, _, frame = T.report(text)
  T.ok(frame.trailer and frame.trailer.complete and frame.trailer.interrupted, "  ... the closing line is written (interrupted)")
  T.like(h.err(), "2 cancelled, 4 skipped", "  ... the summary is printed")
  agrees(tid, text, "  ... SIG" .. sig)
  -- --resume: the four skipped get their cancel; none is sent twice.
  local out, err, code = T.run(("cancel-older-than --resume %s"):format(report),
                               { OPENAI_API_KEY = KEY, OPENAI_BASE_URL = fake.base, RUNCTL_SCRIPTS = SCRIPTS })
  local twice, sent = {}, {}
  for _, p in ipairs(posts()) do
    sent[p] = (sent[p] or 0) + 1
    if sent[p] > 1 then twice[#twice + 1] = p end
  end
  T.is(code, 0, "  ... --resume ends ok", err)
  T.is(#twice, 0, "  ... and cancels nothing twice", table.concat(twice, ", "))
  local all = true
  for _, r in ipairs(fake:runs(tid)) do all = all and (r.status == "cancelling" or r.status == "cancelled") end
  T.ok(all, "  ... every run is cancelled in the end", out .. err)

  -- cancel: one cancel held, two not started.
  tid = "thread_c" .. sig:lower()
  fake:seed(seed_of(tid, 3))
  fake:faults { { method = "POST", path = "/cancel", delay_ms = 3000 } }
  h = signalled(("cancel --concurrency 1 %s/%s_01 %s/%s_02 %s/%s_03"):format(tid, tid, tid, tid, tid, tid), sig, 1)
  T.is(h.code(), 130, "cancel, SIG" .. sig .. ": exit 130")
  c = counts(h.out())
  T.ok(c.cancelled == 1 and c.skipped == 2, "  ... the one in flight finished, the rest skipped", h.out())
  agrees(tid, h.out(), "  ... cancel, SIG" .. sig)

  -- unblock-thread: its cancels held in flight.
  tid = "thread_u" .. sig:lower()
  fake:seed(seed_of(tid, 3))
  fake:faults { { method = "POST", path = "/cancel", delay_ms = 3000, count = 3 } }
  h = signalled(("unblock-thread --concurrency 1 %s"):format(tid), sig, 1)
  T.is(h.code(), 130, "unblock-thread, SIG" .. sig .. ": exit 130")
  c = counts(h.out())
  T.ok(c.cancelled == 1 and (c.skipped or 0) >= 2, "  ... the one in flight finished, the rest skipped", h.out())
  T.like(h.err(), "interrupted", "  ... the summary says it was interrupted")
  agrees(tid, h.out(), "  ... unblock-thread, SIG" .. sig)
end

-- A second signal stops at once; the lines decided before it are there.
local tid = "thread_twice"
fake:seed(seed_of(tid, 6))
fake:faults { { method = "POST", path = "/cancel", delay_ms = 5000, count = 2 } }
local report = TMP .. "/sig-twice.jsonl"
local h = signalled(("--max-retries 0 cancel-older-than --older-than 1h --concurrency 2 --report %s %s"):format(report, tid),
                    "TERM", 2, "TERM")
T.ok(h.code() ~= 130 and h.code() ~= 0, "a second SIGTERM stops at once (" .. tostring(h.code()) .. ")")
T.like(h.err(), "stopped at once", "  ... saying so")
local text = T.read_file(report) or ""
local ok_lines = true
for line in text:gmatch("[^\n]+") do ok_lines = ok_lines and json.decode(line) ~= nil end
local _, _, _, frame = T.report(text)
T.ok(ok_lines and text:find('"report":"cancel-older-than"', 1, true) and not frame.trailer,
     "  ... the report holds whole lines and no closing line (cut short, so --resume redoes it)", text)

-- watch stops quietly on SIGTERM, as on Ctrl-C.
fake:seed(seed_of("thread_watch", 1))
fake:clear()
h = T.start(ENV, "watch --interval 0.2 thread_watch")
T.ok(T.wait_for(function() return #fake:requests() >= 2 end), "watch is refreshing")
h.signal("TERM")
T.ok(T.wait_for(function() return h.code() ~= nil end, 10), "watch stops on SIGTERM")
T.is(h.code(), 0, "  ... quietly (exit 0, as after Ctrl-C)")

T.done()
