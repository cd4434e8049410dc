-- lua/lib/api/http.lua — http.request: any URL through the same engine and
-- loop as the API, with no credentials added.
local core = require "runctl.core"
local check = require "runctl.api.option_checks"
local errors = require "runctl.api.errors"

local http = {}
local typename, check_fields = check.typename, check.check_fields
local header_lines, query_string = check.header_lines, check.query_string
local DEFAULT_MAX_BYTES = check.DEFAULT_MAX_BYTES
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
  if not raw then return nil, errors.transport(fail) end
  return raw
end

return http
