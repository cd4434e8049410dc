/* jobs: the cancellable objects beyond Assistants runs — batches, background
 * responses, fine-tuning jobs, vector store file batches, uploads, eval runs — with their
 * seeds, lifecycles, JSON and API routes. Callers hold the server lock. */
#ifndef FAKEAPI_JOBS_H
#define FAKEAPI_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jbuf.h"
#include "refusal.h"

/* One percent-decoded path segment (not NUL-terminated). */
struct seg {
    const char *p;
    size_t n;
};

/* 1 when the segment is exactly the literal lit. */
bool seg_is(const struct seg *s, const char *lit);

struct jobs;

/* An API request whose path starts after the version prefix. */
struct jobs_request {
    const char *method;
    const struct seg *seg;
    size_t n;
    const char *limit; /* decoded query values; NULL when absent */
    size_t limit_len;
    const char *after;
    size_t after_len;
    const char *order; /* eval runs: "asc" (the default) or "desc" */
    size_t order_len;
    const char *status; /* eval runs: only those in this status */
    size_t status_len;
};

struct jobs *jobs_new(void);
void jobs_free(struct jobs *j);

/* Reads the optional top-level arrays "batches", "responses",
 * "fine_tuning_jobs", "vector_stores" (each {"id", "file_batches": [...]}),
 * "evals" (each {"id", "runs": [...]}) and "uploads" of a seed document.
 * Times below 1e9 are relative to base. */
bool jobs_load(struct jobs *j, json_t *root, int64_t base, char *err, size_t err_len);
/* Adds n deterministic objects of every kind with spread ages and statuses
 * (to a seed's, or to none). */
bool jobs_generate(struct jobs *j, unsigned n, uint64_t seed, int64_t base, char *err,
                   size_t err_len);

/* Writes {"batches":N,...} fields (with a leading comma) for /_fake/stats. */
void jobs_write_counts(const struct jobs *j, struct jbuf *out);

/* Answers the request when its path is one of the jobs routes: writes the body
 * and returns the HTTP status; returns 0 (writing nothing) for other paths.
 * *cancelled is incremented when a cancel changed an object. */
unsigned jobs_answer(struct jobs *j, const struct jobs_request *rq, int64_t now_ms,
                     const struct cancel_rules *rules, struct jbuf *out, uint64_t *cancelled);

/* GET /_fake/<name> with name batches, responses, fine_tuning_jobs,
 * vector_store_file_batches, uploads or eval_runs: every object of that kind as a JSON
 * array, newest first. Returns false when name is none of them. */
bool jobs_write_kind(struct jobs *j, const char *name, size_t len, int64_t now_ms,
                     struct jbuf *out);

#endif
