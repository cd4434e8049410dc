-- lua/lib/api/errors.lua — the error objects every binding returns (api,
-- connection, timeout, invalid_response, dry_run, rate_limited: the account's
-- limit held it past max_rate_limit_wait, not_sent: the account has no quota
-- left) and the decoding of a raw
-- response into obj, nil, resp or nil, err.
local json = require "runctl.json"
local check = require "runctl.api.option_checks"
local core = require "runctl.core"

local M = {}
local is_null = check.is_null

-- The metatable of every error object: locked (getmetatable(err) answers
-- "runctl.error"), with no __index, so no script reaches it through an error
-- object to change what the next script's errors say or do.
local Error = { __name = "runctl.error", __metatable = "runctl.error" }
function Error.__tostring(e)
  local s
  if e.kind == "api" then
    s = tostring(e.status or "?") .. " " .. (e.type or "error") .. ": " .. tostring(e.message or "")
  else
    s = tostring(e.kind) .. ": " .. tostring(e.message or "")
    if (e.attempts or 0) > 1 then s = s .. (" (after %d attempts)"):format(e.attempts) end
  end
  if e.request_id then s = s .. " [" .. e.request_id .. "]" end
  return core.printable(s)      -- message and request ID come from the network: one line, no controls
end
M.Error = Error

local function new_error(fields) return setmetatable(fields, Error) end
local function is_error(v) return getmetatable(v) == "runctl.error" end

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
              attempts = raw.attempts, retryable = raw.retryable, elapsed = raw.elapsed,
              rate_limited = raw.rate_limited }
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
                     retryable = fail.retryable, elapsed = fail.elapsed, status = fail.status,
                     rate_limited = fail.rate_limited,
                     code = fail.code }
end

-- Decodes a successful raw response into obj, nil, resp (or nil, err); the
-- raw table becomes resp {status, headers, request_id, attempts, elapsed}.
-- decoded: the body's object when core.request decoded it (raw has no body).
local function finish(raw, decoded)
  if raw.status < 200 or raw.status > 299 then return nil, api_error(raw) end
  local body = raw.body
  raw.body, raw.retryable = nil, nil
  local resp = raw
  if decoded then return decoded, nil, resp end
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

M.new, M.is_error, M.api, M.transport, M.finish = new_error, is_error, api_error, transport_error, finish

return M
