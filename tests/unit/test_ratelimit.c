/* tests/unit/test_ratelimit.c — the account's pace (core/ratelimit.c) on a
 * fake clock: Go durations and the x-ratelimit headers (absurd values
 * ignored), insufficient_quota bodies, the pace learned from the headers
 * (never above the server's rate), the pause of a 429 (from its arrival,
 * never stacked), the adaptive pace without headers, the probe, and the
 * limiter's waiters giving up (a pause past their bound, no quota). */
#include "../../core/limiter.h"
#include "../../core/ratelimit.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

static void duration_case(const char *s, double want, const char *name)
{
    double got = -99;
    int rc = rc_ratelimit_duration(s, &got);
    if (want < 0)
        ok(rc == -1, name);
    else
        near(rc == 0 ? got : -1, want, 1e-9, name);
}

static void test_durations(void)
{
    duration_case("1s", 1, "duration 1s");
    duration_case("6m0s", 360, "duration 6m0s");
    duration_case("12ms", 0.012, "duration 12ms");
    duration_case("1m30.5s", 90.5, "duration 1m30.5s");
    duration_case("97.500ms", 0.0975, "duration 97.500ms");
    duration_case("20us", 20e-6, "duration 20us");
    duration_case("20\xc2\xb5s", 20e-6, "duration 20 micro-sign s");
    duration_case("1h2m3s", 3723, "duration 1h2m3s");
    duration_case("0", 0, "duration 0 (Azure)");
    duration_case("1.5", 1.5, "a bare number is seconds");
    duration_case("-1", -1, "duration -1 (Azure) is refused");
    duration_case("-1s", -1, "a negative duration is refused");
    duration_case("abc", -1, "duration abc is refused");
    duration_case("", -1, "an empty duration is refused");
    duration_case("5x", -1, "an unknown unit is refused");
    duration_case("1s2", -1, "a number without its unit is refused");
    duration_case("999999h", -1, "duration 999999h (over a day) is refused");
    duration_case("1e400s", -1, "an overflowing duration is refused");
    duration_case(NULL, -1, "no header is no duration");
}

static void test_headers_read(void)
{
    rc_ratelimit_info i;
    rc_ratelimit_read("20", "19", "5ms", &i);
    ok(i.valid && i.limit == 20 && i.remaining == 19 && i.reset_s > 0.00499 && i.reset_s < 0.00501,
       "limit 20, remaining 19, reset 5ms are read");
    rc_ratelimit_read("-1", "0", "0", &i);
    ok(!i.valid, "Azure's -1/0 is ignored");
    rc_ratelimit_read("0", "0", "1s", &i);
    ok(!i.valid, "a limit of 0 is ignored");
    rc_ratelimit_read("20", "21", "1s", &i);
    ok(!i.valid, "remaining over the limit (inconsistent) is ignored");
    rc_ratelimit_read("abc", "1", "1s", &i);
    ok(!i.valid, "limit abc is ignored");
    rc_ratelimit_read("20", "1", "999999h", &i);
    ok(!i.valid, "reset 999999h is ignored");
    rc_ratelimit_read("99999999999999999999", "1", "1s", &i);
    ok(!i.valid, "a huge limit is ignored");
    rc_ratelimit_read(NULL, "1", "1s", &i);
    ok(!i.valid, "a missing header leaves the family unknown");
}

static void test_no_quota(void)
{
    const char *a = "{\"error\":{\"message\":\"You exceeded your current quota\",\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\"}}";
    const char *b = "{\"error\": {\"code\" : \"insufficient_quota\"}}";
    const char *c = "{\"error\":{\"message\":\"not \\\"insufficient_quota\\\" at all\",\"code\":\"rate_limit_exceeded\"}}";
    ok(rc_ratelimit_is_no_quota(a, strlen(a)), "insufficient_quota as type and code");
    ok(rc_ratelimit_is_no_quota(b, strlen(b)), "insufficient_quota as code, spaces around the colon");
    ok(!rc_ratelimit_is_no_quota(c, strlen(c)), "a message naming insufficient_quota is not it");
    ok(!rc_ratelimit_is_no_quota("", 0), "an empty body is not it");
}

/* Answers as a token bucket of `limit` refilled at rate would give them. */
static void bucket_answer(rc_pace *p, double now, double limit, double tokens, double rate)
{
    rc_ratelimit_info req = { 1, limit, (double)(long)tokens, (limit - tokens) / rate };
    rc_pace_answered(p, now, 200, &req, NULL);
}

static void test_pace_from_headers(void)
{
    rc_pace *p = rc_pace_new();
    double now = 100;
    ok(rc_pace_ready_at(p, now) == now, "a new pace holds nothing back");
    for (int i = 0; i < 4; i++)
        rc_pace_started(p, now);
    ok(rc_pace_ready_at(p, now) > now, "the probe: no fifth request before the first answer");
    for (int i = 0; i < 4; i++)
        rc_pace_finished(p);
    /* the server's bucket: 20, refilled at 200/s, drained to 0.5 */
    bucket_answer(p, now, 20, 0.5, 200);
    rc_pace_state st;
    rc_pace_get_state(p, now, &st);
    ok(st.pace > 180 && st.pace <= 200, "the pace learned from the headers is just under 200/s");
    ok(st.from_headers && st.requests.limit == 20, "the state names the headers");
    /* a thousand starts as fast as the pace allows take no less than the server's rate */
    double t = now;
    for (int i = 0; i < 1000; i++) {
        t = rc_pace_ready_at(p, t);
        rc_pace_started(p, t);
        rc_pace_finished(p);
    }
    ok(t - now >= 1000 / 200.0, "1,000 requests at the pace take at least 5 s (never over 200/s)");
    ok(t - now <= 1000 / 200.0 * 1.1, "and at most 10% more");
    rc_pace_release(p);
}

static void test_pause(void)
{
    rc_pace *p = rc_pace_new();
    double now = 10;
    rc_pace_limited(p, now, now - 0.1, 2.0, NULL, NULL);
    near(rc_pace_ready_at(p, now), 12, 1e-9, "a 429 with retry-after 2 s pauses until 2 s after it came");
    rc_pace_limited(p, now + 0.5, now, 1.0, NULL, NULL);
    near(rc_pace_ready_at(p, now + 0.5), 12, 1e-9, "a shorter hint from a later 429 does not stack or shorten it");
    rc_pace_limited(p, now + 1, now, 2.0, NULL, NULL);
    near(rc_pace_ready_at(p, now + 1), 13, 1e-9, "a later 429 moves the end to its own arrival + hint");
    rc_pace_state st;
    rc_pace_get_state(p, now + 1, &st);
    ok(st.limited == 3 && st.pace == 0, "3 429s counted; a lone 429 among few requests starts no pace");
    rc_pace_release(p);
}

static void test_adaptive(void)
{
    rc_pace *p = rc_pace_new();
    double now = 50;
    /* 100 successes in half a second, then a 429 without headers */
    for (int i = 0; i < 100; i++)
        rc_pace_answered(p, now + i * 0.005, 200, NULL, NULL);
    now += 0.5;
    rc_pace_limited(p, now, now - 0.01, 0.001, NULL, NULL);
    rc_pace_state st;
    rc_pace_get_state(p, now, &st);
    ok(!st.from_headers && st.pace > 100 && st.pace < 200, "a 429 after 200/s of successes paces at 0.9x of it");
    double first = st.pace;
    rc_pace_limited(p, now + 0.2, now - 0.1, 0.001, NULL, NULL);
    rc_pace_get_state(p, now + 0.2, &st);
    ok(st.pace == first, "a 429 of a request started before the cut does not cut again");
    rc_pace_limited(p, now + 0.3, now + 0.25, 0.001, NULL, NULL);
    rc_pace_get_state(p, now + 0.3, &st);
    ok(st.pace < first, "a 429 of a later round cuts the pace");
    rc_pace_release(p);
}

/* ---- the limiter's waiters giving up ---- */

static double fake_now;
static double fake_clock(void) { return fake_now; }
static int n_started, n_expired, last_no_quota;
static void on_start(void *ud) { (void)ud; n_started++; }
static void on_expire(void *ud, int no_quota, double ready_at)
{
    (void)ud, (void)ready_at;
    n_expired++;
    last_no_quota = no_quota;
}

static void test_waiters_give_up(void)
{
    rc_timer_heap timers = { 0 };
    fake_now = 1000;
    rc_limiter *l = rc_limiter_create(&timers, fake_clock, 0, 0);
    rc_pace *p = rc_pace_new();
    rc_limiter_set_pace(l, p);
    rc_pace_limited(p, fake_now, fake_now, 365 * 86400.0, NULL, NULL);   /* a year */
    rc_limit_waiter w[3];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 3; i++) {
        w[i].start = on_start;
        w[i].expire = on_expire;
        w[i].give_up_at = fake_now + 60;
        rc_limiter_enqueue(l, &w[i], 0);
    }
    rc_limiter_pump(l);
    ok(n_started == 0 && n_expired == 3 && !last_no_quota,
       "a pause of a year: every waiter gives up at once, none starts");
    rc_pace_release(p);
    p = rc_pace_new();
    rc_limiter_set_pace(l, p);
    rc_pace_limited(p, fake_now, fake_now, 30, NULL, NULL);
    w[0].give_up_at = fake_now + 60;
    rc_limiter_enqueue(l, &w[0], 0);
    rc_limiter_pump(l);
    ok(n_expired == 3 && n_started == 0, "a pause within the bound: the waiter waits");
    rc_pace_no_quota(p);
    rc_limiter_pump(l);
    ok(n_expired == 4 && last_no_quota, "no quota: the waiter gives up, told why");
    rc_pace_release(p);
    rc_limiter_release(l);
    rc_timer_heap_free(&timers);
}

void test_ratelimit(void)
{
    test_durations();
    test_headers_read();
    test_no_quota();
    test_pace_from_headers();
    test_pause();
    test_adaptive();
    test_waiters_give_up();
}
