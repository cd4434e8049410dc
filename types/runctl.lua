---@meta runctl
-- types/runctl.lua — LuaLS (lua-language-server) definitions of runctl's Lua
-- API, for editors: the globals the runctl host sets (runctl, openai, runs and
-- the other resources, http, json, task, log), require "runctl", clients and
-- every binding on them, and what they return. Definitions only: nothing here
-- runs. Installed as PREFIX/share/runctl/types/runctl.lua (make install, the
-- .deb) and in the rock's folder (types/); docs/scripting.md says how to point
-- Neovim and VS Code at it. The bindings part is generated (make types, from
-- lua/lib/api/resources.lua and the job kinds); tests/lua/test_types.lua checks
-- that the file declares what the runtime exposes, and nothing more.

---------------------------------------------------------------------- what calls return

---The third result of a binding on success (obj, nil, resp).
---@class runctl.Resp
---@field status integer                 HTTP status
---@field headers table<string, string>  response headers, names in lower case
---@field request_id? string             x-request-id
---@field attempts integer               attempts made (1 + retries)
---@field elapsed number                 seconds, all attempts included
---@field rate_limited? integer          of the attempts, 429s waited out behind the account's pace
---@field outcome? runctl.Outcome        on a cancel: what the answer meant

---What http.request returns: a resp with the body.
---@class runctl.HttpResp : runctl.Resp
---@field body string
---@field retryable? boolean             whether the status is one a retry could help with

---What a cancel's answer means (resp.outcome, err.outcome).
---@alias runctl.Outcome "cancel_requested"|"already_cancelling"|"already_finished"|"not_cancellable"|"not_found"|"failed"|"not_sent"

---The second result of a call that failed (nil, err); tostring(err) is one line.
---@class runctl.Error
---@field kind "api"|"connection"|"timeout"|"invalid_response"|"dry_run"|"aborted"|"rate_limited"|"not_sent"
---@field message string
---@field status? integer                the HTTP status (kind "api", "invalid_response")
---@field type? string                   the API's error type (kind "api")
---@field code? string|integer           the API's error code (kind "api")
---@field param? string                  the API's error param (kind "api")
---@field request_id? string
---@field attempts? integer
---@field rate_limited? integer          of the attempts, 429s waited out behind the account's pace
---@field elapsed? number
---@field retryable? boolean             whether another attempt could have helped
---@field reason? "cancelled"|"deadline" why a task was aborted (kind "aborted")
---@field outcome? runctl.Outcome        on a cancel
---@field object_status? string          on a cancel: the status the answer named or one GET read back
---@field object? runctl.Object          on a cancel: the object, when it was read back

---An object as the API returns it (its other fields are there too).
---@class runctl.Object
---@field id string
---@field object string
---@field status? string
---@field created_at? integer            wall time: seconds since the epoch

---A page of a list method.
---@class runctl.Page
---@field object "list"
---@field data table[]
---@field has_more boolean
---@field first_id? string
---@field last_id? string

---The per-call options every binding and client:request take (opts).
---@class runctl.RequestOptions
---@field timeout? number                seconds per attempt
---@field connect_timeout? number
---@field max_retries? integer
---@field max_retry_delay? number
---@field max_bytes? integer
---@field headers? table<string, string|false>  false sends no such header
---@field query? table<string, string|number|boolean|string[]>  a list repeats its key
---@field idempotency_key? string

---------------------------------------------------------------------- clients

---runctl.client's settings (each defaults to the flags, then the environment).
---@class runctl.ClientSettings
---@field api_key? string                default OPENAI_API_KEY
---@field admin_key? string              default OPENAI_ADMIN_KEY (costs and usage only)
---@field base_url? string               default OPENAI_BASE_URL, else https://api.openai.com/v1
---@field organization? string
---@field project? string
---@field max_retries? integer           2
---@field timeout? number                600 s per attempt
---@field connect_timeout? number        10 s
---@field max_retry_delay? number        60 s
---@field max_concurrency? integer       64 requests in flight
---@field rate? number                   requests per second
---@field max_bytes? integer             64 MiB
---@field headers? table<string, string|false>
---@field query? table<string, string|number|boolean>
---@field auth? "bearer"|"api-key"
---@field ca_file? string
---@field max_rate_limit_wait? number    the client's timeout: longest a request waits out the rate limit
---@field azure? boolean                 Azure OpenAI settings (AZURE_OPENAI_API_KEY, ...)
---@field endpoint? string               Azure: https://RESOURCE.openai.azure.com
---@field api_version? string            Azure: the api-version query

---c:request's table: any endpoint, with the per-call options too.
---@class runctl.RequestSpec : runctl.RequestOptions
---@field method? string                 "GET" by default
---@field path string                    "/threads/..." (escape IDs with runctl.escape_id)
---@field query? table<string, string|number|boolean>
---@field body? string|table             a table is sent as JSON
---@field beta? string                   the OpenAI-Beta header ("" for none)

---A client (read-only: make another with runctl.client{...}). Its resources
---(c.runs, c.batches, ...) are in the generated part below.
---@class runctl.Client
---@field base_url string
---@field organization_id? string        the organization setting (c.organization: the costs and usage)
---@field project? string
---@field max_retries integer
---@field timeout number
---@field connect_timeout number
---@field max_retry_delay number
---@field max_concurrency integer
---@field rate? number
---@field max_bytes integer
---@field auth "bearer"|"api-key"
---@field ca_file? string
---@field max_rate_limit_wait number
---@field query table<string, string>
---@field azure? boolean
---@field api_version? string
local Client = {}

---Any endpoint through this client: obj, nil, resp | nil, err.
---@param spec runctl.RequestSpec
---@return table? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function Client:request(spec) end

---The account's rate limit as this client knows it (shared by every client of the key and base URL).
---@class runctl.RateLimit
---@field pace number                    requests/s the pace allows; 0: not paced
---@field source "headers"|"adaptive"|"none"
---@field limit? number                  x-ratelimit-limit-requests (absent until valid ones came)
---@field remaining? number              x-ratelimit-remaining-requests
---@field reset? number                  x-ratelimit-reset-requests, seconds
---@field tokens? {limit: number, remaining: number, reset: number}  the -tokens headers
---@field paused_until number            runctl.now() clock; in the past: no pause
---@field rate_limited integer           429 answers so far
---@field no_quota boolean               an insufficient_quota answer came
---@field pacing boolean                 the pace held a request back in the last second

---The account's rate limit state; nil for a client without a key.
---@return runctl.RateLimit?
function Client:rate_limit() end

---------------------------------------------------------------------- require "runctl"

---The runctl module (require "runctl"; the global runctl in the runctl host).
---@class runctl
---@field VERSION string
---@field openai runctl.Client           the default client
---@field json runctl.json
---@field task runctl.task
---@field log runctl.log
---@field http runctl.http
---@field params runctl.params
---@field kinds runctl.kinds             not in a sandbox (runctl.HOST_ONLY)
---@field dry_run boolean                true under --dry-run; may be switched on, never off
---@field GLOBALS string[]               the names the host sets as globals
---@field HOST_ONLY table<string, boolean>  what a sandbox's copy of the module leaves out
---@field Error table                    the (locked) metatable of error objects
runctl = {}

---A new client; fields not given come from the flags and the environment.
---@param settings? runctl.ClientSettings
---@return runctl.Client
function runctl.client(settings) end

---A resource at run time, with the schema of a lua/lib/api/resources.lua entry;
---every client gets it. Raises naming the field at fault.
---@param name string                    "acme.jobs"
---@param def table                      { beta?, methods = { verb = { "POST", "/path/{id}" [, params =] } }, paginate?, wait? }
function runctl.define(name, def) end

---id percent-encoded as one path segment (raises on an empty ID, NUL, "." or "..").
---@param id string
---@return string
function runctl.escape_id(id) end

---The budget of each runctl_poll(L, 0) (or runctl.poll) call in milliseconds, 0 for none; ms sets it.
---@param ms? number|false
---@return number
function runctl.frame_budget(ms) end

---true once Ctrl-C was pressed; asking opts in to a graceful first Ctrl-C
---("quiet": without the note on stderr).
---@param mode? "quiet"
---@return boolean
function runctl.interrupted(mode) end

---Whether v is an error object (what nil, err returns).
---@param v any
---@return boolean
function runctl.is_error(v) end

---Whether stdin, stdout, stderr (or a file descriptor) is a terminal.
---@param which "stdin"|"stdout"|"stderr"|integer
---@return boolean
function runctl.isatty(which) end

---Monotonic seconds, for deadlines and elapsed times: not wall time (os.time).
---@return number
function runctl.now() end

---text (any value, as tostring) with every control character and each byte of invalid
---UTF-8 shown escaped (\x1b, \r, \n, \t, \u009b, \xff): outside text on its way to a
---terminal or a log line. multiline keeps newline and tab.
---@param text any
---@param multiline? boolean
---@return string
function runctl.printable(text, multiline) end

---Only in the runctl.so module (stock Lua): runs ready tasks and finished
---transfers, waiting at most seconds (default 0: not at all; negative: until something
---happens); returns how many tasks are pending.
---@param seconds? number
---@return integer pending
function runctl.poll(seconds) end

---The scheduler's bookkeeping.
---@return { polls: integer, resumed: integer, budget_stops: integer, max_resumed: integer, ready: integer, tasks: integer, in_engine: integer, io_stops: integer }
function runctl.stats() end

---------------------------------------------------------------------- json, task, log, http

---@class runctl.json
---@field null lightuserdata             JSON null (decode gives it for null)
json = {}

---v as JSON text (sorted keys): s | nil, err.
---@param v any
---@return string? s
---@return string? err
function json.encode(v) end

---JSON text as a Lua value (json.null for null; whole numbers become integers): v | nil, err.
---@param s string
---@return any v
---@return string? err
function json.decode(s) end

---t, marked to encode as an array ([] even when empty).
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

---A task (task.spawn): a coroutine the host runs.
---@class runctl.Task
local Task = {}

---Whether the task has ended.
---@return boolean
function Task:done() end

---What the task's function returned, or nil, err; raises before it ended.
---@return any ...
function Task:result() end

---task.cancel(t).
---@return boolean
function Task:cancel() end

---@class runctl.task
task = {}

---Runs fn(...) as a new task; it starts at the next wait of the caller.
---@param fn function
---@param ... any
---@return runctl.Task
function task.spawn(fn, ...) end

---Sleeps s seconds (other tasks run meanwhile).
---@param s number
function task.sleep(s) end

---The running task (nil outside a task).
---@return runctl.Task?
function task.running() end

---Waits for t: true, results... | false, err (fn raised) | nil, err (t was cancelled).
---@param t runctl.Task
---@return boolean? ok
---@return any ...
function task.join(t) end

---Cancels t: true, or false when it had already ended.
---@param t runctl.Task
---@return boolean
function task.cancel(t) end

---Cancels t if it has not ended s seconds from now (nil removes the deadline).
---@param t runctl.Task
---@param s? number
---@return runctl.Task
function task.deadline(t, s) end

---fn(item, i) over items, at most opts.concurrency (16) at once, order kept:
---results, errs (indexed like items).
---@param items table
---@param fn fun(item: any, i: integer): any, any
---@param opts? { concurrency?: integer, deadline?: number }
---@return table results
---@return table errs
function task.map(items, fn, opts) end

---Like task.map but keeps no result: done, failed, first_err. items may be an
---iterator function such as io.lines(path).
---@param items table|fun(): any
---@param fn fun(item: any, i: integer): any, any
---@param opts? { concurrency?: integer }
---@return integer done
---@return integer failed
---@return any first_err
function task.each(items, fn, opts) end

---One line on stderr each, filtered by -q, -v and OPENAI_LOG.
---@class runctl.log
log = {}
---@param fmt string
---@param ... any
function log.error(fmt, ...) end
---@param fmt string
---@param ... any
function log.warn(fmt, ...) end
---@param fmt string
---@param ... any
function log.info(fmt, ...) end
---@param fmt string
---@param ... any
function log.debug(fmt, ...) end

---@class runctl.HttpRequest
---@field method? string
---@field url string
---@field headers? table<string, string|false>
---@field body? string
---@field query? table<string, string|number|boolean>
---@field timeout? number                60 s per attempt
---@field connect_timeout? number        10 s
---@field max_bytes? integer
---@field max_retries? integer           0
---@field max_retry_delay? number
---@field ca_file? string

---@class runctl.http
http = {}

---Any URL through the same engine, with no credentials added: resp | nil, err.
---@param req runctl.HttpRequest
---@return runctl.HttpResp? resp
---@return runctl.Error? err
function http.request(req) end

---------------------------------------------------------------------- extending

---Validators for a resource method's params (ok, "what was wanted" [, expanded query]).
---@class runctl.params
local params = {}
---@return boolean ok
---@return string wanted
function params.limit100(v) end
---@return boolean ok
---@return string wanted
function params.limit(v) end
---@return boolean ok
---@return string wanted
function params.order(v) end
---@return boolean ok
---@return string wanted
function params.cursor(v) end
---@return boolean ok
---@return string wanted
---@return table<string, string>? expanded
function params.metadata(v) end
---@return boolean ok
---@return string wanted
function params.eval_run_status(v) end
---@return boolean ok
---@return string wanted
function params.unix_time(v) end
---@return boolean ok
---@return string wanted
function params.boolean(v) end
---A validator of a list of strings, sent as name[]=a&name[]=b (words: the allowed ones).
---@param name string
---@param words? table<string, true>
---@return fun(v: any): boolean, string, table?
function params.list(name, words) end
---A validator of one of the words of a set.
---@param set table<string, true>
---@return fun(v: any): boolean, string
function params.one_of(set) end
---A validator of an integer from lo to hi.
---@param lo integer
---@param hi integer
---@return fun(v: any): boolean, string
function params.range(lo, hi) end

---A job kind (see lua/lib/jobs/kinds.lua for every field).
---@class runctl.Kind
---@field name string
---@field object string
---@field one string
---@field many string
---@field resource fun(client: runctl.Client): table?

---Job kinds as data: what the bundled tools cancel.
---@class runctl.kinds
---@field all table<string, runctl.Kind> name -> kind
---@field ACTIVE table<string, true>
---@field PENDING table<string, true>
local kinds = {}
---Declares a kind (lua/lib/jobs/kinds.lua lists def's fields); raises naming the field at fault.
---@param name string
---@param def table
function kinds.define(name, def) end
---@param name string
---@return runctl.Kind?
function kinds.get(name) end
---@return string[]
function kinds.names() end
---@param only? string
---@return runctl.Kind[]
function kinds.listable(only) end
---@param only? string
---@return string[]
function kinds.listable_names(only) end
---@param object string
---@return runctl.Kind?
function kinds.by_object(object) end
---@param rname string a dotted resource name ("evals.runs")
---@return runctl.Kind?
function kinds.by_resource(rname) end
---@param id string
---@return runctl.Kind?
function kinds.by_prefix(id) end
---@param id string
---@return runctl.Kind?
function kinds.by_parent_prefix(id) end
---@param kind runctl.Kind
---@param obj table
---@return table?
function kinds.cost_of(kind, obj) end
---@param s string
---@param forced? runctl.Kind
---@return table? ref
---@return string? why
function kinds.parse_ref(s, forced) end

---------------------------------------------------------------------- the globals

---The default client.
---@type runctl.Client
openai = nil

---------------------------------------------------------------------- bindings
---- BEGIN GENERATED by tools/types.lua (make types): do not edit by hand ----
-- From lua/lib/api/resources.lua and the job kinds (runctl.kinds.all).

---@alias runctl.BatchStatus "cancelled"|"cancelling"|"completed"|"expired"|"failed"|"finalizing"|"in_progress"|"validating"

---A batch (`object` "batch") as batches returns it: its key fields (the API's others are there too).
---@class runctl.Batch : runctl.Object
---@field object "batch"
---@field status runctl.BatchStatus
---@field expires_at integer?
---@field in_progress_at integer?
---@field model string?
---@field output_file_id any
---@field request_counts any

---A page of batches.
---@class runctl.BatchPage : runctl.Page
---@field data runctl.Batch[]

---@alias runctl.EvalRunStatus "canceled"|"completed"|"failed"|"in_progress"|"queued"

---An eval run (`object` "eval.run") as evals.runs returns it: its key fields (the API's others are there too).
---@class runctl.EvalRun : runctl.Object
---@field object "eval.run"
---@field status runctl.EvalRunStatus
---@field eval_id string
---@field model string?
---@field per_model_usage any
---@field result_counts any

---A page of eval runs.
---@class runctl.EvalRunPage : runctl.Page
---@field data runctl.EvalRun[]

---@alias runctl.FineTuningJobStatus "cancelled"|"completed"|"failed"|"incomplete"|"paused"|"queued"|"running"|"succeeded"|"validating_files"

---A fine-tuning job (`object` "fine_tuning.job") as fine_tuning.jobs returns it: its key fields (the API's others are there too).
---@class runctl.FineTuningJob : runctl.Object
---@field object "fine_tuning.job"
---@field status runctl.FineTuningJobStatus
---@field estimated_finish any
---@field model string?
---@field trained_tokens any

---A page of fine-tuning jobs.
---@class runctl.FineTuningJobPage : runctl.Page
---@field data runctl.FineTuningJob[]

---@alias runctl.ResponseStatus "cancelled"|"completed"|"failed"|"in_progress"|"incomplete"|"queued"

---A response (`object` "response") as responses returns it: its key fields (the API's others are there too).
---@class runctl.Response : runctl.Object
---@field object "response"
---@field status runctl.ResponseStatus
---@field model string?
---@field usage any

---@alias runctl.RunStatus "cancelled"|"cancelling"|"completed"|"expired"|"failed"|"in_progress"|"incomplete"|"queued"|"requires_action"|"succeeded"

---A run (`object` "thread.run") as runs returns it: its key fields (the API's others are there too).
---@class runctl.Run : runctl.Object
---@field object "thread.run"
---@field status runctl.RunStatus
---@field assistant_id string?
---@field expires_at integer?
---@field model string?
---@field started_at integer?
---@field thread_id string
---@field usage any

---A page of runs.
---@class runctl.RunPage : runctl.Page
---@field data runctl.Run[]

---@alias runctl.UploadStatus "cancelled"|"completed"|"expired"|"pending"

---An upload (`object` "upload") as uploads returns it: its key fields (the API's others are there too).
---@class runctl.Upload : runctl.Object
---@field object "upload"
---@field status runctl.UploadStatus
---@field expires_at integer?

---@alias runctl.FileBatchStatus "cancelled"|"completed"|"failed"|"in_progress"

---A file batch (`object` "vector_store.files_batch") as vector_stores.file_batches returns it: its key fields (the API's others are there too).
---@class runctl.FileBatch : runctl.Object
---@field object "vector_store.files_batch"
---@field status runctl.FileBatchStatus
---@field file_counts any
---@field vector_store_id string

---The batches bindings of a client (c.batches).
---@class runctl.Client.batches
local R_batches = {}

---`POST /batches/{batch_id}/cancel` (resp.outcome or err.outcome says what it meant)
---@param batch_id string
---@param opts? runctl.RequestOptions
---@return runctl.Batch? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_batches.cancel(batch_id, opts) end

---@class runctl.params.batches.list
---@field after? string
---@field limit? integer

---`GET /batches`
---@param params? runctl.params.batches.list
---@param opts? runctl.RequestOptions
---@return runctl.BatchPage? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_batches.list(params, opts) end

---`GET /batches/{batch_id}`
---@param batch_id string
---@param opts? runctl.RequestOptions
---@return runctl.Batch? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_batches.retrieve(batch_id, opts) end

---Every item of every page of list, page after page; raises err on a failure.
---@param params? runctl.params.batches.list
---@param opts? runctl.RequestOptions
---@return fun(): runctl.Batch?
function R_batches.each(params, opts) end

---Polls retrieve until the status leaves cancelling, finalizing, in_progress, validating (honours openai-poll-after-ms).
---@param batch_id string
---@param w? { timeout?: number, interval?: number }
---@return runctl.Batch? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_batches.wait(batch_id, w) end

---The evals bindings of a client (c.evals).
---@class runctl.Client.evals
---@field runs runctl.Client.evals.runs
local R_evals = {}

---The evals.runs bindings of a client (c.evals.runs).
---@class runctl.Client.evals.runs
local R_evals_runs = {}

---`POST /evals/{eval_id}/runs/{run_id}` (resp.outcome or err.outcome says what it meant)
---@param eval_id string
---@param run_id string
---@param opts? runctl.RequestOptions
---@return runctl.EvalRun? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_evals_runs.cancel(eval_id, run_id, opts) end

---@class runctl.params.evals.runs.list
---@field after? string
---@field limit? integer
---@field order? "asc"|"desc"
---@field status? any

---`GET /evals/{eval_id}/runs`
---@param eval_id string
---@param params? runctl.params.evals.runs.list
---@param opts? runctl.RequestOptions
---@return runctl.EvalRunPage? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_evals_runs.list(eval_id, params, opts) end

---`GET /evals/{eval_id}/runs/{run_id}`
---@param eval_id string
---@param run_id string
---@param opts? runctl.RequestOptions
---@return runctl.EvalRun? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_evals_runs.retrieve(eval_id, run_id, opts) end

---Every item of every page of list, page after page; raises err on a failure.
---@param eval_id string
---@param params? runctl.params.evals.runs.list
---@param opts? runctl.RequestOptions
---@return fun(): runctl.EvalRun?
function R_evals_runs.each(eval_id, params, opts) end

---Polls retrieve until the status leaves in_progress, queued (honours openai-poll-after-ms).
---@param eval_id string
---@param run_id string
---@param w? { timeout?: number, interval?: number }
---@return runctl.EvalRun? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_evals_runs.wait(eval_id, run_id, w) end

---The fine_tuning bindings of a client (c.fine_tuning).
---@class runctl.Client.fine_tuning
---@field jobs runctl.Client.fine_tuning.jobs
local R_fine_tuning = {}

---The fine_tuning.jobs bindings of a client (c.fine_tuning.jobs).
---@class runctl.Client.fine_tuning.jobs
local R_fine_tuning_jobs = {}

---`POST /fine_tuning/jobs/{fine_tuning_job_id}/cancel` (resp.outcome or err.outcome says what it meant)
---@param fine_tuning_job_id string
---@param opts? runctl.RequestOptions
---@return runctl.FineTuningJob? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_fine_tuning_jobs.cancel(fine_tuning_job_id, opts) end

---@class runctl.params.fine_tuning.jobs.list
---@field after? string
---@field limit? integer
---@field metadata? table<string, string>

---`GET /fine_tuning/jobs`
---@param params? runctl.params.fine_tuning.jobs.list
---@param opts? runctl.RequestOptions
---@return runctl.FineTuningJobPage? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_fine_tuning_jobs.list(params, opts) end

---`POST /fine_tuning/jobs/{fine_tuning_job_id}/pause`
---@param fine_tuning_job_id string
---@param opts? runctl.RequestOptions
---@return runctl.FineTuningJob? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_fine_tuning_jobs.pause(fine_tuning_job_id, opts) end

---`POST /fine_tuning/jobs/{fine_tuning_job_id}/resume`
---@param fine_tuning_job_id string
---@param opts? runctl.RequestOptions
---@return runctl.FineTuningJob? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_fine_tuning_jobs.resume(fine_tuning_job_id, opts) end

---`GET /fine_tuning/jobs/{fine_tuning_job_id}`
---@param fine_tuning_job_id string
---@param opts? runctl.RequestOptions
---@return runctl.FineTuningJob? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_fine_tuning_jobs.retrieve(fine_tuning_job_id, opts) end

---Every item of every page of list, page after page; raises err on a failure.
---@param params? runctl.params.fine_tuning.jobs.list
---@param opts? runctl.RequestOptions
---@return fun(): runctl.FineTuningJob?
function R_fine_tuning_jobs.each(params, opts) end

---Polls retrieve until the status leaves queued, running, validating_files (honours openai-poll-after-ms).
---@param fine_tuning_job_id string
---@param w? { timeout?: number, interval?: number }
---@return runctl.FineTuningJob? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_fine_tuning_jobs.wait(fine_tuning_job_id, w) end

---The organization bindings of a client (c.organization), sent with the admin key (OPENAI_ADMIN_KEY or admin_key).
---@class runctl.Client.organization
---@field usage runctl.Client.organization.usage
local R_organization = {}

---@class runctl.params.organization.costs
---@field api_key_ids? any
---@field bucket_width? any
---@field end_time? integer
---@field group_by? any
---@field limit? any
---@field page? string
---@field project_ids? any
---@field start_time? integer

---`GET /organization/costs`
---@param params? runctl.params.organization.costs
---@param opts? runctl.RequestOptions
---@return runctl.Object? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_organization.costs(params, opts) end

---Every item (bucket) of every page of a listing, following next_page; raises err on a failure.
---@param method "costs"
---@param params? table
---@param opts? runctl.RequestOptions
---@return fun(): table?
function R_organization.each(method, params, opts) end

---The organization.usage bindings of a client (c.organization.usage), sent with the admin key (OPENAI_ADMIN_KEY or admin_key).
---@class runctl.Client.organization.usage
local R_organization_usage = {}

---@class runctl.params.organization.usage.audio_speeches
---@field api_key_ids? any
---@field bucket_width? any
---@field end_time? integer
---@field group_by? any
---@field limit? any
---@field models? any
---@field page? string
---@field project_ids? any
---@field start_time? integer
---@field user_ids? any

---`GET /organization/usage/audio_speeches`
---@param params? runctl.params.organization.usage.audio_speeches
---@param opts? runctl.RequestOptions
---@return runctl.Object? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_organization_usage.audio_speeches(params, opts) end

---@class runctl.params.organization.usage.audio_transcriptions
---@field api_key_ids? any
---@field bucket_width? any
---@field end_time? integer
---@field group_by? any
---@field limit? any
---@field models? any
---@field page? string
---@field project_ids? any
---@field start_time? integer
---@field user_ids? any

---`GET /organization/usage/audio_transcriptions`
---@param params? runctl.params.organization.usage.audio_transcriptions
---@param opts? runctl.RequestOptions
---@return runctl.Object? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_organization_usage.audio_transcriptions(params, opts) end

---@class runctl.params.organization.usage.code_interpreter_sessions
---@field bucket_width? any
---@field end_time? integer
---@field group_by? any
---@field limit? any
---@field page? string
---@field project_ids? any
---@field start_time? integer

---`GET /organization/usage/code_interpreter_sessions`
---@param params? runctl.params.organization.usage.code_interpreter_sessions
---@param opts? runctl.RequestOptions
---@return runctl.Object? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_organization_usage.code_interpreter_sessions(params, opts) end

---@class runctl.params.organization.usage.completions
---@field api_key_ids? any
---@field batch? boolean
---@field bucket_width? any
---@field end_time? integer
---@field group_by? any
---@field limit? any
---@field models? any
---@field page? string
---@field project_ids? any
---@field start_time? integer
---@field user_ids? any

---`GET /organization/usage/completions`
---@param params? runctl.params.organization.usage.completions
---@param opts? runctl.RequestOptions
---@return runctl.Object? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_organization_usage.completions(params, opts) end

---@class runctl.params.organization.usage.embeddings
---@field api_key_ids? any
---@field bucket_width? any
---@field end_time? integer
---@field group_by? any
---@field limit? any
---@field models? any
---@field page? string
---@field project_ids? any
---@field start_time? integer
---@field user_ids? any

---`GET /organization/usage/embeddings`
---@param params? runctl.params.organization.usage.embeddings
---@param opts? runctl.RequestOptions
---@return runctl.Object? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_organization_usage.embeddings(params, opts) end

---@class runctl.params.organization.usage.images
---@field api_key_ids? any
---@field bucket_width? any
---@field end_time? integer
---@field group_by? any
---@field limit? any
---@field models? any
---@field page? string
---@field project_ids? any
---@field sizes? any
---@field sources? any
---@field start_time? integer
---@field user_ids? any

---`GET /organization/usage/images`
---@param params? runctl.params.organization.usage.images
---@param opts? runctl.RequestOptions
---@return runctl.Object? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_organization_usage.images(params, opts) end

---@class runctl.params.organization.usage.moderations
---@field api_key_ids? any
---@field bucket_width? any
---@field end_time? integer
---@field group_by? any
---@field limit? any
---@field models? any
---@field page? string
---@field project_ids? any
---@field start_time? integer
---@field user_ids? any

---`GET /organization/usage/moderations`
---@param params? runctl.params.organization.usage.moderations
---@param opts? runctl.RequestOptions
---@return runctl.Object? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_organization_usage.moderations(params, opts) end

---@class runctl.params.organization.usage.vector_stores
---@field bucket_width? any
---@field end_time? integer
---@field group_by? any
---@field limit? any
---@field page? string
---@field project_ids? any
---@field start_time? integer

---`GET /organization/usage/vector_stores`
---@param params? runctl.params.organization.usage.vector_stores
---@param opts? runctl.RequestOptions
---@return runctl.Object? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_organization_usage.vector_stores(params, opts) end

---Every item (bucket) of every page of a listing, following next_page; raises err on a failure.
---@param method "completions"|"embeddings"|"moderations"|"images"|"audio_speeches"|"audio_transcriptions"|"vector_stores"|"code_interpreter_sessions"
---@param params? table
---@param opts? runctl.RequestOptions
---@return fun(): table?
function R_organization_usage.each(method, params, opts) end

---The responses bindings of a client (c.responses).
---@class runctl.Client.responses
local R_responses = {}

---`POST /responses/{response_id}/cancel` (resp.outcome or err.outcome says what it meant)
---@param response_id string
---@param opts? runctl.RequestOptions
---@return runctl.Response? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_responses.cancel(response_id, opts) end

---`GET /responses/{response_id}`
---@param response_id string
---@param opts? runctl.RequestOptions
---@return runctl.Response? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_responses.retrieve(response_id, opts) end

---Polls retrieve until the status leaves in_progress, queued (honours openai-poll-after-ms).
---@param response_id string
---@param w? { timeout?: number, interval?: number }
---@return runctl.Response? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_responses.wait(response_id, w) end

---The runs bindings of a client (c.runs), sent with OpenAI-Beta: assistants=v2.
---@class runctl.Client.runs
local R_runs = {}

---`POST /threads/{thread_id}/runs/{run_id}/cancel` (resp.outcome or err.outcome says what it meant)
---@param thread_id string
---@param run_id string
---@param opts? runctl.RequestOptions
---@return runctl.Run? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_runs.cancel(thread_id, run_id, opts) end

---@class runctl.params.runs.list
---@field after? string
---@field before? string
---@field limit? integer
---@field order? "asc"|"desc"

---`GET /threads/{thread_id}/runs`
---@param thread_id string
---@param params? runctl.params.runs.list
---@param opts? runctl.RequestOptions
---@return runctl.RunPage? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_runs.list(thread_id, params, opts) end

---`GET /threads/{thread_id}/runs/{run_id}`
---@param thread_id string
---@param run_id string
---@param opts? runctl.RequestOptions
---@return runctl.Run? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_runs.retrieve(thread_id, run_id, opts) end

---Every item of every page of list, page after page; raises err on a failure.
---@param thread_id string
---@param params? runctl.params.runs.list
---@param opts? runctl.RequestOptions
---@return fun(): runctl.Run?
function R_runs.each(thread_id, params, opts) end

---Polls retrieve until the status leaves cancelling, in_progress, queued (honours openai-poll-after-ms).
---@param thread_id string
---@param run_id string
---@param w? { timeout?: number, interval?: number }
---@return runctl.Run? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_runs.wait(thread_id, run_id, w) end

---The uploads bindings of a client (c.uploads).
---@class runctl.Client.uploads
local R_uploads = {}

---`POST /uploads/{upload_id}/cancel` (resp.outcome or err.outcome says what it meant)
---@param upload_id string
---@param opts? runctl.RequestOptions
---@return runctl.Upload? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_uploads.cancel(upload_id, opts) end

---The vector_stores bindings of a client (c.vector_stores).
---@class runctl.Client.vector_stores
---@field file_batches runctl.Client.vector_stores.file_batches
local R_vector_stores = {}

---The vector_stores.file_batches bindings of a client (c.vector_stores.file_batches), sent with OpenAI-Beta: assistants=v2.
---@class runctl.Client.vector_stores.file_batches
local R_vector_stores_file_batches = {}

---`POST /vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel` (resp.outcome or err.outcome says what it meant)
---@param vector_store_id string
---@param batch_id string
---@param opts? runctl.RequestOptions
---@return runctl.FileBatch? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_vector_stores_file_batches.cancel(vector_store_id, batch_id, opts) end

---`GET /vector_stores/{vector_store_id}/file_batches/{batch_id}`
---@param vector_store_id string
---@param batch_id string
---@param opts? runctl.RequestOptions
---@return runctl.FileBatch? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_vector_stores_file_batches.retrieve(vector_store_id, batch_id, opts) end

---Polls retrieve until the status leaves in_progress (honours openai-poll-after-ms).
---@param vector_store_id string
---@param batch_id string
---@param w? { timeout?: number, interval?: number }
---@return runctl.FileBatch? obj
---@return runctl.Error? err
---@return runctl.Resp? resp
function R_vector_stores_file_batches.wait(vector_store_id, batch_id, w) end

---@class runctl.Client
---@field batches runctl.Client.batches
---@field evals runctl.Client.evals
---@field fine_tuning runctl.Client.fine_tuning
---@field organization runctl.Client.organization
---@field responses runctl.Client.responses
---@field runs runctl.Client.runs
---@field uploads runctl.Client.uploads
---@field vector_stores runctl.Client.vector_stores

---@class runctl
---@field batches runctl.Client.batches
---@field evals runctl.Client.evals
---@field fine_tuning runctl.Client.fine_tuning
---@field organization runctl.Client.organization
---@field responses runctl.Client.responses
---@field runs runctl.Client.runs
---@field uploads runctl.Client.uploads
---@field vector_stores runctl.Client.vector_stores

---The default client's batches (openai.batches).
---@type runctl.Client.batches
batches = nil

---The default client's evals (openai.evals).
---@type runctl.Client.evals
evals = nil

---The default client's fine_tuning (openai.fine_tuning).
---@type runctl.Client.fine_tuning
fine_tuning = nil

---The default client's organization (openai.organization).
---@type runctl.Client.organization
organization = nil

---The default client's responses (openai.responses).
---@type runctl.Client.responses
responses = nil

---The default client's runs (openai.runs).
---@type runctl.Client.runs
runs = nil

---The default client's uploads (openai.uploads).
---@type runctl.Client.uploads
uploads = nil

---The default client's vector_stores (openai.vector_stores).
---@type runctl.Client.vector_stores
vector_stores = nil
---- END GENERATED ----

return runctl
