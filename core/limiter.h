/* core/limiter.h — a shared bound on concurrency and pace: a FIFO of waiters
 * started only while fewer than max_in_flight are running, no faster than
 * rate per second, and not before a pause ends. Knows nothing of HTTP: the
 * engine queues its transfers here; the unit tests queue plain waiters. */
#ifndef RC_LIMITER_H
#define RC_LIMITER_H

#include "ratelimit.h"
#include "timers.h"

typedef struct rc_limiter rc_limiter;

/* Embedded in whatever waits (a transfer). start runs when it may go; it then
 * counts as in flight until rc_limiter_finished. */
typedef struct rc_limit_waiter {
    struct rc_limit_waiter *next, *prev;
    void (*start)(void *ud);
    void *ud;
    /* With a pace: the waiter gives up (expire runs instead of start, the
     * waiter taken out of the queue) when the server's pace would hold it
     * past give_up_at (0: never), or at once when the account has no quota
     * left (no_quota 1). expire may not free the limiter. */
    double give_up_at;
    void (*expire)(void *ud, int why, double ready_at);     /* why: rc_give_up */
} rc_limit_waiter;

enum rc_give_up { RC_GIVE_UP_WAIT, RC_GIVE_UP_NO_QUOTA, RC_GIVE_UP_INTERRUPTED };

typedef double (*rc_clock_fn)(void);

/* max_in_flight <= 0 means unbounded; rate <= 0 means unpaced (starts/s).
 * The limiter arms its wake-up timer in timers, on clock's time scale.
 * Starts with one reference. NULL on ENOMEM. */
rc_limiter *rc_limiter_create(rc_timer_heap *timers, rc_clock_fn clock, int max_in_flight, double rate);
void rc_limiter_retain(rc_limiter *l);
/* Drops a reference; the last one frees the limiter and disarms its timer. */
void rc_limiter_release(rc_limiter *l);

/* Queues w (at the front: a retry goes before newcomers). Call
 * rc_limiter_pump to start what may start. */
void rc_limiter_enqueue(rc_limiter *l, rc_limit_waiter *w, int at_front);
/* Takes a queued waiter out of the queue without starting it. */
void rc_limiter_unlink(rc_limiter *l, rc_limit_waiter *w);
/* Starts waiters, in queue order, while the limits allow; arms the wake-up
 * timer when the next one must wait for its time slot or the pause. */
void rc_limiter_pump(rc_limiter *l);
/* One started waiter has finished (no pump: the caller pumps when ready). */
void rc_limiter_finished(rc_limiter *l);
/* Holds every queued waiter back for seconds (a 429 pauses the whole client). */
void rc_limiter_pause(rc_limiter *l, double seconds);
/* Puts the limiter under an account's pace (retained; NULL: none), which
 * every start then also waits for. */
void rc_limiter_set_pace(rc_limiter *l, rc_pace *pace);
rc_pace *rc_limiter_pace(const rc_limiter *l);
/* 1 when waiters are queued. */
int rc_limiter_has_waiters(const rc_limiter *l);

#endif
