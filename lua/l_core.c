/* lua/l_core.c — the runctl.core module: the primitives the Lua half of the API
 * is built on (send a request and yield until it is done, escape IDs, limiters,
 * random tokens, clocks, host settings), the one owner of the header lines a
 * request sends (build_headers), and senders, which keep a client's
 * credentials in C memory. */
#include "host.h"
#include "../core/url.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_META "runctl.request"
#define LIMITER_META "runctl.limiter"
#define MAX_HEADERS 128

/* An in-flight request: created inert, anchored in the registry while the
 * engine owns a transfer for it, so GC cannot free it under the engine. Its
 * transfer's completion is the event its caller waits for. */
typedef struct rc_req {
    rc_event ev;                /* first: the event is the request */
    rc_host *host;
    rc_transfer *transfer;
    int anchor;
    int decode;                 /* a client request: a 2xx JSON object comes back decoded */
} rc_req;

typedef struct rc_limiter_box {
    rc_host *host;
    rc_limiter *limiter;
} rc_limiter_box;

static void request_done(rc_transfer *t, void *ud)
{
    (void)t;
    rc_event_fire(&((rc_req *)ud)->ev);
}

static void request_release(lua_State *L, rc_req *r)
{
    if (r->transfer != NULL && r->host->engine != NULL)
        rc_transfer_free(r->transfer);      /* a live transfer leaves the engine here */
    r->transfer = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, r->anchor);
    r->anchor = LUA_NOREF;
}

/* The waiter was cancelled: the transfer stops now (no callback runs). */
static void request_abandon(lua_State *L, rc_event *ev)
{
    request_release(L, (rc_req *)ev);
}

static int request_gc(lua_State *L)
{
    rc_req *r = luaL_checkudata(L, 1, REQUEST_META);
    if (r->transfer != NULL && r->host->engine != NULL)
        rc_transfer_free(r->transfer);
    r->transfer = NULL;
    return 0;
}

/* ---- reading the spec table ---- */

/* The value at the top as field's number (dflt when nil); raises when it is
 * not a non-negative number. */
static double number_at_top(lua_State *L, const char *field, double dflt)
{
    int type = lua_type(L, -1);
    if (type == LUA_TNIL)
        return dflt;
    if (type != LUA_TNUMBER)
        luaL_error(L, "%s must be a number (got %s)", field, luaL_typename(L, -1));
    double v = lua_tonumber(L, -1);
    if (!(v >= 0) || isinf(v))
        luaL_error(L, "%s must be a non-negative number", field);
    return v;
}

static double opt_number(lua_State *L, int spec, const char *field, double dflt)
{
    lua_getfield(L, spec, field);
    double v = number_at_top(L, field, dflt);
    lua_pop(L, 1);
    return v;
}

static const char *opt_string(lua_State *L, int spec, const char *field)
{
    int type = lua_getfield(L, spec, field);
    const char *s = NULL;
    if (type == LUA_TSTRING)
        s = lua_tostring(L, -1);    /* kept alive by the spec table */
    else if (type != LUA_TNIL)
        luaL_error(L, "%s must be a string (got %s)", field, luaL_typename(L, -1));
    lua_pop(L, 1);
    return s;
}

/* ---- response headers, built when first read ----
 * Most scripts never read resp.headers, and building the table (two strings
 * per header) cost as much as a third of decoding the Run. So a response keeps
 * its headers as one block ("name\0value\0" pairs) in a userdata at index 1 of
 * its own metatable, and resp.headers is built from it on first read (or by
 * pairs(resp)); the metatable is dropped then. resp.request_id is set at once. */
#define HEADER_BLOCK_META "runctl.header_block"

typedef struct header_block {
    size_t n;
    char text[];
} header_block;

/* Pushes the headers table (lower-case names; a repeated header's values
 * joined with ", ") from the block's n "name\0value\0" pairs. */
static void push_header_table(lua_State *L, const header_block *b)
{
    lua_createtable(L, 0, (int)b->n);
    const char *p = b->text;
    for (size_t i = 0; i < b->n; i++) {
        const char *value = p + strlen(p) + 1;
        lua_pushstring(L, p);                       /* interned once, used twice */
        lua_pushvalue(L, -1);
        if (lua_rawget(L, -3) == LUA_TSTRING) {
            lua_pushliteral(L, ", ");               /* repeated header: join the values */
            lua_pushstring(L, value);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, value);
        }
        lua_rawset(L, -3);
        p = value + strlen(value) + 1;
    }
}

/* resp.headers: builds it once from the block in resp's metatable, stores it
 * in resp and drops the metatable. [-0, +1] */
static void fill_headers(lua_State *L, int resp)
{
    if (lua_getmetatable(L, resp)) {
        lua_rawgeti(L, -1, 1);
        const header_block *b = luaL_testudata(L, -1, HEADER_BLOCK_META);
        if (b != NULL) {
            push_header_table(L, b);
            lua_setfield(L, resp, "headers");
            lua_pushnil(L);
            lua_setmetatable(L, resp);
        }
        lua_pop(L, 2);
    }
    lua_getfield(L, resp, "headers");
}

/* __index(resp, key): only "headers" is computed. */
static int response_index(lua_State *L)
{
    if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "headers") != 0)
        return 0;
    fill_headers(L, 1);
    return 1;
}

/* next for a response's __pairs: the raw one. */
static int response_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs(resp): headers included. */
static int response_pairs(lua_State *L)
{
    fill_headers(L, 1);
    lua_pushcfunction(L, response_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Gives the response table at the top its own metatable holding a copy of r's
 * headers (the transfer that owns them is reused once this returns). */
static void attach_headers(lua_State *L, const rc_response *r)
{
    size_t len;
    const char *text = rc_response_header_block(r, &len);
    lua_createtable(L, 1, 2);
    lua_pushcfunction(L, response_index);      /* light C functions: no allocation */
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, response_pairs);
    lua_setfield(L, -2, "__pairs");
    header_block *b = lua_newuserdatauv(L, sizeof(header_block) + len, 0);
    luaL_setmetatable(L, HEADER_BLOCK_META);
    b->n = r->n_headers;
    memcpy(b->text, text, len);
    lua_rawseti(L, -2, 1);
    lua_setmetatable(L, -2);
}

static const char *error_kind(rc_error e)
{
    switch (e) {
    case RC_ERR_TIMEOUT: return "timeout";
    case RC_ERR_TOO_LARGE: return "invalid_response";
    case RC_ERR_CONNECTION:
    case RC_ERR_TRANSPORT:
    case RC_OK: break;
    }
    return "connection";
}

/* The result of a finished request (rc_result_fn): raw | nil, failure; for
 * a client request whose 2xx answer is a JSON object: raw, obj, the object
 * decoded here from the body (raw then has no body: no string is made). */
static int request_result(lua_State *L, rc_event *ev)
{
    rc_req *r = (rc_req *)ev;
    const rc_response *resp = rc_transfer_response(r->transfer);
    int nret, decoded = 0;
    luaL_checkstack(L, 6, "request result");
    lua_createtable(L, 0, 8);
    if (resp->error == RC_OK) {
        lua_pushinteger(L, resp->status);
        lua_setfield(L, -2, "status");
        const char *request_id = rc_response_header(resp, "x-request-id");
        if (request_id != NULL) {
            lua_pushstring(L, request_id);
            lua_setfield(L, -2, "request_id");
        }
        attach_headers(L, resp);
        nret = 1;
        if (r->decode && resp->status >= 200 && resp->status <= 299 &&
            rc_json_decode_object(L, resp->body, resp->body_len)) {
            lua_insert(L, -2);                      /* raw on top, obj under it */
            nret = 2;
            decoded = 1;
        } else {
            lua_pushlstring(L, resp->body, resp->body_len);
            lua_setfield(L, -2, "body");
        }
    } else {
        lua_pushstring(L, error_kind(resp->error));
        lua_setfield(L, -2, "kind");
        lua_pushstring(L, resp->message);
        lua_setfield(L, -2, "message");
        nret = 2;
    }
    lua_pushinteger(L, resp->attempts);
    lua_setfield(L, -2, "attempts");
    lua_pushnumber(L, resp->elapsed_s);
    lua_setfield(L, -2, "elapsed");
    if (!decoded) {             /* a 2xx's resp drops it (errors.finish) */
        lua_pushboolean(L, resp->retryable);
        lua_setfield(L, -2, "retryable");
    }
    request_release(L, r);
    if (nret == 2 && !decoded)
        lua_pushnil(L);
    if (nret == 2)
        lua_insert(L, -2);      /* raw, obj | nil, failure */
    return nret;
}

static int push_dry_run_refusal(lua_State *L, const char *method, const char *url)
{
    char shown[512];
    rc_url_redact(url, shown, sizeof shown);
    lua_pushnil(L);
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, "dry_run");
    lua_setfield(L, -2, "kind");
    lua_pushfstring(L, "dry run: not sending %s %s", method, shown);
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "attempts");
    return 2;
}

/* Reads header lines at idx (nil, or an array of "Name: value" strings) into
 * lines, which holds MAX_HEADERS. The strings stay owned by the Lua value at
 * idx, which must stay on the stack while they are used. Returns the count. */
static size_t read_lines(lua_State *L, int idx, const char **lines)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE)
        return 0;
    lua_Integer n = luaL_len(L, idx);
    if (n > MAX_HEADERS)
        return (size_t)luaL_error(L, "too many headers (at most %d)", MAX_HEADERS);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, idx, i) != LUA_TSTRING)
            return (size_t)luaL_error(L, "header line %d must be a string", (int)i);
        lines[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    return (size_t)n;
}

/* Starts req and waits for it (rc_host_wait: the calling task is suspended,
 * or the loop is driven here when it cannot yield). Everything req points to
 * must stay alive on L's stack until the transfer is submitted (the engine
 * copies what it keeps). A sandbox's policy may set req->proxy. decode: a
 * 2xx JSON object comes back decoded (see request_result). */
static int submit_and_wait(lua_State *L, rc_host *h, rc_request *req, int decode)
{
    if (h->dry_run && strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return push_dry_run_refusal(L, req->method, req->url);
    if (h->policy != NULL) {            /* a sandbox: only its allowed hosts */
        char refused[256];
        if (!h->policy(h->policy_ud, req, refused, sizeof refused)) {
            lua_pushstring(L, refused);
            return lua_error(L);
        }
    }
    rc_req *r = lua_newuserdatauv(L, sizeof *r, 0);     /* stays on this stack while in flight */
    memset(r, 0, sizeof *r);
    r->host = h;
    r->anchor = LUA_NOREF;
    r->decode = decode;
    rc_event_init(&r->ev, request_result, request_abandon);
    luaL_setmetatable(L, REQUEST_META);
    char why[160];
    r->transfer = rc_engine_submit(h->engine, req, request_done, r, why, sizeof why);
    if (r->transfer == NULL)
        return luaL_error(L, "%s", why);
    lua_pushvalue(L, -1);
    r->anchor = luaL_ref(L, LUA_REGISTRYINDEX);
    return rc_host_wait(h, L, &r->ev, -1);
}

/* ---- header lines: the one place that decides what a request sends ----
 *
 * Sources, in this order; a later source's line replaces the earlier lines
 * of the same name (names compare without regard to case):
 *   1. credentials: "Authorization: Bearer KEY" or "api-key: KEY" (clients)
 *   2. the client's lines: Accept, User-Agent, OpenAI-Organization,
 *      OpenAI-Project, then the client's own headers
 *   3. OpenAI-Beta, when the endpoint (or client:request's beta) has one
 *   4. the call's own headers (opts.headers; http.request's headers)
 * then, unless a source named them: Content-Type: application/json on a
 * client request with a body, and an Idempotency-Key on every client request
 * that is not a GET. A line "Name:" with nothing after the colon sends no
 * such header (a header given as false); "Expect:" always, and
 * "Content-Type:" on a POST or a body without one, keep the HTTP library from
 * adding its own. A client keeps sources 1-3 per beta value in a shared set
 * (rc_header_set) built once; a request then adds only the finishing lines. */

#define MAX_LINES (2 * MAX_HEADERS + 8)

typedef struct header_sources {
    const char *credential;         /* NULL: none */
    const char *const *client;
    size_t n_client;
    const char *beta;               /* the value; NULL: none */
    const char *const *call;
    size_t n_call;
    int api;                        /* a client request: Content-Type json, Idempotency-Key */
    const char *method;
    int has_body;
    const char *idempotency_key;    /* the value, used when api and not a GET */
} header_sources;

enum header_part { HEADERS_ALL, HEADERS_SHARED };

typedef struct header_lines {
    const char *line[MAX_LINES];
    size_t n;
    char beta[300], idempotency[300];           /* lines composed here */
} header_lines;

static size_t name_len(const char *line)
{
    const char *colon = strchr(line, ':');
    return colon != NULL ? (size_t)(colon - line) : strlen(line);
}

static int names_match(const char *line, const char *name, size_t n)
{
    return name_len(line) == n && strncasecmp(line, name, n) == 0;
}

static int has_name(const header_lines *h, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->n; i++)
        if (names_match(h->line[i], name, n))
            return 1;
    return 0;
}

/* Appends line, dropping the earlier lines of its name. */
static void put_line(header_lines *h, const char *line)
{
    size_t n = name_len(line), kept = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!names_match(h->line[i], line, n))
            h->line[kept++] = h->line[i];
    h->n = kept;
    if (h->n < MAX_LINES)
        h->line[h->n++] = line;
}

/* Writes "name: value" into buf (room bytes); NULL when it does not fit.
 * By hand, not snprintf: an Idempotency-Key line is composed per request. */
static const char *compose(char *buf, size_t room, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (nl + vl + 3 > room)
        return NULL;
    memcpy(buf, name, nl);
    memcpy(buf + nl, ": ", 2);
    memcpy(buf + nl + 2, value, vl + 1);
    return buf;
}

/* Appends the finishing lines: an Idempotency-Key and a Content-Type unless
 * the lines before them (the sources) named one, and "Expect:". Returns 0, or
 * -1 with why written. */
static int add_finishing_lines(const header_sources *s, int has_content_type, int has_idempotency,
                               header_lines *out, char *why, size_t whysz)
{
    int get = strcmp(s->method, "GET") == 0;
    if (s->api && !get && !has_idempotency && s->idempotency_key != NULL) {
        const char *line = compose(out->idempotency, sizeof out->idempotency, "Idempotency-Key",
                                   s->idempotency_key);
        if (line == NULL) {
            snprintf(why, whysz, "idempotency_key is too long (at most %d bytes)", 255);
            return -1;
        }
        out->line[out->n++] = line;
    }
    if (!has_content_type && s->api && s->has_body)
        out->line[out->n++] = "Content-Type: application/json";
    else if (!has_content_type && (s->has_body || strcmp(s->method, "POST") == 0))
        out->line[out->n++] = "Content-Type:";
    out->line[out->n++] = "Expect:";
    return 0;
}

/* Fills out with the lines of the part asked for: everything, or the shared
 * part (sources 1-3). Returns 0, or -1 with why written. */
static int build_headers(const header_sources *s, enum header_part part, header_lines *out,
                         char *why, size_t whysz)
{
    out->n = 0;
    if (s->credential != NULL)
        put_line(out, s->credential);
    for (size_t i = 0; i < s->n_client; i++)
        put_line(out, s->client[i]);
    if (s->beta != NULL) {
        const char *line = compose(out->beta, sizeof out->beta, "OpenAI-Beta", s->beta);
        if (line == NULL) {
            snprintf(why, whysz, "the OpenAI-Beta value is too long (at most %d bytes)", 255);
            return -1;
        }
        put_line(out, line);
    }
    if (part == HEADERS_SHARED)
        return 0;
    for (size_t i = 0; i < s->n_call; i++)
        put_line(out, s->call[i]);
    return add_finishing_lines(s, has_name(out, "Content-Type"), has_name(out, "Idempotency-Key"),
                               out, why, whysz);
}

/* ---- senders: a client's credentials, headers and settings, kept in C ----
 *
 * The credential line lives only in C memory: no function returns it, so no
 * script can read the API key, whatever it does with the client it holds. */

#define SENDER_META "runctl.sender"
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
    char **client;              /* the client's lines (source 2) */
    size_t n_client;
    shared_lines sets[MAX_BETAS];
    size_t n_sets;
    rc_limiter *limiter;        /* its userdata is user value 1: kept alive */
    double timeout_s, connect_timeout_s, max_retry_delay_s;
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

static int sender_gc(lua_State *L)
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
    if (build_headers(&src, HEADERS_SHARED, &h, why, sizeof why) != 0)
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
    sl->has_content_type = has_name(&h, "Content-Type");
    sl->has_idempotency = has_name(&h, "Idempotency-Key");
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
        req->timeout_s = number_at_top(L, key, req->timeout_s);
    else if (strcmp(key, "connect_timeout") == 0)
        req->connect_timeout_s = number_at_top(L, key, req->connect_timeout_s);
    else if (strcmp(key, "max_bytes") == 0)
        req->max_bytes = (size_t)number_at_top(L, key, (double)req->max_bytes);
    else if (strcmp(key, "max_retries") == 0)
        req->max_retries = (int)number_at_top(L, key, req->max_retries);
    else if (strcmp(key, "max_retry_delay") == 0)
        req->max_retry_delay_s = number_at_top(L, key, req->max_retry_delay_s);
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
static const char *write_token(char *out, size_t n, const char *prefix)
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
static int l_request(lua_State *L)
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
    const char *idempotency_key = NULL;
    read_call_opts(L, 7, &req, &idempotency_key);

    const char *call[MAX_HEADERS];
    char token[160];
    header_sources src = { s->credential, (const char *const *)s->client, s->n_client,
                           luaL_optstring(L, 5, NULL), call, read_lines(L, 6, call), 1,
                           req.method, req.body != NULL, NULL };
    if (strcmp(req.method, "GET") != 0)
        src.idempotency_key = idempotency_key != NULL ? idempotency_key
                                                      : write_token(token, sizeof token, "runctl-");
    /* Without call lines, the client's lines are a shared set built once:
     * the request adds only its finishing lines. */
    const shared_lines *shared = src.n_call == 0 ? shared_set(L, s, src.beta) : NULL;
    header_lines h;
    char why[160];
    int failed;
    if (shared != NULL) {
        req.shared_headers = shared->set;
        h.n = 0;
        failed = add_finishing_lines(&src, shared->has_content_type, shared->has_idempotency,
                                     &h, why, sizeof why);
    } else {
        failed = build_headers(&src, HEADERS_ALL, &h, why, sizeof why);
    }
    if (failed != 0)
        return luaL_error(L, "%s", why);
    req.headers = h.line;
    req.n_headers = h.n;
    return submit_and_wait(L, s->host, &req, 1);
}

/* Copies the array of header lines at idx into C memory (*out, *n). */
static void copy_lines(lua_State *L, int idx, char ***out, size_t *n)
{
    const char *lines[MAX_HEADERS];
    size_t count = read_lines(L, idx, lines);
    *out = calloc(count + 1, sizeof **out);
    if (*out == NULL)
        luaL_error(L, "out of memory");
    for (*n = 0; *n < count; (*n)++)
        if (((*out)[*n] = strdup(lines[*n])) == NULL)
            luaL_error(L, "out of memory");
}

/* core.sender{ api_key, auth = "bearer"|"api-key", headers = {lines}, limiter,
 * timeout, connect_timeout, max_retries, max_retry_delay, max_bytes, ca_file }
 * -> a sender for core.request. The key goes into C memory and is never
 * handed back. */
static int l_sender(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    rc_sender *s = lua_newuserdatauv(L, sizeof *s, 1);
    memset(s, 0, sizeof *s);
    s->host = h;
    luaL_setmetatable(L, SENDER_META);
    int si = lua_gettop(L);
    s->timeout_s = opt_number(L, 1, "timeout", 0);
    s->connect_timeout_s = opt_number(L, 1, "connect_timeout", 0);
    s->max_bytes = (size_t)opt_number(L, 1, "max_bytes", 0);
    s->max_retries = (int)opt_number(L, 1, "max_retries", 0);
    s->max_retry_delay_s = opt_number(L, 1, "max_retry_delay", RC_DEFAULT_MAX_RETRY_DELAY_S);
    const char *ca = opt_string(L, 1, "ca_file");
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
    const char *key = opt_string(L, 1, "api_key");
    const char *auth = opt_string(L, 1, "auth");
    if (key != NULL) {
        int api_key = auth != NULL && strcmp(auth, "api-key") == 0;
        size_t n = strlen(key) + 32;
        if ((s->credential = malloc(n)) == NULL)
            return luaL_error(L, "out of memory");
        snprintf(s->credential, n, "%s%s", api_key ? "api-key: " : "Authorization: Bearer ", key);
    }
    return 1;
}

/* core.send(spec) -> raw | nil, failure (http.request: spec.headers are the
 * only source of header lines). Yields the calling task until the transfer
 * (with its retries) is done; blocks when it cannot yield. */
static int l_send(lua_State *L)
{
    rc_host *h = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    rc_request req;
    memset(&req, 0, sizeof req);
    req.method = opt_string(L, 1, "method");
    req.url = opt_string(L, 1, "url");
    if (req.method == NULL || req.url == NULL)
        return luaL_error(L, "core.send: method and url are required");

    size_t body_len = 0;
    if (lua_getfield(L, 1, "body") == LUA_TSTRING)
        req.body = lua_tolstring(L, -1, &body_len);
    else if (!lua_isnil(L, -1))
        return luaL_error(L, "body must be a string (got %s)", luaL_typename(L, -1));
    req.body_len = body_len;
    lua_pop(L, 1);
    req.timeout_s = opt_number(L, 1, "timeout", 0);
    req.connect_timeout_s = opt_number(L, 1, "connect_timeout", 0);
    req.max_bytes = (size_t)opt_number(L, 1, "max_bytes", 0);
    req.max_retries = (int)opt_number(L, 1, "max_retries", 0);
    req.max_retry_delay_s = opt_number(L, 1, "max_retry_delay", RC_DEFAULT_MAX_RETRY_DELAY_S);
    req.ca_file = opt_string(L, 1, "ca_file");
    if (lua_getfield(L, 1, "limiter") != LUA_TNIL)
        req.limiter = ((rc_limiter_box *)luaL_checkudata(L, -1, LIMITER_META))->limiter;
    lua_pop(L, 1);

    const char *call[MAX_HEADERS];
    lua_getfield(L, 1, "headers");      /* stays on the stack: the lines stay alive */
    header_sources src = { NULL, NULL, 0, NULL, call, read_lines(L, -1, call), 0,
                           req.method, req.body != NULL, NULL };
    header_lines lines;
    char why[160];
    if (build_headers(&src, HEADERS_ALL, &lines, why, sizeof why) != 0)
        return luaL_error(L, "%s", why);
    req.headers = lines.line;
    req.n_headers = lines.n;

    return submit_and_wait(L, h, &req, 0);
}

/* core.escape_id(value, what [, level]) -> the value percent-encoded as one path
 * segment; raises "<what> must ..." blaming the function at level. */
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

/* core.token([prefix]) -> prefix .. a unique token (see write_token). */
static int l_token(lua_State *L)
{
    char token[160];
    lua_pushstring(L, write_token(token, sizeof token, luaL_optstring(L, 1, "")));
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

static const luaL_Reg core_funcs[] = {
    { "pending", l_pending },
    { "frame_budget", l_frame_budget },
    { "stats", l_stats },
    { "interrupted", l_interrupted },
    { "signals", l_signals },
    { "isatty", l_isatty },
    { "term_size", l_term_size },
    { "send", l_send },
    { "escape_id", l_escape_id },
    { "escape_query", l_escape_query },
    { "redact_url", l_redact_url },
    { "limiter", l_limiter },
    { "sender", l_sender },
    { "request", l_request },
    { "token", l_token },
    { "random", l_random },
    { "now", l_now },
    { "unix_time", l_unix_time },
    { "settings", l_settings },
    { "dry_run", l_dry_run },
    { "log_level", l_log_level },
    { NULL, NULL }
};

int luaopen_runctl_core(lua_State *L)
{
    rc_host *h = rc_host_get(L);
    if (luaL_newmetatable(L, REQUEST_META)) {
        lua_pushcfunction(L, request_gc);
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
        lua_pushcfunction(L, sender_gc);
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
