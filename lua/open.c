/* lua/open.c — opening runctl in a Lua state: the host userdata and its
 * engine, the embedded Lua half, runctl_openlibs, and the state-wide entry
 * points runctl_poll, runctl_cancel_all and runctl_get_stats. */
#include "host_int.h"
#include "../core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "embedded.h"
#include "ext.h"

volatile sig_atomic_t rc_sigint_count;
volatile sig_atomic_t rc_sigint_watched;

rc_host *rc_host_get(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, RC_HOST_KEY);
    rc_host *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (h == NULL || h->engine == NULL)
        luaL_error(L, "runctl is not open in this Lua state");
    return h;
}

/* ------------------------------------------------------------------ opening */

void rc_host_print_error(const char *head, const char *msg)
{
    if (msg == NULL)
        msg = "(error object is not a string)";
    size_t n = strlen(msg), need = rc_text_sanitize(msg, n, RC_TEXT_MULTILINE, NULL, 0);
    char *shown = malloc(need + 1);
    if (shown != NULL)
        rc_text_sanitize(msg, n, RC_TEXT_MULTILINE, shown, need + 1);
    fprintf(stderr, "runctl: %s%s\n", head, shown != NULL ? shown : "(out of memory)");
    free(shown);
}

void rc_host_log_line(void *ud, const char *line)
{
    (void)ud;
    fprintf(stderr, "runctl: %s\n", line);
}

static int host_gc(lua_State *L)
{
    rc_host *h = lua_touserdata(L, 1);
    /* Finalized last (created first): every request and limiter is gone. */
    rc_engine_free(h->engine);
    h->engine = NULL;
    free(h->base_url);
    free(h->organization);
    free(h->project);
    return 0;
}

/* Pushes module f's main function: its build-time bytecode when the running
 * Lua is the one that compiled it (mode "b" for our own build's output only;
 * scripts are always loaded as text), else compiled from its source. */
static int load_module_chunk(lua_State *L, const struct rc_embedded_file *f)
{
    if (f->bytecode != NULL && strcmp(lua_ident, rc_embedded_lua_ident) == 0) {
        if (luaL_loadbufferx(L, f->bytecode, f->bytecode_len, f->chunkname, "b") == LUA_OK)
            return LUA_OK;
        lua_pop(L, 1);          /* the Lua differs after all: the source still serves */
    }
    return luaL_loadbufferx(L, f->source, f->len, f->chunkname, "t");
}

/* package.preload entry of an embedded module (its name is upvalue 1): runs
 * the module with require's arguments. [-0, +1] */
static int load_embedded(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    for (const struct rc_embedded_file *f = rc_embedded; f->name != NULL; f++) {
        if (strcmp(f->name, name) != 0)
            continue;
        if (load_module_chunk(L, f) != LUA_OK)
            return lua_error(L);
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        return 1;
    }
    return luaL_error(L, "embedded module '%s' is missing", name);
}

static void preload(lua_State *L, const char *name, lua_CFunction open)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static int parse_log_env(void)
{
    const char *v = getenv("OPENAI_LOG");
    if (v == NULL)
        return 0;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strncmp(v, "debug", 5) == 0)
        return RC_LOG_DEBUG;
    if (strncmp(v, "info", 4) == 0)
        return RC_LOG_INFO;
    return 0;
}

void runctl_options_init(runctl_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_retries = -1;
    o->timeout = -1;
    o->log_level = RUNCTL_LOG_UNSET;
}

static int open_protected(lua_State *L)
{
    const runctl_options *opts = lua_touserdata(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, RC_HOST_KEY);
    if (!lua_isnil(L, -1))
        return luaL_error(L, "runctl_openlibs: runctl is already open in this state");
    lua_pop(L, 1);

#if RC_LUA51
    rc_compat_open(L);
#endif
    struct host_block *block = lua_newuserdatauv(L, sizeof *block, 0);
    memset(block, 0, sizeof *block);
    rc_host *h = &block->host;
    h->sched = &block->sched;
    luaL_newmetatable(L, RC_HOST_KEY);
    lua_pushcfunction(L, host_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, RC_HOST_KEY);

    runctl_options_init(&h->opts);
    if (opts != NULL)
        h->opts = *opts;
    h->base_url = dup_or_null(h->opts.base_url);
    h->organization = dup_or_null(h->opts.organization);
    h->project = dup_or_null(h->opts.project);
    h->opts.base_url = h->base_url;
    h->opts.organization = h->organization;
    h->opts.project = h->project;
    h->dry_run = h->opts.dry_run != 0;
    h->log_level = h->opts.log_level == RUNCTL_LOG_UNSET ? parse_log_env() : h->opts.log_level;
    rc_host_set_budget(h, h->opts.frame_budget_ms == 0 ? DEFAULT_FRAME_BUDGET_S
                                                      : h->opts.frame_budget_ms / 1000.0);
    h->engine = rc_engine_new();
    if (h->engine == NULL)
        return luaL_error(L, "runctl_openlibs: could not start the HTTP engine");
    rc_engine_set_log(h->engine, h->log_level, rc_host_log_line, NULL);

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, UNJOINED_KEY);
    host_register_task_meta(L);

    preload(L, "runctl.core", luaopen_runctl_core);
    preload(L, "runctl.outfile", luaopen_runctl_outfile);
    preload(L, "runctl.task", luaopen_runctl_task);
    preload(L, "runctl.json", luaopen_runctl_json);
    preload(L, "runctl.extdir", luaopen_runctl_extdir);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const struct rc_embedded_file *f = rc_embedded; f->name != NULL; f++) {
        char modname[64];
        snprintf(modname, sizeof modname, "%s%s",
                 strcmp(f->name, "runctl") == 0 ? "" : "runctl.", f->name);
        lua_pushstring(L, f->name);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, modname);
    }
    lua_pop(L, 1);

    /* The globals, all fields of the module too (unless the host keeps its
     * globals to itself: then require "runctl" loads the module on demand). */
    if (h->opts.no_globals)
        return 0;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "runctl");
    lua_call(L, 1, 1);
    /* runctl.GLOBALS names them, so a new resource in resources.lua needs no C. */
    int module = lua_gettop(L);
    lua_getfield(L, module, "GLOBALS");
    for (lua_Integer i = 1; lua_rawgeti(L, module + 1, i) == LUA_TSTRING; i++) {
        lua_getfield(L, module, lua_tostring(L, -1));
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    lua_setglobal(L, "runctl");
    return 0;
}

int runctl_openlibs(lua_State *L, const runctl_options *opts)
{
    lua_pushcfunction(L, open_protected);
    lua_pushlightuserdata(L, (void *)opts);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        return -1;
    return opts != NULL && opts->load_extensions ? runctl_load_extensions(L) : 0;
}

static int poll_protected(lua_State *L)
{
    rc_host *h = rc_host_get(L);
    int timeout_ms = (int)lua_tointeger(L, 1);
    /* Resuming tasks from inside one would resume the running task itself. */
    if (rc_host_in_task(h))
        return luaL_error(L, "runctl_poll must not be called from inside a task");
    rc_host_step(h, L, timeout_ms);
    lua_pushinteger(L, rc_host_pending(h));
    return 1;
}

int runctl_poll(lua_State *L, int timeout_ms)
{
    int pending;
    lua_pushcfunction(L, poll_protected);
    lua_pushinteger(L, timeout_ms);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        rc_host_print_error("", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    pending = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return pending;
}

static int cancel_all_protected(lua_State *L)
{
    lua_pushinteger(L, rc_host_cancel_all(L, rc_host_get(L)));
    return 1;
}

int runctl_cancel_all(lua_State *L)
{
    lua_pushcfunction(L, cancel_all_protected);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        rc_host_print_error("", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    int count = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return count;
}

static int stats_protected(lua_State *L)
{
    rc_host_stats(rc_host_get(L), lua_touserdata(L, 1));
    return 0;
}

int runctl_get_stats(lua_State *L, runctl_stats *out)
{
    lua_pushcfunction(L, stats_protected);
    lua_pushlightuserdata(L, out);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}
