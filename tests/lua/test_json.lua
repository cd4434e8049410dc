-- tests/lua/test_json.lua — json.encode/decode: shapes, null, arrays, errors.
local T = require "helper"

T.is(json.encode({ b = 1, a = "x" }), '{"a":"x","b":1}', "objects encode with sorted keys")
T.is(json.encode({ 1, 2, 3 }), "[1,2,3]", "sequences encode as arrays")
T.is(json.encode({}), "{}", "an empty table is an object")
T.is(json.encode(json.array()), "[]", "json.array() is [] even when empty")
T.is(json.encode(json.array({ 1 })), "[1]", "json.array(t) marks t")
T.is(json.encode({ a = json.null }), '{"a":null}', "json.null encodes as null")
T.is(json.encode("a\"b\\c\n\1"), '"a\\"b\\\\c\\n\\u0001"', "strings are escaped")
T.is(json.encode(1.5), "1.5", "floats")
T.is(json.encode(3.0), "3", "whole floats encode as integers")
T.is(json.encode(true), "true", "booleans")
local v, err = json.encode({ [1] = "a", x = "b" })
T.ok(v == nil and err:find("keys must be strings"), "mixed tables are refused with a reason", err)
-- JSON has no NaN or infinity: null, as JSON.stringify writes them, so a
-- report line about an object holding 1e999 is never lost (issue 25).
T.is(json.encode(0 / 0), "null", "NaN encodes as null")
T.is(json.encode({ a = math.huge, b = -math.huge, c = 1 }), '{"a":null,"b":null,"c":1}', "infinities encode as null")
T.is(json.encode(json.decode('{"n":1e999}')), '{"n":null}', "a decoded 1e999 encodes back as null")
-- Bytes that are not UTF-8 become U+FFFD: the output is always valid UTF-8.
T.is(json.encode("a\xff\x9bb"), '"a\xef\xbf\xbd\xef\xbf\xbdb"', "invalid UTF-8 bytes become U+FFFD")
T.is(json.encode("\xe2\x82"), '"\xef\xbf\xbd\xef\xbf\xbd"', "a cut sequence: one U+FFFD per byte")
T.is(json.encode("caf\xc3\xa9 \xf0\x9f\x98\x80"), '"caf\xc3\xa9 \xf0\x9f\x98\x80"', "valid UTF-8 is unchanged")
T.is(json.encode({ ["k\xff"] = 1 }), '{"k\xef\xbf\xbd":1}', "keys too")
local cyc = {} cyc.self = cyc
v, err = json.encode(cyc)
T.ok(v == nil and err:find("cycle"), "cycles are refused", err)
v, err = json.encode(print)
T.ok(v == nil and err:find("cannot encode a function"), "functions are refused", err)

local d = json.decode('{"a":[1,2,{"b":null}],"n":1700000000,"f":0.25}')
T.is(d.a[3].b, json.null, "null decodes to json.null")
T.is(math.type(d.n), "integer", "whole numbers decode as integers")
T.is(d.f, 0.25, "fractions stay floats")
v, err = json.decode("{not json")
T.ok(v == nil and err:find("^invalid JSON"), "bad JSON returns nil, err", err)
v, err = json.decode("")
T.ok(v == nil and err ~= nil, "empty input returns nil, err")
T.raises(function() json.decode(nil) end, "string expected", "decode of a non-string raises")
T.is(json.decode("[]")[1], nil, "an empty array decodes to an empty table")
T.is(runctl.json, json, "runctl.json is the json module")

-- The fast decoder and lua-cjson must agree: every text decodes to the same
-- value (whole numbers below 2^53 as integers) or fails in both.
local cjson = require("cjson").new()
cjson.decode_invalid_numbers(false)
cjson.decode_max_depth(1000)
local function reference(text)
  local ok, value = pcall(cjson.decode, text)
  if not ok then return nil end
  local function fix(x)
    if math.type(x) == "float" and x == math.floor(x) and math.abs(x) < 2 ^ 53 then return math.tointeger(x) end
    if type(x) == "table" then for k, e in pairs(x) do x[k] = fix(e) end end
    return x
  end
  return fix(value)
end
local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then
    return a == b and math.type(a) == math.type(b) or (a ~= a and b ~= b)
  end
  if getmetatable(a) ~= getmetatable(b) then return false end
  for k, x in pairs(a) do if not same(x, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
local texts = {
  '{"a":[1,2,{"b":null}],"n":1700000000,"f":0.25}', '{"k":1,"k":2}', "[]", "{}", " [ ] ", "[[[[]]]]",
  '"plain"', '"esc \\" \\\\ \\/ \\b \\f \\n \\r \\t"', '"\\u00e9\\u20ac\\u0041"', '"\\ud83d\\ude00"', '"\\u0000"',
  '"\\ud800"', '"\\udc00x"', '"\\x"', '"\\u12"', '"tab\there"', '"nul\0"', "0", "-0", "-0.0", "1.0", "1e2",
  "1E+2", "1e-2", "2.5e400", "-1e400", "9007199254740991", "9007199254740992", "9007199254740993",
  "123456789012345", "1234567890123456", "12345678901234567890", "-123456789012345", "0.1", "01", "-",
  "1.", ".5", "+1", "0x10", "1e", "1e+", "NaN", "Infinity", "-Infinity", "nan", "inf", "true", "false", "null",
  "tru", "nulls", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":1}x", "{\"a\":1} ", "\t\r\n{}\n",
  "[1 2]", "{\"a\":[1,{\"b\":[true,false,null,\"x\"]}],\"c\":{}}", "", " ", "{}\0", '["\xff\xfe"]',
  '{"emoji":"\xf0\x9f\x98\x80","\\u00e9":1}', '[1,2,3,"a",{"x":[]}]', string.rep("[", 70) .. string.rep("]", 70),
  string.rep("[", 1001) .. string.rep("]", 1001), string.rep("[", 1000) .. string.rep("]", 1000),
  string.rep("[", 999) .. "{}" .. string.rep("]", 999), string.rep("[", 1000) .. "{}" .. string.rep("]", 1000),
  "[" .. string.rep("1,", 300000) .. "2]", "[" .. string.rep('"s",', 257) .. "[" .. string.rep("[1],", 300) .. "0]]",
  "{" .. string.rep('"k":1,', 300) .. '"z":[' .. string.rep("{},", 1000) .. '{}]}', '{"a":1,' .. string.rep('"a":2,', 600) .. '"a":3}',
  '"\\ud83d\\u0041"', '"\\ud83dx"', '"\\ud83d\\ude"', '"\\udbff\\udfff"', '"\\ud800\\udc00"',
  '{"":""}', '[-1,-1.5,1.25e3,3.0e0,1e15,1e16,-9007199254740992]',
}
for _, text in ipairs(texts) do
  local mine, why = json.decode(text)
  local theirs = reference(text)
  T.ok(same(mine, theirs) and (mine ~= nil or why ~= nil),
       "json.decode agrees with lua-cjson on " .. string.format("%q", text:sub(1, 60)), why)
end
-- Random texts built from the pieces above, and every cut of a real Run.
local run = '{"id":"run_1","object":"thread.run","created_at":1700000000,"status":"cancelling",'
  .. '"tools":[{"type":"file_search"}],"tool_resources":{},"metadata":{"job":"x\\n\\u00e9"},'
  .. '"temperature":1.0,"top_p":0.5,"usage":null,"parallel_tool_calls":true,"n":-12e-1}'
local disagree = 0
for cut = 0, #run do
  local text = run:sub(1, cut)
  if not same(json.decode(text), reference(text)) then disagree = disagree + 1 end
end
local pieces = { "{", "}", "[", "]", ",", ":", '"k"', '"v\\n"', "1", "-2.5", "1e3", "null", "true", " ", '"\\u00e9"' }
local rng = 12345
for _ = 1, 3000 do
  local parts = {}
  for i = 1, 1 + rng % 12 do
    rng = (rng * 1103515245 + 12345) % 2147483648
    parts[i] = pieces[1 + math.floor(rng / 256) % #pieces]   -- no >> on Lua 5.1
  end
  local text = table.concat(parts)
  if not same(json.decode(text), reference(text)) then disagree = disagree + 1 end
end
T.is(disagree, 0, "json.decode agrees with lua-cjson on every prefix of a Run and 3,000 random texts")
local d2 = json.decode(run)
T.ok(math.type(d2.created_at) == "integer" and math.type(d2.temperature) == "integer" and d2.top_p == 0.5
     and d2.n == -1.2 and d2.metadata.job == "x\n\195\169" and d2.usage == json.null and d2.tools[1].type == "file_search",
     "a Run decodes field by field")

T.done()
