/* control: the test-only routes under /_fake (never recorded, never faulted):
 * the request log, the fault queue, seeding and resetting the store, stats,
 * and the raw state of every object. */
#include "http.h"
#include "server.h"
#include "spend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_GET = 1, M_POST = 2, M_DELETE = 4 };

/* One control route's answer: writes the body, returns the status. */
typedef unsigned (*control_fn)(struct server *s, const struct req *r, int method,
                               struct jbuf *out);

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

/* Publishes a new store and frees the old one outside the lock. */
static void swap_store(struct server *s, struct store *st, bool reset_counters)
{
    pthread_mutex_lock(&s->lock);
    struct store *old = s->store;
    s->store = st;
    if (reset_counters) {
        reclog_clear(&s->log, true);
        faults_clear(&s->faults);
        s->n_requests = 0;
        s->n_cancels = 0;
        s->cancel = (struct cancel_rules){s->opt.cancel_style, s->opt.cancel_delay_ms};
        ratelimit_reset(&s->rl);
    }
    pthread_mutex_unlock(&s->lock);
    store_free(old);
}

/* GET /_fake/requests[?method=M][&path=END]: the recorded API requests
 * (those of method M whose raw path ends with END: the attempts one cancel
 * got on the wire); DELETE clears them. */
static unsigned ctl_requests(struct server *s, const struct req *r, int method,
                             struct jbuf *out)
{
    struct query q;
    unsigned qst = query_parse(&q, r, out);
    if (qst != 0) {
        return qst;
    }
    const struct qpair *m = query_get(&q, "method");
    const struct qpair *p = query_get(&q, "path");
    struct rec_filter f = {m ? m->v : NULL, m ? m->vn : 0, p ? p->v : NULL, p ? p->vn : 0};
    pthread_mutex_lock(&s->lock);
    if (method == M_GET) {
        reclog_write_json(&s->log, m || p ? &f : NULL, out);
    } else {
        reclog_clear(&s->log, false);
    }
    pthread_mutex_unlock(&s->lock);
    free(q.buf);
    if (method == M_DELETE) {
        JB_LIT(out, "{\"ok\":true}");
    }
    return 200;
}

/* GET lists the queued faults, POST appends one or an array, DELETE clears. */
static unsigned ctl_faults(struct server *s, const struct req *r, int method,
                           struct jbuf *out)
{
    json_t *v = NULL;
    if (method == M_POST && (v = parse_body(r, out)) == NULL) {
        return 400;
    }
    char err[512];
    bool ok = true;
    pthread_mutex_lock(&s->lock);
    if (method == M_GET) {
        faults_write_json(&s->faults, out);
    } else if (method == M_POST) {
        ok = faults_add_json(&s->faults, v, err, sizeof err);
    } else {
        faults_clear(&s->faults);
    }
    size_t pending = s->faults.n;
    pthread_mutex_unlock(&s->lock);
    json_decref(v);
    if (!ok) {
        put_error(out, err, "invalid_request_error", NULL, NULL);
        return 400;
    }
    if (method != M_GET) {
        jb_printf(out, "{\"ok\":true,\"pending\":%zu}", pending);
    }
    return 200;
}

/* POST /_fake/seed: replaces the store with the posted seed document. */
static unsigned ctl_seed(struct server *s, const struct req *r, int method,
                         struct jbuf *out)
{
    (void)method;
    json_t *v = parse_body(r, out);
    if (v == NULL) {
        return 400;
    }
    char err[512];
    struct store *st = store_from_json(v, real_ms() / 1000, err, sizeof err);
    json_decref(v);
    if (st == NULL) {
        put_error(out, err, "invalid_request_error", NULL, NULL);
        return 400;
    }
    /* counted before it is published: a concurrent seed may free it after */
    jb_printf(out, "{\"ok\":true,\"threads\":%zu,\"runs\":%zu", store_thread_count(st),
              store_run_count(st));
    jobs_write_counts(store_jobs(st), out);
    jb_putc(out, '}');
    swap_store(s, st, false);
    return 200;
}

/* POST /_fake/reset: the start-up store, an empty log and fault queue,
 * counters at zero. */
static unsigned ctl_reset(struct server *s, const struct req *r, int method,
                          struct jbuf *out)
{
    (void)r;
    (void)method;
    char err[512];
    struct store *st = server_startup_store(s, err, sizeof err);
    if (st == NULL) {
        put_error(out, err, "server_error", NULL, NULL);
        return 500;
    }
    swap_store(s, st, true);
    JB_LIT(out, "{\"ok\":true}");
    return 200;
}

static unsigned ctl_stats(struct server *s, const struct req *r, int method,
                          struct jbuf *out)
{
    (void)r;
    (void)method;
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

/* GET /_fake/runs[?thread_id=T]: every run (of T), as stored. */
static unsigned ctl_runs(struct server *s, const struct req *r, int method,
                         struct jbuf *out)
{
    (void)method;
    struct query q;
    unsigned qst = query_parse(&q, r, out);
    if (qst != 0) {
        return qst;
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
            jb_error_id(out, "No thread found with id '", tid->v, tid->vn, "'.");
            st = 404;
        } else {
            thread_write_all(out, t, now);
        }
    }
    pthread_mutex_unlock(&s->lock);
    free(q.buf);
    return st;
}

static void write_config(struct jbuf *out, const struct cancel_rules *c)
{
    jb_printf(out, "{\"cancel_style\":\"%s\",\"cancel_delay_ms\":%lld}",
              cancel_style_name(c->style), (long long)c->delay_ms);
}

/* Reads {"cancel_style": S, "cancel_delay_ms": N} (either may be left out)
 * into c; false (err filled) when a field is bad or unknown. */
static bool read_config(json_t *v, struct cancel_rules *c, char *err, size_t err_len)
{
    if (!json_is_object(v)) {
        snprintf(err, err_len, "config must be a JSON object");
        return false;
    }
    const char *key;
    json_t *f;
    json_object_foreach(v, key, f) {
        if (strcmp(key, "cancel_style") == 0) {
            int st = json_is_string(f) ? cancel_style_parse(json_string_value(f),
                                                             json_string_length(f))
                                       : -1;
            if (st < 0) {
                snprintf(err, err_len, "cancel_style must be one of \"legacy\", \"live\", "
                         "\"400\", \"200\", \"409\"");
                return false;
            }
            c->style = st;
        } else if (strcmp(key, "cancel_delay_ms") == 0) {
            if (!json_is_integer(f) || json_integer_value(f) < 0 ||
                json_integer_value(f) > 86400000) {
                snprintf(err, err_len, "cancel_delay_ms must be an integer from 0 to 86400000");
                return false;
            }
            c->delay_ms = json_integer_value(f);
        } else {
            snprintf(err, err_len, "unknown config field '%s' (cancel_style, cancel_delay_ms, rate_limit, spend)",
                     key);
            return false;
        }
    }
    return true;
}

/* GET /_fake/config: how cancels are answered now; POST changes it (until
 * the next reset, which restores the command line's). */
static unsigned ctl_config(struct server *s, const struct req *r, int method,
                           struct jbuf *out)
{
    json_t *v = NULL;
    if (method == M_POST && (v = parse_body(r, out)) == NULL) {
        return 400;
    }
    char err[256];
    bool ok = true;
    json_t *rl = json_is_object(v) ? json_object_get(v, "rate_limit") : NULL;
    if (rl != NULL) {           /* ratelimit.c's; the rest is the cancel rules */
        ok = ratelimit_configure(&s->rl, rl, err, sizeof err);
        json_object_del(v, "rate_limit");
    }
    json_t *spend = ok && json_is_object(v) ? json_object_get(v, "spend") : NULL;
    if (spend != NULL) {        /* spend.c's: the same as POST /_fake/spend */
        if (json_is_object(spend)) {
            ok = spend_add(s, spend, err, sizeof err);
        } else {
            snprintf(err, sizeof err, "spend must be an object {\"costs\": [...], \"usage\": [...]}");
            ok = false;
        }
        json_object_del(v, "spend");
    }
    pthread_mutex_lock(&s->lock);
    struct cancel_rules c = s->cancel;
    if (ok && method == M_POST && (ok = read_config(v, &c, err, sizeof err))) {
        s->cancel = c;
    }
    pthread_mutex_unlock(&s->lock);
    json_decref(v);
    if (!ok) {
        put_error(out, err, "invalid_request_error", NULL, NULL);
        return 400;
    }
    write_config(out, &c);
    return 200;
}

/* GET /_fake/ratelimit: the rate-limit mode and what it let through and
 * refused, second by second (ratelimit.c). */
static unsigned ctl_ratelimit(struct server *s, const struct req *r, int method,
                              struct jbuf *out)
{
    (void)r;
    (void)method;
    ratelimit_write_json(&s->rl, out);
    return 200;
}

static const struct {
    const char *name;
    int methods;
    control_fn fn;
} control_routes[] = {
    {"requests", M_GET | M_DELETE, ctl_requests},
    {"faults", M_GET | M_POST | M_DELETE, ctl_faults},
    {"seed", M_POST, ctl_seed},
    {"reset", M_POST, ctl_reset},
    {"stats", M_GET, ctl_stats},
    {"runs", M_GET, ctl_runs},
    {"config", M_GET | M_POST, ctl_config},
    {"ratelimit", M_GET, ctl_ratelimit},
    {"spend", M_GET | M_POST | M_DELETE, spend_control},   /* spend.c */
};

static int method_bit(const char *method)
{
    return strcmp(method, "GET") == 0      ? M_GET
           : strcmp(method, "POST") == 0   ? M_POST
           : strcmp(method, "DELETE") == 0 ? M_DELETE
                                           : 0;
}

static unsigned control_answer(struct server *s, const struct req *r, const char *method,
                               const struct path *p, struct jbuf *out)
{
    if (!p->ok || p->n != 2) {
        return invalid_url(out, method, r);
    }
    if (r->body_too_large) {
        put_error(out, "Request body too large.", "invalid_request_error", NULL, NULL);
        return 413;
    }
    const struct seg *name = &p->seg[1];
    int m = method_bit(method);
    for (size_t i = 0; i < sizeof control_routes / sizeof control_routes[0]; i++) {
        if (seg_is(name, control_routes[i].name) && (control_routes[i].methods & m)) {
            return control_routes[i].fn(s, r, m, out);
        }
    }
    if (m == M_GET) {
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

enum MHD_Result control_handle(struct server *s, struct MHD_Connection *c, struct req *r,
                               const char *method, const struct path *p)
{
    char rid[37];
    make_request_id(s, rid);
    struct jbuf out;
    jb_init(&out);
    unsigned status = control_answer(s, r, method, p, &out);
    return respond(c, r, status, resp_from_jbuf(&out), "application/json", rid, NULL,
                   false);
}
