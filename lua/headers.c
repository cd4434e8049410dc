/* lua/headers.c — the header lines a request sends, decided in one place
 * (rc_build_headers) from its sources. */
#include "l_core_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- header lines: the one place that decides what a request sends ----
 *
 * Sources, in this order; a later source's line replaces the earlier lines
 * of the same name (names compare without regard to case):
 *   1. credentials: "Authorization: Bearer KEY" or "api-key: KEY" (clients)
 *   2. the client's lines: Accept, User-Agent, OpenAI-Organization,
 *      OpenAI-Project, then the client's own headers
 *   3. OpenAI-Beta, when the endpoint (or client:request's beta) has one
 *   4. the call's own headers (opts.headers; http.request's headers)
 * then, unless a source named them: Content-Type: application/json on a
 * client request with a body, and an Idempotency-Key on every client request
 * that is not a GET. A line "Name:" with nothing after the colon sends no
 * such header (a header given as false); "Expect:" always, and
 * "Content-Type:" on a POST or a body without one, keep the HTTP library from
 * adding its own. A client keeps sources 1-3 per beta value in a shared set
 * (rc_header_set) built once; a request then adds only the finishing lines. */

static size_t name_len(const char *line)
{
    const char *colon = strchr(line, ':');
    return colon != NULL ? (size_t)(colon - line) : strlen(line);
}

static int names_match(const char *line, const char *name, size_t n)
{
    return name_len(line) == n && strncasecmp(line, name, n) == 0;
}

int rc_has_name(const header_lines *h, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->n; i++)
        if (names_match(h->line[i], name, n))
            return 1;
    return 0;
}

/* Appends line, dropping the earlier lines of its name. */
static void put_line(header_lines *h, const char *line)
{
    size_t n = name_len(line), kept = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!names_match(h->line[i], line, n))
            h->line[kept++] = h->line[i];
    h->n = kept;
    if (h->n < MAX_LINES)
        h->line[h->n++] = line;
}

/* Writes "name: value" into buf (room bytes); NULL when it does not fit.
 * By hand, not snprintf: an Idempotency-Key line is composed per request. */
static const char *compose(char *buf, size_t room, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (nl + vl + 3 > room)
        return NULL;
    memcpy(buf, name, nl);
    memcpy(buf + nl, ": ", 2);
    memcpy(buf + nl + 2, value, vl + 1);
    return buf;
}

/* Appends the finishing lines: an Idempotency-Key and a Content-Type unless
 * the lines before them (the sources) named one, and "Expect:". Returns 0, or
 * -1 with why written. */
int rc_add_finishing_lines(const header_sources *s, int has_content_type, int has_idempotency,
                           header_lines *out, char *why, size_t whysz)
{
    int get = strcmp(s->method, "GET") == 0;
    if (s->api && !get && !has_idempotency && s->idempotency_key != NULL) {
        const char *line = compose(out->idempotency, sizeof out->idempotency, "Idempotency-Key",
                                   s->idempotency_key);
        if (line == NULL) {
            snprintf(why, whysz, "idempotency_key is too long (at most %d bytes)", 255);
            return -1;
        }
        out->line[out->n++] = line;
    }
    if (!has_content_type && s->api && s->has_body)
        out->line[out->n++] = "Content-Type: application/json";
    else if (!has_content_type && (s->has_body || strcmp(s->method, "POST") == 0))
        out->line[out->n++] = "Content-Type:";
    out->line[out->n++] = "Expect:";
    return 0;
}

/* Fills out with the lines of the part asked for: everything, or the shared
 * part (sources 1-3). Returns 0, or -1 with why written. */
int rc_build_headers(const header_sources *s, enum header_part part, header_lines *out,
                     char *why, size_t whysz)
{
    out->n = 0;
    if (s->credential != NULL)
        put_line(out, s->credential);
    for (size_t i = 0; i < s->n_client; i++)
        put_line(out, s->client[i]);
    if (s->beta != NULL) {
        const char *line = compose(out->beta, sizeof out->beta, "OpenAI-Beta", s->beta);
        if (line == NULL) {
            snprintf(why, whysz, "the OpenAI-Beta value is too long (at most %d bytes)", 255);
            return -1;
        }
        put_line(out, line);
    }
    if (part == HEADERS_SHARED)
        return 0;
    for (size_t i = 0; i < s->n_call; i++)
        put_line(out, s->call[i]);
    return rc_add_finishing_lines(s, rc_has_name(out, "Content-Type"), rc_has_name(out, "Idempotency-Key"),
                               out, why, whysz);
}
