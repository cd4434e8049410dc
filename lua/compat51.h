/* lua/compat51.h — the Lua 5.4 C API the module uses, on the Lua 5.1 API
 * (LuaJIT 2.1; PUC Lua 5.1 best effort). Debian's lua-compat53 gives the
 * 5.2/5.3 additions; this file adds the 5.4 ones: several user values per
 * userdata (kept in the userdata's environment table), lua_resume's result
 * count, lua_isyieldable, closing a task's thread. On Lua 5.2 and later it
 * only names the helpers host.c calls. Included by host.h after lauxlib.h.
 *
 * The one thing 5.1 cannot do is a continuation (lua_yieldk): there the wait
 * primitive (lua/host.c, rc_host_wait) yields its whole frame and the
 * scheduler computes the event's results on its own stack and resumes the
 * task with them (the model of OpenResty's cosockets). */
#ifndef RC_COMPAT51_H
#define RC_COMPAT51_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM >= 502

#define RC_LUA51 0
/* Closes t's pending to-be-closed variables and resets it (L: the host's). */
#define rc_compat_closethread(L, co) ((void)(L), (void)lua_resetthread(co))

#else /* Lua 5.1, LuaJIT */

#define RC_LUA51 1
#include <compat-5.3.h>     /* lua-compat53 (static copies, unused ones dropped) */

#ifndef LUA_LOADED_TABLE
#define LUA_LOADED_TABLE "_LOADED"
#endif
/* 5.1's require reads package.preload, not the registry: rc_compat_open links
 * the registry's _PRELOAD to it, so code written for 5.4 finds one table. */
#ifndef LUA_PRELOAD_TABLE
#define LUA_PRELOAD_TABLE "_PRELOAD"
#endif
#ifndef LUAI_MAXSTACK
#define LUAI_MAXSTACK 65500             /* LuaJIT's LJ_MAX_CSTACK order */
#endif

#ifndef LUA_INTEGER_FMT
#define LUA_INTEGER_FMT "%td"           /* lua_Integer is ptrdiff_t on 5.1 */
#endif
#if defined(__has_include)
#if __has_include(<luajit.h>)
#include <luajit.h>                     /* LUAJIT_VERSION, luaJIT_setmode */
#endif
#endif
#ifndef LUA_GCISRUNNING
#define LUA_GCISRUNNING 9               /* LuaJIT's; PUC 5.1 answers as running */
#endif

/* 5.4's lua_gc takes its arguments after what; 5.1's takes one int. */
static inline int rc_compat_gc(lua_State *L, int what, int data, ...)
{
#ifndef LUAJIT_VERSION
    if (what == LUA_GCISRUNNING)
        return 1;
#endif
    return (lua_gc)(L, what, data);
}
#define lua_gc(...) rc_compat_gc(__VA_ARGS__, 0)

/* User values: a table of them as the userdata's environment (5.1 gives
 * every userdata an environment, by default the globals: never read it
 * unless nuv > 0 put a table there). */
static inline void *rc_compat_newuserdatauv(lua_State *L, size_t size, int nuv)
{
    void *p = lua_newuserdata(L, size);
    if (nuv > 0) {
        lua_createtable(L, nuv, 0);
        lua_setfenv(L, -2);
    }
    return p;
}
#define lua_newuserdatauv rc_compat_newuserdatauv

/* [-0, +1] the n-th user value (nil when unset); returns its type. */
static inline int rc_compat_getiuservalue(lua_State *L, int idx, int n)
{
    lua_getfenv(L, idx);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return LUA_TNONE;
    }
    lua_rawgeti(L, -1, n);
    lua_remove(L, -2);
    return lua_type(L, -1);
}
#define lua_getiuservalue rc_compat_getiuservalue

/* [-1, +0] pops a value into the n-th user value; 0 when there is no table. */
static inline int rc_compat_setiuservalue(lua_State *L, int idx, int n)
{
    idx = lua_absindex(L, idx);
    lua_getfenv(L, idx);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 2);
        return 0;
    }
    lua_insert(L, -2);
    lua_rawseti(L, -2, n);
    lua_pop(L, 1);
    return 1;
}
#define lua_setiuservalue rc_compat_setiuservalue

/* 5.1's lua_resume leaves the results (or yielded values) as co's whole stack. */
static inline int rc_compat_resume(lua_State *co, lua_State *from, int nargs, int *nres)
{
    (void)from;
    int status = (lua_resume)(co, nargs);
    *nres = (status == 0 || status == LUA_YIELD) ? lua_gettop(co) : 0;
    return status;
}
#undef lua_resume
#define lua_resume rc_compat_resume

/* Whether L may yield: any coroutine but the main thread (LuaJIT yields
 * across pcall and metamethods; a C function that calls Lua raises
 * "attempt to yield across C-call boundary" instead, see docs). */
static inline int rc_compat_isyieldable(lua_State *L)
{
    int main = lua_pushthread(L);
    lua_pop(L, 1);
    return !main;
}
#define lua_isyieldable rc_compat_isyieldable

/* LuaJIT allocates a closure at every lua_pushcfunction, where 5.4 pushes a
 * light C function: out of memory (a sandbox at its limit) that would raise
 * outside any pcall in runctl_poll and the other entry points. Each C
 * function is made once and kept in the registry, keyed by its address. */
static inline void rc_compat_pushcfunction(lua_State *L, lua_CFunction f)
{
    void *key = (void *)(size_t)f;
    lua_pushlightuserdata(L, key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushcclosure(L, f, 0);
        lua_pushlightuserdata(L, key);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
}
#undef lua_pushcfunction
#define lua_pushcfunction rc_compat_pushcfunction

/* No to-be-closed variables in 5.1: runs the closers lua/lib/compat.lua
 * registered for co (task.map's guard), then drops what co still holds. */
void rc_compat_closethread(lua_State *L, lua_State *co);
/* table.pack(...) for a sandbox's scripts. */
int rc_compat_table_pack(lua_State *L);
/* Once per state, in runctl_openlibs: registry._PRELOAD = package.preload. */
void rc_compat_open(lua_State *L);
/* lua_ident is 5.4's: no embedded bytecode is ever used on 5.1. */
#define lua_ident ""

#endif /* LUA_VERSION_NUM */
#endif
