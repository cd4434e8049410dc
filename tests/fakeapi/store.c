/* store: threads and runs in an arena, their id indexes (ids.c), seed loading and generation,
 * run state changes; the JSON is in runs_json.c, the other cancellable objects in jobs.c. */
#include "store.h"
#include "spend.h"
#include "ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: every allocation of a store lives here, freed at once ---- */

struct chunk {
    struct chunk *next;
    size_t used;
    size_t cap;
    _Alignas(16) char data[];
};

struct store {
    struct chunk *chunks;
    struct thread *threads;
    size_t n_threads;
    struct id_index tindex; /* threads by id */
    size_t n_runs;
    struct jobs *jobs; /* batches, responses, fine-tuning jobs, ... (jobs.c) */
    struct spend *spend; /* costs and usage (spend.c) */
};

static void *arena_alloc(struct store *s, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct chunk *c = s->chunks;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > ((size_t)1 << 20) ? n : ((size_t)1 << 20);
        c = malloc(sizeof *c + cap);
        if (c == NULL) {
            return NULL;
        }
        c->used = 0;
        c->cap = cap;
        /* keep the partly used chunk first when the new one is a big one-off */
        if (s->chunks != NULL && cap == n) {
            c->next = s->chunks->next;
            s->chunks->next = c;
        } else {
            c->next = s->chunks;
            s->chunks = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static void *arena_calloc(struct store *s, size_t n)
{
    void *p = arena_alloc(s, n);
    if (p != NULL) {
        memset(p, 0, n);
    }
    return p;
}

static char *arena_strndup(struct store *s, const char *p, size_t n)
{
    char *d = arena_alloc(s, n + 1);
    if (d != NULL) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static char *arena_jstr(struct store *s, struct jbuf *tmp, const char *p,
                        size_t n)
{
    jb_reset(tmp);
    jb_jstr(tmp, p, n);
    if (tmp->oom) {
        return NULL;
    }
    return arena_strndup(s, tmp->data, tmp->len);
}

void store_free(struct store *s)
{
    if (s == NULL) {
        return;
    }
    jobs_free(s->jobs);
    spend_free(s->spend);
    struct chunk *c = s->chunks;
    while (c != NULL) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(s);
}

/* ---- id indexes (ids.c) ---- */

static struct id_key thread_key(const void *items, size_t i)
{
    const struct thread *t = &((const struct thread *)items)[i];
    return (struct id_key){t->id, t->id_len};
}

static struct id_key run_key(const void *items, size_t i)
{
    const struct run *r = &((const struct run *)items)[i];
    return (struct id_key){r->id, r->id_len};
}

/* Allocates zeroed slots in the arena and fills them; false (err filled) on
 * a duplicate, *dup being its position. */
static bool arena_index(struct store *s, struct id_index *x, const void *items, size_t n,
                        id_key_fn key, size_t *dup, char *err, size_t err_len)
{
    size_t sz = id_index_slots(n);
    x->slots = arena_calloc(s, sz * sizeof *x->slots);
    if (x->slots == NULL) {
        snprintf(err, err_len, "out of memory");
        *dup = n;
        return false;
    }
    *dup = id_index_fill(x, sz, items, n, key);
    return *dup == n;
}

struct thread *store_find_thread(struct store *s, const char *id, size_t len)
{
    long i = id_index_find(&s->tindex, s->threads, thread_key, id, len);
    return i < 0 ? NULL : &s->threads[i];
}

struct run *thread_find_run(struct thread *t, const char *id, size_t len)
{
    long i = id_index_find(&t->index, t->runs, run_key, id, len);
    return i < 0 ? NULL : &t->runs[i];
}

static bool build_thread_index(struct store *s, char *err, size_t err_len)
{
    size_t dup;
    if (arena_index(s, &s->tindex, s->threads, s->n_threads, thread_key, &dup, err,
                    err_len)) {
        return true;
    }
    if (dup < s->n_threads) {
        snprintf(err, err_len, "duplicate thread id '%s'", s->threads[dup].id);
    }
    return false;
}

static int run_cmp(const void *a, const void *b)
{
    const struct run *x = a;
    const struct run *y = b;
    if (x->t[T_CREATED] != y->t[T_CREATED]) {
        return x->t[T_CREATED] < y->t[T_CREATED] ? -1 : 1;
    }
    return id_cmp(x->id, x->id_len, y->id, y->id_len);
}

/* Sorts the runs, sets positions and builds the run index. */
static bool finish_thread(struct store *s, struct thread *t, char *err,
                          size_t err_len)
{
    if (t->n_runs == 0) {
        return true;
    }
    qsort(t->runs, t->n_runs, sizeof *t->runs, run_cmp);
    for (uint32_t k = 0; k < t->n_runs; k++) {
        t->runs[k].pos = k;
        t->runs[k].thread = t;
    }
    size_t dup;
    if (arena_index(s, &t->index, t->runs, t->n_runs, run_key, &dup, err, err_len)) {
        return true;
    }
    if (dup < t->n_runs) {
        snprintf(err, err_len, "duplicate run id '%s' in thread '%s'", t->runs[dup].id,
                 t->id);
    }
    return false;
}

/* ---- statuses and defaults ---- */

static const char *const status_names[ST__COUNT] = {
    "queued",    "in_progress", "requires_action", "cancelling", "cancelled",
    "failed",    "completed",   "incomplete",      "expired",
};

const char *status_name(int status)
{
    return (status >= 0 && status < ST__COUNT) ? status_names[status] : "?";
}

static int status_parse(const char *s)
{
    for (int i = 0; i < ST__COUNT; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

bool status_cancellable(int status)
{
    return status == ST_QUEUED || status == ST_IN_PROGRESS ||
           status == ST_REQUIRES_ACTION;
}

static bool status_active(int status)
{
    return status_cancellable(status) || status == ST_CANCELLING;
}

static const char *const field_names[F__COUNT] = {
    "object",
    "assistant_id",
    "required_action",
    "last_error",
    "incomplete_details",
    "model",
    "instructions",
    "tools",
    "metadata",
    "usage",
    "temperature",
    "top_p",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "response_format",
    "tool_choice",
    "parallel_tool_calls",
};

static const char *const time_names[T__COUNT] = {
    "created_at",   "expires_at", "started_at",
    "cancelled_at", "failed_at",  "completed_at",
};

#define DEFAULT_REQUIRED_ACTION \
    "{\"type\":\"submit_tool_outputs\",\"submit_tool_outputs\":{\"tool_calls\":[]}}"
#define DEFAULT_LAST_ERROR \
    "{\"code\":\"server_error\",\"message\":\"Sorry, something went wrong.\"}"
#define DEFAULT_INCOMPLETE "{\"reason\":\"max_completion_tokens\"}"
#define ZERO_USAGE \
    "{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}"

/* Fills whatever the seed did not give. given_t / given_f are bitmasks. */
static void run_fill_defaults(struct run *r, unsigned given_t, unsigned given_f,
                              int64_t base)
{
    int st = r->status;
    if (!(given_t & (1u << T_CREATED))) {
        r->t[T_CREATED] = base;
    }
    int64_t created = r->t[T_CREATED];
    if (!(given_t & (1u << T_EXPIRES))) {
        r->t[T_EXPIRES] = status_active(st) ? created + 600 : NULL_TIME;
    }
    if (!(given_t & (1u << T_STARTED))) {
        r->t[T_STARTED] = st != ST_QUEUED ? created + 1 : NULL_TIME;
    }
    int64_t done = (r->t[T_STARTED] != NULL_TIME ? r->t[T_STARTED] : created) + 30;
    if (!(given_t & (1u << T_CANCELLED))) {
        r->t[T_CANCELLED] = st == ST_CANCELLED ? done : NULL_TIME;
    }
    if (!(given_t & (1u << T_FAILED))) {
        r->t[T_FAILED] = st == ST_FAILED ? done : NULL_TIME;
    }
    if (!(given_t & (1u << T_COMPLETED))) {
        r->t[T_COMPLETED] = st == ST_COMPLETED ? done : NULL_TIME;
    }

    static const char *const defaults[F__COUNT] = {
        [F_OBJECT] = "\"thread.run\"",
        [F_ASSISTANT_ID] = "\"asst_default\"",
        [F_REQUIRED_ACTION] = "null",
        [F_LAST_ERROR] = "null",
        [F_INCOMPLETE_DETAILS] = "null",
        [F_MODEL] = "\"gpt-4o\"",
        [F_INSTRUCTIONS] = "\"\"",
        [F_TOOLS] = "[]",
        [F_METADATA] = "{}",
        [F_USAGE] = "null",
        [F_TEMPERATURE] = "1.0",
        [F_TOP_P] = "1.0",
        [F_MAX_PROMPT_TOKENS] = "null",
        [F_MAX_COMPLETION_TOKENS] = "null",
        [F_TRUNCATION_STRATEGY] = "{\"type\":\"auto\",\"last_messages\":null}",
        [F_RESPONSE_FORMAT] = "\"auto\"",
        [F_TOOL_CHOICE] = "\"auto\"",
        [F_PARALLEL_TOOL_CALLS] = "true",
    };
    for (int i = 0; i < F__COUNT; i++) {
        if (!(given_f & (1u << i))) {
            r->f[i] = defaults[i];
        }
    }
    if (!(given_f & (1u << F_REQUIRED_ACTION)) && st == ST_REQUIRES_ACTION) {
        r->f[F_REQUIRED_ACTION] = DEFAULT_REQUIRED_ACTION;
    }
    if (!(given_f & (1u << F_LAST_ERROR)) && st == ST_FAILED) {
        r->f[F_LAST_ERROR] = DEFAULT_LAST_ERROR;
    }
    if (!(given_f & (1u << F_INCOMPLETE_DETAILS)) && st == ST_INCOMPLETE) {
        r->f[F_INCOMPLETE_DETAILS] = DEFAULT_INCOMPLETE;
    }
    if (!(given_f & (1u << F_USAGE)) && !status_active(st)) {
        r->f[F_USAGE] = ZERO_USAGE;
    }
}

/* ---- id generation ---- */

static uint64_t rng_below(uint64_t *state, uint64_t n)
{
    return rng_next(state) % n;
}

static char *gen_id(struct store *s, uint64_t *rng, const char *prefix)
{
    char *d = arena_alloc(s, strlen(prefix) + 24 + 1);
    if (d != NULL) {
        gen_id_into(d, rng, prefix);
    }
    return d;
}

/* ---- seed documents ---- */

static char *arena_dump(struct store *s, json_t *v)
{
    char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                  JSON_REAL_PRECISION(15));
    if (txt == NULL) {
        return NULL;
    }
    char *d = arena_strndup(s, txt, strlen(txt));
    free(txt);
    return d;
}

bool store_parse_time(json_t *v, int64_t base, int64_t *out)
{
    if (json_is_null(v)) {
        *out = NULL_TIME;
        return true;
    }
    double d;
    if (json_is_integer(v)) {
        d = (double)json_integer_value(v);
    } else if (json_is_real(v)) {
        d = json_real_value(v);
    } else {
        return false;
    }
    if (d > 9e15 || d < -9e15) {
        return false;
    }
    int64_t x = (int64_t)d;
    *out = x < 1000000000 ? base + x : x;
    return true;
}

/* What parse_run gathers from a seed run's fields. */
struct run_seed {
    unsigned given_t; /* bitmask of the times given */
    unsigned given_f; /* bitmask of the fields given */
    struct jbuf extra; /* unknown fields as ",\"k\":v..." */
};

static bool out_of_memory(char *err, size_t err_len)
{
    snprintf(err, err_len, "out of memory");
    return false;
}

/* A known time or field of a run; *handled false for an unknown key. */
static bool run_known_field(struct store *s, struct run *r, struct run_seed *rs,
                            const char *key, json_t *v, int64_t base, bool *handled,
                            char *err, size_t err_len)
{
    *handled = true;
    for (int i = 0; i < T__COUNT; i++) {
        if (strcmp(key, time_names[i]) == 0) {
            if (!store_parse_time(v, base, &r->t[i])) {
                snprintf(err, err_len, "thread '%s': '%s' must be a number or null",
                         r->thread->id, key);
                return false;
            }
            rs->given_t |= 1u << i;
            return true;
        }
    }
    for (int i = 0; i < F__COUNT; i++) {
        if (strcmp(key, field_names[i]) == 0) {
            r->f[i] = arena_dump(s, v);
            rs->given_f |= 1u << i;
            return r->f[i] != NULL || out_of_memory(err, err_len);
        }
    }
    *handled = false;
    return true;
}

/* Reads one field of a seed run; false with err filled when it is bad. */
static bool run_field(struct store *s, struct jbuf *tmp, struct run *r, struct run_seed *rs,
                      const char *key, json_t *v, int64_t base, char *err, size_t err_len)
{
    const char *tid = r->thread->id;
    if (strcmp(key, "id") == 0) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            snprintf(err, err_len, "thread '%s': run id must be a non-empty string", tid);
            return false;
        }
        size_t n = json_string_length(v);
        r->id = arena_strndup(s, json_string_value(v), n);
        r->id_json = arena_jstr(s, tmp, r->id, n);
        r->id_len = (uint32_t)n;
        return (r->id != NULL && r->id_json != NULL) || out_of_memory(err, err_len);
    }
    if (strcmp(key, "thread_id") == 0) {
        return true; /* always the enclosing thread */
    }
    if (strcmp(key, "status") == 0) {
        int st = json_is_string(v) ? status_parse(json_string_value(v)) : -1;
        if (st < 0) {
            snprintf(err, err_len, "thread '%s': invalid run status", tid);
            return false;
        }
        r->status = (uint8_t)st;
        return true;
    }
    bool handled;
    bool ok = run_known_field(s, r, rs, key, v, base, &handled, err, err_len);
    if (!ok || handled) {
        return ok;
    }
    char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (txt == NULL) {
        return out_of_memory(err, err_len);
    }
    jb_putc(&rs->extra, ',');
    jb_jstrz(&rs->extra, key);
    jb_putc(&rs->extra, ':');
    jb_puts(&rs->extra, txt);
    free(txt);
    return true;
}

static bool parse_run(struct store *s, struct jbuf *tmp, struct thread *t,
                      struct run *r, size_t index, json_t *obj, int64_t base,
                      char *err, size_t err_len)
{
    if (!json_is_object(obj)) {
        snprintf(err, err_len, "thread '%s': each run must be an object", t->id);
        return false;
    }
    struct run_seed rs = {0, 0, {NULL, 0, 0, false}};
    const char *key;
    json_t *v;
    r->status = ST_QUEUED;
    r->thread = t;
    bool ok = true;
    json_object_foreach(obj, key, v) {
        if (!(ok = run_field(s, tmp, r, &rs, key, v, base, err, err_len))) {
            break;
        }
    }
    if (ok && r->id == NULL) {
        /* no id given: a deterministic one from the thread id and position */
        uint64_t rng = hash_bytes(t->id, t->id_len) ^ ((uint64_t)index << 32);
        r->id = gen_id(s, &rng, "run_");
        r->id_len = r->id ? (uint32_t)strlen(r->id) : 0;
        r->id_json = r->id ? arena_jstr(s, tmp, r->id, r->id_len) : NULL;
        ok = r->id_json != NULL || out_of_memory(err, err_len);
    }
    if (ok && rs.extra.oom) {
        ok = out_of_memory(err, err_len);
    }
    if (ok && rs.extra.len > 0) {
        r->extra = arena_strndup(s, rs.extra.data, rs.extra.len);
        ok = r->extra != NULL || out_of_memory(err, err_len);
    }
    jb_free(&rs.extra);
    if (ok) {
        run_fill_defaults(r, rs.given_t, rs.given_f, base);
    }
    return ok;
}

static struct store *store_new(size_t n_threads, char *err, size_t err_len)
{
    struct store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->jobs = jobs_new()) == NULL || (s->spend = spend_new()) == NULL) {
        if (s != NULL) {
            jobs_free(s->jobs);
        }
        free(s);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->n_threads = n_threads;
    if (n_threads > 0) {
        s->threads = arena_calloc(s, n_threads * sizeof *s->threads);
        if (s->threads == NULL) {
            snprintf(err, err_len, "out of memory");
            store_free(s);
            return NULL;
        }
    }
    return s;
}

struct store *store_from_json(json_t *root, int64_t base, char *err,
                              size_t err_len)
{
    /* every top-level array is optional: a seed may hold only batches */
    json_t *threads = json_is_object(root) ? json_object_get(root, "threads") : NULL;
    if (!json_is_object(root)) {
        snprintf(err, err_len, "seed must be a JSON object");
        return NULL;
    }
    if (threads != NULL && !json_is_array(threads)) {
        snprintf(err, err_len, "\"threads\" must be an array");
        return NULL;
    }
    struct store *s = store_new(json_array_size(threads), err, err_len);
    if (s == NULL) {
        return NULL;
    }
    struct jbuf tmp;
    jb_init(&tmp);
    for (size_t k = 0; k < s->n_threads; k++) {
        json_t *jt = json_array_get(threads, k);
        struct thread *t = &s->threads[k];
        json_t *jid = json_is_object(jt) ? json_object_get(jt, "id") : NULL;
        if (!json_is_string(jid) || json_string_length(jid) == 0) {
            snprintf(err, err_len, "threads[%zu]: id must be a non-empty string", k);
            goto fail;
        }
        size_t n = json_string_length(jid);
        t->id = arena_strndup(s, json_string_value(jid), n);
        t->id_json = t->id ? arena_jstr(s, &tmp, t->id, n) : NULL;
        t->id_len = (uint32_t)n;
        if (t->id_json == NULL) {
            snprintf(err, err_len, "out of memory");
            goto fail;
        }
        json_t *runs = json_object_get(jt, "runs");
        if (runs != NULL && !json_is_array(runs)) {
            snprintf(err, err_len, "thread '%s': runs must be an array", t->id);
            goto fail;
        }
        t->n_runs = (uint32_t)json_array_size(runs);
        if (t->n_runs > 0) {
            t->runs = arena_calloc(s, t->n_runs * sizeof *t->runs);
            if (t->runs == NULL) {
                snprintf(err, err_len, "out of memory");
                goto fail;
            }
        }
        for (uint32_t i = 0; i < t->n_runs; i++) {
            if (!parse_run(s, &tmp, t, &t->runs[i], i, json_array_get(runs, i),
                           base, err, err_len)) {
                goto fail;
            }
        }
        if (!finish_thread(s, t, err, err_len)) {
            goto fail;
        }
        s->n_runs += t->n_runs;
    }
    if (!build_thread_index(s, err, err_len) || !jobs_load(s->jobs, root, base, err, err_len) ||
        !spend_load(s->spend, root, base, err, err_len)) {
        goto fail;
    }
    jb_free(&tmp);
    return s;
fail:
    jb_free(&tmp);
    store_free(s);
    return NULL;
}

/* ---- generated stores ---- */

/* ids are plain alnum, so the JSON form is just the quoted id */
static char *quote_plain(struct store *s, const char *id, size_t n)
{
    char *d = arena_alloc(s, n + 3);
    if (d != NULL) {
        d[0] = '"';
        memcpy(d + 1, id, n);
        d[n + 1] = '"';
        d[n + 2] = '\0';
    }
    return d;
}

static int pick_status(uint64_t *rng)
{
    static const struct {
        int status;
        int pct;
    } spread[] = {
        {ST_IN_PROGRESS, 35}, {ST_QUEUED, 15},   {ST_REQUIRES_ACTION, 10},
        {ST_COMPLETED, 20},   {ST_CANCELLED, 8}, {ST_FAILED, 7},
        {ST_EXPIRED, 3},      {ST_INCOMPLETE, 2},
    };
    int x = (int)rng_below(rng, 100);
    for (size_t i = 0; i < sizeof spread / sizeof spread[0]; i++) {
        if (x < spread[i].pct) {
            return spread[i].status;
        }
        x -= spread[i].pct;
    }
    return ST_IN_PROGRESS;
}

struct store *store_generate(unsigned n_threads, unsigned n_runs,
                             uint64_t seed, int64_t base, char *err,
                             size_t err_len)
{
    static const char *const assistants[] = {"\"asst_A\"", "\"asst_B\"",
                                             "\"asst_C\""};
    static const char *const models[] = {"\"gpt-4o\"", "\"gpt-4o-mini\"",
                                         "\"gpt-4.1\""};
    static const char *const metadata[] = {"{}", "{\"env\":\"prod\"}",
                                           "{\"env\":\"staging\"}"};
    struct store *s = store_new(n_threads, err, err_len);
    if (s == NULL) {
        return NULL;
    }
    uint64_t rng = seed;
    for (unsigned k = 0; k < n_threads; k++) {
        struct thread *t = &s->threads[k];
        char *tid = gen_id(s, &rng, "thread_");
        t->id = tid;
        t->id_len = tid ? (uint32_t)strlen(tid) : 0;
        t->id_json = tid ? quote_plain(s, tid, t->id_len) : NULL;
        t->n_runs = n_runs;
        t->runs = n_runs ? arena_calloc(s, (size_t)n_runs * sizeof *t->runs) : NULL;
        if (t->id_json == NULL || (n_runs && t->runs == NULL)) {
            goto oom;
        }
        for (unsigned i = 0; i < n_runs; i++) {
            struct run *r = &t->runs[i];
            char *rid = gen_id(s, &rng, "run_");
            if (rid == NULL) {
                goto oom;
            }
            r->id = rid;
            r->id_len = (uint32_t)strlen(rid);
            r->id_json = quote_plain(s, rid, r->id_len);
            if (r->id_json == NULL) {
                goto oom;
            }
            r->thread = t;
            r->status = (uint8_t)pick_status(&rng);
            int64_t created = base - (int64_t)rng_below(&rng, 2 * 86400 + 1);
            r->t[T_CREATED] = created;
            unsigned given_t = 1u << T_CREATED;
            unsigned given_f = (1u << F_ASSISTANT_ID) | (1u << F_MODEL) |
                               (1u << F_METADATA);
            r->f[F_ASSISTANT_ID] = assistants[rng_below(&rng, 3)];
            r->f[F_MODEL] = models[rng_below(&rng, 3)];
            r->f[F_METADATA] = metadata[rng_below(&rng, 3)];
            if (r->status != ST_QUEUED) {
                r->t[T_STARTED] = created + 1 + (int64_t)rng_below(&rng, 5);
                given_t |= 1u << T_STARTED;
                if (!status_active(r->status)) {
                    int64_t done = r->t[T_STARTED] + 5 + (int64_t)rng_below(&rng, 300);
                    int which = r->status == ST_COMPLETED   ? T_COMPLETED
                                : r->status == ST_CANCELLED ? T_CANCELLED
                                : r->status == ST_FAILED    ? T_FAILED
                                                            : -1;
                    if (which >= 0) {
                        r->t[which] = done;
                        given_t |= 1u << which;
                    }
                    unsigned pt = 50 + (unsigned)rng_below(&rng, 2000);
                    unsigned ct = 10 + (unsigned)rng_below(&rng, 800);
                    char usage[96];
                    int n = snprintf(usage, sizeof usage,
                                     "{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
                                     "\"total_tokens\":%u}",
                                     pt, ct, pt + ct);
                    r->f[F_USAGE] = arena_strndup(s, usage, (size_t)n);
                    if (r->f[F_USAGE] == NULL) {
                        goto oom;
                    }
                    given_f |= 1u << F_USAGE;
                }
            }
            run_fill_defaults(r, given_t, given_f, base);
        }
        if (!finish_thread(s, t, err, err_len)) {
            store_free(s);
            return NULL;
        }
        s->n_runs += t->n_runs;
    }
    if (!build_thread_index(s, err, err_len)) {
        store_free(s);
        return NULL;
    }
    return s;
oom:
    snprintf(err, err_len, "out of memory");
    store_free(s);
    return NULL;
}

/* ---- accessors and state changes ---- */

bool store_generate_jobs(struct store *s, unsigned n, uint64_t seed, int64_t base,
                         char *err, size_t err_len)
{
    return jobs_generate(s->jobs, n, seed, base, err, err_len);
}

struct spend *store_spend(struct store *s)
{
    return s->spend;
}

struct jobs *store_jobs(struct store *s)
{
    return s->jobs;
}

size_t store_thread_count(const struct store *s)
{
    return s->n_threads;
}

size_t store_run_count(const struct store *s)
{
    return s->n_runs;
}

struct thread *store_thread_at(struct store *s, size_t i)
{
    return i < s->n_threads ? &s->threads[i] : NULL;
}

void run_refresh(struct run *r, int64_t now_ms)
{
    if (r->status != ST_CANCELLING || r->cancel_done_ms == 0 ||
        now_ms < r->cancel_done_ms) {
        return;
    }
    r->status = ST_CANCELLED;
    r->t[T_CANCELLED] = r->cancel_done_ms / 1000;
    r->t[T_EXPIRES] = NULL_TIME;
    if (strcmp(r->f[F_USAGE], "null") == 0) {
        r->f[F_USAGE] = ZERO_USAGE;
    }
}

void run_begin_cancel(struct run *r, int64_t done_ms)
{
    r->status = ST_CANCELLING;
    r->cancel_done_ms = done_ms > 0 ? done_ms : 1;
    r->f[F_REQUIRED_ACTION] = "null";
}
