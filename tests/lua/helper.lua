-- tests/lua/helper.lua — what every Lua test uses: TAP assertions, fake API
-- servers started on 127.0.0.1, the requests they recorded, and running the
-- runctl command as a subprocess.
package.path = "tests/lua/?.lua;" .. package.path
local H = {}
local count, failures = 0, 0
local servers = {}
local started = {}          -- runctl processes started in the background (H.start)

local function show(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

function H.ok(cond, name, diag)
  count = count + 1
  if not cond then failures = failures + 1 end
  print(("%s %d - %s"):format(cond and "ok" or "not ok", count, name))
  if not cond and diag then print("#   " .. tostring(diag):gsub("\n", "\n#   ")) end
  return cond
end

function H.is(got, want, name)
  return H.ok(got == want, name, "got " .. show(got) .. ", want " .. show(want))
end

function H.like(got, pattern, name)
  return H.ok(type(got) == "string" and got:find(pattern) ~= nil, name,
              "got " .. show(got) .. ", want a match for " .. show(pattern))
end

function H.unlike(got, pattern, name)
  return H.ok(type(got) == "string" and got:find(pattern) == nil, name,
              "got " .. show(got) .. ", which matches " .. show(pattern))
end

-- Asserts fn raises an error whose text matches pattern.
function H.raises(fn, pattern, name)
  local ok, err = pcall(fn)
  if ok then return H.ok(false, name, "did not raise") end
  return H.like(tostring(err), pattern, name)
end

-- Lua 5.1 (the LuaJIT pass, tests/luajit/run.lua): what differs says so and skips.
H.lua51 = _VERSION == "Lua 5.1"

-- Counts n checks as skipped, with the reason (TAP "# SKIP").
function H.skip(n, why)
  for _ = 1, n do
    count = count + 1
    print(("ok %d # SKIP %s"):format(count, why))
  end
end

function H.done()
  for _, h in ipairs(started) do
    if h.code() == nil and h.pid() then h.signal("KILL") end
  end
  for _, s in ipairs(servers) do s:stop() end
  print("1.." .. count)
  os.exit(failures == 0 and 0 or 1)
end

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
H.quote = sh_quote

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
H.read_file = read_file

local tmpdir = os.getenv("TEST_TMPDIR") or "/tmp"
local serial = 0

-- Starts a background server that writes its port to a file, as NAME ARGS
-- (ARGS may use %{portfile}); returns {pid, port, url, stop}, stopped by T.done().
local function start_server(name, command)
  serial = serial + 1
  local portfile = ("%s/%s-%d-%d.port"):format(tmpdir, name, math.random(1e9), serial)
  local cmd = command:gsub("%%{portfile}", portfile)
  -- Under ASan, math.random is seeded alike in every process started within the
  -- same second, so an earlier test's port file can bear this name: never read it.
  os.remove(portfile)
  local p = io.popen(("%s >/dev/null 2>%s.log & echo $!"):format(cmd, portfile))
  local pid = p:read("l")
  p:close()
  local port
  for _ = 1, 500 do
    port = (read_file(portfile) or ""):match("%d+")
    if port then break end
    task.sleep(0.01)
  end
  assert(port, name .. " did not start: " .. cmd)
  local s = { pid = pid, port = port, url = "http://127.0.0.1:" .. port }
  function s:stop()
    if self.pid then os.execute("kill " .. self.pid .. " 2>/dev/null") self.pid = nil end
  end
  servers[#servers + 1] = s
  return s
end

-- Starts a fake API server; returns {url, base, pid, stop, requests, ...}.
function H.fake(args)
  local s = start_server("fake", ("%s --port 0 --port-file %%{portfile} --quiet %s")
                                 :format(os.getenv("FAKEAPI") or "build/fakeapi", args or ""))
  s.base = s.url .. "/v1"
  local function control(method, path, body)
    local resp, err = http.request { method = method, url = s.url .. "/_fake" .. path,
                                     body = body and assert(json.encode(body)) or nil,
                                     headers = body and { ["Content-Type"] = "application/json" } or nil }
    assert(resp, tostring(err))
    assert(resp.status < 300, "control " .. path .. " answered " .. resp.status .. ": " .. resp.body)
    return assert(json.decode(resp.body))
  end
  function s:requests() return control("GET", "/requests") end
  function s:clear() return control("DELETE", "/requests") end
  function s:last() local r = control("GET", "/requests") return r[#r] end
  function s:faults(list) return control("POST", "/faults", json.array(list)) end
  function s:clear_faults() return control("DELETE", "/faults") end
  function s:seed(seed) return control("POST", "/seed", seed) end
  function s:reset() return control("POST", "/reset") end
  -- The paths of the POST requests recorded, sorted, in one string.
  function s:posted()
    local p = {}
    for _, r in ipairs(s:requests()) do if r.method == "POST" then p[#p + 1] = r.path end end
    table.sort(p)
    return table.concat(p, " ")
  end
  -- How the server answers cancels: "live", "400", "200", "409" (see the fake's refusal.h).
  function s:cancel_style(name) return control("POST", "/config", { cancel_style = name }) end
  function s:runs(thread_id) return control("GET", "/runs?thread_id=" .. runctl.escape_id(thread_id)) end
  function s:client(extra)
    local cfg = { api_key = "sk-test-1234567890", base_url = s.base, max_retries = 0 }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return runctl.client(cfg)
  end
  return s
end

-- Starts tests/tools/badpeer in mode "blackhole", "stall-body" or "refuse"; returns {url, pid, stop}.
function H.badpeer(mode)
  local bin = (os.getenv("FAKEAPI") or "build/fakeapi"):gsub("fakeapi$", "badpeer")
  return start_server("badpeer", bin .. " " .. mode .. " %{portfile}")
end

-- Peak resident memory of this process so far, in KiB (VmHWM).
function H.peak_rss_kib()
  local status = read_file("/proc/self/status") or ""
  return tonumber(status:match("VmHWM:%s*(%d+)")) or 0
end

-- Writes a seed file and returns its path.
function H.seed_file(seed)
  serial = serial + 1
  local path = ("%s/seed-%d-%d.json"):format(tmpdir, math.random(1e9), serial)
  local f = assert(io.open(path, "w"))
  f:write(assert(json.encode(seed)))
  f:close()
  return path
end

-- Writes content (an input for runctl: a script, a list) to a new file named
-- *.in, which tests/secrets.sh does not scan: inputs may hold test keys.
function H.write_file(content)
  serial = serial + 1
  local path = ("%s/file-%d-%d.in"):format(tmpdir, math.random(1e9), serial)
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

-- Runs the runctl command with args (a string of shell words) and env (a
-- table); returns stdout, stderr, exit code.
function H.run(args, env, stdin)
  serial = serial + 1
  local out = ("%s/run-%d.out"):format(tmpdir, serial)
  local err = out:gsub("%.out$", ".err")
  local prefix = "env -u OPENAI_API_KEY -u OPENAI_ADMIN_KEY -u OPENAI_BASE_URL -u OPENAI_ORG_ID -u OPENAI_PROJECT_ID -u OPENAI_LOG"
  if os.getenv("RUNCTL_SECRET_SCAN") and not (env and env.OPENAI_LOG) then
    prefix = prefix .. " OPENAI_LOG=debug"   -- the secrets scan logs everything everywhere
  end
  for k, v in pairs(env or {}) do prefix = prefix .. " " .. k .. "=" .. sh_quote(v) end
  local input = stdin and ("< " .. sh_quote(H.write_file(stdin))) or "< /dev/null"
  local cmd = ("%s %s %s %s %s > %s 2> %s"):format(prefix, os.getenv("RUNCTL_WRAP") or "",
              os.getenv("RUNCTL") or "./runctl", args, input, out, err)
  local _, _, code = os.execute(cmd)
  return read_file(out) or "", read_file(err) or "", code
end

-- A script's JSON-lines report: the list of decoded lines (a line that is not
-- JSON becomes {unparsable = line}), a map run_id -> line (lines without a
-- run under "thread:ID"), how often each of those keys appears, and
-- {header, trailer}: its opening line and its closing {"complete": true} line.
function H.report(text)
  local list, by, seen, frame = {}, {}, {}, {}
  for line in (text or ""):gmatch("[^\n]+") do
    local rec = json.decode(line)
    if type(rec) == "table" and rec.action == nil and (rec.report or rec.complete) then
      frame[rec.report and "header" or "trailer"] = rec
    elseif type(rec) == "table" then
      list[#list + 1] = rec
      local k = rec.run_id ~= json.null and rec.run_id or ("thread:" .. tostring(rec.thread_id))
      by[k] = rec
      seen[k] = (seen[k] or 0) + 1
    else
      list[#list + 1] = { unparsable = line }
    end
  end
  return list, by, seen, frame
end

-- Polls cond every 20 ms until it holds or secs (10) pass; returns whether it held.
function H.wait_for(cond, secs)
  for _ = 1, math.floor((secs or 10) / 0.02) do
    if cond() then return true end
    task.sleep(0.02)
  end
  return cond()
end

-- Starts `ENV runctl ARGS` in the background (env: a prefix of shell words
-- such as "env A=1"); returns a handle: pid(), code() once it has exited (nil
-- before), out(), err(), signal(SIG). H.done() kills what is still running.
function H.start(env, args)
  serial = serial + 1
  local dir = ("%s/bg-%d-%d"):format(tmpdir, math.random(1e9), serial)
  os.execute("mkdir -p " .. dir)
  local inner = ("%s %s %s %s </dev/null >%s/out 2>%s/err & echo $! >%s/pid; wait $!; echo $? >%s/code")
                :format(env, os.getenv("RUNCTL_WRAP") or "", os.getenv("RUNCTL") or "./runctl", args,
                        dir, dir, dir, dir)
  os.execute("sh -c " .. sh_quote(inner) .. " >/dev/null 2>&1 &")
  local h = { dir = dir }
  function h.pid() return tonumber((read_file(dir .. "/pid") or ""):match("%d+")) end
  function h.code() return tonumber((read_file(dir .. "/code") or ""):match("%d+")) end
  function h.out() return read_file(dir .. "/out") or "" end
  function h.err() return read_file(dir .. "/err") or "" end
  function h.signal(sig) return os.execute(("kill -%s %d"):format(sig, h.pid())) end
  started[#started + 1] = h
  H.wait_for(function() return h.pid() ~= nil end, 5)
  return h
end

-- Finds the recorded header (names are lower case) of a request.
function H.header(req, name) return req.headers[name:lower()] end

-- A run for a seed: created `age` seconds ago, never expiring unless extra says so.
function H.seed_run(id, status, age, extra)
  local r = { id = id, status = status, created_at = -age, expires_at = json.null,
              assistant_id = "asst_A", model = "gpt-4o" }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

-- A small seed: one thread with runs in every status.
function H.basic_seed()
  local runs = {}
  local statuses = { "queued", "in_progress", "requires_action", "cancelling", "cancelled",
                     "failed", "completed", "incomplete", "expired" }
  for i, st in ipairs(statuses) do
    runs[i] = { id = "run_" .. st, status = st, created_at = -100 * i, assistant_id = "asst_A", model = "gpt-4o" }
  end
  return { threads = { { id = "thread_main", runs = runs },
                       { id = "thread_empty", runs = json.array() } } }
end

return H
