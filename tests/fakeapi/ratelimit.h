/* ratelimit: the fake's rate-limit mode: a token bucket (rate, burst) in
 * front of every API request, the x-ratelimit-* headers on every answer, a
 * 429 with one of the retry hints the real services send, an
 * insufficient_quota switch, and per-second counts of what it let through
 * and refused (GET /_fake/ratelimit), so tests count rates at the server. */
#ifndef FAKEAPI_RATELIMIT_H
#define FAKEAPI_RATELIMIT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "jbuf.h"

/* What a 429 carries: retry-after-ms (time to the next token), retry-after
 * in whole seconds, retry-after as an HTTP date, only the x-ratelimit
 * reset header, or nothing at all. */
enum rl_hint { RL_HINT_MS, RL_HINT_SECONDS, RL_HINT_DATE, RL_HINT_RESET, RL_HINT_NONE };

struct rl_config {
    double rate;            /* tokens per second; 0: the mode is off */
    double burst;           /* bucket size */
    int hint;               /* enum rl_hint */
    bool headers;           /* x-ratelimit-* on every answer */
    bool no_quota;          /* every API request: 429 insufficient_quota */
};

#define RL_MAX_SECONDS 3600

struct ratelimit {
    pthread_mutex_t lock;
    struct rl_config startup, cfg;
    double tokens;
    int64_t last_us, t0_us;
    uint32_t admitted[RL_MAX_SECONDS], limited[RL_MAX_SECONDS];
    uint64_t total_admitted, total_limited;
};

/* The headers one answer gets (names and values; n of them). */
struct rl_headers {
    size_t n;
    char name[8][40];
    char value[8][48];
};

/* --rate-limit RATE[:BURST[:HINT[:noheaders]]] into c; false when bad. */
bool ratelimit_parse_flag(const char *spec, struct rl_config *c);
void ratelimit_init(struct ratelimit *rl, const struct rl_config *startup);
void ratelimit_free(struct ratelimit *rl);
/* Back to the start-up config, counts cleared (POST /_fake/reset). */
void ratelimit_reset(struct ratelimit *rl);
/* One API request: 0 (let through) or 429 with the error body written to
 * out; h gets the headers its answer carries, either way. */
unsigned ratelimit_take(struct ratelimit *rl, struct jbuf *out, struct rl_headers *h);
void ratelimit_add_headers(const struct rl_headers *h, struct MHD_Response *resp);
/* {"rate","burst","hint","headers","insufficient_quota"} (any subset) into
 * the live config; counts and bucket start over. false with err filled. */
bool ratelimit_configure(struct ratelimit *rl, json_t *v, char *err, size_t err_len);
/* The config, totals and per_second [[admitted, limited], ...] as JSON. */
void ratelimit_write_json(struct ratelimit *rl, struct jbuf *out);

#endif
