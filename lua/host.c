/* lua/host.c — the host: per-state engine, the task scheduler, runctl_openlibs
 * and runctl_poll. Tasks are coroutines; bindings yield them while a transfer
 * or timer is pending and the scheduler resumes them when it is done. */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

/* Generated at build time from the files in lua/lib (see tools/embed.c). */
struct rc_embedded_file { const char *name; const char *source; size_t len; };
extern const struct rc_embedded_file rc_embedded[];

volatile sig_atomic_t rc_sigint_count;
volatile sig_atomic_t rc_sigint_watched;

#define TASK_META "runctl.task"
#define UNJOINED_KEY "runctl.unjoined"

rc_host *rc_host_get(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, RC_HOST_KEY);
    rc_host *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (h == NULL || h->engine == NULL)
        luaL_error(L, "runctl is not open in this Lua state");
    return h;
}

rc_task *rc_host_current(rc_host *h, lua_State *L)
{
    if (h->running != NULL && h->running->co == L && lua_isyieldable(L))
        return h->running;
    return NULL;
}

void rc_host_wake(rc_task *t)
{
    rc_host *h = t->host;
    if (t->state == TASK_READY || t->state == TASK_DONE)
        return;
    t->state = TASK_READY;
    t->next_ready = NULL;
    if (h->ready_tail != NULL)
        h->ready_tail->next_ready = t;
    else
        h->ready_head = t;
    h->ready_tail = t;
    h->ready_count++;
}

static rc_task *pop_ready(rc_host *h)
{
    rc_task *t = h->ready_head;
    if (t == NULL)
        return NULL;
    h->ready_head = t->next_ready;
    if (h->ready_head == NULL)
        h->ready_tail = NULL;
    h->ready_count--;
    return t;
}

/* luaL_tolstring under protection: an error's __tostring may itself fail. */
static int tostring_protected(lua_State *L)
{
    luaL_tolstring(L, 1, NULL);
    return 1;
}

/* Pushes a human message for the error value at the top of L (which it pops). */
static void push_error_text(lua_State *L)
{
    if (lua_type(L, -1) == LUA_TSTRING)
        return;
    lua_pushcfunction(L, tostring_protected);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushliteral(L, "(error object is not a string)");
    }
}

/* Stores the outcome of a task that just returned or raised, and wakes its joiners. */
static void finish_task(rc_host *h, lua_State *L, rc_task *t, int status, int nres)
{
    luaL_checkstack(L, nres + 8, "finishing a task");
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor);
    int ti = lua_gettop(L);
    if (status == LUA_OK) {
        t->ok = 1;
        lua_createtable(L, nres, 1);
        lua_xmove(t->co, L, nres);
        for (int i = nres; i >= 1; i--)
            lua_rawseti(L, ti + 1, i);
        lua_pushinteger(L, nres);
        lua_setfield(L, ti + 1, "n");
    } else {
        t->ok = 0;
        lua_createtable(L, 0, 2);
        lua_xmove(t->co, L, 1);             /* the error value */
        lua_pushvalue(L, -1);
        lua_setfield(L, ti + 1, "err");
        push_error_text(L);
        luaL_traceback(L, t->co, lua_tostring(L, -1), 0);
        lua_setfield(L, ti + 1, "traceback");
        lua_pop(L, 1);
    }
    lua_setiuservalue(L, ti, 2);
    t->state = TASK_DONE;
    h->tasks_alive--;

    int joiners = 0;
    if (lua_getiuservalue(L, ti, 3) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            rc_task *j = lua_touserdata(L, -2);
            rc_host_wake(j);
            joiners++;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (!t->ok && joiners == 0) {
        lua_getfield(L, LUA_REGISTRYINDEX, UNJOINED_KEY);
        lua_pushvalue(L, ti);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, t->anchor);
    t->anchor = LUA_NOREF;
    lua_settop(L, ti - 1);
    lua_resetthread(t->co);                 /* closes pending to-be-closed variables */
}

static void resume_task(rc_host *h, lua_State *L, rc_task *t)
{
    int nres = 0;
    rc_task *outer = h->running;
    int nargs = t->nargs;
    t->nargs = 0;
    t->state = TASK_RUNNING;
    h->running = t;
    int status = lua_resume(t->co, L, nargs, &nres);
    h->running = outer;
    if (status == LUA_YIELD) {
        if (t->state == TASK_RUNNING) {     /* a bare coroutine.yield(): run again later */
            lua_pop(t->co, nres);
            rc_host_wake(t);
        }
        return;
    }
    finish_task(h, L, t, status, nres);
}

/* Resumes the tasks that are ready now; those they wake wait for the next round. */
static void run_ready(rc_host *h, lua_State *L)
{
    for (int n = h->ready_count; n > 0; n--) {
        rc_task *t = pop_ready(h);
        if (t == NULL)
            break;
        resume_task(h, L, t);
    }
}

int rc_host_pending(rc_host *h)
{
    return rc_engine_pending(h->engine) + h->ready_count;
}

void rc_host_step(rc_host *h, lua_State *L, int timeout_ms)
{
    /* Inside a task this is a binding that cannot yield, about to block; a
     * sandbox forbids that: the wait could outlast every limit, host stuck. */
    if (h->running != NULL && h->no_blocking != NULL)
        luaL_error(L, "%s", h->no_blocking);
    run_ready(h, L);
    rc_engine_poll(h->engine, h->ready_count > 0 ? 0 : timeout_ms);
    run_ready(h, L);
}

rc_task *rc_host_spawn(lua_State *L, rc_host *h, int nargs)
{
    int base = lua_gettop(L) - nargs;
    luaL_checkstack(L, 4, "spawning a task");
    rc_task *t = lua_newuserdatauv(L, sizeof *t, 3);
    memset(t, 0, sizeof *t);
    t->host = h;
    t->anchor = LUA_NOREF;
    t->state = TASK_WAITING;
    luaL_setmetatable(L, TASK_META);
    t->co = lua_newthread(L);
    lua_setiuservalue(L, -2, 1);
    lua_insert(L, base);                    /* task below the function and its args */
    lua_xmove(L, t->co, nargs + 1);
    t->nargs = nargs;
    lua_pushvalue(L, base);
    t->anchor = luaL_ref(L, LUA_REGISTRYINDEX);
    h->tasks_alive++;
    rc_host_wake(t);
    return t;
}

int rc_task_push_outcome(lua_State *L, int task_index)
{
    rc_task *t = luaL_checkudata(L, task_index, TASK_META);
    task_index = lua_absindex(L, task_index);
    t->joined = 1;
    lua_getfield(L, LUA_REGISTRYINDEX, UNJOINED_KEY);
    lua_pushvalue(L, task_index);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_getiuservalue(L, task_index, 2);
    int out = lua_gettop(L);
    if (!t->ok) {
        lua_pushboolean(L, 0);
        lua_getfield(L, out, "err");
        return 2;
    }
    lua_getfield(L, out, "n");
    int n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    luaL_checkstack(L, n + 1, "too many results from a task");
    lua_pushboolean(L, 1);
    for (int i = 1; i <= n; i++)
        lua_rawgeti(L, out, i);
    return n + 1;
}

int rc_host_report_unjoined(lua_State *L)
{
    int count = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, UNJOINED_KEY);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        lua_pop(L, 1);
        lua_getiuservalue(L, -1, 2);
        lua_getfield(L, -1, "traceback");
        fprintf(stderr, "runctl: a task failed and nobody joined it: %s\n", lua_tostring(L, -1));
        lua_pop(L, 2);
        count++;
    }
    lua_pop(L, 1);
    return count;
}

void rc_host_clear_unjoined(lua_State *L)
{
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, UNJOINED_KEY);
}

/* ------------------------------------------------------------------ task object */

static int task_tostring(lua_State *L)
{
    rc_task *t = luaL_checkudata(L, 1, TASK_META);
    static const char *const names[] = { "ready", "running", "waiting", "done" };
    lua_pushfstring(L, "task (%s): %p", t->state == TASK_DONE ? (t->ok ? "done" : "failed")
                                                           : names[t->state], (void *)t);
    return 1;
}

/* ------------------------------------------------------------------ opening */

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

static int load_embedded(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    for (const struct rc_embedded_file *f = rc_embedded; f->name != NULL; f++) {
        if (strcmp(f->name, name) != 0)
            continue;
        lua_pushfstring(L, "@[runctl]/%s.lua", name);
        if (luaL_loadbuffer(L, f->source, f->len, lua_tostring(L, -1)) != LUA_OK)
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

    rc_host *h = lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
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
    h->engine = rc_engine_new();
    if (h->engine == NULL)
        return luaL_error(L, "runctl_openlibs: could not start the HTTP engine");
    rc_engine_set_log(h->engine, h->log_level, rc_host_log_line, NULL);

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, UNJOINED_KEY);
    luaL_newmetatable(L, TASK_META);
    lua_pushcfunction(L, task_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);

    preload(L, "runctl.core", luaopen_runctl_core);
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
    if (h->running != NULL)
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
        fprintf(stderr, "runctl: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    pending = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return pending;
}
