/* api: an API request's way through the server: recorded, matched against
 * the fault queue, delayed, authenticated, then routed by its path prefix to
 * the runs routes (runs_api.c) or the other kinds (jobs.c). */
#include "http.h"
#include "runs_api.h"
#include "server.h"
#include "spend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Batches, responses, fine-tuning jobs, vector store file batches,
 * uploads and eval runs (jobs.c); 0 when the path is none of theirs. */
static unsigned jobs_api(struct server *s, const struct req *r, const char *method,
                         const struct seg *seg, size_t n, struct jbuf *out)
{
    struct query q;
    unsigned qst = query_parse(&q, r, out);
    if (qst != 0) {
        return qst;
    }
    const struct qpair *limit = query_get(&q, "limit");
    const struct qpair *after = query_get(&q, "after");
    const struct qpair *order = query_get(&q, "order");
    const struct qpair *status = query_get(&q, "status");
    struct jobs_request rq = {
        .method = method, .seg = seg, .n = n,
        .limit = limit ? limit->v : NULL, .limit_len = limit ? limit->vn : 0,
        .after = after ? after->v : NULL, .after_len = after ? after->vn : 0,
        .order = order ? order->v : NULL, .order_len = order ? order->vn : 0,
        .status = status ? status->v : NULL, .status_len = status ? status->vn : 0,
    };
    int64_t now = real_ms();
    pthread_mutex_lock(&s->lock);
    unsigned st = jobs_answer(store_jobs(s->store), &rq, now, &s->cancel, out,
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
    struct path p;
    size_t start;
    bool api = api_path(s, r, &p, &start);
    unsigned st;
    if (api && spend_route(&p.seg[start], p.n - start)) {     /* its own auth: the admin key */
        st = spend_answer(s, c, r, method, &p.seg[start], p.n - start, out);
        free(p.buf);
        return st;
    }
    if ((st = check_auth(s, c, out)) != 0) {
        free(p.buf);
        return st;
    }
    if (api) {
        st = runs_api_answer(s, c, r, method, &p, start, out);
        if (st == 0) {
            st = jobs_api(s, r, method, &p.seg[start], p.n - start, out);
        }
    }
    free(p.buf);
    return st != 0 ? st : invalid_url(out, method, r);
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

/* Records the request (when recording) and takes the fault queued for it. */
static struct fault *record_and_take_fault(struct server *s, struct MHD_Connection *c,
                                           const struct req *r, const char *method,
                                           const char *rid)
{
    char *rec = NULL;
    size_t rec_len = 0;
    if (s->opt.record) {
        rec = reclog_entry(c, r, method, rid, &rec_len);
    }
    pthread_mutex_lock(&s->lock);
    s->n_requests++;
    if (rec != NULL) {
        reclog_add(&s->log, rec, rec_len, method, r->uri, r->path_len);
    }
    struct fault *f = faults_take(&s->faults, method, r->uri, r->path_len);
    pthread_mutex_unlock(&s->lock);
    return f;
}

/* The answer's status and body: the fault's own (an HTML page, a body, an
 * error status), else the API's, applied even when the fault then cuts or
 * drops the answer. */
static unsigned answer_body(struct server *s, struct MHD_Connection *c,
                            const struct req *r, const char *method,
                            const struct fault *f, struct jbuf *body, const char **ctype)
{
    bool applies = f != NULL && (f->truncate || f->close != CLOSE_NONE);
    if (f != NULL && f->html) {
        unsigned status = f->status ? (unsigned)f->status : 502;
        html_page(body, status);
        *ctype = "text/html";
        return status;
    }
    if (f != NULL && f->body != NULL) {
        jb_put(body, f->body, f->body_len);
        return f->status ? (unsigned)f->status : 200;
    }
    if (f != NULL && f->status != 0 && !applies) {
        put_error(body, "fault injected", "server_error", NULL, NULL);
        return (unsigned)f->status;
    }
    unsigned status = api_answer(s, c, r, method, body);
    return f != NULL && f->status != 0 ? (unsigned)f->status : status;
}

static void log_answer(const struct server *s, const struct req *r, const char *method,
                       const char *what, unsigned status, const struct fault *f)
{
    if (s->opt.verbose) {
        char st[16] = "";
        if (status != 0) {
            snprintf(st, sizeof st, "%u", status);
        }
        fprintf(stderr, "fakeapi: %s %.*s -> %s%s%s\n", method, (int)r->path_len, r->uri,
                what, st, f ? " (fault)" : "");
    }
}

enum MHD_Result api_handle(struct server *s, struct MHD_Connection *c, struct req *r,
                           const char *method)
{
    char rid[37];
    make_request_id(s, rid);
    struct fault *f = record_and_take_fault(s, c, r, method, rid);
    struct jbuf limited;        /* the rate-limit mode's 429, when it refuses */
    jb_init(&limited);
    struct rl_headers rlh = {0};
    unsigned rl_status = f == NULL ? ratelimit_take(&s->rl, &limited, &rlh) : 0;
    int64_t wait = s->opt.latency_ms + (f ? f->delay_ms : 0);
    if (wait > 0) {
        server_sleep(s, wait);
    }
    if (f != NULL && f->close == CLOSE_BEFORE) {
        jb_free(&limited);
        log_answer(s, r, method, "(closed)", 0, f);
        fault_release(f);
        return MHD_NO;
    }
    unsigned status;
    const char *ctype = "application/json";
    bool cut = f != NULL && f->large_bytes < 0 && (f->truncate || f->close == CLOSE_MIDDLE);
    struct MHD_Response *resp;
    struct jbuf body;
    jb_init(&body);
    if (rl_status != 0) {
        status = rl_status;
        resp = resp_from_jbuf(&limited);
    } else if (f != NULL && f->large_bytes >= 0) {
        status = f->status ? (unsigned)f->status : 200;
        resp = fault_large_response(f->large_bytes, f->chunked, &s->stopping);
    } else {
        status = answer_body(s, c, r, method, f, &body, &ctype);
        if (f != NULL && f->close == CLOSE_AFTER) {
            /* applied, then the connection drops with nothing sent */
            log_answer(s, r, method, "(closed after) ", status, f);
            jb_free(&body);
            fault_release(f);
            return MHD_NO;
        }
        if (cut) {
            size_t len;
            char *p = jb_steal(&body, &len);
            resp = p ? fault_partial_response(p, len) : NULL;
        } else {
            resp = resp_from_jbuf(&body);
        }
    }
    jb_free(&limited);
    ratelimit_add_headers(&rlh, resp);
    log_answer(s, r, method, "", status, f);
    enum MHD_Result ret = respond(c, r, status, resp, ctype, rid, f, cut);
    fault_release(f);
    return ret;
}
