-- lua/lib/client.lua — clients: their settings, credentials and prepared
-- senders, how one API request is sent (perform), client:request, and the
-- resources bound onto every client.
local core = require "runctl.core"
local json = require "runctl.json"
local check = require "runctl.check"
local errors = require "runctl.errors"
local bind = require "runctl.bind"

local M = {}

local DEFAULT_BASE_URL = "https://api.openai.com/v1"
local DEFAULT_MAX_BYTES = check.DEFAULT_MAX_BYTES
local CLIENT_FIELDS = {
  api_key = "string", base_url = "string", organization = "string", project = "string",
  max_retries = "integer", timeout = "positive", connect_timeout = "positive",
  max_retry_delay = "number", max_concurrency = "integer", rate = "positive",
  max_bytes = "integer", headers = "table", query = "table", auth = "string",
  ca_file = "string",
}
local OPTS_FIELDS = check.OPTS_FIELDS
local typename, env, check_fields = check.typename, check.env, check.check_fields
local header_lines, query_string = check.header_lines, check.query_string
local transport_error, finish = errors.transport, errors.finish
local Client = { __name = "runctl.client" }
Client.__index = Client
function Client.__tostring(c) return "runctl client (" .. c.base_url .. ")" end

-- Credentials live here, keyed by client, so no field of a client holds a key.
local credentials = setmetatable({}, { __mode = "k" })

local resources         -- set below: root name -> binder(client) -> bound table

-- runctl.client{...} without Azure (see runctl.azure): a new client.
function M.new(cfg)
  if cfg == nil then cfg = {} end
  if type(cfg) ~= "table" then
    error("runctl.client: expected a table of settings (got " .. typename(cfg) .. ")", 2)
  end
  check_fields("runctl.client", cfg, CLIENT_FIELDS, 2)
  if cfg.auth and cfg.auth ~= "bearer" and cfg.auth ~= "api-key" then
    error("runctl.client: auth must be \"bearer\" or \"api-key\" (got \"" .. cfg.auth .. "\")", 2)
  end
  local flags = core.settings()
  local c = setmetatable({}, Client)
  c.base_url = (cfg.base_url or flags.base_url or env("OPENAI_BASE_URL") or DEFAULT_BASE_URL):gsub("/+$", "")
  c.organization = cfg.organization or flags.organization or env("OPENAI_ORG_ID")
  c.project = cfg.project or flags.project or env("OPENAI_PROJECT_ID")
  c.max_retries = cfg.max_retries or flags.max_retries or 2
  c.timeout = cfg.timeout or flags.timeout or 600
  c.connect_timeout = cfg.connect_timeout or 10
  c.max_retry_delay = cfg.max_retry_delay or core.DEFAULT_MAX_RETRY_DELAY
  c.max_concurrency = cfg.max_concurrency or 64
  c.rate = cfg.rate
  c.max_bytes = cfg.max_bytes or DEFAULT_MAX_BYTES
  c.auth = cfg.auth or "bearer"
  c.ca_file = cfg.ca_file
  c.query = {}
  for k, v in pairs(cfg.query or {}) do c.query[k] = v end
  query_string("runctl.client", { c.query }, 2)      -- validates now

  local key = cfg.api_key or env("OPENAI_API_KEY")
  if key and key:find("[%z\1-\31\127]") then
    error("runctl.client: api_key contains a control character (CR, LF or NUL?)", 2)
  end
  credentials[c] = key and (c.auth == "api-key" and "api-key: " .. key or "Authorization: Bearer " .. key) or false

  local base = { "Accept: application/json", "User-Agent: runctl/" .. core.VERSION }
  if c.organization then base[#base + 1] = "OpenAI-Organization: " .. c.organization end
  if c.project then base[#base + 1] = "OpenAI-Project: " .. c.project end
  for _, line in ipairs(base) do
    if line:find("[\r\n%z]") then
      error("runctl.client: organization and project must not contain CR, LF or NUL", 2)
    end
  end
  header_lines("runctl.client", cfg.headers or {}, base, 2)
  c._header_base = base
  c._senders = {}               -- beta -> prepared sender (see sender_for)
  c._limiter = core.limiter(c.max_concurrency, c.rate)

  for name, binder in pairs(resources) do c[name] = binder(c) end
  return c
end

-- The client's sender for a beta value: its fixed headers (credentials
-- included) and settings prepared once in C, on the first request. (So a
-- client's settings are read when it first sends; per-call opts override.)
-- The fixed header lines of a client for a beta value: credentials, the
-- client's own, then OpenAI-Beta when there is one.
local function fixed_lines(c, beta)
  local lines = { credentials[c] }
  for _, line in ipairs(c._header_base) do lines[#lines + 1] = line end
  if beta then lines[#lines + 1] = "OpenAI-Beta: " .. beta end
  return lines
end

local function sender_for(c, beta)
  local key = beta == nil and "" or beta      -- false (no fixed lines) is a key of its own
  local send = c._senders[key]
  if send then return send end
  local lines = beta == false and {} or fixed_lines(c, beta)
  send = core.sender { headers = lines, limiter = c._limiter, timeout = c.timeout,
                       connect_timeout = c.connect_timeout, max_retries = c.max_retries,
                       max_retry_delay = c.max_retry_delay, max_bytes = c.max_bytes, ca_file = c.ca_file }
  c._senders[key] = send
  return send
end

-- All header lines of a call whose opts.headers override fixed ones.
local function overridden_lines(c, where, beta, extra, method, body, opts)
  local overridden = {}
  for name in pairs(extra) do overridden[tostring(name):lower()] = true end
  local lines = {}
  for _, line in ipairs(fixed_lines(c, beta)) do
    if not overridden[line:match("^[^:]*"):lower()] then lines[#lines + 1] = line end
  end
  if body ~= nil and not overridden["content-type"] then lines[#lines + 1] = "Content-Type: application/json" end
  if method ~= "GET" and not overridden["idempotency-key"] then
    lines[#lines + 1] = "Idempotency-Key: " .. (opts.idempotency_key or "runctl-" .. core.token())
  end
  return header_lines(where, extra, lines, 4)
end

-- Sends one API request through the client's limiter; returns obj, nil, resp | nil, err.
local function perform(c, where, method, path, query, body, beta, opts)
  if not credentials[c] then
    error(where .. ": no API key: set OPENAI_API_KEY in the environment, "
          .. "or pass api_key to runctl.client{...}", 3)
  end
  if not c._base_ok then
    if not c.base_url:match("^https?://[^/?#%s]+") then
      error(where .. ": base_url must start with http:// or https:// (got \""
            .. core.redact_url(c.base_url) .. "\")", 3)
    end
    c._base_ok = true
  end
  local url = c.base_url .. path
  if type(body) == "table" then
    local encoded, why = json.encode(body)
    if not encoded then error(where .. ": body: " .. why, 3) end
    body = encoded
  end
  local send, extra
  if opts and opts.headers then
    send = sender_for(c, false)         -- no fixed lines: all of them come per call
    extra = overridden_lines(c, where, beta, opts.headers, method, body, opts)
  else
    send = sender_for(c, beta)
    if method ~= "GET" then
      local key = opts and opts.idempotency_key
      if key and key:find("[\r\n%z]") then error(where .. ": idempotency_key must not contain CR, LF or NUL", 3) end
      extra = key and "Idempotency-Key: " .. key or core.token("Idempotency-Key: runctl-")
      if body ~= nil then extra = { extra, "Content-Type: application/json" } end
    elseif body ~= nil then
      extra = "Content-Type: application/json"
    end
  end
  local q = query
  if next(c.query) or (opts and opts.query) then
    local qs = query_string(where, { c.query, query or {}, opts and opts.query or {} }, 3)
    q = qs ~= "" and qs or nil
  elseif q then
    q = query_string(where, { q }, 3)
    if q == "" then q = nil end
  end
  if q then url = url .. "?" .. q end
  local raw, fail = send(method, url, extra, body, opts)
  if not raw then return nil, transport_error(fail) end
  return finish(raw)
end

local BETA_PATHS = { "^/threads", "^/assistants", "^/vector_stores" }

-- c:request{ method, path, query, body, headers, ...opts } — any endpoint.
function Client.request(c, spec)
  if getmetatable(c) ~= Client then
    error("client:request: call it with a colon, as c:request{...}", 2)
  end
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

resources = bind.resources(perform)
M.Client = Client
-- The top-level resource names (runs, batches, fine_tuning, ...), sorted.
M.ROOTS = {}
for name in pairs(resources) do M.ROOTS[#M.ROOTS + 1] = name end
table.sort(M.ROOTS)

return M
