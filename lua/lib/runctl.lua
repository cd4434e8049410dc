-- lua/lib/runctl.lua — the Lua half of the API: clients and the resources bound
-- to them (declared as data), error objects, http.request, log, task.map, and
-- the runctl module table that the host also exposes as globals.
local core = require "runctl.core"
local task = require "runctl.task"
local json = require "runctl.json"

local M = { VERSION = core.VERSION, json = json, task = task }

local DEFAULT_BASE_URL = "https://api.openai.com/v1"
local DEFAULT_MAX_BYTES = 64 * 1024 * 1024

---------------------------------------------------------------------- helpers

local function typename(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and type(mt.__name) == "string" and mt.__name or type(v)
end

-- Reads an environment variable, trimmed; empty means unset.
local function env(name)
  local v = os.getenv(name)
  if v then
    v = v:match("^%s*(.-)%s*$")
    if v == "" then v = nil end
  end
  return v
end

local function is_null(v) return v == nil or v == json.null end

local checks = {
  string = function(v) return type(v) == "string" end,
  number = function(v) return type(v) == "number" and v >= 0 and v == v and v < math.huge end,
  positive = function(v) return type(v) == "number" and v > 0 and v < math.huge end,
  integer = function(v) return math.type(v) == "integer" and v >= 0
                            or (type(v) == "number" and v >= 0 and v == math.floor(v) and v < 2^53) end,
  table = function(v) return type(v) == "table" end,
  boolean = function(v) return type(v) == "boolean" end,
}
local wanted = {
  string = "a string", number = "a non-negative number", positive = "a positive number",
  integer = "a non-negative integer", table = "a table", boolean = "a boolean",
}

-- Checks the fields of an option table against spec {name = kind}; raises
-- "<where>: <name> must be <kind> (got <type>)" or names the unknown field.
local function check_fields(where, t, spec, level)
  for k, v in pairs(t) do
    local kind = spec[k]
    if kind == nil then
      error(("%s: unknown option '%s'"):format(where, tostring(k)), level + 1)
    end
    if not checks[kind](v) then
      error(("%s: %s must be %s (got %s)"):format(where, k, wanted[kind], typename(v)), level + 1)
    end
  end
end

-- Turns {name = value} into "Name: value" lines, checking both sides.
local function header_lines(where, map, into, level)
  for name, value in pairs(map) do
    if type(name) ~= "string" or not name:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
      error(("%s: header name %q is not a valid token"):format(where, tostring(name)), level + 1)
    end
    if type(value) == "number" then value = tostring(value) end
    if value ~= false then
      if type(value) ~= "string" then
        error(("%s: header '%s' must be a string (got %s)"):format(where, name, typename(value)), level + 1)
      end
      if value:find("[\r\n%z]") then
        error(("%s: header '%s' must not contain CR, LF or NUL"):format(where, name), level + 1)
      end
      into[#into + 1] = name .. ": " .. value
    end
  end
  return into
end

local function query_string(where, parts, level)
  local keys, n = {}, 0
  local merged = {}
  for _, q in ipairs(parts) do
    for k, v in pairs(q) do
      if type(k) ~= "string" then
        error(("%s: query keys must be strings (got %s)"):format(where, typename(k)), level + 1)
      end
      local tv = type(v)
      if tv == "number" then
        v = math.type(v) == "float" and v == math.floor(v) and ("%d"):format(v) or tostring(v)
      elseif tv == "boolean" then v = tostring(v)
      elseif tv ~= "string" then
        error(("%s: query value '%s' must be a string, number or boolean (got %s)")
              :format(where, k, typename(v)), level + 1)
      end
      if merged[k] == nil then n = n + 1; keys[n] = k end
      merged[k] = v
    end
  end
  if n == 0 then return "" end
  table.sort(keys)
  local out = {}
  for i = 1, n do
    out[i] = core.escape_query(keys[i]) .. "=" .. core.escape_query(merged[keys[i]])
  end
  return table.concat(out, "&")
end

---------------------------------------------------------------------- log

local log = {}
local function emitter(level, label)
  return function(fmt, ...)
    if core.log_level() < level then return end
    local msg = fmt
    if select("#", ...) > 0 or type(fmt) ~= "string" then
      local ok, s = pcall(string.format, tostring(fmt), ...)
      msg = ok and s or tostring(fmt)
    end
    io.stderr:write("runctl: ", label, ": ", msg, "\n")
  end
end
log.error = emitter(-1, "error")
log.warn = emitter(0, "warning")
log.info = emitter(1, "info")
log.debug = emitter(2, "debug")
M.log = log

---------------------------------------------------------------------- errors

local Error = { __name = "runctl.error" }
Error.__index = Error
function Error.__tostring(e)
  local s
  if e.kind == "api" then
    s = tostring(e.status or "?") .. " " .. (e.type or "error") .. ": " .. tostring(e.message or "")
  else
    s = tostring(e.kind) .. ": " .. tostring(e.message or "")
    if (e.attempts or 0) > 1 then s = s .. (" (after %d attempts)"):format(e.attempts) end
  end
  if e.request_id then s = s .. " [" .. e.request_id .. "]" end
  return s
end
M.Error = Error

local function new_error(fields) return setmetatable(fields, Error) end
function M.is_error(v) return getmetatable(v) == Error end

-- A short text from a non-JSON body (an HTML page from a proxy, plain text).
local function summarize(body)
  local title = body:match("<[Tt][Ii][Tt][Ll][Ee]>(.-)</[Tt][Ii][Tt][Ll][Ee]>")
  local text = title or body:gsub("<[^>]*>", " ")
  text = text:gsub("%s+", " "):match("^%s*(.-)%s*$")
  if #text > 200 then text = text:sub(1, 200) .. "..." end
  return text ~= "" and text or nil
end

local function api_error(raw)
  local e = { kind = "api", status = raw.status, request_id = raw.request_id,
              attempts = raw.attempts, retryable = raw.retryable, elapsed = raw.elapsed }
  local obj = raw.body:find("^%s*{") and json.decode(raw.body)
  local info = type(obj) == "table" and (type(obj.error) == "table" and obj.error or obj)
  if type(info) == "table" and (info.message ~= nil or info.type ~= nil or info.code ~= nil) then
    e.message = not is_null(info.message) and tostring(info.message) or nil
    e.type = not is_null(info.type) and tostring(info.type) or nil
    e.code = not is_null(info.code) and info.code or nil
    e.param = not is_null(info.param) and info.param or nil
  else
    e.message = summarize(raw.body)
  end
  e.message = e.message or ("HTTP " .. raw.status)
  return new_error(e)
end

local function transport_error(fail)
  return new_error { kind = fail.kind, message = fail.message, attempts = fail.attempts,
                     retryable = fail.retryable, elapsed = fail.elapsed }
end

-- Decodes a successful raw response into obj, nil, resp (or nil, err); the
-- raw table becomes resp {status, headers, request_id, attempts, elapsed}.
local function finish(raw)
  if raw.status < 200 or raw.status > 299 then return nil, api_error(raw) end
  local body = raw.body
  raw.body, raw.retryable = nil, nil
  local resp = raw
  if body == "" then return {}, nil, resp end
  local obj, why = json.decode(body)
  if type(obj) ~= "table" or body:find("^%s*%[") then
    return nil, new_error { kind = "invalid_response", status = raw.status,
                            request_id = raw.request_id, attempts = raw.attempts,
                            message = obj == nil and ("response is not valid JSON: " .. why)
                                      or "response is not a JSON object" }
  end
  return obj, nil, resp
end

---------------------------------------------------------------------- clients

local CLIENT_FIELDS = {
  api_key = "string", base_url = "string", organization = "string", project = "string",
  max_retries = "integer", timeout = "positive", connect_timeout = "positive",
  max_retry_delay = "number", max_concurrency = "integer", rate = "positive",
  max_bytes = "integer", headers = "table", query = "table", auth = "string",
  ca_file = "string",
}
local OPTS_FIELDS = {
  timeout = "positive", connect_timeout = "positive", max_retries = "integer",
  max_retry_delay = "number", max_bytes = "integer", headers = "table", query = "table",
  idempotency_key = "string",
}
local REQUEST_FIELDS = { method = "string", path = "string", body = "any", beta = "string" }
for k, v in pairs(OPTS_FIELDS) do REQUEST_FIELDS[k] = v end
checks.any = function() return true end

local Client = { __name = "runctl.client" }
Client.__index = Client
function Client.__tostring(c) return "runctl client (" .. c.base_url .. ")" end

-- Credentials live here, keyed by client, so no field of a client holds a key.
local credentials = setmetatable({}, { __mode = "k" })

local resources = {}   -- filled below: name -> binder(client) -> bound table

function M.client(cfg)
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

  local base = { "Accept: application/json", "User-Agent: runctl/" .. M.VERSION }
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

  for name, bind in pairs(resources) do c[name] = bind(c) end
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

-- runctl.now() -> monotonic seconds (for measuring; not wall-clock time).
M.now = core.now

-- runctl.interrupted() -> true once Ctrl-C was pressed; a script that asks
-- gets a graceful first Ctrl-C (in-flight requests finish), the second ends it.
M.interrupted = core.interrupted

-- runctl.isatty("stdin"|"stdout"|"stderr"|fd) -> whether it is a terminal.
function M.isatty(which)
  local fd = ({ stdin = 0, stdout = 1, stderr = 2 })[which] or which
  if math.type(fd) ~= "integer" then
    error("runctl.isatty: expected \"stdin\", \"stdout\", \"stderr\" or a file descriptor", 2)
  end
  return core.isatty(fd)
end

-- runctl.escape_id(id) -> id percent-encoded as one path segment.
function M.escape_id(id) return core.escape_id(id, "runctl.escape_id: id") end

---------------------------------------------------------------------- resources as data

-- Resources are data (lua/lib/resources.lua): adding an endpoint is one entry there.
-- A dotted resource name ("fine_tuning.jobs") hangs off its parent table on
-- every client (c.fine_tuning.jobs); the first part is what the host exports.
local RESOURCES = require "runctl.resources"

-- Checks params against spec {name = validator} and returns the query table to
-- send: a fresh table, so validators that expand a parameter (metadata[k]=v)
-- never touch the caller's.
local function check_params(where, params, spec, level)
  if params == nil then return nil end
  if type(params) ~= "table" then
    error(("%s: params must be a table (got %s)"):format(where, typename(params)), level + 1)
  end
  local query = {}
  for k, v in pairs(params) do
    local check = spec[k]
    if not check then
      error(("%s: unknown parameter '%s'"):format(where, tostring(k)), level + 1)
    end
    local ok, want, expanded = check(v)
    if not ok then
      error(("%s: %s must be %s (got %s)"):format(where, k, want,
            type(v) == "string" and ("%q"):format(v) or type(v) == "number" and tostring(v)
            or typename(v)), level + 1)
    end
    if expanded then
      for ek, ev in pairs(expanded) do query[ek] = ev end
    else
      query[k] = v
    end
  end
  return query
end

local function check_opts(where, opts, level)
  if opts == nil then return nil end
  if type(opts) ~= "table" then
    error(("%s: opts must be a table (got %s)"):format(where, typename(opts)), level + 1)
  end
  check_fields(where, opts, OPTS_FIELDS, level + 1)
  return opts
end

-- Compiles "/threads/{thread_id}/runs/{run_id}" into literal pieces and ID names.
local function compile_path(template)
  local literals, names = {}, {}
  local pos = 1
  while true do
    local s, e, name = template:find("{([%w_]+)}", pos)
    if not s then break end
    literals[#literals + 1] = template:sub(pos, s - 1)
    names[#names + 1] = name
    pos = e + 1
  end
  literals[#literals + 1] = template:sub(pos)
  return literals, names
end

-- A client whose settings could not be resolved (see the Azure part below)
-- carries the reason; every request through it raises that instead.
local function check_usable(c, where, level)
  local why = rawget(c, "_unusable")
  if why then error(where .. ": " .. why, level + 1) end
end

local function make_method(rname, mname, def, beta)
  local verb, params_spec = def[1], def.params
  local literals, names = compile_path(def[2])
  local where = rname .. "." .. mname
  local nids = #names
  local labels = {}
  for i, n in ipairs(names) do labels[i] = where .. ": " .. n end
  local max_args = nids + (params_spec and 2 or 1)
  return function(c)
    return function(...)
      check_usable(c, where, 2)
      local nargs = select("#", ...)
      if nargs > max_args then
        error(("%s: too many arguments (%d given, at most %d)"):format(where, nargs, max_args), 2)
      end
      local path
      if nids == 1 then
        path = literals[1] .. core.escape_id((...), labels[1]) .. literals[2]
      elseif nids == 2 then
        local a, b = ...
        path = literals[1] .. core.escape_id(a, labels[1]) .. literals[2]
               .. core.escape_id(b, labels[2]) .. literals[3]
      else
        local parts = { literals[1] }
        for i = 1, nids do
          parts[#parts + 1] = core.escape_id((select(i, ...)), labels[i])
          parts[#parts + 1] = literals[i + 1]
        end
        path = table.concat(parts)
      end
      local query, opts
      if params_spec then
        query = check_params(where, (select(nids + 1, ...)), params_spec, 2)
        opts = check_opts(where, (select(nids + 2, ...)), 2)
      else
        opts = check_opts(where, (select(nids + 1, ...)), 2)
      end
      return perform(c, where, verb, path, query, nil, beta, opts)
    end, nids, params_spec
  end
end

-- each(ids..., params, opts): iterates every item of every page; raises err on
-- failure. The next page starts after the page's last_id, or after the last
-- item's id where pages carry no last_id (fine-tuning jobs).
local function make_each(rname, list_fn, nids, params_spec)
  local where = rname .. ".each"
  return function(...)
    local ids = table.pack(...)
    if ids.n > nids + 2 then
      error(("%s: too many arguments (%d given, at most %d)"):format(where, ids.n, nids + 2), 2)
    end
    local params = ids[nids + 1]
    check_params(where, params, params_spec, 2)
    local own = {}
    for k, v in pairs(params or {}) do own[k] = v end
    params = own
    local opts = check_opts(where, ids[nids + 2], 2)
    for i = 1, nids do core.escape_id(ids[i], where .. ": id") end
    local page, i, done = nil, 0, false
    return function()
      while true do
        if page and i < #page.data then
          i = i + 1
          return page.data[i]
        end
        if done then return nil end
        if page then
          local cursor = page.last_id
          if is_null(cursor) then
            local last = page.data[#page.data]
            cursor = type(last) == "table" and last.id or nil
          end
          if not page.has_more or is_null(cursor) then done = true return nil end
          params.after = cursor
        end
        local args = {}
        for k = 1, nids do args[k] = ids[k] end
        args[nids + 1] = params
        args[nids + 2] = opts
        local p, err = list_fn(table.unpack(args, 1, nids + 2))
        if not p then error(err, 2) end
        if type(p.data) ~= "table" then
          error(new_error { kind = "invalid_response", message = where .. ": page has no data array" }, 2)
        end
        page, i = p, 0
        if #p.data == 0 then done = true return nil end
      end
    end
  end
end

-- wait(ids..., {timeout=, interval=}): polls retrieve until the status leaves
-- the resource's in-progress set; honours openai-poll-after-ms.
local function make_wait(rname, retrieve, nids, while_status)
  local where = rname .. ".wait"
  return function(...)
    local ids = table.pack(...)
    local w = ids[nids + 1]
    if w ~= nil and type(w) ~= "table" then
      error(where .. ": options must be a table {timeout=, interval=} (got " .. typename(w) .. ")", 2)
    end
    w = w or {}
    check_fields(where, w, { timeout = "number", interval = "positive" }, 2)
    for i = 1, nids do core.escape_id(ids[i], where .. ": id") end
    local deadline = core.now() + (w.timeout or 600)
    local interval = w.interval or 1
    while true do
      local obj, err, resp = retrieve(table.unpack(ids, 1, nids))
      if not obj then return nil, err end
      if not while_status[obj.status] then return obj, nil, resp end
      local delay = interval
      local hint = tonumber(resp.headers["openai-poll-after-ms"])
      if hint and hint >= 0 then delay = hint / 1000 end
      local left = deadline - core.now()
      if left <= 0 then
        return nil, new_error { kind = "timeout", request_id = resp.request_id, attempts = resp.attempts,
          message = ("%s is still %s after waiting %gs"):format(tostring(obj.id or ids[nids]),
                                                                  tostring(obj.status), w.timeout or 600) }
      end
      task.sleep(math.min(delay, left))
    end
  end
end

-- One resource's binder: client -> table of its bound methods.
local function resource_binder(rname, rdef)
  if type(rdef) ~= "table" or type(rdef.methods) ~= "table" then
    error("runctl.resources: " .. rname .. " needs a methods table")
  end
  local binders = {}
  for mname, def in pairs(rdef.methods) do
    if type(def) ~= "table" or not tostring(def[1]):match("^%u+$") or type(def[2]) ~= "string"
       or def[2]:sub(1, 1) ~= "/" then
      error("runctl.resources: " .. rname .. "." .. tostring(mname)
            .. " must be { \"VERB\", \"/path/{id}\" [, params = {...}] }")
    end
    binders[mname] = make_method(rname, mname, def, rdef.beta)
  end
  return function(c)
    local bound = {}
    local meta = {}
    for mname, binder in pairs(binders) do
      local fn, nids, params_spec = binder(c)
      bound[mname] = fn
      meta[mname] = { nids = nids, params = params_spec }
    end
    if rdef.paginate then
      local m = meta[rdef.paginate]
      bound.each = make_each(rname, bound[rdef.paginate], m.nids, m.params or {})
    end
    if rdef.wait then
      local m = meta[rdef.wait.using]
      bound.wait = make_wait(rname, bound[rdef.wait.using], m.nids, rdef.wait.while_status)
    end
    return bound
  end
end

-- The resource tree: "fine_tuning.jobs" and "vector_stores.file_batches" become
-- children of "fine_tuning" and "vector_stores", which exist on a client even
-- when they have no methods of their own. Parents bind before their children.
do
  local names = {}
  for rname in pairs(RESOURCES) do names[#names + 1] = rname end
  table.sort(names)
  local binder_of = {}
  for _, rname in ipairs(names) do binder_of[rname] = resource_binder(rname, RESOURCES[rname]) end
  local roots = {}
  for _, rname in ipairs(names) do
    local root = rname:match("^[^.]+")
    roots[root] = roots[root] or {}
    table.insert(roots[root], rname)
  end
  for root, members in pairs(roots) do
    resources[root] = function(c)
      local tree = {}
      for _, rname in ipairs(members) do     -- sorted: "a" before "a.b" before "a.b.c"
        local node = tree
        local parts = {}
        for part in rname:gmatch("[^.]+") do parts[#parts + 1] = part end
        for d = 2, #parts do
          node[parts[d]] = node[parts[d]] or {}
          node = node[parts[d]]
        end
        for k, v in pairs(binder_of[rname](c)) do node[k] = v end
      end
      return tree
    end
  end
end

-- Azure OpenAI and its settings. runctl.client{ azure = true } (or --azure)
-- resolves like the Azure SDKs: AZURE_OPENAI_API_KEY sent as `api-key`,
-- AZURE_OPENAI_ENDPOINT + "/openai" as the base URL, OPENAI_API_VERSION as an
-- `api-version` query on every request; fields of the table override them
-- (api_key, endpoint or a full base_url, api_version, auth). The rest of the
-- client is the plain one, so Azure shares the one transport and error model.
local plain_client = M.client
local AZURE_ONLY = { endpoint = true, api_version = true }

local function azure_config(cfg, flags)
  local out = {}
  for k, v in pairs(cfg) do
    if k ~= "azure" and not AZURE_ONLY[k] then out[k] = v end
  end
  for _, k in ipairs { "endpoint", "api_version" } do
    if cfg[k] ~= nil and (type(cfg[k]) ~= "string" or cfg[k] == "") then
      error(("runctl.client: %s must be a non-empty string (got %s)"):format(k, typename(cfg[k])), 3)
    end
  end
  if cfg.query ~= nil and type(cfg.query) ~= "table" then
    error("runctl.client: query must be a table (got " .. typename(cfg.query) .. ")", 3)
  end
  local vars, fields = {}, {}
  local function need(value, var, field)
    if value == nil then vars[#vars + 1] = var; fields[#fields + 1] = field end
    return value
  end
  out.api_key = need(cfg.api_key or env("AZURE_OPENAI_API_KEY"), "AZURE_OPENAI_API_KEY", "api_key")
  if not cfg.base_url then
    local endpoint = cfg.endpoint
    local base = endpoint and endpoint:gsub("/+$", "") .. "/openai" or flags.base_url
    if not base then
      endpoint = env("AZURE_OPENAI_ENDPOINT")
      base = endpoint and endpoint:gsub("/+$", "") .. "/openai"
    end
    out.base_url = need(base, "AZURE_OPENAI_ENDPOINT (https://RESOURCE.openai.azure.com)", "endpoint")
  end
  local version = need(cfg.api_version or env("OPENAI_API_VERSION"),
                       "OPENAI_API_VERSION (such as 2024-10-21)", "api_version")
  out.auth = cfg.auth or "api-key"
  local query = { ["api-version"] = version }
  for k, v in pairs(cfg.query or {}) do query[k] = v end   -- the caller's query wins
  out.query = query
  if #vars > 0 then
    local function join(list)   -- "a", "a and b", "a, b and c"
      return #list == 1 and list[1] or table.concat(list, ", ", 1, #list - 1) .. " and " .. list[#list]
    end
    return nil, ("Azure OpenAI needs %s: set %s in the environment, or pass %s to "
                 .. "runctl.client{ azure = true, ... }"):format(join(vars),
                 #vars > 1 and "them" or "it", join(fields))
  end
  return out
end

function M.client(cfg)
  if cfg ~= nil and type(cfg) ~= "table" then return plain_client(cfg) end
  local azure = cfg and cfg.azure
  if azure == nil then azure = core.settings().azure or false end
  if type(azure) ~= "boolean" then
    error("runctl.client: azure must be a boolean (got " .. typename(azure) .. ")", 2)
  end
  if not azure then
    for k in pairs(AZURE_ONLY) do
      if cfg and cfg[k] ~= nil then
        error(("runctl.client: %s is an Azure setting: pass azure = true with it"):format(k), 2)
      end
    end
    if cfg and cfg.azure ~= nil then
      local copy = {}
      for k, v in pairs(cfg) do if k ~= "azure" then copy[k] = v end end
      cfg = copy
    end
    return plain_client(cfg)
  end
  local out, missing = azure_config(cfg or {}, core.settings())
  if not out then
    -- A table given by the script is misuse and raises here; the default client
    -- (no table: made when runctl loads, under --azure) raises at its first request.
    if cfg ~= nil then error("runctl.client: " .. missing, 2) end
    local c = plain_client { api_key = "unused", base_url = "https://azure.invalid/openai" }
    rawset(c, "_unusable", missing)
    rawset(c, "request", function() error("client:request: " .. missing, 2) end)
    c.azure = true
    return c
  end
  local ok, c = pcall(plain_client, out)
  if not ok then   -- report the misuse at the caller, not here
    error(type(c) == "string" and c:gsub("^[^\n]-:%d+: ", "", 1) or c, 2)
  end
  c.azure = true
  c.api_version = out.query["api-version"]
  return c
end

---------------------------------------------------------------------- http

local http = {}
local HTTP_FIELDS = {
  method = "string", url = "string", headers = "table", body = "string", timeout = "positive",
  connect_timeout = "positive", max_bytes = "integer", max_retries = "integer",
  max_retry_delay = "number", query = "table", ca_file = "string",
}

-- http.request{method, url, headers, body, timeout, max_bytes}: no auth added.
-- resp: {status, headers, body, request_id, attempts, elapsed} | nil, err
function http.request(spec)
  if type(spec) ~= "table" then
    error("http.request: expected a table {url=, method=, ...} (got " .. typename(spec) .. ")", 2)
  end
  check_fields("http.request", spec, HTTP_FIELDS, 2)
  local method = spec.method or "GET"
  if not method:match("^%u+$") then
    error("http.request: method must be an upper-case HTTP method such as \"GET\" (got \""
          .. method:sub(1, 20) .. "\")", 2)
  end
  local url = spec.url
  if not url then error("http.request: url is required", 2) end
  if not url:match("^https?://[^/?#%s]+") or url:find("[%s%z\1-\31\127]") then
    error("http.request: url must be an http:// or https:// URL without spaces or control characters", 2)
  end
  if spec.query then
    local qs = query_string("http.request", { spec.query }, 2)
    if qs ~= "" then url = url .. (url:find("?", 1, true) and "&" or "?") .. qs end
  end
  local lines = header_lines("http.request", spec.headers or {}, {}, 2)
  local raw, fail = core.send {
    method = method, url = url, headers = lines, body = spec.body,
    timeout = spec.timeout or 60, connect_timeout = spec.connect_timeout or 10,
    max_bytes = spec.max_bytes or DEFAULT_MAX_BYTES, max_retries = spec.max_retries or 0,
    max_retry_delay = spec.max_retry_delay, ca_file = spec.ca_file,
  }
  if not raw then return nil, transport_error(fail) end
  return raw
end
M.http = http

---------------------------------------------------------------------- task.map

-- task.map(items, fn, {concurrency = n}) -> results, errs (both indexed like items).
-- fn(item, i) returns a value, or nil, err; a raise becomes errs[i] too.
function task.map(items, fn, opts)
  if type(items) ~= "table" then
    error("task.map: items must be a table (got " .. typename(items) .. ")", 2)
  end
  if type(fn) ~= "function" then
    error("task.map: fn must be a function (got " .. typename(fn) .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("task.map: options must be a table {concurrency = n} (got " .. typename(opts) .. ")", 2)
  end
  local concurrency = opts and opts.concurrency or 16
  if math.type(concurrency) ~= "integer" or concurrency < 1 then
    error("task.map: concurrency must be a positive integer", 2)
  end
  local n = #items
  local results, errs = {}, {}
  local next_index = 0
  local function worker()
    while true do
      next_index = next_index + 1
      local i = next_index
      if i > n then return end
      local ok, value, err = pcall(fn, items[i], i)
      if not ok then errs[i] = value
      elseif value == nil then errs[i] = err
      else results[i] = value end
    end
  end
  local workers = {}
  for w = 1, math.min(concurrency, n) do workers[w] = task.spawn(worker) end
  for _, t in ipairs(workers) do
    local ok, err = task.join(t)
    if not ok then error(err, 0) end
  end
  return results, errs
end

---------------------------------------------------------------------- the module

M.client = M.client
M.openai = M.client()
-- The names the host sets as globals: the default client, every top-level
-- resource bound to it (runs, batches, fine_tuning, ...), and the modules.
M.GLOBALS = { "openai", "http", "json", "task", "log" }
for name in pairs(resources) do
  M[name] = M.openai[name]
  M.GLOBALS[#M.GLOBALS + 1] = name
end
table.sort(M.GLOBALS)

-- runctl.dry_run reads and latches the host's flag (once on, it stays on).
return setmetatable(M, {
  __index = function(_, k)
    if k == "dry_run" then return core.dry_run() end
  end,
  __newindex = function(t, k, v)
    if k == "dry_run" then core.dry_run(v and true or false) else rawset(t, k, v) end
  end,
})
