/* lua/handles.c — task handles for C hosts: runctl_start, runctl_done,
 * runctl_result, runctl_cancel, runctl_deadline and runctl_release. */
#include "host_int.h"

/* ------------------------------------------------------------------ handles */

static int start_protected(lua_State *L)
{
    int nargs = lua_gettop(L) - 1;
    luaL_checktype(L, 1, LUA_TFUNCTION);
    rc_host_spawn(L, rc_host_get(L), nargs);
    lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
    return 1;
}

int runctl_start(lua_State *L, int nargs)
{
    lua_pushcfunction(L, start_protected);
    lua_insert(L, -(nargs + 2));
    if (lua_pcall(L, nargs + 1, 1, 0) != LUA_OK)
        return -1;
    int handle = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return handle;
}

/* Pushes the task of a handle and returns it, or returns NULL (nothing pushed). */
static rc_task *push_handle(lua_State *L, int handle)
{
    if (handle <= 0)
        return NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, handle);
    rc_task *t = luaL_testudata(L, -1, TASK_META);
    if (t == NULL)
        lua_pop(L, 1);
    return t;
}

int runctl_done(lua_State *L, int handle)
{
    rc_task *t = push_handle(L, handle);
    if (t == NULL)
        return -1;
    lua_pop(L, 1);
    return t->state == TASK_DONE;
}

static int result_protected(lua_State *L)
{
    return host_push_results(L, 1);
}

int runctl_result(lua_State *L, int handle)
{
    rc_task *t = push_handle(L, handle);
    if (t == NULL)
        return -1;
    if (t->state != TASK_DONE) {
        lua_pop(L, 1);
        return -1;
    }
    int base = lua_gettop(L) - 1;
    lua_pushcfunction(L, result_protected);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {    /* too many results for L's stack */
        lua_pop(L, 1);
        return -1;
    }
    return lua_gettop(L) - base;
}

static int cancel_protected(lua_State *L)
{
    lua_pushinteger(L, rc_host_cancel(L, rc_host_get(L), 1));
    return 1;
}

int runctl_cancel(lua_State *L, int handle)
{
    if (push_handle(L, handle) == NULL)
        return -1;
    lua_pushcfunction(L, cancel_protected);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        rc_host_print_error("", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    int cancelled = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return cancelled;
}

int runctl_deadline(lua_State *L, int handle, double seconds)
{
    rc_task *t = push_handle(L, handle);
    if (t == NULL)
        return -1;
    lua_pop(L, 1);
    return host_set_deadline(t, seconds);
}

void runctl_release(lua_State *L, int handle)
{
    if (handle > 0)
        luaL_unref(L, LUA_REGISTRYINDEX, handle);
}
