/* core/engine_int.h — private to the engine's files (engine.c, transfer.c,
 * respbuf.c): the engine's and a transfer's structs, and the helpers they share. */
#ifndef RC_ENGINE_INT_H
#define RC_ENGINE_INT_H

#include "engine.h"
#include "limiter.h"

#include <curl/curl.h>
#include <stdint.h>

struct rc_engine {
    CURLM *multi;
    CURLSH *share;              /* TLS sessions and DNS answers, shared by every transfer */
    int epfd;                   /* the sockets libcurl wants watched (on_socket) */
    double curl_due;            /* when libcurl wants its timeout action; < 0: never */
    int live;                   /* transfers submitted and not yet done */
    rc_timer_heap timers;
    uint64_t rng;
    int log_level;
    rc_log_fn log;
    void *log_ud;
    rc_transfer *start_head, *start_tail;   /* T_STARTING transfers, oldest first */
    int n_starting;
    unsigned long deferred;     /* polls that left work to the next at their deadline */
    double start_cost, read_cost;   /* seconds per start and per ready socket (moving
                                     * averages): a poll with a deadline takes one only
                                     * when it should end in time */
    CURL *idle_easy[256];       /* handles kept for reuse, configured (take_easy) */
    int n_idle_easy;
    rc_transfer *idle_transfers;    /* freed transfers whose buffers are kept for reuse */
    int n_idle_transfers;
    unsigned long callbacks;    /* done and timer callbacks run so far */
    struct pace_entry *paces;   /* rc_engine_pace: one per account and base URL */
    int (*interrupted)(void);   /* rc_engine_set_interrupt */
    int interrupt_seen;
};

struct pace_entry {
    struct pace_entry *next;
    char *account, *base_url;
    rc_pace *pace;
};

struct rc_header_set {
    int refs;
    struct curl_slist *lines;
};

/* T_STARTING: in the engine's start queue, handed to libcurl by the next poll.
 * T_FAILING: given up in the limiter's queue; its timer finishes it. */
enum transfer_state { T_QUEUED, T_STARTING, T_RUNNING, T_BACKOFF, T_FAILING, T_DONE };

struct rc_transfer {
    rc_engine *engine;
    CURL *easy;
    struct curl_slist *headers;     /* this request's own lines, then the shared set */
    struct curl_slist *own_tail;    /* last own line, linked to the shared set */
    rc_header_set *shared;
    char *method;
    char *url;
    char *body;
    char *secret;               /* see rc_request; wiped when freed */
    size_t secret_len;
    int max_retries;
    double max_retry_delay_s;
    int final_cannot_cancel;    /* see rc_request */
    int sends;                  /* times curl sent this attempt's request (see on_prereq) */
    size_t max_bytes;
    rc_limiter *limiter;
    rc_limit_waiter waiter;     /* its place in the limiter's queue */
    int paced_429s;             /* 429s waited out behind the pace: not retries */
    double limited_since;       /* its first 429 (0: none) */
    double max_limited_wait;    /* see rc_request.max_rate_limit_wait_s */
    rc_transfer *idle_next;     /* in the engine's pool of freed transfers, or its start queue */
    enum transfer_state state;
    rc_timer timer;             /* backoff wait, or deferred failure */
    rc_response resp;
    size_t headers_cap, body_cap;
    char *arena;                /* the response headers' names and values */
    size_t arena_len, arena_cap;
    int too_large;
    double first_start, attempt_start;
    char errbuf[CURL_ERROR_SIZE];
    rc_done_fn done;
    void *ud;
};

/* engine.c */
void rc_log_request_headers(rc_transfer *t);
void rc_log_attempt(rc_transfer *t, const char *outcome, double retry_in, const char *why);
/* -v: the pace, when it moved by a tenth or more (not every 429). */
void rc_log_pace(rc_engine *e, rc_pace *pace);

/* respbuf.c: libcurl's write and header callbacks, and forgetting an attempt's headers */
size_t rc_on_body(char *data, size_t size, size_t nmemb, void *ud);
size_t rc_on_header(char *data, size_t size, size_t nmemb, void *ud);
void rc_clear_headers(rc_transfer *t);

/* transfer.c: what the poll loop drives */
int rc_add_next_start(rc_engine *e);
void rc_attempt_done(rc_transfer *t, CURLcode code);

#endif
