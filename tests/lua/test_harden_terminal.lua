-- tests/lua/test_harden_terminal.lua — a server cannot write to the user's
-- terminal (issue 25): IDs, statuses, error messages and x-request-id holding
-- OSC 0 (window title), ESC[2J, OSC 52 (clipboard), C1 CSI (raw \x9b and
-- U+009B) and CR LF forging a line go through every tool under a
-- pseudo-terminal (script -qc) with TERM=dumb NO_COLOR=1 and -v: nothing the
-- terminal could act on comes out (no ESC, no C1, no CR but before LF), and
-- each hostile string is shown escaped. The JSON report stays exact.
local T = require "helper"

local HOSTILE = {
  "run_\27]0;pwned\7", "run_\27[2J", "run_\27]52;c;cHduZWQ=\7", "run_\xc2\x9b31m",
  "run_\r\nrunctl: forged line",
}
-- (A raw \x9b cannot be seeded: JSON text is UTF-8. The fake's --hostile
-- request IDs carry one, and the -v log shows it escaped.)
local THREAD = "thread_\27]0;t\7"
local function seed()
  local runs = {}
  for i, id in ipairs(HOSTILE) do
    runs[i] = T.seed_run(id, i % 2 == 0 and "in_progress" or "queued", 7200)
  end
  runs[#runs + 1] = T.seed_run("run_done", "completed", 7200)
  return { threads = { { id = THREAD, runs = runs } } }
end
local fake = T.fake("--hostile --seed " .. T.seed_file(seed()))
local TMP = os.getenv("TEST_TMPDIR") or "/tmp"
local SCRIPTS = io.popen("pwd"):read("l") .. "/scripts"     -- the bundled scripts, whichever build runs
local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs `runctl ARGS` on a pseudo-terminal (stdin from stdin_file, or the
-- terminal); returns what the terminal received and the exit status.
local n = 0
local function on_tty(args, stdin_file, env_extra)
  n = n + 1
  local out = ("%s/tty-%d.out"):format(TMP, n)
  local cmd = ("%s %s %s%s"):format(os.getenv("RUNCTL_WRAP") or "", os.getenv("RUNCTL") or "./runctl", args,
                                    stdin_file and (" < " .. shq(stdin_file)) or "")
  local env = ("env -u OPENAI_LOG OPENAI_API_KEY=sk-test-1234567890 OPENAI_BASE_URL=%s NO_COLOR=1 TERM=dumb "
               .. "RUNCTL_SCRIPTS=%s %s"):format(fake.base, SCRIPTS, env_extra or "")
  local _, _, code = os.execute(("%s script -qec %s /dev/null > %s 2>&1 < /dev/null")
                                :format(env, shq(cmd), out))
  return T.read_file(out) or "", code
end

-- Whether s is valid UTF-8 (utf8.len where there is one; by hand on Lua 5.1).
local function valid_utf8(s)
  if utf8 then return utf8.len(s) ~= nil end
  local i, size = 1, #s
  while i <= size do
    local c = s:byte(i)
    local len = c < 0x80 and 1 or (c >= 0xc2 and c <= 0xdf) and 2 or (c >= 0xe0 and c <= 0xef) and 3
                or (c >= 0xf0 and c <= 0xf4) and 4 or nil
    if not len or i + len - 1 > size then return false end
    for j = i + 1, i + len - 1 do
      local b = s:byte(j)
      if b < 0x80 or b > 0xbf then return false end
    end
    i = i + len
  end
  return true
end

-- What a terminal must never receive from outside.
local function clean(text, name)
  local esc = text:find("\27", 1, true)
  local c1 = text:find("\xc2[\x80-\x9f]")
  local invalid = not valid_utf8(text)
  local bare_cr = text:gsub("\r\n", ""):find("\r", 1, true)
  T.ok(#text > 0 and not esc and not c1 and not invalid and not bare_cr,
       name .. ": no ESC, no C1 control, no invalid UTF-8, no bare CR",
       (esc and ("ESC at " .. esc) or "") .. (c1 and " C1" or "") .. (invalid and " invalid UTF-8" or "")
       .. (bare_cr and " bare CR" or "") .. "\n" .. text:sub(1, 3000))
end

local function shows_escaped(text, name)
  T.ok(text:find("run_\\x1b]0;pwned\\x07", 1, true) and text:find("run_\\u009b31m", 1, true)
       and text:find("run_\\r\\nrunctl: forged line", 1, true),
       name .. ": every hostile ID is shown, escaped (\\x1b, \\u009b, \\r\\n)", text:sub(1, 3000))
end

if not os.execute("command -v script >/dev/null 2>&1") then
  T.ok(true, "skipped: no script(1) to make a pseudo-terminal (util-linux)")
  T.done()
  return
end

---------------------------------------------------------------------- the bulk scripts

-- cancel-older-than -v: the listing's IDs, and the request IDs in the log.
local report = TMP .. "/coo.jsonl"
local out = on_tty(("-v cancel-older-than --older-than 1m --yes --report %s %s"):format(report, shq(THREAD)))
clean(out, "cancel-older-than -v")
shows_escaped(out, "cancel-older-than -v")
T.ok(out:find("\\x1b]52;c;cHduZWQ=\\x07\\u009b31m\\x9b32m]", 1, true), "  ... and the -v log's x-request-id, escaped", out)
-- The report is data: the IDs exactly as the server sent them.
local ids = {}
for line in (T.read_file(report) or ""):gmatch("[^\n]+") do
  local rec = json.decode(line)
  if rec and rec.run_id and rec.run_id ~= json.null then ids[rec.run_id] = rec.action end
end
T.is(ids["run_\27]0;pwned\7"], "cancelled", "  ... the JSON report holds the ID exactly (OSC 0 and all)")
T.is(ids["run_\r\nrunctl: forged line"], "cancelled", "  ... and the one with CR LF")

-- The same again, with the report on the terminal (lines for people).
fake:seed(seed())
out = on_tty(("cancel-older-than --older-than 1m --yes %s"):format(shq(THREAD)))
clean(out, "cancel-older-than, report lines on the terminal")
shows_escaped(out, "cancel-older-than, report lines on the terminal")

-- cancel: IDs from a file (the server's 404 message quotes each one back).
fake:seed(seed())
local list = {}
for _, id in ipairs(HOSTILE) do
  if not id:find("[\r\n]") then list[#list + 1] = THREAD .. "/" .. id end
end
list[#list + 1] = "thread_\27[2J run_\xff\x9b31m"           -- raw bytes straight from a file
local file = T.write_file(table.concat(list, "\n") .. "\n")
out = on_tty("-v cancel --file " .. shq(file))
clean(out, "cancel -v (IDs from a file, 404 messages quoting them)")
T.ok(out:find("run_\\x1b]0;pwned\\x07", 1, true) and out:find("run_\\xff\\x9b31m", 1, true),
     "  ... the IDs are shown escaped (raw bytes from the file too)", out)

-- An error message and a status from the server: a cancel answered with both.
fake:seed(seed())
fake:faults { { path = "/cancel", status = 200, count = 100,
                body = json.encode { id = "run_\27[2J", object = "thread.run", status = "cancel\27]52;c;eA==\7led" } } }
out = on_tty("cancel-older-than --older-than 1m --yes " .. shq(THREAD))
clean(out, "cancel-older-than (statuses from the server)")
fake:clear_faults()
fake:seed(seed())
fake:faults { { path = "/cancel", status = 400, count = 100,
                body = json.encode { error = { message = "no\27]0;title\7 \r\nrunctl: all done\xc2\x9b", type = "invalid\27[31m" } } } }
out = on_tty("cancel-older-than --older-than 1m --yes " .. shq(THREAD))
clean(out, "cancel-older-than (error messages and types from the server)")
T.ok(out:find("no\\x1b]0;title\\x07 \\r\\nrunctl: all done\\u009b", 1, true), "  ... the message shown escaped", out)
fake:clear_faults()

-- unblock-thread.
fake:seed(seed())
out = on_tty("-v unblock-thread --wait 5 " .. shq(THREAD))
clean(out, "unblock-thread -v")
T.ok(out:find("run_\\x1b", 1, true) or out:find("\\x1b", 1, true), "  ... hostile text shown escaped", out)

---------------------------------------------------------------------- watch and supervise

fake:seed(seed())
out = on_tty("-v watch --once " .. shq(THREAD))
clean(out, "watch --once -v (the table)")
T.ok(out:find("thread_\\x1b]0;t\\x07", 1, true) and out:find("run_\\x1b[2J", 1, true), "  ... thread and run IDs shown escaped", out)

local policy = T.write_file(([[
return { rules = { { name = "hostile\27]0;p\7", kind = "runs", threads = { %q }, older_than = "1m" } } }
]]):format(THREAD))
out = on_tty(("-v supervise %s --once --journal %s/journal.jsonl"):format(policy, TMP))
clean(out, "supervise --once -v (its log lines)")
T.ok(out:find("\\x1b", 1, true), "  ... hostile text shown escaped", out)

---------------------------------------------------------------------- spend

-- spend's table: project IDs, line items and models come from the server.
local resp = http.request { method = "POST", url = fake.url .. "/_fake/spend", headers = { ["Content-Type"] = "application/json" },
  body = json.encode { costs = { { time = -60, usd = 1.5, project_id = "proj_\27]0;pwned\7", line_item = "li\r\nrunctl: forged" } },
                       usage = { { time = -60, endpoint = "completions", project_id = "proj_\27]0;pwned\7",
                                   model = "gpt\xc2\x9b31m", input_tokens = 1, output_tokens = 1,
                                   input_cached_tokens = 0, num_model_requests = 1, batch = false } } } }
T.is(resp and resp.status, 200, "the fake took the hostile spend")
for _, by in ipairs { "project", "line_item", "model" } do
  out = on_tty("spend --by " .. by, nil, "OPENAI_ADMIN_KEY=sk-admin-1234567890")
  clean(out, "spend --by " .. by .. " (the table's groups)")
end
T.ok(out:find("gpt\\u009b31m", 1, true), "  ... shown escaped", out)

---------------------------------------------------------------------- a script's own error

out = on_tty("-e " .. shq([[local _, err = runs.retrieve("thread_x", "run_\27[2J") error(err)]]))
clean(out, "an error object raised by a script (tostring(err))")
out = on_tty("-e " .. shq([[log.warn("%s", "\27]0;x\7\r\nrunctl: forged") error("plain \27[2J error")]]))
clean(out, "log.warn and a plain error with outside text")
T.like(out, "runctl: warning: \\x1b%]0;x\\x07\\r\\nrunctl: forged", "  ... log.warn's argument is one escaped line")

T.done()
