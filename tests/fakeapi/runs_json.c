/* runs_json: a run, a page of a thread's runs and all its runs, written as
 * the API writes them (statuses applied lazily as they are written). */
#include "store.h"

/* The statuses as JSON strings, in enum run_status order. */
static const char *const status_json[ST__COUNT] = {
    "\"queued\"",    "\"in_progress\"", "\"requires_action\"",
    "\"cancelling\"", "\"cancelled\"",  "\"failed\"",
    "\"completed\"", "\"incomplete\"",  "\"expired\"",
};

void run_write_json(struct jbuf *b, const struct run *r)
{
    jb_reserve(b, 1024);
    JB_LIT(b, "{\"id\":");
    jb_puts(b, r->id_json);
    JB_LIT(b, ",\"object\":");
    jb_puts(b, r->f[F_OBJECT]);
    JB_LIT(b, ",\"created_at\":");
    jb_i64_or_null(b, r->t[T_CREATED]);
    JB_LIT(b, ",\"thread_id\":");
    jb_puts(b, r->thread->id_json);
    JB_LIT(b, ",\"assistant_id\":");
    jb_puts(b, r->f[F_ASSISTANT_ID]);
    JB_LIT(b, ",\"status\":");
    jb_puts(b, status_json[r->status]);
    JB_LIT(b, ",\"required_action\":");
    jb_puts(b, r->f[F_REQUIRED_ACTION]);
    JB_LIT(b, ",\"last_error\":");
    jb_puts(b, r->f[F_LAST_ERROR]);
    JB_LIT(b, ",\"expires_at\":");
    jb_i64_or_null(b, r->t[T_EXPIRES]);
    JB_LIT(b, ",\"started_at\":");
    jb_i64_or_null(b, r->t[T_STARTED]);
    JB_LIT(b, ",\"cancelled_at\":");
    jb_i64_or_null(b, r->t[T_CANCELLED]);
    JB_LIT(b, ",\"failed_at\":");
    jb_i64_or_null(b, r->t[T_FAILED]);
    JB_LIT(b, ",\"completed_at\":");
    jb_i64_or_null(b, r->t[T_COMPLETED]);
    JB_LIT(b, ",\"incomplete_details\":");
    jb_puts(b, r->f[F_INCOMPLETE_DETAILS]);
    JB_LIT(b, ",\"model\":");
    jb_puts(b, r->f[F_MODEL]);
    JB_LIT(b, ",\"instructions\":");
    jb_puts(b, r->f[F_INSTRUCTIONS]);
    JB_LIT(b, ",\"tools\":");
    jb_puts(b, r->f[F_TOOLS]);
    JB_LIT(b, ",\"metadata\":");
    jb_puts(b, r->f[F_METADATA]);
    JB_LIT(b, ",\"usage\":");
    jb_puts(b, r->f[F_USAGE]);
    JB_LIT(b, ",\"temperature\":");
    jb_puts(b, r->f[F_TEMPERATURE]);
    JB_LIT(b, ",\"top_p\":");
    jb_puts(b, r->f[F_TOP_P]);
    JB_LIT(b, ",\"max_prompt_tokens\":");
    jb_puts(b, r->f[F_MAX_PROMPT_TOKENS]);
    JB_LIT(b, ",\"max_completion_tokens\":");
    jb_puts(b, r->f[F_MAX_COMPLETION_TOKENS]);
    JB_LIT(b, ",\"truncation_strategy\":");
    jb_puts(b, r->f[F_TRUNCATION_STRATEGY]);
    JB_LIT(b, ",\"response_format\":");
    jb_puts(b, r->f[F_RESPONSE_FORMAT]);
    JB_LIT(b, ",\"tool_choice\":");
    jb_puts(b, r->f[F_TOOL_CHOICE]);
    JB_LIT(b, ",\"parallel_tool_calls\":");
    jb_puts(b, r->f[F_PARALLEL_TOOL_CALLS]);
    if (r->extra != NULL) {
        jb_puts(b, r->extra);
    }
    jb_putc(b, '}');
}

void thread_write_list(struct jbuf *b, struct thread *t,
                       const struct list_params *p, int64_t now_ms)
{
    size_t n = t->n_runs;
    /* work in "order space": k-th item of the chosen order */
    size_t lo = 0;
    size_t hi = n;
    bool empty = false;
    if (p->after != NULL) {
        struct run *r = thread_find_run(t, p->after, p->after_len);
        if (r == NULL) {
            empty = true;
        } else {
            size_t k = p->asc ? r->pos : n - 1 - r->pos;
            lo = k + 1;
        }
    }
    if (p->before != NULL) {
        struct run *r = thread_find_run(t, p->before, p->before_len);
        if (r == NULL) {
            empty = true;
        } else {
            size_t k = p->asc ? r->pos : n - 1 - r->pos;
            if (k < hi) {
                hi = k;
            }
        }
    }
    size_t start = 0;
    size_t end = 0;
    bool has_more = false;
    if (!empty && lo < hi) {
        size_t limit = (size_t)p->limit;
        if (p->before != NULL) {
            end = hi;
            start = hi - lo > limit ? hi - limit : lo;
            has_more = start > lo;
        } else {
            start = lo;
            end = hi - lo > limit ? lo + limit : hi;
            has_more = end < hi;
        }
    }
    JB_LIT(b, "{\"object\":\"list\",\"data\":[");
    for (size_t k = start; k < end; k++) {
        struct run *r = &t->runs[p->asc ? k : n - 1 - k];
        run_refresh(r, now_ms);
        if (k > start) {
            jb_putc(b, ',');
        }
        run_write_json(b, r);
    }
    JB_LIT(b, "],\"first_id\":");
    if (start < end) {
        jb_puts(b, t->runs[p->asc ? start : n - 1 - start].id_json);
    } else {
        JB_LIT(b, "null");
    }
    JB_LIT(b, ",\"last_id\":");
    if (start < end) {
        jb_puts(b, t->runs[p->asc ? end - 1 : n - end].id_json);
    } else {
        JB_LIT(b, "null");
    }
    if (has_more) {
        JB_LIT(b, ",\"has_more\":true}");
    } else {
        JB_LIT(b, ",\"has_more\":false}");
    }
}

void thread_write_all(struct jbuf *b, struct thread *t, int64_t now_ms)
{
    jb_putc(b, '[');
    for (uint32_t i = 0; i < t->n_runs; i++) {
        run_refresh(&t->runs[i], now_ms);
        if (i > 0) {
            jb_putc(b, ',');
        }
        run_write_json(b, &t->runs[i]);
    }
    jb_putc(b, ']');
}
