/* lua/runctl.h — the public embedding API: open runctl's bindings into a host's
 * own lua_State and drive its engine from the host's loop without blocking. */
#ifndef RUNCTL_H
#define RUNCTL_H

#include <lua.h>

#define RUNCTL_VERSION "0.1.0"

/* Settings that a command line would give; fields left at their "unset"
 * values fall back to the environment, then to the defaults. */
typedef struct runctl_options {
    const char *base_url;       /* NULL: OPENAI_BASE_URL, else https://api.openai.com/v1 */
    const char *organization;   /* NULL: OPENAI_ORG_ID */
    const char *project;        /* NULL: OPENAI_PROJECT_ID */
    int max_retries;            /* < 0: unset (default 2) */
    double timeout;             /* seconds per attempt; <= 0: unset (default 600) */
    int dry_run;                /* 1: refuse every non-GET request */
    int azure;                  /* 1: clients default to Azure OpenAI (AZURE_OPENAI_* settings) */
    int log_level;              /* RUNCTL_LOG_UNSET: OPENAI_LOG; else -1 quiet .. 2 debug */
} runctl_options;

#define RUNCTL_LOG_UNSET (-100)

/* Fills o with the "unset" values. */
void runctl_options_init(runctl_options *o);

/* Creates the engine for L (one per state), registers the modules in
 * package.preload ("runctl", "runctl.core", ...) and sets the globals
 * runctl, openai, runs, responses, batches, fine_tuning, vector_stores,
 * uploads, http, json, task, log. opts may be NULL. Call once per
 * state, from the main thread, before any script runs. Returns 0, or -1 with
 * an error message on the stack. The engine lives until lua_close(L). */
int runctl_openlibs(lua_State *L, const runctl_options *opts);

/* Runs every ready task, then waits at most timeout_ms (0: not at all,
 * negative: until something happens) for transfers and timers, completing
 * them and running the tasks they wake. Must be called from the thread that
 * owns L, never from inside a task. Returns how many transfers, timers and
 * tasks are still pending (0: nothing left to do). Task errors are not
 * raised here; task.join reports them. */
int runctl_poll(lua_State *L, int timeout_ms);

#endif
