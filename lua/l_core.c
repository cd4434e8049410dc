/* lua/l_core.c — the runctl.core module: the primitives the Lua half of the
 * API is built on (escape IDs, limiters, random tokens, clocks, host
 * settings, signals, the terminal, the loop's bookkeeping) and its function
 * table. Requests live in l_request.c, header lines in headers.c, senders in
 * l_sender.c. */
#include "l_core_int.h"
#include "../core/text.h"
#include "../core/url.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int l_escape_id(lua_State *L)
{
    const char *what = luaL_optstring(L, 2, "id");
    int level = (int)luaL_optinteger(L, 3, 2);  /* 2: the caller of the binding */
    size_t len;
    const char *id = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : NULL;
    rc_id_status st = id != NULL ? rc_url_check_id(id, len) : RC_ID_OK;
    if (id == NULL || st != RC_ID_OK) {
        luaL_where(L, level);
        if (id == NULL)
            lua_pushfstring(L, "%s must be a string (got %s)", what, luaL_typename(L, 1));
        else
            lua_pushfstring(L, "%s %s", what, rc_url_id_problem(st));
        lua_concat(L, 2);
        return lua_error(L);
    }
    char small[256 * 3 + 1];
    if (len <= 256) {               /* the usual ID: escaped on the C stack */
        size_t n = rc_url_escape_segment(id, len, small);
        if (n == len)
            lua_settop(L, 1);       /* nothing needed escaping: the ID itself */
        else
            lua_pushlstring(L, small, n);
        return 1;
    }
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, 3 * len + 1);
    luaL_pushresultsize(&b, rc_url_escape_segment(id, len, out));
    return 1;
}

static int l_escape_query(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, 3 * len + 1);
    luaL_pushresultsize(&b, rc_url_escape_query(s, len, out));
    return 1;
}

static int l_redact_url(lua_State *L)
{
    char out[1024];
    rc_url_redact(luaL_checkstring(L, 1), out, sizeof out);
    lua_pushstring(L, out);
    return 1;
}

static int l_limiter(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer max = luaL_optinteger(L, 1, 0);
    lua_Number rate = luaL_optnumber(L, 2, 0);
    rc_limiter_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->host = h;
    box->limiter = NULL;
    luaL_setmetatable(L, LIMITER_META);
    box->limiter = rc_limiter_new(h->engine, (int)max, rate);
    if (box->limiter == NULL)
        return luaL_error(L, "out of memory");
    return 1;
}

static int limiter_gc(lua_State *L)
{
    rc_limiter_box *box = luaL_checkudata(L, 1, LIMITER_META);
    if (box->limiter != NULL && box->host->engine != NULL)
        rc_limiter_release(box->limiter);
    box->limiter = NULL;
    return 0;
}

/* core.token([prefix]) -> prefix .. a unique token (see rc_write_token). */
static int l_token(lua_State *L)
{
    char token[160];
    lua_pushstring(L, rc_write_token(token, sizeof token, luaL_optstring(L, 1, "")));
    return 1;
}

static int l_random(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushnumber(L, rc_random(h->engine));
    return 1;
}

/* core.now() -> monotonic seconds (deadlines, elapsed times); core.unix_time()
 * -> wall time in seconds since the epoch. The two never share a name. */
static int l_now(lua_State *L)
{
    lua_pushnumber(L, rc_now());
    return 1;
}

static int l_unix_time(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    return 1;
}

static void set_string(lua_State *L, const char *field, const char *value)
{
    if (value != NULL) {
        lua_pushstring(L, value);
        lua_setfield(L, -2, field);
    }
}

/* core.settings() -> the command-line/embedding settings (unset ones absent). */
static int l_settings(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    lua_createtable(L, 0, 6);
    set_string(L, "base_url", h->opts.base_url);
    set_string(L, "organization", h->opts.organization);
    set_string(L, "project", h->opts.project);
    if (h->opts.max_retries >= 0) {
        lua_pushinteger(L, h->opts.max_retries);
        lua_setfield(L, -2, "max_retries");
    }
    if (h->opts.timeout > 0) {
        lua_pushnumber(L, h->opts.timeout);
        lua_setfield(L, -2, "timeout");
    }
    if (h->opts.azure) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "azure");
    }
    return 1;
}

/* core.dry_run([on]) -> whether dry-run is on. Once on, it stays on. */
static int l_dry_run(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    if (!lua_isnoneornil(L, 1)) {
        int on = lua_toboolean(L, 1);
        if (!on && h->dry_run)
            return luaL_error(L, "runctl.dry_run cannot be switched off once it is on");
        h->dry_run = on;
    }
    lua_pushboolean(L, h->dry_run);
    return 1;
}

/* core.log_level([level]) -> -1 quiet, 0 default, 1 info, 2 debug. */
static int l_log_level(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    if (!lua_isnoneornil(L, 1)) {
        h->log_level = (int)luaL_checkinteger(L, 1);
        rc_engine_set_log(h->engine, h->log_level, h->log_level > 0 ? rc_host_log_line : NULL, NULL);
    }
    lua_pushinteger(L, h->log_level);
    return 1;
}

/* core.interrupted([mode]) -> whether Ctrl-C was pressed. Calling it once tells
 * the command that this script stops gracefully: the first Ctrl-C then only
 * sets the flag (in-flight requests finish), the second one ends the process.
 * With mode "quiet" Ctrl-C is the script's normal way out (watch): no note. */
static int l_interrupted(lua_State *L)
{
    const char *mode = luaL_optstring(L, 1, "");
    if (strcmp(mode, "quiet") == 0)
        rc_sigint_watched = 2;
    else if (rc_sigint_watched == 0)
        rc_sigint_watched = 1;
    lua_pushboolean(L, rc_sigint_count > 0);
    return 1;
}

/* SIGHUP and SIGTERM, counted for a script that asked (core.signals). */
static volatile sig_atomic_t sighup_count, sigterm_count;

static void count_signal(int sig)
{
    if (sig == SIGHUP)
        sighup_count++;
    else
        sigterm_count++;
}

/* core.signals() -> hups, terms: how many SIGHUPs and SIGTERMs arrived. The
 * first call installs the handlers (a service's reload and stop requests);
 * until then both signals keep their default action. No SA_RESTART, as for
 * SIGINT: a poll in progress returns at once. */
static int l_signals(lua_State *L)
{
    static int installed;
    if (!installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = count_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGHUP, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        installed = 1;
    }
    lua_pushinteger(L, sighup_count);
    lua_pushinteger(L, sigterm_count);
    return 2;
}

/* core.term_size(fd) -> columns, rows (or nil) of the terminal on fd, or nothing. */
static int l_term_size(lua_State *L)
{
    struct winsize ws;
    if (ioctl((int)luaL_checkinteger(L, 1), TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
        return 0;
    lua_pushinteger(L, ws.ws_col);
    if (ws.ws_row == 0)
        lua_pushnil(L);                 /* a pseudo-terminal whose height nobody set */
    else
        lua_pushinteger(L, ws.ws_row);
    return 2;
}

/* core.isatty(fd) -> whether file descriptor fd (0, 1, 2) is a terminal. */
static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

/* core.pending() -> transfers and timers in the engine, tasks ready to run,
 * tasks alive (for tests and soak checks: nothing left behind). */
static int l_pending(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    int in_engine = rc_engine_pending(h->engine);
    lua_pushinteger(L, in_engine);
    lua_pushinteger(L, rc_host_pending(h) - in_engine);
    lua_pushinteger(L, rc_host_tasks_alive(h));
    return 3;
}

/* core.frame_budget([ms]) -> the budget of runctl_poll(L, >= 0) in ms (0:
 * none). ms > 0 sets it; 0 or false switches it off. */
static int l_frame_budget(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    lua_Number before = rc_host_budget(h) * 1000.0;
    if (lua_isboolean(L, 1) && !lua_toboolean(L, 1)) {
        rc_host_set_budget(h, 0);
    } else if (!lua_isnoneornil(L, 1)) {
        lua_Number ms = luaL_checknumber(L, 1);
        if (!(ms >= 0) || isinf(ms))
            return luaL_argerror(L, 1, "must be a finite, non-negative number of milliseconds (0: no budget)");
        rc_host_set_budget(h, ms / 1000.0);
    }
    lua_pushnumber(L, before);
    return 1;
}

/* core.stats() -> the scheduler's bookkeeping (runctl_get_stats) as a table. */
static int l_stats(lua_State *L)
{
    runctl_stats st;
    rc_host_stats(lua_touserdata(L, lua_upvalueindex(1)), &st);
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, (lua_Integer)st.polls);
    lua_setfield(L, -2, "polls");
    lua_pushinteger(L, (lua_Integer)st.resumed);
    lua_setfield(L, -2, "resumed");
    lua_pushinteger(L, (lua_Integer)st.budget_stops);
    lua_setfield(L, -2, "budget_stops");
    lua_pushinteger(L, (lua_Integer)st.max_resumed);
    lua_setfield(L, -2, "max_resumed");
    lua_pushinteger(L, st.ready);
    lua_setfield(L, -2, "ready");
    lua_pushinteger(L, st.tasks);
    lua_setfield(L, -2, "tasks");
    lua_pushinteger(L, st.in_engine);
    lua_setfield(L, -2, "in_engine");
    lua_pushinteger(L, (lua_Integer)st.io_stops);
    lua_setfield(L, -2, "io_stops");
    return 1;
}

/* core.printable(v [, multiline]) -> v as text with every control and each
 * byte of invalid UTF-8 shown escaped (core/text.h): outside text on its way
 * to a terminal or a log line. The text itself when nothing needs escaping. */
static int l_printable(lua_State *L)
{
    size_t n;
    int flags = lua_toboolean(L, 2) ? RC_TEXT_MULTILINE : 0;
    lua_settop(L, 1);
    const char *s = luaL_tolstring(L, 1, &n);          /* pushes the text */
    if (rc_text_is_clean(s, n, flags))
        return 1;
    size_t need = rc_text_sanitize(s, n, flags, NULL, 0);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, need + 1);
    rc_text_sanitize(s, n, flags, out, need + 1);
    luaL_pushresultsize(&b, need);
    return 1;
}

static const luaL_Reg core_funcs[] = {
    { "printable", l_printable },
    { "pending", l_pending },
    { "frame_budget", l_frame_budget },
    { "stats", l_stats },
    { "interrupted", l_interrupted },
    { "signals", l_signals },
    { "isatty", l_isatty },
    { "term_size", l_term_size },
    { "send", rc_l_send },
    { "escape_id", l_escape_id },
    { "escape_query", l_escape_query },
    { "redact_url", l_redact_url },
    { "limiter", l_limiter },
    { "rate_limit", rc_l_rate_limit },
    { "sender", rc_l_sender },
    { "request", rc_l_request },
    { "token", l_token },
    { "random", l_random },
    { "now", l_now },
    { "unix_time", l_unix_time },
    { "settings", l_settings },
    { "dry_run", l_dry_run },
    { "log_level", l_log_level },
    { NULL, NULL }
};

/* Ctrl-C as a script that watches for it sees it (runctl.interrupted()):
 * requests waiting for the server's rate limit are not sent then. */
static int sigint_watched_and_seen(void)
{
    return rc_sigint_count > 0 && rc_sigint_watched;
}

int luaopen_runctl_core(lua_State *L)
{
    rc_host *h = rc_host_get(L);
    if (h->engine != NULL)
        rc_engine_set_interrupt(h->engine, sigint_watched_and_seen);
    if (luaL_newmetatable(L, REQUEST_META)) {
        lua_pushcfunction(L, rc_request_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newmetatable(L, HEADER_BLOCK_META);
    lua_pop(L, 1);
    if (luaL_newmetatable(L, LIMITER_META)) {
        lua_pushcfunction(L, limiter_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, SENDER_META)) {
        lua_pushcfunction(L, rc_sender_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlibtable(L, core_funcs);
    lua_pushlightuserdata(L, h);
    luaL_setfuncs(L, core_funcs, 1);
    lua_pushliteral(L, RUNCTL_VERSION);
    lua_setfield(L, -2, "VERSION");
    lua_pushnumber(L, RC_DEFAULT_MAX_RETRY_DELAY_S);
    lua_setfield(L, -2, "DEFAULT_MAX_RETRY_DELAY");
    return 1;
}
