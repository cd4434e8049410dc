/* server: request contexts, raw path routing, auth, the runs API (other kinds in
 * jobs.c), faults, recording and /_fake control routes. */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY ((size_t)64 << 20)
#define MAX_SEGS 8
#define MAX_QUERY_PAIRS 64

/* ---- per-request context (created by the URI log callback) ---- */

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

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct req *req_new(const char *uri)
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

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* req_ + 32 hex; the low half is a bijection of a counter, so unique */
static void make_request_id(struct server *s, char out[37])
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

static void server_sleep(struct server *s, int64_t ms)
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

struct path {
    char *buf;
    struct seg seg[MAX_SEGS];
    size_t n;
    bool ok; /* false: not '/'-rooted, too many segments or a decoded NUL */
};

static void path_split(struct path *p, const char *raw, size_t len)
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

static bool query_parse(struct query *q, const char *raw, size_t n)
{
    q->n = 0;
    q->buf = malloc(n + 1);
    if (q->buf == NULL) {
        return false;
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
    return true;
}

/* The last pair with this key, or NULL. */
static const struct qpair *query_get(const struct query *q, const char *key)
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

static struct MHD_Response *resp_from_jbuf(struct jbuf *b)
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

static enum MHD_Result respond(struct MHD_Connection *c, const struct req *r,
                               unsigned status, struct MHD_Response *resp,
                               const char *ctype, const char *rid,
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

static void put_error(struct jbuf *out, const char *msg, const char *type,
                      const char *param, const char *code)
{
    jb_error(out, msg, strlen(msg), type, param, code);
}

/* {"error":...} with message prefix + id + suffix, the id escaped */
static void put_error_id(struct jbuf *out, const char *prefix, const char *id,
                         size_t id_len, const char *suffix)
{
    struct jbuf m;
    jb_init(&m);
    jb_puts(&m, prefix);
    jb_put(&m, id, id_len);
    jb_puts(&m, suffix);
    jb_error(out, m.data ? m.data : "", m.len, "invalid_request_error", NULL, NULL);
    jb_free(&m);
}

static unsigned invalid_url(struct jbuf *out, const char *method,
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

/* ---- recording ---- */

struct hdr_item {
    const char *k;
    size_t kn;
    const char *v;
    size_t vn;
};

struct hdr_list {
    struct hdr_item *items;
    size_t n;
    size_t cap;
};

static enum MHD_Result hdr_collect(void *cls, enum MHD_ValueKind kind,
                                   const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
    (void)kind;
    struct hdr_list *l = cls;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct hdr_item *p = realloc(l->items, cap * sizeof *p);
        if (p == NULL) {
            return MHD_NO;
        }
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n].k = key;
    l->items[l->n].kn = key_size;
    l->items[l->n].v = value ? value : "";
    l->items[l->n].vn = value ? value_size : 0;
    l->n++;
    return MHD_YES;
}

/* Builds the log entry after its {"seq":N prefix. */
static char *build_record(struct MHD_Connection *c, const struct req *r,
                          const char *method, const char *rid, size_t *len)
{
    struct hdr_list hl = {NULL, 0, 0};
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, hdr_collect, &hl);
    struct jbuf b;
    jb_init(&b);
    jb_reserve(&b, 512 + r->path_len + r->query_len + r->body.len);
    JB_LIT(&b, ",\"method\":");
    jb_jstrz(&b, method);
    JB_LIT(&b, ",\"path\":");
    jb_jstr(&b, r->uri, r->path_len);
    JB_LIT(&b, ",\"query\":");
    jb_jstr(&b, r->query, r->query_len);
    JB_LIT(&b, ",\"headers\":{");
    bool first = true;
    char lower[256];
    for (size_t i = 0; i < hl.n; i++) {
        const struct hdr_item *h = &hl.items[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = hl.items[j].kn == h->kn && strncasecmp(hl.items[j].k, h->k, h->kn) == 0;
        }
        if (seen) {
            continue;
        }
        if (!first) {
            jb_putc(&b, ',');
        }
        first = false;
        /* lower-case the name (long names are written in pieces) */
        struct jbuf name;
        jb_init(&name);
        for (size_t k = 0; k < h->kn; k += sizeof lower) {
            size_t m = h->kn - k < sizeof lower ? h->kn - k : sizeof lower;
            for (size_t x = 0; x < m; x++) {
                char ch = h->k[k + x];
                lower[x] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
            }
            jb_put(&name, lower, m);
        }
        jb_jstr(&b, name.data ? name.data : "", name.len);
        jb_free(&name);
        jb_putc(&b, ':');
        bool multi = false;
        for (size_t j = i + 1; j < hl.n && !multi; j++) {
            multi = hl.items[j].kn == h->kn && strncasecmp(hl.items[j].k, h->k, h->kn) == 0;
        }
        if (!multi) {
            jb_jstr(&b, h->v, h->vn);
            continue;
        }
        struct jbuf v;
        jb_init(&v);
        for (size_t j = i; j < hl.n; j++) {
            if (hl.items[j].kn == h->kn && strncasecmp(hl.items[j].k, h->k, h->kn) == 0) {
                if (j > i) {
                    JB_LIT(&v, ", ");
                }
                jb_put(&v, hl.items[j].v, hl.items[j].vn);
            }
        }
        jb_jstr(&b, v.data ? v.data : "", v.len);
        jb_free(&v);
    }
    free(hl.items);
    JB_LIT(&b, "},\"body\":");
    jb_jstr(&b, r->body.data ? r->body.data : "", r->body.len);
    JB_LIT(&b, ",\"request_id\":\"");
    jb_puts(&b, rid);
    JB_LIT(&b, "\"}");
    return jb_steal(&b, len);
}

/* ---- the runs API ---- */

/* Returns 0 when authorized, else writes the error and returns 401. */
static unsigned check_auth(struct server *s, struct MHD_Connection *c,
                           struct jbuf *out)
{
    const char *key = NULL;
    size_t key_len = 0;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth != NULL) {
        while (*auth == ' ' || *auth == '\t') {
            auth++;
        }
        if (strncasecmp(auth, "Bearer", 6) == 0 && (auth[6] == ' ' || auth[6] == '\t')) {
            key = auth + 7;
        }
    }
    if (key == NULL || strspn(key, " \t") == strlen(key)) {
        key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "api-key");
    }
    if (key != NULL) {
        while (*key == ' ' || *key == '\t') {
            key++;
        }
        key_len = strlen(key);
        while (key_len > 0 && (key[key_len - 1] == ' ' || key[key_len - 1] == '\t')) {
            key_len--;
        }
    }
    if (key_len == 0) {
        put_error(out,
                  "You didn't provide an API key. You need to provide your API key "
                  "in an Authorization header using Bearer auth (i.e. Authorization: "
                  "Bearer YOUR_KEY).",
                  "invalid_request_error", NULL, NULL);
        return 401;
    }
    if (s->opt.api_key != NULL &&
        (strlen(s->opt.api_key) != key_len || memcmp(s->opt.api_key, key, key_len) != 0)) {
        put_error(out, "Incorrect API key provided.", "invalid_request_error", NULL,
                  "invalid_api_key");
        return 401;
    }
    return 0;
}

struct beta_scan {
    bool seen;
    bool v2;
};

static enum MHD_Result beta_iter(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value)
{
    (void)kind;
    struct beta_scan *b = cls;
    if (strcasecmp(key, "OpenAI-Beta") != 0 || value == NULL) {
        return MHD_YES;
    }
    b->seen = true;
    const char *p = value;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        const char *start = p;
        while (*p != '\0' && *p != ',') {
            p++;
        }
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if (end - start == 13 && strncasecmp(start, "assistants=v2", 13) == 0) {
            b->v2 = true;
        }
    }
    return MHD_YES;
}

static unsigned check_beta(struct MHD_Connection *c, struct jbuf *out)
{
    struct beta_scan b = {false, false};
    MHD_get_connection_values(c, MHD_HEADER_KIND, beta_iter, &b);
    if (b.v2) {
        return 0;
    }
    if (!b.seen) {
        put_error(out,
                  "You must provide the 'OpenAI-Beta' header to access the Assistants "
                  "API. Please try again by setting the header 'OpenAI-Beta: "
                  "assistants=v2'.",
                  "invalid_request_error", NULL, "invalid_beta");
    } else {
        put_error(out,
                  "The v1 Assistants API has been deprecated. Please try again by "
                  "setting the header 'OpenAI-Beta: assistants=v2'.",
                  "invalid_request_error", NULL, "invalid_beta");
    }
    return 400;
}

enum route { ROUTE_NONE, ROUTE_LIST, ROUTE_RETRIEVE, ROUTE_CANCEL };

/* Where the API path starts: after --path-prefix (raw bytes, when the
 * request starts with it), else after /openai/v1, /v1 or /openai (Azure).
 * Returns false for a path under none of them. */
static bool api_path(const struct server *s, const struct req *r, struct path *p,
                     size_t *start)
{
    const char *pre = s->opt.path_prefix;
    size_t skip = pre != NULL ? strlen(pre) : 0;
    if (skip == 0 || r->path_len <= skip || memcmp(r->uri, pre, skip) != 0 ||
        r->uri[skip] != '/') {
        skip = 0;
    }
    path_split(p, r->uri + skip, r->path_len - skip);
    *start = 0;
    if (!p->ok) {
        return false;
    }
    if (skip > 0) {
        return true;
    }
    if (p->n >= 2 && seg_is(&p->seg[0], "openai") && seg_is(&p->seg[1], "v1")) {
        *start = 2;
    } else if (p->n >= 1 && (seg_is(&p->seg[0], "v1") || seg_is(&p->seg[0], "openai"))) {
        *start = 1;
    } else {
        return false;
    }
    return true;
}

static enum route match_api(const struct path *p, size_t i, const char *method,
                            struct seg *tid, struct seg *rid)
{
    const struct seg *s = &p->seg[i];
    size_t n = p->n - i;
    if (n < 3 || !seg_is(&s[0], "threads") || s[1].n == 0 || !seg_is(&s[2], "runs")) {
        return ROUTE_NONE;
    }
    *tid = s[1];
    bool get = strcmp(method, "GET") == 0;
    if (n == 3) {
        return get ? ROUTE_LIST : ROUTE_NONE;
    }
    if (s[3].n == 0) {
        return ROUTE_NONE;
    }
    *rid = s[3];
    if (n == 4) {
        return get ? ROUTE_RETRIEVE : ROUTE_NONE;
    }
    if (n == 5 && seg_is(&s[4], "cancel") && strcmp(method, "POST") == 0) {
        return ROUTE_CANCEL;
    }
    return ROUTE_NONE;
}

/* Parses list query params; on error writes it to err and returns 400. */
static unsigned parse_list_params(const struct req *r, struct query *q,
                                  struct list_params *lp, struct jbuf *err)
{
    lp->limit = 20;
    lp->asc = false;
    lp->after = NULL;
    lp->after_len = 0;
    lp->before = NULL;
    lp->before_len = 0;
    if (!query_parse(q, r->query, r->query_len)) {
        put_error(err, "out of memory", "server_error", NULL, NULL);
        return 500;
    }
    const struct qpair *v = query_get(q, "limit");
    if (v != NULL) {
        int x = 0;
        bool ok = v->vn >= 1 && v->vn <= 3;
        for (size_t i = 0; ok && i < v->vn; i++) {
            ok = v->v[i] >= '0' && v->v[i] <= '9';
            x = x * 10 + (v->v[i] - '0');
        }
        if (!ok || x < 1 || x > 100) {
            put_error(err, "Invalid 'limit': integer must be between 1 and 100.",
                      "invalid_request_error", "limit", NULL);
            return 400;
        }
        lp->limit = x;
    }
    v = query_get(q, "order");
    if (v != NULL) {
        if (v->vn == 3 && memcmp(v->v, "asc", 3) == 0) {
            lp->asc = true;
        } else if (!(v->vn == 4 && memcmp(v->v, "desc", 4) == 0)) {
            put_error(err, "Invalid 'order': must be one of 'asc' or 'desc'.",
                      "invalid_request_error", "order", NULL);
            return 400;
        }
    }
    v = query_get(q, "after");
    if (v != NULL && v->vn > 0) {
        lp->after = v->v;
        lp->after_len = v->vn;
    }
    v = query_get(q, "before");
    if (v != NULL && v->vn > 0) {
        lp->before = v->v;
        lp->before_len = v->vn;
    }
    return 0;
}

/* Batches, responses, fine-tuning jobs, vector store file batches and
 * uploads (jobs.c); 0 when the path is none of theirs. */
static unsigned jobs_api(struct server *s, const struct req *r, const char *method,
                         const struct seg *seg, size_t n, struct jbuf *out)
{
    struct query q;
    if (!query_parse(&q, r->query, r->query_len)) {
        put_error(out, "out of memory", "server_error", NULL, NULL);
        return 500;
    }
    const struct qpair *limit = query_get(&q, "limit");
    const struct qpair *after = query_get(&q, "after");
    struct jobs_request rq = {
        .method = method, .seg = seg, .n = n,
        .limit = limit ? limit->v : NULL, .limit_len = limit ? limit->vn : 0,
        .after = after ? after->v : NULL, .after_len = after ? after->vn : 0,
    };
    int64_t now = real_ms();
    pthread_mutex_lock(&s->lock);
    unsigned st = jobs_answer(store_jobs(s->store), &rq, now, s->opt.cancel_delay_ms, out,
                              &s->n_cancels);
    pthread_mutex_unlock(&s->lock);
    free(q.buf);
    return st;
}

/* The normal (fault-free) answer to an API request. */
static unsigned api_answer(struct server *s, struct MHD_Connection *c,
                           const struct req *r, const char *method,
                           struct jbuf *out)
{
    unsigned st = check_auth(s, c, out);
    if (st != 0) {
        return st;
    }
    struct path p;
    size_t start;
    bool under_api = api_path(s, r, &p, &start);
    struct seg tid = {NULL, 0};
    struct seg rid = {NULL, 0};
    enum route route = under_api ? match_api(&p, start, method, &tid, &rid) : ROUTE_NONE;
    if (route == ROUTE_NONE) {
        st = under_api ? jobs_api(s, r, method, &p.seg[start], p.n - start, out) : 0;
        free(p.buf);
        return st != 0 ? st : invalid_url(out, method, r);
    }
    st = check_beta(c, out);
    if (st != 0) {
        free(p.buf);
        return st;
    }
    struct query q = {NULL, {{0}}, 0};
    struct list_params lp;
    struct jbuf qerr;
    jb_init(&qerr);
    unsigned qst = route == ROUTE_LIST ? parse_list_params(r, &q, &lp, &qerr) : 0;

    int64_t now = real_ms();
    pthread_mutex_lock(&s->lock);
    struct thread *t = store_find_thread(s->store, tid.p, tid.n);
    struct run *run = NULL;
    if (t == NULL) {
        put_error_id(out, "No thread found with id '", tid.p, tid.n, "'.");
        st = 404;
    } else if (route == ROUTE_LIST) {
        if (qst != 0) {
            jb_put(out, qerr.data, qerr.len);
            st = qst;
        } else {
            thread_write_list(out, t, &lp, now);
            st = 200;
        }
    } else if ((run = thread_find_run(t, rid.p, rid.n)) == NULL) {
        put_error_id(out, "No run found with id '", rid.p, rid.n, "'.");
        st = 404;
    } else {
        run_refresh(run, now);
        st = 200;
        if (route == ROUTE_CANCEL) {
            if (status_cancellable(run->status)) {
                run_begin_cancel(run, now + s->opt.cancel_delay_ms);
                s->n_cancels++;
            } else {
                const char *name = status_name(run->status);
                put_error_id(out, "Cannot cancel run with status '", name,
                             strlen(name), "'.");
                st = 400;
            }
        }
        if (st == 200) {
            run_write_json(out, run);
        }
    }
    pthread_mutex_unlock(&s->lock);
    jb_free(&qerr);
    free(q.buf);
    free(p.buf);
    return st;
}

static void html_page(struct jbuf *out, unsigned status)
{
    const char *reason = MHD_get_reason_phrase_for(status);
    if (reason == NULL || reason[0] == '\0') {
        reason = "Error";
    }
    jb_printf(out,
              "<html>\r\n<head><title>%u %s</title></head>\r\n<body>\r\n"
              "<center><h1>%u %s</h1></center>\r\n<hr><center>nginx</center>\r\n"
              "</body>\r\n</html>\r\n",
              status, reason, status, reason);
}

static enum MHD_Result handle_api(struct server *s, struct MHD_Connection *c,
                                  struct req *r, const char *method)
{
    char rid[37];
    make_request_id(s, rid);
    char *rec = NULL;
    size_t rec_len = 0;
    if (s->opt.record) {
        rec = build_record(c, r, method, rid, &rec_len);
    }
    pthread_mutex_lock(&s->lock);
    s->n_requests++;
    if (rec != NULL) {
        reclog_add(&s->log, rec, rec_len);
    }
    struct fault *f = faults_take(&s->faults, method, r->uri, r->path_len);
    pthread_mutex_unlock(&s->lock);

    int64_t wait = s->opt.latency_ms + (f ? f->delay_ms : 0);
    if (wait > 0) {
        server_sleep(s, wait);
    }
    if (f != NULL && f->close == CLOSE_BEFORE) {
        if (s->opt.verbose) {
            fprintf(stderr, "fakeapi: %s %.*s -> (closed)\n", method,
                    (int)r->path_len, r->uri);
        }
        fault_release(f);
        return MHD_NO;
    }

    unsigned status;
    const char *ctype = "application/json";
    bool close = false;
    struct MHD_Response *resp;
    struct jbuf body;
    jb_init(&body);
    if (f != NULL && f->large_bytes >= 0) {
        status = f->status ? (unsigned)f->status : 200;
        resp = fault_large_response(f->large_bytes, f->chunked, &s->stopping);
    } else {
        bool cut = f != NULL && (f->truncate || f->close == CLOSE_MIDDLE);
        if (f != NULL && f->html) {
            status = f->status ? (unsigned)f->status : 502;
            html_page(&body, status);
            ctype = "text/html";
        } else if (f != NULL && f->body != NULL) {
            status = f->status ? (unsigned)f->status : 200;
            jb_put(&body, f->body, f->body_len);
        } else if (f != NULL && f->status != 0 && !cut) {
            status = (unsigned)f->status;
            put_error(&body, "fault injected", "server_error", NULL, NULL);
        } else {
            status = api_answer(s, c, r, method, &body);
            if (f != NULL && f->status != 0) {
                status = (unsigned)f->status;
            }
        }
        if (cut) {
            size_t len;
            char *p = jb_steal(&body, &len);
            resp = p ? fault_partial_response(p, len) : NULL;
            close = true;
        } else {
            resp = resp_from_jbuf(&body);
        }
    }
    if (s->opt.verbose) {
        fprintf(stderr, "fakeapi: %s %.*s -> %u%s\n", method, (int)r->path_len,
                r->uri, status, f ? " (fault)" : "");
    }
    enum MHD_Result ret = respond(c, r, status, resp, ctype, rid, f, close);
    fault_release(f);
    return ret;
}

/* ---- control routes under /_fake ---- */

static void write_all_runs(struct jbuf *out, struct store *st, int64_t now)
{
    jb_putc(out, '[');
    bool first = true;
    for (size_t i = 0; i < store_thread_count(st); i++) {
        struct thread *t = store_thread_at(st, i);
        for (uint32_t k = 0; k < t->n_runs; k++) {
            run_refresh(&t->runs[k], now);
            if (!first) {
                jb_putc(out, ',');
            }
            first = false;
            run_write_json(out, &t->runs[k]);
        }
    }
    jb_putc(out, ']');
}

static json_t *parse_body(const struct req *r, struct jbuf *out)
{
    json_error_t jerr;
    json_t *v = json_loadb(r->body.data ? r->body.data : "", r->body.len,
                           JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        struct jbuf m;
        jb_init(&m);
        jb_printf(&m, "Invalid JSON body: %s (line %d, column %d).", jerr.text,
                  jerr.line, jerr.column);
        jb_error(out, m.data ? m.data : "", m.len, "invalid_request_error", NULL, NULL);
        jb_free(&m);
    }
    return v;
}

static unsigned control_answer(struct server *s, const struct req *r,
                               const char *method, const struct path *p,
                               struct jbuf *out)
{
    if (!p->ok || p->n != 2) {
        return invalid_url(out, method, r);
    }
    const struct seg *name = &p->seg[1];
    bool get = strcmp(method, "GET") == 0;
    bool post = strcmp(method, "POST") == 0;
    bool del = strcmp(method, "DELETE") == 0;
    if (r->body_too_large) {
        put_error(out, "Request body too large.", "invalid_request_error", NULL, NULL);
        return 413;
    }
    char err[512];
    if (seg_is(name, "requests") && (get || del)) {
        pthread_mutex_lock(&s->lock);
        if (get) {
            reclog_write_json(&s->log, out);
        } else {
            reclog_clear(&s->log, false);
        }
        pthread_mutex_unlock(&s->lock);
        if (del) {
            JB_LIT(out, "{\"ok\":true}");
        }
        return 200;
    }
    if (seg_is(name, "faults") && (get || post || del)) {
        json_t *v = NULL;
        if (post && (v = parse_body(r, out)) == NULL) {
            return 400;
        }
        bool ok = true;
        size_t pending;
        pthread_mutex_lock(&s->lock);
        if (get) {
            faults_write_json(&s->faults, out);
        } else if (post) {
            ok = faults_add_json(&s->faults, v, err, sizeof err);
        } else {
            faults_clear(&s->faults);
        }
        pending = s->faults.n;
        pthread_mutex_unlock(&s->lock);
        json_decref(v);
        if (!ok) {
            put_error(out, err, "invalid_request_error", NULL, NULL);
            return 400;
        }
        if (!get) {
            jb_printf(out, "{\"ok\":true,\"pending\":%zu}", pending);
        }
        return 200;
    }
    if (seg_is(name, "seed") && post) {
        json_t *v = parse_body(r, out);
        if (v == NULL) {
            return 400;
        }
        struct store *st = store_from_json(v, real_ms() / 1000, err, sizeof err);
        json_decref(v);
        if (st == NULL) {
            put_error(out, err, "invalid_request_error", NULL, NULL);
            return 400;
        }
        /* counted before it is published: a concurrent seed may free it after */
        jb_printf(out, "{\"ok\":true,\"threads\":%zu,\"runs\":%zu",
                  store_thread_count(st), store_run_count(st));
        jobs_write_counts(store_jobs(st), out);
        jb_putc(out, '}');
        pthread_mutex_lock(&s->lock);
        struct store *old = s->store;
        s->store = st;
        pthread_mutex_unlock(&s->lock);
        store_free(old);
        return 200;
    }
    if (seg_is(name, "reset") && post) {
        struct store *st = server_startup_store(s, err, sizeof err);
        if (st == NULL) {
            put_error(out, err, "server_error", NULL, NULL);
            return 500;
        }
        pthread_mutex_lock(&s->lock);
        struct store *old = s->store;
        s->store = st;
        reclog_clear(&s->log, true);
        faults_clear(&s->faults);
        s->n_requests = 0;
        s->n_cancels = 0;
        pthread_mutex_unlock(&s->lock);
        store_free(old);
        JB_LIT(out, "{\"ok\":true}");
        return 200;
    }
    if (seg_is(name, "stats") && get) {
        pthread_mutex_lock(&s->lock);
        jb_printf(out,
                  "{\"requests\":%llu,\"recorded\":%zu,\"dropped\":%llu,"
                  "\"faults_pending\":%zu,\"threads\":%zu,\"runs\":%zu,"
                  "\"cancels\":%llu",
                  (unsigned long long)s->n_requests, s->log.count,
                  (unsigned long long)s->log.dropped, s->faults.n,
                  store_thread_count(s->store), store_run_count(s->store),
                  (unsigned long long)s->n_cancels);
        jobs_write_counts(store_jobs(s->store), out);
        jb_putc(out, '}');
        pthread_mutex_unlock(&s->lock);
        return 200;
    }
    if (seg_is(name, "runs") && get) {
        struct query q;
        if (!query_parse(&q, r->query, r->query_len)) {
            put_error(out, "out of memory", "server_error", NULL, NULL);
            return 500;
        }
        const struct qpair *tid = query_get(&q, "thread_id");
        unsigned st = 200;
        int64_t now = real_ms();
        pthread_mutex_lock(&s->lock);
        if (tid == NULL) {
            write_all_runs(out, s->store, now);
        } else {
            struct thread *t = store_find_thread(s->store, tid->v, tid->vn);
            if (t == NULL) {
                put_error_id(out, "No thread found with id '", tid->v, tid->vn, "'.");
                st = 404;
            } else {
                thread_write_all(out, t, now);
            }
        }
        pthread_mutex_unlock(&s->lock);
        free(q.buf);
        return st;
    }
    if (get) {
        /* /_fake/batches, /_fake/responses, ...: every object of that kind */
        pthread_mutex_lock(&s->lock);
        bool known = jobs_write_kind(store_jobs(s->store), name->p, name->n, real_ms(), out);
        pthread_mutex_unlock(&s->lock);
        if (known) {
            return 200;
        }
    }
    return invalid_url(out, method, r);
}

static enum MHD_Result handle_control(struct server *s, struct MHD_Connection *c,
                                      struct req *r, const char *method,
                                      const struct path *p)
{
    char rid[37];
    make_request_id(s, rid);
    struct jbuf out;
    jb_init(&out);
    unsigned status = control_answer(s, r, method, p, &out);
    return respond(c, r, status, resp_from_jbuf(&out), "application/json", rid,
                   NULL, false);
}

/* ---- entry point ---- */

enum MHD_Result server_handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct req *r = *con_cls;
    if (r == NULL) {
        /* the URI log callback failed to allocate; use what MHD gives us */
        r = req_new(url);
        if (r == NULL) {
            return MHD_NO;
        }
        *con_cls = r;
    }
    if (!r->started) {
        r->started = true;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (r->body.len + *upload_size > MAX_BODY) {
            r->body_too_large = true;
        } else {
            jb_put(&r->body, upload_data, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* whole request received */
    if (r->path_len >= 6 && memcmp(r->uri, "/_fake", 6) == 0 &&
        (r->path_len == 6 || r->uri[6] == '/')) {
        struct path p;
        path_split(&p, r->uri, r->path_len);
        enum MHD_Result ret = handle_control(s, c, r, method, &p);
        free(p.buf);
        return ret;
    }
    return handle_api(s, c, r, method);
}

/* ---- lifecycle ---- */

struct store *server_startup_store(struct server *s, char *err, size_t err_len)
{
    if (s->startup_seed != NULL) {
        return store_from_json(s->startup_seed, s->start_time, err, err_len);
    }
    struct store *st;
    if (s->opt.generate) {
        st = store_generate(s->opt.gen_threads, s->opt.gen_runs, s->opt.gen_seed,
                            s->start_time, err, err_len);
    } else {
        st = store_generate(0, 0, 0, s->start_time, err, err_len);
    }
    if (st != NULL && s->opt.gen_jobs > 0 &&
        !store_generate_jobs(st, s->opt.gen_jobs, s->opt.gen_seed, s->start_time, err,
                             err_len)) {
        store_free(st);
        st = NULL;
    }
    return st;
}

bool server_init(struct server *s)
{
    char err[512];
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->sleep_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->sleep_cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&s->stopping, false);
    atomic_init(&s->rid_counter, 0);
    uint64_t keys[2];
    if (getrandom(keys, sizeof keys, 0) != (ssize_t)sizeof keys) {
        keys[0] = (uint64_t)mono_us() ^ ((uint64_t)getpid() << 32);
        keys[1] = mix64(keys[0] + (uint64_t)real_ms());
    }
    s->rid_key1 = keys[0];
    s->rid_key2 = keys[1];
    s->start_time = real_ms() / 1000;
    reclog_init(&s->log, s->opt.record_limit);
    faults_init(&s->faults);
    if (s->opt.seed_file != NULL) {
        json_error_t jerr;
        s->startup_seed = json_load_file(s->opt.seed_file, 0, &jerr);
        if (s->startup_seed == NULL) {
            fprintf(stderr, "fakeapi: %s:%d:%d: %s\n", s->opt.seed_file, jerr.line,
                    jerr.column, jerr.text);
            return false;
        }
    }
    s->store = server_startup_store(s, err, sizeof err);
    if (s->store == NULL) {
        fprintf(stderr, "fakeapi: seed: %s\n", err);
        return false;
    }
    return true;
}

void server_begin_stop(struct server *s)
{
    pthread_mutex_lock(&s->sleep_lock);
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->sleep_cond);
    pthread_mutex_unlock(&s->sleep_lock);
}

void server_free(struct server *s)
{
    store_free(s->store);
    s->store = NULL;
    json_decref(s->startup_seed);
    s->startup_seed = NULL;
    reclog_free(&s->log);
    faults_clear(&s->faults);
    pthread_cond_destroy(&s->sleep_cond);
    pthread_mutex_destroy(&s->sleep_lock);
    pthread_mutex_destroy(&s->lock);
}
