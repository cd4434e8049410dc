/* spend: the organization's costs and usage (GET /v1/organization/costs,
 * /v1/organization/usage/{endpoint}): entries from the seed or added while
 * running (POST /_fake/spend), summed into time buckets, grouped, filtered
 * and paged with next_page; admin-key checks with the live refusal texts. */
#ifndef FAKEAPI_SPEND_H
#define FAKEAPI_SPEND_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "jbuf.h"
#include "jobs.h"

struct spend;
struct server;
struct req;

struct spend *spend_new(void);
void spend_free(struct spend *sp);
/* Reads the seed's "costs" and "usage" arrays (times under 1e9 are relative
 * to base); false with err filled on a bad entry. */
bool spend_load(struct spend *sp, json_t *root, int64_t base, char *err, size_t err_len);

/* Whether seg[0..n) is an organization costs/usage path. */
bool spend_route(const struct seg *seg, size_t n);
/* Answers such a request (its own auth: --admin-key), writing the body. */
unsigned spend_answer(struct server *s, struct MHD_Connection *c, const struct req *r,
                      const char *method, const struct seg *seg, size_t n, struct jbuf *out);
/* Adds {"costs": [...], "usage": [...]} (times relative to now) to the
 * store's spend, all or nothing; false with err filled on a bad entry.
 * Takes s->lock. */
bool spend_add(struct server *s, json_t *v, char *err, size_t err_len);
/* /_fake/spend: GET lists the entries, POST adds {"costs": [...], "usage":
 * [...]} (times relative to now), DELETE clears them. method: 1 GET, 2 POST,
 * 4 DELETE (control.c's bits). */
unsigned spend_control(struct server *s, const struct req *r, int method, struct jbuf *out);

#endif
