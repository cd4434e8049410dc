/* core/transfer.c — one request through the engine: validating and
 * configuring it (pooled easy handles), queueing it behind its limiter,
 * attempts, retries with backoff, and its outcome. */
#include "engine_int.h"
#include "ratelimit.h"
#include "text.h"
#include "url.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ transfers */

static void reset_attempt(rc_transfer *t)
{
    rc_clear_headers(t);
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

/* Masks the request's key wherever this attempt's answer echoed it (see
 * rc_request.secret), before anything reads or logs the answer. */
static void mask_secret(rc_transfer *t)
{
    if (t->secret == NULL)
        return;
    rc_text_mask(t->resp.body, t->resp.body != NULL ? t->resp.body_len : 0, t->secret, t->secret_len);
    rc_text_mask(t->arena, t->arena_len, t->secret, t->secret_len);
    rc_text_mask(t->resp.message, strlen(t->resp.message), t->secret, t->secret_len);
}

static void wipe_secret(rc_transfer *t)
{
    if (t->secret == NULL)
        return;
    volatile char *p = t->secret;
    for (size_t i = 0; i < t->secret_len; i++)
        p[i] = '\0';
    free(t->secret);
    t->secret = NULL;
}

static void finish(rc_transfer *t)
{
    t->state = T_DONE;
    mask_secret(t);
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
        rc_log_request_headers(t);
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
int rc_add_next_start(rc_engine *e)
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
    char outcome[64], why[300] = "";
    mask_secret(t);
    /* The transport's message, cut at a word (or character) with an ellipsis. */
    size_t len = strlen(t->resp.message), cut = rc_text_cut(t->resp.message, len, 200);
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
        snprintf(why, sizeof why, "%s: %.*s%s", rc_wire_retry_reason_text(reason), (int)cut,
                 t->resp.message, cut < len ? "..." : "");
    else if (reason != RC_RETRY_NO)
        snprintf(why, sizeof why, "%s", rc_wire_retry_reason_text(reason));
    rc_log_attempt(t, outcome, retry_in, retry_in >= 0 ? why : NULL);
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
        rc_log_pace(t->engine, pace);
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
    rc_log_pace(t->engine, pace);
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
    if (t->engine->log_level >= RC_LOG_DEBUG) {
        mask_secret(t);
        rc_log_attempt(t, "429", 0, "waiting for the account's pace");
    }
    queue_or_start(t, 1);
    return PACE_QUEUED;
}

/* An attempt ended: retry it later, or finish the transfer; then let the
 * limiter start what waits. The limiter is held across the done callback,
 * which may free the transfer (and with it, perhaps the last reference). */
void rc_attempt_done(rc_transfer *t, CURLcode code)
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
 * rc_build_headers in lua/headers.c; "Expect:" and "Content-Type:" that keep
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
    SET(CURLOPT_WRITEFUNCTION, rc_on_body);
    SET(CURLOPT_HEADERFUNCTION, rc_on_header);
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
    if (req->secret != NULL && (t->secret = strdup(req->secret)) != NULL)
        t->secret_len = strlen(t->secret);
    if (req->body != NULL) {
        t->body = malloc(req->body_len + 1);
        if (t->body != NULL) {
            memcpy(t->body, req->body, req->body_len);
            t->body[req->body_len] = '\0';
        }
    }
    t->easy = take_easy(e);
    if (t->method == NULL || t->url == NULL || (req->body != NULL && t->body == NULL) ||
        (req->secret != NULL && t->secret == NULL) ||
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
    wipe_secret(t);
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
