/* core/limiter.c — the limiter: a FIFO of waiters, an in-flight count, the
 * next rate slot, a pause, and one timer to wake up when a slot comes. */
#include "limiter.h"

#include <stdlib.h>

struct rc_limiter {
    rc_timer_heap *timers;
    rc_clock_fn clock;
    int refs;
    int max_in_flight, in_flight;
    double rate, next_slot, paused_until;
    rc_limit_waiter *head, *tail;
    rc_timer timer;
    rc_pace *pace;              /* the account's, shared; NULL: none */
    rc_pace_watcher watcher;    /* hears Ctrl-C from the pace */
};

static void wake_up(void *ud)
{
    rc_limiter_pump(ud);
}

rc_limiter *rc_limiter_create(rc_timer_heap *timers, rc_clock_fn clock, int max_in_flight, double rate)
{
    rc_limiter *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->timers = timers;
    l->clock = clock;
    l->refs = 1;
    l->max_in_flight = max_in_flight;
    l->rate = rate;
    rc_timer_init(&l->timer, wake_up, l);
    return l;
}

void rc_limiter_retain(rc_limiter *l)
{
    l->refs++;
}

void rc_limiter_release(rc_limiter *l)
{
    if (l == NULL || --l->refs > 0)
        return;
    rc_timer_heap_disarm(l->timers, &l->timer);
    if (l->pace != NULL)
        rc_pace_unwatch(l->pace, &l->watcher);
    rc_pace_release(l->pace);
    free(l);
}

void rc_limiter_pause(rc_limiter *l, double seconds)
{
    double until = l->clock() + seconds;
    if (until > l->paused_until)
        l->paused_until = until;
}

/* Ctrl-C (rc_pace_interrupt): every queued waiter that can give up does,
 * unsent; the others stay. */
static void interrupted(void *ud)
{
    rc_limiter *l = ud;
    for (rc_limit_waiter *w = l->head, *next; w != NULL; w = next) {
        next = w->next;
        if (w->expire != NULL) {
            rc_limiter_unlink(l, w);
            w->expire(w->ud, RC_GIVE_UP_INTERRUPTED, l->clock());
        }
    }
}

void rc_limiter_set_pace(rc_limiter *l, rc_pace *pace)
{
    if (pace != NULL)
        rc_pace_retain(pace);
    if (l->pace != NULL)
        rc_pace_unwatch(l->pace, &l->watcher);
    rc_pace_release(l->pace);
    l->pace = pace;
    if (pace != NULL) {
        l->watcher.interrupted = interrupted;
        l->watcher.ud = l;
        rc_pace_watch(pace, &l->watcher);
    }
}

rc_pace *rc_limiter_pace(const rc_limiter *l)
{
    return l->pace;
}

int rc_limiter_has_waiters(const rc_limiter *l)
{
    return l->head != NULL;
}

void rc_limiter_enqueue(rc_limiter *l, rc_limit_waiter *w, int at_front)
{
    if (at_front) {
        w->prev = NULL;
        w->next = l->head;
        if (l->head != NULL)
            l->head->prev = w;
        else
            l->tail = w;
        l->head = w;
    } else {
        w->next = NULL;
        w->prev = l->tail;
        if (l->tail != NULL)
            l->tail->next = w;
        else
            l->head = w;
        l->tail = w;
    }
}

void rc_limiter_unlink(rc_limiter *l, rc_limit_waiter *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        l->tail = w->prev;
    w->next = w->prev = NULL;
    if (l->head == NULL)        /* nothing waits: no wake-up left in the engine */
        rc_timer_heap_disarm(l->timers, &l->timer);
}

void rc_limiter_finished(rc_limiter *l)
{
    l->in_flight--;
    if (l->pace != NULL)
        rc_pace_finished(l->pace);
}

/* The head waiter gives up when the account has no quota, or when the
 * server's pace would hold it past its give_up_at. Returns 1 when it did. */
static int expire_head(rc_limiter *l, double now, double pace_ready)
{
    rc_limit_waiter *w = l->head;
    int no_quota = rc_pace_has_no_quota(l->pace);
    if (!no_quota && (w->give_up_at <= 0 || pace_ready <= w->give_up_at ||
                      !rc_pace_is_limiting(l->pace, now)))
        return 0;
    rc_limiter_unlink(l, w);
    w->expire(w->ud, no_quota ? RC_GIVE_UP_NO_QUOTA : RC_GIVE_UP_WAIT, pace_ready);
    return 1;
}

void rc_limiter_pump(rc_limiter *l)
{
    double now = l->clock();
    while (l->head != NULL && (l->max_in_flight <= 0 || l->in_flight < l->max_in_flight)) {
        double ready_at = l->paused_until;
        if (l->rate > 0 && l->next_slot > ready_at)
            ready_at = l->next_slot;
        if (l->pace != NULL) {
            double pace_ready = rc_pace_ready_at(l->pace, now);
            if (l->head->expire != NULL && expire_head(l, now, pace_ready))
                continue;
            if (pace_ready > ready_at)
                ready_at = pace_ready;
        }
        if (ready_at > now) {
            if (l->timer.slot == RC_TIMER_IDLE || l->timer.due > ready_at)
                rc_timer_heap_arm(l->timers, &l->timer, ready_at);
            return;
        }
        rc_limit_waiter *w = l->head;
        rc_limiter_unlink(l, w);
        l->in_flight++;
        if (l->rate > 0)
            l->next_slot = (l->next_slot > now ? l->next_slot : now) + 1.0 / l->rate;
        if (l->pace != NULL)
            rc_pace_started(l->pace, now);
        w->start(w->ud);
    }
}
