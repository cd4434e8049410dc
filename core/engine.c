/* core/engine.c — the engine: one CURLM driving transfers (through
 * curl_multi_socket_action and an epoll set, so a poll can stop between
 * sockets) and the poll loop, with its clock, random source, timer heap and
 * log sink. Transfers live in transfer.c, their response buffers in respbuf.c. */
#include "engine_int.h"
#include "ratelimit.h"
#include "text.h"
#include "url.h"
#include "wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>
#include <time.h>

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
    char line[1024], shown[4 * sizeof line];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* A line cut short is cut at a character (or word) boundary; request IDs
     * and messages come from the network: one line, no controls (text.h). */
    size_t len = (size_t)n < sizeof line ? (size_t)n : rc_text_cut(line, sizeof line - 1, sizeof line - 2);
    rc_text_sanitize(line, len, 0, shown, sizeof shown);
    e->log(e->log_ud, shown);
}

void rc_engine_set_log(rc_engine *e, int level, rc_log_fn fn, void *ud)
{
    e->log_level = fn != NULL ? level : RC_LOG_OFF;
    e->log = fn;
    e->log_ud = ud;
}

void rc_log_request_headers(rc_transfer *t)
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

void rc_log_attempt(rc_transfer *t, const char *outcome, double retry_in, const char *why)
{
    char url[512];
    rc_url_redact(t->url, url, sizeof url);
    const char *rid = rc_response_header(&t->resp, "x-request-id");
    char tail[400] = "";
    if (retry_in >= 0)
        snprintf(tail, sizeof tail, "; retrying in %.2f s (%s)", retry_in, why);   /* why < 300 */
    logf_line(t->engine, "%s %s -> %s in %.1f ms (attempt %d of %d)%s%s%s%s",
              t->method, url, outcome, (rc_now() - t->attempt_start) * 1000.0,
              t->resp.attempts, t->max_retries + 1,
              rid ? " [" : "", rid ? rid : "", rid ? "]" : "", tail);
}

void rc_log_pace(rc_engine *e, rc_pace *pace)
{
    double r;
    if (e->log_level < RC_LOG_INFO || !rc_pace_changed(pace, &r))
        return;
    rc_pace_state st;
    rc_pace_get_state(pace, rc_now(), &st);
    logf_line(e, "rate limit: pacing requests at %.0f/s (%s; %lu answers 429 so far)", r,
              st.from_headers ? "from the server's x-ratelimit headers" : "adapting to 429 answers",
              st.limited);
}

/* ------------------------------------------------------------------ limiter, paces */

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
            rc_attempt_done(t, msg->data.result);
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
        while (rc_add_next_start(e))
            ;
        return;                 /* run_due runs the action libcurl asked for */
    }
    while (rc_add_next_start(e)) {
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
