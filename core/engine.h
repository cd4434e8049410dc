/* core/engine.h — the HTTP engine: one curl multi handle that drives every
 * transfer (with retries, backoff, timeouts, size limits and per-client
 * concurrency/rate limits) and the timers, all in the calling thread.
 * Nothing here blocks except rc_engine_poll. Plain C: never sees Lua. */
#ifndef RC_ENGINE_H
#define RC_ENGINE_H

#include <stddef.h>

#include "limiter.h"
#include "timers.h"

typedef struct rc_engine rc_engine;
typedef struct rc_transfer rc_transfer;

/* ---- timers: owned by the caller, armed in the engine's heap (timers.h) ---- */

/* (Re)arms timer to fire once, delay_s from now. fire runs inside rc_engine_poll. */
void rc_engine_timer_arm(rc_engine *e, rc_timer *timer, double delay_s);
/* Disarms; safe on an idle timer. */
void rc_engine_timer_disarm(rc_engine *e, rc_timer *timer);

/* ---- requests and responses ---- */

typedef enum {
    RC_OK = 0,
    RC_ERR_CONNECTION,   /* refused, reset, closed early, truncated body, DNS */
    RC_ERR_TIMEOUT,      /* connect or per-attempt timeout */
    RC_ERR_TOO_LARGE,    /* body over max_bytes: refused, not retried */
    RC_ERR_TRANSPORT,    /* anything else (TLS verification, bad encoding) */
    RC_ERR_RATE_LIMITED, /* the account's rate limit held it past max_rate_limit_wait
                          * (status: the last 429's, or 0 when never sent) */
    RC_ERR_NOT_SENT      /* never sent: the account has no quota left */
} rc_error;

typedef struct rc_header {
    char *name;                 /* lower case */
    char *value;                /* trimmed */
} rc_header;

/* A refcounted, immutable list of header lines shared by many requests (a
 * client's fixed headers): built once, linked under each request's own lines. */
typedef struct rc_header_set rc_header_set;

/* Builds a set from "Name: value" lines; NULL with err filled when a line is
 * invalid (CR, LF, bad name) or on ENOMEM. */
rc_header_set *rc_header_set_new(const char *const *lines, size_t n, char *err, size_t errsz);
/* Drops the creator's reference; requests keep theirs until they end. */
void rc_header_set_release(rc_header_set *set);

/* The cap on a wait between attempts when a request names none (or <= 0).
 * The one place this default is written: lua/ reads it from here. */
#define RC_DEFAULT_MAX_RETRY_DELAY_S 60.0

typedef struct rc_request {
    const char *method;         /* "GET", "POST", "DELETE", ... */
    const char *url;            /* absolute http:// or https:// URL, already escaped */
    const char *const *headers; /* "Name: value" lines, sent as given; "Name:" with
                                 * nothing after the colon sends no such header
                                 * ("Expect:", "Content-Type:": curl adds none of its own) */
    size_t n_headers;
    rc_header_set *shared_headers;  /* sent after headers, or NULL */
    const char *body;           /* may be NULL; copied */
    size_t body_len;
    double timeout_s;           /* per attempt, body included; 0 = none */
    double connect_timeout_s;   /* 0 = curl's default */
    size_t max_bytes;           /* largest accepted body; 0 = unlimited */
    int max_retries;            /* retries after the first attempt */
    double max_retry_delay_s;   /* cap on any wait between attempts; <= 0: the default */
    const char *ca_file;        /* extra CA bundle, or NULL */
    const char *proxy;          /* NULL: libcurl's choice (http_proxy, HTTPS_PROXY,
                                 * ALL_PROXY, NO_PROXY from the environment);
                                 * "": no proxy; else this proxy */
    rc_limiter *limiter;        /* concurrency/rate limits, or NULL; with a pace
                                 * (rc_limiter_set_pace), a 429 slows the pace
                                 * and re-queues the request, not counted as a retry */
    double max_rate_limit_wait_s;   /* the longest a request waits out the account's
                                     * rate limit (429s, the server's pause) in all;
                                     * <= 0: timeout_s, or 600 s without one */
    int final_cannot_cancel;    /* a cancel: a 400/409 "Cannot cancel ..." is not retried
                                   (unless x-should-retry: true); see rc_wire_is_final_cannot_cancel */
    const char *secret;         /* the key the request carries, or NULL: masked ('*') wherever
                                 * the answer echoes it (body, headers, message, log lines),
                                 * so no caller or script reads it back; copied */
} rc_request;

typedef struct rc_response {
    long status;                /* HTTP status; 0 when no complete response */
    rc_header *headers;         /* of the final attempt */
    size_t n_headers;
    char *body;                 /* NUL-terminated, never NULL once done */
    size_t body_len;
    rc_error error;
    char message[256];          /* set when error != RC_OK */
    int attempts;
    double elapsed_s;           /* first attempt start to completion */
    int retryable;              /* the last failure was of a retryable kind */
    int rate_limited;           /* of the attempts, 429s waited out behind the pace:
                                 * refused, so none of them was applied */
} rc_response;

typedef void (*rc_done_fn)(rc_transfer *t, void *ud);
typedef void (*rc_log_fn)(void *ud, const char *line);

enum { RC_LOG_OFF = 0, RC_LOG_INFO = 1, RC_LOG_DEBUG = 2 };

/* ---- engine ---- */

rc_engine *rc_engine_new(void);
/* Frees the engine. Every transfer and limiter must have been freed first. */
void rc_engine_free(rc_engine *e);
void rc_engine_set_log(rc_engine *e, int level, rc_log_fn fn, void *ud);

/* Waits at most timeout_ms (negative: until something happens) for network
 * activity or a timer, then completes transfers and fires timers. done
 * callbacks and timer callbacks run inside this call. Returns the number of
 * live transfers plus armed timers (0: nothing left to wait for). */
int rc_engine_poll(rc_engine *e, int timeout_ms);
/* The same, bounded: once rc_now() passes deadline (0: none) it hands no more
 * ready sockets to libcurl in this call (after at least one) and does not
 * wait; what is left is picked up by the next call, in order. */
int rc_engine_poll_until(rc_engine *e, int timeout_ms, double deadline);
int rc_engine_pending(const rc_engine *e);

typedef struct rc_engine_stats {
    int starting;               /* transfers submitted, not handed to libcurl yet */
    unsigned long deferred;     /* polls that stopped at their deadline with ready
                                 * sockets or queued starts left for the next */
} rc_engine_stats;
void rc_engine_get_stats(const rc_engine *e, rc_engine_stats *out);

/* Starts a transfer (or queues it behind its limiter). On an invalid request
 * returns NULL and writes why into err. The caller owns the transfer: done is
 * called exactly once, from rc_engine_poll, unless the transfer is freed first. */
rc_transfer *rc_engine_submit(rc_engine *e, const rc_request *req,
                              rc_done_fn done, void *ud, char *err, size_t errsz);
/* Cancels if still live (no callback), then frees. */
void rc_transfer_free(rc_transfer *t);
const rc_response *rc_transfer_response(const rc_transfer *t);
int rc_transfer_is_done(const rc_transfer *t);

/* Value of a response header by lower-case name, or NULL. */
const char *rc_response_header(const rc_response *r, const char *name);
/* All of r's headers as one block: each name and its value as r->headers has
 * them, each followed by a NUL, in the order received; *len bytes. */
const char *rc_response_header_block(const rc_response *r, size_t *len);

/* ---- limiter (limiter.h): bounds concurrency and pace of the transfers that share it ---- */

/* max_in_flight <= 0 means unbounded; rate <= 0 means unpaced (requests/s).
 * Release with rc_limiter_release; transfers keep it alive until they end. */
rc_limiter *rc_limiter_new(rc_engine *e, int max_in_flight, double rate);

/* The pace of one account (an API key's credential line) at one base URL,
 * shared by every limiter given it: made on first use, kept until the
 * engine is freed (the credential copy is wiped then). A new reference, or
 * NULL on ENOMEM. */
rc_pace *rc_engine_pace(rc_engine *e, const char *account, const char *base_url);

/* interrupted() returning 1 (Ctrl-C) makes the next poll give up, once,
 * every request still waiting for an account's pace: they end unsent
 * (RC_ERR_NOT_SENT, "not sent: interrupted ..."), so a long pause of the
 * server's does not hold the process. */
void rc_engine_set_interrupt(rc_engine *e, int (*interrupted)(void));

/* ---- helpers ---- */

double rc_now(void);            /* monotonic seconds */
double rc_random(rc_engine *e); /* uniform in [0,1) */
/* Writes n random bytes as 2n lowercase hex chars plus NUL into out. */
void rc_random_hex(char *out, size_t n);

#endif
