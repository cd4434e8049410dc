/* examples/minimal-host.c — the smallest embedding of librunctl: open runctl
 * into the host's own state, start a Lua file as a task, poll until nothing
 * is pending, report the task's error. Builds with nothing but
 *   cc minimal-host.c $(pkg-config --cflags --libs runctl)
 * Usage: OPENAI_API_KEY=... minimal-host SCRIPT.lua [ARG...] */
#include <runctl.h>

#include <lauxlib.h>
#include <lualib.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: minimal-host SCRIPT.lua [ARG...]\n");
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (L == NULL)
        return 1;
    luaL_openlibs(L);
    /* NULL options: the defaults and the environment (OPENAI_BASE_URL, ...). */
    if (runctl_openlibs(L, NULL) != 0) {
        fprintf(stderr, "minimal-host: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    if (luaL_loadfilex(L, argv[1], "t") != LUA_OK) {
        fprintf(stderr, "minimal-host: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    /* task.spawn(chunk, args...) from host code queues the task; runctl_poll runs it. */
    lua_getglobal(L, "task");
    lua_getfield(L, -1, "spawn");
    lua_remove(L, -2);
    lua_insert(L, -2);
    for (int i = 2; i < argc; i++)
        lua_pushstring(L, argv[i]);
    if (lua_pcall(L, argc - 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "minimal-host: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    int task = luaL_ref(L, LUA_REGISTRYINDEX);

    int pending;
    while ((pending = runctl_poll(L, -1)) > 0)
        ;                       /* a real host would do a frame's work here, with timeout 0 */

    /* task.join of a finished task returns at once: true, results | false, err */
    lua_getglobal(L, "task");
    lua_getfield(L, -1, "join");
    lua_rawgeti(L, LUA_REGISTRYINDEX, task);
    int status = 0;
    if (pending < 0 || lua_pcall(L, 1, 2, 0) != LUA_OK) {
        fprintf(stderr, "minimal-host: %s\n", pending < 0 ? "runctl_poll failed" : lua_tostring(L, -1));
        status = 1;
    } else if (!lua_toboolean(L, -2)) {
        fprintf(stderr, "minimal-host: the script failed: %s\n", luaL_tolstring(L, -1, NULL));
        status = 1;
    }
    lua_close(L);
    return status;
}
