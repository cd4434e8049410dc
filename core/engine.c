/* core/engine.c — one CURLM driving transfers (through curl_multi_socket_action
 * and an epoll set, so a poll can stop between sockets), retries with backoff,
 * limits and a timer heap. */
#include "engine.h"
#include "limiter.h"
#include "ratelimit.h"
#include "url.h"
#include "wire.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>
#include <time.h>

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

/* ------------------------------------------------------------------ time, random */

double rc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got <= 0) {         /* no entropy source: fall back to the clock */
            uint64_t x = (uint64_t)(rc_now() * 1e9) ^ (uint64_t)(uintptr_t)p;
            for (; n > 0; n--, p++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                *p = (unsigned char)x;
            }
            return;
        }
        p += got;
        n -= (size_t)got;
    }
}

double rc_random(rc_engine *e)
{
    uint64_t x = e->rng;        /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    e->rng = x;
    return (double)(x >> 11) / 9007199254740992.0;
}

void rc_random_hex(char *out, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char bytes[64];
    if (n > sizeof bytes)
        n = sizeof bytes;
    fill_random(bytes, n);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ------------------------------------------------------------------ timers */

void rc_engine_timer_arm(rc_engine *e, rc_timer *timer, double delay_s)
{
    rc_timer_heap_arm(&e->timers, timer, rc_now() + (delay_s > 0 ? delay_s : 0));
}

void rc_engine_timer_disarm(rc_engine *e, rc_timer *timer)
{
    rc_timer_heap_disarm(&e->timers, timer);
}

/* ------------------------------------------------------------------ logging */

static void logf_line(rc_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_line(rc_engine *e, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    e->log(e->log_ud, line);
}

void rc_engine_set_log(rc_engine *e, int level, rc_log_fn fn, void *ud)
{
    e->log_level = fn != NULL ? level : RC_LOG_OFF;
    e->log = fn;
    e->log_ud = ud;
}

static void log_request_headers(rc_transfer *t)
{
    for (struct curl_slist *h = t->headers; h != NULL; h = h->next) {
        const char *colon = strchr(h->data, ':');
        size_t name_len = colon ? (size_t)(colon - h->data) : strlen(h->data);
        if (colon != NULL && colon[1] == '\0')
            continue;           /* "Expect:" style removals */
        if (rc_wire_is_secret_header(h->data, name_len))
            logf_line(t->engine, "  > %.*s: REDACTED", (int)name_len, h->data);
        else
            logf_line(t->engine, "  > %s", h->data);
    }
}

static void log_attempt(rc_transfer *t, const char *outcome, double retry_in, const char *why)
{
    char url[512];
    rc_url_redact(t->url, url, sizeof url);
    const char *rid = rc_response_header(&t->resp, "x-request-id");
    char tail[160] = "";
    if (retry_in >= 0)
        snprintf(tail, sizeof tail, "; retrying in %.2f s (%s)", retry_in, why);
    logf_line(t->engine, "%s %s -> %s in %.1f ms (attempt %d of %d)%s%s%s%s",
              t->method, url, outcome, (rc_now() - t->attempt_start) * 1000.0,
              t->resp.attempts, t->max_retries + 1,
              rid ? " [" : "", rid ? rid : "", rid ? "]" : "", tail);
}

/* ------------------------------------------------------------------ response buffers */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
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

static void clear_headers(rc_transfer *t)
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

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    rc_transfer *t = ud;
    size_t n = size * nmemb;
    const char *name, *value;
    size_t name_len, value_len;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        clear_headers(t);           /* a new response (after 100-continue) */
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

/* on_header puts each name and then its value into the arena, which holds
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

/* ------------------------------------------------------------------ limiter */

rc_limiter *rc_limiter_new(rc_engine *e, int max_in_flight, double rate)
{
    return rc_limiter_create(&e->timers, rc_now, max_in_flight, rate);
}

rc_pace *rc_engine_pace(rc_engine *e, const char *account, const char *base_url)
{
    if (account == NULL)
        account = "";
    for (struct pace_entry *p = e->paces; p != NULL; p = p->next)
        if (strcmp(p->account, account) == 0 && strcmp(p->base_url, base_url) == 0) {
            rc_pace_retain(p->pace);
            return p->pace;
        }
    struct pace_entry *p = calloc(1, sizeof *p);
    if (p == NULL || (p->account = strdup(account)) == NULL ||
        (p->base_url = strdup(base_url)) == NULL || (p->pace = rc_pace_new()) == NULL) {
        if (p != NULL) {
            free(p->account);
            free(p->base_url);
        }
        free(p);
        return NULL;
    }
    p->next = e->paces;
    e->paces = p;
    rc_pace_retain(p->pace);
    return p->pace;
}

static void free_paces(rc_engine *e)
{
    while (e->paces != NULL) {
        struct pace_entry *p = e->paces;
        e->paces = p->next;
        for (volatile char *c = p->account; *c; c++)
            *c = '\0';             /* a credential line: wiped */
        free(p->account);
        free(p->base_url);
        rc_pace_release(p->pace);
        free(p);
    }
}

/* ------------------------------------------------------------------ transfers */

static void reset_attempt(rc_transfer *t)
{
    clear_headers(t);
    t->resp.body_len = 0;
    if (t->resp.body != NULL)
        t->resp.body[0] = '\0';
    t->resp.status = 0;
    t->resp.error = RC_OK;
    t->resp.message[0] = '\0';
    t->too_large = 0;
    t->errbuf[0] = '\0';
    t->sends = 0;
}

/* Called by curl each time it is about to send the request. libcurl sends a
 * request again by itself when a reused connection turns out dead before
 * any answer: that resend went over the wire (it may have been applied), so
 * it counts as an attempt, and a cancel's outcome knows an earlier one may
 * have landed. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    rc_transfer *t = ud;
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    if (++t->sends > 1)
        t->resp.attempts++;
    return CURL_PREREQFUNC_OK;
}

static void finish(rc_transfer *t)
{
    t->state = T_DONE;
    t->resp.elapsed_s = rc_now() - t->first_start;
    if (t->resp.body == NULL) {
        t->resp.body = calloc(1, 1);
        if (t->resp.body == NULL)
            abort();
        t->body_cap = 1;
    }
    t->engine->live--;
    t->engine->callbacks++;
    t->done(t, t->ud);
}

static void fail_now(rc_transfer *t, rc_error err, const char *msg)
{
    t->resp.error = err;
    snprintf(t->resp.message, sizeof t->resp.message, "%s", msg);
    finish(t);
}

static void start_attempt(rc_transfer *t)
{
    reset_attempt(t);
    t->resp.attempts++;
    t->attempt_start = rc_now();
    if (t->resp.attempts == 1)
        t->first_start = t->attempt_start;
    if (t->engine->log_level >= RC_LOG_DEBUG)
        log_request_headers(t);
    /* Queued, not handed to libcurl yet: the poll starts as many as its
     * deadline allows (a connection set up costs tens of microseconds). */
    rc_engine *e = t->engine;
    t->state = T_STARTING;
    e->n_starting++;
    t->idle_next = NULL;
    if (e->start_tail != NULL)
        e->start_tail->idle_next = t;
    else
        e->start_head = t;
    e->start_tail = t;
}

static void unlink_starting(rc_engine *e, rc_transfer *t)
{
    rc_transfer *prev = NULL;
    e->n_starting--;
    for (rc_transfer *p = e->start_head; p != t; p = p->idle_next)
        prev = p;
    if (prev != NULL)
        prev->idle_next = t->idle_next;
    else
        e->start_head = t->idle_next;
    if (e->start_tail == t)
        e->start_tail = prev;
}

/* Hands the oldest queued transfer to libcurl; 0 when there was none. */
static int add_next_start(rc_engine *e)
{
    rc_transfer *t = e->start_head;
    if (t == NULL)
        return 0;
    unlink_starting(e, t);
    t->state = T_RUNNING;
    if (curl_multi_add_handle(e->multi, t->easy) != CURLM_OK) {
        if (t->limiter != NULL)
            rc_limiter_finished(t->limiter);
        fail_now(t, RC_ERR_TRANSPORT, "could not start the transfer");
    }
    return 1;
}

static void start_queued(void *ud)
{
    start_attempt(ud);
}

static void queue_or_start(rc_transfer *t, int at_front)
{
    if (t->limiter == NULL) {
        start_attempt(t);
        return;
    }
    t->state = T_QUEUED;
    t->waiter.give_up_at = (t->limited_since > 0 ? t->limited_since : rc_now()) + t->max_limited_wait;
    rc_limiter_enqueue(t->limiter, &t->waiter, at_front);
    rc_limiter_pump(t->limiter);
}

static void backoff_fired(void *ud)
{
    rc_transfer *t = ud;
    if (t->state == T_BACKOFF)
        queue_or_start(t, 1);
    else
        finish(t);              /* deferred failure from submit, or given up (T_FAILING) */
}

/* "45 s", "2.5 h", "365 days": a wait for a person. */
static void say_wait(char *out, size_t n, double s)
{
    if (s < 120)
        snprintf(out, n, "%.0f s", s < 1 ? 1 : s);
    else if (s < 7200)
        snprintf(out, n, "%.0f min", s / 60);
    else if (s < 2 * 86400)
        snprintf(out, n, "%.1f h", s / 3600);
    else
        snprintf(out, n, "%.0f days", s / 86400);
}

/* The limiter gave a queued transfer up (waiter.expire): the account has no
 * quota left, or the server's pace would hold it past its bound. It fails
 * from its timer, outside the limiter's pump. */
static void gave_up_queued(void *ud, int why, double ready_at)
{
    rc_transfer *t = ud;
    char wait[32], limit[32];
    if (why == RC_GIVE_UP_INTERRUPTED) {
        t->resp.error = RC_ERR_NOT_SENT;
        snprintf(t->resp.message, sizeof t->resp.message,
                 "not sent: interrupted while the server's rate limit held it back");
    } else if (why == RC_GIVE_UP_NO_QUOTA) {
        t->resp.error = RC_ERR_NOT_SENT;
        snprintf(t->resp.message, sizeof t->resp.message,
                 "not sent: the account has no quota left: check billing (insufficient_quota)");
    } else if (t->paced_429s > 0 && ready_at - rc_now() < t->max_limited_wait) {
        say_wait(limit, sizeof limit, rc_now() - t->limited_since);
        t->resp.error = RC_ERR_RATE_LIMITED;
        snprintf(t->resp.message, sizeof t->resp.message,
                 "rate limited: the server still answered 429 after %s of waiting (%d answers 429; "
                 "max_rate_limit_wait)", limit, t->paced_429s);
    } else {
        say_wait(wait, sizeof wait, ready_at - rc_now());
        say_wait(limit, sizeof limit, t->max_limited_wait);
        t->resp.error = RC_ERR_RATE_LIMITED;
        snprintf(t->resp.message, sizeof t->resp.message,
                 "rate limited: the server's limit would hold this request %s more, past "
                 "max_rate_limit_wait (%s)%s", wait, limit,
                 t->paced_429s > 0 ? "" : "; not sent");
    }
    t->state = T_FAILING;
    rc_engine_timer_arm(t->engine, &t->timer, 0);
}

static rc_error classify(rc_transfer *t, CURLcode code, rc_retry_reason *transport)
{
    *transport = RC_RETRY_NO;
    switch (code) {
    case CURLE_OK:
        return RC_OK;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (t->too_large || code == CURLE_FILESIZE_EXCEEDED) {
            snprintf(t->resp.message, sizeof t->resp.message,
                     "response body exceeds max_bytes (%zu bytes)", t->max_bytes);
            return RC_ERR_TOO_LARGE;
        }
        break;
    case CURLE_OPERATION_TIMEDOUT:
        *transport = RC_RETRY_TIMEOUT;
        return RC_ERR_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        *transport = RC_RETRY_CONNECTION;
        return RC_ERR_CONNECTION;
    default:
        break;
    }
    return RC_ERR_TRANSPORT;
}

/* Fills status, error and message from curl's result; returns why the
 * attempt may be retried (RC_RETRY_NO: it may not). */
static rc_retry_reason record_outcome(rc_transfer *t, CURLcode code)
{
    rc_retry_reason transport;
    t->resp.error = classify(t, code, &transport);
    if (t->resp.error == RC_OK) {
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->resp.status);
    } else {
        t->resp.status = 0;
        if (t->resp.message[0] == '\0')
            snprintf(t->resp.message, sizeof t->resp.message, "%s",
                     t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
        size_t n = strlen(t->resp.message);
        while (n > 0 && (t->resp.message[n - 1] == '\n' || t->resp.message[n - 1] == '\r'))
            t->resp.message[--n] = '\0';
    }
    rc_retry_reason reason = RC_RETRY_NO;
    if (t->resp.error == RC_OK || t->resp.error == RC_ERR_CONNECTION || t->resp.error == RC_ERR_TIMEOUT)
        reason = rc_wire_retry_reason(t->resp.status, transport,
                                      rc_response_header(&t->resp, "x-should-retry"));
    if (t->resp.error == RC_OK && t->resp.status < 400)
        reason = RC_RETRY_NO;   /* x-should-retry on a success means nothing */
    if (reason == RC_RETRY_STATUS && t->final_cannot_cancel &&
        rc_wire_is_final_cannot_cancel(t->resp.status, t->resp.body, t->resp.body_len))
        reason = RC_RETRY_NO;   /* "Cannot cancel ... with status 'completed'.": final */
    t->resp.retryable = reason != RC_RETRY_NO;
    return reason;
}

/* Logs the attempt's outcome; retry_in < 0 when it is final. */
static void log_outcome(rc_transfer *t, rc_retry_reason reason, double retry_in)
{
    char outcome[64], why[96] = "";
    if (t->resp.error == RC_OK)
        snprintf(outcome, sizeof outcome, "%ld", t->resp.status);
    else
        snprintf(outcome, sizeof outcome, "%s",
                 t->resp.error == RC_ERR_TIMEOUT ? "timeout" :
                 t->resp.error == RC_ERR_CONNECTION ? "connection error" :
                 t->resp.error == RC_ERR_TOO_LARGE ? "too large" : "transport error");
    if (reason == RC_RETRY_STATUS)
        snprintf(why, sizeof why, "status %ld", t->resp.status);
    else if (reason == RC_RETRY_CONNECTION || reason == RC_RETRY_TIMEOUT)
        snprintf(why, sizeof why, "%s: %.60s", rc_wire_retry_reason_text(reason), t->resp.message);
    else if (reason != RC_RETRY_NO)
        snprintf(why, sizeof why, "%s", rc_wire_retry_reason_text(reason));
    log_attempt(t, outcome, retry_in, retry_in >= 0 ? why : NULL);
}

/* Waits before the next attempt: the server's Retry-After or backoff, capped.
 * A 429 holds back the whole limiter for as long. */
static void back_off(rc_transfer *t, rc_retry_reason reason)
{
    double server = rc_wire_retry_after(rc_response_header(&t->resp, "retry-after-ms"),
                                        rc_response_header(&t->resp, "retry-after"), time(NULL));
    double delay = rc_wire_retry_delay(server, t->resp.attempts - 1, rc_random(t->engine),
                                       t->max_retry_delay_s);
    if (t->engine->log_level >= RC_LOG_INFO)
        log_outcome(t, reason, delay);
    if (t->resp.status == 429 && t->limiter != NULL)
        rc_limiter_pause(t->limiter, delay);
    t->state = T_BACKOFF;
    rc_engine_timer_arm(t->engine, &t->timer, delay);
}

enum { PACE_GO_ON, PACE_FINAL, PACE_QUEUED, PACE_GAVE_UP };

/* -v: the pace, when it moved by a tenth or more (not every 429). */
static void log_pace(rc_transfer *t, rc_pace *pace)
{
    double r;
    if (t->engine->log_level < RC_LOG_INFO || !rc_pace_changed(pace, &r))
        return;
    rc_pace_state st;
    rc_pace_get_state(pace, rc_now(), &st);
    logf_line(t->engine, "rate limit: pacing requests at %.0f/s (%s; %lu answers 429 so far)", r,
              st.from_headers ? "from the server's x-ratelimit headers" : "adapting to 429 answers",
              st.limited);
}

/* An answer through a limiter with a pace: the pace learns from it. A 429
 * goes back to the front of the queue, behind the pace, without spending a
 * retry, until max_rate_limit_wait runs out (PACE_GAVE_UP: t failed);
 * insufficient_quota is final and stops the pace (PACE_FINAL). */
static int pace_answer(rc_transfer *t, rc_pace *pace, rc_retry_reason reason)
{
    double now = rc_now();
    rc_ratelimit_info req, tok;
    const rc_response *r = &t->resp;
    rc_ratelimit_read(rc_response_header(r, "x-ratelimit-limit-requests"),
                      rc_response_header(r, "x-ratelimit-remaining-requests"),
                      rc_response_header(r, "x-ratelimit-reset-requests"), &req);
    rc_ratelimit_read(rc_response_header(r, "x-ratelimit-limit-tokens"),
                      rc_response_header(r, "x-ratelimit-remaining-tokens"),
                      rc_response_header(r, "x-ratelimit-reset-tokens"), &tok);
    if (r->status != 429) {
        rc_pace_answered(pace, now, r->status, &req, &tok);
        log_pace(t, pace);
        return PACE_GO_ON;
    }
    if (rc_ratelimit_is_no_quota(r->body, r->body_len)) {
        rc_pace_no_quota(pace);
        t->resp.retryable = 0;
        return PACE_FINAL;
    }
    double hint = rc_wire_retry_after(rc_response_header(r, "retry-after-ms"),
                                      rc_response_header(r, "retry-after"), time(NULL));
    if (hint < 0 && !rc_pace_has_rate(pace))    /* nothing to go by: the usual backoff */
        hint = rc_wire_backoff(t->paced_429s, rc_random(t->engine));
    rc_pace_limited(pace, now, t->attempt_start, hint, &req, &tok);
    log_pace(t, pace);
    if (reason == RC_RETRY_NO)
        return PACE_GO_ON;      /* x-should-retry: false */
    if (t->limited_since == 0)
        t->limited_since = now;
    t->paced_429s++;
    t->resp.rate_limited = t->paced_429s;
    if (now - t->limited_since >= t->max_limited_wait) {
        char limit[32];
        say_wait(limit, sizeof limit, t->max_limited_wait);
        t->resp.error = RC_ERR_RATE_LIMITED;
        snprintf(t->resp.message, sizeof t->resp.message,
                 "rate limited: the server still answered 429 after %s of waiting "
                 "(%d answers 429; max_rate_limit_wait)", limit, t->paced_429s);
        return PACE_GAVE_UP;
    }
    if (t->engine->log_level >= RC_LOG_DEBUG)
        log_attempt(t, "429", 0, "waiting for the account's pace");
    queue_or_start(t, 1);
    return PACE_QUEUED;
}

/* An attempt ended: retry it later, or finish the transfer; then let the
 * limiter start what waits. The limiter is held across the done callback,
 * which may free the transfer (and with it, perhaps the last reference). */
static void attempt_done(rc_transfer *t, CURLcode code)
{
    rc_limiter *l = t->limiter;
    curl_multi_remove_handle(t->engine->multi, t->easy);
    if (l != NULL) {
        rc_limiter_finished(l);
        rc_limiter_retain(l);
    }
    rc_retry_reason reason = record_outcome(t, code);
    rc_pace *pace = l != NULL ? rc_limiter_pace(l) : NULL;
    int paced = pace != NULL && t->resp.error == RC_OK ? pace_answer(t, pace, reason) : PACE_GO_ON;
    if (paced == PACE_FINAL)
        reason = RC_RETRY_NO;
    if (paced == PACE_QUEUED) {
        /* behind the pace again: the limiter starts it */
    } else if (paced == PACE_GAVE_UP) {
        finish(t);              /* may not touch t after this */
    } else if (reason != RC_RETRY_NO && t->resp.attempts - t->paced_429s <= t->max_retries) {
        back_off(t, reason);
    } else {
        if (t->engine->log_level >= RC_LOG_INFO)
            log_outcome(t, RC_RETRY_NO, -1);
        finish(t);              /* may not touch t after this */
    }
    if (l != NULL) {
        rc_limiter_pump(l);
        rc_limiter_release(l);
    }
}

/* 1 when s is a valid header line "Name: value" without CR, LF or NUL. */
static int valid_header_line(const char *s)
{
    /* Bit c: c may be in a name (printable, not one of "(),/:;<=>?@[\\]{} or '"'). */
    static const uint64_t name_char[2] = { 0x03ff6cfa00000000ULL, 0x57ffffffc7fffffeULL };
    const unsigned char *p = (const unsigned char *)s;
    for (; *p != ':'; p++)
        if (*p >= 128 || !((name_char[*p >> 6] >> (*p & 63)) & 1))
            return 0;           /* a character a name may not hold, or the end: no colon */
    return p != (const unsigned char *)s && strpbrk((const char *)p, "\r\n") == NULL;
}

static int valid_method(const char *m)
{
    if (m == NULL || *m == '\0' || strlen(m) > 16)
        return 0;
    for (; *m; m++)
        if (!((*m >= 'A' && *m <= 'Z') || *m == '-' || *m == '_'))
            return 0;
    return 1;
}

static int valid_url(const char *url)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= ' ' || *p >= 127)
            return 0;
    return 1;
}

static int add_header(rc_transfer *t, const char *line)
{
    struct curl_slist *h = curl_slist_append(t->headers, line);
    if (h == NULL)
        return -1;
    t->headers = h;
    return 0;
}

/* The request's header lines, as given (the caller decides them all: see
 * build_headers in lua/l_core.c; "Expect:" and "Content-Type:" that keep
 * curl's own out included), then the shared set linked under them (not copied). */
static int link_headers(rc_transfer *t, const rc_request *req)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (add_header(t, req->headers[i]) != 0)
            return -1;
    if (req->shared_headers != NULL) {
        t->shared = req->shared_headers;
        t->shared->refs++;
        if (t->headers == NULL) {
            t->headers = t->shared->lines;
        } else {
            for (t->own_tail = t->headers; t->own_tail->next != NULL; t->own_tail = t->own_tail->next)
                ;
            t->own_tail->next = t->shared->lines;
        }
    }
    return curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers) == CURLE_OK ? 0 : -1;
}

/* libcurl's built-in CA bundle: what CURLOPT_CAINFO holds on a new handle. */
static const char *default_ca_file(void)
{
    static const char *ca_file;
    static int known;
    if (!known) {
        ca_file = curl_version_info(CURLVERSION_NOW)->cainfo;
        known = 1;
    }
    return ca_file;
}

/* The options every request sets alike: set on a new or reset handle and
 * kept while the handle is reused (a reset costs more than the request's
 * own options; PROTOCOLS_STR is parsed from its string on every set). */
static int configure_handle(rc_engine *e, CURL *c)
{
    int ok = 1;
#define SET(opt, val) ok &= curl_easy_setopt(c, opt, val) == CURLE_OK
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_FOLLOWLOCATION, 0L);    /* a redirect never carries our credentials elsewhere */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_SHARE, e->share);
#undef SET
    return ok ? 0 : -1;
}

/* An easy handle with configure_handle's options: a pooled one (which still
 * holds its last request's own options: configure sets them all), or new. */
static CURL *take_easy(rc_engine *e)
{
    if (e->n_idle_easy > 0)
        return e->idle_easy[--e->n_idle_easy];
    CURL *c = curl_easy_init();
    if (c != NULL && configure_handle(e, c) != 0) {
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

/* Gives t's handle back to the pool. After a transfer that did not end in
 * one clean attempt it is reset first: libcurl counts the requests it sent
 * again on a dead connection per handle (five, then it gives up) and only
 * curl_easy_reset clears that count. */
static void release_easy(rc_engine *e, rc_transfer *t)
{
    if (e->n_idle_easy == (int)(sizeof e->idle_easy / sizeof e->idle_easy[0])) {
        curl_easy_cleanup(t->easy);
        return;
    }
    if (t->state != T_DONE || t->resp.error != RC_OK || t->resp.attempts != 1) {
        curl_easy_reset(t->easy);
        if (configure_handle(e, t->easy) != 0) {
            curl_easy_cleanup(t->easy);
            return;
        }
    }
    e->idle_easy[e->n_idle_easy++] = t->easy;
}

/* The method and body. A reused handle holds the previous request's, so
 * they are first put back as a reset handle has them (POSTFIELDS first: it
 * also sets the method; HTTPGET then clears NOBODY and the method). */
static int set_method(rc_transfer *t, const rc_request *req)
{
    CURL *c = t->easy;
    int ok = 1;
#define SET(opt, val) ok &= curl_easy_setopt(c, opt, val) == CURLE_OK
    SET(CURLOPT_POSTFIELDS, NULL);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    SET(CURLOPT_CUSTOMREQUEST, NULL);
    SET(CURLOPT_HTTPGET, 1L);
    int has_body = req->body != NULL || strcmp(t->method, "POST") == 0;
    if (strcmp(t->method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(t->method, "GET") != 0) {
        if (strcmp(t->method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, t->method);
        if (has_body) {
            SET(CURLOPT_POST, 1L);
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            SET(CURLOPT_POSTFIELDS, t->body ? t->body : "");
        }
    }
#undef SET
    return ok ? 0 : -1;
}

/* The request's own options, every one of them set on every request (to
 * libcurl's default when the request has none), so nothing of the handle's
 * previous request carries over. */
static int configure(rc_transfer *t, const rc_request *req)
{
    CURL *c = t->easy;
    int ok = 1;
#define SET(opt, val) ok &= curl_easy_setopt(c, opt, val) == CURLE_OK
    SET(CURLOPT_URL, t->url);
    SET(CURLOPT_PRIVATE, t);
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_HEADERDATA, t);
    SET(CURLOPT_PREREQDATA, t);
    /* Compressed answers for reads (list pages can be large); a cancel's
     * answer is one small object, where decoding would only cost time. */
    SET(CURLOPT_ACCEPT_ENCODING, strcmp(req->method, "GET") == 0 ? "" : NULL);
    /* Over TLS, where HTTP/2 is offered: wait for a connection being set up
     * to say whether it multiplexes rather than open one per request (plain
     * HTTP is HTTP/1.1 here: waiting would only delay the first requests). */
    SET(CURLOPT_PIPEWAIT, strncmp(t->url, "https:", 6) == 0 ? 1L : 0L);
    SET(CURLOPT_CAINFO, req->ca_file != NULL && req->ca_file[0] != '\0' ? req->ca_file : default_ca_file());
    SET(CURLOPT_PROXY, req->proxy);
    SET(CURLOPT_TIMEOUT_MS, req->timeout_s > 0 ? (long)(req->timeout_s * 1000.0 + 0.5) : 0L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_s > 0 ? (long)(req->connect_timeout_s * 1000.0 + 0.5) : 0L);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_bytes);
#undef SET
    if (set_method(t, req) != 0 || link_headers(t, req) != 0)
        return -1;
    return ok ? 0 : -1;
}

/* A cleared transfer: from the pool (its buffers kept) or new. NULL on ENOMEM. */
static rc_transfer *take_transfer(rc_engine *e)
{
    rc_transfer *t = e->idle_transfers;
    if (t == NULL)
        return calloc(1, sizeof *t);
    e->idle_transfers = t->idle_next;
    e->n_idle_transfers--;
    char *body = t->resp.body, *arena = t->arena;
    rc_header *headers = t->resp.headers;
    size_t body_cap = t->body_cap, arena_cap = t->arena_cap, headers_cap = t->headers_cap;
    memset(t, 0, sizeof *t);
    t->resp.body = body;
    if (body != NULL)
        body[0] = '\0';
    t->arena = arena;
    t->resp.headers = headers;
    t->body_cap = body_cap;
    t->arena_cap = arena_cap;
    t->headers_cap = headers_cap;
    return t;
}

rc_transfer *rc_engine_submit(rc_engine *e, const rc_request *req,
                              rc_done_fn done, void *ud, char *err, size_t errsz)
{
    if (!valid_method(req->method)) {
        snprintf(err, errsz, "invalid HTTP method");
        return NULL;
    }
    if (req->url == NULL || !valid_url(req->url)) {
        snprintf(err, errsz, "invalid URL: must be http:// or https:// without spaces or control characters");
        return NULL;
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        if (!valid_header_line(req->headers[i])) {
            snprintf(err, errsz, "invalid header line %zu: want \"Name: value\" without CR or LF", i + 1);
            return NULL;
        }
    }
    rc_transfer *t = take_transfer(e);
    if (t == NULL)
        goto nomem;
    t->engine = e;
    t->done = done;
    t->ud = ud;
    t->max_retries = req->max_retries > 0 ? req->max_retries : 0;
    t->max_retry_delay_s = req->max_retry_delay_s > 0 ? req->max_retry_delay_s
                                                    : RC_DEFAULT_MAX_RETRY_DELAY_S;
    t->final_cannot_cancel = req->final_cannot_cancel;
    t->max_bytes = req->max_bytes;
    rc_timer_init(&t->timer, backoff_fired, t);
    t->waiter.start = start_queued;
    t->waiter.expire = gave_up_queued;
    t->waiter.ud = t;
    t->paced_429s = 0;
    t->limited_since = 0;
    t->max_limited_wait = req->max_rate_limit_wait_s > 0 ? req->max_rate_limit_wait_s
                          : req->timeout_s > 0 ? req->timeout_s : 600;
    t->method = strdup(req->method);
    t->url = strdup(req->url);
    if (req->body != NULL) {
        t->body = malloc(req->body_len + 1);
        if (t->body != NULL) {
            memcpy(t->body, req->body, req->body_len);
            t->body[req->body_len] = '\0';
        }
    }
    t->easy = take_easy(e);
    if (t->method == NULL || t->url == NULL || (req->body != NULL && t->body == NULL) ||
        t->easy == NULL || configure(t, req) != 0) {
        t->state = T_DONE;
        rc_transfer_free(t);
        goto nomem;
    }
    e->live++;
    t->limiter = req->limiter;
    if (t->limiter != NULL)
        rc_limiter_retain(t->limiter);
    queue_or_start(t, 0);
    return t;
nomem:
    snprintf(err, errsz, "out of memory setting up the request");
    return NULL;
}

void rc_transfer_free(rc_transfer *t)
{
    if (t == NULL)
        return;
    rc_engine *e = t->engine;
    rc_limiter *l = t->limiter;
    switch (t->state) {
    case T_STARTING:
        unlink_starting(e, t);
        if (l != NULL)
            rc_limiter_finished(l);
        e->live--;
        break;
    case T_RUNNING:
        curl_multi_remove_handle(e->multi, t->easy);
        if (l != NULL)
            rc_limiter_finished(l);
        e->live--;
        break;
    case T_QUEUED:
        rc_limiter_unlink(l, &t->waiter);
        e->live--;
        break;
    case T_BACKOFF:
    case T_FAILING:
        e->live--;
        break;
    case T_DONE:
        break;
    }
    rc_engine_timer_disarm(e, &t->timer);
    if (t->easy != NULL)
        release_easy(e, t);
    if (t->shared != NULL) {
        if (t->own_tail != NULL)
            t->own_tail->next = NULL;   /* free only our own lines */
        if (t->headers == t->shared->lines)
            t->headers = NULL;
        rc_header_set_release(t->shared);
    }
    curl_slist_free_all(t->headers);
    free(t->method);
    free(t->url);
    free(t->body);
    /* Keep the struct and its (modest) buffers for the next request. */
    if (e->n_idle_transfers < 256 && t->body_cap <= 65536 && t->arena_cap <= 16384) {
        t->idle_next = e->idle_transfers;
        e->idle_transfers = t;
        e->n_idle_transfers++;
    } else {
        free(t->resp.headers);
        free(t->arena);
        free(t->resp.body);
        free(t);
    }
    if (l != NULL) {
        int others_waiting = rc_limiter_has_waiters(l);
        rc_limiter_release(l);
        if (others_waiting)
            rc_limiter_pump(l);    /* still referenced by the waiting transfers */
    }
}

const rc_response *rc_transfer_response(const rc_transfer *t)
{
    return &t->resp;
}

int rc_transfer_is_done(const rc_transfer *t)
{
    return t->state == T_DONE;
}

rc_header_set *rc_header_set_new(const char *const *lines, size_t n, char *err, size_t errsz)
{
    for (size_t i = 0; i < n; i++) {
        if (!valid_header_line(lines[i])) {
            snprintf(err, errsz, "invalid header line %zu: want \"Name: value\" without CR or LF", i + 1);
            return NULL;
        }
    }
    rc_header_set *set = calloc(1, sizeof *set);
    if (set == NULL)
        goto nomem;
    set->refs = 1;
    for (size_t i = 0; i < n; i++) {
        struct curl_slist *l = curl_slist_append(set->lines, lines[i]);
        if (l == NULL) {
            curl_slist_free_all(set->lines);
            free(set);
            goto nomem;
        }
        set->lines = l;
    }
    return set;
nomem:
    snprintf(err, errsz, "out of memory");
    return NULL;
}

void rc_header_set_release(rc_header_set *set)
{
    if (set == NULL || --set->refs > 0)
        return;
    curl_slist_free_all(set->lines);
    free(set);
}

/* ------------------------------------------------------------------ engine */

/* libcurl says which events it wants on a socket: mirror that in the epoll
 * set. A socket it no longer needs may already be closed (the kernel then
 * dropped it from the set), so a failed removal is not an error. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *socket_ud)
{
    rc_engine *e = ud;
    (void)easy, (void)socket_ud;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event ev = { 0 };
    ev.data.fd = fd;
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 &&
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -1;
    return 0;
}

/* libcurl asks for a timeout action in timeout_ms (-1: none wanted). It is
 * run by the next poll once due, never from inside this callback. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *ud)
{
    rc_engine *e = ud;
    (void)multi;
    e->curl_due = timeout_ms < 0 ? -1 : rc_now() + (double)timeout_ms / 1000.0;
    return 0;
}

static int setup_multi(rc_engine *e)
{
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->curl_due = -1;
    e->multi = curl_multi_init();
    if (e->epfd < 0 || e->multi == NULL)
        return -1;
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 256L);
    curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(e->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
    /* One thread: the share needs no lock callbacks. */
    e->share = curl_share_init();
    if (e->share == NULL ||
        curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
        curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
        return -1;
    return 0;
}

rc_engine *rc_engine_new(void)
{
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        curl_ready = 1;
    }
    rc_engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    if (setup_multi(e) != 0) {
        curl_share_cleanup(e->share);
        curl_multi_cleanup(e->multi);
        if (e->epfd >= 0)
            close(e->epfd);
        free(e);
        return NULL;
    }
    e->start_cost = e->read_cost = 50e-6;     /* first guesses, learnt from then on */
    fill_random(&e->rng, sizeof e->rng);
    if (e->rng == 0)
        e->rng = 0x9e3779b97f4a7c15ULL;
    return e;
}

void rc_engine_free(rc_engine *e)
{
    if (e == NULL)
        return;
    curl_multi_cleanup(e->multi);   /* may still tell on_socket to forget sockets */
    close(e->epfd);
    while (e->idle_transfers != NULL) {
        rc_transfer *t = e->idle_transfers;
        e->idle_transfers = t->idle_next;
        free(t->resp.headers);
        free(t->arena);
        free(t->resp.body);
        free(t);
    }
    while (e->n_idle_easy > 0)
        curl_easy_cleanup(e->idle_easy[--e->n_idle_easy]);
    curl_share_cleanup(e->share);   /* last: no easy handle may still use it */
    rc_timer_heap_free(&e->timers);
    free_paces(e);
    free(e);
}

int rc_engine_pending(const rc_engine *e)
{
    return e->live + (int)e->timers.len;
}

void rc_engine_get_stats(const rc_engine *e, rc_engine_stats *out)
{
    out->starting = e->n_starting;
    out->deferred = e->deferred;
}

static void read_completions(rc_engine *e)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        rc_transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (t != NULL && t->state == T_RUNNING)
            attempt_done(t, msg->data.result);
    }
}

/* Runs one action and returns what it took, in seconds. */
static double socket_action(rc_engine *e, curl_socket_t fd, int mask)
{
    int running;
    double start = rc_now();
    curl_multi_socket_action(e->multi, fd, mask, &running);
    read_completions(e);
    return rc_now() - start;
}

/* 1 when work expected to take cost seconds would end past deadline. */
static int would_overrun(double deadline, double cost)
{
    return deadline > 0 && rc_now() + cost >= deadline;
}

/* Hands the start queue to libcurl. Without a deadline, all of it and one
 * timeout action sets them all going; with one, a transfer at a time, each
 * set going by its own action, while the next is expected (start_cost) to
 * end before the deadline; at least one, so starts always progress. */
static void start_queued_transfers(rc_engine *e, double deadline)
{
    if (deadline <= 0) {
        while (add_next_start(e))
            ;
        return;                 /* run_due runs the action libcurl asked for */
    }
    while (add_next_start(e)) {
        e->curl_due = -1;
        e->start_cost = 0.8 * e->start_cost + 0.2 * socket_action(e, CURL_SOCKET_TIMEOUT, 0);
        if (e->start_head != NULL && would_overrun(deadline, e->start_cost)) {
            e->deferred++;
            break;
        }
    }
}

/* Fires the engine's due timers, then libcurl's timeout action if due. */
static void run_due(rc_engine *e)
{
    double now = rc_now();
    e->callbacks += rc_timer_heap_fire_due(&e->timers, now);
    if (e->curl_due >= 0 && e->curl_due <= now) {
        e->curl_due = -1;       /* on_curl_timer sets the next one */
        (void)socket_action(e, CURL_SOCKET_TIMEOUT, 0);
    }
}

/* Hands each ready socket to libcurl, one at a time. With a deadline it stops
 * before a socket whose expected cost (read_cost) would end past it, after
 * the first, so I/O always progresses: the epoll set is level-triggered, so
 * the sockets left out are reported again by the next wait. */
static void dispatch(rc_engine *e, int timeout_ms, double deadline)
{
    struct epoll_event ev[64];
    int n = epoll_wait(e->epfd, ev, 64, timeout_ms);
    for (int i = 0; i < n; i++) {
        if (i > 0 && would_overrun(deadline, e->read_cost)) {
            e->deferred++;
            break;
        }
        int mask = 0;
        if (ev[i].events & (EPOLLIN | EPOLLHUP))
            mask |= CURL_CSELECT_IN;
        if (ev[i].events & EPOLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (ev[i].events & EPOLLERR)
            mask |= CURL_CSELECT_ERR;
        e->read_cost = 0.8 * e->read_cost + 0.2 * socket_action(e, ev[i].data.fd, mask);
    }
}

/* How long the poll may wait: the caller's timeout, cut by the first timer
 * and libcurl's timeout. */
static int wait_ms(rc_engine *e, int timeout_ms)
{
    double wait = timeout_ms < 0 ? 24.0 * 3600 * 1000 : timeout_ms;
    double now = rc_now();
    rc_timer *first = rc_timer_heap_first(&e->timers);
    if (first != NULL && (first->due - now) * 1000.0 < wait)
        wait = (first->due - now) * 1000.0;
    if (e->curl_due >= 0 && (e->curl_due - now) * 1000.0 < wait)
        wait = (e->curl_due - now) * 1000.0;
    return wait <= 0 ? 0 : (int)wait + 1;   /* rounded up: a due timer is due on waking */
}

void rc_engine_set_interrupt(rc_engine *e, int (*interrupted)(void))
{
    e->interrupted = interrupted;
}

int rc_engine_poll_until(rc_engine *e, int timeout_ms, double deadline)
{
    unsigned long callbacks = e->callbacks;
    if (e->interrupted != NULL && !e->interrupt_seen && e->interrupted()) {
        e->interrupt_seen = 1;          /* once: what waits for a pace now is not sent */
        for (struct pace_entry *p = e->paces; p != NULL; p = p->next)
            rc_pace_interrupt(p->pace);
    }
    start_queued_transfers(e, deadline);
    run_due(e);
    if (rc_engine_pending(e) == 0)
        return 0;
    /* A callback ran (a timer that was already due), or the deadline passed:
     * the caller has work now, so take only the sockets that are ready. */
    int wait = e->callbacks != callbacks || e->start_head != NULL ||
               (deadline > 0 && rc_now() >= deadline) ? 0 : wait_ms(e, timeout_ms);
    dispatch(e, wait, deadline);
    run_due(e);
    return rc_engine_pending(e);
}

int rc_engine_poll(rc_engine *e, int timeout_ms)
{
    return rc_engine_poll_until(e, timeout_ms, 0);
}
