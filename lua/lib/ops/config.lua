-- lua/lib/ops/config.lua — the operator's configuration as the bundled scripts see
-- it (require "runctl.ops.config"): checked before any work (API key, base URL,
-- Azure settings: one line naming the variable or flag and the fix), and what
-- a failed request says about it (a 401/403 means the key is refused: stop;
-- a 404 from a base URL that does not end in /v1: say so).
local core = require "runctl.core"
local check = require "runctl.api.option_checks"
local runctl = require "runctl"

local M = {}
local env = check.env

-- A URL as it may be shown: credentials in it hidden, scheme or not.
local function shown(url) return "'" .. core.redact_url(url) .. "'" end

-- The base URL in use and where it came from ("--base-url", a variable, or
-- nil for the default).
local function base_url_and_source(azure)
  local flags = core.settings()
  if flags.base_url then return flags.base_url, "--base-url" end
  if azure then
    local endpoint = env("AZURE_OPENAI_ENDPOINT")
    return endpoint and endpoint:gsub("/+$", "") .. "/openai", "AZURE_OPENAI_ENDPOINT"
  end
  local url = env("OPENAI_BASE_URL")
  if url then return url, "OPENAI_BASE_URL" end
  return "https://api.openai.com/v1", nil
end

local function check_url(url, source)
  if url:match("^https?://[^/?#%s]+") and not url:find("%s") then return nil end
  local example = source == "AZURE_OPENAI_ENDPOINT" and "https://RESOURCE.openai.azure.com"
                  or "https://api.openai.com/v1"
  if not url:find("://") then
    return ("%s %s has no scheme: write it as a full URL such as %s"):format(source, shown(url), example)
  end
  return ("%s %s is not an http:// or https:// URL (such as %s)"):format(source, shown(url), example)
end

-- The first configuration problem, as one line for a person, or nil.
function M.problem()
  local azure = core.settings().azure
  if azure then
    local missing = {}
    if not env("AZURE_OPENAI_API_KEY") then missing[#missing + 1] = "AZURE_OPENAI_API_KEY (the resource's key)" end
    if not core.settings().base_url and not env("AZURE_OPENAI_ENDPOINT") then
      missing[#missing + 1] = "AZURE_OPENAI_ENDPOINT (https://RESOURCE.openai.azure.com)"
    end
    if not env("OPENAI_API_VERSION") then missing[#missing + 1] = "OPENAI_API_VERSION (such as 2024-10-21)" end
    if #missing > 0 then
      return "--azure needs " .. table.concat(missing, ", ") .. " set in the environment"
    end
  elseif not env("OPENAI_API_KEY") then
    return "OPENAI_API_KEY is not set: export OPENAI_API_KEY=sk-... (runctl reads the key "
           .. "from the environment only)"
  end
  local url, source = base_url_and_source(azure)
  return check_url(url, source or "the base URL")
end

---------------------------------------------------------------------- after a failure

-- Why the whole job must stop after err (a 401 or 403: the key, organization
-- or project is refused, and every other request would be too; a 429
-- insufficient_quota: the account has no quota left), and which of the two
-- it is ("auth" or "quota"); or nil.
function M.refusal(err)
  if not runctl.is_error(err) then return nil end
  if err.code == "insufficient_quota" or err.type == "insufficient_quota" then
    return "the account has no quota left: check billing", "quota"
  end
  if err.kind ~= "api" then return nil end
  if err.status == 401 then
    return "the API refused the credentials (401): check OPENAI_API_KEY" .. (core.settings().azure
           and " / AZURE_OPENAI_API_KEY" or "") .. " [" .. tostring(err.message or "") .. "]", "auth"
  elseif err.status == 403 then
    return "the API refused access (403): check the key's organization and project "
           .. "(--org, --project) [" .. tostring(err.message or "") .. "]", "auth"
  end
end

-- A hint for a person after err, or nil: a 404 from a base URL whose path does
-- not end in /v1 is most likely a base URL typed without it.
function M.hint(err)
  if not runctl.is_error(err) or err.kind ~= "api" or err.status ~= 404 then return nil end
  local azure = core.settings().azure
  local url, source = base_url_and_source(azure)
  if azure or url:gsub("/+$", ""):match("/v1$") then return nil end
  return ("%s %s answered 404: does your base URL end in /v1? (such as %s)"):format(
         source or "the base URL", shown(url), shown(url:gsub("/+$", "") .. "/v1"))
end

return M
