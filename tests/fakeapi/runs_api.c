/* runs_api: the Assistants runs routes under the API prefix: the
 * OpenAI-Beta check, list (with its query parameters), retrieve and cancel. */
#include "runs_api.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    unsigned qst = query_parse(q, r, err);
    if (qst != 0) {
        return qst;
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

/* Answers a run (retrieve or cancel); the caller holds the lock. */
static unsigned run_answer(struct server *s, struct run *run, bool cancel, int64_t now,
                           struct jbuf *out)
{
    run_refresh(run, now);
    if (cancel && status_cancellable(run->status)) {
        run_begin_cancel(run, now + s->cancel.delay_ms);
        s->n_cancels++;
    } else if (cancel) {
        struct refused o = {"run", "a run", status_name(run->status),
                            run->status != ST_CANCELLING};
        unsigned st = refuse_cancel(s->cancel.style, &o, out);
        if (st != 0) {
            return st;
        }
    }
    run_write_json(out, run);
    return 200;
}

/* A parsed list query: its parameters, or the error it answers (status != 0). */
struct list_query {
    struct list_params lp;
    unsigned status;
    struct jbuf err;
};

/* The answer once the route and its query are known; takes the lock. An
 * unknown thread answers 404 before a bad list query. */
static unsigned runs_locked(struct server *s, enum route route, const struct seg *tid,
                            const struct seg *rid, const struct list_query *lq,
                            struct jbuf *out)
{
    int64_t now = real_ms();
    unsigned st;
    pthread_mutex_lock(&s->lock);
    struct thread *t = store_find_thread(s->store, tid->p, tid->n);
    struct run *run = NULL;
    if (t == NULL) {
        jb_error_id(out, "No thread found with id '", tid->p, tid->n, "'.");
        st = 404;
    } else if (route == ROUTE_LIST && lq->status != 0) {
        jb_put(out, lq->err.data, lq->err.len);
        st = lq->status;
    } else if (route == ROUTE_LIST) {
        thread_write_list(out, t, &lq->lp, now);
        st = 200;
    } else if ((run = thread_find_run(t, rid->p, rid->n)) == NULL) {
        jb_error_id(out, "No run found with id '", rid->p, rid->n, "'.");
        st = 404;
    } else {
        st = run_answer(s, run, route == ROUTE_CANCEL, now, out);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

unsigned runs_api_answer(struct server *s, struct MHD_Connection *c, const struct req *r,
                         const char *method, const struct path *p, size_t start,
                         struct jbuf *out)
{
    struct seg tid = {NULL, 0};
    struct seg rid = {NULL, 0};
    enum route route = match_api(p, start, method, &tid, &rid);
    if (route == ROUTE_NONE) {
        return 0;
    }
    unsigned st = check_beta(c, out);
    if (st != 0) {
        return st;
    }
    struct query q = {NULL, {{0}}, 0};
    struct list_query lq = {.status = 0};
    jb_init(&lq.err);
    if (route == ROUTE_LIST) {
        lq.status = parse_list_params(r, &q, &lq.lp, &lq.err);
    }
    st = runs_locked(s, route, &tid, &rid, &lq, out);
    jb_free(&lq.err);
    free(q.buf);
    return st;
}
