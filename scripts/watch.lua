-- scripts/watch.lua — a live table of run statuses per thread, refreshed (for a terminal)
-- Lists the most recent runs of each thread every --interval seconds and
-- shows how many are in each status, the oldest active run, and the active
-- runs themselves. On a terminal the table is redrawn in place; elsewhere
-- each refresh is printed after the last (use --once or --count N).
local ops = require "runctl.ops"

local NAME = "watch"
local USAGE = [[
usage: runctl watch [OPTIONS] THREAD_ID... | -

Shows, per thread, how many of its recent runs are queued, in progress,
waiting for tool outputs (requires_action), cancelling and finished, and how
old its oldest active run is, with one line per active run below it.
Refreshed every --interval seconds: redrawn in place on a terminal (cut to
its height, "... N more" saying what did not fit), printed one after the
other elsewhere. Ctrl-C (or q on a terminal) stops it.

  --interval SECONDS      time between refreshes (default 2)
  --once                  print the table once and exit
  --count N               refresh N times, then exit
  --runs N                look at the N most recent runs of each thread (default 100)
  --active N              show at most N active runs per thread (default 5; 0: none)
  --threads-file FILE     read thread IDs from FILE ("-" for stdin)
  -h, --help              this text

Exit status: 0 (also when stopped with Ctrl-C or q), 1 when a thread could
not be listed in the last refresh, 2 usage error.
]]

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--interval"] = { kind = "seconds" },
    ["--once"] = { kind = "flag" },
    ["--count"] = { kind = "count" },
    ["--runs"] = { kind = "count" },
    ["--active"] = { kind = "count0" },
    ["--threads-file"] = { kind = "string" },
  },
}

local FINISHED = { cancelled = true, completed = true, failed = true, expired = true, incomplete = true }
local COLUMNS = { "queued", "in_progress", "requires_action", "cancelling" }

-- Lists up to max_runs recent runs of a thread: a row for the table.
local function snapshot(client, tid, max_runs, now)
  local row = { thread_id = tid, counts = {}, finished = 0, active = {}, seen = 0 }
  for _, c in ipairs(COLUMNS) do row.counts[c] = 0 end
  local ok, err = pcall(function()
    for run in client.runs.each(tid, { limit = math.min(100, max_runs) }) do
      row.seen = row.seen + 1
      if type(run) == "table" then
        if row.counts[run.status] then
          row.counts[run.status] = row.counts[run.status] + 1
          row.active[#row.active + 1] = {
            id = tostring(run.id), status = run.status, model = run.model,
            age = math.type(run.created_at) and now - run.created_at or nil }
        elseif FINISHED[run.status] then
          row.finished = row.finished + 1
        end
      end
      if row.seen >= max_runs then break end
    end
  end)
  if not ok then row.error, row.refused = tostring(err), ops.refusal(err) end
  table.sort(row.active, function(a, b) return (a.age or 0) > (b.age or 0) end)
  return row
end

local function pad(s, n) s = tostring(s) return #s >= n and s or s .. (" "):rep(n - #s) end
local function lpad(s, n) s = tostring(s) return #s >= n and s or (" "):rep(n - #s) .. s end

-- The table as lines of text: the column labels (two lines: threads, and
-- the active runs listed under each) and the rows.
local function render(rows, opts)
  local width = 6
  for _, r in ipairs(rows) do width = math.max(width, #r.thread_id) end
  local out = {}
  out[#out + 1] = ("%s  %s  %s  %s  %s  %s  %s"):format(pad("THREAD", width), lpad("QUEUED", 6),
    lpad("IN_PROGRESS", 11), lpad("REQUIRES_ACTION", 15), lpad("CANCELLING", 10),
    lpad("FINISHED", 8), "OLDEST_ACTIVE")
  if opts.active > 0 then
    out[#out + 1] = ("    %s  %s  %s  %s"):format(pad("ACTIVE RUN", 32), pad("STATUS", 15), lpad("AGE", 7), "MODEL")
  end
  for _, r in ipairs(rows) do
    if r.error then
      out[#out + 1] = ("%s  error: %s"):format(pad(r.thread_id, width), r.error)
    else
      local oldest = r.active[1]
      out[#out + 1] = ("%s  %s  %s  %s  %s  %s  %s"):format(pad(r.thread_id, width),
        lpad(r.counts.queued, 6), lpad(r.counts.in_progress, 11), lpad(r.counts.requires_action, 15),
        lpad(r.counts.cancelling, 10), lpad(r.finished, 8),
        oldest and ops.fmt_age(oldest.age) or "-")
      for i, a in ipairs(opts.active > 0 and r.active or {}) do
        if i > opts.active then
          out[#out + 1] = ("    ... %d more active"):format(#r.active - opts.active)
          break
        end
        out[#out + 1] = ("    %s  %s  %s  %s"):format(pad(a.id, 32), pad(a.status, 15),
                                                       lpad(ops.fmt_age(a.age), 7), tostring(a.model or ""))
      end
    end
  end
  return out
end

-- lines cut to fit a screen of cols x rows (the title and labels always
-- stay; a line wider than the screen would wrap and push them off).
local function fit(lines, cols, rows, labels)
  local out = {}
  for i, line in ipairs(lines) do out[i] = cols and line:sub(1, cols - 1) or line end
  if not rows or #out <= rows - 1 then return out end
  local keep = math.max(rows - 2, labels)
  local more = #out - keep
  for i = #out, keep + 1, -1 do out[i] = nil end
  out[#out + 1] = ("... %d more"):format(more)
  return out
end

-- Sleeps secs, watching for q on the terminal; false once it is time to stop.
local function pause(secs, keys)
  local deadline = ops.clock() + secs
  repeat
    local key = keys and keys.poll()
    if key == "q" or key == "Q" then return false end
    if not ops.sleep(math.min(0.1, deadline - ops.clock())) then return false end
  until ops.clock() >= deadline
  return true
end

local function main(args)
  runctl.interrupted("quiet")      -- Ctrl-C is the way out: no note, exit 0
  local o, positional = ops.parse(SPEC, args)
  local threads = ops.collect_ids(positional, o.threads_file, "thread ID")
  if #threads == 0 then
    ops.usage_error("no thread IDs: give them as arguments, with --threads-file FILE, or on stdin")
  end
  local interval = o.interval or 2
  local count = o.once and 1 or o.count
  local opts = { active = o.active or 5 }
  local client = ops.client({})
  local tty = runctl.isatty("stdout")
  local keys = tty and (not count or count > 1) and ops.keys() or nil
  local index = {}
  for i, tid in ipairs(threads) do index[tid] = i end
  local n, errors = 0, 0
  while true do
    n = n + 1
    local now = ops.now()
    local rows = {}
    ops.each_concurrently(threads, 8, function(tid)
      rows[index[tid]] = snapshot(client, tid, o.runs or 100, now)
    end)
    if runctl.interrupted() then break end
    errors = 0
    local list, refused = {}, nil
    for i = 1, #threads do
      if rows[i] then list[#list + 1] = rows[i] end
      if rows[i] and rows[i].error then errors = errors + 1 end
      refused = refused or rows[i] and rows[i].refused
    end
    local title = ("runctl watch: %s at %s"):format(ops.plural(#threads, "thread"), os.date("%H:%M:%S", now))
    if not count or count > 1 then
      title = title .. (" (every %gs%s)"):format(interval, tty and (keys and ", q or Ctrl-C to stop" or ", Ctrl-C to stop") or "")
    end
    local lines = render(list, opts)
    table.insert(lines, 1, title)
    if tty then
      local cols, rows = ops.size("stdout")
      lines = fit(lines, cols, rows, opts.active > 0 and 3 or 2)
    end
    -- On a terminal: home, clear, draw; elsewhere a blank line between tables.
    io.stdout:write(tty and "\27[H\27[2J" or (n > 1 and "\n" or ""), table.concat(lines, "\n"), "\n")
    io.stdout:flush()
    if refused then ops.say(true, "%s: stopped: %s", NAME, refused) break end   -- a refused key stays refused
    if count and n >= count then break end
    if not pause(interval, keys) then break end
  end
  if keys then keys.restore() end
  return errors > 0 and ops.EXIT_FAILED or ops.EXIT_OK
end

ops.main(NAME, main, { ... })
