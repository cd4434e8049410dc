/* core/respbuf.c — a transfer's response buffers: the body, the header lines
 * (in one arena, rebased as it grows) and reading a header back. */
#include "engine_int.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ response buffers */

size_t rc_on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    rc_transfer *t = ud;
    size_t n = size * nmemb;
    size_t need = t->resp.body_len + n + 1;
    if (t->max_bytes > 0 && t->resp.body_len + n > t->max_bytes) {
        t->too_large = 1;
        return 0;               /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (need > t->body_cap) {
        size_t cap = t->body_cap ? t->body_cap : 1024;
        while (cap < need)
            cap *= 2;
        char *body = realloc(t->resp.body, cap);
        if (body == NULL)
            return 0;
        t->resp.body = body;
        t->body_cap = cap;
    }
    memcpy(t->resp.body + t->resp.body_len, data, n);
    t->resp.body_len += n;
    t->resp.body[t->resp.body_len] = '\0';
    return n;
}

void rc_clear_headers(rc_transfer *t)
{
    t->resp.n_headers = 0;
    t->arena_len = 0;
}

/* Copies s[0..n) and a NUL into the arena; on growth, moves every header
 * pointer along with it. Returns the copy, or NULL on ENOMEM. */
static char *arena_put(rc_transfer *t, const char *s, size_t n)
{
    if (t->arena_len + n + 1 > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 1024;
        while (cap < t->arena_len + n + 1)
            cap *= 2;
        /* malloc and copy, not realloc: the pointers into the old arena
         * are rebased while it still exists. */
        char *old = t->arena, *arena = malloc(cap);
        if (arena == NULL)
            return NULL;
        if (t->arena_len > 0)
            memcpy(arena, old, t->arena_len);
        for (size_t i = 0; i < t->resp.n_headers; i++) {
            rc_header *h = &t->resp.headers[i];
            h->name = arena + (h->name - old);
            if (h->value != NULL)   /* the last one's value may not be in yet */
                h->value = arena + (h->value - old);
        }
        free(old);
        t->arena = arena;
        t->arena_cap = cap;
    }
    char *copy = t->arena + t->arena_len;
    memcpy(copy, s, n);
    copy[n] = '\0';
    t->arena_len += n + 1;
    return copy;
}

size_t rc_on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    rc_transfer *t = ud;
    size_t n = size * nmemb;
    const char *name, *value;
    size_t name_len, value_len;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        rc_clear_headers(t);           /* a new response (after 100-continue) */
        return n;
    }
    if (rc_wire_header_span(data, n, &name, &name_len, &value, &value_len) != 0)
        return n;
    if (t->resp.n_headers == t->headers_cap) {
        size_t cap = t->headers_cap ? 2 * t->headers_cap : 16;
        rc_header *h = realloc(t->resp.headers, cap * sizeof *h);
        if (h == NULL)
            return 0;
        t->resp.headers = h;
        t->headers_cap = cap;
    }
    char *name_copy = arena_put(t, name, name_len);
    if (name_copy == NULL)
        return 0;
    for (size_t i = 0; i < name_len; i++)
        if (name_copy[i] >= 'A' && name_copy[i] <= 'Z')
            name_copy[i] = (char)(name_copy[i] + 32);
    rc_header *h = &t->resp.headers[t->resp.n_headers];
    h->name = name_copy;
    h->value = NULL;
    t->resp.n_headers++;            /* counted now, so a move of the arena updates it */
    char *value_copy = arena_put(t, value, value_len);
    if (value_copy == NULL)
        return 0;
    t->resp.headers[t->resp.n_headers - 1].value = value_copy;
    return n;
}

const char *rc_response_header(const rc_response *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* rc_on_header puts each name and then its value into the arena, which holds
 * nothing else: the block runs from the first name to the last value's NUL. */
const char *rc_response_header_block(const rc_response *r, size_t *len)
{
    if (r->n_headers == 0) {
        *len = 0;
        return "";
    }
    const char *last = r->headers[r->n_headers - 1].value;
    *len = (size_t)(last + strlen(last) + 1 - r->headers[0].name);
    return r->headers[0].name;
}
