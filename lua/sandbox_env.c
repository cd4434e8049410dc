/* lua/sandbox_env.c — what scripts see: the template of their globals,
 * built from an allow-list, with guarded metatables, load and
 * collectgarbage. */
#include "sandbox_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

/* ------------------------------------------------------------------ what scripts see */

/* setmetatable for the whole state (runctl's own Lua code included): no
 * metatable with __gc, since finalizers run with hooks off, out of every limit. */
int sbx_guarded_setmetatable(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)   /* raw, as the collector looks it up */
            return luaL_error(L, "sandbox: setmetatable: metatables with __gc are not allowed");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* getmetatable for scripts: tables only. The string metatable leads to the
 * real string library (which runctl's code calls on secrets, an API key
 * among them), and userdata metatables hold runctl's C finalizers. */
static int sandbox_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE || !lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return 1;
    /* A metatable registered by C (json.array's, say: luaL_newmetatable) is
     * shared by the whole state: hidden, like userdata metatables. */
    if (lua_getfield(L, -1, "__name") == LUA_TSTRING) {
        luaL_getmetatable(L, lua_tostring(L, -1));
        if (lua_rawequal(L, -1, -3)) {
            lua_pushnil(L);
            return 1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;                   /* the metatable */
}

/* rawset for scripts: not on a table whose metatable is protected (runctl's
 * clients and resource tables are read-only views shared by every run; a
 * raw field would shadow what they show). */
static int sandbox_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "sandbox: rawset: this table is read-only (its metatable is protected)");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* Wrappers for what scripts call, in Lua (they must yield like the
 * originals). Two rules keep every limit holding after a trip:
 * - Every function a run starts on a thread of its own (the script, a task,
 *   a coroutine) runs inside a pcall. An error raised by the limits' hook
 *   leaves hooks off on its thread until a pcall catches it; a thread that
 *   died without one would run its pending __close handlers unhooked when
 *   it is closed. The pcall turns hooks back on before closing them, then
 *   the error goes on as it was.
 * - xpcall's message handler runs once the stack has unwound, as ordinary
 *   hooked code (Lua runs a real handler inside the error machinery, where
 *   hooks may be off). Scripts have no debug library, so the handler sees
 *   the same error value either way. */
static const char WRAPPERS_LUA[] =
    "local pcall, error, type, spawn, create, wrap = ...\n"
    "local function rethrow(ok, ...)\n"
    "  if ok then return ... end\n"
    "  error((...), 0)\n"
    "end\n"
    "local function guarded(fn)\n"
    "  if type(fn) ~= 'function' then return fn end   -- the original explains\n"
    "  return function(...) return rethrow(pcall(fn, ...)) end\n"
    "end\n"
    "local function after(msgh, ok, ...)\n"
    "  if ok then return true, ... end\n"
    "  local _, v = pcall(msgh, (...))\n"
    "  return false, v\n"
    "end\n"
    "local function xpcall(f, msgh, ...)\n"
    "  if type(msgh) ~= 'function' then\n"
    "    error(\"bad argument #2 to 'xpcall' (function expected, got \" .. type(msgh) .. \")\", 2)\n"
    "  end\n"
    "  return after(msgh, pcall(f, ...))\n"
    "end\n"
    "return guarded, xpcall,\n"
    "  function(fn, ...) return spawn(guarded(fn), ...) end,\n"
    "  function(fn) return create(guarded(fn)) end,\n"
    "  function(fn) return wrap(guarded(fn)) end\n";

/* Sets env's xpcall, task.spawn, coroutine.create and coroutine.wrap to
 * the wrappers, and the registry's GUARD_KEY to guarded (for the script). */
static void set_wrappers(lua_State *L, int env)
{
    if (luaL_loadbufferx(L, WRAPPERS_LUA, sizeof WRAPPERS_LUA - 1, "=sandbox", "t") != LUA_OK)
        lua_error(L);
    lua_getglobal(L, "pcall");
    lua_getglobal(L, "error");
    lua_getglobal(L, "type");
    lua_getfield(L, env, "task");
    lua_getfield(L, -1, "spawn");
    lua_replace(L, -2);
    lua_getfield(L, env, "coroutine");
    lua_getfield(L, -1, "create");
    lua_getfield(L, -2, "wrap");
    lua_remove(L, -3);
    lua_call(L, 6, 5);
    lua_getfield(L, env, "coroutine");
    lua_insert(L, -2);
    lua_setfield(L, -2, "wrap");
    lua_insert(L, -2);
    lua_setfield(L, -2, "create");
    lua_pop(L, 1);
    lua_getfield(L, env, "task");
    lua_insert(L, -2);
    lua_setfield(L, -2, "spawn");
    lua_pop(L, 1);
    lua_setfield(L, env, "xpcall");
    lua_setfield(L, LUA_REGISTRYINDEX, GUARD_KEY);
}

/* load for scripts: text chunks only, and the run's globals unless the
 * script passes an environment of its own. */
static int sandbox_load(lua_State *L)
{
    int nargs = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_settop(L, 4);
    lua_pushvalue(L, lua_upvalueindex(1));  /* the standard load */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (nargs >= 4)
        lua_pushvalue(L, 4);
    else
        lua_getfield(L, LUA_REGISTRYINDEX, RUN_ENV_KEY);
    lua_call(L, 4, LUA_MULTRET);
    return lua_gettop(L) - 4;
}

/* collectgarbage for scripts: looking and collecting, not tuning or stopping. */
static int sandbox_collectgarbage(lua_State *L)
{
    static const char *const opts[] = { "collect", "step", "count", "isrunning", NULL };
    switch (luaL_checkoption(L, 1, "collect", opts)) {
    case 0:
        lua_gc(L, LUA_GCCOLLECT);
        lua_pushinteger(L, 0);
        break;
    case 1:
        lua_pushboolean(L, lua_gc(L, LUA_GCSTEP, (int)luaL_optinteger(L, 2, 0)));
        break;
    case 2:
        lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT) + (lua_Number)lua_gc(L, LUA_GCCOUNTB) / 1024);
        break;
    default:
        lua_pushboolean(L, lua_gc(L, LUA_GCISRUNNING));
        break;
    }
    return 1;
}

/* Pushes a copy of the table at idx: its fields, and its metatable when keep_meta. */
void sbx_push_copy(lua_State *L, int idx, int keep_meta)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    if (keep_meta && lua_getmetatable(L, idx))
        lua_setmetatable(L, -2);
}

static int has_metatable(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_pop(L, 1);
    return 1;
}

/* Pushes a copy of the table at idx and, inside it, of every table without a
 * metatable (and of the runctl module at index module, whose metatable is
 * kept): seen (a table at index seen) maps originals to copies, so a table
 * reached twice is copied once. Tables with a metatable stay themselves. */
void sbx_push_deep_copy(lua_State *L, int idx, int seen, int module)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 8, "copying the sandbox's globals");
    lua_pushvalue(L, idx);
    if (lua_rawget(L, seen) != LUA_TNIL)
        return;                         /* copied already */
    lua_pop(L, 1);
    lua_newtable(L);
    int copy = lua_gettop(L);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, copy);
    lua_rawset(L, seen);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {     /* key, value */
        if (lua_type(L, -1) == LUA_TTABLE && (lua_rawequal(L, -1, module) || !has_metatable(L, -1))) {
            sbx_push_deep_copy(L, -1, seen, module);
            lua_replace(L, -2);
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, copy);
    }
    if (lua_getmetatable(L, idx))
        lua_setmetatable(L, copy);
}

/* env[name] = a copy of the standard library table lib, fields limited to
 * only (NULL-terminated) when given. */
static void copy_library(lua_State *L, int env, const char *name, const char *const *only)
{
    lua_getglobal(L, name);
    if (!lua_istable(L, -1)) {          /* utf8 on Lua 5.1 (LuaJIT): not there */
        lua_pop(L, 1);
        return;
    }
    if (only == NULL) {
        sbx_push_copy(L, -1, 0);
    } else {
        lua_newtable(L);
        for (; *only != NULL; only++) {
            lua_getfield(L, -2, *only);
            lua_setfield(L, -2, *only);
        }
    }
    lua_setfield(L, env, name);
    lua_pop(L, 1);
}

void sbx_build_template(lua_State *L)
{
    static const char *const base[] = {
        "assert", "error", "ipairs", "next", "pairs", "pcall", "print", "select",
        "type", "tostring", "tonumber", "rawequal", "rawget", "rawlen",
        "setmetatable", "_VERSION", NULL
    };
    static const char *const os_part[] = { "clock", "date", "difftime", "time", NULL };
    static const char *const libs[] = { "coroutine", "string", "table", "math", "utf8", NULL };

    lua_newtable(L);
    int env = lua_gettop(L);
    for (const char *const *n = base; *n != NULL; n++) {
        lua_getglobal(L, *n);
        lua_setfield(L, env, *n);
    }
    lua_pushcfunction(L, sandbox_getmetatable);
    lua_setfield(L, env, "getmetatable");
    lua_getglobal(L, "load");
    lua_pushcclosure(L, sandbox_load, 1);
    lua_setfield(L, env, "load");
    lua_pushcfunction(L, sandbox_collectgarbage);
    lua_setfield(L, env, "collectgarbage");
    lua_pushcfunction(L, sandbox_rawset);
    lua_setfield(L, env, "rawset");
    for (const char *const *n = libs; *n != NULL; n++)
        copy_library(L, env, *n, NULL);
    lua_getfield(L, LUA_REGISTRYINDEX, STRING_KEY);   /* string: with checked matching */
    sbx_push_copy(L, -1, 0);
    lua_setfield(L, env, "string");
    lua_pop(L, 1);
    lua_getfield(L, env, "table");
#if RC_LUA51
    lua_getglobal(L, "unpack");         /* 5.1 has it as a global: scripts get 5.4's name */
    lua_setfield(L, -2, "unpack");
    lua_pushcfunction(L, rc_compat_table_pack);
    lua_setfield(L, -2, "pack");
#endif
    lua_getfield(L, -1, "move");
    lua_pushcclosure(L, sbx_checked_move, 1);
    lua_setfield(L, -2, "move");
    lua_pop(L, 1);
    copy_library(L, env, "os", os_part);

    /* The runctl API: the module and every global runctl_openlibs set from it.
     * Plain tables (http, json, task, log, runs ...) are copied, so a script
     * replacing task.spawn or json.decode changes its own view only; clients
     * (tables with a metatable, like openai) stay themselves, since their
     * credentials are keyed by the object. */
    lua_getglobal(L, "runctl");
    int mod = lua_gettop(L);
    sbx_push_copy(L, mod, 1);               /* keeps the metatable behind runctl.dry_run */
    int copy = lua_gettop(L);
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    lua_getfield(L, mod, "HOST_ONLY");  /* runctl.define and kinds: they change what every run sees */
    int host_only = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, mod) != 0) {     /* key, value */
        int skip = 0;
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, host_only)) {
            lua_pushvalue(L, -2);
            skip = lua_rawget(L, host_only) != LUA_TNIL;
            lua_pop(L, 1);
            if (skip) {                 /* out of the copy made above */
                lua_pushvalue(L, -2);
                lua_pushnil(L);
                lua_rawset(L, copy);
            }
        }
        if (!skip && lua_type(L, -2) == LUA_TSTRING) {
            lua_pushvalue(L, -2);
            lua_rawget(L, g);
            int global = lua_rawequal(L, -1, -2);
            lua_pop(L, 1);
            if (lua_type(L, -1) == LUA_TTABLE) {
                if (lua_getmetatable(L, -1)) {
                    lua_pop(L, 1);
                } else {
                    sbx_push_copy(L, -1, 0);
                    lua_replace(L, -2);
                }
            }
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
            lua_rawset(L, copy);
            if (global) {
                lua_pushvalue(L, -2);
                lua_pushvalue(L, -2);
                lua_rawset(L, env);
            }
        }
        lua_pop(L, 1);
    }
    lua_settop(L, copy);
    lua_setfield(L, env, "runctl");
    lua_pop(L, 1);                      /* the module */
    set_wrappers(L, env);
    lua_setfield(L, LUA_REGISTRYINDEX, ENV_KEY);
}
