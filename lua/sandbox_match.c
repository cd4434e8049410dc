/* lua/sandbox_match.c — the library functions a sandbox checks: pattern
 * matching within a step budget, string.rep and table.move. */
#include "sandbox_int.h"
#include "../core/patcost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ pattern matching */

enum match_kind { MATCH_FIND, MATCH_MATCH, MATCH_GMATCH, MATCH_GSUB };
static const char *const match_names[] = { "find", "match", "gmatch", "gsub" };

/* The subject's part a match looks at (from init, as the library counts it),
 * or 0 when the arguments are not what the library takes (it then explains). */
static int match_subject(lua_State *L, int kind, const char **s, size_t *n)
{
    size_t len;
    int ok;
    if (!lua_isstring(L, 1) || !lua_isstring(L, 2))
        return 0;
    *s = lua_tolstring(L, 1, &len);
    lua_Integer init = 1;
    if (kind != MATCH_GSUB && !lua_isnoneornil(L, 3) && (init = lua_tointegerx(L, 3, &ok), !ok))
        return 0;
    if (init < 0)
        init = (lua_Integer)len + init + 1 > 0 ? (lua_Integer)len + init + 1 : 1;
    else if (init == 0)
        init = 1;
    size_t skip = (size_t)init - 1 < len ? (size_t)init - 1 : len;
    *s += skip;
    *n = len - skip;
    return 1;
}

/* 1 when an error message already names a position ("chunk:12: ..."): it
 * came from Lua code the library called back (a gsub replacement function). */
static int has_position(const char *msg)
{
    for (const char *p = msg; *p != '\0' && *p != '\n'; p++) {
        if (*p != ':' || p[1] < '0' || p[1] > '9')
            continue;
        const char *q = p + 1;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q[0] == ':' && q[1] == ' ')
            return 1;
    }
    return 0;
}

/* Calls the library's function lib.fn (upvalue 1) with the wrapper's
 * arguments and returns its results. An error the library itself raises
 * gets the script's position ("script:12: bad argument #1 to ..."), as it
 * would without the wrapper in between: a C function's error names the
 * position of whoever called it, here the wrapper, which has none. Errors
 * with a position already, or that are not text (a limit's trip), pass on
 * untouched. */
static int call_library(lua_State *L, const char *lib, const char *fn, int nresults)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, nresults, 0);
    if (status == LUA_OK)
        return lua_gettop(L);
    const char *msg = lua_tostring(L, -1);
    if (status == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING && !has_position(msg)) {
        const char *unnamed = strstr(msg, " to '?'");
        luaL_where(L, 1);                           /* err, where */
        if (unnamed != NULL) {                      /* the library could not tell its name */
            lua_pushlstring(L, msg, (size_t)(unnamed - msg));
            lua_pushfstring(L, " to '%s.%s'%s", lib, fn, unnamed + 7);
            lua_concat(L, 3);                       /* err, where .. head .. tail */
        } else {
            lua_pushvalue(L, -2);
            lua_concat(L, 2);                       /* err, where .. err */
        }
    }
    return lua_error(L);
}

/* string.find, match, gmatch and gsub for scripts, and for every string's
 * methods in a sandbox (upvalue 1: the library's function, 2: its kind).
 * During a run a match whose worst case exceeds PATTERN_BUDGET is refused
 * before it starts: backtracking can take minutes on a short string, in C,
 * where no limit can stop it. runctl's own code runs in the same state: it
 * is checked alike during a run, and only pays the extra call otherwise. */
static int checked_match(lua_State *L)
{
    rc_sandbox *sb = sbx_of(L);
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    const char *s;
    size_t n;
    if (sb != NULL && sb->active && match_subject(L, kind, &s, &n)) {
        size_t plen;
        const char *pat = lua_tolstring(L, 2, &plen);
        int plain = kind == MATCH_FIND && lua_toboolean(L, 4);
        double bytes = plen > 0 ? (double)plen : 1;
        /* A plain find compares the needle at every start: n + 1 paths. */
        double cost = bytes * (plain ? (double)n + 1
                               : rc_pattern_cost(pat, plen, s, n, kind != MATCH_GMATCH, PATTERN_BUDGET / bytes));
        if (cost > PATTERN_BUDGET &&
            cost > PATTERN_LINEAR * ((double)n + 1) * (plen < PATTERN_SHORT ? bytes : PATTERN_SHORT)) {
            char msg[300];
            snprintf(msg, sizeof msg, "sandbox: string.%s: pattern too costly (up to %.2g steps "
                     "on %zu characters, limit %.0g); %s", match_names[kind], cost, n, PATTERN_BUDGET,
                     plain ? "use a shorter needle"
                           : "use a plain find (4th argument true) or a pattern with fewer *, +, - and ? items");
            luaL_where(L, 1);     /* the caller's line */
            lua_pushstring(L, msg);
            lua_concat(L, 2);
            return lua_error(L);
        }
    }
    return call_library(L, "string", match_names[kind], LUA_MULTRET);
}

/* string.rep for scripts and string methods (upvalue: the library's): an
 * empty string repeated any number of times is "", at once. The library
 * would build it n times in C (every other result is as long as n, so the
 * memory limit bounds it). */
static int checked_rep(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING && lua_rawlen(L, 1) == 0 && lua_isnumber(L, 2) &&
        (lua_isnoneornil(L, 3) || (lua_type(L, 3) == LUA_TSTRING && lua_rawlen(L, 3) == 0))) {
        lua_pushliteral(L, "");
        return 1;
    }
    return call_library(L, "string", "rep", 1);
}

#define MOVE_MAX 10000000       /* elements one table.move may visit: holes cost no memory */

/* table.move for scripts (upvalue: the library's): a range of holes costs
 * no memory, so only a cap on its length keeps it from running for hours. */
int sbx_checked_move(lua_State *L)
{
    int ok_f, ok_e;
    lua_Integer f = lua_tointegerx(L, 2, &ok_f), e = lua_tointegerx(L, 3, &ok_e);
    if (ok_f && ok_e && e >= f && (lua_Unsigned)e - (lua_Unsigned)f >= MOVE_MAX)
        return luaL_error(L, "sandbox: table.move: at most %d elements at once", MOVE_MAX);
    return call_library(L, "table", "move", 1);
}

/* Registry STRING_KEY: the string library with checked matching and rep, which
 * scripts get as string and every string gets as its methods. */
void sbx_install_checked_matching(lua_State *L)
{
    lua_getglobal(L, "string");
    sbx_push_copy(L, -1, 0);
    for (int kind = MATCH_FIND; kind <= MATCH_GSUB; kind++) {
        lua_getfield(L, -2, match_names[kind]);
        lua_pushinteger(L, kind);
        lua_pushcclosure(L, checked_match, 2);
        lua_setfield(L, -2, match_names[kind]);
    }
    lua_getfield(L, -2, "rep");
    lua_pushcclosure(L, checked_rep, 1);
    lua_setfield(L, -2, "rep");
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
    lua_setfield(L, LUA_REGISTRYINDEX, STRING_KEY);
    lua_pop(L, 1);
}
