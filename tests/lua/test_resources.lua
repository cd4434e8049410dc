-- tests/lua/test_resources.lua — the bindings beyond runs (responses, batches,
-- fine_tuning.jobs, vector_stores.file_batches, uploads): where they live, the
-- exact request each sends, the fake server's lifecycles and errors, paging,
-- bad input, dry runs, and that every declared path exists in the OpenAPI spec.
local T = require "helper"

local KEY = "sk-test-1234567890"
local seed = {
  batches = {
    { id = "batch_old", status = "in_progress", created_at = -8 * 3600 },
    { id = "batch_validating", status = "validating", created_at = -7 * 3600 },
    { id = "batch_final", status = "finalizing", created_at = -6 * 3600 },
    { id = "batch_done", status = "completed", created_at = -5 * 3600 },
    { id = "batch_new", status = "in_progress", created_at = -60, metadata = { team = "a" } },
  },
  responses = {
    { id = "resp_bg", status = "in_progress", background = true },
    { id = "resp_queued", status = "queued", background = true },
    { id = "resp_fg", status = "in_progress" },
    { id = "resp_done", status = "completed", background = true },
  },
  fine_tuning_jobs = {},
  vector_stores = { { id = "vs_1", file_batches = { { id = "vsfb_1", status = "in_progress" },
                                                    { id = "vsfb_2", status = "completed" } } },
                    { id = "vs_2" } },
  uploads = { { id = "upload_1" }, { id = "upload_2", status = "completed" } },
}
local ft_status = { "running", "queued", "validating_files", "succeeded", "failed", "cancelled", "running" }
for i, st in ipairs(ft_status) do
  seed.fine_tuning_jobs[i] = { id = ("ftjob-%02d"):format(i), status = st, created_at = -1000 * i }
end
local fake = T.fake("--api-key " .. KEY .. " --cancel-delay-ms 150 --seed " .. T.seed_file(seed))
local c = fake:client()

-- GET /_fake/<path>: the fake server's own view of its objects
local function control_get(path)
  local resp = assert(http.request { url = fake.url .. "/_fake" .. path })
  return assert(json.decode(resp.body))
end

---------------------------------------------------------------- where they live

local mod = require "runctl"
for _, name in ipairs { "responses", "batches", "fine_tuning", "vector_stores", "uploads" } do
  T.ok(type(_G[name]) == "table", name .. " is a global")
  T.ok(mod[name] == _G[name], name .. " is a field of require \"runctl\" (the same table)")
  T.ok(openai[name] == _G[name], name .. " is the default client's")
  T.ok(type(c[name]) == "table" and c[name] ~= _G[name], "every client has its own " .. name)
end
-- Every built-in definition passes the check runctl.define applies (bind
-- trusts resources.lua at start and leaves that check to this test).
do
  local bind, RES = require "runctl.api.binder", require "runctl.api.resources"
  local n = 0
  for name, def in pairs(RES) do
    local ok, why = bind.check(name, def)
    T.ok(ok, "resources.lua's " .. name .. " passes bind.check", why)
    n = n + 1
  end
  T.ok(n >= 5, "resources.lua defines every built-in resource (" .. n .. ")")
  T.ok(not bind.check("x", { methods = { cancel = { "post", "/x" } } }), "and bind.check refuses a bad one")
end
local expected = {
  responses = { "cancel", "retrieve", "wait" },
  batches = { "cancel", "each", "list", "retrieve", "wait" },
  ["fine_tuning.jobs"] = { "cancel", "each", "list", "pause", "resume", "retrieve", "wait" },
  ["evals.runs"] = { "cancel", "each", "list", "retrieve", "wait" },
  ["vector_stores.file_batches"] = { "cancel", "retrieve", "wait" },
  uploads = { "cancel" },
}
for path, names in pairs(expected) do
  local t = c
  for part in path:gmatch("[^.]+") do t = t[part] end
  local got = {}
  -- (Lua 5.1 has no __pairs: there the methods are read by name only)
  if T.lua51 then for _, k in ipairs(names) do got[#got + 1] = type(t[k]) == "function" and k or nil end end
  for k, v in pairs(t) do if type(v) == "function" then got[#got + 1] = k end end
  table.sort(got)
  T.is(table.concat(got, ","), table.concat(names, ","), "c." .. path .. " has " .. table.concat(names, ", "))
end

---------------------------------------------------------------- the wire

-- Calls fn, then checks the one request it sent.
local function wire(name, fn, method, path, query, beta)
  fake:clear()
  local obj, err = fn()
  T.ok(obj ~= nil, name .. ": succeeds", tostring(err))
  local reqs = fake:requests()
  T.is(#reqs, 1, name .. ": one request")
  local r = reqs[1] or { headers = {} }
  T.is(r.method, method, name .. ": method")
  T.is(r.path, path, name .. ": raw path")
  T.is(r.query, query or "", name .. ": query")
  T.is(T.header(r, "authorization"), "Bearer " .. KEY, name .. ": bearer auth")
  T.is(T.header(r, "openai-beta"), beta, name .. ": OpenAI-Beta " .. (beta or "absent"))
  T.is(T.header(r, "accept"), "application/json", name .. ": Accept")
  T.like(T.header(r, "user-agent"), "^runctl/", name .. ": User-Agent")
  if method == "POST" then
    T.is(r.body, "", name .. ": empty body")
    T.is(T.header(r, "content-length"), "0", name .. ": Content-Length 0")
    T.is(T.header(r, "content-type"), nil, name .. ": no Content-Type")
    T.like(T.header(r, "idempotency-key"), "^runctl%-", name .. ": Idempotency-Key")
  else
    T.is(T.header(r, "idempotency-key"), nil, name .. ": no Idempotency-Key on GET")
  end
  return obj
end

local b = wire("batches.retrieve", function() return c.batches.retrieve("batch_done") end,
               "GET", "/v1/batches/batch_done")
T.is(b.object, "batch", "a batch object comes back")
wire("batches.list", function() return c.batches.list { limit = 2, after = "batch_new" } end,
     "GET", "/v1/batches", "after=batch_new&limit=2")
wire("batches.list without params", function() return c.batches.list() end, "GET", "/v1/batches")
b = wire("batches.cancel", function() return c.batches.cancel("batch_old") end,
         "POST", "/v1/batches/batch_old/cancel")
T.is(b.status, "cancelling", "a cancelled in_progress batch reads cancelling")
T.ok(math.type(b.cancelling_at) == "integer", "with cancelling_at")
local r = wire("responses.retrieve", function() return c.responses.retrieve("resp_fg") end,
               "GET", "/v1/responses/resp_fg")
T.is(r.object, "response", "a response object comes back")
r = wire("responses.cancel", function() return c.responses.cancel("resp_bg") end,
         "POST", "/v1/responses/resp_bg/cancel")
T.is(r.status, "cancelled", "a cancelled background response reads cancelled")
wire("fine_tuning.jobs.list", function() return c.fine_tuning.jobs.list { limit = 3 } end,
     "GET", "/v1/fine_tuning/jobs", "limit=3")
wire("fine_tuning.jobs.list with a metadata filter",
     function() return c.fine_tuning.jobs.list { metadata = { team = "a b" } } end,
     "GET", "/v1/fine_tuning/jobs", "metadata%5Bteam%5D=a%20b")
local j = wire("fine_tuning.jobs.retrieve", function() return c.fine_tuning.jobs.retrieve("ftjob-01") end,
               "GET", "/v1/fine_tuning/jobs/ftjob-01")
T.is(j.object, "fine_tuning.job", "a fine-tuning job object comes back")
j = wire("fine_tuning.jobs.cancel", function() return c.fine_tuning.jobs.cancel("ftjob-01") end,
         "POST", "/v1/fine_tuning/jobs/ftjob-01/cancel")
T.is(j.status, "cancelled", "a cancelled running job reads cancelled")
local fb = wire("vector_stores.file_batches.cancel",
                function() return c.vector_stores.file_batches.cancel("vs_1", "vsfb_1") end,
                "POST", "/v1/vector_stores/vs_1/file_batches/vsfb_1/cancel", nil, "assistants=v2")
T.is(fb.status, "cancelled", "a cancelled file batch reads cancelled")
T.is(fb.vector_store_id, "vs_1", "and names its vector store")
wire("vector_stores.file_batches.retrieve",
     function() return c.vector_stores.file_batches.retrieve("vs_1", "vsfb_2") end,
     "GET", "/v1/vector_stores/vs_1/file_batches/vsfb_2", nil, "assistants=v2")
local u = wire("uploads.cancel", function() return c.uploads.cancel("upload_1") end,
               "POST", "/v1/uploads/upload_1/cancel")
T.is(u.status, "cancelled", "a cancelled pending upload reads cancelled")

-- IDs are one escaped path segment everywhere
fake:clear()
local _, err = c.batches.retrieve("a/b?c#d e%")
T.is(err and err.status, 404, "an odd batch ID reaches the batch route and is not found")
T.is(fake:last().path, "/v1/batches/a%2Fb%3Fc%23d%20e%25", "its bytes are percent-encoded")
c.vector_stores.file_batches.cancel("vs/1", "../x")
T.is(fake:last().path, "/v1/vector_stores/vs%2F1/file_batches/..%2Fx/cancel",
     "both IDs of a file batch are escaped")

---------------------------------------------------------------- lifecycles and errors

local function fails(name, obj, e, status, message)
  T.ok(obj == nil and runctl.is_error(e), name .. ": returns nil, err")
  T.is(e and e.status, status, name .. ": status " .. status)
  T.is(e and e.type, "invalid_request_error", name .. ": type")
  T.is(e and e.message, message, name .. ": message")
  T.like(e and e.request_id, "^req_", name .. ": request_id")
end

b = assert(c.batches.wait("batch_old", { timeout = 10, interval = 0.05 }))
T.is(b.status, "cancelled", "batches.wait: cancelling becomes cancelled")
T.ok(math.type(b.cancelled_at) == "integer", "a cancelled batch has cancelled_at")
T.is(assert(c.batches.cancel("batch_validating")).status, "cancelling", "validating batches can be cancelled")
T.is(assert(c.batches.cancel("batch_final")).status, "cancelling", "finalizing batches can be cancelled")
local obj
obj, err = c.batches.cancel("batch_done")
fails("cancel of a completed batch", obj, err, 409, "Cannot cancel a batch with status 'completed'.")
T.is(err.outcome .. "/" .. err.object_status .. "/" .. err.attempts, "already_finished/completed/1",
     "a completed batch's 409 is final: outcome already_finished, one attempt")
obj, err = c.batches.cancel("batch_validating")
fails("second cancel of a batch", obj, err, 409, "Cannot cancel a batch with status 'cancelling'.")
T.is(err.outcome, "already_cancelling", "a second cancel: outcome already_cancelling")
obj, err = c.batches.retrieve("batch_nope")
fails("unknown batch", obj, err, 404, "No batch found with id 'batch_nope'.")

obj, err = c.responses.cancel("resp_fg")
fails("cancel of a response not created in background", obj, err, 400, "Cannot cancel a synchronous response.")
T.is(err.outcome, "not_cancellable", "a synchronous response: outcome not_cancellable")
T.is(assert(c.responses.retrieve("resp_fg")).status, "in_progress", "and it keeps running")
obj, err = c.responses.cancel("resp_done")
fails("cancel of a completed background response", obj, err, 400,
      "Cannot cancel a response with status 'completed'.")
T.is(err.outcome, "already_finished", "a completed response: outcome already_finished")
T.is(assert(c.responses.cancel("resp_queued")).status, "cancelled", "a queued background response cancels")
T.is(assert(c.responses.cancel("resp_bg")).status, "cancelled", "cancelling a response twice is idempotent")
obj, err = c.responses.retrieve("resp_nope")
fails("unknown response", obj, err, 404, "Response with id 'resp_nope' not found.")
T.is(assert(c.responses.wait("resp_queued", { timeout = 5 })).status, "cancelled",
     "responses.wait returns a finished response at once")

T.is(assert(c.fine_tuning.jobs.cancel("ftjob-02")).status, "cancelled", "queued jobs cancel")
T.is(assert(c.fine_tuning.jobs.cancel("ftjob-03")).status, "cancelled", "validating_files jobs cancel")
obj, err = c.fine_tuning.jobs.cancel("ftjob-04")
fails("cancel of a succeeded job", obj, err, 400, "Cannot cancel a fine-tuning job with status 'succeeded'.")
obj, err = c.fine_tuning.jobs.retrieve("ftjob-99")
fails("unknown job", obj, err, 404, "No fine-tuning job found with id 'ftjob-99'.")

obj, err = c.vector_stores.file_batches.cancel("vs_1", "vsfb_2")
fails("cancel of a completed file batch", obj, err, 400,
      "Cannot cancel a vector store file batch with status 'completed'.")
obj, err = c.vector_stores.file_batches.cancel("vs_nope", "vsfb_1")
fails("unknown vector store", obj, err, 404, "No vector store found with id 'vs_nope'.")
obj, err = c.vector_stores.file_batches.cancel("vs_2", "vsfb_1")
fails("a file batch of another vector store", obj, err, 404,
      "No vector store file batch found with id 'vsfb_1'.")

obj, err = c.uploads.cancel("upload_2")
fails("cancel of a completed upload", obj, err, 400, "Cannot cancel an upload with status 'completed'.")
obj, err = c.uploads.cancel("upload_nope")
fails("unknown upload", obj, err, 404, "No upload found with id 'upload_nope'.")
T.is(err.outcome, "not_found", "an unknown upload: outcome not_found")

obj, err = c.batches.list { limit = 100 }
T.ok(obj and #obj.data == 5 and obj.has_more == false, "limit 100 lists every batch", tostring(err))
obj, err = c:request { path = "/batches", query = { limit = 101 } }
fails("a limit over 100 (sent raw)", obj, err, 400, "Invalid 'limit': integer must be between 1 and 100.")
T.is(err and err.param, "limit", "the error names the limit param")

-- the fake server's own view
local stored = control_get("/batches")
T.is(#stored, 5, "/_fake/batches lists every batch")
local stats = control_get("/stats")
T.is(stats.batches, 5, "/_fake/stats counts batches")
T.is(stats.fine_tuning_jobs, 7, "/_fake/stats counts fine-tuning jobs")

-- like the real service: a key is required, and every answer has x-request-id
local noauth = assert(http.request { url = fake.base .. "/batches" })
T.is(noauth.status, 401, "no key: 401 on the batch routes too")
T.like(noauth.body, "You didn't provide an API key", "with the API's message")
T.like(noauth.request_id, "^req_", "and an x-request-id")
obj, err = fake:client { api_key = "sk-wrong" }.fine_tuning.jobs.list()
T.is(err and err.status, 401, "a wrong key: 401")
T.unlike(tostring(err), "sk%-wrong", "the key is not in the error")
obj, err = c:request { method = "DELETE", path = "/batches/batch_new" }
T.is(err and err.status, 404, "an unserved method is a 404")
T.is(err and err.message, "Invalid URL (DELETE /v1/batches/batch_new)", "with the API's Invalid URL message")

-- generated objects: --jobs N
local gen = T.fake("--generate 1x1:7 --jobs 30")
local gc = gen:client()
local page = assert(gc.batches.list())
T.ok(#page.data == 20 and page.has_more == true, "--jobs 30: the first page holds 20 of 30 batches")
local count, shaped, newest_first, last = 0, 0, true, math.huge
for batch in gc.batches.each { limit = 7 } do
  count = count + 1
  if batch.id:match("^batch_%w+$") and batch.object == "batch" then shaped = shaped + 1 end
  if batch.created_at > last then newest_first = false end
  last = batch.created_at
end
T.is(count, 30, "--jobs 30: 30 batches")
T.is(shaped, 30, "generated batches look like batches")
T.ok(newest_first, "listed newest first")
local gstats = assert(json.decode(assert(http.request { url = gen.url .. "/_fake/stats" }).body))
T.ok(gstats.responses == 30 and gstats.fine_tuning_jobs == 30 and gstats.uploads == 30
     and gstats.vector_store_file_batches == 30 and gstats.runs == 1, "--jobs N generates every kind")
gen:stop()

---------------------------------------------------------------- paging

fake:clear()
local ids = {}
for batch in c.batches.each { limit = 2 } do ids[#ids + 1] = batch.id end
T.is(table.concat(ids, ","), "batch_new,batch_done,batch_final,batch_validating,batch_old",
     "batches.each walks every page, newest first")
local queries = {}
for _, q in ipairs(fake:requests()) do queries[#queries + 1] = q.query end
T.is(table.concat(queries, " "), "limit=2 after=batch_done&limit=2 after=batch_validating&limit=2",
     "batches.each pages with after=last_id")

-- fine-tuning pages carry no last_id: each goes on from the last item's id
fake:clear()
ids = {}
for job in c.fine_tuning.jobs.each { limit = 3 } do ids[#ids + 1] = job.id end
T.is(#ids, 7, "fine_tuning.jobs.each yields every job")
T.is(ids[1] .. " " .. ids[7], "ftjob-01 ftjob-07", "newest first")
queries = {}
for _, q in ipairs(fake:requests()) do queries[#queries + 1] = q.query end
T.is(table.concat(queries, " "), "limit=3 after=ftjob-03&limit=3 after=ftjob-06&limit=3",
     "fine_tuning.jobs.each pages with after=<last item's id>")

local params = { limit = 4 }
for _ in c.batches.each(params) do end
T.is(params.after, nil, "each never writes into the caller's params")

---------------------------------------------------------------- misuse raises

T.raises(function() c.batches.cancel() end, "batches%.cancel: batch_id must be a string", "missing batch ID")
T.raises(function() c.batches.cancel("") end, "batches%.cancel: batch_id", "empty batch ID")
T.raises(function() c.responses.cancel(42) end, "responses%.cancel: response_id must be a string",
         "a number as response ID")
T.raises(function() c.fine_tuning.jobs.cancel("..") end, "fine_tuning%.jobs%.cancel: fine_tuning_job_id",
         "'..' as job ID, named with the nested resource")
T.raises(function() c.vector_stores.file_batches.cancel("vs_1") end,
         "vector_stores%.file_batches%.cancel: batch_id must be a string", "file batch cancel needs both IDs")
T.raises(function() c.uploads.cancel("a\0b") end, "uploads%.cancel: upload_id", "NUL in an upload ID")
T.raises(function() c.batches.cancel("b", {}, 3) end, "batches%.cancel: too many arguments", "extra arguments")
T.raises(function() c.batches.cancel("b", { tiemout = 1 }) end, "batches%.cancel: unknown option 'tiemout'",
         "a misspelt option")
T.raises(function() c.batches.list { limit = 0 } end, "batches%.list: limit must be an integer from 1 to 100",
         "batches limit 0")
T.raises(function() c.batches.list { limit = 101 } end, "limit must be an integer from 1 to 100", "batches limit 101")
T.raises(function() c.batches.list { order = "asc" } end, "batches%.list: unknown parameter 'order'",
         "batches take no order")
T.raises(function() c.batches.list { after = "" } end, "after must be a non%-empty ID string", "empty cursor")
T.raises(function() c.batches.list "x" end, "batches%.list: params must be a table", "params not a table")
T.raises(function() c.fine_tuning.jobs.list { limit = 1.5 } end,
         "fine_tuning%.jobs%.list: limit must be a positive integer", "fractional limit")
T.raises(function() c.fine_tuning.jobs.list { metadata = "x" } end,
         "metadata must be a table of string keys to string values", "metadata not a table")
T.raises(function() c.fine_tuning.jobs.list { metadata = { k = 1 } } end,
         "metadata must be a table of string keys to string values", "metadata values must be strings")
T.raises(function() c.batches.each { limit = -1 } end, "batches%.each: limit", "each checks params up front")
T.raises(function() c.fine_tuning.jobs.each(nil, 5) end, "fine_tuning%.jobs%.each: opts must be a table",
         "each checks opts up front")
T.raises(function() c.batches.wait("b", 5) end, "batches%.wait: options must be a table", "wait options")

---------------------------------------------------------------- dry run

local out, errout, code = T.run("--dry-run -e " .. T.quote([[
  local c = runctl.client { api_key = "sk-test-1234567890", base_url = ]] .. ("%q"):format(fake.base) .. [[ }
  local page = assert(c.batches.list { limit = 1 })
  print("listed", #page.data)
  for _, fn in ipairs { function() return c.batches.cancel("batch_new") end,
                        function() return c.responses.cancel("resp_bg") end,
                        function() return c.fine_tuning.jobs.cancel("ftjob-07") end,
                        function() return c.vector_stores.file_batches.cancel("vs_1", "vsfb_1") end,
                        function() return c.uploads.cancel("upload_1") end } do
    local obj, err = fn()
    print(obj, err.kind)
  end
]]))
T.is(code, 0, "dry run script exits 0", errout)
T.like(out, "^listed\t1\n", "dry run still lists")
local _, refused = out:gsub("nil\tdry_run", "")
T.is(refused, 5, "every cancel is refused with kind dry_run")
T.is(assert(c.batches.retrieve("batch_new")).status, "in_progress", "and nothing was cancelled")

---------------------------------------------------------------- the spec

-- Every declared method is an operation of the official spec (read at run time).
local spec = T.read_file(os.getenv("OPENAPI_SPEC") or "../shared/openapi.yaml")
if not spec then
  T.ok(true, "# SKIP no OpenAPI spec at ../shared/openapi.yaml or $OPENAPI_SPEC")
else
  local RES = require "runctl.api.resources"
  local names = {}
  for name in pairs(RES) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    for mname, def in pairs(RES[name].methods) do
      local path = def[2]
      local start = spec:find("\n  " .. path .. ":\n", 1, true)
      local block = start and spec:sub(start + 1):match("^(.-)\n  /") or ""
      -- the spec names path parameters its own way; only the shape must match
      local shape = path:gsub("{[%w_]+}", "{}")
      if not start then
        for line in spec:gmatch("\n  (/[^\n]-):\n") do
          if line:gsub("{[%w_]+}", "{}") == shape then
            start = spec:find("\n  " .. line .. ":\n", 1, true)
            block = spec:sub(start + 1):match("^(.-)\n  /") or ""
            break
          end
        end
      end
      local verb = start and block:find("\n    " .. def[1]:lower() .. ":")
      T.ok(verb ~= nil, ("spec has %s %s (%s.%s)"):format(def[1], path, name, mname))
      local rest = verb and block:sub(verb + 1) or ""
      local op = rest:match("^(.-)\n    %l+:") or rest
      for param in pairs(def.params or {}) do
        T.ok(op:find("name: " .. param .. "\n", 1, true) ~= nil,
             ("spec's %s %s takes the query parameter %s"):format(def[1], path, param))
      end
    end
  end
end

T.done()
