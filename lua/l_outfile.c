/* lua/l_outfile.c — the runctl.outfile module: the files runctl writes
 * (reports, journals, metrics) opened through core/outfile.c, so a symlink
 * planted at the path or at its temporary file is never followed; each
 * returned as a standard Lua file (io's methods: write, flush, close...). */
#include "host.h"
#include "../core/outfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The user's word that symlinks at output paths are theirs (--follow-symlinks
 * sets it for the command; an embedding host may set it in the environment). */
static int follow_flag(void)
{
    const char *v = getenv("RUNCTL_FOLLOW_SYMLINKS");
    return v != NULL && *v != '\0' && strcmp(v, "0") != 0 ? RC_OUT_FOLLOW : 0;
}

#if LUA_VERSION_NUM >= 502
static int close_stream(lua_State *L)
{
    luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    int ok = fclose(p->f) == 0;
    return luaL_fileresult(L, ok, NULL);
}
#endif

static int fail(lua_State *L, const char *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

/* Pushes fd as a Lua file (the io library's own kind) and returns 1, or
 * closes it and returns 0 with nothing pushed. */
#if LUA_VERSION_NUM < 502
/* LuaJIT (the Lua 5.1 API) makes no io file from C: its own io.open opens
 * /proc/self/fd/N, the very file fd is (no path is looked up again), and fd
 * is closed. */
static int push_file(lua_State *L, int fd, const char *mode)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    lua_getfield(L, -1, "io");
    lua_getfield(L, -1, "open");
    lua_pushstring(L, path);
    lua_pushstring(L, mode);
    int ok = lua_pcall(L, 2, 1, 0) == 0 && !lua_isnil(L, -1);
    close(fd);
    lua_replace(L, -3);                 /* the file over _LOADED */
    lua_pop(L, 1);
    if (!ok)
        lua_pop(L, 1);
    return ok;
}
#else
static int push_file(lua_State *L, int fd, const char *mode)
{
    luaL_Stream *p = lua_newuserdatauv(L, sizeof *p, 0);
    p->closef = NULL;                   /* a closed file until fdopen succeeded */
    luaL_setmetatable(L, LUA_FILEHANDLE);
    p->f = fdopen(fd, mode);
    if (p->f == NULL) {
        close(fd);
        lua_pop(L, 1);
        return 0;
    }
    p->closef = close_stream;
    return 1;
}
#endif

/* outfile.open(path, "w" | "a" [, mode]) -> file | nil, err. "w" truncates,
 * "a" appends and reads (a+); created with mode (default 0600: reports and
 * journals name what was cancelled, and by which request). */
static int l_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *how = luaL_checkstring(L, 2);
    int mode = (int)luaL_optinteger(L, 3, 0600);
    luaL_argcheck(L, strcmp(how, "w") == 0 || strcmp(how, "a") == 0, 2, "\"w\" or \"a\" expected");
    char err[512];
    int append = how[0] == 'a';
    int fd = rc_outfile_open(path, (append ? RC_OUT_APPEND : 0) | follow_flag(), mode, err, sizeof err);
    if (fd < 0)
        return fail(L, err);
    return push_file(L, fd, append ? "a+" : "w") ? 1 : fail(L, "cannot open it as a file (out of memory)");
}

/* outfile.temp(path [, mode]) -> file, tmp_path | nil, err: a new file next
 * to path with a random name, made exclusively (default mode 0644). */
static int l_temp(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int mode = (int)luaL_optinteger(L, 2, 0644);
    char err[512], *tmp;
    int fd = rc_outfile_temp(path, follow_flag(), mode, &tmp, err, sizeof err);
    if (fd < 0)
        return fail(L, err);
    if (!push_file(L, fd, "w")) {
        unlink(tmp);
        free(tmp);
        return fail(L, "cannot open the temporary file (out of memory)");
    }
    lua_pushstring(L, tmp);             /* file, tmp */
    free(tmp);
    return 2;
}

/* outfile.replace(tmp, path) -> true | nil, err: tmp renamed over path. */
static int l_replace(lua_State *L)
{
    char err[700];
    if (rc_outfile_replace(luaL_checkstring(L, 1), luaL_checkstring(L, 2), follow_flag(), err, sizeof err) != 0)
        return fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_runctl_outfile(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        { "open", l_open },
        { "temp", l_temp },
        { "replace", l_replace },
        { NULL, NULL },
    };
    luaL_newlib(L, funcs);
    return 1;
}
