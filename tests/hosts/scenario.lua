-- tests/hosts/scenario.lua — what the LÖVE and Neovim host tests run inside
-- their host (tests/hosts/love/, tests/hosts/nvim.lua): the runctl module,
-- loaded from RUNCTL_MODULE_DIR, driven only by the host's own frame loop or
-- timer calling step(). It cancels the active jobs of every listable kind and
-- two runs (task.map), lets a task's deadline call off a slow request, and
-- cancels a task waiting on another slow one from the loop (t:cancel()).
-- Each outcome is a line on stdout; the test (tests/lua/test_hosts.lua)
-- compares them with what the fake server recorded.
package.cpath = assert(os.getenv("RUNCTL_MODULE_DIR"), "RUNCTL_MODULE_DIR") .. "/?.so;" .. package.cpath
local runctl = require "runctl"
local task, kinds = runctl.task, runctl.kinds

local S = { frames = 0, lines = {} }
local function say(fmt, ...) S.lines[#S.lines + 1] = fmt:format(...) end

local c = runctl.client { max_retries = 0 }       -- OPENAI_BASE_URL, OPENAI_API_KEY

local function cancel_kind(k)
  local api = k.resource(c)
  local ids = {}
  for obj in api.each { limit = 100 } do
    if k.active[obj.status] then ids[#ids + 1] = obj.id end
  end
  table.sort(ids)
  local results, errs = task.map(ids, function(id) return api.cancel(id) end, { concurrency = 4 })
  for i, id in ipairs(ids) do
    say("cancel %s %s %s", k.name, id, results[i] and tostring(results[i].status) or ("error " .. tostring(errs[i])))
  end
end

local slow                                           -- the task the loop cancels

function S.start()
  S.main = task.spawn(function()
    for _, name in ipairs(kinds.names()) do
      local k = kinds.get(name)
      if k.list == "each" then cancel_kind(k) end
    end
    local runs = { "run_queued", "run_in_progress" }
    local results = task.map(runs, function(id) return c.runs.cancel("thread_main", id) end)
    for i, id in ipairs(runs) do say("cancel runs %s %s", id, tostring(results[i] and results[i].status)) end
    -- a deadline calls off a request the server holds (run_requires_action is slowed down)
    local late = task.spawn(function() return c.runs.retrieve("thread_main", "run_requires_action") end)
    task.deadline(late, 0.2)
    local ok, err = task.join(late)
    say("deadline %s %s", tostring(ok), err and tostring(err.reason) or "-")
    local okc, errc = task.join(slow)
    say("loop-cancel %s %s", tostring(okc), errc and tostring(errc.reason) or "-")
    return true
  end)
  slow = task.spawn(function() return c.runs.retrieve("thread_main", "run_cancelling") end)
end

-- One frame: the loop's poll, and on frame 5 the loop cancels the slow task.
-- Returns true once everything ended.
function S.step()
  S.frames = S.frames + 1
  if S.frames == 5 then say("cancelled-from-loop %s", tostring(slow:cancel())) end
  runctl.poll(0)
  return S.main:done()
end

-- Prints the outcome lines and a last line "done OK FRAMES"; returns OK.
function S.finish()
  local ok, err = task.join(S.main)
  for _, line in ipairs(S.lines) do io.stdout:write(line, "\n") end
  io.stdout:write(("done %s frames=%d %s\n"):format(tostring(ok), S.frames, ok and "" or tostring(err)))
  io.stdout:flush()
  return ok
end

return S
