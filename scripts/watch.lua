-- scripts/watch.lua — a live table of what runs: runs per thread, batches, fine-tuning jobs, given objects
-- Every --interval seconds: per thread (or per listable kind, --kind) how
-- many recent objects are in each active status, cancelling and finished,
-- the oldest active one and the active ones themselves; for objects given by
-- ID (responses have no list) one line each with status, age and cost. An
-- object seen cancelled and later finished is marked: the cancel did not
-- stop it. On a terminal the table is redrawn in place; elsewhere each
-- refresh is printed after the last (use --once or --count N).
local ops = require "runctl.ops"
local json = require "runctl.json"

local NAME = "watch"
local USAGE = [[
usage: runctl watch [OPTIONS] --kind KIND [ID...]
       runctl watch [OPTIONS] resp_... batch_... ftjob-... VECTOR_STORE_ID/vsfb_...
       runctl watch [OPTIONS] THREAD_ID... | -
       runctl watch [OPTIONS] EVAL_ID... EVAL_ID/evalrun_...

Shows what is running and how old it is, for the objects named in one of
these ways
  --kind batches        every recent batch: how many are validating, in
                        progress, finalizing, cancelling and finished, the
                        oldest active one, and one line per active batch
  --kind fine-tuning    the same for fine-tuning jobs (a job a person paused
                        counts under PAUSED)
  ID...                 one line per object given by ID (a response, batch,
                        job, file batch, eval run): status, age, what it cost
                        or did
  THREAD_ID...          per thread, its recent runs (Azure and compatible
                        servers): queued, in_progress, requires_action, ...
  EVAL_ID...            an eval's runs, shown as a thread's are
With none of these it says which kinds there are. An object seen cancelled
and later finished is marked "finished anyway". Refreshed every --interval
seconds: redrawn in place on a terminal (fitted to its width: a narrow one
keeps each object's ID, status and age; cut to its height, "... N more"
saying what did not fit), printed one after the other elsewhere; --json
prints JSON lines for scripts instead. Ctrl-C (or q on a terminal) stops it.

Examples:
  $ runctl watch --kind batches --kind fine-tuning
  $ runctl watch --once batch_abc resp_def
  $ runctl watch --json --count 1 --kind batches | jq .

  --kind %EACH_KINDS%
                          also list the recent objects of a kind
  --interval SECONDS      time between refreshes (default 2)
  --once                  print the table once and exit
  --count N               refresh N times, then exit
  --runs N                look at the N most recent runs of each thread (or
                          objects of --kind) (default 100)
  --active N              show at most N active ones per row (default 5; 0: none)
  --threads-file FILE     read thread IDs from FILE ("-" for stdin)
  --json                  JSON lines instead of the table, one per row and
                          per object, each with refresh (its number) and at
                          (its time): {"type": "row", "kind", "thread_id",
                          "counts", "finished", "oldest_age"} and {"type":
                          "object", "kind", "id", "thread_id", "status",
                          "age", "model", "cost", "note", "error"}
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
    ["--json"] = { kind = "flag" },
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
    local lines = { "nothing to watch: name a kind with --kind " .. ops.kinds.listable_names("each")
                    .. ", give object IDs, or thread IDs for runs:" }
    for _, name in ipairs(ops.kinds.names()) do
      local k = ops.kinds.get(name)
      if k.list == "each" then
        lines[#lines + 1] = ("  %-44s every recent %s"):format("runctl watch --kind " .. k.name, k.one)
      end
    end
    lines[#lines + 1] = ("  %-44s those objects"):format("runctl watch batch_... resp_... ftjob-...")
    lines[#lines + 1] = ("  %-44s runs, per thread"):format("runctl watch THREAD_ID...")
    ops.usage_error(table.concat(lines, "\n"))
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
  local line = { id = e.parent and (e.parent .. "/" .. e.id) or e.id, e = e }
  if not (api and api.retrieve) then line.error = "cannot be read back" return line end
  local obj, err
  if e.kind.parent then obj, err = api.retrieve(e.parent, e.id) else obj, err = api.retrieve(e.id) end
  if not obj then line.error, line.refused = tostring(err), ops.refusal(err) return line end
  line.status, line.note = tostring(obj.status), note_of(e.kind, obj)
  line.age = math.type(obj.created_at) and unix_time - obj.created_at or nil
  line.model = type(obj.model) == "string" and obj.model or nil
  local cost = ops.kinds.cost_of(e.kind, obj)
  line.cost, line.cost_fields = cost and ops.cost_text(cost) or "", cost
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

-- The narrow layout (a terminal too narrow for the columns): per row its
-- counts in words, then its active objects as a table that keeps ID,
-- status and age (term.table).
local function render_rows_narrow(out, heading, kind, rows, active_max, cols)
  for _, r in ipairs(rows) do
    out[#out + 1] = kind.per_thread and (heading .. " " .. r.label) or r.label
    if r.error then
      out[#out + 1] = "  error: " .. r.error
    else
      local parts = {}
      for _, st in ipairs(kind.live) do parts[#parts + 1] = st .. " " .. r.counts[st] end
      local text = ("%s; finished %d; oldest %s"):format(table.concat(parts, ", "), r.finished,
                                                          r.active[1] and ops.fmt_age(r.active[1].age) or "-")
      for l in ops.wrap(text, cols - 3, 2):gmatch("[^\n]+") do out[#out + 1] = "  " .. l end
      local list = {}
      for i, a in ipairs(active_max > 0 and r.active or {}) do
        if i > active_max then break end
        list[#list + 1] = { a.id, a.status, ops.fmt_age(a.age), tostring(a.model or "") }
      end
      if #list > 0 then
        for _, l in ipairs(ops.table({ { name = "ID", keep = true }, { name = "STATUS", keep = true },
                                       { name = "AGE", right = true, keep = true }, { name = "MODEL" } }, list, cols - 2)) do
          out[#out + 1] = "  " .. l
        end
      end
      if active_max > 0 and #r.active > active_max then
        out[#out + 1] = ("  ... %d more active"):format(#r.active - active_max)
      end
      for _, f in ipairs(r.flipped) do out[#out + 1] = ("  %s: %s"):format(f.id, f.note) end
    end
  end
end

-- The objects given by ID as a table fitted to cols (nil: any width): a
-- narrow one keeps ID, status and age, the cost and note cut or left out.
local function render_objects(out, lines, cols)
  local list = {}
  for _, l in ipairs(lines) do
    if l.error then
      list[#list + 1] = { l.id, "error", "", l.error }
    else
      list[#list + 1] = { l.id, l.status, ops.fmt_age(l.age), l.note and (l.cost .. (l.cost ~= "" and "; " or "") .. l.note) or l.cost }
    end
  end
  for _, l in ipairs(ops.table({ { name = "OBJECT", keep = true }, { name = "STATUS", keep = true },
                                 { name = "AGE", right = true, keep = true }, { name = "COST / NOTE", cut = true } },
                               list, cols)) do
    out[#out + 1] = l
  end
end


-- One refresh: reads everything (concurrently); returns what was read
-- (threads, kinds_rows, objects: rows and lines), how many reads failed,
-- and why the key was refused (or nil).
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
  local errors, refused = 0, nil
  for _, list in ipairs { threads, kinds_rows, objects, parents } do
    for _, r in pairs(list) do
      if r.error then errors = errors + 1 end
      refused = refused or r.refused
    end
  end
  return { threads = threads, kinds_rows = kinds_rows, objects = objects, parents = parents }, errors, refused
end

-- The table's lines for a terminal cols wide (nil: any width); the narrow
-- layout when the wide one would not fit.
local function render(t, seen, o, cols)
  local function lay(narrow)
    local out = {}
    local function rows(heading, kind, list)
      if narrow then render_rows_narrow(out, heading, kind, list, o.active or 5, cols)
      else render_rows(out, heading, kind, list, o.active or 5) end
    end
    if #t.threads > 0 then rows("THREAD", RUNS, seen.threads) end
    for i, kind in ipairs(t.kinds) do
      if #out > 0 then out[#out + 1] = "" end
      rows(kind.many:upper(), kind, { seen.kinds_rows[i] })
    end
    for i, g in ipairs(t.parents) do     -- one table per parent (an eval's runs)
      if #out > 0 then out[#out + 1] = "" end
      rows(g.kind.parent.name:upper(), g.kind, { seen.parents[i] })
    end
    if #t.objects > 0 then
      if #out > 0 then out[#out + 1] = "" end
      render_objects(out, seen.objects, cols)
    end
    return out
  end
  local out = lay(false)
  if cols then          -- the rows' columns must fit (an error message may be cut)
    for _, line in ipairs(out) do
      if #line > cols - 1 and not line:find("  error: ", 1, true) then
        return lay(true)
      end
    end
  end
  return out
end

-- --json: one line per row and per object, each with the refresh's number and time.
local function put_json(seen, t, n, now)
  local function put(rec)
    rec.refresh, rec.at = n, now
    io.stdout:write(assert(json.encode(ops.with_nulls(rec, {}))), "\n")
  end
  -- a row's parent (a thread, an eval) under its kind's field; thread_id null otherwise
  local function with_parent(rec, kind, r)
    rec.thread_id = json.null
    if kind.per_thread then rec[kind.parent.field] = r.label end
    return rec
  end
  local function rows(kind, list)
    for _, r in ipairs(list) do
      local counts = {}
      for st, c in pairs(r.counts) do counts[st] = c end
      put(with_parent({ type = "row", kind = kind.name, counts = counts, finished = r.finished,
                        oldest_age = r.active[1] and r.active[1].age or json.null, error = r.error or json.null },
                      kind, r))
      for _, a in ipairs(r.active) do
        put(with_parent({ type = "object", kind = kind.name, id = a.id, status = a.status,
                          age = a.age or json.null, model = a.model or json.null }, kind, r))
      end
      for _, f in ipairs(r.flipped) do
        put(with_parent({ type = "object", kind = kind.name, id = f.id, status = f.status, note = f.note }, kind, r))
      end
    end
  end
  rows(RUNS, seen.threads)
  for i, kind in ipairs(t.kinds) do rows(kind, { seen.kinds_rows[i] }) end
  for i, g in ipairs(t.parents) do rows(g.kind, { seen.parents[i] }) end
  for _, l in ipairs(seen.objects) do
    put { type = "object", kind = l.e.kind.name, id = l.e.id,
          [l.e.kind.parent and l.e.kind.parent.field or "parent_id"] = l.e.parent or json.null,
          status = l.status or json.null, age = l.age or json.null, model = l.model or json.null,
          cost = l.cost_fields or json.null, note = l.note or json.null, error = l.error or json.null }
  end
  io.stdout:flush()
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
  local tty = runctl.isatty("stdout") and not o.json
  local keys = tty and (not count or count > 1) and ops.keys() or nil
  local n, errors = 0
  while true do
    n = n + 1
    local now = ops.unix_time()
    local seen, refused
    seen, errors, refused = refresh(client, t, o, now)
    if runctl.interrupted() then break end
    if o.json then
      put_json(seen, t, n, now)
      if refused then ops.say(true, "%s: stopped: %s", NAME, refused) break end
      if count and n >= count then break end
      if not pause(interval, keys) then break end
      goto continue
    end
    local cols, rows
    if tty then cols, rows = ops.size("stdout") end
    local lines = render(t, seen, o, cols)
    local title = ("runctl watch: %s at %s"):format(title_of(t), os.date("%H:%M:%S", now))
    if not count or count > 1 then
      title = title .. (" (every %gs%s)"):format(interval, tty and (keys and ", q or Ctrl-C to stop" or ", Ctrl-C to stop") or "")
    end
    for i, line in ipairs(lines) do lines[i] = runctl.printable(line) end   -- IDs, statuses, errors: from outside
    table.insert(lines, 1, title)
    if tty then lines = fit(lines, cols, rows, 3) end
    -- On a terminal: home, clear, draw; elsewhere a blank line between tables.
    local clear = tty and os.getenv("TERM") ~= "dumb"       -- a dumb terminal: tables one after another
    io.stdout:write(clear and "\27[H\27[2J" or (n > 1 and "\n" or ""), table.concat(lines, "\n"), "\n")
    io.stdout:flush()
    if refused then ops.say(true, "%s: stopped: %s", NAME, refused) break end   -- a refused key stays refused
    if count and n >= count then break end
    if not pause(interval, keys) then break end
    ::continue::
  end
  if keys then keys.restore() end
  return errors > 0 and ops.EXIT_FAILED or ops.EXIT_OK
end

ops.main(NAME, main, { ... })
