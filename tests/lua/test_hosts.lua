-- tests/lua/test_hosts.lua — runctl inside real LuaJIT hosts, headless: a LÖVE
-- 11 app whose love.update drives runctl.poll, and a Neovim plugin whose
-- vim.loop timer does (tests/hosts/). Each loads the LuaJIT build of the
-- module (make luajit: build-luajit/module/runctl.so), cancels the active jobs
-- of every kind and two runs on the fake server, sees a deadline and a cancel
-- from its loop end two slow requests; this test checks its lines against what
-- the fake recorded. Skipped, with the reason, without the host or the build.
local T = require "helper"
local cwd = os.getenv("PWD") or "."
local build = os.getenv("LUAJIT_BUILD") or "build-luajit"
local module_dir = (build:sub(1, 1) == "/" and build or cwd .. "/" .. build) .. "/module"

local function skip(name, why) T.ok(true, name .. " # SKIP " .. why) end
local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true end

local seed = T.basic_seed()
seed.batches = { { id = "batch_a", status = "in_progress" }, { id = "batch_b", status = "validating" },
                 { id = "batch_c", status = "completed" } }
seed.fine_tuning_jobs = { { id = "ftjob-a", status = "running" }, { id = "ftjob-b", status = "succeeded" } }
seed.responses = { { id = "resp_a", status = "queued" }, { id = "resp_b", status = "completed" } }
seed.uploads = { { id = "upload_a", status = "pending" } }
local fake = T.fake("--seed " .. T.seed_file(seed))
local c = fake:client()

-- What the host should cancel: every active object of every listable kind.
local function active_now()
  local want = {}
  for _, name in ipairs(runctl.kinds.names()) do
    local k = runctl.kinds.get(name)
    if k.list == "each" then
      for obj in k.resource(c).each { limit = 100 } do
        if k.active[obj.status] then want[#want + 1] = ("%s %s"):format(k.name, obj.id) end
      end
    end
  end
  table.sort(want)
  return want
end

local function run_host(name, command)
  fake:reset()
  fake:clear()
  local want = active_now()
  T.ok(#want >= 3, name .. ": the fake has active jobs to cancel (" .. #want .. ")")
  fake:clear()
  -- the deadline's request and the one the loop cancels: held for 5 s
  fake:faults { { path = "/threads/thread_main/runs/run_", method = "GET", delay_ms = 5000, count = 2 } }
  local out = T.write_file("")
  local env = ("OPENAI_API_KEY=sk-test-1234567890 OPENAI_BASE_URL=%s RUNCTL_MODULE_DIR=%s RUNCTL_HOSTS_DIR=%s"):format(
    T.quote(fake.base), T.quote(module_dir), T.quote(cwd .. "/tests/hosts"))
  local ok, _, code = os.execute(("env -u DISPLAY %s %s > %s 2>%s.err"):format(env, command, out, out))
  local text = T.read_file(out) or ""
  T.is(code, 0, name .. ": exits 0", (T.read_file(out .. ".err") or "") .. text)
  local got = {}
  for kind, id, status in text:gmatch("cancel (%S+) (%S+) (%S+)\n") do
    if kind ~= "runs" then
      got[#got + 1] = kind .. " " .. id
      local k = runctl.kinds.get(kind)
      T.ok(k and (k.done[status] or k.cancelling[status]), ("%s: %s %s answered %s"):format(name, kind, id, status))
    end
  end
  table.sort(got)
  T.is(table.concat(got, ","), table.concat(want, ","), name .. ": cancelled exactly the active jobs of every kind")
  T.like(text, "cancel runs run_queued cancelling\n", name .. ": a queued run is cancelling")
  T.like(text, "cancel runs run_in_progress cancelling\n", name .. ": an in-progress run is cancelling")
  T.like(text, "deadline nil deadline\n", name .. ": a task's deadline calls off a held request")
  T.like(text, "cancelled%-from%-loop true\n", name .. ": the loop cancels a waiting task")
  T.like(text, "loop%-cancel nil cancelled\n", name .. ": whose joiner sees it cancelled")
  local frames = tonumber(text:match("done true frames=(%d+)"))
  T.ok(frames and frames > 5, name .. ": the work ran over many frames (" .. tostring(frames) .. ")")
  -- the fake saw one cancel per object, nothing else posted
  local posts = {}
  for _, r in ipairs(fake:requests()) do
    if r.method == "POST" then posts[#posts + 1] = r.path end
  end
  T.is(#posts, #want + 2, name .. ": one POST per cancelled object and run, no more")
end

-- examples/nvim: :RunctlWatch lists, c on a line cancels that job (and only it)
local function nvim_example()
  local ex = T.fake("--seed " .. T.quote(cwd .. "/examples/hosts-seed.json"))
  local out = T.write_file("")
  local env = ("OPENAI_API_KEY=sk-test-1234567890 OPENAI_BASE_URL=%s RUNCTL_MODULE_DIR=%s RUNCTL_CANCEL_ID=run_support_3"):format(
    T.quote(ex.base), T.quote(module_dir))
  local cmd = ("nvim --headless -u NONE -i NONE -n --cmd %s -c %s"):format(
    T.quote("set rtp+=" .. cwd .. "/examples/nvim"), T.quote("luafile " .. cwd .. "/tests/hosts/nvim_watch.lua"))
  local _, _, code = os.execute(("env -u DISPLAY %s %s > %s 2>&1"):format(env, cmd, out))
  local text = T.read_file(out) or ""
  T.is(code, 0, ":RunctlWatch lists and cancels (examples/nvim)", text)
  for _, id in ipairs { "batch_embed_2026_12", "ftjob-support-tone", "thread_support/run_support_1",
                        "thread_nightly/run_nightly_1" } do
    T.like(text, id:gsub("%p", "%%%0"), ":RunctlWatch shows " .. id)
  end
  T.unlike(text, "batch_old_done", ":RunctlWatch leaves finished jobs out")
  T.like(text, "thread_support/run_support_3%s+cancelling", "c cancelled the job under the cursor")
  local posts = {}
  for _, r in ipairs(ex:requests()) do if r.method == "POST" then posts[#posts + 1] = r.path end end
  T.is(table.concat(posts, " "), "/v1/threads/thread_support/runs/run_support_3/cancel", "and sent that one cancel only")
  ex:stop()
end

if not T.read_file(module_dir .. "/runctl.so") then
  skip("LÖVE and Neovim hosts", "the LuaJIT module is not built (make luajit)")
else
  if have("love") then
    run_host("LÖVE", "love " .. T.quote(cwd .. "/tests/hosts/love"))
  else
    skip("LÖVE host", "love is not installed (apt-get install love)")
  end
  if have("nvim") then
    run_host("Neovim", "nvim --headless -u NONE -i NONE -n -c " .. T.quote("luafile " .. cwd .. "/tests/hosts/nvim.lua"))
    nvim_example()
  else
    skip("Neovim host", "nvim is not installed (apt-get install neovim)")
  end
end
T.done()
