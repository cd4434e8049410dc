/* lua/host.h — the host shared by the l_*.c files: one engine per state and its
 * settings, and the scheduler's interface. The scheduler itself (tasks, the
 * ready queue, the frame budget) is private to the host's files (sched.c,
 * task.c, open.c, handles.c; host_int.h): other files ask it questions and
 * suspend through one primitive, rc_host_wait. */
#ifndef RC_HOST_H
#define RC_HOST_H

#include <lua.h>
#include <lauxlib.h>
#include <signal.h>

#include "compat51.h"

#include "../core/engine.h"
#include "runctl.h"

typedef struct rc_task rc_task;         /* private to the host (host_int.h) */
typedef struct rc_sched rc_sched;       /* private to the host (host_int.h) */

typedef struct rc_host {
    rc_engine *engine;
    rc_sched *sched;            /* the scheduler: the host's files only */
    int dry_run;
    int log_level;              /* -1 quiet, 0 default, 1 info, 2 debug */
    runctl_options opts;        /* as given to runctl_openlibs (strings copied below) */
    char *base_url, *organization, *project;
    /* A sandbox's network policy (lua/sandbox_hosts.c), or NULL: consulted before
     * every request is submitted; returns 1 to allow (having set req->proxy),
     * or 0 with why written. */
    int (*policy)(void *ud, rc_request *req, char *why, size_t whysz);
    void *policy_ud;
    /* Set by a sandbox: a binding that cannot yield inside a task (a plain
     * coroutine, a metamethod) raises this instead of blocking the host. */
    const char *no_blocking;
    /* Set by a sandbox: long work in C (the JSON encoder) calls it every so
     * often with the steps done since its last call (one per value visited,
     * one per few bytes written), counted like VM instructions, and with
     * out_of_memory set when an allocation the work needs was refused. It
     * raises the sandbox's limit error when a limit tripped (and then
     * "not enough memory" outside a run); otherwise it returns. */
    void (*limits_check)(lua_State *L, void *ud, size_t steps, int out_of_memory);
    /* Set by a sandbox on LuaJIT, which refuses an allocation without the
     * emergency collection Lua 5.4 makes first: called (with limits_ud)
     * after every resume, before the scheduler allocates for the task, to
     * collect the garbage a caught memory error left. */
    void (*reclaim)(lua_State *L, void *ud);
    void *limits_ud;
} rc_host;

#define RC_HOST_KEY "runctl.host"
#define RC_SANDBOXED_KEY "runctl.sandboxed"   /* registry: true in a sandbox (lua/sandbox.c) */

/* Ctrl-C, as seen by the command's signal handler: the count of SIGINTs, and
 * whether a script watches for them (runctl.interrupted() was called). */
extern volatile sig_atomic_t rc_sigint_count;
extern volatile sig_atomic_t rc_sigint_watched;

/* Writes "runctl: HEAD MSG" and a newline to stderr, MSG shown printable
 * (core/text.h, multi-line: a traceback keeps its lines): an error message
 * may quote what a server or an ID file said. */
void rc_host_print_error(const char *head, const char *msg);

/* The host of L's state (from the registry); raises if runctl is not open. */
rc_host *rc_host_get(lua_State *L);

/* ---- events: what a suspended call waits for ----
 *
 * An event lives inside the waiting call's own userdata (kept on the waiter's
 * stack, so it stays put while the task is suspended). Its owner fires it when
 * the work is done (from an engine callback: firing only queues the waiters). */
typedef struct rc_event rc_event;
/* Pushes the waiting call's results on L (the waiter's stack) once ev fired;
 * returns how many. */
typedef int (*rc_result_fn)(lua_State *L, rc_event *ev);
/* The waiter was cancelled (task.cancel, runctl_cancel_all, a wait the
 * sandbox refuses): stop the work behind ev at once and release what it
 * holds; result will never be called. L is a scratch stack. */
typedef void (*rc_abandon_fn)(lua_State *L, rc_event *ev);

struct rc_event {
    int fired;
    rc_result_fn result;
    rc_abandon_fn abandon;      /* NULL: nothing to stop */
    rc_task *waiters;           /* sched.c only */
};

void rc_event_init(rc_event *ev, rc_result_fn result, rc_abandon_fn abandon);
/* Marks ev done and queues its waiters to be resumed. */
void rc_event_fire(rc_event *ev);

/* THE suspension primitive. Use as `return rc_host_wait(h, L, ev, owner);`
 * from a C function, owner being the stack index of the value ev lives in:
 * suspends the calling task until ev fires and returns ev's results to it;
 * when the caller cannot yield (host code, a plain coroutine, a metamethod),
 * drives the loop right here until ev fires (a sandbox raises its
 * no_blocking error instead, after abandoning ev). */
int rc_host_wait(rc_host *h, lua_State *L, rc_event *ev, int owner);

/* ---- the loop ---- */

/* One round: runs ready tasks (within the frame budget when timeout_ms >= 0),
 * waits for I/O or timers up to timeout_ms (not at all while tasks are left
 * ready), runs what woke. L is only used as a scratch stack. */
void rc_host_step(rc_host *h, lua_State *L, int timeout_ms);
/* Transfers, timers and ready tasks still pending (0: nothing left to do). */
int rc_host_pending(rc_host *h);
/* 1 while a task is being resumed (host code must not drive the loop then). */
int rc_host_in_task(rc_host *h);
/* The frame budget of a step with timeout_ms >= 0, in seconds (0: none). */
void rc_host_set_budget(rc_host *h, double seconds);
double rc_host_budget(rc_host *h);
/* The scheduler's bookkeeping (see runctl_get_stats). */
void rc_host_stats(rc_host *h, runctl_stats *out);

/* ---- tasks ---- */

/* Spawns fn (at index -nargs-1) with nargs arguments from L's top as a task;
 * pops them and pushes the task object. */
void rc_host_spawn(lua_State *L, rc_host *h, int nargs);

enum rc_task_status { RC_TASK_ALIVE, RC_TASK_OK, RC_TASK_FAILED, RC_TASK_ABORTED };
/* How the task at idx stands (raises if idx is not a task). */
enum rc_task_status rc_host_task_status(lua_State *L, int idx);
/* Tasks spawned and not finished, cancelled or failed yet. */
int rc_host_tasks_alive(rc_host *h);

/* Pushes a finished task's outcome: true, results... | false, err (it failed)
 * | nil, err (it was cancelled: err.kind == "aborted"). Marks it joined.
 * Returns the count. */
int rc_task_push_outcome(lua_State *L, int task_index);
/* If the finished task at idx failed: pushes its traceback, marks it joined
 * (it is not reported again as unjoined) and returns 1; if it was cancelled,
 * pushes why and returns 1; else returns 0. */
int rc_host_claim_failure(lua_State *L, int idx);

/* task.join(t) with the task at index 1: waits for it (rc_host_wait) and
 * returns its outcome as rc_task_push_outcome does. */
int rc_host_join(lua_State *L, rc_host *h);
/* Pushes the task being resumed, or nothing; returns the count. */
int rc_host_push_running(lua_State *L, rc_host *h);
/* Cancels the task at idx: removed from the ready queue, the request or sleep
 * it waits for abandoned (a transfer leaves the engine at once), its pending
 * to-be-closed variables closed, its joiners woken with nil, err (kind
 * "aborted"). Returns 1, or 0 when it had already finished. Raises when the
 * task is on the C stack (itself, or one blocked in a call that drives the loop). */
int rc_host_cancel(lua_State *L, rc_host *h, int idx);

/* Sets (seconds >= 0) or removes (seconds < 0) the deadline of the task at
 * idx: when it passes, the task is cancelled as by rc_host_cancel (joiners
 * get err.reason == "deadline"). Returns 0 when the task had already ended. */
int rc_host_set_deadline(lua_State *L, int idx, double seconds);

/* Writes the failed tasks nobody joined to stderr; returns their count. */
int rc_host_report_unjoined(lua_State *L);
/* Forgets the failed tasks nobody joined (a sandbox starting its next script). */
void rc_host_clear_unjoined(lua_State *L);

/* Cancels every task of the state that is not on the C stack right now, and
 * with them every request and sleep they wait for (see task.cancel). Returns
 * how many tasks it ended. Call from host code, or from a binding. */
int rc_host_cancel_all(lua_State *L, rc_host *h);

/* The engine log sink: one line to stderr, prefixed "runctl: ". */
void rc_host_log_line(void *ud, const char *line);

int luaopen_runctl_core(lua_State *L);
int luaopen_runctl_outfile(lua_State *L);   /* l_outfile.c */
int luaopen_runctl_task(lua_State *L);
int luaopen_runctl_json(lua_State *L);
/* lua/l_json.c: pushes the JSON object s holds (as json.decode would) and
 * returns 1, or returns 0 and pushes nothing (json.decode then judges s). */
int rc_json_decode_object(lua_State *L, const char *s, size_t len);

#endif
