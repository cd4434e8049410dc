-- scripts/watch.lua — a live table of what runs: runs per thread, batches, fine-tuning jobs, given objects
-- Every --interval seconds: per thread (or per listable kind, --kind) how
-- many recent objects are in each active status, cancelling and finished,
-- the oldest active one and the active ones themselves; for objects given by
-- ID (responses have no list) one line each with status, age and cost. An
-- object seen cancelled and later finished is marked: the cancel did not
-- stop it. On a terminal the table is redrawn in place; elsewhere each
-- refresh is printed after the last (use --once or --count N).
local ops = require "runctl.ops"

local NAME = "watch"
local USAGE = [[
usage: runctl watch [OPTIONS] THREAD_ID... | -
       runctl watch [OPTIONS] --kind batches|fine-tuning [ID...]
       runctl watch [OPTIONS] resp_... batch_... ftjob-... VECTOR_STORE_ID/vsfb_...
       runctl watch [OPTIONS] EVAL_ID... EVAL_ID/evalrun_...

Shows, per thread, how many of its recent runs are queued, in progress,
waiting for tool outputs (requires_action), cancelling and finished, and how
old its oldest active run is, with one line per active run below it. With
--kind batches (or fine-tuning) the same for every recent batch (job): they
are listed without IDs. Objects given by ID (a response, batch, job, file
batch, eval run) get one line each: status, age, and what it cost or did.
An eval's ID (eval_...) shows its runs as a thread's are shown. A
fine-tuning job a person paused counts under PAUSED. An object
seen cancelled and later finished is marked "finished anyway". Refreshed
every --interval seconds: redrawn in place on a terminal (cut to its height,
"... N more" saying what did not fit), printed one after the other
elsewhere. Ctrl-C (or q on a terminal) stops it.

  --kind %EACH_KINDS%
                          also list the recent objects of a kind
  --interval SECONDS      time between refreshes (default 2)
  --once                  print the table once and exit
  --count N               refresh N times, then exit
  --runs N                look at the N most recent runs of each thread (or
                          objects of --kind) (default 100)
  --active N              show at most N active ones per row (default 5; 0: none)
  --threads-file FILE     read thread IDs from FILE ("-" for stdin)
  -h, --help              this text

Exit status: 0 (also when stopped with Ctrl-C or q), 1 when something could
not be read in the last refresh (or the API refused the key), 2 usage error.
]]

USAGE = ops.render_usage(USAGE)      -- extensions' kinds too

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--kind"] = { kind = "list", choices = ops.kinds.listable("each") },
    ["--interval"] = { kind = "seconds" },
    ["--once"] = { kind = "flag" },
    ["--count"] = { kind = "count" },
    ["--runs"] = { kind = "count" },
    ["--active"] = { kind = "count0" },
    ["--threads-file"] = { kind = "string" },
  },
}

local RUNS = ops.kinds.get("runs")

-- What to watch: thread IDs, listed kinds, and objects given by ID (an ID
-- whose prefix names a kind; any other argument is a thread ID).
local function targets(o, positional)
  local t = { threads = {}, kinds = {}, objects = {}, parents = {} }
  for _, name in ipairs(o.kind or {}) do t.kinds[#t.kinds + 1] = ops.kinds.get(name) end
  for _, id in ipairs(ops.collect_ids(positional, o.threads_file, "ID")) do
    local kind, parent, oid = ops.kinds.parse_ref(id)
    local of_parent = not kind and ops.kinds.by_parent_prefix(id)
    if kind and kind ~= RUNS then
      t.objects[#t.objects + 1] = { kind = kind, parent = parent, id = oid }
    elseif of_parent and of_parent ~= RUNS and of_parent.list == "parent" then
      t.parents[#t.parents + 1] = { kind = of_parent, id = id }    -- an eval: its runs
    else
      t.threads[#t.threads + 1] = id
    end
  end
  if #t.threads + #t.kinds + #t.objects + #t.parents == 0 then
    ops.usage_error("nothing to watch: give thread IDs (as arguments, with --threads-file FILE, or on stdin), "
                    .. "--kind batches|fine-tuning, or object IDs (resp_..., batch_..., ftjob-...)")
  end
  return t
end

-- Remembers which objects were seen cancelling or cancelled, so one that
-- later reads completed is shown as finished anyway.
local stopping = {}
local function note_of(kind, obj)
  local key = kind.name .. "/" .. tostring(obj.id)
  if kind.done[obj.status] or kind.cancelling[obj.status] then stopping[key] = true end
  if stopping[key] and kind.stopped_anyway[obj.status] then
    return ("finished anyway: cancelled, then %s"):format(obj.status)
  end
end

-- Lists up to max recent objects of a kind (of a thread, for runs): a row.
local function snapshot(client, kind, label, thread_id, max, unix_time)
  local row = { label = label, counts = {}, finished = 0, active = {}, flipped = {}, seen = 0 }
  for _, st in ipairs(kind.live) do row.counts[st] = 0 end
  local api = kind.resource(client)
  local ok, err = pcall(function()
    local params = { limit = math.min(100, max) }
    for obj in (thread_id and api.each(thread_id, params) or api.each(params)) do
      row.seen = row.seen + 1
      if type(obj) == "table" then
        local note = note_of(kind, obj)
        if note then row.flipped[#row.flipped + 1] = { id = tostring(obj.id), status = obj.status, note = note } end
        if row.counts[obj.status] then
          row.counts[obj.status] = row.counts[obj.status] + 1
          row.active[#row.active + 1] = { id = tostring(obj.id), status = obj.status, model = obj.model,
                                          age = math.type(obj.created_at) and unix_time - obj.created_at or nil }
        elseif kind.finished[obj.status] then
          row.finished = row.finished + 1
        end
      end
      if row.seen >= max then break end
    end
  end)
  if not ok then row.error, row.refused = tostring(err), ops.refusal(err) end
  table.sort(row.active, function(a, b) return (a.age or 0) > (b.age or 0) end)
  return row
end

-- Reads one object given by ID: a line (refused: a 401/403 said so).
local function look(client, e, unix_time)
  local api = e.kind.resource(client)
  local line = { id = e.parent and (e.parent .. "/" .. e.id) or e.id }
  if not (api and api.retrieve) then line.error = "cannot be read back" return line end
  local obj, err
  if e.kind.parent then obj, err = api.retrieve(e.parent, e.id) else obj, err = api.retrieve(e.id) end
  if not obj then line.error, line.refused = tostring(err), ops.refusal(err) return line end
  line.status, line.note = tostring(obj.status), note_of(e.kind, obj)
  line.age = math.type(obj.created_at) and unix_time - obj.created_at or nil
  local cost = ops.kinds.cost_of(e.kind, obj)
  line.cost = cost and ops.cost_text(cost) or ""
  return line
end

local function pad(s, n) s = tostring(s) return #s >= n and s or s .. (" "):rep(n - #s) end
local function lpad(s, n) s = tostring(s) return #s >= n and s or (" "):rep(n - #s) .. s end

-- A table of rows (threads, or one per listed kind) as lines of text.
local function render_rows(out, heading, kind, rows, active_max)
  local width = #heading
  for _, r in ipairs(rows) do width = math.max(width, #r.label) end
  local head = { pad(heading, width) }
  for _, st in ipairs(kind.live) do head[#head + 1] = st:upper() end
  head[#head + 1] = "FINISHED"
  head[#head + 1] = "OLDEST_ACTIVE"
  out[#out + 1] = table.concat(head, "  ")
  if active_max > 0 then        -- the columns of the active ones listed under each row
    out[#out + 1] = ("    %s  %s  %s  %s"):format(pad("ACTIVE " .. kind.one:upper(), 32), pad("STATUS", 15),
                                                   lpad("AGE", 7), "MODEL")
  end
  for _, r in ipairs(rows) do
    if r.error then
      out[#out + 1] = ("%s  error: %s"):format(pad(r.label, width), r.error)
    else
      local cells = { pad(r.label, width) }
      for _, st in ipairs(kind.live) do cells[#cells + 1] = lpad(r.counts[st], #st) end
      cells[#cells + 1] = lpad(r.finished, 8)
      cells[#cells + 1] = r.active[1] and ops.fmt_age(r.active[1].age) or "-"
      out[#out + 1] = table.concat(cells, "  ")
      for i, a in ipairs(active_max > 0 and r.active or {}) do
        if i > active_max then
          out[#out + 1] = ("    ... %d more active"):format(#r.active - active_max)
          break
        end
        out[#out + 1] = ("    %s  %s  %s  %s"):format(pad(a.id, 32), pad(a.status, 15),
                                                       lpad(ops.fmt_age(a.age), 7), tostring(a.model or ""))
      end
      for _, f in ipairs(r.flipped) do out[#out + 1] = ("    %s  %s"):format(pad(f.id, 32), f.note) end
    end
  end
end

local function render_objects(out, lines)
  out[#out + 1] = ("%s  %s  %s  %s"):format(pad("OBJECT", 32), pad("STATUS", 15), lpad("AGE", 7), "COST / NOTE")
  for _, l in ipairs(lines) do
    if l.error then
      out[#out + 1] = ("%s  error: %s"):format(pad(l.id, 32), l.error)
    else
      out[#out + 1] = ("%s  %s  %s  %s"):format(pad(l.id, 32), pad(l.status, 15), lpad(ops.fmt_age(l.age), 7),
                                                 l.note and (l.cost .. (l.cost ~= "" and "; " or "") .. l.note) or l.cost)
    end
  end
end

-- One refresh: reads everything (concurrently) and returns the lines of the
-- table and how many reads failed.
local function refresh(client, t, o, unix_time)
  local max, jobs, threads, kinds_rows, objects = o.runs or 100, {}, {}, {}, {}
  for i, tid in ipairs(t.threads) do
    jobs[#jobs + 1] = function() threads[i] = snapshot(client, RUNS, tid, tid, max, unix_time) end
  end
  for i, kind in ipairs(t.kinds) do
    jobs[#jobs + 1] = function() kinds_rows[i] = snapshot(client, kind, kind.many, nil, max, unix_time) end
  end
  local parents = {}
  for i, g in ipairs(t.parents) do
    jobs[#jobs + 1] = function() parents[i] = snapshot(client, g.kind, g.id, g.id, max, unix_time) end
  end
  for i, e in ipairs(t.objects) do jobs[#jobs + 1] = function() objects[i] = look(client, e, unix_time) end end
  ops.each_concurrently(jobs, 8, function(fn) fn() end)
  local out, errors, refused = {}, 0, nil
  for _, list in ipairs { threads, kinds_rows, objects, parents } do
    for _, r in pairs(list) do
      if r.error then errors = errors + 1 end
      refused = refused or r.refused
    end
  end
  if #t.threads > 0 then render_rows(out, "THREAD", RUNS, threads, o.active or 5) end
  for i, kind in ipairs(t.kinds) do
    if #out > 0 then out[#out + 1] = "" end
    render_rows(out, kind.many:upper(), kind, { kinds_rows[i] }, o.active or 5)
  end
  for i, g in ipairs(t.parents) do     -- one table per parent (an eval's runs)
    if #out > 0 then out[#out + 1] = "" end
    render_rows(out, g.kind.parent.name:upper(), g.kind, { parents[i] }, o.active or 5)
  end
  if #t.objects > 0 then
    if #out > 0 then out[#out + 1] = "" end
    render_objects(out, objects)
  end
  return out, errors, refused
end

-- "3 threads", "2 threads, batches, 1 object".
local function title_of(t)
  local parts = {}
  if #t.threads > 0 then parts[#parts + 1] = ops.plural(#t.threads, "thread") end
  for _, kind in ipairs(t.kinds) do parts[#parts + 1] = kind.many end
  if #t.parents > 0 then parts[#parts + 1] = ops.plural(#t.parents, t.parents[1].kind.parent.name) end
  if #t.objects > 0 then parts[#parts + 1] = ops.plural(#t.objects, "object") end
  return table.concat(parts, ", ")
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
  local deadline = runctl.now() + secs
  repeat
    local key = keys and keys.poll()
    if key == "q" or key == "Q" then return false end
    if not ops.sleep(math.min(0.1, deadline - runctl.now())) then return false end
  until runctl.now() >= deadline
  return true
end

local function main(args)
  runctl.interrupted("quiet")      -- Ctrl-C is the way out: no note, exit 0
  local o, positional = ops.parse(SPEC, args)
  local t = targets(o, positional)
  local interval, count = o.interval or 2, o.once and 1 or o.count
  local client = ops.client({})
  local tty = runctl.isatty("stdout")
  local keys = tty and (not count or count > 1) and ops.keys() or nil
  local n, errors = 0
  while true do
    n = n + 1
    local unix_time = ops.unix_time()
    local lines, refused
    lines, errors, refused = refresh(client, t, o, unix_time)
    if runctl.interrupted() then break end
    local title = ("runctl watch: %s at %s"):format(title_of(t), os.date("%H:%M:%S", unix_time))
    if not count or count > 1 then
      title = title .. (" (every %gs%s)"):format(interval, tty and (keys and ", q or Ctrl-C to stop" or ", Ctrl-C to stop") or "")
    end
    for i, line in ipairs(lines) do lines[i] = runctl.printable(line) end   -- IDs, statuses, errors: from outside
    table.insert(lines, 1, title)
    if tty then
      local cols, rows = ops.size("stdout")
      lines = fit(lines, cols, rows, 3)
    end
    -- On a terminal: home, clear, draw; elsewhere a blank line between tables.
    local clear = tty and os.getenv("TERM") ~= "dumb"       -- a dumb terminal: tables one after another
    io.stdout:write(clear and "\27[H\27[2J" or (n > 1 and "\n" or ""), table.concat(lines, "\n"), "\n")
    io.stdout:flush()
    if refused then ops.say(true, "%s: stopped: %s", NAME, refused) break end   -- a refused key stays refused
    if count and n >= count then break end
    if not pause(interval, keys) then break end
  end
  if keys then keys.restore() end
  return errors > 0 and ops.EXIT_FAILED or ops.EXIT_OK
end

ops.main(NAME, main, { ... })
