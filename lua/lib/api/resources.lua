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

return {
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
