/* lua/host_int.h — private to the host's files (sched.c, task.c, open.c,
 * handles.c): the task and scheduler structs, the host userdata, and the
 * helpers they share. Other files see the host through host.h only. */
#ifndef RC_HOST_INT_H
#define RC_HOST_INT_H

#include "host.h"

#define TASK_META "runctl.task"
#define UNJOINED_KEY "runctl.unjoined"

enum task_state { TASK_READY, TASK_RUNNING, TASK_WAITING, TASK_DONE };

struct rc_task {
    rc_host *host;
    lua_State *co;              /* also held in user value 1, so GC keeps it */
    int anchor;                 /* registry ref while not done, else LUA_NOREF */
    enum task_state state;
    enum rc_task_status outcome;
    int nargs;                  /* values on co's stack to pass at the next resume */
    int joined;                 /* when done: somebody collected the outcome */
    rc_task *ready_prev, *ready_next;
    rc_task *alive_prev, *alive_next;
    rc_event done;              /* fires when it ends: joiners wait on it */
    rc_event *wait_ev;          /* what it is suspended on in rc_host_wait, or NULL */
    rc_event *wait_pending;     /* Lua 5.1: what it yields to wait on, until it did */
    rc_task *wait_next;         /* the next waiter of wait_ev (before it fired) */
    rc_timer deadline;          /* task.deadline: cancels the task when it fires */
    double deadline_s;          /* as given, for the error message */
    int overdue;                /* its deadline fired; it is on the overdue list */
    rc_task *overdue_next;
    enum { ABORT_CANCELLED, ABORT_DEADLINE } abort_reason;
};

struct rc_sched {
    rc_task *ready_head, *ready_tail;
    int ready_count;
    rc_task *alive;             /* every task not done, newest first */
    int tasks_alive;
    rc_task *running;           /* the task being resumed right now, or NULL */
    rc_task *overdue;           /* tasks whose deadline fired, to cancel in the next round */
    double budget_s;            /* frame budget of a non-blocking step; <= 0: none */
    double step_end;            /* when the current budgeted step must stop; 0: no limit */
    unsigned long step_resumed; /* resumes in the current step */
    runctl_stats stats;         /* polls, resumed, budget_stops, max_resumed */
};

#define DEFAULT_FRAME_BUDGET_S 0.001

/* The host userdata: the settings other files read, then the scheduler. */
struct host_block {
    rc_host host;
    rc_sched sched;
};

/* sched.c: the ready queue, the list of live tasks, waiting and settling */
void host_wake(rc_task *t);
void host_unlink_ready(rc_sched *s, rc_task *t);
void host_link_alive(rc_sched *s, rc_task *t);
void host_stop_waiting(lua_State *L, rc_task *t);
rc_task *host_current(rc_host *h, lua_State *L);
void host_push_error_text(lua_State *L);
void host_settle(rc_host *h, lua_State *L, rc_task *t, int ti, enum rc_task_status outcome);

/* task.c: deadlines, results and the task object's metatable */
void host_cancel_overdue(rc_host *h, lua_State *L);
int host_set_deadline(rc_task *t, double seconds);
int host_push_results(lua_State *L, int idx);
void host_register_task_meta(lua_State *L);

#endif
