-- tests/lua/test_limits.lua — the client's max_concurrency bounds requests in
-- flight, rate paces them, and a 429 with a delay pauses the whole client (the
-- job slows down instead of failing; every client of the same key and base
-- URL: test_ratelimit.lua). Observed from the server's side.
local T = require "helper"
local seed = { threads = { { id = "thread_l", runs = {} } } }
for i = 1, 40 do seed.threads[1].runs[i] = { id = ("run_%02d"):format(i), status = "in_progress" } end
local fake = T.fake("--cancel-delay-ms 600000 --seed " .. T.seed_file(seed))

local function spawn_retrieves(client, n)
  local tasks = {}
  for i = 1, n do
    tasks[i] = task.spawn(function() return client.runs.retrieve("thread_l", ("run_%02d"):format(i)) end)
  end
  return tasks
end
local function join_all(tasks)
  local good = 0
  for _, t in ipairs(tasks) do
    local ok, run = task.join(t)
    if ok and run then good = good + 1 end
  end
  return good
end

-- max_concurrency = 3: while three requests are held by the server, no fourth arrives
fake:faults { { delay_ms = 3000, count = 3 } }
local c = fake:client { max_concurrency = 3 }
local tasks = spawn_retrieves(c, 10)
task.sleep(1.0)                             -- the three held requests are still in flight
local seen = #fake:requests()
T.is(seen, 3, "max_concurrency = 3: only 3 requests reach the server while 3 are in flight")
T.is(join_all(tasks), 10, "all 10 complete once slots free up")
T.is(#fake:requests(), 10, "and all 10 reached the server")

-- task.map's concurrency bounds it too, independently of the client
fake:clear()
fake:faults { { delay_ms = 3000, count = 2 } }
local wide = fake:client { max_concurrency = 64 }
local items = {}
for i = 1, 8 do items[i] = ("run_%02d"):format(i) end
local mapper = task.spawn(function()
  return task.map(items, function(id) return wide.runs.retrieve("thread_l", id) end, { concurrency = 2 })
end)
task.sleep(1.0)
T.is(#fake:requests(), 2, "task.map concurrency = 2: only 2 requests in flight")
local ok, results = task.join(mapper)
T.ok(ok and #results == 8, "task.map finishes all 8")

-- rate: 10 requests at 20/s cannot finish in less than 0.45 s
fake:clear()
local paced = fake:client { rate = 20 }
local t0 = runctl.now()
T.is(join_all(spawn_retrieves(paced, 10)), 10, "paced requests all succeed")
T.ok(runctl.now() - t0 >= 0.45, "rate = 20/s spreads 10 requests over at least 0.45 s", runctl.now() - t0)

-- a 429 with retry-after pauses the whole client, then everything succeeds
fake:clear()
fake:faults { { status = 429, headers = { ["retry-after"] = "2" } } }
local pausing = fake:client { max_retries = 3, max_concurrency = 8 }
local first = task.spawn(function() return pausing.runs.retrieve("thread_l", "run_01") end)
task.sleep(0.3)                             -- the 429 has arrived; the client is paused
local later = spawn_retrieves(pausing, 5)
task.sleep(0.7)
T.is(#fake:requests(), 1, "after a 429 with retry-after: 2, no other request of that client is sent")
local other = fake:client { api_key = "sk-another-account" }
T.ok(other.runs.retrieve("thread_l", "run_02") ~= nil, "a client of another key is not paused")
local okf, run = task.join(first)
T.ok(okf and run ~= nil, "the 429'd request succeeds on retry")
T.is(join_all(later), 5, "the held requests all succeed after the pause")

T.raises(function() runctl.client { rate = 0 } end, "rate must be a positive number", "rate must be positive")
T.raises(function() runctl.client { max_concurrency = -1 } end, "max_concurrency must be a non%-negative integer",
         "max_concurrency is checked")
T.done()
