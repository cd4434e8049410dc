/* spend: the organization's costs and usage listings. Entries (one cost or
 * one usage record at a time) come from the seed's "costs" and "usage"
 * arrays or POST /_fake/spend; a listing sums them into buckets aligned to
 * the bucket width (UTC days for 1d), one result per group_by key, filtered
 * by project_ids[], api_key_ids[], models[] and batch, limit buckets a page,
 * next_page naming the next bucket. Auth: with --admin-key, only that key
 * reads; the --api-key (a project key) gets the live 403 "Missing scopes". */
#include "spend.h"
#include "http.h"
#include "server.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct spend {
    json_t *costs; /* [{time, usd, project_id, line_item, api_key_id}] */
    json_t *usage; /* [{time, endpoint, project_id, model, api_key_id, batch, tokens...}] */
};

static const char *const ENDPOINTS[] = {
    "completions", "embeddings", "moderations", "images", "audio_speeches",
    "audio_transcriptions", "vector_stores", "code_interpreter_sessions", NULL,
};
static const char *const COUNTS[] = {
    "input_tokens", "output_tokens", "input_cached_tokens", "num_model_requests", NULL,
};
static const char *const COST_KEYS[] = { "project_id", "line_item", "api_key_id", NULL };
static const char *const USAGE_KEYS[] = {
    "project_id", "model", "api_key_id", "user_id", "batch", "service_tier", NULL,
};

#define MISSING_SCOPES                                                                      \
    "You have insufficient permissions for this operation. Missing scopes: api.usage.read. " \
    "Check that you have the correct role in your organization (Reader, Writer, Owner) "    \
    "and project (Member, Owner), and if you're using a restricted API key, that it has "   \
    "the necessary scopes."

struct spend *spend_new(void)
{
    struct spend *sp = calloc(1, sizeof *sp);
    if (sp == NULL) {
        return NULL;
    }
    sp->costs = json_array();
    sp->usage = json_array();
    if (sp->costs == NULL || sp->usage == NULL) {
        spend_free(sp);
        return NULL;
    }
    return sp;
}

void spend_free(struct spend *sp)
{
    if (sp != NULL) {
        json_decref(sp->costs);
        json_decref(sp->usage);
        free(sp);
    }
}

static bool is_endpoint(const char *s, size_t n)
{
    for (int i = 0; ENDPOINTS[i] != NULL; i++) {
        if (strlen(ENDPOINTS[i]) == n && memcmp(ENDPOINTS[i], s, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Checks one entry of list `what` and appends a copy with an absolute time. */
static bool add_entry(json_t *into, const char *what, size_t i, json_t *e, int64_t base,
                      char *err, size_t err_len)
{
    int64_t t;
    json_t *time = json_is_object(e) ? json_object_get(e, "time") : NULL;
    if (time == NULL || !store_parse_time(time, base, &t) || t == NULL_TIME) {
        snprintf(err, err_len, "%s[%zu]: time must be a number (Unix seconds, or seconds "
                 "relative to now when under 1e9)", what, i);
        return false;
    }
    bool cost = strcmp(what, "costs") == 0;
    json_t *usd = json_object_get(e, "usd");
    if (cost && !json_is_number(usd)) {
        snprintf(err, err_len, "costs[%zu]: usd must be a number", i);
        return false;
    }
    json_t *ep = json_object_get(e, "endpoint");
    if (!cost && ep != NULL &&
        !(json_is_string(ep) && is_endpoint(json_string_value(ep), json_string_length(ep)))) {
        snprintf(err, err_len, "usage[%zu]: endpoint must be completions, embeddings, ...", i);
        return false;
    }
    json_t *copy = json_deep_copy(e);
    if (copy == NULL || json_object_set_new(copy, "time", json_integer(t)) != 0 ||
        (!cost && ep == NULL && json_object_set_new(copy, "endpoint",
                                                    json_string("completions")) != 0) ||
        json_array_append_new(into, copy) != 0) {
        snprintf(err, err_len, "out of memory");
        return false;
    }
    return true;
}

/* Appends root's "costs" and "usage" entries to sp. */
static bool load_entries(struct spend *sp, json_t *root, int64_t base, char *err,
                         size_t err_len)
{
    const char *names[] = { "costs", "usage" };
    json_t *into[] = { sp->costs, sp->usage };
    for (int k = 0; k < 2; k++) {
        json_t *arr = json_object_get(root, names[k]);
        if (arr == NULL) {
            continue;
        }
        if (!json_is_array(arr)) {
            snprintf(err, err_len, "\"%s\" must be an array", names[k]);
            return false;
        }
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            if (!add_entry(into[k], names[k], i, e, base, err, err_len)) {
                return false;
            }
        }
    }
    return true;
}

bool spend_load(struct spend *sp, json_t *root, int64_t base, char *err, size_t err_len)
{
    return load_entries(sp, root, base, err, err_len);
}

bool spend_route(const struct seg *seg, size_t n)
{
    if (n < 2 || !seg_is(&seg[0], "organization")) {
        return false;
    }
    return (n == 2 && seg_is(&seg[1], "costs")) ||
           (n == 3 && seg_is(&seg[1], "usage") && is_endpoint(seg[2].p, seg[2].n));
}

/* ---- auth ---- */

/* The bearer token of the request (NULL, 0 when none). */
static const char *bearer(struct MHD_Connection *c, size_t *len)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    *len = 0;
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
        return NULL;
    }
    auth += 7;
    while (*auth == ' ') {
        auth++;
    }
    *len = strlen(auth);
    while (*len > 0 && auth[*len - 1] == ' ') {
        (*len)--;
    }
    return *len > 0 ? auth : NULL;
}

static bool same(const char *want, const char *key, size_t len)
{
    return want != NULL && strlen(want) == len && memcmp(want, key, len) == 0;
}

/* 0 when the key may read costs and usage, else the refusal's status. */
static unsigned check_admin(struct server *s, struct MHD_Connection *c, struct jbuf *out)
{
    size_t len;
    const char *key = bearer(c, &len);
    if (key == NULL) {
        put_error(out, "You didn't provide an API key. You need to provide your API key in an "
                  "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                  "invalid_request_error", NULL, NULL);
        return 401;
    }
    if (s->opt.admin_key == NULL || same(s->opt.admin_key, key, len)) {
        return 0;
    }
    if (same(s->opt.api_key, key, len) || s->opt.api_key == NULL) {
        put_error(out, MISSING_SCOPES, "invalid_request_error", NULL, NULL);
        return 403;
    }
    put_error(out, "Incorrect API key provided.", "invalid_request_error", NULL,
              "invalid_api_key");
    return 401;
}

/* ---- the query ---- */

#define MAX_LIST 16

struct strlist {
    const struct qpair *v[MAX_LIST];
    size_t n;
};

struct spend_query {
    int64_t start, end, width, page_from;
    long limit;
    struct strlist projects, keys, models, group_by;
    int batch; /* -1: any */
};

/* Every value of name[] (or name, exploded). */
static void list_of(const struct query *q, const char *name, struct strlist *l)
{
    size_t n = strlen(name);
    l->n = 0;
    for (size_t i = 0; i < q->n && l->n < MAX_LIST; i++) {
        const struct qpair *p = &q->p[i];
        if ((p->kn == n || (p->kn == n + 2 && memcmp(p->k + n, "[]", 2) == 0)) &&
            memcmp(p->k, name, n) == 0) {
            l->v[l->n++] = p;
        }
    }
}

static bool in_list(const struct strlist *l, json_t *v)
{
    if (l->n == 0) {
        return true;
    }
    if (!json_is_string(v)) {
        return false;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i]->vn == json_string_length(v) &&
            memcmp(l->v[i]->v, json_string_value(v), l->v[i]->vn) == 0) {
            return true;
        }
    }
    return false;
}

static bool int_value(const struct qpair *p, int64_t *out)
{
    char buf[32];
    if (p == NULL || p->vn == 0 || p->vn >= sizeof buf) {
        return false;
    }
    memcpy(buf, p->v, p->vn);
    buf[p->vn] = '\0';
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (*end != '\0' || v < 0) {
        return false;
    }
    *out = v;
    return true;
}

static unsigned bad_param(struct jbuf *out, const char *msg, const char *param)
{
    put_error(out, msg, "invalid_request_error", param, NULL);
    return 400;
}

/* Reads and checks the listing's parameters; 0 or 400 with the error written. */
static unsigned read_query(const struct query *q, bool costs, int64_t now, struct spend_query *sq,
                           struct jbuf *out)
{
    if (!int_value(query_get(q, "start_time"), &sq->start)) {
        return bad_param(out, "start_time is required and must be an integer (Unix seconds).",
                         "start_time");
    }
    sq->end = now + 1;
    const struct qpair *e = query_get(q, "end_time");
    if (e != NULL && !int_value(e, &sq->end)) {
        return bad_param(out, "end_time must be an integer (Unix seconds).", "end_time");
    }
    const struct qpair *w = query_get(q, "bucket_width");
    sq->width = 86400;
    if (w != NULL) {
        bool d = w->vn == 2 && memcmp(w->v, "1d", 2) == 0;
        bool h = w->vn == 2 && memcmp(w->v, "1h", 2) == 0;
        bool m = w->vn == 2 && memcmp(w->v, "1m", 2) == 0;
        if (!d && (costs || !(h || m))) {
            return bad_param(out, costs ? "bucket_width must be 1d." : "bucket_width must be 1m, 1h or 1d.",
                             "bucket_width");
        }
        sq->width = d ? 86400 : h ? 3600 : 60;
    }
    long dflt = sq->width == 86400 ? 7 : sq->width == 3600 ? 24 : 60;
    long max = costs ? 180 : sq->width == 86400 ? 31 : sq->width == 3600 ? 168 : 1440;
    int64_t lim = dflt;
    const struct qpair *l = query_get(q, "limit");
    if (l != NULL && (!int_value(l, &lim) || lim < 1 || lim > max)) {
        char msg[80];
        snprintf(msg, sizeof msg, "limit must be an integer from 1 to %ld.", max);
        return bad_param(out, msg, "limit");
    }
    sq->limit = (long)lim;
    sq->page_from = sq->start - sq->start % sq->width;
    const struct qpair *pg = query_get(q, "page");
    if (pg != NULL) {
        int64_t from;
        char tok[40];
        if (pg->vn < 6 || pg->vn >= sizeof tok || memcmp(pg->v, "page_", 5) != 0) {
            return bad_param(out, "Invalid page cursor.", "page");
        }
        memcpy(tok, pg->v + 5, pg->vn - 5);
        tok[pg->vn - 5] = '\0';
        struct qpair t = { NULL, 0, tok, pg->vn - 5 };
        if (!int_value(&t, &from) || from < sq->page_from) {
            return bad_param(out, "Invalid page cursor.", "page");
        }
        sq->page_from = from;
    }
    list_of(q, "project_ids", &sq->projects);
    list_of(q, "api_key_ids", &sq->keys);
    list_of(q, "models", &sq->models);
    list_of(q, "group_by", &sq->group_by);
    sq->batch = -1;
    const struct qpair *b = query_get(q, "batch");
    if (b != NULL) {
        sq->batch = b->vn == 4 && memcmp(b->v, "true", 4) == 0;
    }
    return 0;
}

/* ---- buckets ---- */

static bool grouped(const struct spend_query *sq, const char *key)
{
    for (size_t i = 0; i < sq->group_by.n; i++) {
        if (sq->group_by.v[i]->vn == strlen(key) && memcmp(sq->group_by.v[i]->v, key, sq->group_by.v[i]->vn) == 0) {
            return true;
        }
    }
    return false;
}

static bool entry_matches(const struct spend_query *sq, json_t *e, const char *endpoint,
                          int64_t from, int64_t to)
{
    json_int_t t = json_integer_value(json_object_get(e, "time"));
    if (t < from || t >= to || t >= sq->end) {
        return false;
    }
    if (endpoint != NULL && strcmp(json_string_value(json_object_get(e, "endpoint")), endpoint) != 0) {
        return false;
    }
    if (sq->batch >= 0 && json_is_true(json_object_get(e, "batch")) != (sq->batch == 1)) {
        return false;
    }
    return in_list(&sq->projects, json_object_get(e, "project_id")) &&
           in_list(&sq->keys, json_object_get(e, "api_key_id")) &&
           (endpoint == NULL || in_list(&sq->models, json_object_get(e, "model")));
}

/* The result of `results` with e's group key, made (counts at zero) when new. */
static json_t *result_for(json_t *results, json_t *e, const struct spend_query *sq,
                          const char *const *keys, const char *object, bool costs)
{
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        bool same_key = true;
        for (int k = 0; keys[k] != NULL && same_key; k++) {
            json_t *want = grouped(sq, keys[k]) ? json_object_get(e, keys[k]) : NULL;
            json_t *have = json_object_get(r, keys[k]);
            same_key = json_equal(want ? want : json_null(), have);
        }
        if (same_key) {
            return r;
        }
    }
    r = json_pack("{ss}", "object", object);
    for (int k = 0; keys[k] != NULL; k++) {
        json_t *v = grouped(sq, keys[k]) ? json_object_get(e, keys[k]) : NULL;
        json_object_set_new(r, keys[k], v ? json_deep_copy(v) : json_null());
    }
    if (costs) {
        json_object_set_new(r, "amount", json_pack("{sfss}", "value", 0.0, "currency", "usd"));
    } else {
        for (int k = 0; COUNTS[k] != NULL; k++) {
            json_object_set_new(r, COUNTS[k], json_integer(0));
        }
    }
    json_array_append_new(results, r);
    return r;
}

static void add_to(json_t *r, json_t *e, bool costs)
{
    if (costs) {
        json_t *amount = json_object_get(r, "amount");
        double v = json_number_value(json_object_get(amount, "value")) +
                   json_number_value(json_object_get(e, "usd"));
        json_object_set_new(amount, "value", json_real(v));
        return;
    }
    for (int k = 0; COUNTS[k] != NULL; k++) {
        json_int_t v = json_integer_value(json_object_get(r, COUNTS[k])) +
                       json_integer_value(json_object_get(e, COUNTS[k]));
        json_object_set_new(r, COUNTS[k], json_integer(v));
    }
}

/* The page: buckets from sq->page_from, at most limit of them. */
static json_t *page_of(json_t *entries, const struct spend_query *sq, const char *endpoint)
{
    bool costs = endpoint == NULL;
    char object[80];
    snprintf(object, sizeof object, costs ? "organization.costs.result"
                                          : "organization.usage.%s.result", endpoint);
    json_t *data = json_array();
    int64_t b = sq->page_from;
    for (long n = 0; n < sq->limit && b < sq->end; n++, b += sq->width) {
        json_t *results = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e) {
            if (entry_matches(sq, e, endpoint, b, b + sq->width)) {
                add_to(result_for(results, e, sq, costs ? COST_KEYS : USAGE_KEYS, object, costs), e,
                       costs);
            }
        }
        json_array_append_new(data, json_pack("{sssIsIso}", "object", "bucket", "start_time",
                                              (json_int_t)b, "end_time", (json_int_t)(b + sq->width),
                                              "results", results));
    }
    char next[40];
    snprintf(next, sizeof next, "page_%lld", (long long)b);
    return json_pack("{sssosbso}", "object", "page", "data", data, "has_more", b < sq->end,
                     "next_page", b < sq->end ? json_string(next) : json_null());
}

unsigned spend_answer(struct server *s, struct MHD_Connection *c, const struct req *r,
                      const char *method, const struct seg *seg, size_t n, struct jbuf *out)
{
    unsigned st = check_admin(s, c, out);
    if (st != 0) {
        return st;
    }
    if (strcmp(method, "GET") != 0) {
        return invalid_url(out, method, r);
    }
    struct query q;
    if ((st = query_parse(&q, r, out)) != 0) {
        return st;
    }
    bool costs = n == 2;
    char endpoint[40] = "";
    if (!costs) {
        snprintf(endpoint, sizeof endpoint, "%.*s", (int)seg[2].n, seg[2].p);
    }
    struct spend_query sq;
    st = read_query(&q, costs, real_ms() / 1000, &sq, out);
    if (st == 0) {
        pthread_mutex_lock(&s->lock);
        struct spend *sp = store_spend(s->store);
        json_t *page = page_of(costs ? sp->costs : sp->usage, &sq, costs ? NULL : endpoint);
        pthread_mutex_unlock(&s->lock);
        char *text = page ? json_dumps(page, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
        json_decref(page);
        if (text == NULL) {
            put_error(out, "out of memory", "server_error", NULL, NULL);
            st = 500;
        } else {
            jb_put(out, text, strlen(text));
            free(text);
            st = 200;
        }
    }
    free(q.buf);
    return st;
}

/* ---- /_fake/spend ---- */

bool spend_add(struct server *s, json_t *v, char *err, size_t err_len)
{
    pthread_mutex_lock(&s->lock);
    struct spend *sp = store_spend(s->store);
    /* checked into a scratch set first: a bad entry adds nothing */
    struct spend *scratch = spend_new();
    bool ok = scratch != NULL && load_entries(scratch, v, real_ms() / 1000, err, err_len);
    if (ok) {
        json_array_extend(sp->costs, scratch->costs);
        json_array_extend(sp->usage, scratch->usage);
    }
    spend_free(scratch);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

unsigned spend_control(struct server *s, const struct req *r, int method, struct jbuf *out)
{
    json_t *v = NULL;
    if (method == 2) {
        json_error_t jerr;
        v = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);
        if (!json_is_object(v)) {
            json_decref(v);
            put_error(out, "body must be a JSON object {\"costs\": [...], \"usage\": [...]}",
                      "invalid_request_error", NULL, NULL);
            return 400;
        }
    }
    char err[256] = "";
    bool ok = method != 2 || spend_add(s, v, err, sizeof err);
    pthread_mutex_lock(&s->lock);
    struct spend *sp = store_spend(s->store);
    if (method == 4) {
        json_array_clear(sp->costs);
        json_array_clear(sp->usage);
    }
    json_t *all = json_pack("{sOsO}", "costs", sp->costs, "usage", sp->usage);
    char *text = all ? json_dumps(all, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(all);
    pthread_mutex_unlock(&s->lock);
    json_decref(v);
    if (!ok) {
        free(text);
        put_error(out, err[0] ? err : "out of memory", "invalid_request_error", NULL, NULL);
        return 400;
    }
    if (text != NULL) {
        jb_put(out, text, strlen(text));
        free(text);
    }
    return 200;
}
