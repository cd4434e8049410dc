/* lua/l_sender.c — senders: a client's credentials, headers and settings,
 * kept in C memory, and the core.request and core.send bindings. */
#include "l_core_int.h"
#include "../core/ratelimit.h"
#include "../core/url.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- senders: a client's credentials, headers and settings, kept in C ----
 *
 * The credential line lives only in C memory: no function returns it, so no
 * script can read the API key, whatever it does with the client it holds. */

#define MAX_BETAS 8

/* A shared set of header lines (sources 1-3) for one beta value (NULL:
 * none), and whether it names the headers the finishing lines depend on. */
typedef struct shared_lines {
    char *beta;
    rc_header_set *set;
    int has_content_type, has_idempotency;
} shared_lines;

typedef struct rc_sender {
    rc_host *host;
    char *credential;           /* NULL: no key */
    size_t key_at;              /* where the key itself starts in credential */
    char **client;              /* the client's lines (source 2) */
    size_t n_client;
    shared_lines sets[MAX_BETAS];
    size_t n_sets;
    rc_limiter *limiter;        /* its userdata is user value 1: kept alive */
    double timeout_s, connect_timeout_s, max_retry_delay_s, max_rate_limit_wait_s;
    size_t max_bytes;
    int max_retries;
    char *ca_file;
} rc_sender;

static void free_secret(char *s)
{
    if (s == NULL)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = '\0';
    free(s);
}

int rc_sender_gc(lua_State *L)
{
    rc_sender *s = luaL_checkudata(L, 1, SENDER_META);
    int engine = s->host->engine != NULL;
    for (size_t i = 0; i < s->n_sets; i++) {
        if (engine)
            rc_header_set_release(s->sets[i].set);
        free(s->sets[i].beta);
    }
    s->n_sets = 0;
    for (size_t i = 0; i < s->n_client; i++)
        free(s->client[i]);
    free(s->client);
    s->client = NULL;
    s->n_client = 0;
    free_secret(s->credential);
    s->credential = NULL;
    free(s->ca_file);
    s->ca_file = NULL;
    return 0;
}

/* The shared set of s for a beta value (NULL: none), built on first use;
 * NULL when s holds MAX_BETAS sets already (the request then sends all its
 * lines itself). Raises on a bad line. */
static const shared_lines *shared_set(lua_State *L, rc_sender *s, const char *beta)
{
    for (size_t i = 0; i < s->n_sets; i++)
        if (beta == NULL ? s->sets[i].beta == NULL : s->sets[i].beta != NULL && strcmp(beta, s->sets[i].beta) == 0)
            return &s->sets[i];
    if (s->n_sets == MAX_BETAS)
        return NULL;
    header_sources src = { s->credential, (const char *const *)s->client, s->n_client, beta,
                           NULL, 0, 1, "GET", 0, NULL };
    header_lines h;
    char why[160];
    if (rc_build_headers(&src, HEADERS_SHARED, &h, why, sizeof why) != 0)
        luaL_error(L, "%s", why);
    char *copy = beta != NULL ? strdup(beta) : NULL;
    rc_header_set *set = beta == NULL || copy != NULL ? rc_header_set_new(h.line, h.n, why, sizeof why) : NULL;
    if (set == NULL) {
        free(copy);
        luaL_error(L, "%s", beta != NULL && copy == NULL ? "out of memory" : why);
    }
    shared_lines *sl = &s->sets[s->n_sets++];
    sl->beta = copy;
    sl->set = set;
    sl->has_content_type = rc_has_name(&h, "Content-Type");
    sl->has_idempotency = rc_has_name(&h, "Idempotency-Key");
    return sl;
}

/* The per-call settings core.request reads from opts. */
static const char *const CALL_OPTS[] = { "timeout", "connect_timeout", "max_bytes", "max_retries",
                                         "max_retry_delay", "final_cannot_cancel", "idempotency_key", NULL };

/* Applies opts' value for key (at the top of the stack) to req; a string
 * idempotency_key goes to *idempotency_key (kept alive by opts). */
static void apply_call_opt(lua_State *L, const char *key, rc_request *req, const char **idempotency_key)
{
    if (strcmp(key, "timeout") == 0)
        req->timeout_s = rc_number_at_top(L, key, req->timeout_s);
    else if (strcmp(key, "connect_timeout") == 0)
        req->connect_timeout_s = rc_number_at_top(L, key, req->connect_timeout_s);
    else if (strcmp(key, "max_bytes") == 0)
        req->max_bytes = (size_t)rc_number_at_top(L, key, (double)req->max_bytes);
    else if (strcmp(key, "max_retries") == 0)
        req->max_retries = (int)rc_number_at_top(L, key, req->max_retries);
    else if (strcmp(key, "max_retry_delay") == 0)
        req->max_retry_delay_s = rc_number_at_top(L, key, req->max_retry_delay_s);
    else if (strcmp(key, "final_cannot_cancel") == 0)     /* set by the cancel bindings only */
        req->final_cannot_cancel = lua_toboolean(L, -1);
    else if (strcmp(key, "idempotency_key") == 0 && lua_type(L, -1) == LUA_TSTRING)
        *idempotency_key = lua_tostring(L, -1);
}

/* Reads a request's per-call settings from opts (a table, or nil) over
 * req's. A plain table is walked (a cancel's holds one field: cheaper than
 * asking for each setting); one with a metatable is asked for each, so
 * that __index is honoured. */
static void read_call_opts(lua_State *L, int opts, rc_request *req, const char **idempotency_key)
{
    if (!lua_istable(L, opts))
        return;
    if (lua_getmetatable(L, opts)) {
        lua_pop(L, 1);
        for (int i = 0; CALL_OPTS[i] != NULL; i++) {
            lua_getfield(L, opts, CALL_OPTS[i]);
            apply_call_opt(L, CALL_OPTS[i], req, idempotency_key);
            lua_pop(L, 1);
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, opts)) {
        if (lua_type(L, -2) == LUA_TSTRING)
            apply_call_opt(L, lua_tostring(L, -2), req, idempotency_key);
        lua_pop(L, 1);
    }
}

/* Writes prefix and a unique token into out: 16 random hex digits drawn once
 * per process, then a counter (no system call per request). */
const char *rc_write_token(char *out, size_t n, const char *prefix)
{
    static char random_part[17];
    static unsigned long long counter;
    static const char hex[] = "0123456789abcdef";
    if (random_part[0] == '\0')
        rc_random_hex(random_part, 8);
    /* By hand, not snprintf: one per API request (callgrind: half the cost). */
    size_t len = strnlen(prefix, 100);
    if (n < 27) {                   /* too small for any token */
        if (n > 0)
            out[0] = '\0';
        return out;
    }
    if (n < len + 27)
        len = n - 27;
    memcpy(out, prefix, len);
    memcpy(out + len, random_part, 16);
    unsigned long long count = ++counter;
    for (int i = 9; i >= 0; i--, count >>= 4)
        out[len + 16 + i] = hex[count & 15];
    out[len + 26] = '\0';
    return out;
}

/* core.request(sender, method, url, body, beta, lines, opts) -> raw [, obj] | nil, failure
 * (obj: a 2xx answer's JSON object, decoded; raw then has no body). lines: nil or the call's own header lines (source 4); opts may override
 * timeout, connect_timeout, max_retries, max_retry_delay, max_bytes and give
 * idempotency_key; opts.final_cannot_cancel marks a cancel (see rc_request). */
int rc_l_request(lua_State *L)
{
    rc_sender *s = luaL_checkudata(L, 1, SENDER_META);
    lua_settop(L, 7);
    rc_request req;
    memset(&req, 0, sizeof req);
    req.method = luaL_checkstring(L, 2);
    req.url = luaL_checkstring(L, 3);
    size_t body_len = 0;
    if (!lua_isnil(L, 4))
        req.body = luaL_checklstring(L, 4, &body_len);
    req.body_len = body_len;
    req.timeout_s = s->timeout_s;
    req.connect_timeout_s = s->connect_timeout_s;
    req.max_bytes = s->max_bytes;
    req.max_retries = s->max_retries;
    req.max_retry_delay_s = s->max_retry_delay_s;
    req.ca_file = s->ca_file;
    req.limiter = s->limiter;
    req.max_rate_limit_wait_s = s->max_rate_limit_wait_s;
    req.secret = s->credential != NULL ? s->credential + s->key_at : NULL;   /* masked in answers */
    const char *idempotency_key = NULL;
    read_call_opts(L, 7, &req, &idempotency_key);

    const char *call[MAX_HEADERS];
    char token[160];
    header_sources src = { s->credential, (const char *const *)s->client, s->n_client,
                           luaL_optstring(L, 5, NULL), call, rc_read_lines(L, 6, call), 1,
                           req.method, req.body != NULL, NULL };
    if (strcmp(req.method, "GET") != 0)
        src.idempotency_key = idempotency_key != NULL ? idempotency_key
                                                      : rc_write_token(token, sizeof token, "runctl-");
    /* Without call lines, the client's lines are a shared set built once:
     * the request adds only its finishing lines. */
    const shared_lines *shared = src.n_call == 0 ? shared_set(L, s, src.beta) : NULL;
    header_lines h;
    char why[160];
    int failed;
    if (shared != NULL) {
        req.shared_headers = shared->set;
        h.n = 0;
        failed = rc_add_finishing_lines(&src, shared->has_content_type, shared->has_idempotency,
                                     &h, why, sizeof why);
    } else {
        failed = rc_build_headers(&src, HEADERS_ALL, &h, why, sizeof why);
    }
    if (failed != 0)
        return luaL_error(L, "%s", why);
    req.headers = h.line;
    req.n_headers = h.n;
    return rc_submit_and_wait(L, s->host, &req, 1);
}

/* Copies the array of header lines at idx into C memory (*out, *n). */
static void copy_lines(lua_State *L, int idx, char ***out, size_t *n)
{
    const char *lines[MAX_HEADERS];
    size_t count = rc_read_lines(L, idx, lines);
    *out = calloc(count + 1, sizeof **out);
    if (*out == NULL)
        luaL_error(L, "out of memory");
    for (*n = 0; *n < count; (*n)++)
        if (((*out)[*n] = strdup(lines[*n])) == NULL)
            luaL_error(L, "out of memory");
}

/* core.sender{ api_key, auth = "bearer"|"api-key", headers = {lines}, limiter,
 * timeout, connect_timeout, max_retries, max_retry_delay, max_bytes, ca_file,
 * base_url, max_rate_limit_wait } -> a sender for core.request. The key goes
 * into C memory and is never handed back. With a key, a limiter and a
 * base_url, the limiter is put under the pace of that key at that URL,
 * shared with every other client of the same pair (rc_engine_pace). */
int rc_l_sender(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    rc_sender *s = lua_newuserdatauv(L, sizeof *s, 1);
    memset(s, 0, sizeof *s);
    s->host = h;
    luaL_setmetatable(L, SENDER_META);
    int si = lua_gettop(L);
    s->timeout_s = rc_opt_number(L, 1, "timeout", 0);
    s->connect_timeout_s = rc_opt_number(L, 1, "connect_timeout", 0);
    s->max_bytes = (size_t)rc_opt_number(L, 1, "max_bytes", 0);
    s->max_retries = (int)rc_opt_number(L, 1, "max_retries", 0);
    s->max_retry_delay_s = rc_opt_number(L, 1, "max_retry_delay", RC_DEFAULT_MAX_RETRY_DELAY_S);
    const char *ca = rc_opt_string(L, 1, "ca_file");
    if (ca != NULL && (s->ca_file = strdup(ca)) == NULL)
        return luaL_error(L, "out of memory");
    if (lua_getfield(L, 1, "limiter") != LUA_TNIL) {
        s->limiter = ((rc_limiter_box *)luaL_checkudata(L, -1, LIMITER_META))->limiter;
        lua_setiuservalue(L, si, 1);
    } else {
        lua_pop(L, 1);
    }
    lua_getfield(L, 1, "headers");
    copy_lines(L, -1, &s->client, &s->n_client);
    lua_pop(L, 1);
    const char *key = rc_opt_string(L, 1, "api_key");
    const char *auth = rc_opt_string(L, 1, "auth");
    if (key != NULL) {
        int api_key = auth != NULL && strcmp(auth, "api-key") == 0;
        size_t n = strlen(key) + 32;
        if ((s->credential = malloc(n)) == NULL)
            return luaL_error(L, "out of memory");
        const char *prefix = api_key ? "api-key: " : "Authorization: Bearer ";
        snprintf(s->credential, n, "%s%s", prefix, key);
        s->key_at = strlen(prefix);
    }
    s->max_rate_limit_wait_s = rc_opt_number(L, 1, "max_rate_limit_wait", 0);
    const char *base_url = rc_opt_string(L, 1, "base_url");
    if (s->limiter != NULL && s->credential != NULL && base_url != NULL) {
        rc_pace *pace = rc_engine_pace(h->engine, s->credential, base_url);
        if (pace == NULL)
            return luaL_error(L, "out of memory");
        rc_limiter_set_pace(s->limiter, pace);
        rc_pace_release(pace);
    }
    return 1;
}

/* core.rate_limit(sender) -> { pace, source, limit, remaining, reset,
 * tokens = {limit, remaining, reset} | nil, paused_until, rate_limited,
 * no_quota, pacing } | nil (a sender without a pace). paused_until is on
 * core.now()'s clock; absent fields: the server did not say. */
int rc_l_rate_limit(lua_State *L)
{
    rc_sender *s = luaL_checkudata(L, 1, SENDER_META);
    rc_pace *pace = s->limiter != NULL ? rc_limiter_pace(s->limiter) : NULL;
    if (pace == NULL)
        return 0;
    double now = rc_now();
    rc_pace_state st;
    rc_pace_get_state(pace, now, &st);
    lua_createtable(L, 0, 12);
    lua_pushnumber(L, st.pace);
    lua_setfield(L, -2, "pace");
    lua_pushstring(L, st.pace == 0 ? "none" : st.from_headers ? "headers" : "adaptive");
    lua_setfield(L, -2, "source");
    if (st.requests.valid) {
        lua_pushnumber(L, st.requests.limit);
        lua_setfield(L, -2, "limit");
        lua_pushnumber(L, st.requests.remaining);
        lua_setfield(L, -2, "remaining");
        lua_pushnumber(L, st.requests.reset_s);
        lua_setfield(L, -2, "reset");
    }
    if (st.tokens.valid) {
        lua_createtable(L, 0, 3);
        lua_pushnumber(L, st.tokens.limit);
        lua_setfield(L, -2, "limit");
        lua_pushnumber(L, st.tokens.remaining);
        lua_setfield(L, -2, "remaining");
        lua_pushnumber(L, st.tokens.reset_s);
        lua_setfield(L, -2, "reset");
        lua_setfield(L, -2, "tokens");
    }
    lua_pushnumber(L, now + st.paused_for);
    lua_setfield(L, -2, "paused_until");
    lua_pushinteger(L, (lua_Integer)st.limited);
    lua_setfield(L, -2, "rate_limited");
    lua_pushboolean(L, st.no_quota);
    lua_setfield(L, -2, "no_quota");
    lua_pushboolean(L, st.holding);
    lua_setfield(L, -2, "pacing");
    return 1;
}


/* core.send(spec) -> raw | nil, failure (http.request: spec.headers are the
 * only source of header lines). Yields the calling task until the transfer
 * (with its retries) is done; blocks when it cannot yield. */
int rc_l_send(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    rc_request req;
    memset(&req, 0, sizeof req);
    req.method = rc_opt_string(L, 1, "method");
    req.url = rc_opt_string(L, 1, "url");
    if (req.method == NULL || req.url == NULL)
        return luaL_error(L, "core.send: method and url are required");

    size_t body_len = 0;
    if (lua_getfield(L, 1, "body") == LUA_TSTRING)
        req.body = lua_tolstring(L, -1, &body_len);
    else if (!lua_isnil(L, -1))
        return luaL_error(L, "body must be a string (got %s)", luaL_typename(L, -1));
    req.body_len = body_len;
    lua_pop(L, 1);
    req.timeout_s = rc_opt_number(L, 1, "timeout", 0);
    req.connect_timeout_s = rc_opt_number(L, 1, "connect_timeout", 0);
    req.max_bytes = (size_t)rc_opt_number(L, 1, "max_bytes", 0);
    req.max_retries = (int)rc_opt_number(L, 1, "max_retries", 0);
    req.max_retry_delay_s = rc_opt_number(L, 1, "max_retry_delay", RC_DEFAULT_MAX_RETRY_DELAY_S);
    req.ca_file = rc_opt_string(L, 1, "ca_file");
    if (lua_getfield(L, 1, "limiter") != LUA_TNIL)
        req.limiter = ((rc_limiter_box *)luaL_checkudata(L, -1, LIMITER_META))->limiter;
    lua_pop(L, 1);

    const char *call[MAX_HEADERS];
    lua_getfield(L, 1, "headers");      /* stays on the stack: the lines stay alive */
    header_sources src = { NULL, NULL, 0, NULL, call, rc_read_lines(L, -1, call), 0,
                           req.method, req.body != NULL, NULL };
    header_lines lines;
    char why[160];
    if (rc_build_headers(&src, HEADERS_ALL, &lines, why, sizeof why) != 0)
        return luaL_error(L, "%s", why);
    req.headers = lines.line;
    req.n_headers = lines.n;

    return rc_submit_and_wait(L, h, &req, 0);
}

/* core.escape_id(value, what [, level]) -> the value percent-encoded as one path
 * segment; raises "<what> must ..." blaming the function at level. */
