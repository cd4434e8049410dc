/* tests/embed/test_embed.c — the embedding API from C, as TAP: runctl_openlibs
 * (globals or none), runctl_poll from host code and from inside a task, tasks
 * spawned by host code, blocking calls outside tasks, lua_close with work in
 * flight, and the sandbox API's edges (the limits themselves are exercised
 * through examples/sandbox-host by tests/lua/test_embed_sandbox.lua), and
 * extension files: loaded only when the host asks, never into a sandbox.
 * Usage: test_embed BASE_URL SLOW_BASE_URL (fake API servers; the slow one
 * answers after a delay). Run under valgrind or ASan for the leak checks. */
#include <runctl.h>

#include <lauxlib.h>
#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int count, failures;
static const char *base_url, *slow_url;

static int ok(int cond, const char *name)
{
    count++;
    if (!cond)
        failures++;
    printf("%s %d - %s\n", cond ? "ok" : "not ok", count, name);
    return cond;
}

static int is_str(const char *got, const char *want, const char *name)
{
    int good = got != NULL && strstr(got, want) != NULL;
    ok(good, name);
    if (!good)
        printf("#   got \"%s\", want it to contain \"%s\"\n", got ? got : "(null)", want);
    return good;
}

/* Runs code in L; returns 1 when it ran without error (else prints why). */
static int run(lua_State *L, const char *code)
{
    if (luaL_dostring(L, code) == LUA_OK)
        return 1;
    printf("#   lua error: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 0;
}

static int global_is(lua_State *L, const char *name, const char *want)
{
    lua_getglobal(L, name);
    int same = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), want) == 0;
    if (!same)
        printf("#   %s is %s\n", name, luaL_tolstring(L, -1, NULL)), lua_pop(L, 1);
    lua_pop(L, 1);
    return same;
}

static lua_State *open_state(const char *url, int no_globals)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    runctl_options o;
    runctl_options_init(&o);
    o.base_url = url;
    o.no_globals = no_globals;
    if (runctl_openlibs(L, &o) != 0) {
        printf("#   runctl_openlibs: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    /* scope(closer, fn, ...): fn with closer to-be-closed, on LuaJIT too */
    if (luaL_dostring(L, "scope = require('runctl.compat').scope") != LUA_OK)
        exit(1);
    return L;
}

static int poll_until_idle(lua_State *L)
{
    int n, rounds = 0;
    while ((n = runctl_poll(L, 100)) > 0 && rounds++ < 600)
        ;
    return n;
}

/* host_poll(): a C function for scripts that calls runctl_poll (misuse inside a task). */
static int host_poll(lua_State *L)
{
    lua_pushinteger(L, runctl_poll(L, 0));
    return 1;
}

static void test_options_and_openlibs(void)
{
    runctl_options o;
    memset(&o, 0x55, sizeof o);
    runctl_options_init(&o);
    ok(o.base_url == NULL && o.max_retries < 0 && o.timeout <= 0 && o.log_level == RUNCTL_LOG_UNSET &&
       o.no_globals == 0 && o.dry_run == 0, "runctl_options_init sets every field to unset");

    lua_State *L = open_state(base_url, 0);
    ok(run(L, "assert(type(runctl) == 'table' and type(openai) == 'table' and type(runs) == 'table' "
              "and type(http) == 'table' and type(json) == 'table' and type(task) == 'table' "
              "and type(log) == 'table')"),
       "runctl_openlibs sets the globals runctl, openai, runs, http, json, task, log");
    int top = lua_gettop(L);
    ok(runctl_openlibs(L, NULL) == -1 && lua_gettop(L) == top + 1, "a second runctl_openlibs fails with a message pushed");
    is_str(lua_tostring(L, -1), "already open", "the message says runctl is already open");
    lua_pop(L, 1);
    ok(runctl_poll(L, 0) == 0, "runctl_poll with nothing to do returns 0");
    lua_close(L);

    /* no_globals: a host's own globals stay; require "runctl" gives the module */
    L = luaL_newstate();
    luaL_openlibs(L);
    run(L, "log = 'the host log'; json = 'the host json'");
    runctl_options o2;
    runctl_options_init(&o2);
    o2.no_globals = 1;
    ok(runctl_openlibs(L, &o2) == 0, "runctl_openlibs with no_globals succeeds");
    ok(global_is(L, "log", "the host log") && global_is(L, "json", "the host json") &&
       run(L, "assert(runctl == nil and runs == nil and task == nil and http == nil and openai == nil)"),
       "no_globals leaves the host's globals alone and sets none");
    ok(run(L, "local rc = require 'runctl'\n"
              "for _, k in ipairs { 'runs', 'openai', 'client', 'http', 'json', 'task', 'log' } do\n"
              "  assert(rc[k] ~= nil, k)\n"
              "end"),
       "require 'runctl' returns the module with runs, openai, client, http, json, task, log");
    lua_close(L);

    L = luaL_newstate();
    ok(runctl_poll(L, 0) == -1, "runctl_poll on a state without runctl returns -1");
    ok(runctl_sandbox_status(L) == -1, "the sandbox functions refuse a state that is not a sandbox");
    is_str(lua_tostring(L, -1), "not made by runctl_sandbox_new", "saying so");
    lua_close(L);
}

static void test_tasks_from_host_code(void)
{
    lua_State *L = open_state(base_url, 0);
    lua_State *slow = open_state(slow_url, 0);
    lua_register(L, "host_poll", host_poll);
    ok(run(L, "order = {}\n"
              "task.spawn(function() order[#order + 1] = 'task' end)\n"
              "order[#order + 1] = 'host'"),
       "task.spawn from host code (luaL_dostring) works");
    ok(run(L, "assert(#order == 1 and order[1] == 'host')"), "the spawned task has not run yet: it is queued");
    int top = lua_gettop(L);
    int pending = runctl_poll(L, 0);
    ok(pending == 0 && run(L, "assert(order[2] == 'task')"), "runctl_poll runs it and then reports 0 pending");
    ok(lua_gettop(L) == top, "runctl_poll leaves the stack as it was");

    ok(run(L, "slept = false\ntask.spawn(function() task.sleep(0.05) slept = true end)"), "a sleeping task spawned");
    ok(runctl_poll(L, 0) > 0 && run(L, "assert(slept == false)"),
       "runctl_poll(L, 0) returns at once while the timer is pending");
    ok(poll_until_idle(L) == 0 && run(L, "assert(slept == true)"), "polling until 0 lets the task finish");

    ok(run(L, "inner = nil\nlocal t = task.spawn(function() inner = host_poll() end)"), "a task calling runctl_poll");
    runctl_poll(L, 0);
    ok(run(L, "assert(inner == -1, tostring(inner))"), "runctl_poll from inside a task refuses (returns -1)");

    /* A blocking call from host code: no task, the binding drives the loop itself. */
    ok(run(L, "local c = runctl.client { api_key = 'sk-test-1234567890', max_retries = 0 }\n"
              "local run = assert(c.runs.retrieve('thread_main', 'run_failed'))\n"
              "assert(run.id == 'run_failed' and run.status == 'failed')"),
       "a binding called from host code outside any task blocks until its answer (base_url from the options)");

    /* Tasks overlap: two cancels in flight at once, driven by runctl_poll
     * (against the slow server, so they are surely still in flight). */
    lua_close(L);
    L = slow;
    ok(run(L, "local c = runctl.client { api_key = 'sk-test-1234567890', max_retries = 0 }\n"
              "results = {}\n"
              "for _, id in ipairs { 'run_queued', 'run_in_progress' } do\n"
              "  task.spawn(function() results[id] = assert(c.runs.cancel('thread_main', id)).status end)\n"
              "end"),
       "two cancels spawned from host code");
    runctl_poll(L, 0);
    ok(runctl_poll(L, 0) > 0, "after a round, both are in flight and runctl_poll(L, 0) did not wait for them");
    ok(poll_until_idle(L) == 0 && run(L, "assert(results.run_queued == 'cancelling' and results.run_in_progress == 'cancelling')"),
       "both cancels complete");
    lua_close(L);
}

static void test_close_in_flight(void)
{
    lua_State *L = open_state(slow_url, 0);
    char code[1024];
    snprintf(code, sizeof code,
             "local c = runctl.client { api_key = 'sk-test-1234567890', max_retries = 0, max_concurrency = 3 }\n"
             "for i = 1, 12 do task.spawn(function() c.runs.retrieve('thread_main', 'run_queued') end) end\n"
             "local sleeper = task.spawn(function() task.sleep(3600) end)\n"
             "task.spawn(function() task.join(sleeper) end)\n"
             "local h = http.request\n"
             "task.spawn(function() h { url = '%s/threads/thread_main/runs' } end)\n"
             "task.spawn(function() scope(setmetatable({}, { __close = function() end }), "
             "task.sleep, 3600) end)\n",
             slow_url);
    ok(run(L, code), "transfers (some queued behind a limiter), sleeps and joins started");
    int pending = 0;
    for (int i = 0; i < 5; i++)
        pending = runctl_poll(L, 10);
    ok(pending > 0, "they are still pending after a few frames");
    ok(run(L, "task.spawn(function() error('never runs') end)"), "and one more task queued but never run");
    lua_close(L);
    ok(1, "lua_close with all of that in flight returns (no callback, no leak: see valgrind/ASan)");
}

/* runctl_cancel_all: a scene change ends every task and request at once,
 * closes their to-be-closed variables, and leaves the state usable. */
static void test_cancel_all(void)
{
    lua_State *L = open_state(slow_url, 0);
    /* No frame budget here: two polls must start all seven tasks however
     * slow the machine (valgrind) makes them. */
    ok(run(L, "core = require 'runctl.core'\n"
              "runctl.frame_budget(0)\n"
              "c = runctl.client { api_key = 'sk-test-1234567890', max_retries = 0 }\n"
              "closed, after = 0, 0\n"
              "local function closer() return setmetatable({}, { __close = function() closed = closed + 1 end }) end\n"
              "tasks = {}\n"
              "for i = 1, 5 do tasks[i] = task.spawn(function() scope(closer(), function()\n"
              "  c.runs.retrieve('thread_main', 'run_queued') after = after + 1 end) end) end\n"
              "tasks[6] = task.spawn(function() scope(closer(), function() task.sleep(3600) after = after + 1 end) end)\n"
              "tasks[7] = task.spawn(function() task.join(tasks[6]) after = after + 1 end)"),
       "cancel_all: five requests, a sleep and a join");
    runctl_poll(L, 0);
    runctl_poll(L, 0);
    /* the fifth request waits for the first answer (the account's pace sends at
     * most 4 before it: core/ratelimit.c), with the limiter's wake-up timer */
    ok(run(L, "local e, r, a = core.pending() assert(e == 7 and a == 7, e .. ' ' .. r .. ' ' .. a)"),
       "cancel_all: five transfers and two timers in the engine, seven tasks alive");
    ok(run(L, "tasks[8] = task.spawn(function() after = after + 1 end)"), "cancel_all: one more queued, never started");
    int top = lua_gettop(L);
    int ended = runctl_cancel_all(L);
    ok(ended == 8, "runctl_cancel_all returns how many tasks it ended (7 waiting, 1 queued)");
    if (ended != 8)
        printf("#   got %d\n", ended);
    ok(lua_gettop(L) == top, "runctl_cancel_all leaves the stack as it was");
    ok(run(L, "local e, r, a = core.pending() assert(e == 0 and r == 0 and a == 0, e .. ' ' .. r .. ' ' .. a)"),
       "cancel_all: nothing left in the engine, nothing ready, no task alive (transfers removed at once)");
    ok(runctl_poll(L, 0) == 0, "runctl_poll then has nothing to do");
    ok(run(L, "assert(closed == 6 and after == 0, closed .. ' ' .. after)"),
       "cancel_all: every to-be-closed variable closed, no task went on past its wait");
    ok(run(L, "for i = 1, 8 do local v, err = task.join(tasks[i])\n"
              "  assert(v == nil and err.kind == 'aborted' and runctl.is_error(err), tostring(err)) end\n"
              "assert(tostring(select(2, task.join(tasks[1]))) == 'aborted: the task was cancelled')"),
       "cancel_all: joining any of them gives nil, err with kind 'aborted'");
    ok(runctl_cancel_all(L) == 0, "runctl_cancel_all with nothing alive returns 0");
    ok(run(L, "ok_after = nil task.spawn(function() ok_after = c.runs.retrieve('thread_main', 'run_failed').status end)") &&
       poll_until_idle(L) == 0 && global_is(L, "ok_after", "failed"),
       "cancel_all: the state stays usable (a new request completes)");
    lua_close(L);
}

static runctl_stats stats_of(lua_State *L)
{
    runctl_stats st;
    memset(&st, 0, sizeof st);
    if (runctl_get_stats(L, &st) != 0)
        printf("#   runctl_get_stats failed\n");
    return st;
}

/* The frame budget: runctl_poll(L, 0) resumes tasks only while its budget
 * lasts (at least one), the rest wait in order for the next call; blocking
 * calls have no budget. Bookkeeping only: every task does far more work than
 * the budget allows for 200 of them, on any machine. */
static void test_frame_budget(void)
{
    lua_State *L = open_state(base_url, 0);
    const char *spawn200 =
        "order = {}\n"
        "for i = 1, 200 do task.spawn(function()\n"
        "  local x = 0 for k = 1, 20000 do x = x + k end\n"
        "  order[#order + 1] = i end) end";
    ok(run(L, "assert(runctl.frame_budget() == 1)"), "budget: the default is 1 ms");
    ok(run(L, spawn200), "budget: 200 busy tasks queued");
    runctl_stats before = stats_of(L);
    int pending = runctl_poll(L, 0);
    runctl_stats after = stats_of(L);
    ok(pending > 0 && after.ready == pending && after.budget_stops == before.budget_stops + 1,
       "budget: one runctl_poll(L, 0) stops at the budget and counts the tasks left ready");
    ok(after.resumed - before.resumed >= 1 && after.resumed - before.resumed < 200,
       "budget: it resumed at least one task and fewer than all 200");
    int polls = 1;
    while ((pending = runctl_poll(L, 0)) > 0 && polls < 100000)
        polls++;
    after = stats_of(L);
    ok(pending == 0 && after.resumed - before.resumed == 200 && after.polls - before.polls == (unsigned long)polls + 1,
       "budget: polling until 0 runs each task exactly once, one round per call");
    ok(run(L, "for i = 1, 200 do assert(order[i] == i, i) end"), "budget: in the order they were queued");

    ok(run(L, "assert(runctl.frame_budget(0) == 1 and runctl.frame_budget() == 0)"),
       "budget: runctl.frame_budget(0) switches it off (returns the old value)");
    ok(run(L, spawn200), "budget off: 200 busy tasks queued again");
    before = stats_of(L);
    ok(runctl_poll(L, 0) == 0 && stats_of(L).resumed - before.resumed == 200 &&
       stats_of(L).budget_stops == before.budget_stops, "budget off: one runctl_poll(L, 0) runs all 200");

    ok(run(L, "runctl.frame_budget(1)") && run(L, spawn200), "budget on again, 200 queued");
    before = stats_of(L);
    ok(runctl_poll(L, -1) == 0 && stats_of(L).resumed - before.resumed == 200,
       "budget: a blocking runctl_poll(L, -1) has no budget (all 200 in one call)");

    /* No starvation: a task that yields forever does not hold the others back. */
    ok(run(L, "spinning = task.spawn(function() while true do coroutine.yield() end end)\n"
              "finished = 0 for i = 1, 50 do task.spawn(function() task.sleep(0) finished = finished + 1 end) end"),
       "budget: a task yielding forever beside 50 sleepers");
    for (int i = 0; i < 10000 && luaL_dostring(L, "assert(finished == 50)") != LUA_OK; i++) {
        lua_pop(L, 1);
        runctl_poll(L, 0);
    }
    ok(run(L, "assert(finished == 50) task.cancel(spinning)"), "budget: the others all finish (no starvation)");
    lua_close(L);

    runctl_options o;
    runctl_options_init(&o);
    o.frame_budget_ms = -1;
    L = luaL_newstate();
    luaL_openlibs(L);
    ok(runctl_openlibs(L, &o) == 0 && run(L, "assert(runctl.frame_budget() == 0)"),
       "budget: options.frame_budget_ms < 0 means none");
    lua_close(L);
    o.frame_budget_ms = 2.5;
    L = luaL_newstate();
    luaL_openlibs(L);
    ok(runctl_openlibs(L, &o) == 0 && run(L, "assert(runctl.frame_budget() == 2.5)"),
       "budget: options.frame_budget_ms sets it per state");
    lua_close(L);
}

/* Handles: start work from C, ask whether it is done, read its results, call it off. */
static void test_handles(void)
{
    lua_State *L = open_state(slow_url, 0);
    ok(run(L, "c = runctl.client { api_key = 'sk-test-1234567890', max_retries = 0 }"), "handles: a client");
    lua_getglobal(L, "c");
    lua_getfield(L, -1, "runs");
    lua_getfield(L, -1, "retrieve");
    lua_remove(L, -2);
    lua_remove(L, -2);
    lua_pushstring(L, "thread_main");
    lua_pushstring(L, "run_failed");
    int top = lua_gettop(L) - 3;
    int h = runctl_start(L, 2);
    ok(h > 0 && lua_gettop(L) == top, "runctl_start pops the function and its arguments and returns a handle");
    ok(runctl_done(L, h) == 0 && runctl_result(L, h) == -1 && lua_gettop(L) == top,
       "not done before any poll; runctl_result pushes nothing then");
    int frames = 0;
    while (runctl_done(L, h) == 0 && frames++ < 100000)
        runctl_poll(L, 10);
    int n = runctl_result(L, h);
    ok(n == 3 && lua_istable(L, -3) && lua_isnil(L, -2) && lua_istable(L, -1),
       "done: runctl_result pushes what runs.retrieve returned (run, nil, resp)");
    lua_getfield(L, -3, "status");
    is_str(lua_tostring(L, -1), "failed", "the run object is the answer");
    lua_pop(L, n + 1);
    runctl_release(L, h);
    ok(runctl_done(L, h) == -1 && runctl_result(L, h) == -1 && runctl_cancel(L, h) == -1,
       "a released handle is unknown");

    ok(run(L, "closed = false\n"
              "function slow() return scope(setmetatable({}, { __close = function() closed = true end }),\n"
              "  function() return c.runs.retrieve('thread_main', 'run_queued') end) end"), "handles: a slow function");
    lua_getglobal(L, "slow");
    h = runctl_start(L, 0);
    runctl_poll(L, 0);
    runctl_poll(L, 0);
    ok(runctl_done(L, h) == 0 && runctl_cancel(L, h) == 1, "runctl_cancel calls off work in flight");
    ok(runctl_done(L, h) == 1 && runctl_poll(L, 0) == 0 && run(L, "assert(closed)"),
       "it is done at once, nothing left pending, its to-be-closed variable closed");
    n = runctl_result(L, h);
    lua_getfield(L, -1, "kind");
    ok(n == 2 && lua_isnil(L, -3) && strcmp(lua_tostring(L, -1), "aborted") == 0,
       "its result is nil, err with kind aborted");
    lua_pop(L, n + 1);
    ok(runctl_cancel(L, h) == 0, "cancelling it again returns 0");
    runctl_release(L, h);

    lua_getglobal(L, "slow");
    h = runctl_start(L, 0);
    ok(runctl_deadline(L, h, 0.02) == 1, "runctl_deadline gives work a deadline");
    while (runctl_done(L, h) == 0)
        runctl_poll(L, 10);
    n = runctl_result(L, h);
    lua_getfield(L, -1, "reason");
    ok(n == 2 && lua_isnil(L, -3) && strcmp(lua_tostring(L, -1), "deadline") == 0,
       "past it the work is cancelled: nil, err with reason deadline");
    lua_pop(L, n + 1);
    ok(runctl_deadline(L, h, 1) == 0, "a deadline on ended work does nothing");
    runctl_release(L, h);

    lua_pushinteger(L, 42);
    ok(runctl_start(L, 0) == -1 && lua_isstring(L, -1), "runctl_start with a non-function fails with a message");
    lua_pop(L, 1);
    lua_getglobal(L, "error");
    lua_pushliteral(L, "boom");
    h = runctl_start(L, 1);
    runctl_poll(L, 0);
    n = runctl_result(L, h);
    ok(n == 2 && lua_isnil(L, -2) && strcmp(lua_tostring(L, -1), "boom") == 0,
       "work that raised gives nil, err");
    lua_pop(L, n);
    runctl_release(L, h);
    lua_close(L);
}

/* Soak: thousands of frames with requests coming and going through handles;
 * Lua memory (after a full collection) and the engine's counts stay flat. */
static void test_soak(void)
{
    lua_State *L = open_state(base_url, 0);
    ok(run(L, "c = runctl.client { api_key = 'sk-test-1234567890', max_retries = 0 }\n"
              "function one() return c.runs.retrieve('thread_main', 'run_failed') end"), "soak: a client");
    int handles[8] = { 0 };
    long started = 0, finished = 0, failed = 0;
    int warm_kb = 0, end_kb = 0, max_in_engine = 0;
    for (int frame = 0; frame < 2500; frame++) {
        for (int k = 0; k < 8; k++) {
            if (handles[k] > 0 && runctl_done(L, handles[k]) == 1) {
                int n = runctl_result(L, handles[k]);
                failed += n != 3 || !lua_istable(L, -3);
                lua_pop(L, n > 0 ? n : 0);
                runctl_release(L, handles[k]);
                handles[k] = 0;
                finished++;
            }
            if (handles[k] == 0 && frame < 2400) {
                lua_getglobal(L, "one");
                handles[k] = runctl_start(L, 0);
                started++;
            }
        }
        runctl_poll(L, 1);
        runctl_stats st = stats_of(L);
        if (st.in_engine > max_in_engine)
            max_in_engine = st.in_engine;
        if (frame == 500) {
            lua_gc(L, LUA_GCCOLLECT);
            warm_kb = lua_gc(L, LUA_GCCOUNT);
        }
    }
    while (runctl_poll(L, 10) > 0)
        ;
    for (int k = 0; k < 8; k++) {
        if (handles[k] > 0 && runctl_done(L, handles[k]) == 1) {
            lua_pop(L, runctl_result(L, handles[k]));
            runctl_release(L, handles[k]);
            finished++;
        }
    }
    lua_gc(L, LUA_GCCOLLECT);
    end_kb = lua_gc(L, LUA_GCCOUNT);
    runctl_stats st = stats_of(L);
    ok(finished == started && failed == 0 && started > 1000,
       "soak: every request started over 2500 frames finished with an answer");
    printf("#   %ld requests, Lua memory %d KiB after 500 frames, %d KiB at the end\n", started, warm_kb, end_kb);
    ok(end_kb <= warm_kb + warm_kb / 20 + 16, "soak: Lua memory stays flat (within 5% + 16 KiB of frame 500)");
    /* 8 requests, and the limiter's timer while the first answers are awaited */
    ok(st.in_engine == 0 && st.tasks == 0 && st.ready == 0 && max_in_engine <= 9,
       "soak: the engine holds nothing at the end and never more than the 8 in flight (and a timer)");
    lua_close(L);
}

static void test_sandbox_api(void)
{
    char err[256];
    runctl_sandbox_limits lim;
    runctl_sandbox_limits_init(&lim);
    ok(lim.max_memory == 0 && lim.max_instructions == 0 && lim.max_seconds == 0 && lim.allow_hosts == NULL,
       "runctl_sandbox_limits_init: no limits, no hosts");
    const char *bad[] = { "http://x/", NULL };
    lim.allow_hosts = bad;
    ok(runctl_sandbox_new(&lim, NULL, err, sizeof err) == NULL, "an allow-list entry that is a URL is refused");
    is_str(err, "is not a host", "with a message naming the entry");
    lim.allow_hosts = NULL;

    lua_State *S = runctl_sandbox_new(&lim, NULL, err, sizeof err);
    if (!ok(S != NULL, "runctl_sandbox_new")) {
        printf("#   %s\n", err);
        return;
    }
    ok(runctl_sandbox_status(S) == 0, "status before any run is 0");
    const char *syntax = "this is not lua";
    ok(runctl_sandbox_start(S, syntax, strlen(syntax), "=bad") == -1, "a syntax error fails the start");
    is_str(lua_tostring(S, -1), "bad:1:", "with Lua's message");
    lua_pop(S, 1);
    const char binary[] = "\x1bLua\x54\x00";
    ok(runctl_sandbox_start(S, binary, sizeof binary - 1, "=bin") == -1, "a binary chunk is refused");
    is_str(lua_tostring(S, -1), "binary", "saying it is binary");
    lua_pop(S, 1);

    const char *allow_list =
        "assert(io == nil and dofile == nil and loadfile == nil and require == nil and package == nil)\n"
        "assert(debug == nil and os.execute == nil and os.getenv == nil and os.exit == nil and os.remove == nil)\n"
        "assert(string.dump == nil and ('').dump == nil and getmetatable('') == nil)\n"
        "assert(type(runctl) == 'table' and type(runs) == 'table' and type(http) == 'table' and type(task) == 'table')\n"
        "assert(type(json) == 'table' and type(log) == 'table' and type(openai) == 'table' and _G == (_ENV or _G))\n"   /* 5.1: no _ENV */
        "assert(runctl.runs == runs and runctl.task == task, 'one copy behind both names')\n"
        "assert(getmetatable(task.running()) == nil, 'userdata metatables are hidden')\n"
        "assert(not pcall(setmetatable, {}, { __gc = function() end }), '__gc refused')\n"
        "local mt = { __index = function() return 7 end }\n"
        "assert(getmetatable(setmetatable({}, mt)) == mt and setmetatable({}, mt).x == 7)\n"
        "assert(load('return 1 + 1')() == 2)\n"
        "local f, why = load('\\27Lua')\n"
        "assert(f == nil and (why:find('binary') or why:find('wrong mode')), why)\n"   /* LuaJIT's words */
        "y = 5\n"
        "assert(load('return y')() == 5, 'load sees the run globals')\n"
        "assert(load('return y', 'c', 't', { y = 6 })() == 6, 'or the environment given')\n"
        "assert(collectgarbage('count') > 0 and not pcall(collectgarbage, 'stop'))\n"
        "marker = 'left by run 1'\n";
    ok(runctl_sandbox_run(S, allow_list, strlen(allow_list), "=allow") == 0,
       "the allow-list: no io, os.execute, os.getenv, package, require, debug, dump; safe load, metatables");
    if (lua_gettop(S) > 0 && lua_type(S, -1) == LUA_TSTRING)
        printf("#   %s\n", lua_tostring(S, -1)), lua_pop(S, 1);
    const char *fresh = "assert(marker == nil, 'globals of the previous run are gone')";
    ok(runctl_sandbox_run(S, fresh, strlen(fresh), "=fresh") == 0, "every run starts with fresh globals");

    runctl_sandbox_env(S);
    lua_pushliteral(S, "from the host");
    lua_setfield(S, -2, "host_value");
    lua_pop(S, 1);
    const char *uses = "assert(host_value == 'from the host')";
    ok(runctl_sandbox_run(S, uses, strlen(uses), "=uses") == 0, "runctl_sandbox_env lets the host add globals");

    const char *fails = "error('plain failure')";
    ok(runctl_sandbox_run(S, fails, strlen(fails), "=fails") == -1, "a script error fails the run");
    is_str(lua_tostring(S, -1), "fails:1: plain failure", "with the script's message");
    lua_pop(S, 1);
    ok(runctl_sandbox_status(S) == -1, "status keeps reporting the failed run");
    lua_pop(S, 1);

    const char *deadlock = "local me = task.running()\nlocal t = task.spawn(function() task.join(me) end)\ntask.join(t)";
    ok(runctl_sandbox_run(S, deadlock, strlen(deadlock), "=deadlock") == -1, "tasks waiting for each other fail the run");
    is_str(lua_tostring(S, -1), "wait for each other", "as a deadlock");
    lua_pop(S, 1);
    runctl_sandbox_close(S);

    /* Starting while the previous run has work pending is refused. */
    S = runctl_sandbox_new(NULL, NULL, err, sizeof err);
    const char *sleepy = "task.sleep(0.05)";
    ok(runctl_sandbox_start(S, sleepy, strlen(sleepy), "=sleepy") == 0, "a run that sleeps started");
    ok(runctl_sandbox_start(S, sleepy, strlen(sleepy), "=again") == -1, "a second start while it runs is refused");
    is_str(lua_tostring(S, -1), "still has tasks running", "saying why");
    lua_pop(S, 1);
    int st;
    while ((st = runctl_sandbox_status(S)) == 1)
        runctl_poll(S, 100);
    ok(st == 0, "the first run ends ok");
    ok(runctl_sandbox_start(S, sleepy, strlen(sleepy), "=third") == 0, "then the next one may start");
    runctl_sandbox_close(S);
    ok(1, "runctl_sandbox_close with a run in progress");

    /* A hostile error object: its __tostring loops; the instruction limit still ends it. */
    lim.max_instructions = 200000;
    S = runctl_sandbox_new(&lim, NULL, err, sizeof err);
    const char *nasty = "error(setmetatable({}, { __tostring = function() while true do end end }))";
    ok(runctl_sandbox_run(S, nasty, strlen(nasty), "=nasty") == -1, "an error object whose __tostring never returns");
    is_str(lua_tostring(S, -1), "instruction limit exceeded", "is stopped by the instruction limit");
    lua_pop(S, 1);
    runctl_sandbox_close(S);
}

/* Runs code in S frame by frame (runctl_poll(S, 0), the way a game drives it). */
static int run_frames(lua_State *S, const char *code, const char *name)
{
    if (runctl_sandbox_start(S, code, strlen(code), name) != 0)
        return -1;
    int st;
    while ((st = runctl_sandbox_status(S)) == 1)
        if (runctl_poll(S, 0) < 0 && (st = runctl_sandbox_status(S)) != 1)
            break;
    return st;
}

/* A limit that trips anywhere in a run is reported by name, ends the run's
 * remaining tasks, and leaves the sandbox as the next run needs it. */
static void test_sandbox_trips(void)
{
    char err[256];
    runctl_sandbox_limits lim;
    runctl_sandbox_limits_init(&lim);
    lim.max_memory = 3000000;
    lua_State *S = runctl_sandbox_new(&lim, NULL, err, sizeof err);
    const char *storm = "local function grow(n)\n"
                        "  if n > 0 then task.spawn(grow, n - 1) task.spawn(grow, n - 1) end\n"
                        "  return {}\nend\ngrow(30)";
    const char *good = "assert(json.encode({ 1 }) == '[1]')";
    for (int i = 0; i < 2; i++) {
        ok(runctl_sandbox_run(S, storm, strlen(storm), "=storm") == -1, "a task.spawn storm fails the run");
        is_str(lua_tostring(S, -1), "sandbox: memory limit exceeded (3000000 bytes)", "as the memory limit, by name");
        lua_pop(S, 1);
        ok(runctl_poll(S, 0) == 0, "no task of it is left");
        ok(runctl_sandbox_run(S, good, strlen(good), "=good") == 0, "the same sandbox runs the next script");
    }
    runctl_sandbox_close(S);

    runctl_sandbox_limits_init(&lim);
    lim.max_seconds = 0.3;
    S = runctl_sandbox_new(&lim, NULL, err, sizeof err);
    const char *handler = "xpcall(function() while true do end end, function() while true do end end)";
    ok(run_frames(S, handler, "=handler") == -1, "an endless xpcall handler, driven by runctl_poll(S, 0), ends");
    is_str(lua_tostring(S, -1), "time limit exceeded", "at the time limit");
    lua_pop(S, 1);
    const char *sleepers = "for i = 1, 20 do task.spawn(task.sleep, 3600) end\nwhile true do end";
    ok(run_frames(S, sleepers, "=sleepers") == -1, "a busy script with 20 sleeping tasks ends at the time limit");
    lua_pop(S, 1);
    ok(runctl_poll(S, 0) == 0, "and its sleeping tasks were ended with it (nothing pending)");
    const char *latch = "runctl.dry_run = true\nstring.rep = nil";
    ok(runctl_sandbox_run(S, latch, strlen(latch), "=latch") == 0, "a script latches dry_run and drops string.rep");
    const char *next = "assert(runctl.dry_run == false and string.rep ~= nil)";
    ok(runctl_sandbox_run(S, next, strlen(next), "=next") == 0, "the next run sees neither");
    runctl_sandbox_close(S);
}

/* Writes code into dir/name. */
static void write_ext(const char *dir, const char *name, const char *code)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(code, f) < 0 || fclose(f) != 0) {
        printf("#   cannot write %s\n", path);
        exit(1);
    }
}

static void test_extensions(void)
{
    char dir[] = "/tmp/runctl-ext-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        printf("#   mkdtemp failed\n");
        exit(1);
    }
    setenv("RUNCTL_PATH", dir, 1);
    setenv("XDG_CONFIG_HOME", dir, 1);      /* no user extensions of the person running this */
    write_ext(dir, "acme.lua", "local runctl = require 'runctl'\n"
                               "runctl.define('acme', { methods = { cancel = { 'POST', '/acme/{id}/cancel' } } })\n");

    lua_State *L = open_state(base_url, 0);
    ok(run(L, "assert(acme == nil and openai.acme == nil and runctl.acme == nil)"),
       "runctl_openlibs loads no extension unless the host asks");
    lua_close(L);

    L = luaL_newstate();
    luaL_openlibs(L);
    runctl_options o;
    runctl_options_init(&o);
    o.load_extensions = 1;
    ok(runctl_openlibs(L, &o) == 0 && run(L, "assert(type(acme.cancel) == 'function' and openai.acme == acme)"),
       "load_extensions: the extension's resource is a global and on the default client");
    lua_close(L);

    L = open_state(base_url, 1);
    ok(runctl_load_extensions(L) == 0 && run(L, "assert(type(require('runctl').acme.cancel) == 'function')"),
       "runctl_load_extensions on a state without globals: the resource is in require 'runctl'");
    lua_close(L);

    char err[256];
    runctl_sandbox_limits lim;
    runctl_sandbox_limits_init(&lim);
    lua_State *S = runctl_sandbox_new(&lim, &o, err, sizeof err);
    const char *sees = "assert(acme == nil and openai.acme == nil and runctl.acme == nil, 'no extension')\n"
                       "assert(runctl.define == nil and runctl.kinds == nil, 'no define')";
    ok(S != NULL && runctl_sandbox_run(S, sees, strlen(sees), "=sees") == 0,
       "a sandbox loads no extension even when asked, and has no runctl.define or runctl.kinds");
    if (S != NULL && lua_type(S, -1) == LUA_TSTRING)
        printf("#   %s\n", lua_tostring(S, -1));
    if (S != NULL)
        runctl_sandbox_close(S);

    write_ext(dir, "broken.lua", "runctl.define('zz', { methods = { x = { 'post', '/x' } } })\n");
    L = luaL_newstate();
    luaL_openlibs(L);
    ok(runctl_openlibs(L, &o) == -1, "a broken extension fails runctl_openlibs");
    is_str(lua_tostring(L, -1), "/broken.lua:1: runctl.define: zz: methods.x[1] (the verb)",
           "with its file, line and the field at fault");
    lua_close(L);

    char path[512];
    snprintf(path, sizeof path, "%s/broken.lua", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/acme.lua", dir);
    remove(path);
    rmdir(dir);
    unsetenv("RUNCTL_PATH");
    unsetenv("XDG_CONFIG_HOME");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_embed BASE_URL SLOW_BASE_URL\n");
        return 2;
    }
    base_url = argv[1];
    slow_url = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_options_and_openlibs();
    test_tasks_from_host_code();
    test_close_in_flight();
    test_cancel_all();
    test_frame_budget();
    test_handles();
    test_soak();
    test_sandbox_api();
    test_sandbox_trips();
    test_extensions();
    printf("1..%d\n", count);
    return failures > 0;
}
