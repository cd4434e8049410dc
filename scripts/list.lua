-- scripts/list.lua — list the objects of a kind (batches, fine-tuning jobs, a thread's runs), with filters
-- Follows every page (or stops at --limit), keeps the objects the filters
-- match (the filters of cancel-older-than: status, model, assistant,
-- metadata, age) and shows them: a table on a terminal, one JSON object per
-- line elsewhere (the object as the API returned it, for jq and scripts).
local ops = require "runctl.ops"
local picks = require "runctl.jobs.selection"
local json = require "runctl.json"

local NAME = "list"
local USAGE = [[
usage: runctl list [OPTIONS] %KINDS% [THREAD_ID...]

Lists the objects of one kind, newest first, following every page. The
kinds that can be listed, and what is listed of each, are
  batches       every batch
  fine-tuning   every fine-tuning job
  runs          the runs of the given threads (Azure and compatible servers);
                thread IDs from the arguments, --threads-file, or stdin
  eval-runs     the runs of the given evals (their IDs where thread IDs go)
On a terminal: a table (ID, status, age, model, cost so far) fitted to its
width; elsewhere (a pipe, a file) or with --json: one JSON line per object,
as the API returned it. Responses, file batches and uploads cannot be
listed: runctl get ID...

Examples:
  $ runctl list batches --status in_progress,finalizing
  $ runctl list fine-tuning --model gpt-4o-mini --older-than 1d
  $ runctl list batches --json --limit 10 | jq -r .id

Filters (those of cancel-older-than; all must match):
  --status LIST           only these statuses, comma-separated (any of the kind's)
  --older-than AGE        created more than AGE ago: 90s, 15m, 2h, 1d, 1w
  --newer-than AGE        created less than AGE ago
  --age-from created|started
                          measure ages from created_at (default) or started_at
  --model NAME            only objects on this model (repeatable: any of them)
  --assistant ID          only runs of this assistant (repeatable)
  --metadata KEY=VALUE    only objects whose metadata has KEY=VALUE (repeatable: all)
  --limit N               stop after N objects (default: every page)
  --threads-file FILE     read thread IDs from FILE ("-" for stdin)
  --json                  JSON lines even on a terminal
  -h, --help              this text

Exit status: 0 listed, 1 a listing failed (what was listed before is
shown), 2 usage error.
]]

USAGE = ops.render_usage(USAGE)      -- extensions' kinds too

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--status"] = { kind = "list" },
    ["--older-than"] = { kind = "duration" },
    ["--newer-than"] = { kind = "duration" },
    ["--age-from"] = { kind = "list", choices = { created = true, started = true,
                                                   created_at = true, started_at = true } },
    ["--model"] = { kind = "string", many = true },
    ["--assistant"] = { kind = "string", many = true },
    ["--metadata"] = { kind = "keyvalue", many = true },
    ["--limit"] = { kind = "count" },
    ["--threads-file"] = { kind = "string" },
    ["--json"] = { kind = "flag" },
  },
}

local function filter_of(o)
  return { status = o.status, older_than = o.older_than, newer_than = o.newer_than,
           age_from = o.age_from and o.age_from[1], model = o.model, assistant = o.assistant,
           metadata = o.metadata }
end

-- The kind named by the first argument, checked, and the threads for runs.
local function what(o, positional)
  local name = table.remove(positional, 1)
  if not name then
    ops.usage_error("which kind? runctl list " .. ops.kinds.listable_names() .. " [THREAD_ID...]")
  end
  local kind = ops.kinds.get(name)
  if not kind then
    local k = ops.kinds.by_prefix(name)
    ops.usage_error(("'%s' is not a kind: use %s%s"):format(name, ops.kinds.listable_names(),
      k and (" (to read that " .. k.one .. ": runctl get " .. name .. ")") or ""))
  end
  if not kind.list then
    ops.usage_error(("%s cannot be listed (the API has no list): read them by ID with runctl get ID..."):format(kind.many))
  end
  if o.age_from and #o.age_from > 1 then ops.usage_error("--age-from takes one value") end
  local bad = picks.check_listing(kind, filter_of(o), function(f) return "--" .. f:gsub("_", "-") end)
  if bad then ops.usage_error(bad) end
  if not kind.per_thread then
    if #positional > 0 or o.threads_file then
      ops.usage_error(("%s are listed whole: give no thread IDs"):format(kind.many))
    end
    return kind, { false }
  end
  local threads = ops.collect_ids(positional, o.threads_file, "thread ID")
  if #threads == 0 then
    ops.usage_error(("%s are listed per %s: give %s IDs as arguments, with --threads-file FILE, or on stdin")
                    :format(kind.many, kind.parent.name, kind.parent.name))
  end
  return kind, threads
end

local COLUMNS = { { name = "ID", keep = true }, { name = "STATUS", keep = true },
                  { name = "AGE", right = true, keep = true }, { name = "MODEL" }, { name = "COST SO FAR" },
                  { name = "PARENT" } }

local function main(args)
  local o, positional = ops.parse(SPEC, args)
  local kind, groups = what(o, positional)
  local client = ops.client({})
  local api = kind.resource(client)
  local now = ops.unix_time()
  local match = picks.matcher(kind, filter_of(o), now)
  local as_table = runctl.isatty("stdout") and not o.json
  local rows, shown, listed, failed = {}, 0, 0, 0
  for _, g in ipairs(groups) do
    if o.limit and shown >= o.limit then break end
    local ok, err = pcall(function()
      for item in (g and api.each(g, { limit = 100 }) or api.each({ limit = 100 })) do
        listed = listed + 1
        local yes, age = match(item)
        if yes then
          shown = shown + 1
          if as_table then
            rows[#rows + 1] = { item.id, tostring(item.status), ops.fmt_age(age),
                                type(item.model) == "string" and item.model or "",
                                ops.cost_brief(ops.kinds.cost_of(kind, item)), g or nil }
          else
            io.stdout:write(assert(json.encode(item)), "\n")
            io.stdout:flush()
          end
        end
        if (o.limit and shown >= o.limit) or runctl.interrupted() then break end
      end
    end)
    if not ok then
      failed = failed + 1
      ops.say(true, "%s: cannot list %s%s: %s", NAME, kind.many, g and (" of " .. g) or "", tostring(err))
      local why = ops.refusal(err)
      if why then ops.say(true, "%s: stopped: %s", NAME, why) break end
    end
    if runctl.interrupted() then break end
  end
  if as_table then
    local cols = ops.size("stdout")
    if #rows > 0 then
      local columns = { table.unpack(COLUMNS, 1, kind.per_thread and 6 or 5) }
      if kind.per_thread then columns[6] = { name = kind.parent.name:upper() } end
      for _, l in ipairs(ops.table(columns, rows, cols)) do io.stdout:write(l, "\n") end
    end
  end
  ops.say(false, "%s: %d %s%s", NAME, shown, shown == 1 and kind.one or kind.many,
          listed ~= shown and (" (of " .. listed .. " listed)") or "")
  if runctl.interrupted() then return ops.EXIT_INTERRUPTED end
  return failed > 0 and ops.EXIT_FAILED or ops.EXIT_OK
end

ops.main(NAME, main, { ... })
