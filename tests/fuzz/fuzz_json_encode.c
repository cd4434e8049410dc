/* tests/fuzz/fuzz_json_encode.c — libFuzzer target for json.encode's limits
 * (lua/l_json.c) in a Lua state whose allocator holds a 1 MB limit, as a
 * sandbox's does: the input is a little program building a value (strings
 * of any bytes, any double including NaN and infinities, tables sharing
 * subtables many times over: exponential DAGs, json.array marks). Whatever
 * it builds, encoding ends (a value or "not enough memory"/an error, never a
 * crash or a leak), never holds more than the limit, and its output is
 * valid UTF-8 that json.decode reads back. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../../core/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int luaopen_runctl_json(lua_State *L);

#define LIMIT (1024 * 1024)
static size_t used;
/* While decoding the output back, nothing is refused: lua-cjson (decode's
 * fallback) leaks its buffer when a memory error unwinds it, which is
 * cjson's, not the encoder's (see the note in l_json.c's decode). */
static int unlimited;

static void *limited_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    (void)ud;
    if (p == NULL)
        osize = 0;
    if (nsize == 0) {
        free(p);
        used -= osize;
        return NULL;
    }
    if (nsize > osize && !unlimited && used + (nsize - osize) > LIMIT)
        return NULL;
    void *q = realloc(p, nsize);
    if (q != NULL)
        used = used - osize + nsize;
    return q;
}

/* Runs the input as a program on the stack above base (at most 64 values). */
static int build(lua_State *L)
{
    size_t n;
    const unsigned char *d = (const unsigned char *)lua_tolstring(L, 1, &n);
    lua_getfield(L, LUA_REGISTRYINDEX, "json");
    int json = lua_gettop(L), base = json;
    for (size_t i = 0; i < n;) {
        int top = lua_gettop(L) - base;
        unsigned op = d[i++];
        luaL_checkstack(L, 8, "fuzz_json_encode");     /* a C function has 20 free slots only */
        size_t k = i < n ? d[i] % 16 : 0;
        if (top >= 64)
            op = 3;                                 /* fold the stack */
        switch (op % 8) {
        case 0:                                     /* a string of the next k bytes */
            k = k > n - i ? n - i : k;
            lua_pushlstring(L, (const char *)d + i, k);
            i += k;
            break;
        case 1: {                                   /* any double: NaN, inf, ... */
            double v = 0;
            size_t m = n - i < sizeof v ? n - i : sizeof v;
            memcpy(&v, d + i, m);
            i += m;
            lua_pushnumber(L, v);
            break;
        }
        case 2:
            lua_pushinteger(L, (lua_Integer)k - 8);
            i++;
            break;
        case 3: case 4: {                           /* an array, or an object, of the top k values */
            i++;
            if ((int)k > top)
                k = (size_t)top;
            int first = lua_gettop(L) - (int)k + 1;
            lua_createtable(L, 0, 0);
            for (int j = 0; j < (int)k; j++) {
                lua_pushvalue(L, first + j);
                if (op % 8 == 3)
                    lua_rawseti(L, -2, j + 1);
                else
                    lua_setfield(L, -2, (const char[]){ (char)('a' + j), 0 });
            }
            lua_replace(L, first);                  /* the table where its first value was */
            lua_settop(L, first);
            break;
        }
        case 5:                                     /* the value k down, again: sharing */
            i++;
            if (top > 0)
                lua_pushvalue(L, -1 - (int)(k % (size_t)top));
            break;
        case 6:
            lua_pushlightuserdata(L, NULL);         /* json.null */
            break;
        default:                                    /* json.array mark on a table */
            if (top > 0 && lua_istable(L, -1)) {
                lua_getfield(L, json, "array");
                lua_pushvalue(L, -2);
                lua_call(L, 1, 1);
                lua_pop(L, 1);
            }
            break;
        }
    }
    if (lua_gettop(L) == base)
        lua_pushnil(L);
    lua_getfield(L, json, "encode");
    lua_pushvalue(L, -2);
    lua_call(L, 1, 2);                              /* s | nil, err */
    return 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    used = 0;
    lua_State *L = lua_newstate(limited_alloc, NULL);
    if (L == NULL)
        return 0;
    luaL_openlibs(L);
    lua_pushcfunction(L, luaopen_runctl_json);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK)
        abort();
    lua_setfield(L, LUA_REGISTRYINDEX, "json");
    lua_pushcfunction(L, build);
    lua_pushlstring(L, (const char *)data, size);
    int built = lua_pcall(L, 1, 2, 0) == LUA_OK;
    if (used > LIMIT)
        abort();                                    /* the encoder held no more than the limit */
    if (built && lua_type(L, -2) == LUA_TSTRING) {
        size_t n;
        const unsigned char *s = (const unsigned char *)lua_tolstring(L, -2, &n);
        for (size_t i = 0; i < n;) {
            size_t len = rc_text_utf8_len(s + i, n - i);
            if (len == 0)
                abort();                            /* the output must be valid UTF-8 */
            i += len;
        }
        lua_getfield(L, LUA_REGISTRYINDEX, "json");
        lua_getfield(L, -1, "decode");
        lua_pushvalue(L, -4);
        unlimited = 1;
        if (lua_pcall(L, 1, 2, 0) == LUA_OK && lua_isnil(L, -2) && strstr(lua_tostring(L, -1), "depth") == NULL &&
            strstr(lua_tostring(L, -1), "nest") == NULL)
            abort();                                /* what encode wrote, decode reads */
        unlimited = 0;
    }
    lua_close(L);
    return 0;
}
