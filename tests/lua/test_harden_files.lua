-- tests/lua/test_harden_files.lua — reports, journals and metrics are never
-- written through a symlink planted at their path or their temporary file
-- (issue 25): a link at the path is refused with a message naming the fix
-- (--follow-symlinks, which the user may pass for a link of their own), the
-- metrics' temporary file has a random name and is made exclusively, and
-- reports and journals are created 0600.
local T = require "helper"
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"

local seed = { threads = { { id = "thread_f", runs = { T.seed_run("run_1", "in_progress", 7200) } } } }
local fake = T.fake("--seed " .. T.seed_file(seed))
local ENV = { OPENAI_API_KEY = "sk-test-1234567890", OPENAI_BASE_URL = fake.base,
              RUNCTL_SCRIPTS = io.popen("pwd"):read("l") .. "/scripts" }

local dir = ("%s/files-%d"):format(TMP, math.random(1e9))
os.execute("mkdir -p " .. dir)
local VICTIM = dir .. "/victim.txt"
local function plant(link)
  local f = assert(io.open(VICTIM, "w"))
  f:write("precious\n")
  f:close()
  os.remove(link)
  assert(os.execute(("ln -s %s %s"):format(VICTIM, link)))
end
local function victim_intact() return T.read_file(VICTIM) == "precious\n" end
local function mode_of(path)
  local p = io.popen("stat -c %a " .. path)
  local m = p:read("l")
  p:close()
  return m
end

-- --report at a planted symlink.
local report = dir .. "/report.jsonl"
plant(report)
local _, err, code = T.run(("cancel-older-than --older-than 1m --yes --dry-run --report %s thread_f"):format(report), ENV)
T.is(code, 2, "--report at a symlink: refused (exit 2)", err)
T.like(err, "is a symbolic link: refusing to write through it", "  ... saying why")
T.like(err, "%-%-follow%-symlinks", "  ... and naming the option that allows it")
T.ok(victim_intact(), "  ... the file it leads to is untouched")

-- The user's own link, with --follow-symlinks: written through.
_, err, code = T.run(("--follow-symlinks cancel-older-than --older-than 1m --yes --dry-run --report %s thread_f"):format(report), ENV)
T.is(code, 0, "--follow-symlinks: the report is written through the user's link", err)
T.like(T.read_file(VICTIM) or "", '"would_cancel"', "  ... into the file it leads to")

-- A new report is 0600; /dev/stdout (the system's link) still works.
os.remove(report)
T.run(("cancel-older-than --older-than 1m --yes --dry-run --report %s thread_f"):format(report), ENV)
T.is(mode_of(report), "600", "a new report is created 0600 (it names what was cancelled)")
local out
out, err, code = T.run("cancel-older-than --older-than 1m --yes --dry-run --report /dev/stdout thread_f", ENV)
T.ok(code == 0 and out:find('"would_cancel"', 1, true), "--report /dev/stdout still works (a system link)", err)

-- supervise: --journal at a planted symlink, then --metrics.
local policy = T.write_file('return { rules = { { name = "old", kind = "runs", threads = { "thread_f" }, older_than = "1m" } } }')
local journal = dir .. "/journal.jsonl"
plant(journal)
_, err, code = T.run(("supervise %s --once --dry-run --journal %s"):format(policy, journal), ENV)
T.is(code, 2, "--journal at a symlink: refused (exit 2)", err)
T.like(err, "is a symbolic link: refusing to write through it", "  ... saying why")
T.ok(victim_intact(), "  ... the file it leads to is untouched")
os.remove(journal)

local metrics = dir .. "/m.prom"
plant(metrics .. ".tmp")             -- the fixed temporary name an older runctl used
_, err, code = T.run(("supervise %s --once --dry-run --journal %s --metrics %s"):format(policy, journal, metrics), ENV)
T.ok(victim_intact(), "a link planted at METRICS.tmp is never written through", err)
T.like(T.read_file(metrics) or "", "runctl_supervise", "  ... the metrics are written (to a new file with a random name, renamed)")
T.is(mode_of(journal), "600", "  ... a new journal is 0600")
T.is(mode_of(metrics), "644", "  ... the metrics 0644 (the collector runs as another user)")
local p = io.popen("ls " .. dir)
local left = p:read("a")
p:close()
T.unlike(left, "m%.prom%.tmp%-", "  ... and no temporary file is left behind")

plant(metrics)
_, err, code = T.run(("supervise %s --once --dry-run --journal %s --metrics %s"):format(policy, journal, metrics), ENV)
T.ok(victim_intact(), "a link planted at --metrics itself is refused: its target is untouched", err)
T.like(err, "is a symbolic link", "  ... and the error says why")

T.done()
