/* core/timers.c — the timer heap: arm, disarm, fire what is due. */
#include "timers.h"

#include <stdlib.h>

void rc_timer_init(rc_timer *timer, void (*fire)(void *ud), void *ud)
{
    timer->due = 0;
    timer->slot = RC_TIMER_IDLE;
    timer->fire = fire;
    timer->ud = ud;
}

static void swap(rc_timer_heap *h, size_t a, size_t b)
{
    rc_timer *t = h->items[a];
    h->items[a] = h->items[b];
    h->items[b] = t;
    h->items[a]->slot = a;
    h->items[b]->slot = b;
}

static void sift_up(rc_timer_heap *h, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->due <= h->items[i]->due)
            break;
        swap(h, i, parent);
        i = parent;
    }
}

static void sift_down(rc_timer_heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < h->len && h->items[l]->due < h->items[min]->due)
            min = l;
        if (r < h->len && h->items[r]->due < h->items[min]->due)
            min = r;
        if (min == i)
            return;
        swap(h, i, min);
        i = min;
    }
}

void rc_timer_heap_disarm(rc_timer_heap *h, rc_timer *timer)
{
    size_t i = timer->slot;
    if (i == RC_TIMER_IDLE)
        return;
    timer->slot = RC_TIMER_IDLE;
    h->len--;
    if (i == h->len)
        return;
    h->items[i] = h->items[h->len];     /* the last one fills the hole */
    h->items[i]->slot = i;
    sift_down(h, i);
    sift_up(h, i);
}

void rc_timer_heap_arm(rc_timer_heap *h, rc_timer *timer, double due)
{
    rc_timer_heap_disarm(h, timer);
    if (h->len == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        rc_timer **items = realloc(h->items, cap * sizeof *items);
        if (items == NULL)
            abort();
        h->items = items;
        h->cap = cap;
    }
    timer->due = due;
    timer->slot = h->len;
    h->items[h->len++] = timer;
    sift_up(h, timer->slot);
}

rc_timer *rc_timer_heap_first(const rc_timer_heap *h)
{
    return h->len > 0 ? h->items[0] : NULL;
}

size_t rc_timer_heap_fire_due(rc_timer_heap *h, double now)
{
    size_t fired = 0;
    while (h->len > 0 && h->items[0]->due <= now) {
        rc_timer *t = h->items[0];
        rc_timer_heap_disarm(h, t);
        t->fire(t->ud);
        fired++;
    }
    return fired;
}

void rc_timer_heap_free(rc_timer_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->len = h->cap = 0;
}
