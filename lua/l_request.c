/* lua/l_request.c — a request in flight: its userdata (the event its caller
 * waits for), reading its spec table, submitting it and waiting, and the
 * response Lua gets (headers built when first read). */
#include "l_core_int.h"
#include "../core/url.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int rc_request_gc(lua_State *L)
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
double rc_number_at_top(lua_State *L, const char *field, double dflt)
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

double rc_opt_number(lua_State *L, int spec, const char *field, double dflt)
{
    lua_getfield(L, spec, field);
    double v = rc_number_at_top(L, field, dflt);
    lua_pop(L, 1);
    return v;
}

const char *rc_opt_string(lua_State *L, int spec, const char *field)
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
    case RC_ERR_RATE_LIMITED: return "rate_limited";
    case RC_ERR_NOT_SENT: return "not_sent";
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
        if (resp->status != 0) {            /* rate_limited: the last 429 */
            lua_pushinteger(L, resp->status);
            lua_setfield(L, -2, "status");
        }
        if (resp->error == RC_ERR_NOT_SENT) {   /* why (the engine's own messages) */
            lua_pushstring(L, strstr(resp->message, "insufficient_quota") ? "insufficient_quota"
                                                                          : "interrupted");
            lua_setfield(L, -2, "code");
        }
        nret = 2;
    }
    lua_pushinteger(L, resp->attempts);
    lua_setfield(L, -2, "attempts");
    if (resp->rate_limited > 0) {
        lua_pushinteger(L, resp->rate_limited);
        lua_setfield(L, -2, "rate_limited");
    }
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
size_t rc_read_lines(lua_State *L, int idx, const char **lines)
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
int rc_submit_and_wait(lua_State *L, rc_host *h, rc_request *req, int decode)
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
