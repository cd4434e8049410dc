/* core/ratelimit.h — the account's pace: what the server's x-ratelimit
 * headers and its 429s say about how fast one API key may send to one base
 * URL, and when the next request may start. One pace is shared by every
 * limiter (client) of that key and URL in the process (rc_engine_pace).
 * Knows nothing of HTTP transfers: the engine feeds it answers; the limiter
 * asks it when a waiter may start. Times are seconds on the caller's clock. */
#ifndef RC_RATELIMIT_H
#define RC_RATELIMIT_H

#include <stddef.h>

/* A Go duration as x-ratelimit-reset-* carry it ("1s", "6m0s", "12ms",
 * "1m30.5s", "950us", "20µs", "0"): 0 and *out seconds, or -1 when it is
 * not one, negative, or over a day (an absurd reset is ignored). */
int rc_ratelimit_duration(const char *s, double *out);

/* One family (-requests or -tokens) of x-ratelimit headers, checked: valid
 * is 1 only when limit >= 1, 0 <= remaining <= limit and reset is a duration
 * (Azure's -1/0, "abc", a huge or inconsistent value: valid 0). */
typedef struct rc_ratelimit_info {
    int valid;
    double limit, remaining, reset_s;
} rc_ratelimit_info;

void rc_ratelimit_read(const char *limit, const char *remaining, const char *reset,
                       rc_ratelimit_info *out);

/* 1 when a 429's body says the account is out of credit: its error's
 * "code" or "type" is "insufficient_quota" (body need not end in NUL). */
int rc_ratelimit_is_no_quota(const char *body, size_t len);

typedef struct rc_pace rc_pace;

/* A new pace, one reference. NULL on ENOMEM. */
rc_pace *rc_pace_new(void);
void rc_pace_retain(rc_pace *p);
void rc_pace_release(rc_pace *p);

/* When the next request may start (>= now): after the server's pause, when
 * the local mirror of the server's bucket holds a token, and, until the
 * first answer came (at most a second), not while 4 are in flight: the
 * first answers' headers tell the limit before a burst goes out. */
double rc_pace_ready_at(rc_pace *p, double now);
/* 1 while the wait is the server's (a pause or the pace), not the probe. */
int rc_pace_is_limiting(const rc_pace *p, double now);
/* 1 when the pace spaces requests (learned or adaptive). */
int rc_pace_has_rate(const rc_pace *p);
void rc_pace_started(rc_pace *p, double now);
void rc_pace_finished(rc_pace *p);

/* An answer (any status but a 429) with its headers (requests and tokens). */
void rc_pace_answered(rc_pace *p, double now, long status, const rc_ratelimit_info *requests,
                      const rc_ratelimit_info *tokens);
/* A 429 (not insufficient_quota) that arrived at now for a request started
 * at started_at; hint_s: the server's retry-after (seconds, < 0: none).
 * The pause starts now and replaces a shorter one (never stacked); the pace
 * slows down once per round of requests. */
void rc_pace_limited(rc_pace *p, double now, double started_at, double hint_s,
                     const rc_ratelimit_info *requests, const rc_ratelimit_info *tokens);
/* The account has no quota left: nothing more may be sent through it. */
void rc_pace_no_quota(rc_pace *p);
int rc_pace_has_no_quota(const rc_pace *p);

/* Whoever waits on a pace (a limiter) and must hear of Ctrl-C. */
typedef struct rc_pace_watcher {
    struct rc_pace_watcher *next, *prev;
    void (*interrupted)(void *ud);
    void *ud;
} rc_pace_watcher;
void rc_pace_watch(rc_pace *p, rc_pace_watcher *w);
void rc_pace_unwatch(rc_pace *p, rc_pace_watcher *w);
/* Ctrl-C: tells every watcher once (it drops what it holds unsent). */
void rc_pace_interrupt(rc_pace *p);

/* What a script or the progress line may read. */
typedef struct rc_pace_state {
    double pace;                /* requests/s the pace allows now; 0: not paced */
    int from_headers;           /* 1: learned from x-ratelimit headers; 0: adaptive */
    rc_ratelimit_info requests, tokens;     /* the last valid headers (valid 0: none) */
    double paused_for;          /* seconds of the server's pause left (0: none) */
    unsigned long limited;      /* 429 answers of the rate limit (not insufficient_quota's) */
    int no_quota;
    int holding;                /* the pace held a request back in the last second */
} rc_pace_state;
void rc_pace_get_state(const rc_pace *p, double now, rc_pace_state *out);

/* The pace worth telling a person about when it moved by a tenth or more
 * since the last call that returned 1 (-v logs it): 1 and *pace, else 0. */
int rc_pace_changed(rc_pace *p, double *pace);

#endif
