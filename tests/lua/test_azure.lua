-- tests/lua/test_azure.lua — other servers: Azure OpenAI (runctl.client{azure =
-- true} and --azure with AZURE_OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT and
-- OPENAI_API_VERSION: api-key header, ?api-version= on every request, paths
-- under ENDPOINT/openai/) and an OpenAI-compatible base URL with a path prefix.
-- Each shows the exact request (method, raw path, query, headers).
local T = require "helper"

local AZKEY = "az-key-0123456789abcdef"
local OAKEY = "sk-openai-must-not-leak-0000"
local VERSION = "2024-10-21"
local seed = {
  threads = { { id = "thread_1", runs = { { id = "run_1", status = "in_progress" },
                                          { id = "run_2", status = "queued" } } } },
  batches = { { id = "batch_1", status = "in_progress" }, { id = "batch_2", status = "in_progress" },
              { id = "batch_3", status = "completed", created_at = -10 } },
  responses = { { id = "resp_1", status = "queued", background = true } },
  fine_tuning_jobs = { { id = "ftjob-1", status = "running" } },
  vector_stores = { { id = "vs_1", file_batches = { { id = "vsfb_1", status = "in_progress" } } } },
  uploads = { { id = "upload_1" } },
}
local seedfile = T.seed_file(seed)
local fake = T.fake("--api-key " .. AZKEY .. " --seed " .. seedfile)

-- Checks the last recorded request.
local function sent(name, method, path, query, beta)
  local r = fake:last()
  T.is(r.method, method, name .. ": method")
  T.is(r.path, path, name .. ": raw path under /openai/")
  T.is(r.query, query, name .. ": query")
  T.is(T.header(r, "api-key"), AZKEY, name .. ": api-key header")
  T.is(T.header(r, "authorization"), nil, name .. ": no Authorization header")
  T.is(T.header(r, "openai-beta"), beta, name .. ": OpenAI-Beta " .. (beta or "absent"))
  return r
end

---------------------------------------------------------------- runctl.client{ azure = true }

local az = runctl.client { azure = true, api_key = AZKEY, endpoint = fake.url .. "/",
                           api_version = VERSION, max_retries = 0 }
T.is(az.base_url, fake.url .. "/openai", "the base URL is ENDPOINT/openai (trailing slash dropped)")
T.is(az.azure, true, "c.azure")
T.is(az.api_version, VERSION, "c.api_version")
T.unlike(tostring(az), AZKEY, "tostring(client) never shows the key")

local q = "api-version=" .. VERSION
T.is(assert(az.batches.cancel("batch_1")).status, "cancelling", "Azure: batches.cancel works end to end")
sent("batches.cancel", "POST", "/openai/batches/batch_1/cancel", q)
assert(az.batches.list { limit = 2 })
sent("batches.list", "GET", "/openai/batches", "api-version=" .. VERSION .. "&limit=2")
assert(az.batches.retrieve("batch_3"))
sent("batches.retrieve", "GET", "/openai/batches/batch_3", q)
T.is(assert(az.responses.cancel("resp_1")).status, "cancelled", "Azure: responses.cancel")
sent("responses.cancel", "POST", "/openai/responses/resp_1/cancel", q)
assert(az.responses.retrieve("resp_1"))
sent("responses.retrieve", "GET", "/openai/responses/resp_1", q)
T.is(assert(az.fine_tuning.jobs.cancel("ftjob-1")).status, "cancelled", "Azure: fine_tuning.jobs.cancel")
sent("fine_tuning.jobs.cancel", "POST", "/openai/fine_tuning/jobs/ftjob-1/cancel", q)
assert(az.fine_tuning.jobs.list { after = "ftjob-0" })
sent("fine_tuning.jobs.list", "GET", "/openai/fine_tuning/jobs", "after=ftjob-0&api-version=" .. VERSION)
T.is(assert(az.vector_stores.file_batches.cancel("vs_1", "vsfb_1")).status, "cancelled",
     "Azure: vector_stores.file_batches.cancel")
sent("vector_stores.file_batches.cancel", "POST", "/openai/vector_stores/vs_1/file_batches/vsfb_1/cancel", q,
     "assistants=v2")
T.is(assert(az.uploads.cancel("upload_1")).status, "cancelled", "Azure: uploads.cancel")
sent("uploads.cancel", "POST", "/openai/uploads/upload_1/cancel", q)
T.is(assert(az.runs.cancel("thread_1", "run_1")).status, "cancelling", "Azure: runs.cancel")
sent("runs.cancel", "POST", "/openai/threads/thread_1/runs/run_1/cancel", q, "assistants=v2")
assert(az.runs.list("thread_1", { order = "asc" }))
sent("runs.list", "GET", "/openai/threads/thread_1/runs", "api-version=" .. VERSION .. "&order=asc", "assistants=v2")
assert(az:request { path = "/batches/batch_2" })
sent("client:request", "GET", "/openai/batches/batch_2", q)

-- each pages keep the api-version
fake:clear()
local n = 0
for _ in az.batches.each { limit = 1 } do n = n + 1 end
T.is(n, 3, "Azure: batches.each walks every page")
local queries = {}
for _, r in ipairs(fake:requests()) do queries[#queries + 1] = r.query end
T.is(table.concat(queries, " "), "api-version=2024-10-21&limit=1 after=batch_1&api-version=2024-10-21&limit=1 "
     .. "after=batch_2&api-version=2024-10-21&limit=1", "every page sends api-version")

-- a per-call query and a client query merge with api-version; the caller's wins
local az2 = runctl.client { azure = true, api_key = AZKEY, endpoint = fake.url, api_version = VERSION,
                            query = { trace = "1" } }
assert(az2.batches.retrieve("batch_3", { query = { x = "y" } }))
sent("merged query", "GET", "/openai/batches/batch_3", "api-version=" .. VERSION .. "&trace=1&x=y")
local az3 = runctl.client { azure = true, api_key = AZKEY, endpoint = fake.url, api_version = VERSION,
                            query = { ["api-version"] = "preview" } }
assert(az3.batches.retrieve("batch_3"))
sent("client query overrides api_version", "GET", "/openai/batches/batch_3", "api-version=preview")

-- base_url instead of endpoint: taken as is (Azure's /openai/v1 API)
local v1 = runctl.client { azure = true, api_key = AZKEY, base_url = fake.url .. "/openai/v1",
                           api_version = "preview" }
assert(v1.batches.retrieve("batch_3"))
sent("azure base_url", "GET", "/openai/v1/batches/batch_3", "api-version=preview")

-- auth can still be switched (an Entra ID token as bearer)
local bearer = runctl.client { azure = true, api_key = AZKEY, endpoint = fake.url, api_version = VERSION,
                               auth = "bearer" }
assert(bearer.batches.retrieve("batch_3"))
T.is(T.header(fake:last(), "authorization"), "Bearer " .. AZKEY, "auth = \"bearer\" sends Authorization")
T.is(T.header(fake:last(), "api-key"), nil, "and no api-key")

-- errors from Azure are the same err objects
local obj, err = az.batches.retrieve("batch_nope")
T.ok(obj == nil and err and err.status == 404 and err.message == "No batch found with id 'batch_nope'.",
     "Azure 404 is an api err with the server's message", tostring(err))

---------------------------------------------------------------- misuse

T.raises(function() runctl.client { azure = true, api_key = AZKEY, api_version = VERSION } end,
         "runctl%.client: Azure OpenAI needs AZURE_OPENAI_ENDPOINT", "a missing endpoint raises, naming the variable")
T.raises(function() runctl.client { azure = true, api_key = AZKEY, endpoint = fake.url } end,
         "needs OPENAI_API_VERSION.*pass api_version", "a missing version raises, naming the variable and field")
T.raises(function() runctl.client { azure = true, endpoint = fake.url, api_version = VERSION } end,
         "needs AZURE_OPENAI_API_KEY", "a missing key raises, naming the variable")
T.raises(function() runctl.client { azure = "yes" } end, "runctl%.client: azure must be a boolean", "azure = \"yes\"")
T.raises(function() runctl.client { endpoint = fake.url } end,
         "runctl%.client: endpoint is an Azure setting: pass azure = true", "endpoint without azure")
T.raises(function() runctl.client { api_version = VERSION, azure = false } end,
         "api_version is an Azure setting", "api_version with azure = false")
T.raises(function() runctl.client { azure = true, api_key = AZKEY, endpoint = 5, api_version = VERSION } end,
         "runctl%.client: endpoint must be a non%-empty string", "endpoint not a string")
T.raises(function() runctl.client { azure = true, api_key = AZKEY, endpoint = fake.url, api_version = VERSION,
                                    timeout = -1 } end,
         "^[^:]*test_azure%.lua:%d+: runctl%.client: timeout must be a positive number",
         "other bad fields raise at the caller's line")
local plain = runctl.client { azure = false, api_key = OAKEY, base_url = fake.url .. "/v1" }
T.is(plain.azure, nil, "azure = false is a plain client")

---------------------------------------------------------------- --azure and the environment

local env = { AZURE_OPENAI_API_KEY = AZKEY, AZURE_OPENAI_ENDPOINT = fake.url, OPENAI_API_VERSION = VERSION,
              OPENAI_API_KEY = OAKEY }
local out, errout, code = T.run("--azure -e " .. T.quote([[
  print(assert(batches.cancel("batch_2")).status)
  print(openai.azure, openai.base_url)
  local c = runctl.client { api_version = "2025-01-01" }   -- flags apply to every client
  print(c.azure, c.api_version)
  assert(c.batches.retrieve("batch_3"))
]]), env)
T.is(code, 0, "--azure: the script succeeds", errout)
T.is(out, "cancelling\ntrue\t" .. fake.url .. "/openai\ntrue\t2025-01-01\n", "--azure: the default client is Azure")
local reqs = fake:requests()
local r1, r2 = reqs[#reqs - 1], reqs[#reqs]
T.is(r1.path, "/openai/batches/batch_2/cancel", "--azure: path from AZURE_OPENAI_ENDPOINT")
T.is(r1.query, "api-version=" .. VERSION, "--azure: api-version from OPENAI_API_VERSION")
T.is(T.header(r1, "api-key"), AZKEY, "--azure: api-key from AZURE_OPENAI_API_KEY")
T.is(T.header(r1, "authorization"), nil, "--azure: the OpenAI key is not sent")
T.is(r2.query, "api-version=2025-01-01", "a client's api_version beats OPENAI_API_VERSION")

-- --base-url (a flag) beats AZURE_OPENAI_ENDPOINT (the environment)
out, errout, code = T.run("--azure --base-url " .. T.quote(fake.url .. "/openai/v1") .. " -e " ..
                          T.quote([[assert(batches.retrieve("batch_3"))]]), env)
T.is(code, 0, "--azure --base-url succeeds", errout)
T.is(fake:last().path, "/openai/v1/batches/batch_3", "--base-url is taken as is")

-- values are trimmed; an empty one is unset
out, errout, code = T.run("--azure -e " .. T.quote([[print(openai.base_url)]]),
                          { AZURE_OPENAI_API_KEY = AZKEY, AZURE_OPENAI_ENDPOINT = "  " .. fake.url .. "/  ",
                            OPENAI_API_VERSION = VERSION })
T.is(out, fake.url .. "/openai\n", "AZURE_OPENAI_ENDPOINT is trimmed")

-- a missing setting: a clear error naming the variable, nothing sent, no key shown
for _, case in ipairs {
  { var = "AZURE_OPENAI_API_KEY", env = { AZURE_OPENAI_ENDPOINT = fake.url, OPENAI_API_VERSION = VERSION } },
  { var = "AZURE_OPENAI_ENDPOINT", env = { AZURE_OPENAI_API_KEY = AZKEY, OPENAI_API_VERSION = VERSION } },
  { var = "OPENAI_API_VERSION", env = { AZURE_OPENAI_API_KEY = AZKEY, AZURE_OPENAI_ENDPOINT = fake.url,
                                        OPENAI_API_VERSION = "" } },
} do
  case.env.OPENAI_API_KEY = OAKEY
  if not case.env.AZURE_OPENAI_API_KEY then case.env.AZURE_OPENAI_API_KEY = "" end
  if not case.env.AZURE_OPENAI_ENDPOINT then case.env.AZURE_OPENAI_ENDPOINT = "" end
  fake:clear()
  out, errout, code = T.run("--azure -e " .. T.quote([[batches.cancel("batch_1")]]), case.env)
  T.is(code, 1, "without " .. case.var .. ": exit 1")
  T.like(errout, "batches%.cancel: Azure OpenAI needs " .. case.var, "without " .. case.var .. ": names it")
  T.unlike(errout, AZKEY, "without " .. case.var .. ": no Azure key in the error")
  T.unlike(errout, OAKEY, "without " .. case.var .. ": no OpenAI key in the error")
  T.is(#fake:requests(), 0, "without " .. case.var .. ": nothing was sent")
end
out, errout, code = T.run("--azure -e " .. T.quote([[print("no request, no error")]]), {})
T.is(code, 0, "--azure without settings still runs scripts that send nothing", errout)
out, errout, code = T.run("--azure -e " .. T.quote([[openai:request { path = "/batches" }]]),
                          { AZURE_OPENAI_API_KEY = AZKEY })
T.like(errout, "client:request: Azure OpenAI needs AZURE_OPENAI_ENDPOINT", "c:request raises the same error")
T.like(select(1, T.run("--help")), "%-%-azure", "--help lists --azure")

---------------------------------------------------------------- an OpenAI-compatible server under a path prefix

local prefixed = T.fake("--api-key " .. OAKEY .. " --path-prefix /some/prefix/v1 --seed " .. seedfile)
local pc = runctl.client { api_key = OAKEY, base_url = prefixed.url .. "/some/prefix/v1/", max_retries = 0 }
T.is(assert(pc.batches.cancel("batch_1")).status, "cancelling", "prefix: batches.cancel works end to end")
local r = prefixed:last()
T.is(r.method .. " " .. r.path .. "?" .. r.query, "POST /some/prefix/v1/batches/batch_1/cancel?",
     "prefix: the path keeps the prefix, no query added")
T.is(T.header(r, "authorization"), "Bearer " .. OAKEY, "prefix: bearer auth")
T.is(T.header(r, "api-key"), nil, "prefix: no api-key header")
assert(pc.runs.cancel("thread_1", "run_2"))
T.is(prefixed:last().path, "/some/prefix/v1/threads/thread_1/runs/run_2/cancel", "prefix: runs too")
T.is(T.header(prefixed:last(), "openai-beta"), "assistants=v2", "prefix: runs keep the beta header")
assert(pc.fine_tuning.jobs.list { limit = 5 })
T.is(prefixed:last().path .. "?" .. prefixed:last().query, "/some/prefix/v1/fine_tuning/jobs?limit=5",
     "prefix: lists with their query")
out, errout, code = T.run("-e " .. T.quote([[print(assert(uploads.cancel("upload_1")).status)]]),
                          { OPENAI_API_KEY = OAKEY, OPENAI_BASE_URL = prefixed.url .. "/some/prefix/v1" })
T.is(out, "cancelled\n", "prefix: OPENAI_BASE_URL with a prefix works for the default client", errout)
T.is(prefixed:last().path, "/some/prefix/v1/uploads/upload_1/cancel", "prefix: from OPENAI_BASE_URL")

T.done()
