/* lua/sandbox_int.h — private to the sandbox's files (sandbox.c,
 * sandbox_limits.c, sandbox_match.c, sandbox_hosts.c, sandbox_env.c): its
 * limits and keys, the sandbox struct, and the helpers they share. */
#ifndef RC_SANDBOX_INT_H
#define RC_SANDBOX_INT_H

#include "host.h"

#define HOOK_STEP 1000                  /* instructions between two looks at the limits */
/* Calls too: once a limit tripped, a thread that had not looked yet (a task
 * ended by the trip, running its __close handlers) raises at its first call. */
#define HOOK_MASK (LUA_MASKCOUNT | LUA_MASKCALL)
#define MEMORY_GRACE (64 * 1024)        /* headroom to unwind and report once memory ran out */
#define ENV_KEY "runctl.sandbox.env"            /* the template of every run's globals */
#define RUN_ENV_KEY "runctl.sandbox.run_env"    /* the current run's globals */
#define RUN_TASK_KEY "runctl.sandbox.run_task"  /* the current run's main task */
#define GUARD_KEY "runctl.sandbox.guard"        /* wraps a function in a pcall (see WRAPPERS_LUA) */
#define RESULT_KEY "runctl.sandbox.result"      /* why the last run failed, or nil */
#define STRING_KEY "runctl.sandbox.string"      /* the string library with checked matching */
/* Worst-case steps one pattern match may take during a run: the matcher is C,
 * out of the count hook's reach, so this bounds how long it can hold the host
 * past a limit (roughly 0.1 s on a slow machine). */
#define PATTERN_BUDGET 1e7
/* A match that takes at most this many paths per character of its subject,
 * with a pattern of up to PATTERN_SHORT bytes, is allowed whatever its
 * length: like string.rep or table.concat, it is bounded by the memory limit
 * (the subject is in memory), not by this budget. A longer pattern is
 * compared at every start: its length counts. */
#define PATTERN_LINEAR 4
#define PATTERN_SHORT 32

enum trip { TRIP_NONE, TRIP_INSTRUCTIONS, TRIP_TIME, TRIP_MEMORY };

typedef struct allowed_host {
    char *host;                 /* lower case, no brackets, no trailing dot */
    char *port;                 /* NULL: any port */
    int subdomains;             /* "*.example.com": hosts under it, not itself */
} allowed_host;

/* Lives outside the state (it is the allocator's user data), so it is freed
 * after lua_close, once the state no longer allocates. */
typedef struct rc_sandbox {
    size_t used;                /* bytes the state holds now */
    size_t limit;               /* 0: none; else the fresh state's size + max_memory */
    int over;                   /* an allocation was refused; not yet shown to be garbage */
    size_t refused;             /* the largest growth refused since (LuaJIT's check) */
    int refused_in_run;
    int active;                 /* a run is going on: the hook counts */
    enum trip trip;             /* the limit that stopped the current run */
    unsigned long instructions;
    double deadline;            /* monotonic seconds */
    int inert_tasks;            /* tasks alive at the run's start: none can ever resume */
    int ending;                 /* ending a tripped run's tasks: no allocation is refused */
    size_t collect_at;          /* LuaJIT: past this, collect at the next instruction */
    int collect_due;            /* LuaJIT: the hook runs at the next instruction to collect */
    int over_seen;              /* LuaJIT: a look to collect saw the refusal and left it */
    lua_State *main_thread;     /* host code runs here (runctl's entry points) */
    runctl_sandbox_limits limits;
    allowed_host *hosts;
    size_t n_hosts;
} rc_sandbox;

/* sandbox_limits.c: the clock, the allocator and the count hook */
double sbx_now_s(void);
void *sbx_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
rc_sandbox *sbx_of(lua_State *L);
const char *sbx_trip_text(const rc_sandbox *sb, char *buf, size_t n);
void sbx_collect(lua_State *L, rc_sandbox *sb);
void sbx_check_memory(lua_State *L, rc_sandbox *sb);
void sbx_limits_hook(lua_State *L, lua_Debug *ar);
void sbx_limits_check(lua_State *L, void *ud, size_t steps, int out_of_memory);   /* rc_host.limits_check */
void sbx_reclaim(lua_State *L, void *ud);   /* rc_host.reclaim (LuaJIT) */

/* sandbox_match.c */
int sbx_checked_move(lua_State *L);
void sbx_install_checked_matching(lua_State *L);

/* sandbox_hosts.c */
int sbx_parse_allowed(const char *entry, allowed_host *out);
int sbx_policy(void *ud, rc_request *req, char *why, size_t whysz);

/* sandbox_env.c */
int sbx_guarded_setmetatable(lua_State *L);
void sbx_push_copy(lua_State *L, int idx, int keep_meta);
void sbx_push_deep_copy(lua_State *L, int idx, int seen, int module);
void sbx_build_template(lua_State *L);

#endif
