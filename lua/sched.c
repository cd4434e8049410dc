/* lua/sched.c — the task scheduler (its only owner: the ready queue,
 * suspension and the round that resumes tasks). Tasks are coroutines; a
 * binding suspends its task through rc_host_wait until the event it waits
 * for (a transfer, a timer, another task) fires. */
#include "host_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ queues */

void host_wake(rc_task *t)
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

void host_unlink_ready(rc_sched *s, rc_task *t)
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

void host_link_alive(rc_sched *s, rc_task *t)
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
 * it takes the result (wait_k) or ends (host_stop_waiting, from host_settle too), so
 * no list ever holds a task that is gone. */
void rc_event_fire(rc_event *ev)
{
    ev->fired = 1;
    for (rc_task *w = ev->waiters; w != NULL; w = w->wait_next)
        host_wake(w);
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
void host_stop_waiting(lua_State *L, rc_task *t)
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
rc_task *host_current(rc_host *h, lua_State *L)
{
    rc_task *t = h->sched->running;
    if (t != NULL && t->co == L && t->state == TASK_RUNNING && lua_isyieldable(L))
        return t;
    return NULL;
}

static void start_waiting(rc_task *me, rc_event *ev)
{
    me->wait_ev = ev;
    me->wait_next = ev->waiters;
    ev->waiters = me;
    me->state = TASK_WAITING;
}

#if RC_LUA51
static char wait_marker;        /* its address tops the values rc_host_wait yields */
#else
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
#endif

int rc_host_wait(rc_host *h, lua_State *L, rc_event *ev, int owner)
{
    if (ev->fired)
        return ev->result(L, ev);
    rc_task *me = host_current(h, L);
    if (me != NULL) {
        /* The task itself keeps ev's owner alive while it waits (user value
         * 3): its stack alone would not, were its coroutine closed by hand. */
        owner = lua_absindex(L, owner);
        luaL_checkstack(L, 2, "waiting");
        lua_rawgeti(L, LUA_REGISTRYINDEX, me->anchor);
        lua_pushvalue(L, owner);
        lua_setiuservalue(L, -2, 3);
        lua_pop(L, 1);
#if RC_LUA51
        /* No continuation: the frame's values go along as the yield's (the
         * scheduler runs ev's result over them: take_result_51), and the
         * wait begins once the yield happened (resume_task): a yield LuaJIT
         * refuses (across a C call, such as table.sort's comparator) raises
         * here and leaves no task waiting. */
        me->wait_pending = ev;
        luaL_checkstack(L, 1, "waiting");
        lua_pushlightuserdata(L, &wait_marker);
        return lua_yield(L, lua_gettop(L));
#else
        start_waiting(me, ev);
        return lua_yieldk(L, 0, (lua_KContext)me, wait_k);
#endif
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
void host_push_error_text(lua_State *L)
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
void host_settle(rc_host *h, lua_State *L, rc_task *t, int ti, enum rc_task_status outcome)
{
    lua_setiuservalue(L, ti, 2);
    host_stop_waiting(L, t);                     /* a coroutine closed by hand ends mid-wait */
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
        host_push_error_text(L);
        luaL_traceback(L, t->co, lua_tostring(L, -1), 0);
        lua_setfield(L, ti + 1, "traceback");
        lua_pop(L, 1);
    }
    host_settle(h, L, t, ti, status == LUA_OK ? RC_TASK_OK : RC_TASK_FAILED);
    lua_settop(L, ti - 1);
    rc_compat_closethread(L, t->co);        /* closes pending to-be-closed variables */
}

#if RC_LUA51
/* Calls the event's result function (upvalue 1) over the waiting frame. */
static int result_51(lua_State *L)
{
    rc_event *ev = lua_touserdata(L, lua_upvalueindex(1));
    return ev->result(L, ev);
}

/* Lua 5.1: t waits in rc_host_wait, which yielded its frame's values (co's
 * whole stack). Runs ev's result function on L over a copy of that frame (so
 * its stack slots read as in the binding), and leaves its results on co as
 * what the binding returns when resumed. Returns 0, or -1 when the result
 * function raised: t then fails with that error, as if the binding raised. */
static int take_result_51(rc_host *h, lua_State *L, rc_task *t)
{
    rc_event *ev = t->wait_ev;
    unlink_waiter(ev, t);
    int frame = lua_gettop(t->co);
    luaL_checkstack(L, frame + 2, "resuming a task");
    int base = lua_gettop(L);
    lua_pushlightuserdata(L, ev);
    lua_pushcclosure(L, result_51, 1);
    lua_xmove(t->co, L, frame);
    if (lua_pcall(L, frame, LUA_MULTRET, 0) != LUA_OK) {
        lua_xmove(L, t->co, 1);
        finish_task(h, L, t, LUA_ERRRUN, 1);
        return -1;
    }
    int nres = lua_gettop(L) - base;
    if (!lua_checkstack(t->co, nres + LUA_MINSTACK)) {
        lua_settop(L, base);
        lua_pushliteral(L, "too many results to resume a task with");
        lua_xmove(L, t->co, 1);
        finish_task(h, L, t, LUA_ERRRUN, 1);
        return -1;
    }
    lua_xmove(L, t->co, nres);
    t->nargs = nres;
    return 0;
}
#endif

static void resume_task(rc_host *h, lua_State *L, rc_task *t)
{
    rc_sched *s = h->sched;
    int nres = 0;
#if RC_LUA51
    if (t->wait_ev != NULL) {
        if (!t->wait_ev->fired) {           /* cannot happen: only a fired event wakes */
            t->state = TASK_WAITING;
            return;
        }
        if (take_result_51(h, L, t) != 0)
            return;
    }
#endif
    rc_task *outer = s->running;
    int nargs = t->nargs;
    t->nargs = 0;
    t->state = TASK_RUNNING;
    s->running = t;
    int status = lua_resume(t->co, L, nargs, &nres);
    s->running = outer;
    if (h->reclaim != NULL)
        h->reclaim(L, h->limits_ud);
#if RC_LUA51
    rc_event *pending = t->wait_pending;
    t->wait_pending = NULL;
    if (status == LUA_YIELD && pending != NULL && nres > 0 &&
        lua_touserdata(t->co, -1) == &wait_marker) {
        lua_pop(t->co, 1);                  /* the frame stays: take_result_51 */
        start_waiting(t, pending);
    }
#endif
    if (status == LUA_YIELD) {
        if (t->state == TASK_RUNNING) {     /* a bare coroutine.yield(): run again later */
            lua_pop(t->co, nres);
            host_wake(t);
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
        host_unlink_ready(s, t);
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
    host_cancel_overdue(h, L);
    int within = run_ready(h, L);
    while (budgeted && within && io_left && rc_now() < s->step_end) {
        io_left = engine_round(h, 0, s->step_end);
        host_cancel_overdue(h, L);
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
