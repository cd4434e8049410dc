/* jobs: batches, background responses, fine-tuning jobs, vector store file
 * batches and uploads. Each kind is a row of a table (statuses, time fields,
 * how cancel moves it, default fields), so the code below is shared. */
#include "jobs.h"
#include "ids.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TIMES 8
#define MAX_STATUSES 8

enum kind_id { K_BATCH, K_RESPONSE, K_FT_JOB, K_FILE_BATCH, K_UPLOAD, K__COUNT };

struct kind {
    const char *name;      /* seed key and /_fake/<name> */
    const char *object;    /* the "object" field */
    const char *label;     /* "a batch" in error messages */
    const char *id_prefix; /* generated ids */
    const char *statuses[MAX_STATUSES + 1]; /* the first is the seed default */
    const char *times[MAX_TIMES + 1];
    /* pairs {status, time field}: a seeded object in that status gets that
     * time unless the seed gives it; status "*" applies to every object */
    const char *seeded_times[16 + 1];
    const char *cancellable[MAX_STATUSES + 1];
    const char *via;       /* status a cancel passes through ("cancelling"), or NULL */
    const char *via_time;  /* time field set when a cancel begins */
    const char *final;     /* status a cancel ends in */
    const char *final_time;
    bool final_is_ok;      /* a cancel of an already cancelled object answers 200 */
    bool page_ids;         /* list pages carry first_id / last_id */
    int max_limit;         /* largest list limit; 0: no list route */
    const char *defaults;  /* every other field, a JSON object */
};

static const struct kind kinds[K__COUNT] = {
    [K_BATCH] = {
        .name = "batches", .object = "batch", .label = "batch", .id_prefix = "batch_",
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
        .page_ids = true, .max_limit = 100,
        .defaults = "{\"endpoint\":\"/v1/chat/completions\",\"errors\":null,"
                    "\"input_file_id\":\"file-abc123\",\"completion_window\":\"24h\","
                    "\"output_file_id\":null,\"error_file_id\":null,"
                    "\"request_counts\":{\"total\":0,\"completed\":0,\"failed\":0},"
                    "\"metadata\":null}",
    },
    [K_RESPONSE] = {
        .name = "responses", .object = "response", .label = "response", .id_prefix = "resp_",
        .statuses = {"in_progress", "queued", "completed", "failed", "cancelled", "incomplete"},
        .cancellable = {"queued", "in_progress"},
        .final = "cancelled", .final_is_ok = true,
        .defaults = "{\"model\":\"gpt-4o\",\"output\":[],\"error\":null,"
                    "\"incomplete_details\":null,\"instructions\":null,\"metadata\":{},"
                    "\"parallel_tool_calls\":true,\"temperature\":1.0,\"top_p\":1.0,"
                    "\"tool_choice\":\"auto\",\"tools\":[],\"usage\":null}",
    },
    [K_FT_JOB] = {
        .name = "fine_tuning_jobs", .object = "fine_tuning.job", .label = "fine-tuning job",
        .id_prefix = "ftjob-",
        .statuses = {"running", "validating_files", "queued", "succeeded", "failed", "cancelled"},
        .times = {"finished_at", "estimated_finish"},
        .seeded_times = {"succeeded", "finished_at", "failed", "finished_at"},
        .cancellable = {"validating_files", "queued", "running"},
        .final = "cancelled",
        .max_limit = 100,
        .defaults = "{\"model\":\"gpt-4o-mini-2024-07-18\",\"fine_tuned_model\":null,"
                    "\"organization_id\":\"org-fake\",\"result_files\":[],"
                    "\"hyperparameters\":{\"n_epochs\":\"auto\",\"batch_size\":\"auto\","
                    "\"learning_rate_multiplier\":\"auto\"},"
                    "\"training_file\":\"file-abc123\",\"validation_file\":null,"
                    "\"trained_tokens\":null,\"error\":null,\"seed\":0,\"metadata\":null}",
    },
    [K_FILE_BATCH] = {
        .name = "vector_store_file_batches", .object = "vector_store.files_batch",
        .label = "vector store file batch", .id_prefix = "vsfb_",
        .statuses = {"in_progress", "completed", "cancelled", "failed"},
        .cancellable = {"in_progress"},
        .final = "cancelled",
        .defaults = "{\"file_counts\":{\"in_progress\":0,\"completed\":0,\"failed\":0,"
                    "\"cancelled\":0,\"total\":0}}",
    },
    [K_UPLOAD] = {
        .name = "uploads", .object = "upload", .label = "upload", .id_prefix = "upload_",
        .statuses = {"pending", "completed", "cancelled", "expired"},
        .times = {"expires_at"},
        .seeded_times = {"*", "expires_at"},
        .cancellable = {"pending"},
        .final = "cancelled",
        .defaults = "{\"filename\":\"training_examples.jsonl\",\"bytes\":0,"
                    "\"purpose\":\"fine-tune\",\"file\":null}",
    },
};

struct job {
    char *id;            /* raw bytes, NUL-terminated (seeds never hold NUL) */
    char *id_json;       /* quoted */
    size_t id_len;
    int parent;          /* file batches: index of their vector store; else -1 */
    int64_t created_at;
    int64_t t[MAX_TIMES];
    int64_t cancel_done_ms; /* via -> final at this time; 0 = never */
    char *rest;          /* the other fields as ",\"k\":v..." or "" */
    int status;
    bool background;     /* responses: created with background = true */
};

struct coll {
    struct job *items;   /* newest first once finished */
    size_t n;
    size_t cap;
    struct id_index index; /* by id (ids.h) */
};

struct vstore {
    char *id;
    char *id_json;
    size_t id_len;
};

struct jobs {
    struct coll c[K__COUNT];
    struct vstore *vs;
    size_t n_vs;
    size_t cap_vs;
    struct id_index vs_index;
};

/* ---- small helpers ---- */

static int find_name(const char *const *names, const char *s, size_t n)
{
    for (int i = 0; names[i] != NULL; i++) {
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) {
            return i;
        }
    }
    return -1;
}

static int find_namez(const char *const *names, const char *s)
{
    return s == NULL ? -1 : find_name(names, s, strlen(s));
}

static bool in_list(const char *const *names, const char *s)
{
    return find_namez(names, s) >= 0;
}

static char *dup_bytes(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static char *quote(const char *p, size_t n)
{
    struct jbuf b;
    jb_init(&b);
    jb_jstr(&b, p, n);
    if (b.oom) {
        jb_free(&b);
        return NULL;
    }
    return jb_steal(&b, NULL);
}

bool seg_is(const struct seg *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->n == n && memcmp(s->p, lit, n) == 0;
}


static char *gen_id(uint64_t *rng, const char *prefix)
{
    char *d = malloc(strlen(prefix) + 24 + 1);
    if (d != NULL) {
        gen_id_into(d, rng, prefix);
    }
    return d;
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

static bool finish_all(struct jobs *j, char *err, size_t err_len)
{
    for (int k = 0; k < K__COUNT; k++) {
        if (!coll_finish(&j->c[k], kinds[k].label, err, err_len)) {
            return false;
        }
    }
    return vs_finish(j, err, err_len);
}

/* A new zeroed slot at the end of the collection (NULL when out of memory). */
static struct job *coll_push(struct coll *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct job *p = realloc(c->items, cap * sizeof *p);
        if (p == NULL) {
            return NULL;
        }
        c->items = p;
        c->cap = cap;
    }
    struct job *x = &c->items[c->n++];
    memset(x, 0, sizeof *x);
    x->parent = -1;
    for (int i = 0; i < MAX_TIMES; i++) {
        x->t[i] = NULL_TIME;
    }
    return x;
}

static int vs_push(struct jobs *j, char *id, size_t len)
{
    if (j->n_vs == j->cap_vs) {
        size_t cap = j->cap_vs ? j->cap_vs * 2 : 8;
        struct vstore *p = realloc(j->vs, cap * sizeof *p);
        if (p == NULL) {
            free(id);
            return -1;
        }
        j->vs = p;
        j->cap_vs = cap;
    }
    struct vstore *v = &j->vs[j->n_vs];
    v->id = id;
    v->id_len = len;
    v->id_json = quote(id, len);
    if (v->id_json == NULL) {
        free(id);
        return -1;
    }
    return (int)j->n_vs++;
}

/* ---- building objects ---- */

/* The default fields of kind k updated with extra (may be NULL), as the
 * ",\"k\":v..." text written after the native fields. */
static char *make_rest(int k, json_t *extra)
{
    json_t *d = json_loads(kinds[k].defaults, 0, NULL);
    if (d == NULL) {
        return NULL;
    }
    if (extra != NULL) {
        json_object_update(d, extra);
    }
    char *txt = json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(d);
    if (txt == NULL) {
        return NULL;
    }
    size_t n = strlen(txt);
    /* "{...}" becomes ",..."; "{}" becomes "" */
    if (n <= 2) {
        txt[0] = '\0';
    } else {
        txt[0] = ',';
        txt[n - 1] = '\0';
    }
    return txt;
}

/* Fills the times a seed left out, from the status. given: bitmask. */
static void fill_times(int k, struct job *x, unsigned given)
{
    const struct kind *kd = &kinds[k];
    const char *status = kd->statuses[x->status];
    for (int i = 0; kd->seeded_times[i] != NULL; i += 2) {
        const char *st = kd->seeded_times[i];
        int ti = find_namez(kd->times, kd->seeded_times[i + 1]);
        if (ti < 0 || (given & (1u << ti))) {
            continue;
        }
        if (strcmp(st, "*") == 0) {
            /* expiry: a day for batches, an hour for uploads */
            x->t[ti] = x->created_at + (k == K_BATCH ? 86400 : 3600);
        } else if (strcmp(st, status) == 0) {
            x->t[ti] = x->created_at + 60;
        }
    }
    /* a batch that got past validating started */
    int ip = find_namez(kd->times, "in_progress_at");
    if (k == K_BATCH && ip >= 0 && !(given & (1u << ip)) && x->t[ip] == NULL_TIME &&
        strcmp(status, "validating") != 0 && strcmp(status, "failed") != 0) {
        x->t[ip] = x->created_at + 1;
    }
}

static bool set_id(struct job *x, const char *id, size_t n)
{
    x->id = dup_bytes(id, n);
    x->id_len = n;
    x->id_json = x->id ? quote(id, n) : NULL;
    return x->id_json != NULL;
}

static bool parse_job(struct jobs *j, int k, json_t *obj, int parent, size_t index,
                      int64_t base, char *err, size_t err_len)
{
    const struct kind *kd = &kinds[k];
    if (!json_is_object(obj)) {
        snprintf(err, err_len, "%s[%zu]: must be an object", kd->name, index);
        return false;
    }
    struct job *x = coll_push(&j->c[k]);
    if (x == NULL) {
        snprintf(err, err_len, "out of memory");
        return false;
    }
    x->parent = parent;
    x->created_at = base;
    json_t *extra = json_object();
    unsigned given = 0;
    const char *key;
    json_t *v;
    bool ok = extra != NULL;
    json_object_foreach(obj, key, v) {
        if (!ok) {
            break;
        }
        int ti;
        if (strcmp(key, "id") == 0) {
            size_t n = json_is_string(v) ? json_string_length(v) : 0;
            if (n == 0 || memchr(json_string_value(v), '\0', n) != NULL) {
                snprintf(err, err_len, "%s[%zu]: id must be a non-empty string", kd->name, index);
                goto fail;
            }
            ok = set_id(x, json_string_value(v), n);
        } else if (strcmp(key, "status") == 0) {
            int st = json_is_string(v) ? find_namez(kd->statuses, json_string_value(v)) : -1;
            if (st < 0) {
                snprintf(err, err_len, "%s[%zu]: invalid status for a %s", kd->name, index,
                         kd->label);
                goto fail;
            }
            x->status = st;
        } else if (strcmp(key, "created_at") == 0) {
            if (!store_parse_time(v, base, &x->created_at) || x->created_at == NULL_TIME) {
                snprintf(err, err_len, "%s[%zu]: created_at must be a number", kd->name, index);
                goto fail;
            }
        } else if ((ti = find_namez(kd->times, key)) >= 0) {
            if (!store_parse_time(v, base, &x->t[ti])) {
                snprintf(err, err_len, "%s[%zu]: '%s' must be a number or null", kd->name,
                         index, key);
                goto fail;
            }
            given |= 1u << ti;
        } else if (k == K_RESPONSE && strcmp(key, "background") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, err_len, "%s[%zu]: background must be true or false", kd->name,
                         index);
                goto fail;
            }
            x->background = json_is_true(v);
        } else if (strcmp(key, "object") == 0 ||
                   (k == K_FILE_BATCH && strcmp(key, "vector_store_id") == 0)) {
            continue; /* always the kind's own, and the enclosing vector store */
        } else {
            ok = json_object_set(extra, key, v) == 0;
        }
    }
    if (ok && x->id == NULL) {
        /* no id given: a deterministic one from the kind and position */
        uint64_t rng = hash_bytes(kd->name, strlen(kd->name)) ^ ((uint64_t)index << 32) ^
                       (uint64_t)(parent + 1);
        char *id = gen_id(&rng, kd->id_prefix);
        ok = id != NULL && set_id(x, id, strlen(id));
        free(id);
    }
    if (ok) {
        x->rest = make_rest(k, extra);
        ok = x->rest != NULL;
    }
    json_decref(extra);
    if (!ok) {
        snprintf(err, err_len, "out of memory");
        return false;
    }
    fill_times(k, x, given);
    return true;
fail:
    json_decref(extra);
    return false;
}

bool jobs_load(struct jobs *j, json_t *root, int64_t base, char *err, size_t err_len)
{
    static const int plain[] = {K_BATCH, K_RESPONSE, K_FT_JOB, K_UPLOAD};
    for (size_t p = 0; p < sizeof plain / sizeof plain[0]; p++) {
        int k = plain[p];
        json_t *arr = json_object_get(root, kinds[k].name);
        if (arr == NULL) {
            continue;
        }
        if (!json_is_array(arr)) {
            snprintf(err, err_len, "\"%s\" must be an array", kinds[k].name);
            return false;
        }
        for (size_t i = 0; i < json_array_size(arr); i++) {
            if (!parse_job(j, k, json_array_get(arr, i), -1, i, base, err, err_len)) {
                return false;
            }
        }
    }
    json_t *stores = json_object_get(root, "vector_stores");
    if (stores != NULL && !json_is_array(stores)) {
        snprintf(err, err_len, "\"vector_stores\" must be an array");
        return false;
    }
    for (size_t i = 0; i < json_array_size(stores); i++) {
        json_t *jv = json_array_get(stores, i);
        json_t *jid = json_is_object(jv) ? json_object_get(jv, "id") : NULL;
        size_t n = json_is_string(jid) ? json_string_length(jid) : 0;
        if (n == 0 || memchr(json_string_value(jid), '\0', n) != NULL) {
            snprintf(err, err_len, "vector_stores[%zu]: id must be a non-empty string", i);
            return false;
        }
        char *id = dup_bytes(json_string_value(jid), n);
        int vi = id ? vs_push(j, id, n) : -1;
        if (vi < 0) {
            snprintf(err, err_len, "out of memory");
            return false;
        }
        json_t *fb = json_object_get(jv, "file_batches");
        if (fb != NULL && !json_is_array(fb)) {
            snprintf(err, err_len, "vector store '%s': file_batches must be an array",
                     j->vs[vi].id);
            return false;
        }
        for (size_t b = 0; b < json_array_size(fb); b++) {
            if (!parse_job(j, K_FILE_BATCH, json_array_get(fb, b), vi, b, base, err,
                           err_len)) {
                return false;
            }
        }
    }
    return finish_all(j, err, err_len);
}

bool jobs_generate(struct jobs *j, unsigned n, uint64_t seed, int64_t base, char *err,
                   size_t err_len)
{
    uint64_t rng = seed ^ 0x6a6f6273ULL; /* not the runs' sequence */
    unsigned n_vs = n == 0 ? 0 : (n + 9) / 10;
    for (unsigned i = 0; i < n_vs; i++) {
        char *id = gen_id(&rng, "vs_");
        if (id == NULL || vs_push(j, id, strlen(id)) < 0) {
            goto oom;
        }
    }
    for (int k = 0; k < K__COUNT; k++) {
        const struct kind *kd = &kinds[k];
        int n_status = 0;
        while (kd->statuses[n_status] != NULL) {
            n_status++;
        }
        for (unsigned i = 0; i < n; i++) {
            struct job *x = coll_push(&j->c[k]);
            if (x == NULL) {
                goto oom;
            }
            char *id = gen_id(&rng, kd->id_prefix);
            bool ok = id != NULL && set_id(x, id, strlen(id));
            free(id);
            x->rest = ok ? make_rest(k, NULL) : NULL;
            if (x->rest == NULL) {
                goto oom;
            }
            x->created_at = base - (int64_t)(rng_next(&rng) % (2 * 86400 + 1));
            /* half in the default (active) status, the rest spread */
            x->status = rng_next(&rng) % 2 ? 0 : (int)(rng_next(&rng) % (uint64_t)n_status);
            x->background = rng_next(&rng) % 4 != 0;
            if (k == K_FILE_BATCH) {
                x->parent = (int)(rng_next(&rng) % n_vs);
            }
            fill_times(k, x, 0);
        }
    }
    return finish_all(j, err, err_len);
oom:
    snprintf(err, err_len, "out of memory");
    return false;
}

void jobs_write_counts(const struct jobs *j, struct jbuf *out)
{
    for (int k = 0; k < K__COUNT; k++) {
        jb_printf(out, ",\"%s\":%zu", kinds[k].name, j->c[k].n);
    }
    jb_printf(out, ",\"vector_stores\":%zu", j->n_vs);
}

/* ---- lifecycle ---- */

static void job_refresh(int k, struct job *x, int64_t now_ms)
{
    const struct kind *kd = &kinds[k];
    if (kd->via == NULL || x->cancel_done_ms == 0 || now_ms < x->cancel_done_ms ||
        x->status != find_namez(kd->statuses, kd->via)) {
        return;
    }
    x->status = find_namez(kd->statuses, kd->final);
    int ft = find_namez(kd->times, kd->final_time);
    if (ft >= 0) {
        x->t[ft] = x->cancel_done_ms / 1000;
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

static unsigned cancel(int k, struct job *x, int64_t now_ms, int64_t delay_ms,
                       struct jbuf *out, uint64_t *cancelled)
{
    const struct kind *kd = &kinds[k];
    const char *status = kd->statuses[x->status];
    if (k == K_RESPONSE && !x->background) {
        put_error(out, "Cannot cancel a synchronous response.", NULL);
        return 400;
    }
    if (in_list(kd->cancellable, status)) {
        if (kd->via != NULL) {
            x->status = find_namez(kd->statuses, kd->via);
            int vt = find_namez(kd->times, kd->via_time);
            if (vt >= 0) {
                x->t[vt] = now_ms / 1000;
            }
            int64_t done = now_ms + delay_ms;
            x->cancel_done_ms = done > 0 ? done : 1;
        } else {
            x->status = find_namez(kd->statuses, kd->final);
            int ft = find_namez(kd->times, kd->final_time);
            if (ft >= 0) {
                x->t[ft] = now_ms / 1000;
            }
        }
        (*cancelled)++;
        return 200;
    }
    if (kd->final_is_ok && strcmp(status, kd->final) == 0) {
        return 200; /* cancelling twice is idempotent */
    }
    char msg[160];
    snprintf(msg, sizeof msg, "Cannot cancel %s with status '%s'.", kd->label, status);
    put_error(out, msg, NULL);
    return 400;
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
                     int64_t cancel_delay_ms, struct jbuf *out, uint64_t *cancelled)
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
        st = cancel(t.kind, x, now_ms, cancel_delay_ms, out, cancelled);
    }
    if (st == 200) {
        job_write(out, j, t.kind, x);
    }
    return st;
}
