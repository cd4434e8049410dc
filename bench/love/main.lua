-- bench/love/main.lua — the frame-loop benchmark inside LÖVE 11 (LuaJIT): the
-- same work as examples/frame-loop.c (RUNCTL_REQUESTS cancels of runs
-- run_1..run_N of thread_frame, all spawned at once), a 60 Hz loop (love.run
-- below) calling runctl.poll(0) once per frame. Prints one line: the poll's
-- p50, p99 and max wall time, the frames, and the time until all were done.
-- Run by bench/love-frames.sh.
package.cpath = assert(os.getenv("RUNCTL_MODULE_DIR")) .. "/?.so;" .. package.cpath
local runctl = require "runctl"
local task = runctl.task
local n = tonumber(os.getenv("RUNCTL_REQUESTS") or "1000")
local fps = tonumber(os.getenv("RUNCTL_FPS") or "60")
local now = love.timer.getTime

local done, failed, polls, cpu, frames, t0 = 0, 0, {}, {}, 0, nil

local function start()
  local c = runctl.client { max_concurrency = n, max_retries = 0 }
  for i = 1, n do
    task.spawn(function()
      local run = c.runs.cancel("thread_frame", "run_" .. i)
      done = done + 1
      if not run then failed = failed + 1 end
    end)
  end
end

local function percentile(sorted, p)
  local rank = math.ceil(p / 100 * #sorted)
  return sorted[math.max(1, rank)] or 0
end

local function report(all_done_ms)
  table.sort(polls)
  table.sort(cpu)
  io.stdout:write(("love: %d in flight: runctl.poll p50 %.3f ms, p99 %.3f ms, max %.3f ms over %d frames; "
                   .. "CPU p99 %.3f ms, max %.3f ms; all done in %.0f ms (%d failed)\n"):format(n,
                   percentile(polls, 50), percentile(polls, 99), polls[#polls] or 0, frames,
                   percentile(cpu, 99), cpu[#cpu] or 0, all_done_ms, failed))
  io.stdout:flush()
end

-- One frame: the poll, timed. Returns true once every cancel is done.
local function frame()
  if frames == 0 then t0 = now() start() end
  frames = frames + 1
  local p0, c0 = now(), os.clock()       -- wall, and the process's CPU time
  local pending = runctl.poll(0)
  polls[#polls + 1] = (now() - p0) * 1000
  cpu[#cpu + 1] = (os.clock() - c0) * 1000
  return done == n and pending == 0
end

-- A fixed-rate loop (LÖVE's default one sleeps 1 ms a turn without vsync).
function love.run()
  local next_frame = now()
  return function()
    love.event.pump()
    for name, a in love.event.poll() do
      if name == "quit" then return a or 0 end
    end
    if frame() then
      report((now() - t0) * 1000)
      return 0
    end
    if frames > 60 * 600 then io.stdout:write("love: timed out\n") return 1 end
    if fps > 0 then
      next_frame = next_frame + 1 / fps
      local wait = next_frame - now()
      if wait > 0 then love.timer.sleep(wait) else next_frame = now() end
    end
  end
end
