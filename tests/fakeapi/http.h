/* http: the plumbing every route shares: the per-request context, clocks,
 * request ids, path and query decoding, error bodies and queuing an answer
 * with the headers the real API sends. */
#ifndef FAKEAPI_HTTP_H
#define FAKEAPI_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faults.h"
#include "jbuf.h"
#include "jobs.h"

struct server;

#define MAX_BODY ((size_t)64 << 20)
#define MAX_SEGS 8
#define MAX_QUERY_PAIRS 64

/* One request, created by the URI log callback and freed when it completes. */
struct req {
    char *uri;        /* raw request target as sent */
    size_t path_len;  /* raw path is uri[0..path_len) */
    const char *query;
    size_t query_len;
    struct jbuf body;
    bool started;
    bool body_too_large;
    int64_t t0_us;
};

struct req *req_new(const char *uri);

int64_t mono_us(void);
int64_t real_ms(void);

/* Keys the request ids (random, so two servers never share one). */
void request_ids_init(struct server *s);
/* Writes a fresh, unique "req_" + 32 hex into out. */
void make_request_id(struct server *s, char out[37]);
/* Sleeps ms, waking early when the server stops. */
void server_sleep(struct server *s, int64_t ms);

/* A raw path split at '/' and percent-decoded segment by segment. */
struct path {
    char *buf;
    struct seg seg[MAX_SEGS];
    size_t n;
    bool ok; /* false: not '/'-rooted, too many segments or a decoded NUL */
};

/* Splits raw[0..len); free p->buf afterwards, whatever p->ok says. */
void path_split(struct path *p, const char *raw, size_t len);

struct qpair {
    const char *k;
    size_t kn;
    const char *v;
    size_t vn;
};

struct query {
    char *buf;
    struct qpair p[MAX_QUERY_PAIRS];
    size_t n;
};

/* Decodes the request's query string (form encoding): 0, or 500 with the
 * error written to out when out of memory. Free q->buf afterwards. */
unsigned query_parse(struct query *q, const struct req *r, struct jbuf *out);
/* The last pair with this key, or NULL. */
const struct qpair *query_get(const struct query *q, const char *key);

/* The API's error envelope with this message. */
void put_error(struct jbuf *out, const char *msg, const char *type, const char *param,
               const char *code);
/* 404 "Invalid URL (METHOD /path)" as the real API answers unknown routes. */
unsigned invalid_url(struct jbuf *out, const char *method, const struct req *r);

/* A response owning the buffer's bytes, or NULL when out of memory. */
struct MHD_Response *resp_from_jbuf(struct jbuf *b);
/* Queues resp (NULL: fail the connection) with content-type, x-request-id,
 * openai-processing-ms and the fault's extra headers; close adds
 * "connection: close". */
/* --hostile: every x-request-id carries terminal controls (OSC 0, ESC[2J,
 * OSC 52, C1 CSI raw and in UTF-8), for the sanitizer's tests (issue 25). */
extern bool fake_hostile;

enum MHD_Result respond(struct MHD_Connection *c, const struct req *r, unsigned status,
                        struct MHD_Response *resp, const char *ctype, const char *rid,
                        const struct fault *f, bool close);

#endif
