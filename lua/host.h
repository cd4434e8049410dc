/* lua/host.h — the host shared by the l_*.c files: one engine per state, the
 * task scheduler (coroutines resumed when their transfer or timer is done). */
#ifndef RC_HOST_H
#define RC_HOST_H

#include <lua.h>
#include <lauxlib.h>
#include <signal.h>

#include "../core/engine.h"
#include "runctl.h"

typedef struct rc_task rc_task;

typedef struct rc_host {
    rc_engine *engine;
    rc_task *ready_head, *ready_tail;
    int ready_count;
    int tasks_alive;            /* spawned and not finished */
    rc_task *running;           /* the task being resumed right now, or NULL */
    int dry_run;
    int log_level;              /* -1 quiet, 0 default, 1 info, 2 debug */
    runctl_options opts;        /* as given to runctl_openlibs (strings copied below) */
    char *base_url, *organization, *project;
    /* A sandbox's network policy (lua/sandbox.c), or NULL: consulted before
     * every request is submitted; returns 1 to allow, or 0 with why written. */
    int (*policy)(void *ud, const rc_request *req, char *why, size_t whysz);
    void *policy_ud;
    /* Set by a sandbox: a binding that cannot yield inside a task (a plain
     * coroutine, a metamethod) raises this instead of blocking the host. */
    const char *no_blocking;
} rc_host;

enum task_state { TASK_READY, TASK_RUNNING, TASK_WAITING, TASK_DONE };

struct rc_task {
    rc_host *host;
    lua_State *co;              /* also held in user value 1, so GC keeps it */
    int anchor;                 /* registry ref while not done, else LUA_NOREF */
    enum task_state state;
    int nargs;                  /* values on co's stack to pass at the next resume */
    int ok;                     /* when done: finished without error */
    int joined;                 /* when done: somebody collected the outcome */
    rc_task *next_ready;
};

#define RC_HOST_KEY "runctl.host"

/* Ctrl-C, as seen by the command's signal handler: the count of SIGINTs, and
 * whether a script watches for them (runctl.interrupted() was called). */
extern volatile sig_atomic_t rc_sigint_count;
extern volatile sig_atomic_t rc_sigint_watched;

/* The host of L's state (from the registry); raises if runctl is not open. */
rc_host *rc_host_get(lua_State *L);

/* The task whose own coroutine is L and that may yield now, or NULL (host
 * code, a nested coroutine, or a non-yieldable context: callers then block). */
rc_task *rc_host_current(rc_host *h, lua_State *L);

/* Queues t to be resumed by the scheduler. Safe from engine callbacks. */
void rc_host_wake(rc_task *t);

/* One round of the loop: run ready tasks, wait for I/O or timers up to
 * timeout_ms, run what woke. L is only used as a scratch stack. */
void rc_host_step(rc_host *h, lua_State *L, int timeout_ms);
int rc_host_pending(rc_host *h);

/* Spawns fn (at index -nargs-1) with nargs arguments from L's top as a task;
 * pops them and pushes the task object. */
rc_task *rc_host_spawn(lua_State *L, rc_host *h, int nargs);

/* Pushes a task's outcome: true, results... or false, error. Returns count. */
int rc_task_push_outcome(lua_State *L, int task_index);

/* Writes the failed tasks nobody joined to stderr; returns their count. */
int rc_host_report_unjoined(lua_State *L);

/* Forgets the failed tasks nobody joined (a sandbox starting its next script). */
void rc_host_clear_unjoined(lua_State *L);

/* The engine log sink: one line to stderr, prefixed "runctl: ". */
void rc_host_log_line(void *ud, const char *line);

int luaopen_runctl_core(lua_State *L);
int luaopen_runctl_task(lua_State *L);
int luaopen_runctl_json(lua_State *L);
int luaopen_runctl_extdir(lua_State *L);   /* lua/ext.c */

#endif
