/* lua/module.c — luaopen_runctl: runctl as a Lua C module (runctl.so) for a
 * stock interpreter. require "runctl" opens the engine into the state without
 * setting any global and returns the module table, plus poll() for loops
 * written in Lua. Built with RUNCTL_SYSTEM_CJSON (see l_json.c) and linked
 * without Lua: the interpreter provides both Lua and cjson. */
#include "host.h"

#include <math.h>

/* runctl.poll([seconds]) -> pending. Runs ready tasks and finished transfers,
 * waiting at most seconds (default 0: not at all; negative: until something
 * happens). For code that is not a task: a Lua frame loop, or the main chunk
 * of `lua script.lua` when it spawned tasks it does not join. */
static int l_poll(lua_State *L)
{
    rc_host *h = rc_host_get(L);
    lua_Number secs = luaL_optnumber(L, 1, 0);
    if (isnan(secs))
        return luaL_argerror(L, 1, "must be a number of seconds, not NaN");
    if (rc_host_in_task(h))
        return luaL_error(L, "runctl.poll: called from inside a task (tasks wait with "
                             "task.join or task.sleep; poll is for plain code)");
    int timeout_ms = secs < 0 ? -1 : secs > 86400 ? 86400 * 1000 : (int)ceil(secs * 1000);
    rc_host_step(h, L, timeout_ms);
    lua_pushinteger(L, rc_host_pending(h));
    return 1;
}

int luaopen_runctl(lua_State *L)
{
    /* One engine per state: a host may have opened runctl already. */
    lua_getfield(L, LUA_REGISTRYINDEX, RC_HOST_KEY);
    int open = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!open) {
        runctl_options o;
        runctl_options_init(&o);
        o.no_globals = 1;       /* a module never touches the interpreter's globals */
        if (runctl_openlibs(L, &o) != 0)
            return lua_error(L);
    }
    /* The module proper is the embedded runctl.lua, registered as a preload. */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    if (lua_getfield(L, -1, "runctl") != LUA_TFUNCTION)
        return luaL_error(L, "runctl: the embedded module is missing from package.preload");
    lua_pushliteral(L, "runctl");
    lua_call(L, 1, 1);
    lua_pushliteral(L, "poll");
    lua_pushcfunction(L, l_poll);
    lua_rawset(L, -3);          /* raw: the module's __newindex guards dry_run only */
    return 1;
}
