/* core/ratelimit.c — the account's pace (see ratelimit.h): the x-ratelimit
 * headers read and checked, a local mirror of the server's token bucket
 * when they are there, an adaptive pace when they are not, the server's
 * pause, and the probe: at most PROBE_N requests before the first answer.
 *
 * With headers: a token bucket of `limit` refilled at r, where `remaining`
 * tokens are left and `reset` is the time until it is full again, gives
 * (limit - remaining - 1) / reset <= r <= (limit - remaining) / reset
 * (remaining is rounded down). The pace keeps the largest lower bound seen,
 * under the latest upper bound, and uses FACTOR of it: below the true rate,
 * so the server's bucket never runs dry. The mirror's tokens only go down on
 * what an answer says (minus what is still in flight), so a stale answer
 * cannot make it send more than the server allows.
 * Without headers: a 429 sets a ceiling, the rate of the answers that
 * succeeded in the last second or two (what the server let through: no
 * more than its limit), and the pace drops to 0.9x the ceiling, once per
 * round of requests (a request started before the last cut says nothing
 * new). Without a 429, every quarter second, the pace grows 5% up to 0.97x
 * the ceiling, and past it by 1% only: a server whose 429s carry a whole
 * second's retry-after costs that second each time the pace finds its
 * limit again, so it looks for it slowly. A 429 among fewer than
 * MIN_EVIDENCE answers in the window, or without a success in it, starts
 * no pace (its pause, or the engine's backoff, is all), and a pace
 * without a 429 for FORGET_S ends. */
#include "ratelimit.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FACTOR 0.98             /* the share of the learned rate the pace uses */
#define MAX_RESET_S 86400.0     /* a longer reset is absurd: ignored */
#define MAX_RATE 1e6            /* requests/s; above it, a header is absurd */
#define PROBE_S 1.0             /* the longest the first answer is waited for */
#define PROBE_N 4               /* requests in flight before the first answer */
#define MIN_EVIDENCE 8          /* answers (successes and 429s) in the window before a
                                 * 429 starts a pace */
#define FORGET_S 30.0           /* an adaptive pace without a 429 for this long ends */
#define MAX_PAUSE_S (366 * 86400.0)

struct rc_pace {
    int refs;
    rc_ratelimit_info req, tok;     /* the last valid headers */
    double hdr_rate;                /* learned from the headers; 0: unknown */
    double hi_rate;                 /* the latest upper bound on it; 0: none */
    double factor;                  /* of hdr_rate, cut on a 429 */
    double aimd_rate;               /* adaptive pace; 0: not paced */
    double ceiling;                 /* what got through when the last 429 came */
    int bucket;                     /* 1: tokens mirror the server's bucket */
    double tokens, tokens_at;
    double paused_until;
    double last_cut, last_raise;
    double win_start;               /* successes: this window, the one before */
    unsigned win_count, prev_count;
    unsigned win_limited;           /* 429s in this window */
    int in_flight, answered;
    double probe_until;
    double held_at;                 /* when the pace last held a request back */
    unsigned long limited;
    int no_quota;
    double logged;
    rc_pace_watcher *watchers;
};

/* ------------------------------------------------------------------ headers */

static int parse_number(const char **s, double *out)
{
    const char *p = *s;
    if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
        return -1;
    char *end;
    *out = strtod(p, &end);
    if (end == p || !isfinite(*out))
        return -1;
    *s = end;
    return 0;
}

int rc_ratelimit_duration(const char *s, double *out)
{
    static const struct { const char *unit; double seconds; } units[] = {
        { "h", 3600 }, { "ms", 1e-3 }, { "m", 60 }, { "s", 1 }, { "us", 1e-6 },
        { "\xc2\xb5s", 1e-6 }, { "\xce\xbcs", 1e-6 }, { "ns", 1e-9 },
    };
    if (s == NULL)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '+')
        s++;
    double total = 0, n;
    if (parse_number(&s, &n) != 0)
        return -1;
    if (*s == '\0' || *s == ' ') {          /* a bare number: seconds ("0", "1.5") */
        total = n;
    } else {
        for (;;) {
            size_t i, len = 0;
            for (i = 0; i < sizeof units / sizeof units[0]; i++) {
                len = strlen(units[i].unit);
                if (strncmp(s, units[i].unit, len) == 0)
                    break;
            }
            if (i == sizeof units / sizeof units[0])
                return -1;
            total += n * units[i].seconds;
            s += len;
            if (*s == '\0' || *s == ' ')
                break;
            if (parse_number(&s, &n) != 0)
                return -1;
        }
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '\0' || !(total >= 0) || total > MAX_RESET_S)
        return -1;
    *out = total;
    return 0;
}

static int parse_count(const char *s, double *out)
{
    if (s == NULL)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;                          /* "-1", "abc", "" */
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || !isfinite(v) || v > 1e12)
        return -1;
    *out = v;
    return 0;
}

void rc_ratelimit_read(const char *limit, const char *remaining, const char *reset,
                       rc_ratelimit_info *out)
{
    memset(out, 0, sizeof *out);
    if (parse_count(limit, &out->limit) != 0 || parse_count(remaining, &out->remaining) != 0 ||
        rc_ratelimit_duration(reset, &out->reset_s) != 0)
        return;
    out->valid = out->limit >= 1 && out->remaining <= out->limit;
}

/* Looks for "code" or "type", a colon and "insufficient_quota", JSON
 * whitespace between them (a message that merely names it does not count). */
int rc_ratelimit_is_no_quota(const char *body, size_t len)
{
    static const char value[] = "\"insufficient_quota\"";
    size_t vlen = sizeof value - 1;
    for (size_t i = 0; i + vlen <= len; i++) {
        if (body[i] != '"' || memcmp(body + i, value, vlen) != 0)
            continue;
        size_t j = i;
        while (j > 0 && strchr(" \t\r\n", body[j - 1]) != NULL)
            j--;
        if (j == 0 || body[j - 1] != ':')
            continue;
        j--;
        while (j > 0 && strchr(" \t\r\n", body[j - 1]) != NULL)
            j--;
        if (j >= 6 && (memcmp(body + j - 6, "\"code\"", 6) == 0 || memcmp(body + j - 6, "\"type\"", 6) == 0))
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ life */

rc_pace *rc_pace_new(void)
{
    rc_pace *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->refs = 1;
    p->factor = FACTOR;
    p->last_cut = -1e300;
    p->last_raise = -1e300;
    return p;
}

void rc_pace_retain(rc_pace *p)
{
    p->refs++;
}

void rc_pace_release(rc_pace *p)
{
    if (p != NULL && --p->refs == 0)
        free(p);
}

/* ------------------------------------------------------------------ pacing */

/* Requests/s the pace allows; 0: not paced. */
static double rate_of(const rc_pace *p)
{
    if (p->hdr_rate > 0)
        return p->factor * p->hdr_rate;
    if (p->aimd_rate > 0)
        return p->aimd_rate;
    if (p->bucket)      /* headers without a rate yet: half the upper bound, or 1/s */
        return p->hi_rate > 0 ? 0.5 * p->hi_rate : 1.0;
    return 0;
}

static void refill(rc_pace *p, double now)
{
    double r = rate_of(p);
    if (r > 0 && now > p->tokens_at) {
        /* without headers, 20 ms of pace at once: the timers' 1 ms steps
         * would otherwise round every gap up (8 ms for 7.7 ms: 125/s, not 130) */
        double cap = p->bucket ? p->req.limit : (r * 0.02 > 1 ? r * 0.02 : 1);
        p->tokens += r * (now - p->tokens_at);
        if (p->tokens > cap)
            p->tokens = cap;
    }
    p->tokens_at = now;
}

double rc_pace_ready_at(rc_pace *p, double now)
{
    if (p->no_quota)
        return now;             /* the limiter fails what waits */
    if (p->aimd_rate > 0 && now - p->last_cut > FORGET_S)
        p->aimd_rate = p->ceiling = 0;      /* the load that met the limit is gone */
    double t = now;
    if (p->paused_until > t)
        t = p->paused_until;
    if (!p->answered && p->in_flight >= PROBE_N && p->probe_until > t)
        t = p->probe_until;
    double r = rate_of(p);
    if (r > 0) {
        refill(p, now);
        if (p->tokens < 1 && now + (1 - p->tokens) / r > t)
            t = now + (1 - p->tokens) / r;
    }
    if (t > now && p->answered)
        p->held_at = now;
    return t;
}

int rc_pace_has_rate(const rc_pace *p)
{
    return rate_of(p) > 0;
}

int rc_pace_is_limiting(const rc_pace *p, double now)
{
    (void)now;
    return p->answered || p->no_quota;
}

void rc_pace_started(rc_pace *p, double now)
{
    p->in_flight++;
    if (!p->answered && p->probe_until == 0)
        p->probe_until = now + PROBE_S;
    if (rate_of(p) > 0) {
        refill(p, now);
        p->tokens -= 1;
    }
}

void rc_pace_finished(rc_pace *p)
{
    if (p->in_flight > 0)
        p->in_flight--;
}

/* What a valid -requests family says of the rate; the mirror takes its
 * tokens when they are fewer than its own. */
static void learn(rc_pace *p, double now, const rc_ratelimit_info *req)
{
    refill(p, now);
    p->req = *req;
    double used = req->limit - req->remaining;
    if (used >= 1 && req->reset_s > 0) {
        double hi = used / req->reset_s, lo = (used - 1) / req->reset_s;
        if (hi <= MAX_RATE) {
            p->hi_rate = hi;
            if (lo > p->hdr_rate)
                p->hdr_rate = lo;
            if (p->hdr_rate > hi)
                p->hdr_rate = hi;
        }
    }
    double seen = req->remaining - p->in_flight;
    if (!p->bucket || seen < p->tokens)
        p->tokens = seen;
    p->tokens_at = now;
    p->bucket = 1;
}

static void count_success(rc_pace *p, double now)
{
    if (now - p->win_start >= 1) {
        p->prev_count = now - p->win_start < 2 ? p->win_count : 0;
        p->win_count = p->win_limited = 0;
        p->win_start = now;
    }
    p->win_count++;
}

/* Successful answers per second, over the last one to two seconds (the
 * first window counts from at least a tenth of a second). */
static double success_rate(const rc_pace *p, double now)
{
    double span = now - p->win_start;
    if (p->prev_count > 0 && span < 1)
        return (p->prev_count + p->win_count) / (1 + span);
    return p->win_count / (span > 0.1 ? span : 0.1);
}

void rc_pace_answered(rc_pace *p, double now, long status, const rc_ratelimit_info *requests,
                      const rc_ratelimit_info *tokens)
{
    p->answered = 1;
    if (tokens != NULL && tokens->valid)
        p->tok = *tokens;
    if (requests != NULL && requests->valid)
        learn(p, now, requests);
    if (status >= 400)
        return;
    count_success(p, now);
    if (now - p->last_cut < 0.25 || now - p->last_raise < 0.25)
        return;
    if (p->hdr_rate == 0 && p->aimd_rate > 0) {
        refill(p, now);
        double near = 0.97 * p->ceiling;
        p->aimd_rate = p->aimd_rate < near ? (p->aimd_rate * 1.05 < near ? p->aimd_rate * 1.05 : near)
                                           : p->aimd_rate * 1.01;
        p->last_raise = now;
    } else if (p->factor < FACTOR && now - p->last_cut >= 2) {
        refill(p, now);
        p->factor = p->factor + 0.01 > FACTOR ? FACTOR : p->factor + 0.01;
        p->last_raise = now;
    }
}

void rc_pace_limited(rc_pace *p, double now, double started_at, double hint_s,
                     const rc_ratelimit_info *requests, const rc_ratelimit_info *tokens)
{
    p->answered = 1;
    p->limited++;
    if (tokens != NULL && tokens->valid)
        p->tok = *tokens;
    if (requests != NULL && requests->valid)
        learn(p, now, requests);
    refill(p, now);
    if (hint_s >= 0) {
        double until = now + (hint_s < MAX_PAUSE_S ? hint_s : MAX_PAUSE_S);
        if (until > p->paused_until)
            p->paused_until = until;
    }
    int new_round = started_at >= p->last_cut;
    if (p->bucket) {
        if (new_round && p->hdr_rate > 0) {
            p->factor = p->factor * 0.9 < 0.5 ? 0.5 : p->factor * 0.9;
            p->last_cut = now;
        }
    } else if (p->aimd_rate > 0 || (p->win_count + p->prev_count > 0 &&
               p->win_count + p->prev_count + ++p->win_limited >= MIN_EVIDENCE)) {
        /* (a lone 429 among few requests says little of a rate: its pause
         * is all.) The round's later 429s come with more successes counted. */
        double through = success_rate(p, now);
        if (through < 0.9 * p->aimd_rate)   /* a pause in the window hides the rate */
            through = 0.9 * p->aimd_rate;
        if (through < 0.05)
            through = 0.05;
        /* (within a round, only a window of half a second or more may raise
         * the ceiling: a burst's successes inflate a shorter one) */
        int mature = p->prev_count > 0 || now - p->win_start >= 0.5;
        if (p->aimd_rate == 0 || new_round || (mature && through > p->ceiling)) {
            p->ceiling = through;
            p->aimd_rate = 0.9 * p->ceiling;
        }
        if (new_round)
            p->last_cut = now;
    }
    if (p->tokens > 0)
        p->tokens = 0;
    p->tokens_at = now;
}

void rc_pace_no_quota(rc_pace *p)
{
    p->answered = 1;            /* not counted in limited: no rate limit said it */
    p->no_quota = 1;
}

void rc_pace_watch(rc_pace *p, rc_pace_watcher *w)
{
    w->prev = NULL;
    w->next = p->watchers;
    if (p->watchers != NULL)
        p->watchers->prev = w;
    p->watchers = w;
}

void rc_pace_unwatch(rc_pace *p, rc_pace_watcher *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else if (p->watchers == w)
        p->watchers = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
}

void rc_pace_interrupt(rc_pace *p)
{
    for (rc_pace_watcher *w = p->watchers, *next; w != NULL; w = next) {
        next = w->next;
        w->interrupted(w->ud);
    }
}

int rc_pace_has_no_quota(const rc_pace *p)
{
    return p->no_quota;
}

void rc_pace_get_state(const rc_pace *p, double now, rc_pace_state *out)
{
    memset(out, 0, sizeof *out);
    out->pace = rate_of(p);
    out->from_headers = p->bucket;
    out->requests = p->req;
    out->tokens = p->tok;
    out->paused_for = p->paused_until > now ? p->paused_until - now : 0;
    out->limited = p->limited;
    out->no_quota = p->no_quota;
    out->holding = p->answered && now - p->held_at < 1.0 && p->held_at > 0;
}

int rc_pace_changed(rc_pace *p, double *pace)
{
    double r = rate_of(p);
    double big = r > p->logged ? r : p->logged;
    if (fabs(r - p->logged) < 0.1 * big || big == 0)
        return 0;
    p->logged = r;
    *pace = r;
    return 1;
}
