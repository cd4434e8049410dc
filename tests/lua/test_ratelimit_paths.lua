-- tests/lua/test_ratelimit_paths.lua — the account's rate limit (core/ratelimit.c)
-- on the bulk paths test_ratelimit.lua does not drive: cancel-older-than
-- --kind batches, unblock-thread, watch --once (IDs, --kind batches),
-- supervise --once, and a script's task.map / task.each over batches.cancel.
-- Each, against the fake's rate-limit mode in every style of 429: every target
-- ends in exactly one outcome, none failed, at most 10% more requests than
-- targets (listing pages counted apart), never faster than the bucket for
-- long. Counted at the fake, second by second; no wall time asserted.
local T = require "helper"

-- N targets, 16 in flight (the CLI's default concurrency). Without headers
-- the first round meets a bucket nobody announced and the adaptive pace
-- searches for the limit: as test_ratelimit.lua does (two rounds of 64 there),
-- one round in flight is allowed on top of the 10% (under ASan, 4 to 29 429s
-- for 200 cancels); with the headers (as OpenAI sends them) no 429 at all
local RATE, BURST, N, IN_FLIGHT = 100, 10, 200, 16
local THREADS, RUNS = 25, 8 -- unblock-thread: 200 active runs
local SCRIPTS = io.popen("pwd"):read("l") .. "/scripts" -- a runctl built elsewhere finds them

local seed = { batches = {}, responses = {}, threads = {} }
for i = 1, N do
  seed.batches[i] = { id = ("batch_rl%03d"):format(i), status = "in_progress", created_at = -7200 - i }
  seed.responses[i] = { id = ("resp_rl%03d"):format(i), status = "in_progress", background = true,
                        created_at = -60 - i }
end
local active = { "queued", "in_progress", "requires_action" }
for t = 1, THREADS do
  local runs = {}
  for r = 1, RUNS do
    runs[r] = T.seed_run(("run_rl%02d_%d"):format(t, r), active[r % 3 + 1], 600 + r)
  end
  seed.threads[t] = { id = ("thread_rl%02d"):format(t), runs = runs }
end
local fake = T.fake("--cancel-delay-ms 0 --seed " .. T.seed_file(seed))

local function control(method, path, body)
  local resp = assert(http.request { method = method, url = fake.url .. "/_fake" .. path,
                                     body = body and assert(json.encode(body)) or nil })
  assert(resp.status == 200, path .. ": " .. resp.status .. " " .. resp.body)
  return assert(json.decode(resp.body))
end

-- the 200s carry no x-ratelimit headers (with them the pace keeps under the
-- bucket and hardly a 429 comes: the last case): only the 429s say how long to
-- wait, in each style ("reset": the fake sends the x-ratelimit headers always)
local STYLES = {
  { "retry-after-ms", "ms", false }, { "retry-after seconds", "seconds", false },
  { "retry-after HTTP date", "date", false }, { "no hint but x-ratelimit-reset-requests", "reset", false },
  { "x-ratelimit headers on every answer", "ms", true },
}

local function ids_of(list)
  local ids = {}
  for i, o in ipairs(list) do ids[i] = o.id end
  return ids
end
local BATCHES, RESPONSES = ids_of(seed.batches), ids_of(seed.responses)
local RUN_IDS = {}
for _, th in ipairs(seed.threads) do
  for _, r in ipairs(th.runs) do RUN_IDS[#RUN_IDS + 1] = r.id end
end

local keys = 0
local unannounced -- this case's 200s carry no x-ratelimit headers
-- A fresh store in rate-limit mode and a key no earlier case paced.
local function start_case(hint, headers)
  unannounced = not headers and hint ~= "reset"
  fake:reset()
  control("POST", "/config", { rate_limit = { rate = RATE, burst = BURST, hint = hint, headers = headers } })
  keys = keys + 1
  return { OPENAI_API_KEY = ("sk-test-rlpaths-%04d"):format(keys), OPENAI_BASE_URL = fake.base,
           RUNCTL_SCRIPTS = SCRIPTS }
end

-- Every target has exactly one outcome (counted by id) and none failed.
local function one_each(name, targets, count, failed)
  local missing, twice = {}, {}
  for _, id in ipairs(targets) do
    if (count[id] or 0) == 0 then missing[#missing + 1] = id end
    if (count[id] or 0) > 1 then twice[#twice + 1] = id end
  end
  T.ok(#missing == 0 and #twice == 0, name .. ": every target has exactly one outcome",
       ("missing %s; twice %s"):format(table.concat(missing, " "):sub(1, 300), table.concat(twice, " "):sub(1, 300)))
  T.is(failed, 0, name .. ": nothing failed")
end

-- The requests at the fake: those for targets (is_target(req)) at most 10%
-- more than targets, the rest (listing pages) reported; the bucket kept.
local function judge(name, n_targets, is_target)
  local st = control("GET", "/ratelimit")
  local sent, pages = 0, 0
  for _, r in ipairs(fake:requests()) do
    if is_target(r) then sent = sent + 1 else pages = pages + 1 end
  end
  print(("# %s: %d requests for %d targets, %d pages, %d answered 429"):format(name, sent, n_targets, pages, st.limited))
  local extra = unannounced and IN_FLIGHT or 0
  T.ok(sent >= n_targets and sent <= n_targets * 1.1 + extra, name .. ": at most 10% more requests than targets"
       .. (extra > 0 and " (and one round in flight)" or ""),
       ("%d requests for %d targets, %d listing pages; %d answered 429"):format(sent, n_targets, pages, st.limited))
  T.ok(st.admitted + st.limited == sent + pages, name .. ": the fake counted every request", json.encode(st))
  local over = 0
  for _, s in ipairs(st.per_second) do
    if s[1] + s[2] > RATE * 1.1 + BURST then over = over + 1 end
  end
  T.ok(over <= 1, name .. ": never faster than the bucket for more than a second", json.encode(st.per_second))
  return pages
end

local function posts(r) return r.method == "POST" end

-- JSON report lines: count per id (rec.id or rec.run_id), failures.
local function tally(text, key)
  local count, failed, by = {}, 0, {}
  for line in (text or ""):gmatch("[^\n]+") do
    local rec = json.decode(line)
    local id = type(rec) == "table" and (rec[key or "id"] or rec.run_id)
    if id and id ~= json.null then
      count[id] = (count[id] or 0) + 1
      by[id] = rec
      if rec.action == "failed" or rec.outcome == "failed" or (rec.error and rec.error ~= json.null) then
        failed = failed + 1
      end
    end
  end
  return count, failed, by
end

-- What a run reported, without the log lines the secrets pass turns on
-- (OPENAI_LOG=debug names each 429 and each change of pace, "runctl: rate
-- limit: pacing requests at 90/s"): those are not a report of failure.
local function reported(out, err)
  return ((out .. "\n" .. err):gsub("runctl: %a+: [^\n]*", ""):gsub("runctl: rate limit: pacing [^\n]*", ""))
end

for _, style in ipairs(STYLES) do
  local sname, hint, headers = style[1], style[2], style[3]

  ------------------------------------------------------------ cancel-older-than --kind batches
  local env = start_case(hint, headers)
  local report = T.write_file("")
  local _, err, code = T.run(("cancel-older-than --kind batches --older-than 1h --yes --json --report %s")
                             :format(T.quote(report)), env)
  local name = "cancel-older-than --kind batches, " .. sname
  local count, failed = tally(T.read_file(report))
  one_each(name, BATCHES, count, failed)
  T.is(code, 0, name .. ": exit 0", err:sub(-400))
  local pages = judge(name, N, posts)
  T.ok(pages >= 2, name .. ": the listing pages were read", pages)

  ------------------------------------------------------------ unblock-thread
  env = start_case(hint, headers)
  report = T.write_file("")
  local threads = {}
  for i, th in ipairs(seed.threads) do threads[i] = th.id end
  _, err, code = T.run(("unblock-thread --json --report %s %s"):format(T.quote(report), table.concat(threads, " ")), env)
  name = "unblock-thread, " .. sname
  local by
  count, failed, by = tally(T.read_file(report), "run_id")
  one_each(name, RUN_IDS, count, failed)
  local cancelled = 0
  for _, rec in pairs(by) do if rec.status_after == "cancelled" or rec.action == "cancelled" then cancelled = cancelled + 1 end end
  T.is(cancelled, #RUN_IDS, name .. ": every run ends cancelled", err:sub(-400))
  T.is(code, 0, name .. ": exit 0 (every thread accepts new work)", err:sub(-400))
  judge(name, #RUN_IDS, posts)

  ------------------------------------------------------------ watch --once, by ID
  env = start_case(hint, headers)
  local out
  out, err, code = T.run("watch --once " .. table.concat(RESPONSES, " "), env)
  name = "watch --once over responses by ID, " .. sname
  local missing, twice = 0, 0
  for _, id in ipairs(RESPONSES) do
    local n = select(2, out:gsub(id:gsub("%p", "%%%0") .. "%f[^%w_]", ""))
    if n == 0 then missing = missing + 1 elseif n > 1 then twice = twice + 1 end
  end
  T.ok(missing == 0 and twice == 0, name .. ": every response has exactly one line",
       ("%d missing, %d twice\n%s"):format(missing, twice, out:sub(1, 600)))
  T.unlike(reported(out, err), "rate.limit", name .. ": no row or line reports a rate-limit failure")
  T.is(code, 0, name .. ": exit 0", err:sub(-400))
  judge(name, N, function(r) return r.method == "GET" and r.path:find("/responses/", 1, true) ~= nil end)

  ------------------------------------------------------------ watch --once --kind batches
  env = start_case(hint, headers)
  out, err, code = T.run(("watch --once --kind batches --runs %d --active %d"):format(N, N), env)
  name = "watch --once --kind batches, " .. sname
  T.like(out, "in_progress", name .. ": the table is printed", out:sub(1, 400))
  T.unlike(reported(out, err), "rate.limit", name .. ": no rate-limit failure")
  T.is(code, 0, name .. ": exit 0", err:sub(-400))
  local st = control("GET", "/ratelimit")
  local reqs = fake:requests()
  T.ok(#reqs >= 2 and #reqs <= 3 * 1.1 + 1, name .. ": the listing pages only, hardly retried",
       ("%d requests, %d answered 429"):format(#reqs, st.limited))

  ------------------------------------------------------------ supervise --once
  env = start_case(hint, headers)
  local policy = T.write_file("return { rules = { { name = 'old batches', kind = 'batches', older_than = '1h' } } }\n")
  local jfile = T.write_file("")
  _, err, code = T.run(("supervise %s --once --journal %s"):format(T.quote(policy), T.quote(jfile)), env)
  name = "supervise --once, " .. sname
  count, failed = tally(T.read_file(jfile))
  one_each(name, BATCHES, count, failed)
  T.is(code, 0, name .. ": exit 0", err:sub(-400))
  judge(name, N, posts)

  ------------------------------------------------------------ task.map / task.each in a script
  for _, how in ipairs { "map", "each" } do
    env = start_case(hint, headers)
    local c = runctl.client { api_key = env.OPENAI_API_KEY, base_url = fake.base, max_concurrency = IN_FLIGHT }
    local results = {}
    local function cancel(id)
      local b, e = c.batches.cancel(id)
      local r = b and b.status or ("failed: " .. tostring(e))
      results[id] = results[id] and "twice" or r
      return r
    end
    if how == "map" then
      task.map(BATCHES, cancel, { concurrency = IN_FLIGHT })
    else
      task.each(BATCHES, cancel, { concurrency = IN_FLIGHT })
    end
    name = "task." .. how .. " over batches.cancel, " .. sname
    count, failed = {}, 0
    local first_bad
    for _, id in ipairs(BATCHES) do
      count[id] = results[id] and 1 or 0
      if results[id] ~= "cancelled" and results[id] ~= "cancelling" then
        failed = failed + 1
        first_bad = first_bad or (id .. ": " .. tostring(results[id]))
      end
    end
    one_each(name, BATCHES, count, failed)
    if first_bad then T.ok(false, name .. ": " .. first_bad) end
    judge(name, N, posts)
  end
end

T.done()
