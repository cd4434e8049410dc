/* lua/l_task.c — the task module: spawn, join, sleep, running, cancel and deadline, as
 * bindings over the host's scheduler (lua/task.c owns the tasks themselves). */
#include "host.h"

#include <math.h>
#include <string.h>

#define SLEEP_META "runctl.sleep"

/* task.spawn(fn, ...) -> task. The task starts at the next scheduler round. */
static int l_spawn(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TFUNCTION);
    rc_host_spawn(L, h, lua_gettop(L) - 1);
    return 1;
}

/* task.join(t) -> true, results... | false, err | nil, err (cancelled).
 * Waits for t to finish. */
static int l_join(lua_State *L)
{
    return rc_host_join(L, lua_touserdata(L, lua_upvalueindex(1)));
}

/* A sleep: a timer in the engine whose firing is the event its task waits for. */
typedef struct rc_sleep {
    rc_event ev;                /* first: the event is the sleep */
    rc_timer timer;
    rc_host *host;
} rc_sleep;

static void sleep_fired(void *ud)
{
    rc_event_fire(&((rc_sleep *)ud)->ev);
}

static int sleep_result(lua_State *L, rc_event *ev)
{
    (void)L;
    (void)ev;
    return 0;
}

static void sleep_disarm(lua_State *L, rc_event *ev)
{
    (void)L;
    rc_sleep *s = (rc_sleep *)ev;
    if (s->host->engine != NULL)
        rc_engine_timer_disarm(s->host->engine, &s->timer);
}

static int sleep_gc(lua_State *L)
{
    sleep_disarm(L, luaL_checkudata(L, 1, SLEEP_META));
    return 0;
}

/* task.sleep(seconds): a timer in the loop; other tasks run meanwhile. */
static int l_sleep(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    lua_Number secs = luaL_checknumber(L, 1);
    if (!(secs >= 0) || isinf(secs))
        return luaL_argerror(L, 1, "must be a finite, non-negative number of seconds");
    lua_settop(L, 1);
    rc_sleep *s = lua_newuserdatauv(L, sizeof *s, 0);   /* stays on this stack while asleep */
    memset(s, 0, sizeof *s);
    s->host = h;
    rc_event_init(&s->ev, sleep_result, sleep_disarm);
    rc_timer_init(&s->timer, sleep_fired, s);
    luaL_setmetatable(L, SLEEP_META);
    rc_engine_timer_arm(h->engine, &s->timer, secs);
    return rc_host_wait(h, L, &s->ev, -1);
}

/* task.running() -> the current task, or nil outside of one. */
static int l_running(lua_State *L)
{
    return rc_host_push_running(L, lua_touserdata(L, lua_upvalueindex(1)));
}

/* task.cancel(t) -> true, or false when t had already finished. */
static int l_cancel(lua_State *L)
{
    lua_pushboolean(L, rc_host_cancel(L, lua_touserdata(L, lua_upvalueindex(1)), 1));
    return 1;
}

/* task.deadline(t, seconds | nil) -> t. When seconds pass before t ends, t
 * is cancelled (its joiners get nil, err with kind "aborted", reason
 * "deadline"); nil removes the deadline; a new one replaces the old. */
static int l_deadline(lua_State *L)
{
    double secs = -1;
    if (!lua_isnoneornil(L, 2)) {
        secs = luaL_checknumber(L, 2);
        if (!(secs >= 0) || isinf(secs))
            return luaL_argerror(L, 2, "must be a finite, non-negative number of seconds (or nil)");
    }
    rc_host_set_deadline(L, 1, secs);
    lua_settop(L, 1);
    return 1;
}

static const luaL_Reg task_funcs[] = {
    { "deadline", l_deadline },
    { "spawn", l_spawn },
    { "join", l_join },
    { "sleep", l_sleep },
    { "running", l_running },
    { "cancel", l_cancel },
    { NULL, NULL }
};

int luaopen_runctl_task(lua_State *L)
{
    rc_host *h = rc_host_get(L);
    if (luaL_newmetatable(L, SLEEP_META)) {
        lua_pushcfunction(L, sleep_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlibtable(L, task_funcs);
    lua_pushlightuserdata(L, h);
    luaL_setfuncs(L, task_funcs, 1);
    return 1;
}
