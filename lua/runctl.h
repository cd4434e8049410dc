/* lua/runctl.h — the public embedding API: open runctl's bindings into a host's
 * own lua_State and drive its engine from the host's loop without blocking,
 * and run untrusted scripts in a sandbox with limits.
 *
 * Contract for every function here:
 * - A lua_State is used by one thread at a time (Lua's own rule); runctl adds
 *   nothing shared between states except libcurl's global init, done by the
 *   first runctl_openlibs/runctl_sandbox_new of the process: make that first
 *   call before other threads open states of their own.
 * - runctl owns what it creates inside the state (the engine, transfers,
 *   timers, tasks); the host owns the state and ends all of it with
 *   lua_close(L) (runctl_sandbox_close for sandboxes). Teardown is clean at
 *   any moment: transfers still in flight are cancelled without their
 *   callbacks running, timers are disarmed, unfinished tasks are dropped
 *   without being resumed again (so their pending to-be-closed variables are
 *   not closed), and all memory is freed. Nothing runs after lua_close.
 * - Strings passed in are copied; nothing the host passes must outlive the call. */
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
    int no_globals;             /* 1: set no globals; scripts use require "runctl" */
    double frame_budget_ms;     /* work per runctl_poll(L, >= 0) call (see there);
                                 * 0: the default, 1 ms; negative: no budget */
    int load_extensions;        /* 1: runctl_load_extensions once open (never in a sandbox) */
} runctl_options;

#define RUNCTL_LOG_UNSET (-100)

/* Fills o with the "unset" values. */
void runctl_options_init(runctl_options *o);

/* Creates the engine for L (one per state), registers the modules in
 * package.preload ("runctl", "runctl.core", ...) and sets the globals
 * runctl, openai, runs, responses, batches, fine_tuning, vector_stores,
 * uploads, http, json, task, log (replacing any of the host's own globals of
 * those names) unless opts->no_globals is set. opts may be NULL: the defaults
 * and the environment; it is copied, strings included.
 * L must have the standard libraries open (luaL_openlibs: runctl's Lua half
 * uses require, string, table, os, io). Call once per state, from host code
 * (not from inside a script), before the scripts that use runctl run.
 * Returns 0, or -1 with an error message pushed on the stack (runctl is
 * already open in L, or the HTTP engine could not start). */
int runctl_openlibs(lua_State *L, const runctl_options *opts);

/* Loads the extension files (README "Extending runctl"): every *.lua file,
 * sorted by name, of each directory of $RUNCTL_PATH (colon-separated), then
 * $XDG_CONFIG_HOME/runctl/ext (default ~/.config/runctl/ext), then the
 * system one (PREFIX/share/runctl/ext); a name already loaded from an
 * earlier directory is skipped. Those directories go first in package.path.
 * Extensions run trusted, with the state's full globals: load only files the
 * host trusts (runctl_openlibs does it when opts->load_extensions is set;
 * a sandbox never does). Returns 0, or -1 with "FILE:LINE: message" pushed
 * (the first broken extension; the ones after it are not run). */
int runctl_load_extensions(lua_State *L);

/* Waits at most timeout_ms (0: not at all, the frame-loop setting; negative:
 * until something happens) for transfers and timers, completes them, then
 * runs the ready tasks (task.spawn from host code only queues a task: this
 * is where it starts) and those they woke.
 * Frame budget: with timeout_ms >= 0, the call does only as much as fits the
 * state's frame budget (options.frame_budget_ms, default 1 ms; from Lua
 * runctl.frame_budget(ms)): the network work (answers read, transfers
 * started, one at a time) for at most half of it, then task resumes
 * (starting them, handing them a finished request, waking them) until it is
 * spent, time they leave going back to the network work; each at least one
 * per call. What is left stays queued, in order,
 * for the next call, and the return value counts it, so a host polling
 * until 0 never stops early. A single piece of work is not split: a resume
 * that loops in Lua, or libcurl setting up one connection.
 * timeout_ms < 0 (blocking: the command, a call driving the loop itself)
 * has no budget. Call it from host
 * code, never from inside a task or a function a task called (that returns
 * -1). Returns how many transfers, timers and ready tasks are still pending
 * (0: nothing left to do), or -1 when runctl is not open in L (the reason
 * goes to stderr). The stack is left as it was. Task errors are not raised
 * here; task.join reports them. A binding called from host code outside any
 * task (luaL_dostring("runs.cancel(...)")) does not need this: it drives the
 * loop itself until its own transfer is done, i.e. it blocks. */
int runctl_poll(lua_State *L, int timeout_ms);

/* Ends every task of L and every request and sleep they wait for, without
 * closing the state (a scene change): each task is cancelled as task.cancel
 * does (its in-flight request leaves the engine at once, its pending
 * to-be-closed variables are closed, whoever joins it gets nil, err with
 * err.kind == "aborted"). Call it from host code, like runctl_poll. Returns
 * how many tasks it ended, or -1 when runctl is not open in L or an error
 * escaped a to-be-closed variable's handler (the reason goes to stderr). */
int runctl_cancel_all(lua_State *L);

/* The scheduler's bookkeeping, for hosts tuning their frame budget. */
typedef struct runctl_stats {
    unsigned long polls;        /* loop rounds run: runctl_poll calls, and rounds of
                                 * calls that drove the loop themselves */
    unsigned long resumed;      /* task resumes in all */
    unsigned long budget_stops; /* rounds that stopped at the frame budget with
                                 * tasks left ready for the next call */
    unsigned long max_resumed;  /* the most resumes a single round did */
    int ready;                  /* tasks ready to run now */
    int tasks;                  /* tasks alive (running, ready or waiting) */
    int in_engine;              /* transfers and timers in the engine now */
    unsigned long io_stops;     /* rounds whose network work stopped at the frame
                                 * budget with answers read or requests started
                                 * left for the next call */
} runctl_stats;

/* Fills out; returns 0, or -1 when runctl is not open in L. */
int runctl_get_stats(lua_State *L, runctl_stats *out);

/* ---- handles: work for host code that does not write coroutines ----
 *
 * runctl_start runs a function as a task and returns a handle the host asks
 * each frame: done yet? the results? or calls it off. Any function will do:
 * a binding (runs.cancel with its arguments), http.request, a Lua function.
 *
 *   lua_getglobal(L, "runs"); lua_getfield(L, -1, "cancel"); lua_remove(L, -2);
 *   lua_pushstring(L, thread_id); lua_pushstring(L, run_id);
 *   int h = runctl_start(L, 2);          // pops the function and its 2 arguments
 *   ... each frame: runctl_poll(L, 0);
 *   if (runctl_done(L, h) == 1) { int n = runctl_result(L, h); ...; lua_pop(L, n); runctl_release(L, h); }
 *
 * In Lua the same handle is the task itself: t = task.spawn(fn, ...), then
 * t:done(), t:result(), t:cancel(). */

/* Pops a function and its nargs arguments and starts them as a task (it
 * runs at the next runctl_poll). Returns a handle (> 0), or -1 with the
 * message pushed (not a function, too many arguments, runctl not open). */
int runctl_start(lua_State *L, int nargs);
/* 1 when the work ended (finished, failed or cancelled), 0 while it runs,
 * -1 for an unknown handle. */
int runctl_done(lua_State *L, int handle);
/* Pushes the results of ended work and returns their count: what the
 * function returned (obj, nil, resp for a binding); nil, err when it raised;
 * nil, err with err.kind == "aborted" when it was cancelled. Returns -1 and
 * pushes nothing while it runs or for an unknown handle. */
int runctl_result(lua_State *L, int handle);
/* Calls the work off as task.cancel does; 1 when it was running, 0 when it
 * had already ended, -1 for an unknown handle. The handle stays valid. */
int runctl_cancel(lua_State *L, int handle);
/* Gives the work a deadline: cancelled (err.reason "deadline") if it has not
 * ended seconds from now; seconds < 0 removes it. 1 when set, 0 when the
 * work had already ended, -1 for an unknown handle. */
int runctl_deadline(lua_State *L, int handle, double seconds);
/* Forgets the handle (the work goes on if it runs; cancel it first to stop it). */
void runctl_release(lua_State *L, int handle);

/* ---- sandbox: a state for scripts the host does not trust (lua/sandbox.c) ----
 *
 * A sandbox is a lua_State of its own, made by runctl_sandbox_new, in which
 * scripts see only an allow-list of globals: the runctl API (runctl, openai,
 * runs, http, json, task, log and the other resource globals), the base
 * functions assert error ipairs next pairs pcall xpcall print select type
 * tostring tonumber rawequal rawget rawlen rawset getmetatable setmetatable
 * _VERSION, load (text chunks only), collectgarbage ("count", "step",
 * "collect", "isrunning"), and copies of coroutine, string (no dump), table,
 * math, utf8 and os.clock/date/difftime/time. Never io, dofile, loadfile,
 * require, package, debug, os.execute/getenv/exit/remove/rename, string.dump
 * or binary chunks. getmetatable hides the metatables of strings, userdata
 * and those runctl's C code shares; no metatable with __gc can be set (a Lua
 * finalizer would run with the limits' hook switched off); rawset refuses
 * tables whose metatable is protected. xpcall's message handler runs after
 * the stack unwinds, as ordinary limited code. A call that would block
 * instead of yielding (task.sleep, task.join or a request inside a plain
 * coroutine or a table.sort comparator) raises: blocking would stall the host.
 *
 * Limits hold per run (runctl_sandbox_start to the end of its last task,
 * tasks spawned by the script included), and stop the script with a clear
 * error ("sandbox: instruction limit exceeded ..."), which pcall cannot
 * swallow: once a limit trips, every further instruction and call of the
 * run raises (message handlers, __close handlers, __tostring, coroutines),
 * and the run's remaining tasks, with their requests and sleeps, are ended
 * when runctl_sandbox_status reports the trip. The memory limit is checked
 * by the state's allocator; a memory error anywhere in the run (the scheduler
 * included) is reported as "sandbox: memory limit exceeded ...". Requests
 * may only go to the allowed hosts (checked with libcurl's own URL parser, so
 * what is checked is what curl connects to); a proxy from the environment
 * is used only when it is an allowed host itself. Clients are read-only
 * views that hold no API key (it stays in C memory).
 * Each run starts from the same state: fresh globals, fresh copies of the
 * libraries and of runctl's plain tables, runctl.dry_run at the host's
 * setting. Shared between runs: clients (read-only) with their connection
 * pools and rate limiters. Pattern matching (string.find, match, gmatch,
 * gsub, and string methods; plain finds too) is bounded during a run: a
 * match whose worst case exceeds 1e7 steps and is not linear in the subject
 * is refused before it starts ("sandbox: string.find: pattern too costly
 * ..."). Known gaps: other C functions are
 * not interrupted: they are linear in what the memory limit allows (an
 * empty string.rep returns at once, table.move takes at most 1e7 elements
 * a call), and table.sort of a million elements takes about a second (if
 * scripts may be hostile and the host must never stall,
 * run such a sandbox on a thread of its own); the time limit is checked while Lua code runs and by
 * runctl_sandbox_status, so a script blocked in a long request or sleep is
 * reported late by runctl_poll alone. The functions below take a state made
 * by runctl_sandbox_new; given another, they fail (-1
 * with a message pushed; runctl_sandbox_env pushes nil). */

typedef struct runctl_sandbox_limits {
    size_t max_memory;              /* bytes the scripts may hold on top of what the
                                     * fresh sandbox uses; 0: no limit */
    unsigned long max_instructions; /* Lua VM instructions per run (checked every
                                     * 1000); 0: no limit */
    double max_seconds;             /* wall-clock seconds per run; 0: no limit */
    const char *const *allow_hosts; /* NULL-terminated: "api.openai.com",
                                     * "127.0.0.1:8080", "[::1]", "*.example.com"
                                     * (subdomains only); NULL or empty: no requests */
} runctl_sandbox_limits;

/* Fills l with "no limits, no hosts". */
void runctl_sandbox_limits_init(runctl_sandbox_limits *l);

/* Creates a sandbox: a new state with the standard libraries, runctl opened
 * into it with opts (may be NULL; no_globals is ignored) and the limits
 * (copied; may be NULL). Returns NULL on failure with the reason in
 * err[errsz]. Close it with runctl_sandbox_close, never plain lua_close. */
lua_State *runctl_sandbox_new(const runctl_sandbox_limits *limits,
                              const runctl_options *opts, char *err, size_t errsz);

/* Pushes the table whose fields every run's globals start from, so the host
 * can add its own functions (or remove some) before running scripts. */
void runctl_sandbox_env(lua_State *L);

/* Compiles code (text only) as a script with fresh globals and starts it as
 * a task; the host drives it with runctl_poll and asks runctl_sandbox_status
 * how it ended. Resets the limits' counters. Returns 0, or -1 with the
 * message pushed (a syntax error, or tasks of the previous run still running). */
int runctl_sandbox_start(lua_State *L, const char *code, size_t len, const char *chunkname);

/* 1 while a task of the current run (the script, or one it spawned) is
 * alive; 0 when the run finished without error (or nothing was started); -1
 * when it failed, with the message pushed (the limit that tripped, the
 * script's error, or tasks waiting for each other). Also trips the time
 * limit of a run that waits past it. After a trip, tasks may still be alive
 * (say, asleep for an hour): runctl_poll drains them (the limit kills each
 * one as it resumes), or close the sandbox. */
int runctl_sandbox_status(lua_State *L);

/* runctl_sandbox_start, then runctl_poll until the run ends (or its time
 * limit passes); returns like runctl_sandbox_status (never 1). */
int runctl_sandbox_run(lua_State *L, const char *code, size_t len, const char *chunkname);

/* Closes the state (as lua_close: in-flight work is cancelled) and frees
 * the sandbox. L must come from runctl_sandbox_new. */
void runctl_sandbox_close(lua_State *L);

#endif
