/* jobs_seed: batches, responses, fine-tuning jobs, vector store file batches,
 * uploads and eval runs from a seed document or generated, with the fields a seed left
 * out filled from the kind's table (jobs_table.h). */
#include "jobs_table.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_bytes(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static bool out_of_memory(char *err, size_t err_len)
{
    snprintf(err, err_len, "out of memory");
    return false;
}

static char *gen_id(uint64_t *rng, const char *prefix)
{
    char *d = malloc(strlen(prefix) + 24 + 1);
    if (d != NULL) {
        gen_id_into(d, rng, prefix);
    }
    return d;
}

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
    x->cancel_delay_ms = -1;
    for (int i = 0; i < MAX_TIMES; i++) {
        x->t[i] = NULL_TIME;
    }
    return x;
}

/* Adds a parent (a vector store, an eval) taking id; its index, or -1
 * (id freed) when out of memory. */
static int parent_push(struct pset *ps, char *id, size_t len)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 8;
        struct vstore *p = realloc(ps->items, cap * sizeof *p);
        if (p == NULL) {
            free(id);
            return -1;
        }
        ps->items = p;
        ps->cap = cap;
    }
    struct vstore *v = &ps->items[ps->n];
    v->id = id;
    v->id_len = len;
    v->id_json = jb_quote_dup(id, len);
    if (v->id_json == NULL) {
        free(id);
        return -1;
    }
    return (int)ps->n++;
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
    x->id_json = x->id ? jb_quote_dup(id, n) : NULL;
    return x->id_json != NULL;
}

/* A non-negative whole number of milliseconds for key, at most a day. */
static bool seed_ms(json_t *v, const char *what, const char *key, int64_t min, int64_t *out,
                    char *err, size_t err_len)
{
    if (!json_is_integer(v) || json_integer_value(v) < min ||
        json_integer_value(v) > 86400000) {
        snprintf(err, err_len, "%s: %s must be an integer from %lld to 86400000", what, key,
                 (long long)min);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

/* The fake's own seed fields: how a cancel of this job plays out. */
static bool cancel_seed_field(int k, struct job *x, const char *key, json_t *v,
                              const char *what, bool *handled, char *err, size_t err_len)
{
    *handled = true;
    if (strcmp(key, "cancel_delay_ms") == 0) {
        if (kinds[k].via == NULL) {
            snprintf(err, err_len, "%s: cancel_delay_ms applies only to batches (the kind "
                     "that passes through cancelling)", what);
            return false;
        }
        return seed_ms(v, what, key, 0, &x->cancel_delay_ms, err, err_len);
    }
    if (strcmp(key, "flip_back_ms") == 0) {
        return seed_ms(v, what, key, 1, &x->flip_back_ms, err, err_len);
    }
    *handled = false;
    return true;
}

/* One field of a seeded job: its own (id, status, times, background), the
 * fake's cancel fields, cost fields, or kept in extra to be served as given.
 * false (err filled) when it is bad. */
static bool job_field(int k, struct job *x, const char *key, json_t *v, const char *what,
                      int64_t base, unsigned *given, json_t *extra, char *err,
                      size_t err_len)
{
    const struct kind *kd = &kinds[k];
    bool handled;
    int ti;
    if (strcmp(key, "id") == 0) {
        size_t n = json_is_string(v) ? json_string_length(v) : 0;
        if (n == 0 || memchr(json_string_value(v), '\0', n) != NULL) {
            snprintf(err, err_len, "%s: id must be a non-empty string", what);
            return false;
        }
        return set_id(x, json_string_value(v), n) || out_of_memory(err, err_len);
    }
    if (strcmp(key, "status") == 0) {
        x->status = json_is_string(v) ? find_namez(kd->statuses, json_string_value(v)) : -1;
        if (x->status < 0) {
            snprintf(err, err_len, "%s: invalid status for a %s", what, kd->label);
            return false;
        }
        return true;
    }
    if (strcmp(key, "created_at") == 0) {
        if (!store_parse_time(v, base, &x->created_at) || x->created_at == NULL_TIME) {
            snprintf(err, err_len, "%s: created_at must be a number", what);
            return false;
        }
        return true;
    }
    if ((ti = find_namez(kd->times, key)) >= 0) {
        if (!store_parse_time(v, base, &x->t[ti])) {
            snprintf(err, err_len, "%s: '%s' must be a number or null", what, key);
            return false;
        }
        *given |= 1u << ti;
        return true;
    }
    if (k == K_RESPONSE && strcmp(key, "background") == 0) {
        if (!json_is_boolean(v)) {
            snprintf(err, err_len, "%s: background must be true or false", what);
            return false;
        }
        x->background = json_is_true(v);
        return true;
    }
    if (strcmp(key, "object") == 0 ||
        (kd->parent != P_NONE && strcmp(key, parent_kinds[kd->parent].field) == 0)) {
        return true; /* always the kind's own, and the enclosing parent */
    }
    bool ok = cancel_seed_field(k, x, key, v, what, &handled, err, err_len);
    if (!ok || handled) {
        return ok;
    }
    ok = cost_seed_field(k, x, key, v, what, &handled, err, err_len);
    if (!ok || handled) {
        return ok;
    }
    return json_object_set(extra, key, v) == 0 || out_of_memory(err, err_len);
}

/* The fields a seed or the generator left out: id, times, costs, the rest. */
static bool job_complete(int k, struct job *x, uint64_t id_seed, unsigned given,
                         json_t *extra, char *err, size_t err_len)
{
    if (x->id == NULL) {
        char *id = gen_id(&id_seed, kinds[k].id_prefix);
        bool ok = id != NULL && set_id(x, id, strlen(id));
        free(id);
        if (!ok) {
            return out_of_memory(err, err_len);
        }
    }
    fill_times(k, x, given);
    if (!cost_defaults(k, x) || !cost_default_usage(k, x, extra)) {
        return out_of_memory(err, err_len);
    }
    x->rest = make_rest(k, extra);
    return x->rest != NULL || out_of_memory(err, err_len);
}

static bool parse_job(struct jobs *j, int k, json_t *obj, int parent, size_t index,
                      int64_t base, char *err, size_t err_len)
{
    const struct kind *kd = &kinds[k];
    char what[96];
    snprintf(what, sizeof what, "%s[%zu]", kd->name, index);
    if (!json_is_object(obj)) {
        snprintf(err, err_len, "%s: must be an object", what);
        return false;
    }
    struct job *x = coll_push(&j->c[k]);
    json_t *extra = json_object();
    if (x == NULL || extra == NULL) {
        json_decref(extra);
        return out_of_memory(err, err_len);
    }
    x->parent = parent;
    x->created_at = base;
    unsigned given = 0;
    const char *key;
    json_t *v;
    bool ok = true;
    json_object_foreach(obj, key, v) {
        if (!(ok = job_field(k, x, key, v, what, base, &given, extra, err, err_len))) {
            break;
        }
    }
    /* no id given: a deterministic one from the kind and position */
    uint64_t id_seed = hash_bytes(kd->name, strlen(kd->name)) ^ ((uint64_t)index << 32) ^
                       (uint64_t)(parent + 1);
    ok = ok && job_complete(k, x, id_seed, given, extra, err, err_len);
    json_decref(extra);
    return ok;
}

/* A seed's parents of kind p ("vector_stores": [{"id", "file_batches": [...]}],
 * "evals": [{"id", "runs": [...]}]) and their children. */
static bool load_parents(struct jobs *j, int p, json_t *root, int64_t base, char *err,
                         size_t err_len)
{
    const struct parent_kind *pk = &parent_kinds[p];
    json_t *list = json_object_get(root, pk->seed_key);
    if (list != NULL && !json_is_array(list)) {
        snprintf(err, err_len, "\"%s\" must be an array", pk->seed_key);
        return false;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *jv = json_array_get(list, i);
        json_t *jid = json_is_object(jv) ? json_object_get(jv, "id") : NULL;
        size_t n = json_is_string(jid) ? json_string_length(jid) : 0;
        if (n == 0 || memchr(json_string_value(jid), '\0', n) != NULL) {
            snprintf(err, err_len, "%s[%zu]: id must be a non-empty string", pk->seed_key, i);
            return false;
        }
        char *id = dup_bytes(json_string_value(jid), n);
        int vi = id ? parent_push(&j->p[p], id, n) : -1;
        if (vi < 0) {
            snprintf(err, err_len, "out of memory");
            return false;
        }
        json_t *kids = json_object_get(jv, pk->children_key);
        if (kids != NULL && !json_is_array(kids)) {
            snprintf(err, err_len, "%s '%s': %s must be an array", pk->label, j->p[p].items[vi].id,
                     pk->children_key);
            return false;
        }
        for (size_t b = 0; b < json_array_size(kids); b++) {
            if (!parse_job(j, pk->child, json_array_get(kids, b), vi, b, base, err, err_len)) {
                return false;
            }
        }
    }
    return true;
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
    for (int p = P_NONE + 1; p < P__COUNT; p++) {
        if (!load_parents(j, p, root, base, err, err_len)) {
            return false;
        }
    }
    return jobs_finish(j, err, err_len);
}

bool jobs_generate(struct jobs *j, unsigned n, uint64_t seed, int64_t base, char *err,
                   size_t err_len)
{
    uint64_t rng = seed ^ 0x6a6f6273ULL; /* not the runs' sequence */
    unsigned n_parents = n == 0 ? 0 : (n + 9) / 10;
    size_t first[P__COUNT] = {0}; /* the generated parents come after a seed's */
    for (int p = P_NONE + 1; p < P__COUNT; p++) {
        first[p] = j->p[p].n;
        for (unsigned i = 0; i < n_parents; i++) {
            char *id = gen_id(&rng, parent_kinds[p].id_prefix);
            if (id == NULL || parent_push(&j->p[p], id, strlen(id)) < 0) {
                goto oom;
            }
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
            if (!ok) {
                goto oom;
            }
            x->created_at = base - (int64_t)(rng_next(&rng) % (2 * 86400 + 1));
            /* half in the default (active) status, the rest spread */
            x->status = rng_next(&rng) % 2 ? 0 : (int)(rng_next(&rng) % (uint64_t)n_status);
            x->background = rng_next(&rng) % 4 != 0;
            if (kd->parent != P_NONE) {
                x->parent = (int)(first[kd->parent] + rng_next(&rng) % n_parents);
            }
            json_t *extra = json_object();
            ok = extra != NULL && job_complete(k, x, 0, 0, extra, err, err_len);
            json_decref(extra);
            if (!ok) {
                goto oom;
            }
        }
    }
    return jobs_finish(j, err, err_len);
oom:
    snprintf(err, err_len, "out of memory");
    return false;
}

