-- lua/lib/api/client.lua — clients: read-only views of their settings (the
-- credentials stay in C, in the client's sender), how one API request is
-- sent (perform), client:request, and the resources bound onto every client.
local core = require "runctl.core"
local json = require "runctl.json"
local check = require "runctl.api.option_checks"
local errors = require "runctl.api.errors"
local bind = require "runctl.api.binder"

local M = {}

local DEFAULT_BASE_URL = "https://api.openai.com/v1"
local DEFAULT_MAX_BYTES = check.DEFAULT_MAX_BYTES
local CLIENT_FIELDS = {
  api_key = "string", base_url = "string", organization = "string", project = "string",
  max_retries = "integer", timeout = "positive", connect_timeout = "positive",
  max_retry_delay = "number", max_concurrency = "integer", rate = "positive",
  max_bytes = "integer", headers = "table", query = "table", auth = "string",
  ca_file = "string", admin_key = "string", max_rate_limit_wait = "positive",
}
local OPTS_FIELDS = check.OPTS_FIELDS
local typename, env, check_fields = check.typename, check.env, check.check_fields
local header_lines, query_string = check.header_lines, check.query_string
local transport_error, finish = errors.transport, errors.finish
local Client = {}

-- What only this module's closures see: client -> { sender, admin_sender,
-- query, base_url, unusable }. The API key lives in the sender, the admin key
-- (costs and usage) in the admin sender, both in C memory (core.sender); no
-- field of a client holds either, and nothing hands them back.
local private = setmetatable({}, { __mode = "k" })

local resources         -- set below: root name -> binder(client) -> bound table

local function read_only(_, k)
  error(("runctl: a client and its resources are read-only (cannot set '%s'): "
         .. "make another client with runctl.client{...}"):format(tostring(k)), 2)
end

-- A read-only view of fields: reads go through, writes raise, the metatable
-- is locked (getmetatable answers name), and pairs walks the fields. So a
-- script (sandboxed or not) can neither read a client's internals nor
-- replace what its functions do, for itself or for the next script.
local function frozen(fields, name, tostring_fn)
  for k, v in pairs(fields) do
    if type(v) == "table" and getmetatable(v) == nil then fields[k] = frozen(v, false) end
  end
  return setmetatable({}, {
    __index = fields, __newindex = read_only, __metatable = name, __tostring = tostring_fn,
    __pairs = function(t) return function(_, k) return next(fields, k) end, t, nil end,
  })
end

-- runctl.client{...} without Azure (see runctl.api.new_client): a new client. extra:
-- fields the Azure constructor adds (azure, api_version, or unusable: why
-- every request through this client raises).
function M.new(cfg, extra)
  if cfg == nil then cfg = {} end
  if type(cfg) ~= "table" then
    error("runctl.client: expected a table of settings (got " .. typename(cfg) .. ")", 2)
  end
  check_fields("runctl.client", cfg, CLIENT_FIELDS, 2)
  if cfg.auth and cfg.auth ~= "bearer" and cfg.auth ~= "api-key" then
    error("runctl.client: auth must be \"bearer\" or \"api-key\" (got \"" .. cfg.auth .. "\")", 2)
  end
  local flags = core.settings()
  local f = {}                  -- the public fields
  f.base_url = (cfg.base_url or flags.base_url or env("OPENAI_BASE_URL") or DEFAULT_BASE_URL):gsub("/+$", "")
  -- the setting reads back as organization_id: c.organization is the costs
  -- and usage listings (a resource, as on the global organization)
  f.organization_id = cfg.organization or flags.organization or env("OPENAI_ORG_ID")
  f.project = cfg.project or flags.project or env("OPENAI_PROJECT_ID")
  f.max_retries = cfg.max_retries or flags.max_retries or 2
  f.timeout = cfg.timeout or flags.timeout or 600
  f.connect_timeout = cfg.connect_timeout or 10
  f.max_retry_delay = cfg.max_retry_delay or core.DEFAULT_MAX_RETRY_DELAY
  f.max_concurrency = cfg.max_concurrency or 64
  f.rate = cfg.rate
  f.max_rate_limit_wait = cfg.max_rate_limit_wait or f.timeout
  f.max_bytes = cfg.max_bytes or DEFAULT_MAX_BYTES
  f.auth = cfg.auth or "bearer"
  f.ca_file = cfg.ca_file
  local query = {}
  for k, v in pairs(cfg.query or {}) do query[k] = v end
  query_string("runctl.client", { query }, 2)      -- validates now

  local key = cfg.api_key or env("OPENAI_API_KEY")
  if key and key:find("[%z\1-\31\127]") then
    error("runctl.client: api_key contains a control character (CR, LF or NUL?)", 2)
  end
  -- A sandbox's clients never take the admin key from the environment: spend
  -- is the host's business, not an untrusted script's (it may pass its own).
  local admin_key = cfg.admin_key or (not core.sandboxed() and env("OPENAI_ADMIN_KEY") or nil)
  if admin_key and admin_key:find("[%z\1-\31\127]") then
    error("runctl.client: admin_key (or OPENAI_ADMIN_KEY) contains a control character (CR, LF or NUL?)", 2)
  end
  local lines = { "Accept: application/json", "User-Agent: runctl/" .. core.VERSION }
  if f.organization_id then lines[#lines + 1] = "OpenAI-Organization: " .. f.organization_id end
  if f.project then lines[#lines + 1] = "OpenAI-Project: " .. f.project end
  for _, line in ipairs(lines) do
    if line:find("[\r\n%z]") then
      error("runctl.client: organization and project must not contain CR, LF or NUL", 2)
    end
  end
  header_lines("runctl.client", cfg.headers or {}, lines, 2)
  local settings = { api_key = key, auth = f.auth, headers = lines,
                     limiter = core.limiter(f.max_concurrency, f.rate), timeout = f.timeout,
                     connect_timeout = f.connect_timeout, max_retries = f.max_retries,
                     max_retry_delay = f.max_retry_delay, max_bytes = f.max_bytes,
                     ca_file = f.ca_file, base_url = f.base_url,
                     max_rate_limit_wait = f.max_rate_limit_wait }
  local sender = core.sender(settings)
  local admin_sender
  if admin_key then            -- the same settings, its own pace (one per key); always a bearer token
    -- Its own limiter too: a limiter carries one pace, and sharing the API
    -- sender's would put every API request under the admin key's pace.
    settings.api_key, settings.auth = admin_key, "bearer"
    settings.limiter = core.limiter(f.max_concurrency, f.rate)
    admin_sender = core.sender(settings)
  end
  local has_key = key ~= nil
  settings.api_key = nil        -- the keys live in the senders only
  f.query = {}
  for k, v in pairs(query) do f.query[k] = v end
  for k, v in pairs(extra or {}) do if k ~= "unusable" then f[k] = v end end
  f.request = Client.request
  f.rate_limit = Client.rate_limit
  local c = frozen(f, "runctl.client",
                   function() return "runctl client (" .. f.base_url .. ")" end)
  private[c] = { sender = has_key and sender, admin_sender = admin_sender, query = query, base_url = f.base_url,
                 unusable = extra and extra.unusable, fields = f }
  for name, binder in pairs(resources) do f[name] = binder(c) end
  -- bound after c exists (the functions close over it), frozen like the rest
  for name in pairs(resources) do f[name] = frozen(f[name], false) end
  return c
end

-- Why every request through client c raises (an Azure client whose settings
-- could not be resolved), or nil.
function M.unusable(c)
  local p = private[c]
  return p and p.unusable
end

-- Whether client c holds an admin key (the costs and usage endpoints need one).
function M.has_admin_key(c)
  local p = private[c]
  return p ~= nil and p.admin_sender ~= nil
end

M.NO_ADMIN_KEY = "no admin key: the costs and usage endpoints need an organization admin key "
  .. "(with the api.usage.read scope): set OPENAI_ADMIN_KEY in the environment, "
  .. "or pass admin_key to runctl.client{...}"

-- An admin endpoint's refusal made plain: a key without the usage scope (a
-- project key answers 403 "Missing scopes: api.usage.read") or a wrong key.
local function admin_refusal(err)
  if err.kind ~= "api" or (err.status ~= 401 and err.status ~= 403) then return err end
  local said = tostring(err.message or "")
  if err.status == 403 then
    err.message = "an admin key is needed: the key in OPENAI_ADMIN_KEY (or admin_key) lacks the "
      .. "api.usage.read scope (a project key cannot read costs or usage; make an organization admin key) ["
      .. said .. "]"
  else
    err.message = "the API refused the admin key (401): check OPENAI_ADMIN_KEY (or admin_key) [" .. said .. "]"
  end
  return err
end

-- Sends one API request through the client's sender (admin: the admin
-- sender); returns obj, nil, resp | nil, err.
local function perform(c, where, method, path, query, body, beta, opts, admin)
  local p = private[c]
  if admin and not p.admin_sender then error(where .. ": " .. M.NO_ADMIN_KEY, 3) end
  if not admin and not p.sender then
    error(where .. ": no API key: set OPENAI_API_KEY in the environment, "
          .. "or pass api_key to runctl.client{...}", 3)
  end
  if not p.base_ok then
    if not p.base_url:match("^https?://[^/?#%s]+") then
      error(where .. ": base_url must start with http:// or https:// (got \""
            .. core.redact_url(p.base_url) .. "\")", 3)
    end
    p.base_ok = true
  end
  local url = p.base_url .. path
  if type(body) == "table" then
    local encoded, why = json.encode(body)
    if not encoded then error(where .. ": body: " .. why, 3) end
    body = encoded
  end
  local lines
  if opts then
    if opts.headers then lines = header_lines(where, opts.headers, {}, 3) end
    local key = opts.idempotency_key
    if key and key:find("[\r\n%z]") then error(where .. ": idempotency_key must not contain CR, LF or NUL", 3) end
  end
  local q = query
  if next(p.query) or (opts and opts.query) then
    local qs = query_string(where, { p.query, query or {}, opts and opts.query or {} }, 3)
    q = qs ~= "" and qs or nil
  elseif q then
    q = query_string(where, { q }, 3)
    if q == "" then q = nil end
  end
  if q then url = url .. "?" .. q end
  local raw, decoded_or_fail = core.request(admin and p.admin_sender or p.sender, method, url, body, beta, lines, opts)
  if not raw then return nil, transport_error(decoded_or_fail) end
  if not admin then return finish(raw, decoded_or_fail) end
  local obj, err, resp = finish(raw, decoded_or_fail)
  if obj then return obj, err, resp end
  return nil, admin_refusal(err)
end

-- c:rate_limit() -> what the client knows of its account's rate limit (shared
-- by every client of the same key and base URL): { pace (requests/s, 0: not
-- paced), source ("headers", "adaptive", "none"), limit, remaining, reset
-- (seconds; absent until the server sent valid x-ratelimit-*-requests),
-- tokens = { limit, remaining, reset } or nil, paused_until (core.now()
-- clock), rate_limited (429 answers so far), no_quota, pacing (the pace held
-- a request back in the last second) }; nil for a client without a key.
function Client.rate_limit(c)
  local p = private[c]
  if p == nil then error("client:rate_limit: call it with a colon, as c:rate_limit()", 2) end
  return p.sender and core.rate_limit(p.sender) or nil
end

local BETA_PATHS = { "^/threads", "^/assistants", "^/vector_stores" }

-- c:request{ method, path, query, body, headers, ...opts } — any endpoint.
function Client.request(c, spec)
  if private[c] == nil then
    error("client:request: call it with a colon, as c:request{...}", 2)
  end
  local unusable = private[c].unusable
  if unusable then error("client:request: " .. unusable, 2) end
  if type(spec) ~= "table" then
    error("client:request: expected a table {method=, path=, ...} (got " .. typename(spec) .. ")", 2)
  end
  local opts, query = {}, spec.query
  for k, v in pairs(spec) do
    if k ~= "method" and k ~= "path" and k ~= "body" and k ~= "beta" and k ~= "query" then opts[k] = v end
  end
  check_fields("client:request", opts, OPTS_FIELDS, 2)
  if query ~= nil and type(query) ~= "table" then
    error("client:request: query must be a table (got " .. typename(query) .. ")", 2)
  end
  local method = spec.method or "GET"
  if type(method) ~= "string" or not method:match("^%u+$") then
    error("client:request: method must be an upper-case HTTP method such as \"GET\"", 2)
  end
  local path = spec.path
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" or path:find("[%s%z\1-\31\127?#]") then
    error("client:request: path must be a string starting with '/' without spaces, "
          .. "control characters, '?' or '#' (escape IDs with runctl.escape_id)", 2)
  end
  local beta = spec.beta
  if beta == nil then
    for _, p in ipairs(BETA_PATHS) do
      if path:find(p) then beta = "assistants=v2" break end
    end
  end
  local body = spec.body
  if body ~= nil and type(body) ~= "string" and type(body) ~= "table" then
    error("client:request: body must be a string or a table (got " .. typename(body) .. ")", 2)
  end
  if beta == "" then beta = nil end        -- beta = "" asks for no OpenAI-Beta header
  return perform(c, "client:request", method, path, query, body, beta, opts)
end

-- attach: runctl.define gives clients made earlier a root's tree, frozen like the rest.
resources = bind.resources { perform = perform, unusable = M.unusable,
  attach = function(c, name, tree) private[c].fields[name] = frozen(tree, false) end }
-- The top-level resource names (runs, batches, fine_tuning, ...), sorted.
M.ROOTS = {}
for name in pairs(resources) do M.ROOTS[#M.ROOTS + 1] = name end
table.sort(M.ROOTS)

return M
