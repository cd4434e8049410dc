/* jobs: batches, background responses, fine-tuning jobs, vector store file
 * batches and uploads. Each kind is a row of a table (statuses, time fields,
 * how cancel moves it, default fields), so the code below is shared: the
 * collections and their indexes, the lifecycle, JSON and the API routes.
 * Seeds and generation are in jobs_seed.c. */
#include "jobs_table.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct kind kinds[K__COUNT] = {
    [K_BATCH] = {
        .name = "batches", .object = "batch", .label = "batch", .a_label = "a batch",
        .id_prefix = "batch_",
        .statuses = {"in_progress", "validating", "finalizing", "cancelling", "cancelled",
                     "completed", "failed", "expired"},
        .times = {"in_progress_at", "expires_at", "finalizing_at", "completed_at",
                  "failed_at", "expired_at", "cancelling_at", "cancelled_at"},
        .seeded_times = {"*", "expires_at", "in_progress", "in_progress_at",
                         "finalizing", "finalizing_at", "completed", "completed_at",
                         "failed", "failed_at", "expired", "expired_at",
                         "cancelling", "cancelling_at", "cancelled", "cancelled_at"},
        .cancellable = {"validating", "in_progress", "finalizing"},
        .via = "cancelling", .via_time = "cancelling_at",
        .final = "cancelled", .final_time = "cancelled_at",
        .done = "completed", .done_time = "completed_at",
        .page_ids = true, .max_limit = 100,
        .defaults = "{\"endpoint\":\"/v1/chat/completions\",\"errors\":null,"
                    "\"input_file_id\":\"file-abc123\",\"completion_window\":\"24h\","
                    "\"error_file_id\":null,\"metadata\":null}",
    },
    [K_RESPONSE] = {
        .name = "responses", .object = "response", .label = "response", .a_label = "a response",
        .id_prefix = "resp_",
        .statuses = {"in_progress", "queued", "completed", "failed", "cancelled", "incomplete"},
        .cancellable = {"queued", "in_progress"},
        .final = "cancelled", .done = "completed",
        .defaults = "{\"model\":\"gpt-4o\",\"output\":[],\"error\":null,"
                    "\"incomplete_details\":null,\"instructions\":null,\"metadata\":{},"
                    "\"parallel_tool_calls\":true,\"temperature\":1.0,\"top_p\":1.0,"
                    "\"tool_choice\":\"auto\",\"tools\":[],\"usage\":null}",
    },
    [K_FT_JOB] = {
        .name = "fine_tuning_jobs", .object = "fine_tuning.job", .label = "fine-tuning job",
        .a_label = "a fine-tuning job",
        .id_prefix = "ftjob-",
        .statuses = {"running", "validating_files", "queued", "succeeded", "failed", "cancelled"},
        .times = {"finished_at", "estimated_finish"},
        .seeded_times = {"succeeded", "finished_at", "failed", "finished_at"},
        .cancellable = {"validating_files", "queued", "running"},
        .final = "cancelled", .done = "succeeded", .done_time = "finished_at",
        .max_limit = 100,
        .defaults = "{\"model\":\"gpt-4o-mini-2024-07-18\",\"fine_tuned_model\":null,"
                    "\"organization_id\":\"org-fake\",\"result_files\":[],"
                    "\"hyperparameters\":{\"n_epochs\":\"auto\",\"batch_size\":\"auto\","
                    "\"learning_rate_multiplier\":\"auto\"},"
                    "\"training_file\":\"file-abc123\",\"validation_file\":null,"
                    "\"error\":null,\"seed\":0,\"metadata\":null}",
    },
    [K_FILE_BATCH] = {
        .name = "vector_store_file_batches", .object = "vector_store.files_batch",
        .label = "vector store file batch", .a_label = "a vector store file batch",
        .id_prefix = "vsfb_",
        .statuses = {"in_progress", "completed", "cancelled", "failed"},
        .cancellable = {"in_progress"},
        .final = "cancelled", .done = "completed",
        .defaults = "{\"file_counts\":{\"in_progress\":0,\"completed\":0,\"failed\":0,"
                    "\"cancelled\":0,\"total\":0}}",
    },
    [K_UPLOAD] = {
        .name = "uploads", .object = "upload", .label = "upload", .a_label = "an upload",
        .id_prefix = "upload_",
        .statuses = {"pending", "completed", "cancelled", "expired"},
        .times = {"expires_at"},
        .seeded_times = {"*", "expires_at"},
        .cancellable = {"pending"},
        .final = "cancelled", .done = "completed",
        .defaults = "{\"filename\":\"training_examples.jsonl\",\"bytes\":0,"
                    "\"purpose\":\"fine-tune\",\"file\":null}",
    },
};

/* ---- small helpers ---- */

int find_name(const char *const *names, const char *s, size_t n)
{
    for (int i = 0; names[i] != NULL; i++) {
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) {
            return i;
        }
    }
    return -1;
}

int find_namez(const char *const *names, const char *s)
{
    return s == NULL ? -1 : find_name(names, s, strlen(s));
}

bool seg_is(const struct seg *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->n == n && memcmp(s->p, lit, n) == 0;
}



/* ---- lifetime ---- */

struct jobs *jobs_new(void)
{
    return calloc(1, sizeof(struct jobs));
}

static void job_free(struct job *x)
{
    free(x->id);
    free(x->id_json);
    free(x->rest);
    cost_free(&x->cost);
}

void jobs_free(struct jobs *j)
{
    if (j == NULL) {
        return;
    }
    for (int k = 0; k < K__COUNT; k++) {
        for (size_t i = 0; i < j->c[k].n; i++) {
            job_free(&j->c[k].items[i]);
        }
        free(j->c[k].items);
        free(j->c[k].index.slots);
    }
    for (size_t i = 0; i < j->n_vs; i++) {
        free(j->vs[i].id);
        free(j->vs[i].id_json);
    }
    free(j->vs);
    free(j->vs_index.slots);
    free(j);
}

/* ---- indexes ---- */

static int job_cmp(const void *a, const void *b)
{
    const struct job *x = a;
    const struct job *y = b;
    if (x->created_at != y->created_at) {
        return x->created_at > y->created_at ? -1 : 1; /* newest first */
    }
    return id_cmp(x->id, x->id_len, y->id, y->id_len);
}

static struct id_key job_key(const void *items, size_t i)
{
    const struct job *x = &((const struct job *)items)[i];
    return (struct id_key){x->id, x->id_len};
}

static struct id_key vs_key(const void *items, size_t i)
{
    const struct vstore *v = &((const struct vstore *)items)[i];
    return (struct id_key){v->id, v->id_len};
}

static struct job *coll_find(const struct coll *c, const char *id, size_t len)
{
    long i = id_index_find(&c->index, c->items, job_key, id, len);
    return i < 0 ? NULL : &c->items[i];
}

/* (Re)builds an index with calloc'd slots; false (err filled) on a duplicate,
 * named with what ("batch", "vector store") and its id. */
static bool build_index(struct id_index *x, const void *items, size_t n, id_key_fn key,
                        const char *what, char *err, size_t err_len)
{
    free(x->slots);
    x->slots = NULL;
    if (n == 0) {
        return true;
    }
    size_t sz = id_index_slots(n);
    x->slots = calloc(sz, sizeof *x->slots);
    if (x->slots == NULL) {
        snprintf(err, err_len, "out of memory");
        return false;
    }
    size_t dup = id_index_fill(x, sz, items, n, key);
    if (dup < n) {
        struct id_key k = key(items, dup);
        snprintf(err, err_len, "duplicate %s id '%.*s'", what, (int)k.n, k.p);
        return false;
    }
    return true;
}

/* Sorts a collection newest first and rebuilds its id index. */
static bool coll_finish(struct coll *c, const char *label, char *err, size_t err_len)
{
    if (c->n > 0) {
        qsort(c->items, c->n, sizeof *c->items, job_cmp);
    }
    return build_index(&c->index, c->items, c->n, job_key, label, err, err_len);
}

static int vs_find(const struct jobs *j, const char *id, size_t len)
{
    return (int)id_index_find(&j->vs_index, j->vs, vs_key, id, len);
}

static bool vs_finish(struct jobs *j, char *err, size_t err_len)
{
    return build_index(&j->vs_index, j->vs, j->n_vs, vs_key, "vector store", err, err_len);
}

bool jobs_finish(struct jobs *j, char *err, size_t err_len)
{
    for (int k = 0; k < K__COUNT; k++) {
        if (!coll_finish(&j->c[k], kinds[k].label, err, err_len)) {
            return false;
        }
    }
    return vs_finish(j, err, err_len);
}

/* A new zeroed slot at the end of the collection (NULL when out of memory). */

void jobs_write_counts(const struct jobs *j, struct jbuf *out)
{
    for (int k = 0; k < K__COUNT; k++) {
        jb_printf(out, ",\"%s\":%zu", kinds[k].name, j->c[k].n);
    }
    jb_printf(out, ",\"vector_stores\":%zu", j->n_vs);
}

/* ---- lifecycle ---- */

/* Sets the named time field of kind k (none: nothing) to ms, in seconds. */
static void set_time(int k, struct job *x, const char *field, int64_t ms)
{
    int ti = find_namez(kinds[k].times, field);
    if (ti >= 0) {
        x->t[ti] = ms / 1000;
    }
}

/* Moves a job to the status it reads at now_ms (its status lives lazily):
 * from "via" to the final status, then, when seeded to flip back, from the
 * final status to "done" (best effort: Azure showed a cancelled response
 * completing minutes later). */
static void job_refresh(int k, struct job *x, int64_t now_ms)
{
    const struct kind *kd = &kinds[k];
    if (x->cancel_done_ms == 0 || now_ms < x->cancel_done_ms) {
        return;
    }
    int final = find_namez(kd->statuses, kd->final);
    if (kd->via != NULL && x->status == find_namez(kd->statuses, kd->via)) {
        x->status = final;
        set_time(k, x, kd->final_time, x->cancel_done_ms);
    }
    int64_t flip_at = x->cancel_done_ms + x->flip_back_ms;
    if (x->flip_back_ms > 0 && x->status == final && now_ms >= flip_at) {
        x->status = find_namez(kd->statuses, kd->done);
        set_time(k, x, kd->done_time, flip_at);
    }
}

static void job_write(struct jbuf *b, const struct jobs *j, int k, const struct job *x)
{
    const struct kind *kd = &kinds[k];
    JB_LIT(b, "{\"id\":");
    jb_puts(b, x->id_json);
    JB_LIT(b, ",\"object\":\"");
    jb_puts(b, kd->object);
    JB_LIT(b, "\",\"created_at\":");
    jb_i64_or_null(b, x->created_at);
    JB_LIT(b, ",\"status\":\"");
    jb_puts(b, kd->statuses[x->status]);
    jb_putc(b, '"');
    if (k == K_RESPONSE) {
        if (x->background) {
            JB_LIT(b, ",\"background\":true");
        } else {
            JB_LIT(b, ",\"background\":false");
        }
    }
    if (x->parent >= 0) {
        JB_LIT(b, ",\"vector_store_id\":");
        jb_puts(b, j->vs[x->parent].id_json);
    }
    for (int i = 0; kd->times[i] != NULL; i++) {
        jb_putc(b, ',');
        jb_putc(b, '"');
        jb_puts(b, kd->times[i]);
        JB_LIT(b, "\":");
        jb_i64_or_null(b, x->t[i]);
    }
    cost_write(b, k, x);
    jb_puts(b, x->rest);
    jb_putc(b, '}');
}

bool jobs_write_kind(struct jobs *j, const char *name, size_t len, int64_t now_ms,
                     struct jbuf *out)
{
    for (int k = 0; k < K__COUNT; k++) {
        if (strlen(kinds[k].name) != len || memcmp(kinds[k].name, name, len) != 0) {
            continue;
        }
        struct coll *c = &j->c[k];
        jb_putc(out, '[');
        for (size_t i = 0; i < c->n; i++) {
            job_refresh(k, &c->items[i], now_ms);
            if (i > 0) {
                jb_putc(out, ',');
            }
            job_write(out, j, k, &c->items[i]);
        }
        jb_putc(out, ']');
        return true;
    }
    return false;
}

/* ---- the API ---- */

static void put_error(struct jbuf *out, const char *msg, const char *param)
{
    jb_error(out, msg, strlen(msg), "invalid_request_error", param, NULL);
}

static unsigned not_found(struct jbuf *out, int k, const struct seg *id)
{
    if (k == K_RESPONSE) {
        jb_error_id(out, "Response with id '", id->p, id->n, "' not found.");
    } else {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "No %s found with id '", kinds[k].label);
        jb_error_id(out, prefix, id->p, id->n, "'.");
    }
    return 404;
}

static unsigned list(struct jobs *j, int k, const struct jobs_request *rq, int64_t now_ms,
                     struct jbuf *out)
{
    const struct kind *kd = &kinds[k];
    struct coll *c = &j->c[k];
    int limit = 20;
    if (rq->limit != NULL) {
        int x = 0;
        bool ok = rq->limit_len >= 1 && rq->limit_len <= 3;
        for (size_t i = 0; ok && i < rq->limit_len; i++) {
            ok = rq->limit[i] >= '0' && rq->limit[i] <= '9';
            x = x * 10 + (rq->limit[i] - '0');
        }
        if (!ok || x < 1 || x > kd->max_limit) {
            char msg[80];
            snprintf(msg, sizeof msg, "Invalid 'limit': integer must be between 1 and %d.",
                     kd->max_limit);
            put_error(out, msg, "limit");
            return 400;
        }
        limit = x;
    }
    size_t start = 0;
    if (rq->after != NULL && rq->after_len > 0) {
        const struct job *a = coll_find(c, rq->after, rq->after_len);
        start = a == NULL ? c->n : (size_t)(a - c->items) + 1;
    }
    size_t end = c->n - start > (size_t)limit ? start + (size_t)limit : c->n;
    JB_LIT(out, "{\"object\":\"list\",\"data\":[");
    for (size_t i = start; i < end; i++) {
        job_refresh(k, &c->items[i], now_ms);
        if (i > start) {
            jb_putc(out, ',');
        }
        job_write(out, j, k, &c->items[i]);
    }
    jb_putc(out, ']');
    if (kd->page_ids) {
        JB_LIT(out, ",\"first_id\":");
        jb_puts(out, start < end ? c->items[start].id_json : "null");
        JB_LIT(out, ",\"last_id\":");
        jb_puts(out, start < end ? c->items[end - 1].id_json : "null");
    }
    if (end < c->n) {
        JB_LIT(out, ",\"has_more\":true}");
    } else {
        JB_LIT(out, ",\"has_more\":false}");
    }
    return 200;
}

/* Starts the cancel of a job whose status allows it: through "via" (the
 * delay its seed or the server gives), or straight to the final status. */
static void begin_cancel(int k, struct job *x, int64_t now_ms, int64_t delay_ms)
{
    const struct kind *kd = &kinds[k];
    int64_t done = now_ms;
    if (kd->via != NULL) {
        x->status = find_namez(kd->statuses, kd->via);
        set_time(k, x, kd->via_time, now_ms);
        done = now_ms + (x->cancel_delay_ms >= 0 ? x->cancel_delay_ms : delay_ms);
    } else {
        x->status = find_namez(kd->statuses, kd->final);
        set_time(k, x, kd->final_time, now_ms);
    }
    x->cancel_done_ms = done > 0 ? done : 1;
}

/* POST .../cancel: 200 when it began (or the style answers a refusal with
 * the object as is), else the style's refusal (refusal.c). */
static unsigned cancel(int k, struct job *x, int64_t now_ms, const struct cancel_rules *rules,
                       struct jbuf *out, uint64_t *cancelled)
{
    const struct kind *kd = &kinds[k];
    const char *status = kd->statuses[x->status];
    if (k == K_RESPONSE && !x->background) {
        /* vLLM's text; live unverified */
        put_error(out, "Cannot cancel a synchronous response.", NULL);
        return 400;
    }
    if (find_namez(kd->cancellable, status) >= 0) {
        begin_cancel(k, x, now_ms, rules->delay_ms);
        (*cancelled)++;
        return 200;
    }
    struct refused o = {kd->label, kd->a_label, status,
                        kd->via == NULL || strcmp(status, kd->via) != 0};
    unsigned st = refuse_cancel(rules->style, &o, out);
    return st != 0 ? st : 200;
}

/* Which object a path names: kind, id segment and whether it ends in /cancel. */
struct target {
    int kind;
    const struct seg *id; /* NULL: the collection (list) */
    const struct seg *vs; /* file batches: the vector store id */
    bool cancel;
};

static bool match(const struct jobs_request *rq, struct target *t)
{
    const struct seg *s = rq->seg;
    size_t n = rq->n;
    size_t idpos;
    memset(t, 0, sizeof *t);
    if (n >= 1 && seg_is(&s[0], "batches")) {
        t->kind = K_BATCH;
        idpos = 1;
    } else if (n >= 1 && seg_is(&s[0], "responses")) {
        t->kind = K_RESPONSE;
        idpos = 1;
    } else if (n >= 2 && seg_is(&s[0], "fine_tuning") && seg_is(&s[1], "jobs")) {
        t->kind = K_FT_JOB;
        idpos = 2;
    } else if (n >= 1 && seg_is(&s[0], "uploads")) {
        t->kind = K_UPLOAD;
        idpos = 1;
    } else if (n >= 4 && seg_is(&s[0], "vector_stores") && s[1].n > 0 &&
               seg_is(&s[2], "file_batches")) {
        t->kind = K_FILE_BATCH;
        t->vs = &s[1];
        idpos = 3;
    } else {
        return false;
    }
    bool get = strcmp(rq->method, "GET") == 0;
    bool post = strcmp(rq->method, "POST") == 0;
    if (n == idpos) {
        return get && kinds[t->kind].max_limit > 0;
    }
    if (s[idpos].n == 0) {
        return false;
    }
    t->id = &s[idpos];
    if (n == idpos + 1) {
        return get && t->kind != K_UPLOAD; /* uploads have no retrieve route */
    }
    t->cancel = n == idpos + 2 && seg_is(&s[idpos + 1], "cancel") && post;
    return t->cancel;
}

unsigned jobs_answer(struct jobs *j, const struct jobs_request *rq, int64_t now_ms,
                     const struct cancel_rules *rules, struct jbuf *out, uint64_t *cancelled)
{
    struct target t;
    if (!match(rq, &t)) {
        return 0;
    }
    if (t.id == NULL) {
        return list(j, t.kind, rq, now_ms, out);
    }
    int parent = -1;
    if (t.vs != NULL && (parent = vs_find(j, t.vs->p, t.vs->n)) < 0) {
        jb_error_id(out, "No vector store found with id '", t.vs->p, t.vs->n, "'.");
        return 404;
    }
    struct job *x = coll_find(&j->c[t.kind], t.id->p, t.id->n);
    if (x == NULL || x->parent != parent) {
        return not_found(out, t.kind, t.id);
    }
    job_refresh(t.kind, x, now_ms);
    unsigned st = 200;
    if (t.cancel) {
        st = cancel(t.kind, x, now_ms, rules, out, cancelled);
    }
    if (st == 200) {
        job_write(out, j, t.kind, x);
    }
    return st;
}

