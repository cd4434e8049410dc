-- scripts/watch.lua — a live table of run statuses per thread, refreshed (for a terminal)
-- Lists the most recent runs of each thread (or the objects of a listable
-- --kind) every --interval seconds and shows how many are in each active
-- status, the oldest active one, and the active ones themselves. On a
-- terminal the table is redrawn in place; elsewhere each refresh is printed
-- after the last (use --once or --count N). What a kind's statuses are comes
-- from its definition (runctl.kinds), an extension's kind included.
local ops = require "runctl.ops"
local kinds = require "runctl.kinds"

local NAME = "watch"
local USAGE = [[
usage: runctl watch [OPTIONS] THREAD_ID... | -
       runctl watch --kind KIND [OPTIONS]

Shows, per thread, how many of its recent runs are queued, in progress,
waiting for tool outputs (requires_action), cancelling and finished, and how
old its oldest active run is, with one line per active run below it.
Refreshed every --interval seconds: redrawn in place on a terminal, printed
one after the other elsewhere. Ctrl-C stops it. With --kind (batches,
fine-tuning, or a kind an extension defines), the columns are that kind's
active and cancelling statuses, over every object of the kind (no thread IDs).

  --kind %KINDS%
                          what to watch (default runs)
  --interval SECONDS      time between refreshes (default 2)
  --once                  print the table once and exit
  --count N               refresh N times, then exit
  --runs N                look at the N most recent runs of each thread (default 100)
  --active N              show at most N active runs per thread (default 5; 0: none)
  --threads-file FILE     read thread IDs from FILE ("-" for stdin)
  -h, --help              this text

Exit status: 0, or 1 when a thread could not be listed in the last refresh,
2 usage error, 130 Ctrl-C.
]]

local listable = {}
for _, name in ipairs(kinds.names()) do
  if kinds.get(name).list then listable[#listable + 1] = name end
end
USAGE = USAGE:gsub("%%KINDS%%", table.concat(listable, "|"))     -- shell completion reads them here

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--kind"] = { kind = "string" },
    ["--interval"] = { kind = "seconds" },
    ["--once"] = { kind = "flag" },
    ["--count"] = { kind = "count" },
    ["--runs"] = { kind = "count" },
    ["--active"] = { kind = "count0" },
    ["--threads-file"] = { kind = "string" },
  },
}

-- Lists up to max_runs recent objects of a kind (of a thread, for runs): a
-- row for the table, counting the kind's pending statuses and finished ones.
local function snapshot(client, kind, tid, max_runs, now)
  local row = { thread_id = tid or kind.many, counts = {}, finished = 0, active = {}, seen = 0 }
  for _, c in ipairs(kind.pending_list) do row.counts[c] = 0 end
  local api = kind.resource(client)
  local params = { limit = math.min(100, max_runs) }
  local ok, err = pcall(function()
    for run in tid and api.each(tid, params) or api.each(params) do
      row.seen = row.seen + 1
      if type(run) == "table" then
        if row.counts[run.status] then
          row.counts[run.status] = row.counts[run.status] + 1
          row.active[#row.active + 1] = {
            id = tostring(run.id), status = run.status, model = run.model,
            age = math.type(run.created_at) and now - run.created_at or nil }
        elseif kind.finished[run.status] then
          row.finished = row.finished + 1
        end
      end
      if row.seen >= max_runs then break end
    end
  end)
  if not ok then row.error = tostring(err) end
  table.sort(row.active, function(a, b) return (a.age or 0) > (b.age or 0) end)
  return row
end

local function pad(s, n) s = tostring(s) return #s >= n and s or s .. (" "):rep(n - #s) end
local function lpad(s, n) s = tostring(s) return #s >= n and s or (" "):rep(n - #s) .. s end

-- The table as lines of text: a column per pending status of the kind.
local function render(rows, kind, opts)
  local first = kind.per_thread and "THREAD" or "KIND"
  local width = #first
  for _, r in ipairs(rows) do width = math.max(width, #r.thread_id) end
  local header = { pad(first, width) }
  for _, c in ipairs(kind.pending_list) do header[#header + 1] = c:upper() end
  header[#header + 1] = "FINISHED"
  header[#header + 1] = "OLDEST_ACTIVE"
  local out = { table.concat(header, "  ") }
  for _, r in ipairs(rows) do
    if r.error then
      out[#out + 1] = ("%s  error: %s"):format(pad(r.thread_id, width), r.error)
    else
      local oldest = r.active[1]
      local cells = { pad(r.thread_id, width) }
      for i, c in ipairs(kind.pending_list) do cells[#cells + 1] = lpad(r.counts[c], #header[i + 1]) end
      cells[#cells + 1] = lpad(r.finished, 8)
      cells[#cells + 1] = oldest and ops.fmt_age(oldest.age) or "-"
      out[#out + 1] = table.concat(cells, "  ")
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

-- The kind to watch, and the groups to list: thread IDs for runs, else one.
local function watched(o, positional)
  local kind = kinds.get(o.kind or "runs")
  if not kind then
    ops.usage_error(("--kind: unknown kind '%s': use %s"):format(o.kind, table.concat(kinds.names(), ", ")))
  elseif not kind.list then
    ops.usage_error(("--kind %s: %s cannot be listed, so they cannot be watched"):format(kind.name, kind.many))
  elseif not kind.per_thread then
    if #positional > 0 or o.threads_file then
      ops.usage_error(("--kind %s watches every %s: give no thread IDs"):format(kind.name, kind.one))
    end
    return kind, { false }
  end
  local threads = ops.collect_ids(positional, o.threads_file, "thread ID")
  if #threads == 0 then
    ops.usage_error("no thread IDs: give them as arguments, with --threads-file FILE, or on stdin")
  end
  return kind, threads
end

local function main(args)
  local o, positional = ops.parse(SPEC, args)
  local kind, threads = watched(o, positional)
  local interval = o.interval or 2
  local count = o.once and 1 or o.count
  local opts = { active = o.active or 5 }
  local client = ops.client({})
  local tty = runctl.isatty("stdout")
  local index = {}
  for i, tid in ipairs(threads) do index[tid] = i end
  local n, errors = 0, 0
  while true do
    n = n + 1
    local now = ops.now()
    local rows = {}
    ops.each_concurrently(threads, 8, function(tid)
      rows[index[tid]] = snapshot(client, kind, tid or nil, o.runs or 100, now)
    end)
    if runctl.interrupted() then break end
    errors = 0
    local list = {}
    for i = 1, #threads do
      if rows[i] then list[#list + 1] = rows[i] end
      if rows[i] and rows[i].error then errors = errors + 1 end
    end
    local lines = render(list, kind, opts)
    local what = kind.per_thread and ops.plural(#threads, "thread") or kind.many
    local title = ("runctl watch: %s at %s"):format(what, os.date("%H:%M:%S", now))
    if not count or count > 1 then
      title = title .. (" (every %gs%s)"):format(interval, tty and ", Ctrl-C to stop" or "")
    end
    -- On a terminal: home, clear, draw; elsewhere a blank line between tables.
    io.stdout:write(tty and "\27[H\27[2J" or (n > 1 and "\n" or ""), title, "\n",
                    table.concat(lines, "\n"), "\n")
    io.stdout:flush()
    if count and n >= count then break end
    if not ops.sleep(interval) then break end
  end
  if runctl.interrupted() then return ops.EXIT_INTERRUPTED end
  return errors > 0 and ops.EXIT_FAILED or ops.EXIT_OK
end

ops.main(NAME, main, { ... })
