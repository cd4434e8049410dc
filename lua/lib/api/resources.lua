-- lua/lib/api/resources.lua — the API resources as data: for each, its beta header,
-- its methods {verb, path template, params?}, which method paginates and how to
-- wait. runctl.lua turns every entry into bound functions on every client.
--
-- Adding an endpoint is one line under methods; a new resource is one entry.
-- A dotted name ("fine_tuning.jobs") nests: it becomes c.fine_tuning.jobs, and
-- the first part is also a global and a field of require "runctl".
-- Path templates name their IDs in braces; each becomes a required string
-- argument, percent-encoded as one path segment. A method with `params` takes
-- a params table after its IDs (checked by the validators of lua/lib/api/params.lua), then opts.
-- `beta` is the OpenAI-Beta header value; leave it out where the SDKs send none.

local V = require "runctl.api.params"   -- the validators (also runctl.params, for extensions)

local LIST_PARAMS = { limit = V.limit100, order = V.order, after = V.cursor, before = V.cursor }

-- The costs and usage listings (admin key only): time range, filters sent as
-- name[]=a&name[]=b (as the SDKs send arrays), paged by `page` = the previous
-- answer's next_page.
local function spend_params(extra)
  local p = { start_time = V.unix_time, end_time = V.unix_time, page = V.cursor,
              bucket_width = V.one_of { ["1m"] = true, ["1h"] = true, ["1d"] = true },
              limit = V.range(1, 1440), project_ids = V.list("project_ids") }
  for k, v in pairs(extra) do p[k] = v end
  return p
end
local function usage_params(group_by, extra)
  local set = {}
  for _, g in ipairs(group_by) do set[g] = true end
  local p = spend_params { user_ids = V.list("user_ids"), api_key_ids = V.list("api_key_ids"),
                           models = V.list("models"), group_by = V.list("group_by", set) }
  for k, v in pairs(extra or {}) do p[k] = v end
  return { "GET", "/organization/usage/" .. group_by.path, params = p }
end
local BY_MODEL = { "project_id", "user_id", "api_key_id", "model" }
local function usage(path, extra_group, extra)
  local g = { path = path }
  for _, v in ipairs(BY_MODEL) do g[#g + 1] = v end
  for _, v in ipairs(extra_group or {}) do g[#g + 1] = v end
  return usage_params(g, extra)
end
local function usage_by_project(path)
  local m = usage_params({ path = path, "project_id" })
  m.params.user_ids, m.params.api_key_ids, m.params.models = nil, nil, nil
  return m
end

return {
  -- `admin`: sent with the admin key (OPENAI_ADMIN_KEY or the client's
  -- admin_key), never the API key. `cursor`: the param that takes the
  -- previous page's next_page; paginate then lists the methods each pages.
  organization = {
    admin = true,
    methods = {
      costs = { "GET", "/organization/costs", params = spend_params {
        bucket_width = V.one_of { ["1d"] = true }, limit = V.range(1, 180), api_key_ids = V.list("api_key_ids"),
        group_by = V.list("group_by", { project_id = true, line_item = true, api_key_id = true }) } },
    },
    paginate = { "costs" }, cursor = "page",      -- organization.each("costs", params, opts)
  },
  ["organization.usage"] = {
    admin = true,
    methods = {
      completions = usage("completions", { "batch", "service_tier" }, { batch = V.boolean }),
      embeddings = usage("embeddings"),
      moderations = usage("moderations"),
      images = usage("images", { "size", "source" }, { sources = V.list("sources"), sizes = V.list("sizes") }),
      audio_speeches = usage("audio_speeches"),
      audio_transcriptions = usage("audio_transcriptions"),
      vector_stores = usage_by_project("vector_stores"),
      code_interpreter_sessions = usage_by_project("code_interpreter_sessions"),
    },
    paginate = { "completions", "embeddings", "moderations", "images", "audio_speeches",
                 "audio_transcriptions", "vector_stores", "code_interpreter_sessions" },
    cursor = "page",                              -- organization.usage.each("completions", params, opts)
  },

  runs = {
    beta = "assistants=v2",
    methods = {
      cancel = { "POST", "/threads/{thread_id}/runs/{run_id}/cancel" },
      retrieve = { "GET", "/threads/{thread_id}/runs/{run_id}" },
      list = { "GET", "/threads/{thread_id}/runs", params = LIST_PARAMS },
    },
    paginate = "list",          -- adds each(ids..., params, opts)
    wait = { using = "retrieve", while_status = { queued = true, in_progress = true, cancelling = true } },
  },

  -- Background responses (background = true at creation) are the only ones
  -- that can be cancelled.
  responses = {
    methods = {
      cancel = { "POST", "/responses/{response_id}/cancel" },
      retrieve = { "GET", "/responses/{response_id}" },
    },
    wait = { using = "retrieve", while_status = { queued = true, in_progress = true } },
  },

  batches = {
    methods = {
      cancel = { "POST", "/batches/{batch_id}/cancel" },
      retrieve = { "GET", "/batches/{batch_id}" },
      list = { "GET", "/batches", params = { limit = V.limit100, after = V.cursor } },
    },
    paginate = "list",
    wait = { using = "retrieve",
             while_status = { validating = true, in_progress = true, finalizing = true, cancelling = true } },
  },

  ["fine_tuning.jobs"] = {
    methods = {
      cancel = { "POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel" },
      retrieve = { "GET", "/fine_tuning/jobs/{fine_tuning_job_id}" },
      list = { "GET", "/fine_tuning/jobs", params = { limit = V.limit, after = V.cursor, metadata = V.metadata } },
      pause = { "POST", "/fine_tuning/jobs/{fine_tuning_job_id}/pause" },    -- reads "paused"
      resume = { "POST", "/fine_tuning/jobs/{fine_tuning_job_id}/resume" },
    },
    paginate = "list",          -- pages carry no last_id: the cursor is the last item's id
    wait = { using = "retrieve", while_status = { validating_files = true, queued = true, running = true } },
  },

  -- The SDKs still send the Assistants beta header for vector stores.
  ["vector_stores.file_batches"] = {
    beta = "assistants=v2",
    methods = {
      cancel = { "POST", "/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel" },
      retrieve = { "GET", "/vector_stores/{vector_store_id}/file_batches/{batch_id}" },
    },
    wait = { using = "retrieve", while_status = { in_progress = true } },
  },

  -- Eval runs (operationId cancelEvalRun): the cancel is a POST to the run
  -- itself, no /cancel (the spec's curl example wrongly adds one); status
  -- words are the American "canceled"; list order defaults to asc.
  ["evals.runs"] = {
    methods = {
      cancel = { "POST", "/evals/{eval_id}/runs/{run_id}" },
      retrieve = { "GET", "/evals/{eval_id}/runs/{run_id}" },
      list = { "GET", "/evals/{eval_id}/runs", params = { limit = V.limit100, order = V.order, after = V.cursor,
                                                          status = V.eval_run_status } },
    },
    paginate = "list",
    wait = { using = "retrieve", while_status = { queued = true, in_progress = true } },
  },

  uploads = {
    methods = {
      cancel = { "POST", "/uploads/{upload_id}/cancel" },
    },
  },
}
