/* jobs: batches, background responses, fine-tuning jobs, vector store file
 * batches, uploads and eval runs. Each kind is a row of a table (statuses, time fields,
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
        .statuses = {"running", "validating_files", "queued", "succeeded", "failed", "cancelled",
                     "paused"},
        .times = {"finished_at", "estimated_finish"},
        .seeded_times = {"succeeded", "finished_at", "failed", "finished_at"},
        /* whether a paused job can be cancelled is unverified live: here it can */
        .cancellable = {"validating_files", "queued", "running", "paused"},
        .paused = "paused",
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
        .final = "cancelled", .done = "completed", .parent = P_VECTOR_STORE,
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
    /* the spec's EvalRun; cancelled at once, in American spelling */
    [K_EVAL_RUN] = {
        .name = "eval_runs", .object = "eval.run", .label = "eval run", .a_label = "an eval run",
        .id_prefix = "evalrun_",
        .statuses = {"in_progress", "queued", "completed", "canceled", "failed"},
        .cancellable = {"queued", "in_progress"},
        .final = "canceled", .done = "completed",
        .page_ids = true, .max_limit = 100, .parent = P_EVAL, .filters = true,
        .defaults = "{\"name\":\"nightly\",\"model\":\"gpt-4o-mini-2024-07-18\","
                    "\"report_url\":\"https://platform.openai.com/evaluations\","
                    "\"data_source\":{\"type\":\"completions\"},"
                    "\"result_counts\":{\"total\":50,\"errored\":0,\"failed\":3,\"passed\":17},"
                    "\"per_model_usage\":[{\"model_name\":\"gpt-4o-mini-2024-07-18\","
                    "\"invocation_count\":20,\"prompt_tokens\":4000,\"completion_tokens\":1000,"
                    "\"total_tokens\":5000,\"cached_tokens\":0}],"
                    "\"per_testing_criteria_results\":[],\"error\":null,\"metadata\":{}}",
    },
};

const struct parent_kind parent_kinds[P__COUNT] = {
    [P_VECTOR_STORE] = {"vector_stores", "file_batches", "vector store", "vector_store_id", "vs_",
                        K_FILE_BATCH},
    [P_EVAL] = {"evals", "runs", "eval", "eval_id", "eval_", K_EVAL_RUN},
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
    for (int p = P_NONE + 1; p < P__COUNT; p++) {
        for (size_t i = 0; i < j->p[p].n; i++) {
            free(j->p[p].items[i].id);
            free(j->p[p].items[i].id_json);
        }
        free(j->p[p].items);
        free(j->p[p].index.slots);
    }
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

static int parent_find(const struct jobs *j, int p, const char *id, size_t len)
{
    return (int)id_index_find(&j->p[p].index, j->p[p].items, vs_key, id, len);
}

bool jobs_finish(struct jobs *j, char *err, size_t err_len)
{
    for (int k = 0; k < K__COUNT; k++) {
        if (!coll_finish(&j->c[k], kinds[k].label, err, err_len)) {
            return false;
        }
    }
    for (int p = P_NONE + 1; p < P__COUNT; p++) {
        if (!build_index(&j->p[p].index, j->p[p].items, j->p[p].n, vs_key, parent_kinds[p].label,
                         err, err_len)) {
            return false;
        }
    }
    return true;
}

/* A new zeroed slot at the end of the collection (NULL when out of memory). */

void jobs_write_counts(const struct jobs *j, struct jbuf *out)
{
    for (int k = 0; k < K__COUNT; k++) {
        jb_printf(out, ",\"%s\":%zu", kinds[k].name, j->c[k].n);
    }
    for (int p = P_NONE + 1; p < P__COUNT; p++) {
        jb_printf(out, ",\"%s\":%zu", parent_kinds[p].seed_key, j->p[p].n);
    }
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
        jb_printf(b, ",\"%s\":", parent_kinds[kd->parent].field);
        jb_puts(b, j->p[kd->parent].items[x->parent].id_json);
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

/* The query's limit for kind k (default 20): false (out filled) when bad. */
static bool list_limit(int k, const struct jobs_request *rq, int *limit, struct jbuf *out)
{
    const struct kind *kd = &kinds[k];
    *limit = 20;
    if (rq->limit == NULL) {
        return true;
    }
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
        return false;
    }
    *limit = x;
    return true;
}

/* The filters of a kind that takes them (eval runs): order (asc unless
 * "desc") and status (-1: any). false (out filled) when one is bad. */
static bool list_filters(int k, const struct jobs_request *rq, bool *asc, int *status,
                         struct jbuf *out)
{
    *asc = kinds[k].filters;
    *status = -1;
    if (!kinds[k].filters) {
        return true;
    }
    if (rq->order != NULL) {
        bool is_asc = rq->order_len == 3 && memcmp(rq->order, "asc", 3) == 0;
        if (!is_asc && !(rq->order_len == 4 && memcmp(rq->order, "desc", 4) == 0)) {
            put_error(out, "Invalid value for 'order': expected 'asc' or 'desc'.", "order");
            return false;
        }
        *asc = is_asc;
    }
    if (rq->status != NULL) {
        *status = find_name(kinds[k].statuses, rq->status, rq->status_len);
        if (*status < 0) {
            put_error(out, "Invalid value for 'status'.", "status");
            return false;
        }
    }
    return true;
}

/* GET a list: the kind's objects (of one parent, for a kind under one),
 * newest first (or oldest first: eval runs, order asc), a page of limit
 * after the cursor. */
static unsigned list(struct jobs *j, int k, int parent, const struct jobs_request *rq,
                     int64_t now_ms, struct jbuf *out)
{
    const struct kind *kd = &kinds[k];
    struct coll *c = &j->c[k];
    int limit, status;
    bool asc;
    if (!list_limit(k, rq, &limit, out) || !list_filters(k, rq, &asc, &status, out)) {
        return 400;
    }
    /* the objects in order, filtered; the page starts after the cursor */
    size_t *pick = malloc((c->n + 1) * sizeof *pick);
    if (pick == NULL) {
        put_error(out, "out of memory", NULL);
        return 500;
    }
    size_t m = 0, start = 0;
    for (size_t n = 0; n < c->n; n++) {
        size_t i = asc ? c->n - 1 - n : n;
        struct job *x = &c->items[i];
        job_refresh(k, x, now_ms);
        if ((kd->parent != P_NONE && x->parent != parent) || (status >= 0 && x->status != status)) {
            continue;
        }
        if (rq->after != NULL && rq->after_len > 0 && x->id_len == rq->after_len &&
            memcmp(x->id, rq->after, x->id_len) == 0) {
            start = m + 1;
        }
        pick[m++] = i;
    }
    if (rq->after != NULL && rq->after_len > 0 && start == 0) {
        start = m; /* an unknown cursor: an empty page */
    }
    size_t end = m - start > (size_t)limit ? start + (size_t)limit : m;
    JB_LIT(out, "{\"object\":\"list\",\"data\":[");
    for (size_t i = start; i < end; i++) {
        if (i > start) {
            jb_putc(out, ',');
        }
        job_write(out, j, k, &c->items[pick[i]]);
    }
    jb_putc(out, ']');
    if (kd->page_ids) {
        JB_LIT(out, ",\"first_id\":");
        jb_puts(out, start < end ? c->items[pick[start]].id_json : "null");
        JB_LIT(out, ",\"last_id\":");
        jb_puts(out, start < end ? c->items[pick[end - 1]].id_json : "null");
    }
    free(pick);
    if (end < m) {
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

/* POST .../pause and .../resume (fine-tuning jobs): a running job reads
 * paused, a paused one running again; any other status is refused with a
 * 400 in the words of the cancel refusal (the live text is unverified). */
static unsigned pause_resume(int k, struct job *x, bool pause, struct jbuf *out)
{
    const struct kind *kd = &kinds[k];
    int running = find_namez(kd->statuses, "running");
    int paused = find_namez(kd->statuses, kd->paused);
    if (x->status == (pause ? running : paused)) {
        x->status = pause ? paused : running;
        return 200;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "Cannot %s %s with status '%s'.", pause ? "pause" : "resume",
             kd->a_label, kd->statuses[x->status]);
    put_error(out, msg, NULL);
    return 400;
}

enum verb { V_GET, V_CANCEL, V_PAUSE, V_RESUME };

/* Which object a path names: kind, id segment, parent and what is asked. */
struct target {
    int kind;
    const struct seg *id;     /* NULL: the collection (list) */
    const struct seg *parent; /* file batches, eval runs: the parent's id */
    int verb;                 /* enum verb */
};

/* The kind a path's first segments name and where its id segment is; false
 * for other paths. */
static bool match_kind(const struct seg *s, size_t n, struct target *t, size_t *idpos)
{
    if (n >= 1 && seg_is(&s[0], "batches")) {
        t->kind = K_BATCH;
        *idpos = 1;
    } else if (n >= 1 && seg_is(&s[0], "responses")) {
        t->kind = K_RESPONSE;
        *idpos = 1;
    } else if (n >= 2 && seg_is(&s[0], "fine_tuning") && seg_is(&s[1], "jobs")) {
        t->kind = K_FT_JOB;
        *idpos = 2;
    } else if (n >= 1 && seg_is(&s[0], "uploads")) {
        t->kind = K_UPLOAD;
        *idpos = 1;
    } else if (n >= 4 && seg_is(&s[0], "vector_stores") && s[1].n > 0 &&
               seg_is(&s[2], "file_batches")) {
        t->kind = K_FILE_BATCH;
        t->parent = &s[1];
        *idpos = 3;
    } else if (n >= 3 && seg_is(&s[0], "evals") && s[1].n > 0 && seg_is(&s[2], "runs")) {
        t->kind = K_EVAL_RUN;
        t->parent = &s[1];
        *idpos = 3;
    } else {
        return false;
    }
    return true;
}

static bool match(const struct jobs_request *rq, struct target *t)
{
    const struct seg *s = rq->seg;
    size_t n = rq->n;
    size_t idpos;
    memset(t, 0, sizeof *t);
    if (!match_kind(s, n, t, &idpos)) {
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
    if (n == idpos + 1 && post && t->kind == K_EVAL_RUN) {
        t->verb = V_CANCEL; /* cancelEvalRun: a POST to the run itself */
        return true;
    }
    if (n == idpos + 1) {
        return get && t->kind != K_UPLOAD; /* uploads have no retrieve route */
    }
    if (n != idpos + 2 || !post || t->kind == K_EVAL_RUN) {
        return false;
    }
    if (seg_is(&s[idpos + 1], "cancel")) {
        t->verb = V_CANCEL;
    } else if (kinds[t->kind].paused != NULL && seg_is(&s[idpos + 1], "pause")) {
        t->verb = V_PAUSE;
    } else if (kinds[t->kind].paused != NULL && seg_is(&s[idpos + 1], "resume")) {
        t->verb = V_RESUME;
    } else {
        return false;
    }
    return true;
}

unsigned jobs_answer(struct jobs *j, const struct jobs_request *rq, int64_t now_ms,
                     const struct cancel_rules *rules, struct jbuf *out, uint64_t *cancelled)
{
    struct target t;
    if (!match(rq, &t)) {
        return 0;
    }
    int pk = kinds[t.kind].parent;
    int parent = -1;
    if (t.parent != NULL && (parent = parent_find(j, pk, t.parent->p, t.parent->n)) < 0) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "No %s found with id '", parent_kinds[pk].label);
        jb_error_id(out, prefix, t.parent->p, t.parent->n, "'.");
        return 404;
    }
    if (t.id == NULL) {
        return list(j, t.kind, parent, rq, now_ms, out);
    }
    struct job *x = coll_find(&j->c[t.kind], t.id->p, t.id->n);
    if (x == NULL || x->parent != parent) {
        return not_found(out, t.kind, t.id);
    }
    job_refresh(t.kind, x, now_ms);
    unsigned st = 200;
    if (t.verb == V_CANCEL) {
        st = cancel(t.kind, x, now_ms, rules, out, cancelled);
    } else if (t.verb == V_PAUSE || t.verb == V_RESUME) {
        st = pause_resume(t.kind, x, t.verb == V_PAUSE, out);
    }
    if (st == 200) {
        job_write(out, j, t.kind, x);
    }
    return st;
}
