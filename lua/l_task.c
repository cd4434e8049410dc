/* lua/l_task.c — the task module: spawn, join and sleep on the host's scheduler. */
#include "host.h"

#include <math.h>
#include <string.h>

#define TASK_META "runctl.task"
#define SLEEP_META "runctl.sleep"

/* task.spawn(fn, ...) -> task. The task starts at the next scheduler round. */
static int l_spawn(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TFUNCTION);
    rc_host_spawn(L, h, lua_gettop(L) - 1);
    return 1;
}

static int join_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    rc_task *t = lua_touserdata(L, 1);
    if (t->state != TASK_DONE)  /* resumed by hand, not by the loop: wait on */
        return lua_yieldk(L, 0, ctx, join_k);
    return rc_task_push_outcome(L, 1);
}

/* task.join(t) -> true, results... | false, err. Waits for t to finish. */
static int l_join(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    rc_task *t = luaL_checkudata(L, 1, TASK_META);
    lua_settop(L, 1);
    if (t->state == TASK_DONE)
        return rc_task_push_outcome(L, 1);
    rc_task *me = rc_host_current(h, L);
    if (me == t)
        return luaL_error(L, "task.join: a task cannot join itself");
    if (me != NULL) {
        if (lua_getiuservalue(L, 1, 3) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setiuservalue(L, 1, 3);
        }
        lua_pushlightuserdata(L, me);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        lua_pop(L, 1);
        me->state = TASK_WAITING;
        return lua_yieldk(L, 0, 0, join_k);
    }
    while (t->state != TASK_DONE) {
        if (rc_host_pending(h) == 0)
            return luaL_error(L, "task.join: the task can never finish (it waits for something nothing will do)");
        rc_host_step(h, L, -1);
    }
    return rc_task_push_outcome(L, 1);
}

typedef struct rc_sleep {
    rc_timer timer;
    rc_host *host;
    rc_task *task;
    int fired;
} rc_sleep;

static void sleep_fired(void *ud)
{
    rc_sleep *s = ud;
    s->fired = 1;
    if (s->task != NULL)
        rc_host_wake(s->task);
}

static int sleep_gc(lua_State *L)
{
    rc_sleep *s = luaL_checkudata(L, 1, SLEEP_META);
    if (s->host->engine != NULL)
        rc_engine_timer_disarm(s->host->engine, &s->timer);
    return 0;
}

static int sleep_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    rc_sleep *s = lua_touserdata(L, 2);
    if (!s->fired)              /* resumed by hand, not by the loop: sleep on */
        return lua_yieldk(L, 0, ctx, sleep_k);
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
    rc_timer_init(&s->timer, sleep_fired, s);
    luaL_setmetatable(L, SLEEP_META);
    rc_engine_timer_arm(h->engine, &s->timer, secs);
    rc_task *me = rc_host_current(h, L);
    if (me != NULL) {
        s->task = me;
        me->state = TASK_WAITING;
        return lua_yieldk(L, 0, 0, sleep_k);
    }
    while (!s->fired)
        rc_host_step(h, L, -1);
    return 0;
}

/* task.running() -> the current task, or nil outside of one. */
static int l_running(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    rc_task *me = h->running;
    if (me == NULL || me->anchor == LUA_NOREF)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, me->anchor);
    return 1;
}

static const luaL_Reg task_funcs[] = {
    { "spawn", l_spawn },
    { "join", l_join },
    { "sleep", l_sleep },
    { "running", l_running },
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
