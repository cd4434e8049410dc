-- bench/make-seed.lua — writes a fake-API seed of N in_progress runs (100 per
-- thread) and the matching "thread_id run_id" list: make-seed.lua N SEED IDS
local n, seed_path, ids_path = tonumber(arg[1]), arg[2], arg[3]
local threads, ids = {}, {}
for t = 1, math.ceil(n / 100) do
  local thread = { id = ("thread_bench_%05d"):format(t), runs = {} }
  for r = 1, math.min(100, n - (t - 1) * 100) do
    local id = ("run_bench_%05d_%03d"):format(t, r)
    thread.runs[r] = { id = id, status = "in_progress", created_at = -3600 }
    ids[#ids + 1] = thread.id .. " " .. id
  end
  threads[t] = thread
end
local f = assert(io.open(seed_path, "w"))
f:write(assert(json.encode { threads = threads }))
f:close()
f = assert(io.open(ids_path, "w"))
f:write(table.concat(ids, "\n"), "\n")
f:close()
