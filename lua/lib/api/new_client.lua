-- lua/lib/api/new_client.lua — runctl.client: the public constructor, which resolves
-- Azure OpenAI settings (runctl.client{ azure = true }, or --azure) like the
-- Azure SDKs: AZURE_OPENAI_API_KEY sent as `api-key`,
-- AZURE_OPENAI_ENDPOINT + "/openai" as the base URL, OPENAI_API_VERSION as an
-- `api-version` query on every request; fields of the table override them
-- (api_key, endpoint or a full base_url, api_version, auth). The rest of the
-- client is the plain one, so Azure shares the one transport and error model.
local core = require "runctl.core"
local check = require "runctl.api.option_checks"
local client = require "runctl.api.client"

local M = {}
local typename, env = check.typename, check.env
local plain_client = client.new
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
    return plain_client({ api_key = "unused", base_url = "https://azure.invalid/openai" },
                        { azure = true, unusable = missing })
  end
  local ok, c = pcall(plain_client, out, { azure = true, api_version = out.query["api-version"] })
  if not ok then   -- report the misuse at the caller, not here
    error(type(c) == "string" and c:gsub("^[^\n]-:%d+: ", "", 1) or c, 2)
  end
  return c
end

return M
