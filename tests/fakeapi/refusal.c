/* refusal: how a server answers a cancel that the object's status no longer
 * allows, in each style of server the fake can play (--cancel-style). Texts
 * and statuses follow ../shared/API-FACTS.md; the unverified ones say so. */
#include "refusal.h"

#include <stdio.h>
#include <string.h>

static const char *const style_names[CANCEL__COUNT] = {
    [CANCEL_LEGACY] = "legacy", [CANCEL_LIVE] = "live", [CANCEL_400] = "400",
    [CANCEL_200] = "200",       [CANCEL_409] = "409",
};

int cancel_style_parse(const char *s, size_t n)
{
    for (int i = 0; i < CANCEL__COUNT; i++) {
        if (strlen(style_names[i]) == n && memcmp(style_names[i], s, n) == 0) {
            return i;
        }
    }
    return -1;
}

const char *cancel_style_name(int style)
{
    return style >= 0 && style < CANCEL__COUNT ? style_names[style] : "?";
}

/* What api.openai.com answers. */
static unsigned live_status(const struct refused *o)
{
    if (strcmp(o->kind, "batch") == 0) {
        return 409; /* verified: LiteLLM's live test catches a ConflictError */
    }
    if (strcmp(o->kind, "response") == 0 && strcmp(o->status, "cancelled") == 0) {
        return 0; /* unverified live: a second cancel is idempotent */
    }
    /* runs: verified 400; a finished fine-tuning job, file batch or upload:
     * unverified live, a compatible provider answers 400 */
    return 400;
}

static unsigned refusal_status(int style, const struct refused *o)
{
    bool response = strcmp(o->kind, "response") == 0;
    switch (style) {
    case CANCEL_200:
        return 0;
    case CANCEL_LEGACY:
        return response && strcmp(o->status, "cancelled") == 0 ? 0 : 400;
    case CANCEL_400:
        return 400;
    case CANCEL_409:
        return response && o->finished ? 409 : live_status(o);
    default:
        return live_status(o);
    }
}

unsigned refuse_cancel(int style, const struct refused *o, struct jbuf *out)
{
    unsigned status = refusal_status(style, o);
    if (status == 0) {
        return 0;
    }
    /* runs never had the article, live or not; the first fake left it out for all */
    bool article = style != CANCEL_LEGACY && strcmp(o->kind, "run") != 0;
    char msg[160];
    snprintf(msg, sizeof msg, "Cannot cancel %s with status '%s'.", article ? o->a_kind : o->kind,
             o->status);
    jb_error(out, msg, strlen(msg), "invalid_request_error", NULL, NULL);
    return status;
}
