/* lua/compat51.c — the parts of lua/compat51.h that are functions of their
 * own (Lua 5.1 / LuaJIT builds only): a task thread's closers, the preload
 * table. */
#include "host.h"

#if RC_LUA51

/* Runs lua/lib/compat.lua's close_thread(co) (the closers task.map and
 * task.each registered for co, newest first: 5.1 has no to-be-closed
 * variables) under protection, then drops what co still holds (a waiting
 * frame). An error in a closer is dropped, as lua_resetthread's status is. */
void rc_compat_closethread(lua_State *L, lua_State *co)
{
    luaL_checkstack(L, 4, "closing a task");
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "runctl.compat") == LUA_TTABLE &&
        lua_getfield(L, -1, "close_thread") == LUA_TFUNCTION) {
        if (lua_checkstack(co, 1)) {
            lua_pushthread(co);
            lua_xmove(co, L, 1);
            lua_pcall(L, 1, 0, 0);
        }
    }
    lua_settop(L, top);
    lua_settop(co, 0);
}

int rc_compat_table_pack(lua_State *L)
{
    int n = lua_gettop(L);
    lua_createtable(L, n, 1);
    lua_insert(L, 1);
    for (int i = n; i >= 1; i--)
        lua_rawseti(L, 1, i);
    lua_pushinteger(L, n);
    lua_setfield(L, 1, "n");
    return 1;
}

void rc_compat_open(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "package");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "preload");
        if (lua_istable(L, -1))
            lua_setfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
        else
            lua_pop(L, 1);
    }
    lua_pop(L, 2);
}

#endif
