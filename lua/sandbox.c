/* lua/sandbox.c — runctl_sandbox_*: a Lua state for scripts the host does not
 * trust. Scripts get fresh globals built from an allow-list; a count hook
 * enforces the instruction and time limits, the state's allocator the memory
 * limit, and a request policy the allowed hosts. runctl's own Lua half runs
 * in the same state with the full standard library, out of the scripts' reach.
 * This file creates and runs it; the limits are in sandbox_limits.c, the
 * checked library functions in sandbox_match.c, the request policy in
 * sandbox_hosts.c, the scripts' globals in sandbox_env.c. */
#include "sandbox_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

/* ------------------------------------------------------------------ creating */

static int setup_protected(lua_State *L)
{
    const runctl_options *given = lua_touserdata(L, 1);
    rc_sandbox *sb = lua_touserdata(L, 2);
    lua_settop(L, 0);
    /* The full library for runctl's own Lua half, which runs in the global
     * table; scripts never see it (they get fresh globals, built below). */
    luaL_openlibs(L);
#ifdef LUAJIT_VERSION
    /* Compiled traces skip count hooks: only the interpreter runs here, so
     * the instruction and time limits hold (scripts never reach jit.on). */
    if (!luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF))
        return luaL_error(L, "LuaJIT's compiler cannot be turned off, and its compiled "
                             "loops would escape the limits: use the Lua 5.4 build");
    /* LuaJIT raises "not enough memory" at a refused allocation without the
     * emergency collection 5.4 makes first: a collector that keeps up keeps
     * garbage from counting against the limit. */
    lua_gc(L, LUA_GCSETPAUSE, 100);
    lua_gc(L, LUA_GCSETSTEPMUL, 400);
#endif
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, sbx_guarded_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    /* string.dump stays out of reach even through ("").dump. */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    sbx_install_checked_matching(L);

    runctl_options opts;
    runctl_options_init(&opts);
    if (given != NULL)
        opts = *given;
    opts.no_globals = 0;                /* the template is built from the globals */
    opts.load_extensions = 0;           /* extensions are trusted code: never here */
    lua_pushboolean(L, 1);              /* core.sandboxed(): clients take no admin key from the environment */
    lua_setfield(L, LUA_REGISTRYINDEX, RC_SANDBOXED_KEY);
    if (runctl_openlibs(L, &opts) != 0)
        return lua_error(L);
    sbx_build_template(L);

    rc_host *h = rc_host_get(L);
    h->policy = sbx_policy;
    h->policy_ud = sb;
    h->limits_check = sbx_limits_check;
    h->limits_ud = sb;
#if RC_LUA51
    h->reclaim = sbx_reclaim;
#endif
    h->no_blocking = "sandbox: this call cannot wait here (a plain coroutine or a metamethod "
                     "cannot yield, and blocking would stall the host): call it from a task";
    return 0;
}

static int sandbox_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "runctl: sandbox: unprotected error in a call to Lua: %s\n", msg ? msg : "?");
    return 0;                           /* then Lua aborts */
}

static void free_sandbox(rc_sandbox *sb)
{
    for (size_t i = 0; i < sb->n_hosts; i++) {
        free(sb->hosts[i].host);
        free(sb->hosts[i].port);
    }
    free(sb->hosts);
    free(sb);
}

void runctl_sandbox_limits_init(runctl_sandbox_limits *l)
{
    memset(l, 0, sizeof *l);
}

lua_State *runctl_sandbox_new(const runctl_sandbox_limits *limits,
                              const runctl_options *opts, char *err, size_t errsz)
{
    rc_sandbox *sb = calloc(1, sizeof *sb);
    if (sb == NULL) {
        snprintf(err, errsz, "sandbox: out of memory");
        return NULL;
    }
    if (limits != NULL)
        sb->limits = *limits;
    sb->limits.allow_hosts = NULL;      /* copied into hosts below */
    if (sb->limits.max_seconds < 0 || sb->limits.max_seconds != sb->limits.max_seconds) {
        snprintf(err, errsz, "sandbox: max_seconds must be a non-negative number");
        free_sandbox(sb);
        return NULL;
    }
    size_t n = 0;
    while (limits != NULL && limits->allow_hosts != NULL && limits->allow_hosts[n] != NULL)
        n++;
    if (n > 0 && (sb->hosts = calloc(n, sizeof *sb->hosts)) == NULL) {
        snprintf(err, errsz, "sandbox: out of memory");
        free_sandbox(sb);
        return NULL;
    }
    for (; sb->n_hosts < n; sb->n_hosts++) {
        if (sbx_parse_allowed(limits->allow_hosts[sb->n_hosts], &sb->hosts[sb->n_hosts]) != 0) {
            snprintf(err, errsz, "sandbox: allowed host \"%.200s\" is not a host, host:port, "
                     "[IPv6]:port or *.domain", limits->allow_hosts[sb->n_hosts]);
            free_sandbox(sb);
            return NULL;
        }
    }

    lua_State *L = lua_newstate(sbx_alloc, sb);
    if (L == NULL) {
#ifdef LUAJIT_VERSION
        /* A 64-bit LuaJIT built without GC64 refuses every custom allocator,
         * and the memory limit cannot be kept without one. */
        snprintf(err, errsz, "sandbox: this LuaJIT cannot create a state with the sandbox's "
                 "allocator (out of memory, or a 64-bit build without GC64): use the Lua 5.4 build");
#else
        snprintf(err, errsz, "sandbox: cannot create a Lua state (out of memory)");
#endif
        free_sandbox(sb);
        return NULL;
    }
    lua_atpanic(L, sandbox_panic);
    sb->main_thread = L;
    /* Before anything creates a thread: each thread inherits its creator's hook. */
    lua_sethook(L, sbx_limits_hook, HOOK_MASK, HOOK_STEP);
    lua_pushcfunction(L, setup_protected);
    lua_pushlightuserdata(L, (void *)opts);
    lua_pushlightuserdata(L, sb);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        snprintf(err, errsz, "sandbox: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "setup failed");
        runctl_sandbox_close(L);
        return NULL;
    }
    lua_gc(L, LUA_GCCOLLECT);
    if (sb->limits.max_memory > 0)
        sb->limit = sb->used + sb->limits.max_memory;
    return L;
}

void runctl_sandbox_close(lua_State *L)
{
    rc_sandbox *sb = sbx_of(L);
    lua_close(L);                       /* frees through sb: free sb after */
    if (sb != NULL)
        free_sandbox(sb);
}

void runctl_sandbox_env(lua_State *L)
{
    if (sbx_of(L) != NULL)
        lua_getfield(L, LUA_REGISTRYINDEX, ENV_KEY);
    else
        lua_pushnil(L);
}

/* For the entry points below: 0, or -1 with a message pushed when L is not a sandbox. */
static int not_a_sandbox(lua_State *L)
{
    if (sbx_of(L) != NULL)
        return 0;
    lua_pushliteral(L, "runctl: this lua_State was not made by runctl_sandbox_new");
    return -1;
}

/* ------------------------------------------------------------------ running */

struct chunk {
    const char *code;
    size_t len;
    const char *name;
};

static int start_protected(lua_State *L)
{
    const struct chunk *c = lua_touserdata(L, 1);
    rc_sandbox *sb = sbx_of(L);
    rc_host *h = rc_host_get(L);
    lua_settop(L, 0);
    if (sb->active) {                   /* ended, but nobody asked runctl_sandbox_status yet? */
        lua_getfield(L, LUA_REGISTRYINDEX, RUN_TASK_KEY);
        if (sb->trip == TRIP_NONE && rc_host_task_status(L, -1) != RC_TASK_ALIVE &&
            rc_host_tasks_alive(h) <= sb->inert_tasks)
            sb->active = 0;
        lua_pop(L, 1);
    }
    /* Leftovers that cannot wake anything do not hold the next run back:
     * timers or transfers no task waits for (a sleep abandoned by an error),
     * and tasks with nothing pending (waiting for each other, or resumed by
     * hand to their end outside the scheduler), which can never run again. */
    if (sb->active || (rc_host_tasks_alive(h) > 0 && rc_host_pending(h) > 0))
        return luaL_error(L, "sandbox: the previous script still has tasks running "
                             "(poll until runctl_sandbox_status says it ended, or close the sandbox)");
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, RESULT_KEY);
    rc_host_clear_unjoined(L);
    sb->trip = TRIP_NONE;
    sb->over = 0;
    sb->refused = 0;
    sb->refused_in_run = 0;
    sb->collect_due = sb->over_seen = 0;
    sbx_collect(L, sb);

    /* Nothing a previous run did shows: the host's dry-run setting, and
     * fresh copies of the template and every plain table in it (libraries,
     * runctl's modules); clients are read-only and stay themselves. */
    h->dry_run = h->opts.dry_run != 0;
    lua_getfield(L, LUA_REGISTRYINDEX, ENV_KEY);
    lua_newtable(L);                    /* original -> copy, so shared tables stay shared */
    lua_getfield(L, -2, "runctl");
    sbx_push_deep_copy(L, -3, lua_gettop(L) - 1, lua_gettop(L));
    lua_replace(L, -3);
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RUN_ENV_KEY);
    int env = lua_gettop(L);

    if (luaL_loadbufferx(L, c->code, c->len, c->name, "t") != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, env);
#if RC_LUA51
    lua_setfenv(L, -2);                 /* 5.1: a function's globals are its environment */
#else
    lua_setupvalue(L, -2, 1);           /* a main chunk's only upvalue is _ENV */
#endif
    lua_getfield(L, LUA_REGISTRYINDEX, GUARD_KEY);
    lua_insert(L, -2);
    lua_call(L, 1, 1);                  /* the script runs inside a pcall (see WRAPPERS_LUA) */

    lua_sethook(L, sbx_limits_hook, HOOK_MASK, HOOK_STEP);  /* the task inherits it */
    sb->inert_tasks = rc_host_tasks_alive(h);
    rc_host_spawn(L, h, 0);
    lua_setfield(L, LUA_REGISTRYINDEX, RUN_TASK_KEY);
    sb->instructions = 0;
    sb->deadline = sbx_now_s() + sb->limits.max_seconds;
    sb->active = 1;
    return 0;
}

int runctl_sandbox_start(lua_State *L, const char *code, size_t len, const char *chunkname)
{
    if (not_a_sandbox(L) != 0)
        return -1;
    struct chunk c = { code, len, chunkname != NULL ? chunkname : "=(sandbox)" };
    lua_pushcfunction(L, start_protected);
    lua_pushlightuserdata(L, &c);
    return lua_pcall(L, 1, 0, 0) == LUA_OK ? 0 : -1;
}

/* luaL_tolstring under protection: a script's __tostring may fail or loop. */
static int tostring_protected(lua_State *L)
{
    luaL_tolstring(L, 1, NULL);
    return 1;
}

/* Ends the run: records why it failed (the string at the top) or that it did not. */
static int end_run(lua_State *L, rc_sandbox *sb, int failed)
{
    sb->active = 0;
    if (!failed)
        return 0;
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RESULT_KEY);
    return -1;
}

static int cancel_all_protected(lua_State *L)
{
    rc_host_cancel_all(L, lua_touserdata(L, 1));
    return 0;
}

/* Ends every task left of a run a limit stopped, and the requests and sleeps
 * they wait for (their __close handlers raise at once: the limit holds), so
 * its memory comes back and the next run can start. */
static void end_tasks(lua_State *L, rc_host *h)
{
    rc_sandbox *sb = sbx_of(L);
    sb->ending = 1;                     /* ending a task allocates a little; it frees much more */
    lua_pushcfunction(L, cancel_all_protected);
    lua_pushlightuserdata(L, h);
    int rc = lua_pcall(L, 1, 0, 0);
    sb->ending = 0;
    if (rc != LUA_OK)
        lua_pop(L, 1);                  /* a task left is ended as it resumes */
    sbx_collect(L, sb);
}

static int status_protected(lua_State *L)
{
    rc_sandbox *sb = sbx_of(L);
    rc_host *h = rc_host_get(L);
    char msg[96];
    lua_settop(L, 0);
    if (!sb->active) {
        lua_getfield(L, LUA_REGISTRYINDEX, RESULT_KEY);
        lua_pushinteger(L, lua_isnil(L, -1) ? 0 : -1);
        return 2;
    }
    sbx_check_memory(L, sb);
    lua_getfield(L, LUA_REGISTRYINDEX, RUN_TASK_KEY);
    enum rc_task_status outcome = rc_host_task_status(L, 1);
    /* The run goes on while any of its tasks does (the main one, or those it
     * spawned); timers and transfers no task waits for do not hold it. */
    int running = outcome == RC_TASK_ALIVE || rc_host_tasks_alive(h) > sb->inert_tasks;
    if (sb->trip == TRIP_NONE && running && sb->limits.max_seconds > 0 && sbx_now_s() > sb->deadline)
        sb->trip = TRIP_TIME;           /* waiting (a sleep, a slow request) counts too */
    if (sb->trip == TRIP_NONE && running) {
        if (rc_host_pending(h) > 0) {
            lua_pushnil(L);
            lua_pushinteger(L, 1);
            return 2;
        }
        lua_pushliteral(L, "sandbox: the script's tasks wait for each other and can never finish");
        lua_pushinteger(L, end_run(L, sb, 1));
        return 2;
    }
    if (sb->trip == TRIP_NONE && outcome == RC_TASK_OK) {
        lua_pushnil(L);
        lua_pushinteger(L, end_run(L, sb, 0));
        return 2;
    }
    if (sb->trip == TRIP_NONE) {
        rc_task_push_outcome(L, 1);     /* false, err */
        /* Still active while the error's own __tostring runs: it is script code. */
        lua_pushcfunction(L, tostring_protected);
        lua_insert(L, -2);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_pushliteral(L, "(the script's error object could not be turned into text)");
        }
        if (sb->trip == TRIP_NONE && sb->refused_in_run &&
            strcmp(lua_tostring(L, -1), "not enough memory") == 0)
            sb->trip = TRIP_MEMORY;
    }
    if (sb->trip != TRIP_NONE) {
        end_tasks(L, h);
        lua_pushstring(L, sbx_trip_text(sb, msg, sizeof msg));
    }
    lua_pushinteger(L, end_run(L, sb, 1));
    return 2;
}

int runctl_sandbox_status(lua_State *L)
{
    if (not_a_sandbox(L) != 0)
        return -1;
    lua_pushcfunction(L, status_protected);
    if (lua_pcall(L, 0, 2, 0) != LUA_OK)
        return -1;                      /* the error message stays pushed */
    int st = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (st != -1)
        lua_pop(L, 1);                  /* nil: nothing to report */
    return st;
}

/* After runctl_poll failed during a run: the run's status when that tells
 * why (a memory error in the scheduler is the memory limit), else -1. */
static int poll_failed(lua_State *L)
{
    int st = runctl_sandbox_status(L);
    if (st != 1)
        return st;
    lua_pushliteral(L, "sandbox: runctl_poll failed (see stderr)");
    return -1;
}

int runctl_sandbox_run(lua_State *L, const char *code, size_t len, const char *chunkname)
{
    rc_sandbox *sb = sbx_of(L);
    if (sb == NULL)
        return not_a_sandbox(L);
    if (runctl_sandbox_start(L, code, len, chunkname) != 0)
        return -1;
    for (;;) {
        int st = runctl_sandbox_status(L);
        if (st != 1)
            return st;
        /* Run what is ready first: if that ends the run, a wait now could
         * be for a timer no task needs any more (a sleep abandoned by an error). */
        if (runctl_poll(L, 0) < 0)
            return poll_failed(L);
        if ((st = runctl_sandbox_status(L)) != 1)
            return st;
        int wait_ms = -1;
        if (sb->limits.max_seconds > 0) {
            double left = sb->deadline - sbx_now_s();
            wait_ms = left <= 0 ? 0 : left > 3600 ? 3600 * 1000 : (int)(left * 1000) + 1;
        }
        if (runctl_poll(L, wait_ms) < 0)
            return poll_failed(L);
    }
}
