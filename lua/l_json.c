/* lua/l_json.c — the json module: decode with lua-cjson (numbers that are whole
 * become integers), encode here (sorted keys, json.array for [], json.null). */
#include "host.h"

#include <lua-cjson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_META "runctl.json.array"
#define BUFFER_META "runctl.json.buffer"
/* One nesting limit both ways: what decode accepts, encode can write back
 * (and integerize reaches every number of it). Recursion in C is bounded by it. */
#define MAX_DEPTH 1000

/* ---- decode ---- */

/* Turns whole floats into integers, recursively: cjson 2.1 yields only floats. */
static void integerize(lua_State *L, int idx, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    luaL_checkstack(L, 3, "json nesting");
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number n = lua_tonumber(L, -1);
            if (n == floor(n) && fabs(n) < 9007199254740992.0) {
                lua_pushvalue(L, -2);
                lua_pushinteger(L, (lua_Integer)n);
                lua_rawset(L, idx);
            }
        } else if (lua_type(L, -1) == LUA_TTABLE) {
            integerize(L, lua_gettop(L), depth + 1);
        }
        lua_pop(L, 1);
    }
}

/* json.decode(s) -> value | nil, err */
static int l_decode(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));  /* cjson's decode */
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        lua_pushnil(L);
        lua_pushfstring(L, "invalid JSON: %s", msg ? msg : "?");
        return 2;
    }
    if (lua_type(L, -1) == LUA_TTABLE)
        integerize(L, lua_gettop(L), 0);
    else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
        lua_Number n = lua_tonumber(L, -1);
        if (n == floor(n) && fabs(n) < 9007199254740992.0)
            lua_pushinteger(L, (lua_Integer)n);
    }
    return 1;
}

/* ---- encode ---- */

typedef struct json_buf {
    char *data;
    size_t len, cap;
} json_buf;

static int buffer_gc(lua_State *L)
{
    json_buf *b = luaL_checkudata(L, 1, BUFFER_META);
    free(b->data);
    b->data = NULL;
    return 0;
}

static void put(lua_State *L, json_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (data == NULL)
            luaL_error(L, "not enough memory");
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void put_string(lua_State *L, json_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(L, b, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
        }
        if (esc != NULL) {
            put(L, b, s + start, i - start);
            put(L, b, esc, strlen(esc));
            start = i + 1;
        }
    }
    put(L, b, s + start, n - start);
    put(L, b, "\"", 1);
}

static void encode(lua_State *L, json_buf *b, int idx, int depth);

/* 1 if the table at idx is a non-empty sequence 1..n with no other keys. */
static int is_sequence(lua_State *L, int idx, lua_Integer *n_out)
{
    lua_Integer n = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max)
            max = k;
        n++;
    }
    *n_out = n;
    return n > 0 && max == n;
}

static int compare_keys(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

static void encode_object(lua_State *L, json_buf *b, int idx, int depth)
{
    /* Collect and sort the keys so the output is deterministic. */
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "json.encode: object keys must be strings (found a %s key)",
                       luaL_typename(L, -1));
        n++;
    }
    const char **keys = lua_newuserdatauv(L, (n ? n : 1) * sizeof *keys, 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        keys[i++] = lua_tostring(L, -1);    /* anchored by the table itself */
    }
    qsort(keys, n, sizeof *keys, compare_keys);
    put(L, b, "{", 1);
    for (i = 0; i < n; i++) {
        if (i > 0)
            put(L, b, ",", 1);
        put_string(L, b, keys[i], strlen(keys[i]));
        put(L, b, ":", 1);
        lua_getfield(L, idx, keys[i]);
        encode(L, b, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    put(L, b, "}", 1);
    lua_pop(L, 1);  /* keys */
}

static void encode(lua_State *L, json_buf *b, int idx, int depth)
{
    char num[64];
    if (depth > MAX_DEPTH)
        luaL_error(L, "json.encode: nesting deeper than %d (is there a cycle?)", MAX_DEPTH);
    luaL_checkstack(L, 6, "json.encode");
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        put(L, b, "null", 4);
        return;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            put(L, b, "true", 4);
        else
            put(L, b, "false", 5);
        return;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            snprintf(num, sizeof num, LUA_INTEGER_FMT, lua_tointeger(L, idx));
        } else {
            lua_Number v = lua_tonumber(L, idx);
            if (isnan(v) || isinf(v))
                luaL_error(L, "json.encode: cannot encode NaN or infinity");
            if (v == floor(v) && fabs(v) < 1e15)
                snprintf(num, sizeof num, "%.0f", v);
            else
                snprintf(num, sizeof num, "%.17g", v);
        }
        put(L, b, num, strlen(num));
        return;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        put_string(L, b, s, n);
        return;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {   /* json.null */
            put(L, b, "null", 4);
            return;
        }
        break;
    case LUA_TTABLE: {
        lua_Integer n = 0;
        int marked = 0;
        if (lua_getmetatable(L, idx)) {
            luaL_getmetatable(L, ARRAY_META);
            marked = lua_rawequal(L, -1, -2);
            lua_pop(L, 2);
        }
        if (marked)
            n = (lua_Integer)lua_rawlen(L, idx);
        if (marked || is_sequence(L, idx, &n)) {
            put(L, b, "[", 1);
            for (lua_Integer i = 1; i <= n; i++) {
                if (i > 1)
                    put(L, b, ",", 1);
                lua_rawgeti(L, idx, i);
                encode(L, b, lua_gettop(L), depth + 1);
                lua_pop(L, 1);
            }
            put(L, b, "]", 1);
        } else {
            encode_object(L, b, idx, depth);
        }
        return;
    }
    default:
        break;
    }
    luaL_error(L, "json.encode: cannot encode a %s", luaL_typename(L, idx));
}

static int encode_protected(lua_State *L)
{
    json_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    luaL_setmetatable(L, BUFFER_META);
    encode(L, b, 1, 0);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    free(b->data);
    b->data = NULL;
    return 1;
}

/* json.encode(v) -> string | nil, err */
static int l_encode(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushcfunction(L, encode_protected);
    lua_insert(L, 1);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

/* json.array([t]) -> t marked to encode as a JSON array, even when empty. */
static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
    }
    luaL_setmetatable(L, ARRAY_META);
    return 1;
}

int luaopen_runctl_json(lua_State *L)
{
    luaL_newmetatable(L, ARRAY_META);
    lua_pop(L, 1);
    if (luaL_newmetatable(L, BUFFER_META)) {
        lua_pushcfunction(L, buffer_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);

    /* A private cjson instance: the user's own require "cjson" keeps its settings. */
#ifdef RUNCTL_SYSTEM_CJSON
    /* runctl.so inside a stock interpreter: the interpreter's own cjson module,
     * so the module neither links nor duplicates lua-cjson. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
#else
    luaL_requiref(L, "cjson", luaopen_cjson, 0);
#endif
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "decode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode_max_depth");
    lua_pushinteger(L, MAX_DEPTH);
    lua_call(L, 1, 0);
    int cj = lua_gettop(L);

    lua_createtable(L, 0, 4);
    lua_getfield(L, cj, "decode");
    lua_pushcclosure(L, l_decode, 1);
    lua_setfield(L, -2, "decode");
    lua_pushcfunction(L, l_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, l_array);
    lua_setfield(L, -2, "array");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 1;
}
