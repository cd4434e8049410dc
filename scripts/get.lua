-- scripts/get.lua — read objects by ID (a batch, fine-tuning job, response, run, ...) and show them
-- Retrieves each object given (its kind known by its ID's prefix, or
-- --kind) and shows it: a table on a terminal, the object as the API
-- returned it, one JSON line each, elsewhere. An ID that cannot be read is
-- said on stderr and makes the exit status 1.
local ops = require "runctl.ops"
local json = require "runctl.json"

local NAME = "get"
local USAGE = [[
usage: runctl get [OPTIONS] ID... | -

Reads each object and shows its status, age, model and what it cost so far.
Its kind is known by the ID's prefix, as in
  batch_...               a batch
  ftjob-...               a fine-tuning job
  resp_...                a background response
  THREAD_ID/RUN_ID        a run
  VECTOR_STORE_ID/vsfb_...  a vector store file batch
  upload_...              an upload
  EVAL_ID/evalrun_...     an eval run
IDs come from the arguments, or from stdin ("-", or a pipe when none is
given; '#' starts a comment). On a terminal: a table fitted to its width;
elsewhere (a pipe, a file) or with --json: one JSON line per object, as the
API returned it, in the order given.

Examples:
  $ runctl get batch_abc ftjob-def
  $ runctl list batches --json | jq -r .id | runctl get --json - | jq .request_counts

  --kind KIND             every ID is of this kind, whatever its prefix
  --json                  JSON lines even on a terminal
  -h, --help              this text

Exit status: 0 every object was read, 1 one could not be (said on stderr),
2 usage error.
]]

local SPEC = {
  name = NAME, usage = USAGE,
  options = {
    ["--kind"] = { kind = "string" },
    ["--json"] = { kind = "flag" },
  },
}

local COLUMNS = { { name = "KIND" }, { name = "ID", keep = true }, { name = "STATUS", keep = true },
                  { name = "AGE", right = true, keep = true }, { name = "MODEL" }, { name = "COST SO FAR" } }

local function main(args)
  local o, positional = ops.parse(SPEC, args)
  local forced = o.kind and (ops.kinds.get(o.kind) or
    ops.usage_error(("--kind: '%s' is not one of %s"):format(o.kind, table.concat(ops.kinds.names(), ", "))))
  if #positional == 0 and runctl.isatty("stdin") then
    ops.usage_error("no IDs: give batch_..., ftjob-..., resp_..., THREAD_ID/RUN_ID, ... as arguments or on stdin")
  end
  local entries = {}
  for _, s in ipairs(ops.collect_ids(positional, nil, "ID")) do
    local kind, parent, id = ops.kinds.parse_ref(s, forced)
    if not kind then ops.usage_error(("'%s' %s"):format(s:sub(1, 80), parent)) end
    entries[#entries + 1] = { kind = kind, parent = parent, id = id }
  end
  if #entries == 0 then ops.usage_error("no IDs on stdin") end
  local client = ops.client({})
  local now = ops.unix_time()
  ops.each_concurrently(entries, 8, function(e)
    local api = e.kind.resource(client)
    if not (api and api.retrieve) then e.err = "cannot be read back" return end
    if e.kind.parent then e.obj, e.err = api.retrieve(e.parent, e.id) else e.obj, e.err = api.retrieve(e.id) end
  end)
  local as_table = runctl.isatty("stdout") and not o.json
  local rows, failed = {}, 0
  for _, e in ipairs(entries) do
    local name = e.parent and (e.parent .. "/" .. e.id) or e.id
    if e.obj then
      if as_table then
        local obj = e.obj
        rows[#rows + 1] = { e.kind.one, name, tostring(obj.status),
                            math.type(obj.created_at) and ops.fmt_age(now - obj.created_at) or "",
                            type(obj.model) == "string" and obj.model or "",
                            ops.cost_brief(ops.kinds.cost_of(e.kind, obj)) }
      else
        io.stdout:write(assert(json.encode(e.obj)), "\n")
      end
    elseif e.err ~= nil or not runctl.interrupted() then
      failed = failed + 1
      ops.say(true, "%s: %s: %s", NAME, name, tostring(e.err or "not read (interrupted)"))
      local why = ops.refusal(e.err)
      if why then ops.note("stopped: " .. why) end
    end
  end
  if as_table and #rows > 0 then
    for _, l in ipairs(ops.table(COLUMNS, rows, ops.size("stdout"))) do io.stdout:write(l, "\n") end
  end
  if runctl.interrupted() then return ops.EXIT_INTERRUPTED end
  return failed > 0 and ops.EXIT_FAILED or ops.EXIT_OK
end

ops.main(NAME, main, { ... })
