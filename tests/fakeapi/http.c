/* http: the plumbing every route shares: the per-request context and the
 * libmicrohttpd callbacks that create and free it, clocks, request ids,
 * path and query decoding, error bodies, and queuing an answer with the
 * headers the real API sends. */
#include "http.h"
#include "ids.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <time.h>

int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct req *req_new(const char *uri)
{
    struct req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    size_t n = strlen(uri);
    r->uri = malloc(n + 1);
    if (r->uri == NULL) {
        free(r);
        return NULL;
    }
    memcpy(r->uri, uri, n + 1);
    const char *q = memchr(r->uri, '?', n);
    r->path_len = q ? (size_t)(q - r->uri) : n;
    r->query = q ? q + 1 : r->uri + n;
    r->query_len = q ? n - r->path_len - 1 : 0;
    jb_init(&r->body);
    r->t0_us = mono_us();
    return r;
}

static void req_free(struct req *r)
{
    if (r != NULL) {
        free(r->uri);
        jb_free(&r->body);
        free(r);
    }
}

void *server_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    return req_new(uri);
}

size_t server_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s); /* keep everything raw; we decode ourselves */
}

void server_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    req_free(*con_cls);
    *con_cls = NULL;
}

/* ---- helpers: ids, sleeping, decoding ---- */

void request_ids_init(struct server *s)
{
    atomic_init(&s->rid_counter, 0);
    uint64_t keys[2];
    if (getrandom(keys, sizeof keys, 0) != (ssize_t)sizeof keys) {
        keys[0] = (uint64_t)mono_us() ^ ((uint64_t)getpid() << 32);
        keys[1] = mix64(keys[0] + (uint64_t)real_ms());
    }
    s->rid_key1 = keys[0];
    s->rid_key2 = keys[1];
}

/* req_ + 32 hex; the low half is a bijection of a counter, so unique */
void make_request_id(struct server *s, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t n = atomic_fetch_add(&s->rid_counter, 1);
    uint64_t hi = mix64(s->rid_key1 + n);
    uint64_t lo = mix64(s->rid_key2 ^ n);
    memcpy(out, "req_", 4);
    for (int i = 0; i < 16; i++) {
        out[4 + i] = hex[(hi >> (60 - 4 * i)) & 15];
        out[20 + i] = hex[(lo >> (60 - 4 * i)) & 15];
    }
    out[36] = '\0';
}

void server_sleep(struct server *s, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->sleep_lock);
    while (!atomic_load(&s->stopping)) {
        if (pthread_cond_timedwait(&s->sleep_cond, &s->sleep_lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&s->sleep_lock);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decodes n bytes into out (which needs n bytes); a '%' not
 * followed by two hex digits stays literal. Returns the decoded length. */
static size_t pct_decode(const char *in, size_t n, char *out, bool plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%' && i + 2 < n && hexval((unsigned char)in[i + 1]) >= 0 &&
            hexval((unsigned char)in[i + 2]) >= 0) {
            out[o++] = (char)(hexval((unsigned char)in[i + 1]) * 16 +
                              hexval((unsigned char)in[i + 2]));
            i += 2;
        } else if (c == '+' && plus_space) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    return o;
}

void path_split(struct path *p, const char *raw, size_t len)
{
    p->n = 0;
    p->ok = false;
    p->buf = malloc(len + 1);
    if (p->buf == NULL || len == 0 || raw[0] != '/') {
        return;
    }
    char *o = p->buf;
    size_t i = 1;
    for (;;) {
        size_t j = i;
        while (j < len && raw[j] != '/') {
            j++;
        }
        if (p->n == MAX_SEGS) {
            return;
        }
        size_t dn = pct_decode(raw + i, j - i, o, false);
        if (memchr(o, '\0', dn) != NULL) {
            return;
        }
        p->seg[p->n].p = o;
        p->seg[p->n].n = dn;
        p->n++;
        o += dn;
        if (j >= len) {
            break;
        }
        i = j + 1;
    }
    p->ok = true;
}

unsigned query_parse(struct query *q, const struct req *r, struct jbuf *out)
{
    const char *raw = r->query;
    size_t n = r->query_len;
    q->n = 0;
    q->buf = malloc(n + 1);
    if (q->buf == NULL) {
        put_error(out, "out of memory", "server_error", NULL, NULL);
        return 500;
    }
    char *o = q->buf;
    size_t i = 0;
    while (i < n && q->n < MAX_QUERY_PAIRS) {
        size_t j = i;
        while (j < n && raw[j] != '&') {
            j++;
        }
        if (j > i) {
            const char *eq = memchr(raw + i, '=', j - i);
            size_t kend = eq ? (size_t)(eq - raw) : j;
            struct qpair *pr = &q->p[q->n++];
            pr->k = o;
            pr->kn = pct_decode(raw + i, kend - i, o, true);
            o += pr->kn;
            pr->v = o;
            pr->vn = eq ? pct_decode(eq + 1, j - kend - 1, o, true) : 0;
            o += pr->vn;
        }
        i = j + 1;
    }
    return 0;
}

const struct qpair *query_get(const struct query *q, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = q->n; i-- > 0;) {
        if (q->p[i].kn == n && memcmp(q->p[i].k, key, n) == 0) {
            return &q->p[i];
        }
    }
    return NULL;
}

/* ---- responses ---- */

struct MHD_Response *resp_from_jbuf(struct jbuf *b)
{
    size_t len;
    char *p = jb_steal(b, &len);
    if (p == NULL) {
        return NULL;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(p);
    }
    return resp;
}

bool fake_hostile;

enum MHD_Result respond(struct MHD_Connection *c, const struct req *r, unsigned status,
                        struct MHD_Response *resp, const char *ctype, const char *rid,
                        const struct fault *f, bool close)
{
    if (resp == NULL) {
        return MHD_NO;
    }
    char ms[24];
    int64_t elapsed = (mono_us() - r->t0_us) / 1000;
    snprintf(ms, sizeof ms, "%lld", (long long)(elapsed > 0 ? elapsed : 0));
    if (ctype != NULL && !fault_has_header(f, "content-type")) {
        MHD_add_response_header(resp, "content-type", ctype);
    }
    char hostile_rid[128];
    if (fake_hostile) {
        snprintf(hostile_rid, sizeof hostile_rid, "%s\x1b]0;pwned\x07\x1b[2J\x1b]52;c;cHduZWQ=\x07"
                 "\xc2\x9b" "31m\x9b" "32m", rid);
        rid = hostile_rid;
    }
    if (!fault_has_header(f, "x-request-id")) {
        MHD_add_response_header(resp, "x-request-id", rid);
    }
    if (!fault_has_header(f, "openai-processing-ms")) {
        MHD_add_response_header(resp, "openai-processing-ms", ms);
    }
    if (f != NULL) {
        for (size_t i = 0; i < f->n_headers; i++) {
            MHD_add_response_header(resp, f->headers[i].name, f->headers[i].value);
        }
    }
    if (close) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

void put_error(struct jbuf *out, const char *msg, const char *type,
                      const char *param, const char *code)
{
    jb_error(out, msg, strlen(msg), type, param, code);
}

unsigned invalid_url(struct jbuf *out, const char *method,
                            const struct req *r)
{
    struct jbuf m;
    jb_init(&m);
    JB_LIT(&m, "Invalid URL (");
    jb_puts(&m, method);
    jb_putc(&m, ' ');
    jb_put(&m, r->uri, r->path_len);
    jb_putc(&m, ')');
    jb_error(out, m.data ? m.data : "", m.len, "invalid_request_error", NULL, NULL);
    jb_free(&m);
    return 404;
}
