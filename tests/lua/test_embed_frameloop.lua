-- tests/lua/test_embed_frameloop.lua — examples/frame-loop: a 60 Hz host with
-- 100 cancels in flight against a server that holds each for 300 ms. Asserts
-- structure, never durations: every request completed, all 100 were in flight
-- at once, and runctl_poll(L, 0) returned in every frame while they were, so
-- frames kept advancing. Also: closing the state mid-flight, and the one-line
-- report `make bench` uses.
local T = require "helper"
local E = require "embed"

local seed = T.seed_file(E.queued_seed("thread_frame", 100))
local fake = T.fake("--latency-ms 300 --seed " .. seed)
local loop = E.wrap .. " " .. E.build .. "/frame-loop --base-url " .. fake.base
local env = { OPENAI_API_KEY = E.KEY }

local out, err, code = E.sh(loop, env)
T.is(code, 0, "frame-loop exits 0")
local v = {}
for k, n in out:gmatch("([%w_]+)=(%-?[%d.]+)") do v[k] = tonumber(n) end
T.is(v.started, 100, "100 cancels started from Lua")
T.is(v.completed, 100, "all 100 requests completed")
T.is(v.cancelled, 100, "all 100 runs were cancelled")
T.is(v.failed, 0, "none failed", out .. err)
T.is(v.max_in_flight, 100, "all 100 were in flight at the same time")
T.ok((v.first_completion_frame or 0) >= 1,
     "the first answer arrived frames after the requests started: frames went on meanwhile")
T.is(v.frames_in_flight, v.last_completion_frame,
     "in every frame before the last answer, runctl_poll(L, 0) returned with requests in flight")
T.ok(v.frames >= v.last_completion_frame + 1, "the loop ended right after the last answer")
T.ok(v.worst_frame_ms ~= nil, "it reports its worst frame time (" .. tostring(v.worst_frame_ms) .. " ms, not asserted)")

-- The frame budget's bookkeeping (counts, never durations): one loop round
-- per frame, each task resumed exactly twice (to start, then with its answer),
-- nothing left behind.
T.is(v.polls, v.frames, "one runctl_poll round per frame")
T.is(v.resumed, 200, "each of the 100 tasks was resumed exactly twice (start, answer)")
T.ok(v.tasks_left == 0 and v.in_engine == 0, "no task and nothing in the engine left at the end")

local cancels = 0
for _, r in ipairs(fake:requests()) do
  if r.method == "POST" and r.path:match("^/v1/threads/thread_frame/runs/run_%d+/cancel$") then
    cancels = cancels + 1
  end
end
T.is(cancels, 100, "the server received 100 cancel requests")

-- Closing the state with every request in flight: a clean teardown (the
-- sanitizer and valgrind runs check that nothing leaks or runs after it).
fake:reset()
out, err, code = E.sh(loop .. " --quit-after-frames 3", env)
T.is(code, 0, "frame-loop closing its state mid-flight exits 0", err)
T.like(out, "closing the state after 3 frames with 100 requests in flight",
       "it closed the state while all 100 were in flight")

-- The one line `make bench` reports.
fake:reset()
out, err, code = E.sh(loop .. " --worst-frame", env)
T.is(code, 0, "frame-loop --worst-frame exits 0", err)
T.like(out, "^frame%-loop: worst frame [%d.]+ ms over %d+ frames at 60 Hz %(100 cancels in flight at once%)\n$",
       "--worst-frame prints one line with the worst frame time")

-- 1,000 in flight against a server answering at once: the default budget (1 ms)
-- spreads the work over frames (no frame resumed them all), in order, and
-- everything completes; with the budget off one frame does everything ready.
local fast = T.fake("--no-record --seed " .. T.seed_file(E.queued_seed("thread_frame", 1000)))
local fast_loop = E.wrap .. " " .. E.build .. "/frame-loop --requests 1000 --base-url " .. fast.base
local function values(text)
  local t = {}
  for k, n in text:gmatch("([%w_]+)=(%-?[%d.]+)") do t[k] = tonumber(n) end
  return t
end
out, err, code = E.sh(fast_loop, env)
v = values(out)
T.is(code, 0, "frame-loop with 1000 requests exits 0", err)
T.ok(v.completed == 1000 and v.cancelled == 1000, "all 1000 completed and were cancelled", out)
T.is(v.resumed, 2000, "each task resumed exactly twice")
T.ok(v.budget_stops >= 1 and v.max_resumed < 1000,
     "the budget stopped frames with work left and no frame resumed all 1000", out)
T.is(v.polls, v.frames, "still one round per frame")
fast:reset()
out, err, code = E.sh(fast_loop .. " --budget -1", env)
v = values(out)
T.ok(code == 0 and v.completed == 1000 and v.budget_stops == 0, "with --budget -1 (none) no frame stops at a budget", out .. err)
T.is(v.io_stops, 0, "and the engine never leaves ready answers or queued starts for the next frame")
fast:reset()
out, err, code = E.sh(fast_loop .. " --fps 0", env)
v = values(out)
T.ok(code == 0 and v.completed == 1000 and v.cancelled == 1000 and v.resumed == 2000,
     "polled back to back (--fps 0) under the budget, all 1000 complete, each task resumed twice", out .. err)
T.is(v.polls, v.frames, "one round per call there too")
fast:reset()
out, err, code = E.sh(fast_loop .. " --percentiles", env)
T.like(out, "^frame%-loop: 1000 in flight: runctl_poll p50 [%d.]+ ms, p99 [%d.]+ ms, max [%d.]+ ms over %d+ frames"
       .. ".*; CPU p99 [%d.]+ ms, max [%d.]+ ms; all done in %d+ ms\n$",
       "--percentiles prints p50, p99 and max of runctl_poll, in wall and CPU time, and the time to finish (not asserted)")

-- The bench wrapper starts its own server and prints the same single line.
out, err, code = E.sh("sh examples/frame-loop-bench.sh " .. E.build, {})
T.is(code, 0, "examples/frame-loop-bench.sh exits 0", err)
T.like(out, "^frame%-loop: worst frame [%d.]+ ms over %d+ frames", "and prints the worst frame line")
T.done()
