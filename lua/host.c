/* lua/host.c — the host: per-state engine and the task scheduler (its only
 * owner: the task struct, the ready queue, suspension and cancellation live
 * here), runctl_openlibs, runctl_poll and runctl_cancel_all. Tasks are
 * coroutines; a binding suspends its task through rc_host_wait until the
 * event it waits for (a transfer, a timer, another task) fires. */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "embedded.h"

volatile sig_atomic_t rc_sigint_count;
volatile sig_atomic_t rc_sigint_watched;

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

rc_host *rc_host_get(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, RC_HOST_KEY);
    rc_host *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (h == NULL || h->engine == NULL)
        luaL_error(L, "runctl is not open in this Lua state");
    return h;
}

/* ------------------------------------------------------------------ queues */

static void wake(rc_task *t)
{
    rc_sched *s = t->host->sched;
    if (t->state == TASK_READY || t->state == TASK_DONE)
        return;
    t->state = TASK_READY;
    t->ready_next = NULL;
    t->ready_prev = s->ready_tail;
    if (s->ready_tail != NULL)
        s->ready_tail->ready_next = t;
    else
        s->ready_head = t;
    s->ready_tail = t;
    s->ready_count++;
}

static void unlink_ready(rc_sched *s, rc_task *t)
{
    if (t->ready_prev != NULL)
        t->ready_prev->ready_next = t->ready_next;
    else
        s->ready_head = t->ready_next;
    if (t->ready_next != NULL)
        t->ready_next->ready_prev = t->ready_prev;
    else
        s->ready_tail = t->ready_prev;
    t->ready_prev = t->ready_next = NULL;
    s->ready_count--;
}

static void link_alive(rc_sched *s, rc_task *t)
{
    t->alive_prev = NULL;
    t->alive_next = s->alive;
    if (s->alive != NULL)
        s->alive->alive_prev = t;
    s->alive = t;
    s->tasks_alive++;
}

static void unlink_alive(rc_sched *s, rc_task *t)
{
    if (t->alive_prev != NULL)
        t->alive_prev->alive_next = t->alive_next;
    else
        s->alive = t->alive_next;
    if (t->alive_next != NULL)
        t->alive_next->alive_prev = t->alive_prev;
    t->alive_prev = t->alive_next = NULL;
    s->tasks_alive--;
}

/* ------------------------------------------------------------------ events */

void rc_event_init(rc_event *ev, rc_result_fn result, rc_abandon_fn abandon)
{
    ev->fired = 0;
    ev->result = result;
    ev->abandon = abandon;
    ev->waiters = NULL;
}

/* The waiters stay linked after the event fires: each unlinks itself when
 * it takes the result (wait_k) or ends (stop_waiting, from settle too), so
 * no list ever holds a task that is gone. */
void rc_event_fire(rc_event *ev)
{
    ev->fired = 1;
    for (rc_task *w = ev->waiters; w != NULL; w = w->wait_next)
        wake(w);
}

static void unlink_waiter(rc_event *ev, rc_task *t)
{
    for (rc_task **p = &ev->waiters; *p != NULL; p = &(*p)->wait_next) {
        if (*p == t) {
            *p = t->wait_next;
            break;
        }
    }
    t->wait_next = NULL;
    t->wait_ev = NULL;
}

/* Takes t off the waiters of what it waits for; abandons the work behind it
 * when nobody else waits (a request leaves the engine, a timer is disarmed). */
static void stop_waiting(lua_State *L, rc_task *t)
{
    rc_event *ev = t->wait_ev;
    if (ev == NULL)
        return;
    unlink_waiter(ev, t);
    if (ev->waiters == NULL && ev->abandon != NULL)
        ev->abandon(L, ev);
}

/* The task whose own coroutine is L and that may yield now, or NULL (host
 * code, a nested coroutine, a metamethod: the caller then blocks). */
static rc_task *current(rc_host *h, lua_State *L)
{
    rc_task *t = h->sched->running;
    if (t != NULL && t->co == L && t->state == TASK_RUNNING && lua_isyieldable(L))
        return t;
    return NULL;
}

/* Continuation of rc_host_wait (ctx: the waiting task, which may also be
 * resumed by hand, with coroutine.resume: before its event fired it waits on). */
static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    rc_task *me = (rc_task *)ctx;
    rc_event *ev = me->wait_ev;
    if (!ev->fired)
        return lua_yieldk(L, 0, ctx, wait_k);
    unlink_waiter(ev, me);
    return ev->result(L, ev);
}

int rc_host_wait(rc_host *h, lua_State *L, rc_event *ev, int owner)
{
    if (ev->fired)
        return ev->result(L, ev);
    rc_task *me = current(h, L);
    if (me != NULL) {
        /* The task itself keeps ev's owner alive while it waits (user value
         * 3): its stack alone would not, were its coroutine closed by hand. */
        owner = lua_absindex(L, owner);
        luaL_checkstack(L, 2, "waiting");
        lua_rawgeti(L, LUA_REGISTRYINDEX, me->anchor);
        lua_pushvalue(L, owner);
        lua_setiuservalue(L, -2, 3);
        lua_pop(L, 1);
        me->wait_ev = ev;
        me->wait_next = ev->waiters;
        ev->waiters = me;
        me->state = TASK_WAITING;
        return lua_yieldk(L, 0, (lua_KContext)me, wait_k);
    }
    /* Inside a task but unable to yield: a sandbox forbids blocking there
     * (the wait could outlast every limit, the host stuck). */
    if (h->sched->running != NULL && h->no_blocking != NULL) {
        if (ev->waiters == NULL && ev->abandon != NULL)
            ev->abandon(L, ev);
        return luaL_error(L, "%s", h->no_blocking);
    }
    while (!ev->fired) {
        if (rc_host_pending(h) == 0)    /* only a join can wait for nothing */
            return luaL_error(L, "task.join: the task can never finish (it waits for something nothing will do)");
        rc_host_step(h, L, -1);
    }
    return ev->result(L, ev);
}

/* ------------------------------------------------------------------ outcomes */

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

/* Pops the table at L's top into the task's outcome (user value 2) and
 * finishes the task: joiners woken, unreferenced, to-be-closed variables
 * closed. ti: the task's index on L. */
static void settle(rc_host *h, lua_State *L, rc_task *t, int ti, enum rc_task_status outcome)
{
    lua_setiuservalue(L, ti, 2);
    stop_waiting(L, t);                     /* a coroutine closed by hand ends mid-wait */
    t->outcome = outcome;
    t->state = TASK_DONE;
    unlink_alive(h->sched, t);
    rc_engine_timer_disarm(h->engine, &t->deadline);
    if (t->overdue) {
        for (rc_task **p = &h->sched->overdue; *p != NULL; p = &(*p)->overdue_next) {
            if (*p == t) {
                *p = t->overdue_next;
                break;
            }
        }
        t->overdue = 0;
    }
    if (outcome == RC_TASK_FAILED && t->done.waiters == NULL) {
        lua_getfield(L, LUA_REGISTRYINDEX, UNJOINED_KEY);
        lua_pushvalue(L, ti);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    rc_event_fire(&t->done);
    luaL_unref(L, LUA_REGISTRYINDEX, t->anchor);
    t->anchor = LUA_NOREF;
}

/* Stores the outcome of a task that just returned or raised, and wakes its joiners. */
static void finish_task(rc_host *h, lua_State *L, rc_task *t, int status, int nres)
{
    /* A fixed few slots on L whatever nres is: the results move one at a
     * time from co's top into the table (co may hold near LUAI_MAXSTACK). */
    luaL_checkstack(L, 8, "finishing a task");
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor);
    int ti = lua_gettop(L);
    if (status == LUA_OK) {
        lua_createtable(L, nres, 1);
        for (int i = nres; i >= 1; i--) {
            lua_xmove(t->co, L, 1);
            lua_rawseti(L, ti + 1, i);
        }
        lua_pushinteger(L, nres);
        lua_setfield(L, ti + 1, "n");
    } else {
        lua_createtable(L, 0, 2);
        lua_xmove(t->co, L, 1);             /* the error value */
        lua_pushvalue(L, -1);
        lua_setfield(L, ti + 1, "err");
        push_error_text(L);
        luaL_traceback(L, t->co, lua_tostring(L, -1), 0);
        lua_setfield(L, ti + 1, "traceback");
        lua_pop(L, 1);
    }
    settle(h, L, t, ti, status == LUA_OK ? RC_TASK_OK : RC_TASK_FAILED);
    lua_settop(L, ti - 1);
    lua_resetthread(t->co);                 /* closes pending to-be-closed variables */
}

static void resume_task(rc_host *h, lua_State *L, rc_task *t)
{
    rc_sched *s = h->sched;
    int nres = 0;
    rc_task *outer = s->running;
    int nargs = t->nargs;
    t->nargs = 0;
    t->state = TASK_RUNNING;
    s->running = t;
    int status = lua_resume(t->co, L, nargs, &nres);
    s->running = outer;
    if (status == LUA_YIELD) {
        if (t->state == TASK_RUNNING) {     /* a bare coroutine.yield(): run again later */
            lua_pop(t->co, nres);
            wake(t);
        }
        return;
    }
    finish_task(h, L, t, status, nres);
}

/* Resumes the tasks that are ready now, in order; those they wake wait for
 * the next round. Under a frame budget it stops once the step's time is
 * spent (after at least one resume per step, so everything progresses): the
 * rest stay at the head of the queue for the next call. Returns 0 when it
 * stopped at the budget. */
static int run_ready(rc_host *h, lua_State *L)
{
    rc_sched *s = h->sched;
    for (int n = s->ready_count; n > 0 && s->ready_head != NULL; n--) {
        if (s->step_end > 0 && s->step_resumed > 0 && rc_now() >= s->step_end)
            return 0;
        rc_task *t = s->ready_head;
        unlink_ready(s, t);
        s->step_resumed++;
        s->stats.resumed++;
        resume_task(h, L, t);
    }
    return 1;
}

int rc_host_pending(rc_host *h)
{
    return rc_engine_pending(h->engine) + h->sched->ready_count;
}

int rc_host_in_task(rc_host *h)
{
    return h->sched->running != NULL;
}

int rc_host_tasks_alive(rc_host *h)
{
    return h->sched->tasks_alive;
}

static void cancel_overdue(rc_host *h, lua_State *L);

/* The engine's network work until deadline (0: none); 1 when it stopped
 * there with ready answers or queued starts left. */
static int engine_round(rc_host *h, int timeout_ms, double deadline)
{
    rc_engine_stats before, after;
    rc_engine_get_stats(h->engine, &before);
    rc_engine_poll_until(h->engine, timeout_ms, deadline);
    rc_engine_get_stats(h->engine, &after);
    return after.deferred != before.deferred;
}

/* One round: the engine's network work first (answers read, transfers
 * started, timers fired), then the tasks that woke or wait to start. Under a
 * frame budget the engine may use half of it (so answers keep flowing while
 * many tasks wait to start) and the tasks the rest; time the tasks leave goes
 * back to the network, and to the tasks it wakes. Each stops after at least
 * one piece of work per round, so everything progresses. */
void rc_host_step(rc_host *h, lua_State *L, int timeout_ms)
{
    rc_sched *s = h->sched;
    /* A step may nest (a call that cannot yield drives the loop): it keeps
     * its own budget and bookkeeping, the outer step's are restored after. */
    double outer_end = s->step_end;
    unsigned long outer_resumed = s->step_resumed;
    double start = rc_now();
    int budgeted = timeout_ms >= 0 && s->budget_s > 0;
    s->step_end = budgeted ? start + s->budget_s : 0;
    s->step_resumed = 0;
    s->stats.polls++;
    int io_left = engine_round(h, s->ready_count > 0 ? 0 : timeout_ms,
                               budgeted ? start + s->budget_s / 2 : 0);
    cancel_overdue(h, L);
    int within = run_ready(h, L);
    while (budgeted && within && io_left && rc_now() < s->step_end) {
        io_left = engine_round(h, 0, s->step_end);
        cancel_overdue(h, L);
        within = run_ready(h, L);
    }
    if (!within)
        s->stats.budget_stops++;
    if (io_left)
        s->stats.io_stops++;
    if (s->step_resumed > s->stats.max_resumed)
        s->stats.max_resumed = s->step_resumed;
    s->step_end = outer_end;
    s->step_resumed = outer_resumed;
}

void rc_host_set_budget(rc_host *h, double seconds)
{
    h->sched->budget_s = seconds > 0 ? seconds : 0;
}

double rc_host_budget(rc_host *h)
{
    return h->sched->budget_s;
}

void rc_host_stats(rc_host *h, runctl_stats *out)
{
    *out = h->sched->stats;
    out->ready = h->sched->ready_count;
    out->tasks = h->sched->tasks_alive;
    out->in_engine = rc_engine_pending(h->engine);
}

/* ------------------------------------------------------------------ tasks */

static int join_result(lua_State *L, rc_event *ev)
{
    (void)ev;
    return rc_task_push_outcome(L, 1);      /* the joined task: index 1 of task.join */
}

/* A task's deadline (a timer callback: no Lua here): queued for the loop to
 * cancel right after the engine poll. */
static void deadline_fired(void *ud)
{
    rc_task *t = ud;
    rc_sched *s = t->host->sched;
    if (t->state == TASK_DONE || t->overdue)
        return;
    t->overdue = 1;
    t->overdue_next = s->overdue;
    s->overdue = t;
}

void rc_host_spawn(lua_State *L, rc_host *h, int nargs)
{
    int base = lua_gettop(L) - nargs;
    luaL_checkstack(L, 4, "spawning a task");
    rc_task *t = lua_newuserdatauv(L, sizeof *t, 3);
    memset(t, 0, sizeof *t);
    t->host = h;
    t->anchor = LUA_NOREF;
    t->state = TASK_WAITING;
    t->outcome = RC_TASK_ALIVE;
    rc_event_init(&t->done, join_result, NULL);
    rc_timer_init(&t->deadline, deadline_fired, t);
    luaL_setmetatable(L, TASK_META);
    t->co = lua_newthread(L);
    lua_setiuservalue(L, -2, 1);
    lua_insert(L, base);                    /* task below the function and its args */
    /* A new thread has LUA_MINSTACK slots: grow it before moving the function
     * and its arguments over (unpack(t) can pass thousands). */
    if (!lua_checkstack(t->co, nargs + 1))
        luaL_error(L, "task.spawn: too many arguments (%d)", nargs);
    lua_xmove(L, t->co, nargs + 1);
    t->nargs = nargs;
    lua_pushvalue(L, base);
    t->anchor = luaL_ref(L, LUA_REGISTRYINDEX);
    link_alive(h->sched, t);
    wake(t);
}

enum rc_task_status rc_host_task_status(lua_State *L, int idx)
{
    rc_task *t = luaL_checkudata(L, idx, TASK_META);
    return t->state == TASK_DONE ? t->outcome : RC_TASK_ALIVE;
}

/* Pushes the error a cancelled task's joiners get: a runctl error object
 * (kind "aborted") when lua/lib/api/errors.lua is loaded, else a plain table. */
static void push_aborted_error(lua_State *L, const rc_task *t)
{
    luaL_checkstack(L, 4, "task outcome");
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, "aborted");
    lua_setfield(L, -2, "kind");
    if (t->abort_reason == ABORT_DEADLINE) {
        lua_pushliteral(L, "deadline");
        lua_pushfstring(L, "the task's deadline passed (%f s)", t->deadline_s);
    } else {
        lua_pushliteral(L, "cancelled");
        lua_pushliteral(L, "the task was cancelled");
    }
    lua_setfield(L, -3, "message");
    lua_setfield(L, -2, "reason");
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "attempts");
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "runctl.api.errors") == LUA_TTABLE && lua_getfield(L, -1, "Error") == LUA_TTABLE) {
        lua_setmetatable(L, -4);
        lua_pop(L, 2);
        return;
    }
    lua_pop(L, 3);
}

int rc_task_push_outcome(lua_State *L, int task_index)
{
    rc_task *t = luaL_checkudata(L, task_index, TASK_META);
    task_index = lua_absindex(L, task_index);
    t->joined = 1;
    luaL_checkstack(L, 4, "task outcome");
    lua_getfield(L, LUA_REGISTRYINDEX, UNJOINED_KEY);
    lua_pushvalue(L, task_index);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    if (t->outcome == RC_TASK_ABORTED) {
        lua_pushnil(L);
        push_aborted_error(L, t);
        return 2;
    }
    lua_getiuservalue(L, task_index, 2);
    int out = lua_gettop(L);
    if (t->outcome == RC_TASK_FAILED) {
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

int rc_host_claim_failure(lua_State *L, int idx)
{
    rc_task *t = luaL_checkudata(L, idx, TASK_META);
    idx = lua_absindex(L, idx);
    if (t->state != TASK_DONE || t->outcome == RC_TASK_OK)
        return 0;
    if (t->outcome == RC_TASK_ABORTED) {    /* its text: "aborted: the task's deadline passed ..." */
        push_aborted_error(L, t);
        push_error_text(L);
        return 1;
    }
    rc_task_push_outcome(L, idx);
    lua_pop(L, 2);
    lua_getiuservalue(L, idx, 2);
    lua_getfield(L, -1, "traceback");
    lua_remove(L, -2);
    return 1;
}

int rc_host_join(lua_State *L, rc_host *h)
{
    rc_task *t = luaL_checkudata(L, 1, TASK_META);
    lua_settop(L, 1);
    if (t->state != TASK_DONE && current(h, L) == t)
        return luaL_error(L, "task.join: a task cannot join itself");
    return rc_host_wait(h, L, &t->done, 1);
}

int rc_host_push_running(lua_State *L, rc_host *h)
{
    rc_task *me = h->sched->running;
    if (me == NULL || me->anchor == LUA_NOREF)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, me->anchor);
    return 1;
}

/* Ends t without resuming it again (t is not on the C stack). */
static void abort_task(rc_host *h, lua_State *L, rc_task *t)
{
    rc_sched *s = h->sched;
    if (t->state == TASK_READY)
        unlink_ready(s, t);
    stop_waiting(L, t);
    luaL_checkstack(L, 4, "cancelling a task");
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor);
    int ti = lua_gettop(L);
    lua_pushboolean(L, 1);                  /* an outcome with nothing in it */
    settle(h, L, t, ti, RC_TASK_ABORTED);
    lua_settop(L, ti - 1);
    /* Its to-be-closed variables close as the task itself: task.running()
     * is t, and a call there that would wait blocks (or a sandbox refuses). */
    rc_task *outer = s->running;
    s->running = t;
    lua_resetthread(t->co);
    s->running = outer;
}

/* 1 when t's coroutine has frames being run: the scheduler resumed it, or
 * somebody resumed it by hand (coroutine.resume) while it waited. */
static int on_c_stack(rc_task *t)
{
    lua_Debug ar;
    return t->state == TASK_RUNNING ||
           (lua_status(t->co) == LUA_OK && lua_getstack(t->co, 0, &ar));
}

/* Cancels the tasks whose deadline passed, except those on the C stack now
 * (a task blocked in a call driving the loop): they go when it returns. */
static void cancel_overdue(rc_host *h, lua_State *L)
{
    rc_sched *s = h->sched;
    rc_task *later = NULL;
    while (s->overdue != NULL) {
        rc_task *t = s->overdue;
        s->overdue = t->overdue_next;
        t->overdue = 0;
        if (t->state == TASK_DONE)
            continue;
        if (on_c_stack(t)) {
            t->overdue_next = later;
            later = t;
            continue;
        }
        t->abort_reason = ABORT_DEADLINE;
        abort_task(h, L, t);
    }
    for (rc_task *t = later; t != NULL; t = t->overdue_next)
        t->overdue = 1;
    s->overdue = later;
}

/* Arms (seconds >= 0) or disarms t's deadline; 0 when t already ended. */
static int set_deadline(rc_task *t, double seconds)
{
    if (t->state == TASK_DONE)
        return 0;
    if (!(seconds >= 0)) {
        rc_engine_timer_disarm(t->host->engine, &t->deadline);
        return 1;
    }
    t->deadline_s = seconds;
    rc_engine_timer_arm(t->host->engine, &t->deadline, seconds);
    return 1;
}

int rc_host_set_deadline(lua_State *L, int idx, double seconds)
{
    return set_deadline(luaL_checkudata(L, idx, TASK_META), seconds);
}

int rc_host_cancel(lua_State *L, rc_host *h, int idx)
{
    rc_task *t = luaL_checkudata(L, idx, TASK_META);
    if (t->state == TASK_DONE)
        return 0;
    if (on_c_stack(t))
        return luaL_error(L, "task.cancel: the task is running (a task cannot cancel itself, nor "
                             "a task that called the one cancelling it)");
    abort_task(h, L, t);
    return 1;
}

int rc_host_cancel_all(lua_State *L, rc_host *h)
{
    int count = 0;
    for (;;) {
        /* From the head each time: a __close may spawn or end other tasks. */
        rc_task *t = h->sched->alive;
        while (t != NULL && on_c_stack(t))
            t = t->alive_next;
        if (t == NULL)
            return count;
        abort_task(h, L, t);
        count++;
    }
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

/* Pushes what the ended task at idx gave: its results as returned (no leading
 * true), or nil, err when it failed or was cancelled. Returns the count. */
static int push_results(lua_State *L, int idx)
{
    int n = rc_task_push_outcome(L, idx);
    if (lua_toboolean(L, -n)) {
        lua_remove(L, -n);
        return n - 1;
    }
    lua_pushnil(L);
    lua_replace(L, -3);                     /* false, err -> nil, err */
    return 2;
}

/* t:done() -> whether the task ended (finished, failed or was cancelled). */
static int task_done(lua_State *L)
{
    lua_pushboolean(L, rc_host_task_status(L, 1) != RC_TASK_ALIVE);
    return 1;
}

/* t:result() -> what the task returned | nil, err. Raises while it runs. */
static int task_result(lua_State *L)
{
    if (rc_host_task_status(L, 1) == RC_TASK_ALIVE)
        return luaL_error(L, "task:result: the task has not ended yet (ask t:done() first, "
                             "or wait with task.join(t))");
    lua_settop(L, 1);
    return push_results(L, 1);
}

/* t:cancel() -> as task.cancel(t). */
static int task_cancel(lua_State *L)
{
    rc_task *t = luaL_checkudata(L, 1, TASK_META);
    lua_pushboolean(L, rc_host_cancel(L, t->host, 1));
    return 1;
}

static const luaL_Reg task_methods[] = {
    { "done", task_done },
    { "result", task_result },
    { "cancel", task_cancel },
    { NULL, NULL }
};

static int task_tostring(lua_State *L)
{
    rc_task *t = luaL_checkudata(L, 1, TASK_META);
    static const char *const names[] = { "ready", "running", "waiting", "done" };
    static const char *const outcomes[] = { "done", "done", "failed", "cancelled" };
    lua_pushfstring(L, "task (%s): %p", t->state == TASK_DONE ? outcomes[t->outcome]
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
    luaL_newmetatable(L, TASK_META);
    lua_pushcfunction(L, task_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, task_methods);
    lua_setfield(L, -2, "__index");
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
        fprintf(stderr, "runctl: %s\n", lua_tostring(L, -1));
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
        fprintf(stderr, "runctl: %s\n", lua_tostring(L, -1));
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

/* ------------------------------------------------------------------ handles */

static int start_protected(lua_State *L)
{
    int nargs = lua_gettop(L) - 1;
    luaL_checktype(L, 1, LUA_TFUNCTION);
    rc_host_spawn(L, rc_host_get(L), nargs);
    lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
    return 1;
}

int runctl_start(lua_State *L, int nargs)
{
    lua_pushcfunction(L, start_protected);
    lua_insert(L, -(nargs + 2));
    if (lua_pcall(L, nargs + 1, 1, 0) != LUA_OK)
        return -1;
    int handle = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return handle;
}

/* Pushes the task of a handle and returns it, or returns NULL (nothing pushed). */
static rc_task *push_handle(lua_State *L, int handle)
{
    if (handle <= 0)
        return NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, handle);
    rc_task *t = luaL_testudata(L, -1, TASK_META);
    if (t == NULL)
        lua_pop(L, 1);
    return t;
}

int runctl_done(lua_State *L, int handle)
{
    rc_task *t = push_handle(L, handle);
    if (t == NULL)
        return -1;
    lua_pop(L, 1);
    return t->state == TASK_DONE;
}

static int result_protected(lua_State *L)
{
    return push_results(L, 1);
}

int runctl_result(lua_State *L, int handle)
{
    rc_task *t = push_handle(L, handle);
    if (t == NULL)
        return -1;
    if (t->state != TASK_DONE) {
        lua_pop(L, 1);
        return -1;
    }
    int base = lua_gettop(L) - 1;
    lua_pushcfunction(L, result_protected);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {    /* too many results for L's stack */
        lua_pop(L, 1);
        return -1;
    }
    return lua_gettop(L) - base;
}

static int cancel_protected(lua_State *L)
{
    lua_pushinteger(L, rc_host_cancel(L, rc_host_get(L), 1));
    return 1;
}

int runctl_cancel(lua_State *L, int handle)
{
    if (push_handle(L, handle) == NULL)
        return -1;
    lua_pushcfunction(L, cancel_protected);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "runctl: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    int cancelled = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return cancelled;
}

int runctl_deadline(lua_State *L, int handle, double seconds)
{
    rc_task *t = push_handle(L, handle);
    if (t == NULL)
        return -1;
    lua_pop(L, 1);
    return set_deadline(t, seconds);
}

void runctl_release(lua_State *L, int handle)
{
    if (handle > 0)
        luaL_unref(L, LUA_REGISTRYINDEX, handle);
}
