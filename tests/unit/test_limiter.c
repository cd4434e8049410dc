/* tests/unit/test_limiter.c — the limiter (core/limiter.c) on a fake clock:
 * concurrency bound, queue order (retries at the front), unlinking, rate
 * pacing, pause, and release while waiters are queued. */
#include "../../core/limiter.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

static double fake_now;
static double fake_clock(void) { return fake_now; }

typedef struct job {
    rc_limit_waiter waiter;
    int id;
} job;

static int started[16], n_started;

static void on_start(void *ud)
{
    started[n_started++] = ((job *)ud)->id;
}

static void make_jobs(job *jobs, int n)
{
    n_started = 0;
    for (int i = 0; i < n; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].id = i + 1;
        jobs[i].waiter.start = on_start;
        jobs[i].waiter.ud = &jobs[i];
    }
}

/* "1,2,3": the ids started so far, in order. */
static const char *started_text(void)
{
    static char text[64];
    size_t pos = 0;
    text[0] = '\0';
    for (int i = 0; i < n_started && pos < sizeof text - 4; i++)
        pos += (size_t)snprintf(text + pos, sizeof text - pos, i ? ",%d" : "%d", started[i]);
    return text;
}

static void test_concurrency_and_order(void)
{
    rc_timer_heap timers = { 0 };
    rc_limiter *l = rc_limiter_create(&timers, fake_clock, 2, 0);
    job jobs[6];
    make_jobs(jobs, 6);
    for (int i = 0; i < 5; i++)
        rc_limiter_enqueue(l, &jobs[i].waiter, 0);
    rc_limiter_pump(l);
    is_str(started_text(), "1,2", "max_in_flight 2: two of five start, in queue order");
    rc_limiter_pump(l);
    is_str(started_text(), "1,2", "pumping again starts nothing while two are in flight");
    rc_limiter_enqueue(l, &jobs[5].waiter, 1);
    rc_limiter_unlink(l, &jobs[3].waiter);
    rc_limiter_finished(l);
    rc_limiter_pump(l);
    is_str(started_text(), "1,2,6", "one finishes: the waiter queued at the front goes next");
    rc_limiter_finished(l);
    rc_limiter_finished(l);
    rc_limiter_pump(l);
    is_str(started_text(), "1,2,6,3,5", "then the queue in order; an unlinked waiter never starts");
    ok(!rc_limiter_has_waiters(l) && timers.len == 0, "queue empty, no timer armed without a rate");
    rc_limiter_release(l);

    l = rc_limiter_create(&timers, fake_clock, 0, 0);
    make_jobs(jobs, 4);
    for (int i = 0; i < 4; i++)
        rc_limiter_enqueue(l, &jobs[i].waiter, 0);
    rc_limiter_pump(l);
    is_str(started_text(), "1,2,3,4", "max_in_flight 0: unbounded");
    rc_limiter_release(l);
    rc_timer_heap_free(&timers);
}

static void test_rate(void)
{
    rc_timer_heap timers = { 0 };
    fake_now = 100;
    rc_limiter *l = rc_limiter_create(&timers, fake_clock, 0, 10);
    job jobs[3];
    make_jobs(jobs, 3);
    for (int i = 0; i < 3; i++)
        rc_limiter_enqueue(l, &jobs[i].waiter, 0);
    rc_limiter_pump(l);
    is_str(started_text(), "1", "rate 10/s: the first starts at once");
    rc_timer *wake = rc_timer_heap_first(&timers);
    ok(wake != NULL, "a wake-up timer is armed for the next slot");
    near(wake ? wake->due : 0, 100.1, 1e-9, "the next slot is 1/rate later");
    rc_timer_heap_fire_due(&timers, 100.05);
    is_str(started_text(), "1", "nothing starts before the slot");
    fake_now = rc_timer_heap_first(&timers)->due;
    rc_timer_heap_fire_due(&timers, fake_now);
    is_str(started_text(), "1,2", "the second starts at its slot");
    near(rc_timer_heap_first(&timers)->due, 100.2, 1e-9, "the third waits one more slot");
    fake_now = rc_timer_heap_first(&timers)->due;
    rc_timer_heap_fire_due(&timers, fake_now);
    is_str(started_text(), "1,2,3", "the third starts at its slot");
    ok(timers.len == 0, "no timer left once the queue is empty");

    fake_now = 200;             /* idle for a long time: no burst of saved-up slots */
    make_jobs(jobs, 2);
    rc_limiter_enqueue(l, &jobs[0].waiter, 0);
    rc_limiter_enqueue(l, &jobs[1].waiter, 0);
    rc_limiter_pump(l);
    is_str(started_text(), "1", "after idling, one starts and the next waits its slot");
    near(rc_timer_heap_first(&timers)->due, 200.1, 1e-9, "slots count from now, not from the last start");
    rc_limiter_release(l);
    ok(timers.len == 0, "releasing the last reference disarms the wake-up timer");
    rc_timer_heap_free(&timers);
}

static void test_pause(void)
{
    rc_timer_heap timers = { 0 };
    fake_now = 0;
    rc_limiter *l = rc_limiter_create(&timers, fake_clock, 4, 0);
    job jobs[2];
    make_jobs(jobs, 2);
    rc_limiter_pause(l, 5);
    rc_limiter_pause(l, 2);
    rc_limiter_enqueue(l, &jobs[0].waiter, 0);
    rc_limiter_enqueue(l, &jobs[1].waiter, 0);
    rc_limiter_pump(l);
    ok(n_started == 0, "a paused limiter starts nothing");
    near(rc_timer_heap_first(&timers)->due, 5, 1e-9, "a shorter pause does not cut a longer one short");
    fake_now = 4.9;
    rc_timer_heap_fire_due(&timers, fake_now);
    ok(n_started == 0, "still paused before the end");
    fake_now = 5;
    rc_timer_heap_fire_due(&timers, fake_now);
    is_str(started_text(), "1,2", "the pause ends: the queue starts in order");
    rc_limiter_release(l);
    rc_timer_heap_free(&timers);
}

static void test_release_with_waiters(void)
{
    rc_timer_heap timers = { 0 };
    fake_now = 0;
    rc_limiter *l = rc_limiter_create(&timers, fake_clock, 1, 0);
    job jobs[2];
    make_jobs(jobs, 2);
    for (int i = 0; i < 2; i++) {
        rc_limiter_retain(l);           /* as a transfer does */
        rc_limiter_enqueue(l, &jobs[i].waiter, 0);
    }
    rc_limiter_pump(l);
    rc_limiter_release(l);              /* the creator lets go */
    rc_limiter_finished(l);
    rc_limiter_release(l);              /* the first waiter ends */
    rc_limiter_pump(l);
    is_str(started_text(), "1,2", "released by its creator, the limiter still serves its queued waiters");
    rc_limiter_finished(l);
    rc_limiter_release(l);              /* the last reference: freed (ASan checks) */
    ok(timers.len == 0, "no timer left behind");
    rc_timer_heap_free(&timers);
}

void test_limiter(void)
{
    test_concurrency_and_order();
    test_rate();
    test_pause();
    test_release_with_waiters();
}
