/* tests/unit/test_timers.c — the timer heap (core/timers.c) on its own:
 * many timers armed, disarmed and re-armed in random order fire in due
 * order, each once, disarmed ones never; callbacks may re-arm. */
#include "../../core/timers.h"
#include "tap.h"

#include <stdlib.h>

#define N_TIMERS 1000

typedef struct probe {
    rc_timer timer;
    int armed;                  /* what the heap should hold, kept by the test */
    double want_due;
    int fired;
    double fired_at;            /* due time seen when it fired */
} probe;

static double last_fired_due;
static int out_of_order, fired_total;

static void on_fire(void *ud)
{
    probe *p = ud;
    p->fired++;
    p->fired_at = p->timer.due;
    if (p->timer.due < last_fired_due)
        out_of_order++;
    last_fired_due = p->timer.due;
    fired_total++;
}

/* Every parent due no later than its children, every slot pointing back. */
static int heap_is_valid(const rc_timer_heap *h)
{
    for (size_t i = 0; i < h->len; i++) {
        if (h->items[i]->slot != i)
            return 0;
        if (i > 0 && h->items[(i - 1) / 2]->due > h->items[i]->due)
            return 0;
    }
    return 1;
}

/* Distinct due times (a shuffled 0..N-1, scaled), so due order is one order. */
static void random_ops(rc_timer_heap *h, probe *probes, double *dues, int *valid)
{
    for (int i = 0; i < N_TIMERS; i++)
        dues[i] = i * 0.001;
    for (int i = N_TIMERS - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        double d = dues[i]; dues[i] = dues[j]; dues[j] = d;
    }
    int next_due = 0;
    for (int step = 0; step < 20 * N_TIMERS; step++) {
        probe *p = &probes[rand() % N_TIMERS];
        if (rand() % 3 == 0) {
            rc_timer_heap_disarm(h, &p->timer);
            p->armed = 0;
        } else {                /* arm or re-arm with a due time nobody else has */
            p->want_due = dues[next_due++ % N_TIMERS] + (step / N_TIMERS) * 10.0;
            rc_timer_heap_arm(h, &p->timer, p->want_due);
            p->armed = 1;
        }
        if (step % 97 == 0 && !heap_is_valid(h))
            *valid = 0;
    }
}

static void test_random_order(void)
{
    rc_timer_heap heap = { 0 };
    static probe probes[N_TIMERS];
    static double dues[N_TIMERS];
    srand(12345);
    for (int i = 0; i < N_TIMERS; i++) {
        probes[i] = (probe){ 0 };
        rc_timer_init(&probes[i].timer, on_fire, &probes[i]);
    }
    int valid = 1;
    random_ops(&heap, probes, dues, &valid);
    ok(valid && heap_is_valid(&heap), "heap order holds through 20000 random arm/disarm/re-arm steps");
    size_t armed = 0;
    for (int i = 0; i < N_TIMERS; i++)
        armed += probes[i].armed;
    ok(heap.len == armed, "the heap holds exactly the armed timers");

    rc_timer *first = rc_timer_heap_first(&heap);
    rc_timer_heap_fire_due(&heap, first->due - 1e-6);
    ok(fired_total == 0, "nothing fires before the earliest due time");

    last_fired_due = -1;
    rc_timer_heap_fire_due(&heap, 1e9);
    int right = 1;
    for (int i = 0; i < N_TIMERS; i++) {
        probe *p = &probes[i];
        if (p->armed ? (p->fired != 1 || p->fired_at != p->want_due) : p->fired != 0)
            right = 0;
        if (p->timer.slot != RC_TIMER_IDLE)
            right = 0;
    }
    ok(out_of_order == 0, "timers fire in due order");
    ok(right && (size_t)fired_total == armed, "each armed timer fires once at its last due time, disarmed ones never");
    ok(heap.len == 0 && rc_timer_heap_first(&heap) == NULL, "the heap is empty after firing");
    rc_timer_heap_free(&heap);
}

/* A callback that re-arms its own timer (a ticking timer) and arms another. */
static rc_timer_heap chain_heap;
static rc_timer tick, other;
static int ticks, others;

static void on_tick(void *ud)
{
    (void)ud;
    if (++ticks < 3)
        rc_timer_heap_arm(&chain_heap, &tick, tick.due + 1);
    else
        rc_timer_heap_arm(&chain_heap, &other, 100);
}

static void on_other(void *ud)
{
    (void)ud;
    others++;
}

static void test_rearm_from_callback(void)
{
    rc_timer_init(&tick, on_tick, NULL);
    rc_timer_init(&other, on_other, NULL);
    rc_timer_heap_arm(&chain_heap, &tick, 1);
    rc_timer_heap_fire_due(&chain_heap, 2.5);
    ok(ticks == 2 && tick.slot != RC_TIMER_IDLE && tick.due == 3, "a timer re-armed from its callback fires again only when due");
    rc_timer_heap_fire_due(&chain_heap, 3);
    ok(ticks == 3 && others == 0 && other.slot != RC_TIMER_IDLE, "a callback may arm another timer");
    rc_timer_heap_disarm(&chain_heap, &other);
    rc_timer_heap_disarm(&chain_heap, &other);
    rc_timer_heap_fire_due(&chain_heap, 1000);
    ok(others == 0 && chain_heap.len == 0, "disarming twice is harmless; a disarmed timer never fires");
    rc_timer_heap_free(&chain_heap);
}

void test_timer_heap(void)
{
    test_random_order();
    test_rearm_from_callback();
}
