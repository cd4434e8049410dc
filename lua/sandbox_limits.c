/* lua/sandbox_limits.c — the sandbox's limits: memory through the state's
 * allocator, instructions and time through a count hook. */
#include "sandbox_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double sbx_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The sandbox of L, or NULL when L is not a sandbox (its allocator tells). */
rc_sandbox *sbx_of(lua_State *L)
{
    void *ud;
    return lua_getallocf(L, &ud) == sbx_alloc ? ud : NULL;
}

/* ------------------------------------------------------------------ memory */

/* LuaJIT's collector paces itself by objects, not bytes: a loop making large
 * strings outruns it and meets the limit holding mostly garbage, which LuaJIT
 * then refuses without the emergency collection 5.4 makes first. So past
 * half the headroom the last full collection left, the hook runs at the
 * next instruction and collects (sbx_limits_hook). LuaJIT's hook is global:
 * any of the state's threads will do. */
static void collect_soon(rc_sandbox *sb)
{
    if (!RC_LUA51 || sb->limit == 0 || !sb->active || sb->collect_due || sb->used <= sb->collect_at)
        return;
    sb->collect_due = 1;
    lua_sethook(sb->main_thread, sbx_limits_hook, HOOK_MASK, 1);
}

/* A full collection, and the point past which the next one is due. */
void sbx_collect(lua_State *L, rc_sandbox *sb)
{
    lua_gc(L, LUA_GCCOLLECT);
    sb->collect_at = sb->used < sb->limit ? sb->used + (sb->limit - sb->used) / 2 : sb->limit;
}

void *sbx_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    rc_sandbox *sb = ud;
    if (ptr == NULL)
        osize = 0;              /* then osize only tells what kind of object it is */
    if (nsize == 0) {
        free(ptr);
        sb->used -= osize;
        return NULL;
    }
    if (nsize > osize && sb->limit > 0 && !sb->ending) {
        /* LuaJIT: the grace always (it raises at a refusal without the
         * emergency collection 5.4 makes first); the hook then collects and
         * decides, as for a refusal. */
        size_t cap = sb->limit + (RC_LUA51 || sb->over || sb->trip != TRIP_NONE ? MEMORY_GRACE : 0);
        if (sb->used > cap || nsize - osize > cap - sb->used) {
            /* Lua collects and retries once, then raises "not enough memory";
             * the hook decides later whether the script really holds it. */
            sb->over = 1;
            sb->refused_in_run = 1;
            if (nsize - osize > sb->refused)
                sb->refused = nsize - osize;
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (p != NULL) {
        sb->used = sb->used - osize + nsize;
        if (nsize > osize)
            collect_soon(sb);
    }
    if (RC_LUA51 && sb->limit > 0 && sb->used > sb->limit)
        sb->over = 1;
    return p;
}

/* ------------------------------------------------------------------ instructions, time */

const char *sbx_trip_text(const rc_sandbox *sb, char *buf, size_t n)
{
    switch (sb->trip) {
    case TRIP_INSTRUCTIONS:
        snprintf(buf, n, "sandbox: instruction limit exceeded (%lu instructions)",
                 sb->limits.max_instructions);
        break;
    case TRIP_TIME:
        snprintf(buf, n, "sandbox: time limit exceeded (%g s)", sb->limits.max_seconds);
        break;
    case TRIP_MEMORY:
        snprintf(buf, n, "sandbox: memory limit exceeded (%zu bytes)", sb->limits.max_memory);
        break;
    case TRIP_NONE:
        snprintf(buf, n, "sandbox: no limit tripped");
        break;
    }
    return buf;
}

/* After a refused allocation: was it garbage the emergency collection could
 * not reach yet, or memory the run holds (having caught the error, or in
 * tasks the scheduler could not start)? The latter trips the memory limit. */
void sbx_check_memory(lua_State *L, rc_sandbox *sb)
{
    if (!sb->over || sb->trip != TRIP_NONE)
        return;
    sbx_collect(L, sb);
#if RC_LUA51
    /* No emergency collection on LuaJIT: what was refused must fit now, or
     * the script holds the memory (a pcall caught the error, it tries again). */
    size_t wanted = sb->refused;
    sb->refused = 0;
    if (sb->used > sb->limit || wanted > sb->limit - sb->used)
#else
    if (sb->used > sb->limit)
#endif
        sb->trip = TRIP_MEMORY;
    else
        sb->over = sb->over_seen = 0;
}

/* rc_host.reclaim, on LuaJIT: after a resume that met a refused allocation,
 * the collection LuaJIT skipped, so the scheduler can record the task's
 * outcome (a script that caught its memory error and returned leaves the
 * state full of garbage). Whether the script holds the memory is for the
 * hook or runctl_sandbox_status to decide. */
void sbx_reclaim(lua_State *L, void *ud)
{
    rc_sandbox *sb = ud;
    if (sb->over)
        sbx_collect(L, sb);
}

/* Every HOOK_STEP instructions, in every thread: new coroutines (tasks too)
 * inherit the hook from the thread that creates them. */
void sbx_limits_hook(lua_State *L, lua_Debug *ar)
{
    rc_sandbox *sb = sbx_of(L);
    if (ar->event == LUA_HOOKCALL && (sb->trip == TRIP_NONE || L == sb->main_thread))
        return;                 /* calls only matter once a limit tripped, in the run's threads */
    if (ar->event == LUA_HOOKCOUNT && sb->trip == TRIP_NONE && sb->active) {
        /* LuaJIT: a look to collect (collect_soon), an instruction after the
         * allocation: a refusal the script just caught is judged at the next
         * look, so the script's stack has unwound (one look late at most). */
        int judge = 1;
        if (sb->collect_due) {
            sb->collect_due = 0;
            lua_sethook(L, sbx_limits_hook, HOOK_MASK, HOOK_STEP);
            sbx_collect(L, sb);
            judge = !sb->over || sb->over_seen;
            sb->over_seen = sb->over;
        }
        sb->instructions += HOOK_STEP;  /* at most that many since the last look: never fewer */
        if (sb->limits.max_instructions > 0 && sb->instructions > sb->limits.max_instructions) {
            sb->trip = TRIP_INSTRUCTIONS;
        } else if (sb->limits.max_seconds > 0 && sbx_now_s() > sb->deadline) {
            sb->trip = TRIP_TIME;
        } else if (judge) {
            sbx_check_memory(L, sb);
        }
    }
    if (sb->trip != TRIP_NONE) {
        char msg[96];
        /* From now on this thread raises at every instruction, so a pcall in
         * the script cannot catch the error and carry on. */
        lua_sethook(L, sbx_limits_hook, HOOK_MASK, 1);
        luaL_error(L, "%s", sbx_trip_text(sb, msg, sizeof msg));
    }
}

/* rc_host.limits_check: what the hook checks, for work done in C (see host.h).
 * A refused allocation C work needs trips the memory limit: that memory is
 * the script's own request (an encoder's output), not garbage. */
void sbx_limits_check(lua_State *L, void *ud, size_t steps, int out_of_memory)
{
    rc_sandbox *sb = ud;
    if (sb->active && sb->trip == TRIP_NONE) {
        sb->instructions += steps;
        if (out_of_memory)
            sb->trip = TRIP_MEMORY;
        else if (sb->limits.max_instructions > 0 && sb->instructions > sb->limits.max_instructions)
            sb->trip = TRIP_INSTRUCTIONS;
        else if (sb->limits.max_seconds > 0 && sbx_now_s() > sb->deadline)
            sb->trip = TRIP_TIME;
    }
    if (sb->active && sb->trip != TRIP_NONE) {
        char msg[96];
        lua_sethook(L, sbx_limits_hook, HOOK_MASK, 1);    /* as the hook does: no pcall swallows it */
        luaL_error(L, "%s", sbx_trip_text(sb, msg, sizeof msg));
    }
    if (out_of_memory)
        luaL_error(L, "not enough memory");
}
