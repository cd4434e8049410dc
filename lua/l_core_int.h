/* lua/l_core_int.h — private to the runctl.core module's files (l_core.c,
 * l_request.c, headers.c, l_sender.c): the request and limiter userdata, the
 * header-line sources, and the helpers they share. */
#ifndef RC_L_CORE_INT_H
#define RC_L_CORE_INT_H

#include "host.h"

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

#define HEADER_BLOCK_META "runctl.header_block"     /* l_request.c: a response's headers */
#define SENDER_META "runctl.sender"                 /* l_sender.c */

/* headers.c: the sources of a request's header lines, and the lines decided */
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

int rc_has_name(const header_lines *h, const char *name);
int rc_add_finishing_lines(const header_sources *s, int has_content_type, int has_idempotency,
                           header_lines *out, char *why, size_t whysz);
int rc_build_headers(const header_sources *s, enum header_part part, header_lines *out,
                     char *why, size_t whysz);

/* l_request.c: the request userdata, reading a spec table, submitting */
int rc_request_gc(lua_State *L);
double rc_number_at_top(lua_State *L, const char *field, double dflt);
double rc_opt_number(lua_State *L, int spec, const char *field, double dflt);
const char *rc_opt_string(lua_State *L, int spec, const char *field);
size_t rc_read_lines(lua_State *L, int idx, const char **lines);
int rc_submit_and_wait(lua_State *L, rc_host *h, rc_request *req, int decode);

/* l_sender.c: senders, tokens, and the bindings core.request, core.sender, core.send */
int rc_sender_gc(lua_State *L);
const char *rc_write_token(char *out, size_t n, const char *prefix);
int rc_l_request(lua_State *L);
int rc_l_sender(lua_State *L);
int rc_l_rate_limit(lua_State *L);
int rc_l_send(lua_State *L);

#endif
