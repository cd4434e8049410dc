/* jobs_table: the kinds of jobs as data (statuses, times, how a cancel moves
 * them, default fields) and the records they are kept in; shared by jobs.c
 * (lifecycle, JSON, routes) and jobs_seed.c (seeds, generation). */
#ifndef FAKEAPI_JOBS_TABLE_H
#define FAKEAPI_JOBS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ids.h"
#include "jobs.h"

#define MAX_TIMES 8
#define MAX_STATUSES 8

enum kind_id { K_BATCH, K_RESPONSE, K_FT_JOB, K_FILE_BATCH, K_UPLOAD, K_EVAL_RUN, K__COUNT };

/* The parents objects are addressed under: vector stores (file batches),
 * evals (eval runs). P_NONE (0, what a kind row leaves out): no parent;
 * the arrays below keep their slot 0 unused. */
enum parent_id { P_NONE, P_VECTOR_STORE, P_EVAL, P__COUNT };

struct parent_kind {
    const char *seed_key;     /* "vector_stores" */
    const char *children_key; /* its children in a seed: "file_batches" */
    const char *label;        /* "vector store" */
    const char *field;        /* the child's field naming it: "vector_store_id" */
    const char *id_prefix;    /* generated ids */
    int child;                /* the kind of its children */
};

extern const struct parent_kind parent_kinds[P__COUNT];

struct kind {
    const char *name;      /* seed key and /_fake/<name> */
    const char *object;    /* the "object" field */
    const char *label;     /* "batch" in messages: "No batch found with id 'x'." */
    const char *a_label;   /* "a batch": the live refusal text (refusal.c) */
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
    const char *done;      /* the status of a job that ran to its end */
    const char *done_time; /* its time field, or NULL */
    bool page_ids;         /* list pages carry first_id / last_id */
    int max_limit;         /* largest list limit; 0: no list route */
    int parent;            /* enum parent_id: listed and addressed under it */
    bool filters;          /* list takes order (default asc) and status (eval runs) */
    const char *paused;    /* the status pause moves it to (fine-tuning), or NULL */
    const char *defaults;  /* every other field, a JSON object */
};


extern const struct kind kinds[K__COUNT];

/* What a job says it cost or did (jobs_cost.c). */
struct job_cost {
    int64_t counts[3];      /* batches: request_counts total, completed, failed */
    char *output_file_json; /* batches: output_file_id (quoted) once ended; NULL: null */
    int64_t trained_tokens; /* fine-tuning jobs: reported once stopped; JB_NULL_I64: null */
    unsigned given;         /* the fields the seed gave (bits of enum cost_field) */
    /* batches past validation also say their model and token usage (the
     * spec's Batch object) unless the seed gave them */
};

struct job {
    char *id;            /* raw bytes, NUL-terminated (seeds never hold NUL) */
    char *id_json;       /* quoted */
    size_t id_len;
    int parent;          /* file batches, eval runs: index of their parent; else -1 */
    int64_t created_at;
    int64_t t[MAX_TIMES];
    int64_t cancel_done_ms; /* reads the final status (cancelled) from then; 0 = never */
    int64_t cancel_delay_ms; /* seed: how long a cancel stays "via"; < 0: the server's */
    int64_t flip_back_ms;    /* seed: reads "done" this long after "cancelled"; 0 = never */
    char *rest;          /* the other fields as ",\"k\":v..." or "" */
    int status;
    bool background;     /* responses: created with background = true */
    struct job_cost cost;
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

/* The parents of one parent kind (vector stores, evals). */
struct pset {
    struct vstore *items;
    size_t n;
    size_t cap;
    struct id_index index;
};

struct jobs {
    struct coll c[K__COUNT];
    struct pset p[P__COUNT];
};

/* ---- costs (jobs_cost.c) ---- */

/* Reads key when it is a cost field of kind k (request_counts and
 * output_file_id of a batch, trained_tokens of a fine-tuning job): *handled
 * says so; false (err filled, prefixed "what: ") when its value is bad. */
bool cost_seed_field(int k, struct job *x, const char *key, json_t *v, const char *what,
                     bool *handled, char *err, size_t err_len);
/* Fills the cost fields the seed left out from the status (and the id);
 * false when out of memory. */
bool cost_defaults(int k, struct job *x);
/* Sets a response's default usage in extra (the fields written as they are)
 * unless it is there: a finished response used tokens; false when out of
 * memory. */
bool cost_default_usage(int k, const struct job *x, json_t *extra);
/* Writes the cost fields of kind k as ",\"k\":v..." as they read now. */
void cost_write(struct jbuf *b, int k, const struct job *x);
void cost_free(struct job_cost *c);

/* The position of the n bytes at s in a NULL-terminated list, or -1. */
int find_name(const char *const *names, const char *s, size_t n);
/* The same for a NUL-terminated s (NULL: -1). */
int find_namez(const char *const *names, const char *s);
/* Sorts every collection and builds the indexes; false (err filled) on a
 * duplicate id. */
bool jobs_finish(struct jobs *j, char *err, size_t err_len);

#endif
