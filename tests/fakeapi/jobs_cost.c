/* jobs_cost: what a job says it cost or did: a batch's request_counts,
 * output_file_id, model and usage, a fine-tuning job's trained_tokens, a
 * response's usage (an eval run's are plain seed fields, jobs.c).
 * Seed fields, defaults that fit the status, and how they read as the job
 * moves (an output file and trained tokens appear once the job stops). */
#include "jobs_table.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cost_field { COST_COUNTS = 1, COST_OUTPUT = 2, COST_TOKENS = 4, COST_USAGE = 8, COST_MODEL = 16 };

/* The model a batch says it ran on unless its seed says otherwise. */
#define BATCH_MODEL "gpt-4o-mini-2024-07-18"
/* Tokens per completed request in a batch's default usage. */
#define BATCH_IN_TOKENS 120
#define BATCH_OUT_TOKENS 40

/* Default request_counts by batch status: a hundred requests, some done. */
static const struct {
    const char *status;
    int64_t counts[3];
} batch_counts[] = {
    {"validating", {0, 0, 0}},      {"failed", {0, 0, 0}},
    {"in_progress", {100, 40, 2}},  {"cancelling", {100, 40, 2}},
    {"cancelled", {100, 40, 2}},    {"expired", {100, 60, 1}},
    {"finalizing", {100, 97, 3}},   {"completed", {100, 97, 3}},
};

/* Default trained_tokens by fine-tuning status (what it reports once stopped). */
static const struct {
    const char *status;
    int64_t tokens;
} ft_tokens[] = {
    {"validating_files", 0}, {"queued", 0},       {"running", 12000},
    {"succeeded", 48000},    {"failed", 12000},   {"cancelled", 12000},
    {"paused", 6000},
};

static bool seed_counts(struct job *x, json_t *v, const char *what, char *err,
                        size_t err_len)
{
    static const char *const names[3] = {"total", "completed", "failed"};
    if (!json_is_object(v)) {
        snprintf(err, err_len, "%s: request_counts must be an object", what);
        return false;
    }
    for (int i = 0; i < 3; i++) {
        json_t *n = json_object_get(v, names[i]);
        if (n != NULL && (!json_is_integer(n) || json_integer_value(n) < 0)) {
            snprintf(err, err_len, "%s: request_counts.%s must be an integer >= 0", what,
                     names[i]);
            return false;
        }
        x->cost.counts[i] = n != NULL ? json_integer_value(n) : 0;
    }
    return true;
}

bool cost_seed_field(int k, struct job *x, const char *key, json_t *v, const char *what,
                     bool *handled, char *err, size_t err_len)
{
    *handled = true;
    if (k == K_BATCH && strcmp(key, "request_counts") == 0) {
        x->cost.given |= COST_COUNTS;
        return seed_counts(x, v, what, err, err_len);
    }
    if (k == K_BATCH && strcmp(key, "output_file_id") == 0) {
        if (!json_is_string(v) && !json_is_null(v)) {
            snprintf(err, err_len, "%s: output_file_id must be a string or null", what);
            return false;
        }
        x->cost.given |= COST_OUTPUT;
        if (json_is_string(v)) {
            x->cost.output_file_json = jb_quote_dup(json_string_value(v), json_string_length(v));
            if (x->cost.output_file_json == NULL) {
                snprintf(err, err_len, "out of memory");
                return false;
            }
        }
        return true;
    }
    if (k == K_BATCH && (strcmp(key, "usage") == 0 || strcmp(key, "model") == 0)) {
        /* served as given (the seed's extra fields): no default beside it */
        x->cost.given |= strcmp(key, "usage") == 0 ? COST_USAGE : COST_MODEL;
        *handled = false;
        return true;
    }
    if (k == K_FT_JOB && strcmp(key, "trained_tokens") == 0) {
        if (!json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0)) {
            snprintf(err, err_len, "%s: trained_tokens must be an integer >= 0 or null", what);
            return false;
        }
        x->cost.given |= COST_TOKENS;
        x->cost.trained_tokens = json_is_null(v) ? JB_NULL_I64 : json_integer_value(v);
        return true;
    }
    *handled = false;
    return true;
}

static const char *status_of(int k, const struct job *x)
{
    return kinds[k].statuses[x->status];
}

bool cost_defaults(int k, struct job *x)
{
    const char *status = status_of(k, x);
    if (k == K_FT_JOB && !(x->cost.given & COST_TOKENS)) {
        x->cost.trained_tokens = JB_NULL_I64;
        for (size_t i = 0; i < sizeof ft_tokens / sizeof ft_tokens[0]; i++) {
            if (strcmp(status, ft_tokens[i].status) == 0) {
                x->cost.trained_tokens = ft_tokens[i].tokens;
            }
        }
    }
    if (k != K_BATCH) {
        return true;
    }
    for (size_t i = 0; !(x->cost.given & COST_COUNTS) && i < sizeof batch_counts /
                                                              sizeof batch_counts[0]; i++) {
        if (strcmp(status, batch_counts[i].status) == 0) {
            memcpy(x->cost.counts, batch_counts[i].counts, sizeof x->cost.counts);
        }
    }
    if (!(x->cost.given & COST_OUTPUT) && x->cost.counts[1] > 0) {
        /* the file the completed requests' results go to: "file-out-" + id */
        struct jbuf b;
        jb_init(&b);
        JB_LIT(&b, "file-out-");
        jb_put(&b, x->id, x->id_len);
        x->cost.output_file_json = b.oom ? NULL : jb_quote_dup(b.data, b.len);
        jb_free(&b);
        return x->cost.output_file_json != NULL;
    }
    return true;
}

bool cost_default_usage(int k, const struct job *x, json_t *extra)
{
    const char *status = status_of(k, x);
    if (k != K_RESPONSE || json_object_get(extra, "usage") != NULL ||
        (strcmp(status, "completed") != 0 && strcmp(status, "incomplete") != 0)) {
        return true;
    }
    json_t *u = json_pack("{s:i,s:{s:i},s:i,s:{s:i},s:i}", "input_tokens", 1200,
                          "input_tokens_details", "cached_tokens", 0, "output_tokens", 300,
                          "output_tokens_details", "reasoning_tokens", 0, "total_tokens",
                          1500);
    return u != NULL && json_object_set_new(extra, "usage", u) == 0;
}

/* A job that stopped: not in a status a cancel applies to, not on its way. */
static bool stopped(int k, const struct job *x)
{
    const struct kind *kd = &kinds[k];
    const char *status = status_of(k, x);
    return find_namez(kd->cancellable, status) < 0 &&
           (kd->via == NULL || strcmp(status, kd->via) != 0);
}

/* A batch past validation says its model and the tokens its completed
 * requests used (the spec's Batch object), unless the seed gave them. */
static void batch_usage(struct jbuf *b, const struct job *x)
{
    int started = find_namez(kinds[K_BATCH].times, "in_progress_at");
    if (started < 0 || x->t[started] == NULL_TIME) {
        return; /* still validating, or it never got past validation */
    }
    if (!(x->cost.given & COST_MODEL)) {
        JB_LIT(b, ",\"model\":\"" BATCH_MODEL "\"");
    }
    if (!(x->cost.given & COST_USAGE)) {
        long long in = (long long)x->cost.counts[1] * BATCH_IN_TOKENS;
        long long outt = (long long)x->cost.counts[1] * BATCH_OUT_TOKENS;
        jb_printf(b, ",\"usage\":{\"input_tokens\":%lld,\"input_tokens_details\":{\"cached_tokens\":0},"
                  "\"output_tokens\":%lld,\"output_tokens_details\":{\"reasoning_tokens\":0},"
                  "\"total_tokens\":%lld}", in, outt, in + outt);
    }
}

void cost_write(struct jbuf *b, int k, const struct job *x)
{
    if (k == K_BATCH) {
        jb_printf(b, ",\"request_counts\":{\"total\":%lld,\"completed\":%lld,\"failed\":%lld}",
                  (long long)x->cost.counts[0], (long long)x->cost.counts[1],
                  (long long)x->cost.counts[2]);
        /* the output file exists once the batch stopped with results */
        bool out = x->cost.output_file_json != NULL && stopped(k, x) &&
                   strcmp(status_of(k, x), "failed") != 0;
        JB_LIT(b, ",\"output_file_id\":");
        jb_puts(b, out ? x->cost.output_file_json : "null");
        batch_usage(b, x);
    } else if (k == K_FT_JOB) {
        JB_LIT(b, ",\"trained_tokens\":");
        jb_i64_or_null(b, stopped(k, x) ? x->cost.trained_tokens : JB_NULL_I64);
    }
}

void cost_free(struct job_cost *c)
{
    free(c->output_file_json);
    c->output_file_json = NULL;
}
