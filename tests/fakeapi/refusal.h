/* refusal: how a server answers a cancel that the object's status no longer
 * allows, in each style of server the fake can play (--cancel-style). */
#ifndef FAKEAPI_REFUSAL_H
#define FAKEAPI_REFUSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jbuf.h"

enum cancel_style {
    /* this fake's first answers: 400 "Cannot cancel batch with status 'x'."
     * (no article) for every kind, 200 for a response already cancelled */
    CANCEL_LEGACY,
    /* api.openai.com (../shared/API-FACTS.md): a batch 409 "Cannot cancel a
     * batch with status 'x'.", a run 400, everything else 400 */
    CANCEL_LIVE,
    /* some compatible servers: every refusal 400, with the live texts */
    CANCEL_400,
    /* sglang, some hosted docs: 200 with the object unchanged */
    CANCEL_200,
    /* llama-stack: as live, and a finished background response 409 */
    CANCEL_409,
    CANCEL__COUNT
};

/* How cancels go now: the style of refusals and how long a cancel that
 * passes through "cancelling" stays there (--cancel-style, --cancel-delay-ms,
 * POST /_fake/config). */
struct cancel_rules {
    int style;
    int64_t delay_ms;
};

/* The style the server starts in (--cancel-style overrides it). */
#define CANCEL_STYLE_DEFAULT CANCEL_LIVE

/* The style named by n bytes at s ("legacy", "live", "400", "200", "409"),
 * or -1. */
int cancel_style_parse(const char *s, size_t n);
const char *cancel_style_name(int style);

/* The object whose cancel is refused. */
struct refused {
    const char *kind;     /* "run", "batch", "response", "fine-tuning job", ... */
    const char *a_kind;   /* with its article: "a batch", "an upload" */
    const char *status;   /* its status now */
    bool finished;        /* in a final status (not cancelling) */
};

/* Writes the error a server of this style answers and returns its status,
 * or returns 0 (writing nothing) when it answers 200 with the object as is. */
unsigned refuse_cancel(int style, const struct refused *o, struct jbuf *out);

#endif
