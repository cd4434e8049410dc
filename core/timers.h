/* core/timers.h — a binary min-heap of one-shot timers, ordered by due time.
 * Knows no clock: callers arm with an absolute due time and fire with "now",
 * so the engine uses the monotonic clock and the unit tests a fake one. */
#ifndef RC_TIMERS_H
#define RC_TIMERS_H

#include <stddef.h>

#define RC_TIMER_IDLE ((size_t)-1)

/* Owned by the caller (embedded in whatever it times); armed in a heap. */
typedef struct rc_timer {
    double due;                 /* seconds on the caller's clock */
    size_t slot;                /* heap index, RC_TIMER_IDLE when not armed */
    void (*fire)(void *ud);
    void *ud;
} rc_timer;

typedef struct rc_timer_heap {
    rc_timer **items;
    size_t len, cap;
} rc_timer_heap;

void rc_timer_init(rc_timer *timer, void (*fire)(void *ud), void *ud);

/* (Re)arms timer to fire once at due. Aborts on ENOMEM: a timer that cannot
 * be armed would leave whoever waits on it hanging forever. */
void rc_timer_heap_arm(rc_timer_heap *heap, rc_timer *timer, double due);
/* Disarms; safe on an idle timer. */
void rc_timer_heap_disarm(rc_timer_heap *heap, rc_timer *timer);
/* The earliest armed timer, or NULL. */
rc_timer *rc_timer_heap_first(const rc_timer_heap *heap);
/* Fires, earliest first, every timer due at or before now; a timer is
 * disarmed before it fires, and its callback may arm or disarm any timer.
 * Returns how many fired. */
size_t rc_timer_heap_fire_due(rc_timer_heap *heap, double now);
/* Frees the heap's array (armed timers belong to their owners). */
void rc_timer_heap_free(rc_timer_heap *heap);

#endif
