/* lua/task.c — a task's life: spawning, its outcome, joining, cancelling,
 * deadlines, failures nobody joined, and the task object scripts hold. */
#include "host_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    host_link_alive(h->sched, t);
    host_wake(t);
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
        host_push_error_text(L);
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
    if (t->state != TASK_DONE && host_current(h, L) == t)
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
        host_unlink_ready(s, t);
    host_stop_waiting(L, t);
    luaL_checkstack(L, 4, "cancelling a task");
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor);
    int ti = lua_gettop(L);
    lua_pushboolean(L, 1);                  /* an outcome with nothing in it */
    host_settle(h, L, t, ti, RC_TASK_ABORTED);
    lua_settop(L, ti - 1);
    /* Its to-be-closed variables close as the task itself: task.running()
     * is t, and a call there that would wait blocks (or a sandbox refuses). */
    rc_task *outer = s->running;
    s->running = t;
    rc_compat_closethread(L, t->co);
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
void host_cancel_overdue(rc_host *h, lua_State *L)
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
int host_set_deadline(rc_task *t, double seconds)
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
    return host_set_deadline(luaL_checkudata(L, idx, TASK_META), seconds);
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
        rc_host_print_error("a task failed and nobody joined it: ", lua_tostring(L, -1));
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
int host_push_results(lua_State *L, int idx)
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
    return host_push_results(L, 1);
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

/* Registers the task object's metatable (TASK_META); leaves the stack as it was. */
void host_register_task_meta(lua_State *L)
{
    luaL_newmetatable(L, TASK_META);
    lua_pushcfunction(L, task_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, task_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
