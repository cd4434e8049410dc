/* store: the in-memory threads and runs, their indexes, seeds and JSON output;
 * the other cancellable objects hang off it (jobs.h). */
#ifndef FAKEAPI_STORE_H
#define FAKEAPI_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "jbuf.h"
#include "jobs.h"

#define NULL_TIME JB_NULL_I64

enum run_status {
    ST_QUEUED,
    ST_IN_PROGRESS,
    ST_REQUIRES_ACTION,
    ST_CANCELLING,
    ST_CANCELLED,
    ST_FAILED,
    ST_COMPLETED,
    ST_INCOMPLETE,
    ST_EXPIRED,
    ST__COUNT
};

/* Timestamps, stored as unix seconds or NULL_TIME. */
enum run_time {
    T_CREATED,
    T_EXPIRES,
    T_STARTED,
    T_CANCELLED,
    T_FAILED,
    T_COMPLETED,
    T__COUNT
};

/* Fields kept as ready-to-write JSON text. */
enum run_field {
    F_OBJECT,
    F_ASSISTANT_ID,
    F_REQUIRED_ACTION,
    F_LAST_ERROR,
    F_INCOMPLETE_DETAILS,
    F_MODEL,
    F_INSTRUCTIONS,
    F_TOOLS,
    F_METADATA,
    F_USAGE,
    F_TEMPERATURE,
    F_TOP_P,
    F_MAX_PROMPT_TOKENS,
    F_MAX_COMPLETION_TOKENS,
    F_TRUNCATION_STRATEGY,
    F_RESPONSE_FORMAT,
    F_TOOL_CHOICE,
    F_PARALLEL_TOOL_CALLS,
    F__COUNT
};

struct thread;

struct run {
    const char *id;      /* raw bytes, NUL-terminated (ids never hold NUL) */
    const char *id_json; /* the id as a quoted JSON string */
    uint32_t id_len;
    uint32_t pos;        /* index in thread->runs (sorted by created_at, id) */
    struct thread *thread;
    int64_t t[T__COUNT];
    int64_t cancel_done_ms; /* cancelling turns cancelled at this time; 0 = never */
    const char *f[F__COUNT];
    const char *extra;   /* unknown seed fields as ",\"k\":v..." or NULL */
    uint8_t status;
};

struct thread {
    const char *id;
    const char *id_json;
    uint32_t id_len;
    uint32_t n_runs;
    struct run *runs;    /* sorted by (created_at, id) */
    struct id_index index; /* runs by id (ids.h) */
};

struct store;

struct list_params {
    int limit;
    bool asc;
    const char *after; /* NULL when absent */
    size_t after_len;
    const char *before;
    size_t before_len;
};

/* Builds a store from a seed document. Times below 1e9 are relative to
 * base (unix seconds). On error returns NULL and fills err. */
struct store *store_from_json(json_t *root, int64_t base, char *err,
                              size_t err_len);
/* Builds a deterministic pseudo-random store. */
struct store *store_generate(unsigned n_threads, unsigned n_runs,
                             uint64_t seed, int64_t base, char *err,
                             size_t err_len);
/* Adds n generated objects of every jobs kind (batches, responses, ...). */
bool store_generate_jobs(struct store *s, unsigned n, uint64_t seed, int64_t base,
                         char *err, size_t err_len);
void store_free(struct store *s);
/* Reads a seed time: null (NULL_TIME), absolute unix seconds, or (values
 * under 1e9) seconds relative to base. Returns false when it is not a number. */
bool store_parse_time(json_t *v, int64_t base, int64_t *out);
/* The organization's costs and usage entries (spend.h). */
struct spend *store_spend(struct store *s);
/* The batches, responses, fine-tuning jobs, ... of the store. */
struct jobs *store_jobs(struct store *s);

size_t store_thread_count(const struct store *s);
size_t store_run_count(const struct store *s);
struct thread *store_thread_at(struct store *s, size_t i);
struct thread *store_find_thread(struct store *s, const char *id, size_t len);
struct run *thread_find_run(struct thread *t, const char *id, size_t len);

const char *status_name(int status);
bool status_cancellable(int status);
/* Applies the lazy cancelling -> cancelled transition. */
void run_refresh(struct run *r, int64_t now_ms);
/* Puts a run into cancelling; it reads as cancelled from done_ms on. */
void run_begin_cancel(struct run *r, int64_t done_ms);

/* ---- JSON (runs_json.c) ---- */

void run_write_json(struct jbuf *b, const struct run *r);
/* Writes a list page {"object":"list",...}; refreshes the runs it emits. */
void thread_write_list(struct jbuf *b, struct thread *t,
                       const struct list_params *p, int64_t now_ms);
/* Writes every run of the thread as a JSON array, ascending. */
void thread_write_all(struct jbuf *b, struct thread *t, int64_t now_ms);

#endif
