/* lua/sandbox.c — runctl_sandbox_*: a Lua state for scripts the host does not
 * trust. Scripts get fresh globals built from an allow-list; a count hook
 * enforces the instruction and time limits, the state's allocator the memory
 * limit, and a request policy the allowed hosts. runctl's own Lua half runs
 * in the same state with the full standard library, out of the scripts' reach. */
#include "host.h"
#include "../core/patcost.h"
#include "../core/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lualib.h>

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
    int refused_in_run;
    int active;                 /* a run is going on: the hook counts */
    enum trip trip;             /* the limit that stopped the current run */
    unsigned long instructions;
    double deadline;            /* monotonic seconds */
    int inert_tasks;            /* tasks alive at the run's start: none can ever resume */
    int ending;                 /* ending a tripped run's tasks: no allocation is refused */
    lua_State *main_thread;     /* host code runs here (runctl's entry points) */
    runctl_sandbox_limits limits;
    allowed_host *hosts;
    size_t n_hosts;
} rc_sandbox;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* The sandbox of L, or NULL when L is not a sandbox (its allocator tells). */
static rc_sandbox *sandbox_of(lua_State *L)
{
    void *ud;
    return lua_getallocf(L, &ud) == sandbox_alloc ? ud : NULL;
}

/* ------------------------------------------------------------------ memory */

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
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
        size_t cap = sb->limit + (sb->over || sb->trip != TRIP_NONE ? MEMORY_GRACE : 0);
        if (sb->used > cap || nsize - osize > cap - sb->used) {
            /* Lua collects and retries once, then raises "not enough memory";
             * the hook decides later whether the script really holds it. */
            sb->over = 1;
            sb->refused_in_run = 1;
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (p != NULL)
        sb->used = sb->used - osize + nsize;
    return p;
}

/* ------------------------------------------------------------------ instructions, time */

static const char *trip_text(const rc_sandbox *sb, char *buf, size_t n)
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
static void check_memory(lua_State *L, rc_sandbox *sb)
{
    if (!sb->over || sb->trip != TRIP_NONE)
        return;
    lua_gc(L, LUA_GCCOLLECT);
    if (sb->used > sb->limit)
        sb->trip = TRIP_MEMORY;
    else
        sb->over = 0;
}

/* Every HOOK_STEP instructions, in every thread: new coroutines (tasks too)
 * inherit the hook from the thread that creates them. */
static void limits_hook(lua_State *L, lua_Debug *ar)
{
    rc_sandbox *sb = sandbox_of(L);
    if (ar->event == LUA_HOOKCALL && (sb->trip == TRIP_NONE || L == sb->main_thread))
        return;                 /* calls only matter once a limit tripped, in the run's threads */
    if (ar->event == LUA_HOOKCOUNT && sb->trip == TRIP_NONE && sb->active) {
        sb->instructions += HOOK_STEP;
        if (sb->limits.max_instructions > 0 && sb->instructions > sb->limits.max_instructions) {
            sb->trip = TRIP_INSTRUCTIONS;
        } else if (sb->limits.max_seconds > 0 && now_s() > sb->deadline) {
            sb->trip = TRIP_TIME;
        } else {
            check_memory(L, sb);
        }
    }
    if (sb->trip != TRIP_NONE) {
        char msg[96];
        /* From now on this thread raises at every instruction, so a pcall in
         * the script cannot catch the error and carry on. */
        lua_sethook(L, limits_hook, HOOK_MASK, 1);
        luaL_error(L, "%s", trip_text(sb, msg, sizeof msg));
    }
}

/* rc_host.limits_check: what the hook checks, for work done in C (see host.h).
 * A refused allocation C work needs trips the memory limit: that memory is
 * the script's own request (an encoder's output), not garbage. */
static void sandbox_limits_check(lua_State *L, void *ud, size_t steps, int out_of_memory)
{
    rc_sandbox *sb = ud;
    if (sb->active && sb->trip == TRIP_NONE) {
        sb->instructions += steps;
        if (out_of_memory)
            sb->trip = TRIP_MEMORY;
        else if (sb->limits.max_instructions > 0 && sb->instructions > sb->limits.max_instructions)
            sb->trip = TRIP_INSTRUCTIONS;
        else if (sb->limits.max_seconds > 0 && now_s() > sb->deadline)
            sb->trip = TRIP_TIME;
    }
    if (sb->active && sb->trip != TRIP_NONE) {
        char msg[96];
        lua_sethook(L, limits_hook, HOOK_MASK, 1);     /* as the hook does: no pcall swallows it */
        luaL_error(L, "%s", trip_text(sb, msg, sizeof msg));
    }
    if (out_of_memory)
        luaL_error(L, "not enough memory");
}

/* ------------------------------------------------------------------ pattern matching */

enum match_kind { MATCH_FIND, MATCH_MATCH, MATCH_GMATCH, MATCH_GSUB };
static const char *const match_names[] = { "find", "match", "gmatch", "gsub" };

/* The subject's part a match looks at (from init, as the library counts it),
 * or 0 when the arguments are not what the library takes (it then explains). */
static int match_subject(lua_State *L, int kind, const char **s, size_t *n)
{
    size_t len;
    int ok;
    if (!lua_isstring(L, 1) || !lua_isstring(L, 2))
        return 0;
    *s = lua_tolstring(L, 1, &len);
    lua_Integer init = 1;
    if (kind != MATCH_GSUB && !lua_isnoneornil(L, 3) && (init = lua_tointegerx(L, 3, &ok), !ok))
        return 0;
    if (init < 0)
        init = (lua_Integer)len + init + 1 > 0 ? (lua_Integer)len + init + 1 : 1;
    else if (init == 0)
        init = 1;
    size_t skip = (size_t)init - 1 < len ? (size_t)init - 1 : len;
    *s += skip;
    *n = len - skip;
    return 1;
}

/* 1 when an error message already names a position ("chunk:12: ..."): it
 * came from Lua code the library called back (a gsub replacement function). */
static int has_position(const char *msg)
{
    for (const char *p = msg; *p != '\0' && *p != '\n'; p++) {
        if (*p != ':' || p[1] < '0' || p[1] > '9')
            continue;
        const char *q = p + 1;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q[0] == ':' && q[1] == ' ')
            return 1;
    }
    return 0;
}

/* Calls the library's function lib.fn (upvalue 1) with the wrapper's
 * arguments and returns its results. An error the library itself raises
 * gets the script's position ("script:12: bad argument #1 to ..."), as it
 * would without the wrapper in between: a C function's error names the
 * position of whoever called it, here the wrapper, which has none. Errors
 * with a position already, or that are not text (a limit's trip), pass on
 * untouched. */
static int call_library(lua_State *L, const char *lib, const char *fn, int nresults)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, nresults, 0);
    if (status == LUA_OK)
        return lua_gettop(L);
    const char *msg = lua_tostring(L, -1);
    if (status == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING && !has_position(msg)) {
        const char *unnamed = strstr(msg, " to '?'");
        luaL_where(L, 1);                           /* err, where */
        if (unnamed != NULL) {                      /* the library could not tell its name */
            lua_pushlstring(L, msg, (size_t)(unnamed - msg));
            lua_pushfstring(L, " to '%s.%s'%s", lib, fn, unnamed + 7);
            lua_concat(L, 3);                       /* err, where .. head .. tail */
        } else {
            lua_pushvalue(L, -2);
            lua_concat(L, 2);                       /* err, where .. err */
        }
    }
    return lua_error(L);
}

/* string.find, match, gmatch and gsub for scripts, and for every string's
 * methods in a sandbox (upvalue 1: the library's function, 2: its kind).
 * During a run a match whose worst case exceeds PATTERN_BUDGET is refused
 * before it starts: backtracking can take minutes on a short string, in C,
 * where no limit can stop it. runctl's own code runs in the same state: it
 * is checked alike during a run, and only pays the extra call otherwise. */
static int checked_match(lua_State *L)
{
    rc_sandbox *sb = sandbox_of(L);
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    const char *s;
    size_t n;
    if (sb != NULL && sb->active && match_subject(L, kind, &s, &n)) {
        size_t plen;
        const char *pat = lua_tolstring(L, 2, &plen);
        int plain = kind == MATCH_FIND && lua_toboolean(L, 4);
        double bytes = plen > 0 ? (double)plen : 1;
        /* A plain find compares the needle at every start: n + 1 paths. */
        double cost = bytes * (plain ? (double)n + 1
                               : rc_pattern_cost(pat, plen, s, n, kind != MATCH_GMATCH, PATTERN_BUDGET / bytes));
        if (cost > PATTERN_BUDGET &&
            cost > PATTERN_LINEAR * ((double)n + 1) * (plen < PATTERN_SHORT ? bytes : PATTERN_SHORT)) {
            char msg[300];
            snprintf(msg, sizeof msg, "sandbox: string.%s: pattern too costly (up to %.2g steps "
                     "on %zu characters, limit %.0g); %s", match_names[kind], cost, n, PATTERN_BUDGET,
                     plain ? "use a shorter needle"
                           : "use a plain find (4th argument true) or a pattern with fewer *, +, - and ? items");
            luaL_where(L, 1);     /* the caller's line */
            lua_pushstring(L, msg);
            lua_concat(L, 2);
            return lua_error(L);
        }
    }
    return call_library(L, "string", match_names[kind], LUA_MULTRET);
}

/* string.rep for scripts and string methods (upvalue: the library's): an
 * empty string repeated any number of times is "", at once. The library
 * would build it n times in C (every other result is as long as n, so the
 * memory limit bounds it). */
static int checked_rep(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING && lua_rawlen(L, 1) == 0 && lua_isnumber(L, 2) &&
        (lua_isnoneornil(L, 3) || (lua_type(L, 3) == LUA_TSTRING && lua_rawlen(L, 3) == 0))) {
        lua_pushliteral(L, "");
        return 1;
    }
    return call_library(L, "string", "rep", 1);
}

#define MOVE_MAX 10000000       /* elements one table.move may visit: holes cost no memory */

/* table.move for scripts (upvalue: the library's): a range of holes costs
 * no memory, so only a cap on its length keeps it from running for hours. */
static int checked_move(lua_State *L)
{
    int ok_f, ok_e;
    lua_Integer f = lua_tointegerx(L, 2, &ok_f), e = lua_tointegerx(L, 3, &ok_e);
    if (ok_f && ok_e && e >= f && (lua_Unsigned)e - (lua_Unsigned)f >= MOVE_MAX)
        return luaL_error(L, "sandbox: table.move: at most %d elements at once", MOVE_MAX);
    return call_library(L, "table", "move", 1);
}

static void push_copy(lua_State *L, int idx, int keep_meta);

/* Registry STRING_KEY: the string library with checked matching and rep, which
 * scripts get as string and every string gets as its methods. */
static void install_checked_matching(lua_State *L)
{
    lua_getglobal(L, "string");
    push_copy(L, -1, 0);
    for (int kind = MATCH_FIND; kind <= MATCH_GSUB; kind++) {
        lua_getfield(L, -2, match_names[kind]);
        lua_pushinteger(L, kind);
        lua_pushcclosure(L, checked_match, 2);
        lua_setfield(L, -2, match_names[kind]);
    }
    lua_getfield(L, -2, "rep");
    lua_pushcclosure(L, checked_rep, 1);
    lua_setfield(L, -2, "rep");
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
    lua_setfield(L, LUA_REGISTRYINDEX, STRING_KEY);
    lua_pop(L, 1);
}

/* ------------------------------------------------------------------ hosts */

/* Parses an allow-list entry ("host", "host:port", "[v6]:port", "*.domain")
 * through the same parser as the URLs, so both sides are normalized alike. */
static int parse_allowed(const char *entry, allowed_host *out)
{
    memset(out, 0, sizeof *out);
    if (strncmp(entry, "*.", 2) == 0) {
        out->subdomains = 1;
        entry += 2;
    }
    if (*entry == '\0' || strpbrk(entry, "/?#@ \t\r\n") != NULL)
        return -1;
    char url[600];
    int colons = 0;
    for (const char *c = entry; *c; c++)
        colons += *c == ':';
    /* a bare IPv6 address ("::1") gets its brackets */
    int n = colons > 1 && entry[0] != '[' ? snprintf(url, sizeof url, "http://[%s]/", entry)
                                          : snprintf(url, sizeof url, "http://%s/", entry);
    if (n < 0 || (size_t)n >= sizeof url)
        return -1;
    int zone;
    if (rc_url_host_port(url, 0, &out->host, &out->port, &zone) != 0 || zone) {
        free(out->host);
        free(out->port);
        return -1;
    }
    return 0;
}

static int host_allowed(const rc_sandbox *sb, const char *host, const char *port)
{
    size_t hl = strlen(host);
    for (size_t i = 0; i < sb->n_hosts; i++) {
        const allowed_host *a = &sb->hosts[i];
        if (a->port != NULL && (port == NULL || strcmp(a->port, port) != 0))
            continue;
        if (!a->subdomains && strcmp(a->host, host) == 0)
            return 1;
        size_t al = strlen(a->host);
        if (a->subdomains && hl > al + 1 && host[hl - al - 1] == '.' &&
            strcmp(host + hl - al, a->host) == 0)
            return 1;
    }
    return 0;
}

/* The proxy libcurl would take from the environment for url (its scheme's
 * variable, then ALL_PROXY), or NULL. (NO_PROXY only ever means no proxy.) */
static const char *env_proxy(const char *url)
{
    static const char *const https[] = { "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL };
    static const char *const http[] = { "http_proxy", "all_proxy", "ALL_PROXY", NULL };
    for (const char *const *v = strncmp(url, "https:", 6) == 0 ? https : http; *v != NULL; v++) {
        const char *p = getenv(*v);
        if (p != NULL && *p != '\0')
            return p;
    }
    return NULL;
}

/* Whether the proxy (as written in the environment) is an allowed host, at
 * the port libcurl would use (1080 when none is given, 443 for https://). */
static int proxy_allowed(const rc_sandbox *sb, const char *proxy)
{
    char url[600];
    int https = strncmp(proxy, "https://", 8) == 0;
    if (snprintf(url, sizeof url, "%s%s", strstr(proxy, "://") ? "" : "http://", proxy) >= (int)sizeof url)
        return 0;
    char *host, *port;
    int zone, ok = 0;
    if (rc_url_host_port(url, 0, &host, &port, &zone) != 0)
        return 0;
    ok = !zone && host_allowed(sb, host, port != NULL ? port : https ? "443" : "1080");
    free(host);
    free(port);
    return ok;
}

/* The request policy (rc_host.policy): called before a request is
 * submitted. Refusals become Lua errors in the script that asked. libcurl
 * would honour the environment's proxy variables (and an http:// proxy
 * would see the credentials): a sandbox uses a proxy only when it is an
 * allowed host itself, and otherwise connects directly. */
static int sandbox_policy(void *ud, rc_request *req, char *why, size_t whysz)
{
    rc_sandbox *sb = ud;
    char *host, *port;
    int zone;
    if (req->ca_file != NULL) {
        snprintf(why, whysz, "sandbox: ca_file is not allowed (scripts may not name local files)");
        return 0;
    }
    if (rc_url_host_port(req->url, 1, &host, &port, &zone) != 0) {
        snprintf(why, whysz, "sandbox: the request URL has no host that can be checked");
        return 0;
    }
    int ok = !zone && host_allowed(sb, host, port);
    /* A response body is held in C until its request ends, out of the
     * allocator's count: never more of it than the memory limit. */
    if (ok && sb->limits.max_memory > 0 && (req->max_bytes == 0 || req->max_bytes > sb->limits.max_memory))
        req->max_bytes = sb->limits.max_memory;
    if (ok) {
        const char *proxy = env_proxy(req->url);
        req->proxy = proxy != NULL && proxy_allowed(sb, proxy) ? proxy : "";
    } else {
        int v6 = strchr(host, ':') != NULL;
        snprintf(why, whysz, "sandbox: requests to %s%.100s%s:%s are not allowed%s",
                 v6 ? "[" : "", host, v6 ? "]" : "", port != NULL ? port : "?",
                 zone ? " (IPv6 zone ids are refused)" : " (the host is not in the sandbox's allow-list)");
    }
    free(host);
    free(port);
    return ok;
}

/* ------------------------------------------------------------------ what scripts see */

/* setmetatable for the whole state (runctl's own Lua code included): no
 * metatable with __gc, since finalizers run with hooks off, out of every limit. */
static int guarded_setmetatable(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)   /* raw, as the collector looks it up */
            return luaL_error(L, "sandbox: setmetatable: metatables with __gc are not allowed");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* getmetatable for scripts: tables only. The string metatable leads to the
 * real string library (which runctl's code calls on secrets, an API key
 * among them), and userdata metatables hold runctl's C finalizers. */
static int sandbox_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE || !lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return 1;
    /* A metatable registered by C (json.array's, say: luaL_newmetatable) is
     * shared by the whole state: hidden, like userdata metatables. */
    if (lua_getfield(L, -1, "__name") == LUA_TSTRING) {
        luaL_getmetatable(L, lua_tostring(L, -1));
        if (lua_rawequal(L, -1, -3)) {
            lua_pushnil(L);
            return 1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;                   /* the metatable */
}

/* rawset for scripts: not on a table whose metatable is protected (runctl's
 * clients and resource tables are read-only views shared by every run; a
 * raw field would shadow what they show). */
static int sandbox_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "sandbox: rawset: this table is read-only (its metatable is protected)");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* Wrappers for what scripts call, in Lua (they must yield like the
 * originals). Two rules keep every limit holding after a trip:
 * - Every function a run starts on a thread of its own (the script, a task,
 *   a coroutine) runs inside a pcall. An error raised by the limits' hook
 *   leaves hooks off on its thread until a pcall catches it; a thread that
 *   died without one would run its pending __close handlers unhooked when
 *   it is closed. The pcall turns hooks back on before closing them, then
 *   the error goes on as it was.
 * - xpcall's message handler runs once the stack has unwound, as ordinary
 *   hooked code (Lua runs a real handler inside the error machinery, where
 *   hooks may be off). Scripts have no debug library, so the handler sees
 *   the same error value either way. */
static const char WRAPPERS_LUA[] =
    "local pcall, error, type, spawn, create, wrap = ...\n"
    "local function rethrow(ok, ...)\n"
    "  if ok then return ... end\n"
    "  error((...), 0)\n"
    "end\n"
    "local function guarded(fn)\n"
    "  if type(fn) ~= 'function' then return fn end   -- the original explains\n"
    "  return function(...) return rethrow(pcall(fn, ...)) end\n"
    "end\n"
    "local function after(msgh, ok, ...)\n"
    "  if ok then return true, ... end\n"
    "  local _, v = pcall(msgh, (...))\n"
    "  return false, v\n"
    "end\n"
    "local function xpcall(f, msgh, ...)\n"
    "  if type(msgh) ~= 'function' then\n"
    "    error(\"bad argument #2 to 'xpcall' (function expected, got \" .. type(msgh) .. \")\", 2)\n"
    "  end\n"
    "  return after(msgh, pcall(f, ...))\n"
    "end\n"
    "return guarded, xpcall,\n"
    "  function(fn, ...) return spawn(guarded(fn), ...) end,\n"
    "  function(fn) return create(guarded(fn)) end,\n"
    "  function(fn) return wrap(guarded(fn)) end\n";

/* Sets env's xpcall, task.spawn, coroutine.create and coroutine.wrap to
 * the wrappers, and the registry's GUARD_KEY to guarded (for the script). */
static void set_wrappers(lua_State *L, int env)
{
    if (luaL_loadbufferx(L, WRAPPERS_LUA, sizeof WRAPPERS_LUA - 1, "=sandbox", "t") != LUA_OK)
        lua_error(L);
    lua_getglobal(L, "pcall");
    lua_getglobal(L, "error");
    lua_getglobal(L, "type");
    lua_getfield(L, env, "task");
    lua_getfield(L, -1, "spawn");
    lua_replace(L, -2);
    lua_getfield(L, env, "coroutine");
    lua_getfield(L, -1, "create");
    lua_getfield(L, -2, "wrap");
    lua_remove(L, -3);
    lua_call(L, 6, 5);
    lua_getfield(L, env, "coroutine");
    lua_insert(L, -2);
    lua_setfield(L, -2, "wrap");
    lua_insert(L, -2);
    lua_setfield(L, -2, "create");
    lua_pop(L, 1);
    lua_getfield(L, env, "task");
    lua_insert(L, -2);
    lua_setfield(L, -2, "spawn");
    lua_pop(L, 1);
    lua_setfield(L, env, "xpcall");
    lua_setfield(L, LUA_REGISTRYINDEX, GUARD_KEY);
}

/* load for scripts: text chunks only, and the run's globals unless the
 * script passes an environment of its own. */
static int sandbox_load(lua_State *L)
{
    int nargs = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_settop(L, 4);
    lua_pushvalue(L, lua_upvalueindex(1));  /* the standard load */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (nargs >= 4)
        lua_pushvalue(L, 4);
    else
        lua_getfield(L, LUA_REGISTRYINDEX, RUN_ENV_KEY);
    lua_call(L, 4, LUA_MULTRET);
    return lua_gettop(L) - 4;
}

/* collectgarbage for scripts: looking and collecting, not tuning or stopping. */
static int sandbox_collectgarbage(lua_State *L)
{
    static const char *const opts[] = { "collect", "step", "count", "isrunning", NULL };
    switch (luaL_checkoption(L, 1, "collect", opts)) {
    case 0:
        lua_gc(L, LUA_GCCOLLECT);
        lua_pushinteger(L, 0);
        break;
    case 1:
        lua_pushboolean(L, lua_gc(L, LUA_GCSTEP, (int)luaL_optinteger(L, 2, 0)));
        break;
    case 2:
        lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT) + (lua_Number)lua_gc(L, LUA_GCCOUNTB) / 1024);
        break;
    default:
        lua_pushboolean(L, lua_gc(L, LUA_GCISRUNNING));
        break;
    }
    return 1;
}

/* Pushes a copy of the table at idx: its fields, and its metatable when keep_meta. */
static void push_copy(lua_State *L, int idx, int keep_meta)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    if (keep_meta && lua_getmetatable(L, idx))
        lua_setmetatable(L, -2);
}

static int has_metatable(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_pop(L, 1);
    return 1;
}

/* Pushes a copy of the table at idx and, inside it, of every table without a
 * metatable (and of the runctl module at index module, whose metatable is
 * kept): seen (a table at index seen) maps originals to copies, so a table
 * reached twice is copied once. Tables with a metatable stay themselves. */
static void push_deep_copy(lua_State *L, int idx, int seen, int module)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 8, "copying the sandbox's globals");
    lua_pushvalue(L, idx);
    if (lua_rawget(L, seen) != LUA_TNIL)
        return;                         /* copied already */
    lua_pop(L, 1);
    lua_newtable(L);
    int copy = lua_gettop(L);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, copy);
    lua_rawset(L, seen);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {     /* key, value */
        if (lua_type(L, -1) == LUA_TTABLE && (lua_rawequal(L, -1, module) || !has_metatable(L, -1))) {
            push_deep_copy(L, -1, seen, module);
            lua_replace(L, -2);
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, copy);
    }
    if (lua_getmetatable(L, idx))
        lua_setmetatable(L, copy);
}

/* env[name] = a copy of the standard library table lib, fields limited to
 * only (NULL-terminated) when given. */
static void copy_library(lua_State *L, int env, const char *name, const char *const *only)
{
    lua_getglobal(L, name);
    if (only == NULL) {
        push_copy(L, -1, 0);
    } else {
        lua_newtable(L);
        for (; *only != NULL; only++) {
            lua_getfield(L, -2, *only);
            lua_setfield(L, -2, *only);
        }
    }
    lua_setfield(L, env, name);
    lua_pop(L, 1);
}

static void build_template(lua_State *L)
{
    static const char *const base[] = {
        "assert", "error", "ipairs", "next", "pairs", "pcall", "print", "select",
        "type", "tostring", "tonumber", "rawequal", "rawget", "rawlen",
        "setmetatable", "_VERSION", NULL
    };
    static const char *const os_part[] = { "clock", "date", "difftime", "time", NULL };
    static const char *const libs[] = { "coroutine", "string", "table", "math", "utf8", NULL };

    lua_newtable(L);
    int env = lua_gettop(L);
    for (const char *const *n = base; *n != NULL; n++) {
        lua_getglobal(L, *n);
        lua_setfield(L, env, *n);
    }
    lua_pushcfunction(L, sandbox_getmetatable);
    lua_setfield(L, env, "getmetatable");
    lua_getglobal(L, "load");
    lua_pushcclosure(L, sandbox_load, 1);
    lua_setfield(L, env, "load");
    lua_pushcfunction(L, sandbox_collectgarbage);
    lua_setfield(L, env, "collectgarbage");
    lua_pushcfunction(L, sandbox_rawset);
    lua_setfield(L, env, "rawset");
    for (const char *const *n = libs; *n != NULL; n++)
        copy_library(L, env, *n, NULL);
    lua_getfield(L, LUA_REGISTRYINDEX, STRING_KEY);   /* string: with checked matching */
    push_copy(L, -1, 0);
    lua_setfield(L, env, "string");
    lua_pop(L, 1);
    lua_getfield(L, env, "table");
    lua_getfield(L, -1, "move");
    lua_pushcclosure(L, checked_move, 1);
    lua_setfield(L, -2, "move");
    lua_pop(L, 1);
    copy_library(L, env, "os", os_part);

    /* The runctl API: the module and every global runctl_openlibs set from it.
     * Plain tables (http, json, task, log, runs ...) are copied, so a script
     * replacing task.spawn or json.decode changes its own view only; clients
     * (tables with a metatable, like openai) stay themselves, since their
     * credentials are keyed by the object. */
    lua_getglobal(L, "runctl");
    int mod = lua_gettop(L);
    push_copy(L, mod, 1);               /* keeps the metatable behind runctl.dry_run */
    int copy = lua_gettop(L);
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    lua_getfield(L, mod, "HOST_ONLY");  /* runctl.define and kinds: they change what every run sees */
    int host_only = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, mod) != 0) {     /* key, value */
        int skip = 0;
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, host_only)) {
            lua_pushvalue(L, -2);
            skip = lua_rawget(L, host_only) != LUA_TNIL;
            lua_pop(L, 1);
            if (skip) {                 /* out of the copy made above */
                lua_pushvalue(L, -2);
                lua_pushnil(L);
                lua_rawset(L, copy);
            }
        }
        if (!skip && lua_type(L, -2) == LUA_TSTRING) {
            lua_pushvalue(L, -2);
            lua_rawget(L, g);
            int global = lua_rawequal(L, -1, -2);
            lua_pop(L, 1);
            if (lua_type(L, -1) == LUA_TTABLE) {
                if (lua_getmetatable(L, -1)) {
                    lua_pop(L, 1);
                } else {
                    push_copy(L, -1, 0);
                    lua_replace(L, -2);
                }
            }
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
            lua_rawset(L, copy);
            if (global) {
                lua_pushvalue(L, -2);
                lua_pushvalue(L, -2);
                lua_rawset(L, env);
            }
        }
        lua_pop(L, 1);
    }
    lua_settop(L, copy);
    lua_setfield(L, env, "runctl");
    lua_pop(L, 1);                      /* the module */
    set_wrappers(L, env);
    lua_setfield(L, LUA_REGISTRYINDEX, ENV_KEY);
}

/* ------------------------------------------------------------------ creating */

static int setup_protected(lua_State *L)
{
    const runctl_options *given = lua_touserdata(L, 1);
    rc_sandbox *sb = lua_touserdata(L, 2);
    lua_settop(L, 0);
    /* The full library for runctl's own Lua half, which runs in the global
     * table; scripts never see it (they get fresh globals, built below). */
    luaL_openlibs(L);
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, guarded_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    /* string.dump stays out of reach even through ("").dump. */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    install_checked_matching(L);

    runctl_options opts;
    runctl_options_init(&opts);
    if (given != NULL)
        opts = *given;
    opts.no_globals = 0;                /* the template is built from the globals */
    opts.load_extensions = 0;           /* extensions are trusted code: never here */
    if (runctl_openlibs(L, &opts) != 0)
        return lua_error(L);
    build_template(L);

    rc_host *h = rc_host_get(L);
    h->policy = sandbox_policy;
    h->policy_ud = sb;
    h->limits_check = sandbox_limits_check;
    h->limits_ud = sb;
    h->no_blocking = "sandbox: this call cannot wait here (a plain coroutine or a metamethod "
                     "cannot yield, and blocking would stall the host): call it from a task";
    return 0;
}

static int sandbox_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "runctl: sandbox: unprotected error in a call to Lua: %s\n", msg ? msg : "?");
    return 0;                           /* then Lua aborts */
}

static void free_sandbox(rc_sandbox *sb)
{
    for (size_t i = 0; i < sb->n_hosts; i++) {
        free(sb->hosts[i].host);
        free(sb->hosts[i].port);
    }
    free(sb->hosts);
    free(sb);
}

void runctl_sandbox_limits_init(runctl_sandbox_limits *l)
{
    memset(l, 0, sizeof *l);
}

lua_State *runctl_sandbox_new(const runctl_sandbox_limits *limits,
                              const runctl_options *opts, char *err, size_t errsz)
{
    rc_sandbox *sb = calloc(1, sizeof *sb);
    if (sb == NULL) {
        snprintf(err, errsz, "sandbox: out of memory");
        return NULL;
    }
    if (limits != NULL)
        sb->limits = *limits;
    sb->limits.allow_hosts = NULL;      /* copied into hosts below */
    if (sb->limits.max_seconds < 0 || sb->limits.max_seconds != sb->limits.max_seconds) {
        snprintf(err, errsz, "sandbox: max_seconds must be a non-negative number");
        free_sandbox(sb);
        return NULL;
    }
    size_t n = 0;
    while (limits != NULL && limits->allow_hosts != NULL && limits->allow_hosts[n] != NULL)
        n++;
    if (n > 0 && (sb->hosts = calloc(n, sizeof *sb->hosts)) == NULL) {
        snprintf(err, errsz, "sandbox: out of memory");
        free_sandbox(sb);
        return NULL;
    }
    for (; sb->n_hosts < n; sb->n_hosts++) {
        if (parse_allowed(limits->allow_hosts[sb->n_hosts], &sb->hosts[sb->n_hosts]) != 0) {
            snprintf(err, errsz, "sandbox: allowed host \"%.200s\" is not a host, host:port, "
                     "[IPv6]:port or *.domain", limits->allow_hosts[sb->n_hosts]);
            free_sandbox(sb);
            return NULL;
        }
    }

    lua_State *L = lua_newstate(sandbox_alloc, sb);
    if (L == NULL) {
        snprintf(err, errsz, "sandbox: cannot create a Lua state (out of memory)");
        free_sandbox(sb);
        return NULL;
    }
    lua_atpanic(L, sandbox_panic);
    sb->main_thread = L;
    /* Before anything creates a thread: each thread inherits its creator's hook. */
    lua_sethook(L, limits_hook, HOOK_MASK, HOOK_STEP);
    lua_pushcfunction(L, setup_protected);
    lua_pushlightuserdata(L, (void *)opts);
    lua_pushlightuserdata(L, sb);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        snprintf(err, errsz, "sandbox: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "setup failed");
        runctl_sandbox_close(L);
        return NULL;
    }
    lua_gc(L, LUA_GCCOLLECT);
    if (sb->limits.max_memory > 0)
        sb->limit = sb->used + sb->limits.max_memory;
    return L;
}

void runctl_sandbox_close(lua_State *L)
{
    rc_sandbox *sb = sandbox_of(L);
    lua_close(L);                       /* frees through sb: free sb after */
    if (sb != NULL)
        free_sandbox(sb);
}

void runctl_sandbox_env(lua_State *L)
{
    if (sandbox_of(L) != NULL)
        lua_getfield(L, LUA_REGISTRYINDEX, ENV_KEY);
    else
        lua_pushnil(L);
}

/* For the entry points below: 0, or -1 with a message pushed when L is not a sandbox. */
static int not_a_sandbox(lua_State *L)
{
    if (sandbox_of(L) != NULL)
        return 0;
    lua_pushliteral(L, "runctl: this lua_State was not made by runctl_sandbox_new");
    return -1;
}

/* ------------------------------------------------------------------ running */

struct chunk {
    const char *code;
    size_t len;
    const char *name;
};

static int start_protected(lua_State *L)
{
    const struct chunk *c = lua_touserdata(L, 1);
    rc_sandbox *sb = sandbox_of(L);
    rc_host *h = rc_host_get(L);
    lua_settop(L, 0);
    if (sb->active) {                   /* ended, but nobody asked runctl_sandbox_status yet? */
        lua_getfield(L, LUA_REGISTRYINDEX, RUN_TASK_KEY);
        if (sb->trip == TRIP_NONE && rc_host_task_status(L, -1) != RC_TASK_ALIVE &&
            rc_host_tasks_alive(h) <= sb->inert_tasks)
            sb->active = 0;
        lua_pop(L, 1);
    }
    /* Leftovers that cannot wake anything do not hold the next run back:
     * timers or transfers no task waits for (a sleep abandoned by an error),
     * and tasks with nothing pending (waiting for each other, or resumed by
     * hand to their end outside the scheduler), which can never run again. */
    if (sb->active || (rc_host_tasks_alive(h) > 0 && rc_host_pending(h) > 0))
        return luaL_error(L, "sandbox: the previous script still has tasks running "
                             "(poll until runctl_sandbox_status says it ended, or close the sandbox)");
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, RESULT_KEY);
    rc_host_clear_unjoined(L);
    sb->trip = TRIP_NONE;
    sb->over = 0;
    sb->refused_in_run = 0;
    lua_gc(L, LUA_GCCOLLECT);

    /* Nothing a previous run did shows: the host's dry-run setting, and
     * fresh copies of the template and every plain table in it (libraries,
     * runctl's modules); clients are read-only and stay themselves. */
    h->dry_run = h->opts.dry_run != 0;
    lua_getfield(L, LUA_REGISTRYINDEX, ENV_KEY);
    lua_newtable(L);                    /* original -> copy, so shared tables stay shared */
    lua_getfield(L, -2, "runctl");
    push_deep_copy(L, -3, lua_gettop(L) - 1, lua_gettop(L));
    lua_replace(L, -3);
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RUN_ENV_KEY);
    int env = lua_gettop(L);

    if (luaL_loadbufferx(L, c->code, c->len, c->name, "t") != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, env);
    lua_setupvalue(L, -2, 1);           /* a main chunk's only upvalue is _ENV */
    lua_getfield(L, LUA_REGISTRYINDEX, GUARD_KEY);
    lua_insert(L, -2);
    lua_call(L, 1, 1);                  /* the script runs inside a pcall (see WRAPPERS_LUA) */

    lua_sethook(L, limits_hook, HOOK_MASK, HOOK_STEP);  /* the task inherits it */
    sb->inert_tasks = rc_host_tasks_alive(h);
    rc_host_spawn(L, h, 0);
    lua_setfield(L, LUA_REGISTRYINDEX, RUN_TASK_KEY);
    sb->instructions = 0;
    sb->deadline = now_s() + sb->limits.max_seconds;
    sb->active = 1;
    return 0;
}

int runctl_sandbox_start(lua_State *L, const char *code, size_t len, const char *chunkname)
{
    if (not_a_sandbox(L) != 0)
        return -1;
    struct chunk c = { code, len, chunkname != NULL ? chunkname : "=(sandbox)" };
    lua_pushcfunction(L, start_protected);
    lua_pushlightuserdata(L, &c);
    return lua_pcall(L, 1, 0, 0) == LUA_OK ? 0 : -1;
}

/* luaL_tolstring under protection: a script's __tostring may fail or loop. */
static int tostring_protected(lua_State *L)
{
    luaL_tolstring(L, 1, NULL);
    return 1;
}

/* Ends the run: records why it failed (the string at the top) or that it did not. */
static int end_run(lua_State *L, rc_sandbox *sb, int failed)
{
    sb->active = 0;
    if (!failed)
        return 0;
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RESULT_KEY);
    return -1;
}

static int cancel_all_protected(lua_State *L)
{
    rc_host_cancel_all(L, lua_touserdata(L, 1));
    return 0;
}

/* Ends every task left of a run a limit stopped, and the requests and sleeps
 * they wait for (their __close handlers raise at once: the limit holds), so
 * its memory comes back and the next run can start. */
static void end_tasks(lua_State *L, rc_host *h)
{
    rc_sandbox *sb = sandbox_of(L);
    sb->ending = 1;                     /* ending a task allocates a little; it frees much more */
    lua_pushcfunction(L, cancel_all_protected);
    lua_pushlightuserdata(L, h);
    int rc = lua_pcall(L, 1, 0, 0);
    sb->ending = 0;
    if (rc != LUA_OK)
        lua_pop(L, 1);                  /* a task left is ended as it resumes */
    lua_gc(L, LUA_GCCOLLECT);
}

static int status_protected(lua_State *L)
{
    rc_sandbox *sb = sandbox_of(L);
    rc_host *h = rc_host_get(L);
    char msg[96];
    lua_settop(L, 0);
    if (!sb->active) {
        lua_getfield(L, LUA_REGISTRYINDEX, RESULT_KEY);
        lua_pushinteger(L, lua_isnil(L, -1) ? 0 : -1);
        return 2;
    }
    check_memory(L, sb);
    lua_getfield(L, LUA_REGISTRYINDEX, RUN_TASK_KEY);
    enum rc_task_status outcome = rc_host_task_status(L, 1);
    /* The run goes on while any of its tasks does (the main one, or those it
     * spawned); timers and transfers no task waits for do not hold it. */
    int running = outcome == RC_TASK_ALIVE || rc_host_tasks_alive(h) > sb->inert_tasks;
    if (sb->trip == TRIP_NONE && running && sb->limits.max_seconds > 0 && now_s() > sb->deadline)
        sb->trip = TRIP_TIME;           /* waiting (a sleep, a slow request) counts too */
    if (sb->trip == TRIP_NONE && running) {
        if (rc_host_pending(h) > 0) {
            lua_pushnil(L);
            lua_pushinteger(L, 1);
            return 2;
        }
        lua_pushliteral(L, "sandbox: the script's tasks wait for each other and can never finish");
        lua_pushinteger(L, end_run(L, sb, 1));
        return 2;
    }
    if (sb->trip == TRIP_NONE && outcome == RC_TASK_OK) {
        lua_pushnil(L);
        lua_pushinteger(L, end_run(L, sb, 0));
        return 2;
    }
    if (sb->trip == TRIP_NONE) {
        rc_task_push_outcome(L, 1);     /* false, err */
        /* Still active while the error's own __tostring runs: it is script code. */
        lua_pushcfunction(L, tostring_protected);
        lua_insert(L, -2);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_pushliteral(L, "(the script's error object could not be turned into text)");
        }
        if (sb->trip == TRIP_NONE && sb->refused_in_run &&
            strcmp(lua_tostring(L, -1), "not enough memory") == 0)
            sb->trip = TRIP_MEMORY;
    }
    if (sb->trip != TRIP_NONE) {
        end_tasks(L, h);
        lua_pushstring(L, trip_text(sb, msg, sizeof msg));
    }
    lua_pushinteger(L, end_run(L, sb, 1));
    return 2;
}

int runctl_sandbox_status(lua_State *L)
{
    if (not_a_sandbox(L) != 0)
        return -1;
    lua_pushcfunction(L, status_protected);
    if (lua_pcall(L, 0, 2, 0) != LUA_OK)
        return -1;                      /* the error message stays pushed */
    int st = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (st != -1)
        lua_pop(L, 1);                  /* nil: nothing to report */
    return st;
}

/* After runctl_poll failed during a run: the run's status when that tells
 * why (a memory error in the scheduler is the memory limit), else -1. */
static int poll_failed(lua_State *L)
{
    int st = runctl_sandbox_status(L);
    if (st != 1)
        return st;
    lua_pushliteral(L, "sandbox: runctl_poll failed (see stderr)");
    return -1;
}

int runctl_sandbox_run(lua_State *L, const char *code, size_t len, const char *chunkname)
{
    rc_sandbox *sb = sandbox_of(L);
    if (sb == NULL)
        return not_a_sandbox(L);
    if (runctl_sandbox_start(L, code, len, chunkname) != 0)
        return -1;
    for (;;) {
        int st = runctl_sandbox_status(L);
        if (st != 1)
            return st;
        /* Run what is ready first: if that ends the run, a wait now could
         * be for a timer no task needs any more (a sleep abandoned by an error). */
        if (runctl_poll(L, 0) < 0)
            return poll_failed(L);
        if ((st = runctl_sandbox_status(L)) != 1)
            return st;
        int wait_ms = -1;
        if (sb->limits.max_seconds > 0) {
            double left = sb->deadline - now_s();
            wait_ms = left <= 0 ? 0 : left > 3600 ? 3600 * 1000 : (int)(left * 1000) + 1;
        }
        if (runctl_poll(L, wait_ms) < 0)
            return poll_failed(L);
    }
}
