/* lua/ext.c — extension files, the C half: the runctl.extdir module (list a
 * directory's *.lua files, the system extension directory) and
 * runctl_load_extensions, which runs lua/lib/extensions.lua's load(). */
#include "ext.h"
#include "runctl.h"

#include <lauxlib.h>

#include "compat51.h"     /* LUA_OK on PUC Lua 5.1 */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef RUNCTL_DATADIR
#define RUNCTL_DATADIR "/usr/local/share/runctl"
#endif

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* extdir.list(dir) -> { "a.lua", ... } (unsorted: regular files named *.lua,
 * hidden ones left out) | nil, message, missing (true when dir does not exist). */
static int l_list(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    DIR *d = opendir(dir);
    if (d == NULL) {
        int missing = errno == ENOENT || errno == ENOTDIR;
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", dir, strerror(errno));
        lua_pushboolean(L, missing);
        return 3;
    }
    lua_newtable(L);
    lua_Integer n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || e->d_name[0] == '.' || strcmp(e->d_name + len - 4, ".lua") != 0)
            continue;
        char path[PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        lua_pushstring(L, e->d_name);
        lua_rawseti(L, -2, ++n);
    }
    closedir(d);
    return 1;
}

/* extdir.system() -> the system extension directory: share/runctl/ext beside
 * the binary's bin/ (an installed tree that was moved still finds its own),
 * else the one under the install prefix the build was configured with. */
static int l_system(lua_State *L)
{
    char exe[PATH_MAX], dir[PATH_MAX + 32];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(dir, sizeof dir, "%s/../share/runctl/ext", exe);
        if (is_dir(dir)) {
            lua_pushstring(L, dir);
            return 1;
        }
    }
    lua_pushliteral(L, RUNCTL_DATADIR "/ext");
    return 1;
}

int luaopen_runctl_extdir(lua_State *L)
{
    static const luaL_Reg fns[] = { { "list", l_list }, { "system", l_system }, { NULL, NULL } };
    luaL_newlib(L, fns);
    return 1;
}

/* Stack: [] -> [] ; raises the message of a broken extension. */
static int load_protected(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "runctl.extensions");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "load");
    lua_call(L, 0, 2);
    if (lua_toboolean(L, -2))
        return 0;
    return lua_error(L);        /* the message: "FILE:LINE: what went wrong" */
}

int runctl_load_extensions(lua_State *L)
{
    lua_pushcfunction(L, load_protected);
    return lua_pcall(L, 0, 0, 0) == LUA_OK ? 0 : -1;
}
