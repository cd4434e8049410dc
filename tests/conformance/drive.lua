-- tests/conformance/drive.lua — drives every binding that lua/lib/api/resources.lua
-- declares (with c:request, each and wait) through Stoplight Prism serving the
-- official OpenAPI spec, and prints TAP.
--
-- Static phase: each request must pass Prism's validation (path, method,
-- query, headers, credentials), each parameter must go out as the spec's
-- style says, and each example answer must decode faithfully (the structure
-- runctl hands the script equals the body on the wire) into the documented
-- shape (required fields present, documented types, null only where allowed).
-- Dynamic phase: hundreds of random answers per endpoint, some mutated by
-- proxy.js (unknown statuses, extra fields), must decode the same way.
--
-- Run by tests/conformance/run.sh, which starts Prism and proxy.js and sets
-- CONFORMANCE_PROXY (the proxy's URL), CONFORMANCE_SPEC_JSON (spec.js's
-- output) and CONFORMANCE_N (random answers per endpoint).
package.path = "tests/lua/?.lua;" .. package.path
local T = require "helper"
local RESOURCES = require "runctl.api.resources"

local PROXY = assert(os.getenv("CONFORMANCE_PROXY"), "CONFORMANCE_PROXY is not set (run tests/conformance/run.sh)")
local SPEC_JSON = assert(os.getenv("CONFORMANCE_SPEC_JSON"), "CONFORMANCE_SPEC_JSON is not set")
local N = math.tointeger(tonumber(os.getenv("CONFORMANCE_N") or "")) or 300
local DUMMY_KEY = "sk-conformance-dummy-key"
local UNKNOWN_STATUS = "conformance_unknown_status"   -- what proxy.js writes
local null = json.null

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

---------------------------------------------------------------------- the spec

local spec = assert(json.decode(assert(T.read_file(SPEC_JSON), "cannot read " .. SPEC_JSON)))
local SCHEMAS = spec.schemas

-- "POST /threads/{}/runs/{}/cancel" -> the spec's operation; the plain route
-- wins over a "?beta=true" variant of the same path.
local OPS = {}
for _, op in ipairs(spec.ops) do
  if not OPS[op.key] or (OPS[op.key].variant ~= null and op.variant == null) then OPS[op.key] = op end
end

local function op_key(verb, template) return verb .. " " .. template:gsub("{[^}]+}", "{}") end

local function resolve(s)
  local hops = 0
  while type(s) == "table" and type(s["$ref"]) == "string" and hops < 32 do
    local name = s["$ref"]:match("^#/components/schemas/(.+)$")
    s = name and SCHEMAS[name] or {}
    hops = hops + 1
  end
  return type(s) == "table" and s or {}
end

local function ref_name(s)
  return type(s) == "table" and type(s["$ref"]) == "string" and s["$ref"]:match("([^/]+)$") or "its inline schema"
end

local function types_of(s)
  local t = s.type
  if type(t) == "string" then return { t } end
  if type(t) == "table" then return t end
  return {}
end

local function nullable(s, depth)
  depth = (depth or 0) + 1
  if depth > 16 then return false end
  s = resolve(s)
  if s.nullable == true then return true end
  for _, t in ipairs(types_of(s)) do if t == "null" then return true end end
  for _, key in ipairs { "anyOf", "oneOf", "allOf" } do
    -- allOf: the spec's idiom "allOf: [$ref, {nullable: true}]" allows null.
    for _, b in ipairs(s[key] or {}) do if nullable(b, depth) then return true end end
  end
  for _, v in ipairs(type(s.enum) == "table" and s.enum or {}) do
    if v == null then return true end
  end
  return false
end

-- The success answer of an operation: its 200, else its first 2xx.
local function success(op)
  if op.responses["200"] then return "200", op.responses["200"] end
  for _, code in ipairs(sorted_keys(op.responses)) do
    if code:match("^2") then return code, op.responses[code] end
  end
end

---------------------------------------------------------------------- the shape check

local function is_array(v)
  if type(v) ~= "table" then return false end
  local n = #v
  if n == 0 then return next(v) == nil end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local function is_object(v)
  return type(v) == "table" and (next(v) == nil or v[1] == nil)
end

local MATCH = {
  string = function(v) return type(v) == "string" end,
  integer = function(v) return math.type(v) == "integer" end,
  number = function(v) return type(v) == "number" end,
  boolean = function(v) return type(v) == "boolean" end,
  object = is_object,
  array = is_array,
  null = function(v) return v == null end,
}

local function describe(v)
  if v == null then return "null" end
  if math.type(v) then return math.type(v) .. " " .. tostring(v) end
  if type(v) == "string" then return ("string %q"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  if type(v) == "table" then return is_array(v) and "an array" or "an object" end
  return type(v)
end

local function new_ctx() return { problems = {}, nulls = 0, missing = 0, extra = 0 } end

-- path is a list of keys (strings) and 0-based indices, as Prism names places.
local function problem(ctx, path, text)
  ctx.problems[#ctx.problems + 1] = { path = table.concat(path, "."), text = text }
  return false
end

local function child(path, k)
  local p = table.move(path, 1, #path, 1, {})
  p[#p + 1] = k
  return p
end

-- Checks a decoded value against a schema: required fields present, every
-- present field of the documented type, null only where the spec allows it.
-- Enums and ranges are not enforced: a newer server may add values (docs/testing.md).
local function check(v, schema, path, ctx, depth)
  depth = depth + 1
  if depth > 64 then return end
  local s = resolve(schema)
  if v == null then
    ctx.nulls = ctx.nulls + 1
    if nullable(s) or not (s.type or s.anyOf or s.oneOf or s.allOf or s.properties) then return end
    return problem(ctx, path, "is null, which the spec does not allow")
  end
  local alts = s.anyOf or s.oneOf
  if alts then
    -- The alternatives may overlap, so one that fits is enough (anyOf rules).
    local best
    for _, b in ipairs(alts) do
      local sub = new_ctx()
      check(v, b, path, sub, depth)
      if #sub.problems == 0 then
        ctx.nulls, ctx.missing, ctx.extra = ctx.nulls + sub.nulls, ctx.missing + sub.missing, ctx.extra + sub.extra
        best = nil
        break
      end
      if not best or #sub.problems < #best.problems then best = sub end
    end
    if best then
      return problem(ctx, path, ("matches none of its %d alternatives; nearest: %s: %s")
                     :format(#alts, best.problems[1].path, best.problems[1].text))
    end
  end
  for _, b in ipairs(s.allOf or {}) do check(v, b, path, ctx, depth) end
  local types = types_of(s)
  local fits = #types == 0
  for _, t in ipairs(types) do
    if MATCH[t] and MATCH[t](v) then fits = true break end
  end
  if not fits then
    return problem(ctx, path, ("is %s, the spec says %s"):format(describe(v), table.concat(types, " or ")))
  end
  if type(v) ~= "table" then return end
  if s.items and is_array(v) then
    for i = 1, math.min(#v, 25) do check(v[i], s.items, child(path, i - 1), ctx, depth) end
  end
  if (s.properties or s.required) and is_object(v) then
    local props = s.properties or {}
    local required = {}
    for _, name in ipairs(s.required or {}) do
      required[name] = true
      if v[name] == nil then problem(ctx, child(path, name), "is required but missing") end
    end
    for name, ps in pairs(props) do
      if v[name] ~= nil then check(v[name], ps, child(path, name), ctx, depth)
      elseif not required[name] then ctx.missing = ctx.missing + 1 end
    end
    if s.properties then
      for k in pairs(v) do if props[k] == nil then ctx.extra = ctx.extra + 1 end end
    end
  end
end

local function shape(v, schema)
  local ctx = new_ctx()
  check(v, schema, {}, ctx, 0)
  return ctx
end

---------------------------------------------------------------------- faithful decoding

-- The structure of a decoded value as lines "path=type[:detail]", keys
-- sorted: the same lines proxy.js builds from the body it sent.
local function signature(v, path, out)
  if v == null then
    out[#out + 1] = path .. "=null"
  elseif type(v) == "table" then
    if next(v) == nil then
      out[#out + 1] = path .. "=empty"
    elseif is_array(v) then
      for i = 1, #v do signature(v[i], ("%s[%d]"):format(path, i - 1), out) end
    else
      for _, k in ipairs(sorted_keys(v)) do signature(v[k], path .. "." .. tostring(k), out) end
    end
  elseif type(v) == "string" then
    out[#out + 1] = ("%s=string:%d"):format(path, #v)
  elseif type(v) == "boolean" then
    out[#out + 1] = path .. "=" .. tostring(v)
  elseif math.type(v) == "integer" then
    out[#out + 1] = ("%s=integer:%d"):format(path, v)
  else
    out[#out + 1] = path .. "=" .. type(v)
  end
  return out
end

local function fnv1a(s)
  local h = 0x811c9dc5
  for i = 1, #s, 64 do
    for _, b in ipairs { s:byte(i, i + 63) } do h = ((h ~ b) * 16777619) & 0xffffffff end
  end
  return ("%08x"):format(h)
end

---------------------------------------------------------------------- the proxy's log

local function log_entry(request_id)
  local n = type(request_id) == "string" and request_id:match("^conf_(%d+)$")
  if not n then return nil end
  local resp = http.request { url = PROXY .. "/_log/" .. n }
  return resp and resp.status == 200 and json.decode(resp.body) or nil
end

local function log_tail(last)
  local resp = http.request { url = PROXY .. "/_log?last=" .. last }
  return resp and resp.status == 200 and json.decode(resp.body) or { count = 0, entries = {} }
end

-- A short account of what Prism said about a request, for diagnostics.
local function verdict(entry)
  if not entry then return "(no log entry)" end
  local out = { ("%s %s -> %s"):format(entry.method, entry.target, tostring(entry.status)) }
  local p = entry.problem
  if type(p) == "table" then
    if type(p.title) == "string" then out[#out + 1] = p.title end
    if type(p.detail) == "string" then out[#out + 1] = p.detail:sub(1, 300) end
    for _, v in ipairs(type(p.validation) == "table" and p.validation or {}) do
      out[#out + 1] = ("%s: %s"):format(table.concat(type(v.location) == "table" and v.location or {}, "."),
                                        tostring(v.message))
    end
  end
  if type(entry.violations) == "string" then out[#out + 1] = "sl-violations: " .. entry.violations:sub(1, 600) end
  return table.concat(out, "\n")
end

-- Prism's findings, as counted by proxy.js: about the request (runctl's
-- fault) and about the answer Prism generated (it cannot always satisfy
-- this spec's oneOfs and ranges, and says so).
local function findings(resp)
  local h = resp and resp.headers["x-conformance-violations"]
  if not h then return 0, 0 end
  return tonumber(h:match("request=(%d+)")) or 0, tonumber(h:match("response=(%d+)")) or 0
end

---------------------------------------------------------------------- judging one answer

-- Judges a decoded answer: faithful (the structure equals the body sent),
-- no finding about the request, and the documented shape; a shape problem
-- at a place where Prism itself says its answer is outside the schema is
-- Prism's, not runctl's. Returns {failures = {...}, shape = "clean" |
-- "prism" | "unverified" | nil, findings = n, ctx = ctx}.
local function judge(obj, resp, schema)
  local r = { failures = {}, ctx = new_ctx() }
  local entry
  local function get_entry()
    entry = entry or log_entry(resp.request_id) or { signature = {}, findings = {} }
    return entry
  end
  local want = resp.headers["x-conformance-shape"]
  local sig = signature(obj, "$", {})
  local got = ("%d/%s"):format(#sig, fnv1a(table.concat(sig, "\n")))
  if want and want ~= got then
    local theirs = get_entry().signature or {}
    local where = "?"
    for i = 1, math.max(#sig, #theirs) do
      if sig[i] ~= theirs[i] then
        where = ("sent %s, decoded %s"):format(tostring(theirs[i]), tostring(sig[i]))
        break
      end
    end
    r.failures[#r.failures + 1] = "decoded structure differs from the body on the wire: " .. where
  elseif not want then
    r.failures[#r.failures + 1] = "the proxy saw no JSON body"
  end
  local dup = resp.headers["x-conformance-duplicate-headers"]
  if dup then r.failures[#r.failures + 1] = "header lines sent more than once: " .. dup end
  local req_f, resp_f = findings(resp)
  r.findings = resp_f
  if req_f > 0 then r.failures[#r.failures + 1] = "Prism has findings about the request:\n" .. verdict(get_entry()) end
  if schema then
    r.ctx = shape(obj, schema)
    r.shape = "clean"
    local unexplained = {}
    if #r.ctx.problems > 0 then
      local f = resp_f > 0 and get_entry().findings or { locations = {} }
      for _, p in ipairs(r.ctx.problems) do
        local explained = false
        for _, loc in ipairs(f.locations or {}) do
          if loc == p.path or p.path:sub(1, #loc + 1) == loc .. "." or loc:sub(1, #p.path + 1) == p.path .. "."
             or p.path == "" or loc == "" then
            explained = true
            break
          end
        end
        if not explained then unexplained[#unexplained + 1] = p end
      end
      if #unexplained == 0 then
        r.shape = "prism"
      elseif f.truncated then
        r.shape = "unverified"      -- Prism cut its list short; it may name the place
      else
        r.shape = nil
        for i = 1, math.min(#unexplained, 5) do
          local p = unexplained[i]
          r.failures[#r.failures + 1] = ("$.%s %s"):format(p.path, p.text)
        end
      end
    end
  end
  return r
end

---------------------------------------------------------------------- bindings

local function bound(c, rname)
  local t = rawget(c, rname)
  if t == nil then
    t = c
    for part in rname:gmatch("[^.]+") do t = type(t) == "table" and t[part] or nil end
  end
  return t
end

local function path_params(template)
  local names = {}
  for name in template:gmatch("{([%w_]+)}") do names[#names + 1] = name end
  return names
end

local function sample_id(name, i)
  return (name:gsub("_id$", "")) .. "_conf" .. (i or 123)
end

-- An ID that must stay one path segment: every character here is special in a URL.
local ODD_ID = "odd id/with?query#frag%25&x=1"

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function split_path(path)
  local out = {}
  for seg in path:gmatch("[^/]+") do out[#out + 1] = seg end
  return out
end

-- The query of a logged request as {name = value}, decoded.
local function query_of(entry)
  local q = {}
  local qs = entry and entry.target:match("%?(.*)$") or ""
  for pair in qs:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    q[unescape(k)] = unescape(v)
  end
  return q
end

-- Whether a parameter went out as the spec's style says: name=value, or
-- name[key]=value for each key of an object (deepObject).
local function on_the_wire(entry, pname, v)
  local q = query_of(entry)
  if type(v) == "table" and not is_array(v) then
    for k, val in pairs(v) do
      if q[("%s[%s]"):format(pname, k)] ~= tostring(val) then return false end
    end
    return true
  end
  if type(v) == "table" then     -- an array: name=a (form, exploded) or name[]=a, what the SDKs send
    v = v[1]
    return q[pname] == tostring(v) or q[pname .. "[]"] == tostring(v)
  end
  return q[pname] == tostring(v)
end

-- Candidate values for a query parameter, from its schema: every enum value;
-- bounds and default of a number; both booleans; a filter object; an ID.
local function candidates(pschema)
  local s = resolve(pschema)
  for _, b in ipairs(s.anyOf or s.oneOf or {}) do
    local r = resolve(b)
    if r.type ~= "null" then s = r break end
  end
  if type(s.enum) == "table" and #s.enum > 0 then
    local out = {}
    for _, v in ipairs(s.enum) do if v ~= null then out[#out + 1] = v end end
    return out
  end
  local t = types_of(s)[1]
  if t == "integer" or t == "number" then
    local out, seen = {}, {}
    for _, v in ipairs { s.default or 20, s.minimum or 1, s.maximum or 100 } do
      if type(v) == "number" and not seen[v] and v >= (s.minimum or -math.huge) and v <= (s.maximum or math.huge) then
        seen[v] = true
        out[#out + 1] = math.tointeger(v) or v
      end
    end
    return out
  elseif t == "boolean" then
    return { true, false }
  elseif t == "array" then
    return { { candidates(s.items or {})[1] } }
  elseif t == "object" then
    -- A filter such as metadata[key]=value; the value has URL syntax in it.
    return { { conformance_key = "value with spaces&=/?" } }
  end
  return { "conf_cursor_123" }
end

-- Values the spec forbids, which a binding should refuse before sending.
local function forbidden(pschema)
  local s = resolve(pschema)
  if type(s.enum) == "table" and #s.enum > 0 then return { "conformance_not_in_enum" } end
  local out = {}
  if type(s.minimum) == "number" then out[#out + 1] = math.tointeger(s.minimum - 1) or s.minimum - 1 end
  if type(s.maximum) == "number" then out[#out + 1] = math.tointeger(s.maximum + 1) or s.maximum + 1 end
  return out
end

-- Whether a binding's validator (lua/lib/api/resources.lua) takes a value.
local function accepts(validator, v)
  local okc, ok = pcall(validator, v)
  return okc and ok == true
end

local function show(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "table" then
    if is_array(v) then return "{" .. show(v[1]) .. "}" end
    local k = next(v)
    return "{" .. tostring(k) .. "=" .. show(v[k]) .. "}"
  end
  return tostring(v)
end

local function client(mode, key, wait)
  return runctl.client { api_key = key or DUMMY_KEY, admin_key = key or DUMMY_KEY, base_url = PROXY .. "/" .. mode, max_retries = 0,
                         organization = "org-conformance", project = "proj_conformance", timeout = 60,
                         -- Prism answers 429 to every attempt: a paced client waits at most 1 s
                         max_rate_limit_wait = wait or 1 }
end

local static = client("static")
local dynamic = client("dynamic")
-- A 429 paces the account (its key and base URL): each 429 probe gets a key
-- of its own, so the pause it causes holds up no other call.
local probes = 0
local function for_code(c, mode, code)
  if code ~= "429" then return c end
  probes = probes + 1
  return client(mode, DUMMY_KEY .. "-429-" .. probes, 0.05)
end

-- Every method of every resource, in a stable order.
local methods = {}
for _, rname in ipairs(sorted_keys(RESOURCES)) do
  local rdef = RESOURCES[rname]
  for _, mname in ipairs(sorted_keys(rdef.methods)) do
    local def = rdef.methods[mname]
    local op = OPS[op_key(def[1], def[2])]
    local spec_params = {}
    for _, p in ipairs(op and op.params or {}) do spec_params[p["in"] .. ":" .. p.name] = p end
    local _, ok_resp = success(op or { responses = {} })
    methods[#methods + 1] = {
      rname = rname, mname = mname, where = rname .. "." .. mname, verb = def[1], template = def[2],
      params = def.params, beta = rdef.beta, rdef = rdef, ids = path_params(def[2]),
      op = op, spec_params = spec_params, schema = ok_resp and ok_resp.schema,
    }
  end
end

-- The optional fields (documented, not required) of a schema's own properties.
local function optional_fields(schema)
  local s = resolve(schema)
  local required, out = {}, {}
  for _, name in ipairs(s.required or {}) do required[name] = true end
  for _, name in ipairs(sorted_keys(s.properties or {})) do
    if not required[name] then out[#out + 1] = name end
  end
  return out
end

-- Headers that ask proxy.js to leave out some optional fields (dynamic only):
-- of the answer, and of a list page's items.
for _, m in ipairs(methods) do
  if m.schema then
    local data = resolve(m.schema).properties and resolve(m.schema).properties.data
    local items = data and resolve(data).items
    local top, inner = optional_fields(m.schema), items and optional_fields(items) or {}
    if #top > 0 or #inner > 0 then
      m.drop_headers = { ["X-Conformance-Drop"] = table.concat(top, ","),
                         ["X-Conformance-Drop-Items"] = table.concat(inner, ",") }
    end
  end
end

-- Calls a bound method: fn(ids..., [params,] opts).
-- params with a value for each query parameter the spec requires (the
-- costs and usage listings' start_time) that params leaves out.
local function with_required(m, params)
  local out = {}
  for k, v in pairs(params or {}) do out[k] = v end
  for _, p in ipairs(m.op and m.op.params or {}) do
    if p.required and p["in"] == "query" and out[p.name] == nil and m.params[p.name] then
      for _, v in ipairs(candidates(p.schema)) do
        if accepts(m.params[p.name], v) then out[p.name] = v break end
      end
    end
  end
  return (next(out) ~= nil or params ~= nil) and out or nil
end

local function call(c, m, ids, params, opts)
  local fn = bound(c, m.rname)[m.mname]
  local n = #m.ids
  local args = table.move(ids, 1, n, 1, {})
  if m.params then
    args[n + 1], args[n + 2] = with_required(m, params), opts
    return fn(table.unpack(args, 1, n + 2))
  end
  args[n + 1] = opts
  return fn(table.unpack(args, 1, n + 1))
end

local function ids_for(m, i)
  local ids = {}
  for k, name in ipairs(m.ids) do ids[k] = sample_id(name, i) end
  return ids
end

-- Some value of every parameter the binding takes, as a script would send them.
local function some_params(m, pick)
  if not m.params then return nil end
  local params = {}
  for _, pname in ipairs(sorted_keys(m.params)) do
    local p = m.spec_params["query:" .. pname]
    if p then
      local cands = {}
      for _, v in ipairs(candidates(p.schema)) do
        if accepts(m.params[pname], v) then cands[#cands + 1] = v end
      end
      if #cands > 0 then params[pname] = cands[(pick or 0) % #cands + 1] end
    end
  end
  return params
end

local function first_lines(list, n)
  local out = table.move(list, 1, math.min(#list, n), 1, {})
  if #list > n then out[#out + 1] = ("... and %d more"):format(#list - n) end
  return table.concat(out, "\n")
end

---------------------------------------------------------------------- self-test of the harness

print(("# spec: %s %s (OpenAPI %s), %d operations; %d bindings declared in lua/lib/api/resources.lua")
      :format(tostring(spec.title), tostring(spec.version), tostring(spec.openapi), #spec.ops, #methods))
T.ok(#methods > 0, "lua/lib/api/resources.lua declares bindings to drive")
do
  -- Proves that Prism validates requests here, so a pass below means something.
  local resp = http.request { url = PROXY .. "/static/threads/thread_conf/runs?order=sideways",
                              headers = { Authorization = "Bearer " .. DUMMY_KEY } }
  T.is(resp and resp.status, 422, "harness: Prism refuses an invalid request (order=sideways) with 422")
  resp = http.request { url = PROXY .. "/static/threads/thread_conf/runs" }
  T.is(resp and resp.status, 401, "harness: Prism refuses a request without credentials with 401")
end

-- The checks below must be able to fail: a mangled copy of a good answer is caught.
do
  local m
  for _, cand in ipairs(methods) do
    if cand.op and cand.schema and #cand.ids > 0 then m = cand break end
  end
  local obj, _, resp
  if m then obj, _, resp = call(static, m, ids_for(m)) end
  local required = obj and resolve(m.schema).required
  if required and #required > 0 and #judge(obj, resp, m.schema).failures == 0 then
    local name = required[1]
    local saved = obj[name]
    obj[name] = nil
    local r = judge(obj, resp, m.schema)
    T.ok(#r.failures >= 2, ("harness: an answer decoded without its field '%s' is caught (%s)"):format(name, m.where),
         first_lines(r.failures, 3))
    obj[name] = type(saved) == "string" and 12345 or "changed type"
    r = judge(obj, resp, m.schema)
    T.ok(#r.failures >= 1, ("harness: an answer with '%s' decoded as another type is caught"):format(name))
    obj[name] = saved
  else
    T.ok(false, "harness: found an answer to mangle", m and m.where or "no method with a schema")
  end
end

---------------------------------------------------------------------- static phase

-- Checks one static call: accepted by Prism, decoded faithfully, documented shape.
local function expect_ok(m, label, obj, err, resp)
  local entry = not obj and log_entry(err and err.request_id)
  if not T.ok(obj ~= nil, ("%s: %s passes Prism's validation"):format(m.where, label),
              tostring(err) .. "\n" .. verdict(entry)) then
    return false
  end
  local r = judge(obj, resp, m.schema)
  T.ok(#r.failures == 0, ("%s: %s: the answer decodes faithfully and the request draws no finding")
       :format(m.where, label), first_lines(r.failures, 6))
  if r.shape == "clean" then
    T.ok(true, ("%s: %s: the answer has the documented shape of %s"):format(m.where, label, ref_name(m.schema)))
  elseif r.shape then
    T.ok(true, ("%s: %s: the answer has the documented shape # SKIP Prism's own example for %s is outside the schema (%d findings)")
               :format(m.where, label, ref_name(m.schema), r.findings))
  end
  return true, resp
end

local function static_method(m)
  local op = m.op
  T.ok(m.schema ~= nil, ("%s: the spec documents a JSON success answer"):format(m.where))

  -- Parameters: each one the binding takes is one the spec knows, and
  -- every one the spec requires is one the binding sends.
  for _, pname in ipairs(sorted_keys(m.params or {})) do
    T.ok(m.spec_params["query:" .. pname] ~= nil,
         ("%s: parameter '%s' is a query parameter of %s"):format(m.where, pname, tostring(op.operation_id)))
  end
  local missing = {}
  for _, p in ipairs(op.params) do
    if p.required and (p["in"] == "header" or p["in"] == "query" and not (m.params and m.params[p.name])) then
      missing[#missing + 1] = p["in"] .. " " .. p.name
    end
  end
  T.ok(#missing == 0, ("%s: sends every parameter the spec requires"):format(m.where),
       "not sent: " .. table.concat(missing, ", "))
  local optional = {}
  for _, p in ipairs(op.params) do
    if not p.required and p["in"] == "query" and not (m.params and m.params[p.name]) then
      optional[#optional + 1] = p.name
    end
  end
  if #optional > 0 then
    print(("# note: %s takes no params for the spec's optional query parameters %s (opts.query can send them)")
          :format(m.where, table.concat(optional, ", ")))
  end

  -- The plain call, and what went on the wire.
  local obj, err, resp = call(static, m, ids_for(m))
  if expect_ok(m, "the plain request", obj, err, resp) then
    local entry = log_entry(resp.request_id) or { headers = {} }
    T.is(entry.headers.authorization, "Bearer <redacted>",
         m.where .. ": the request carries the bearer credentials the spec's security asks for")
    T.is(entry.headers["openai-beta"], m.beta, m.where .. ": OpenAI-Beta is " .. tostring(m.beta or "absent"))
  end

  -- An ID full of URL syntax stays one segment and reaches the same operation.
  local ids = ids_for(m)
  if #ids > 0 then
    ids[#ids] = ODD_ID
    obj, err, resp = call(static, m, ids)
    local entry = log_entry(resp and resp.request_id or err and err.request_id)
    local segment
    if entry then
      local got, want = split_path(entry.target:match("^[^?]*")), split_path(m.template)
      if #got == #want then
        for i = #want, 1, -1 do
          if want[i]:match("^{[%w_]+}$") then segment = got[i] break end
        end
      end
    end
    T.ok(obj ~= nil and segment ~= nil and unescape(segment) == ODD_ID,
         ("%s: an ID with '/', '?', '#', '%%' and spaces stays one path segment of the same operation")
         :format(m.where), tostring(err) .. "\n" .. verdict(entry))
  end

  -- Each query parameter with every value the binding accepts; values the
  -- spec forbids must be refused before anything is sent.
  for _, pname in ipairs(sorted_keys(m.params or {})) do
    local p = m.spec_params["query:" .. pname]
    if p then
      local sent, refused, failures = {}, {}, {}
      for _, v in ipairs(candidates(p.schema)) do
        local okc, o, e, r = pcall(call, static, m, ids_for(m), { [pname] = v })
        if not okc then
          refused[#refused + 1] = show(v)
        elseif o then
          sent[#sent + 1] = show(v)
          for _, f in ipairs(judge(o, r, m.schema).failures) do failures[#failures + 1] = show(v) .. ": " .. f end
          local en = log_entry(r.request_id)
          if not on_the_wire(en, pname, v) then
            failures[#failures + 1] = ("%s: not on the wire as the spec's style says: %s")
                                      :format(show(v), tostring(en and en.target))
          end
        else
          failures[#failures + 1] = show(v) .. ": " .. tostring(e) .. "\n" .. verdict(log_entry(e.request_id))
        end
      end
      T.ok(#sent > 0 and #failures == 0,
           ("%s: %s=%s passes Prism's validation"):format(m.where, pname, table.concat(sent, "|")),
           first_lines(failures, 6) .. (#refused > 0 and ("\nrefused by runctl: " .. table.concat(refused, ", ")) or ""))
      for _, v in ipairs(forbidden(p.schema)) do
        local okc = pcall(call, static, m, ids_for(m), { [pname] = v })
        T.ok(not okc, ("%s: %s=%s, which the spec forbids, raises before sending"):format(m.where, pname, show(v)),
             "it was sent")
      end
    end
  end
  if m.params then
    obj, err, resp = call(static, m, ids_for(m), some_params(m))
    expect_ok(m, "every parameter at once", obj, err, resp)
  end

  -- Every error status the spec declares becomes an api error with its message.
  for _, code in ipairs(sorted_keys(op.responses)) do
    if code:match("^[45]%d%d$") then
      obj, err = call(for_code(static, "static", code), m, ids_for(m), nil, { headers = { Prefer = "code=" .. code } })
      local documented = op.responses[code].schema ~= nil
      -- (a 429 paces the client; one answered 429 throughout ends "rate_limited")
      local kind = code == "429" and "rate_limited" or "api"
      T.ok(obj == nil and runctl.is_error(err) and err.kind == kind and err.status == tonumber(code)
           and (err.request_id ~= nil or kind == "rate_limited") and (not documented or err.message ~= "HTTP " .. code),
           ("%s: a documented %s answer becomes err{kind=\"api\", status=%s} with the body's message")
           :format(m.where, code, code), tostring(err))
      local entry = log_entry(err and err.request_id) or { headers = {} }
      if code == "429" then   -- a paced 429 ends without a request_id to look up
        entry = { headers = { authorization = "Bearer <redacted>", prefer = "code=429" } }
      end
      T.ok(entry.headers.authorization == "Bearer <redacted>" and entry.headers.prefer == "code=" .. code
           and #(entry.duplicate_headers or {}) == 0,
           ("%s: a call with opts.headers sends them once, beside the client's own"):format(m.where),
           ("authorization %s, prefer %s, sent twice: %s"):format(tostring(entry.headers.authorization),
           tostring(entry.headers.prefer), table.concat(entry.duplicate_headers or {}, ", ")))
    end
  end

  -- The same operation through c:request.
  local path = m.template:gsub("{([%w_]+)}", function(name) return runctl.escape_id(sample_id(name)) end)
  obj, err, resp = static:request { method = m.verb, path = path, beta = m.beta,
                                    query = m.params and with_required(m, nil) or nil }
  expect_ok(m, ("c:request{%s %s}"):format(m.verb, m.template), obj, err, resp)

  -- each: pages through with after=<cursor>; capped, since examples repeat.
  if m.rdef.paginate == m.mname then
    local where = m.rname .. ".each"
    local before = log_tail(1).count
    local items = 0
    local args = ids_for(m)
    args[#m.ids + 1] = {}
    local okc, e = pcall(function()
      for _ in bound(static, m.rname).each(table.unpack(args, 1, #m.ids + 1)) do
        items = items + 1
        if items >= 5 then break end
      end
    end)
    T.ok(okc, ("%s: iterates the example pages (%d items) without an error"):format(where, items), tostring(e))
    local bad, prev = {}, nil
    for _, en in ipairs(log_tail(20).entries) do
      if en.seq > before then
        if en.status ~= 200 or (en.findings and en.findings.request or 0) > 0 then bad[#bad + 1] = verdict(en) end
        if prev then
          local page = json.decode(prev.response_body) or {}
          local last = type(page.data) == "table" and page.data[#page.data]
          local cursor = page.last_id ~= null and page.last_id or type(last) == "table" and last.id
          if query_of(en).after ~= cursor then
            bad[#bad + 1] = ("%s: after= is not the previous page's cursor %s"):format(en.target, tostring(cursor))
          end
        end
        prev = en
      end
    end
    T.ok(#bad == 0, where .. ": every page request passes Prism's validation and continues after the last cursor",
         first_lines(bad, 5))
  end

  -- wait: the example status may be a waiting one; then the deadline ends it.
  if m.rdef.wait and m.rdef.wait.using == m.mname then
    local args = ids_for(m)
    args[#m.ids + 1] = { timeout = 0.3, interval = 0.05 }
    local o, e = bound(static, m.rname).wait(table.unpack(args, 1, #m.ids + 1))
    T.ok(o ~= nil and not m.rdef.wait.while_status[o.status] or (e and e.kind == "timeout"),
         m.rname .. ".wait: polls the example until it is done or the deadline passes", tostring(e))
  end
end

for _, m in ipairs(methods) do
  print(("# %s: %s %s"):format(m.where, m.verb, m.template))
  if T.ok(m.op ~= nil, ("%s: %s %s is an operation of the spec"):format(m.where, m.verb, m.template)) then
    static_method(m)
  end
end

-- A value built from a request schema's required fields: first enum value,
-- first alternative, smallest number; enough for Prism to validate a body.
local function example_of(schema, depth)
  depth = (depth or 0) + 1
  local s = resolve(schema)
  if depth > 12 then return null end
  if type(s.enum) == "table" and s.enum[1] ~= nil then return s.enum[1] end
  if s.const ~= nil then return s.const end
  for _, b in ipairs(s.anyOf or s.oneOf or {}) do
    if resolve(b).type ~= "null" then return example_of(b, depth) end
  end
  local t
  for _, x in ipairs(types_of(s)) do if x ~= "null" then t = x break end end
  if t == "object" or (not t and (s.properties or s.required or s.allOf)) then
    local out = {}
    for _, b in ipairs(s.allOf or {}) do
      local part = example_of(b, depth)
      if type(part) == "table" then for k, v in pairs(part) do out[k] = v end end
    end
    for _, name in ipairs(s.required or {}) do
      out[name] = example_of(s.properties and s.properties[name] or {}, depth)
    end
    return out
  elseif t == "array" then
    return json.array { example_of(s.items or {}, depth) }
  elseif t == "integer" or t == "number" then
    return math.tointeger(s.minimum or 1) or s.minimum
  elseif t == "boolean" then
    return true
  end
  return "conf_value"
end

-- c:request with a JSON body: Prism validates the body and its Content-Type.
do
  local create = OPS["POST /batches"]
  local schema = create and create.request_body ~= null and create.request_body and create.request_body.schema
  if T.ok(schema ~= nil, "the spec has POST /batches with a JSON request body") then
    local body = example_of(schema)
    local obj, err, resp = static:request { method = "POST", path = "/batches", body = body }
    local entry = log_entry(resp and resp.request_id or err and err.request_id)
    T.ok(obj ~= nil and findings(resp) == 0, ("c:request: a JSON body (POST /batches with %s) passes Prism's validation")
         :format(json.encode(body)), tostring(err) .. "\n" .. verdict(entry))
    T.is(entry and entry.headers["content-type"], "application/json", "c:request: a table body goes out as application/json")
    obj, err = static:request { method = "POST", path = "/batches", body = {} }
    T.is(err and err.status, 422, "harness: Prism refuses a body without its required fields with 422")
  end
end

---------------------------------------------------------------------- dynamic phase

-- The mutations proxy.js made must come through unchanged.
local function check_mutations(obj, mutated, r)
  if not mutated then return end
  local targets = { obj }
  for _, item in ipairs(type(obj.data) == "table" and obj.data or {}) do
    if type(item) == "table" then targets[#targets + 1] = item end
  end
  if mutated:find("status", 1, true) then
    r.unknown = true
    for _, t in ipairs(targets) do
      if t.status ~= nil and t.status ~= UNKNOWN_STATUS then
        r.failures[#r.failures + 1] = "an unknown status did not come through unchanged"
      end
    end
  end
  if mutated:find("text", 1, true) then
    r.text = true
    local text, n = obj.x_conformance_text, obj.x_conformance_numbers
    if text ~= "caf\u{e9} \u{1F600} nul\0 tab\t \"q\" \\ /" then
      r.failures[#r.failures + 1] = ("a string with JSON escapes decoded as %q"):format(tostring(text))
    end
    if not (type(n) == "table" and math.type(n[1]) == "integer" and n[1] == 9007199254740991
            and math.type(n[2]) == "integer" and n[2] == 2 and math.type(n[3]) == "float" and n[3] == 1e-7
            and n[4] == 0 and n[5] == -12500) then
      r.failures[#r.failures + 1] = "numbers spelled 9007199254740991, 2.0, 1e-7, -0, -12.5e3 decoded wrongly"
    end
  end
  if mutated:find("extra", 1, true) then
    for _, t in ipairs(targets) do
      local x = t.x_conformance_extra
      if not (type(x) == "table" and type(x.nested) == "table" and x.nested[2] == null
              and type(x.nested[4]) == "table" and x.nested[4].deep == true and x.ratio == 0.5) then
        r.failures[#r.failures + 1] = "an extra field was lost or changed"
      end
    end
  end
end

local function dynamic_method(m)
  local op = m.op
  local total = { nulls = 0, missing = 0, extra = 0, unknown = 0, text = 0, dropped = 0, clean = 0, prism = 0,
                  unverified = 0 }
  local problems = {}
  local list = {}
  for i = 1, N do list[i] = i end
  task.map(list, function(i)
    local okc, obj, err, resp = pcall(call, dynamic, m, ids_for(m, i), some_params(m, i),
                                      m.drop_headers and { headers = m.drop_headers })
    if not okc then
      problems[#problems + 1] = ("#%d raised: %s"):format(i, tostring(obj))
    elseif not obj then
      problems[#problems + 1] = ("#%d: %s\n%s"):format(i, tostring(err), verdict(log_entry(err.request_id)))
    else
      local r = judge(obj, resp, m.schema)
      check_mutations(obj, resp.headers["x-conformance-mutated"], r)
      total.nulls, total.missing, total.extra = total.nulls + r.ctx.nulls, total.missing + r.ctx.missing,
                                                 total.extra + r.ctx.extra
      if r.unknown then total.unknown = total.unknown + 1 end
      if r.text then total.text = total.text + 1 end
      if (resp.headers["x-conformance-mutated"] or ""):find("drop", 1, true) then total.dropped = total.dropped + 1 end
      if r.shape then total[r.shape] = total[r.shape] + 1 end
      if #r.failures > 0 then
        local entry = log_entry(resp.request_id)
        problems[#problems + 1] = ("#%d (%s): %s\n  answer: %s"):format(i, resp.request_id,
          table.concat(r.failures, "; "), entry and tostring(entry.response_body):sub(1, 600) or "?")
      end
    end
    return true
  end, { concurrency = 8 })
  T.ok(#problems == 0, ("%s: %d random answers decode faithfully (%d nulls, %d optional fields missing, "
                        .. "%d extra fields, %d unknown statuses, %d with escapes and odd numbers, "
                        .. "%d with optional fields left out)")
       :format(m.where, N, total.nulls, total.missing, total.extra, total.unknown, total.text, total.dropped),
       first_lines(problems, 5))
  if m.schema then
    print(("# %s: %d answers had the documented shape of %s; %d were outside it where Prism itself said so; "
           .. "%d unverifiable (Prism cut its findings short)")
          :format(m.where, total.clean, ref_name(m.schema), total.prism, total.unverified))
  end

  -- Random error bodies for every documented error status.
  for _, code in ipairs(sorted_keys(op.responses)) do
    if code:match("^[45]%d%d$") then
      local bad = {}
      local count = math.max(10, N // 10)
      for i = 1, count do
        local okc, obj, err = pcall(call, for_code(dynamic, "dynamic", code), m, ids_for(m, i), nil,
                                    { headers = { Prefer = "code=" .. code } })
        if not okc then
          bad[#bad + 1] = "raised: " .. tostring(obj)
        elseif obj or not runctl.is_error(err) or err.status ~= tonumber(code) or type(err.message) ~= "string"
               or not pcall(tostring, err) then
          bad[#bad + 1] = ("#%d: %s"):format(i, tostring(err))
        end
      end
      T.ok(#bad == 0, ("%s: %d random %s bodies become api errors with a message"):format(m.where, count, code),
           first_lines(bad, 5))
    end
  end

  -- each over random pages: has_more and the cursor drive it; it must end.
  if m.rdef.paginate == m.mname then
    local bad, seen, runs = {}, 0, math.max(10, N // 6)
    local idx = {}
    for i = 1, runs do idx[i] = i end
    task.map(idx, function(i)
      local args = ids_for(m, i)
      args[#m.ids + 1] = {}
      local okc, e = pcall(function()
        local count = 0
        for item in bound(dynamic, m.rname).each(table.unpack(args, 1, #m.ids + 1)) do
          if type(item) ~= "table" then error("an item is " .. describe(item)) end
          count, seen = count + 1, seen + 1
          if count >= 30 then break end
        end
      end)
      if not okc then bad[#bad + 1] = ("#%d: %s"):format(i, tostring(e)) end
      return true
    end, { concurrency = 4 })
    T.ok(#bad == 0, ("%s: %d paginations over random pages (%d items) without an error")
         :format(m.rname .. ".each", runs, seen), first_lines(bad, 5))
  end

  -- wait over random statuses: ends with a status outside the waiting set.
  if m.rdef.wait and m.rdef.wait.using == m.mname then
    local bad, unknown, runs = {}, 0, math.max(10, N // 3)
    local idx = {}
    for i = 1, runs do idx[i] = i end
    task.map(idx, function(i)
      local args = ids_for(m, i)
      args[#m.ids + 1] = { timeout = 30, interval = 0.001 }
      local okc, o, e = pcall(bound(dynamic, m.rname).wait, table.unpack(args, 1, #m.ids + 1))
      if not okc then bad[#bad + 1] = ("#%d raised: %s"):format(i, tostring(o))
      elseif not o then bad[#bad + 1] = ("#%d: %s"):format(i, tostring(e))
      elseif m.rdef.wait.while_status[o.status] then bad[#bad + 1] = ("#%d returned while %s"):format(i, tostring(o.status))
      elseif o.status == UNKNOWN_STATUS then unknown = unknown + 1 end
      return true
    end, { concurrency = 8 })
    T.ok(#bad == 0, ("%s: %d waits over random statuses end (%d on an unknown status)")
         :format(m.rname .. ".wait", runs, unknown), first_lines(bad, 5))
  end
end

print(("# dynamic phase: %d random answers per endpoint"):format(N))
for _, m in ipairs(methods) do
  if m.op then dynamic_method(m) end
end

local tail = log_tail(1)
print(("# %d requests went through Prism; %d answers were generated again after Prism's generator failed")
      :format(tail.count, tail.regenerated or 0))
T.done()
