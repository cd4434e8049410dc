/* reclog: ring buffer of recorded requests, written out as a JSON array. */
#include "reclog.h"

#include <stdlib.h>

void reclog_init(struct reclog *l, size_t limit)
{
    l->ring = NULL;
    l->cap = 0;
    l->limit = limit ? limit : 1;
    l->head = 0;
    l->count = 0;
    l->next_seq = 1;
    l->dropped = 0;
}

/* Grows the ring (up to limit), keeping entries in order from index 0. */
static bool reclog_grow(struct reclog *l)
{
    size_t cap = l->cap ? l->cap * 2 : 64;
    if (cap > l->limit) {
        cap = l->limit;
    }
    struct rec_entry *ring = malloc(cap * sizeof *ring);
    if (ring == NULL) {
        return false;
    }
    for (size_t i = 0; i < l->count; i++) {
        ring[i] = l->ring[(l->head + i) % l->cap];
    }
    free(l->ring);
    l->ring = ring;
    l->cap = cap;
    l->head = 0;
    return true;
}

uint64_t reclog_add(struct reclog *l, char *json, size_t len)
{
    uint64_t seq = l->next_seq++;
    if (l->count == l->cap && l->cap < l->limit && !reclog_grow(l) &&
        l->cap == 0) {
        free(json);
        l->dropped++;
        return seq;
    }
    if (l->count == l->cap) {
        /* full: drop the oldest */
        free(l->ring[l->head].json);
        l->head = (l->head + 1) % l->cap;
        l->count--;
        l->dropped++;
    }
    struct rec_entry *e = &l->ring[(l->head + l->count) % l->cap];
    e->seq = seq;
    e->json = json;
    e->len = len;
    l->count++;
    return seq;
}

void reclog_clear(struct reclog *l, bool reset_seq)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->ring[(l->head + i) % l->cap].json);
    }
    free(l->ring);
    l->ring = NULL;
    l->cap = 0;
    l->head = 0;
    l->count = 0;
    l->dropped = 0;
    if (reset_seq) {
        l->next_seq = 1;
    }
}

void reclog_write_json(const struct reclog *l, struct jbuf *b)
{
    jb_putc(b, '[');
    for (size_t i = 0; i < l->count; i++) {
        const struct rec_entry *e = &l->ring[(l->head + i) % l->cap];
        if (i > 0) {
            jb_putc(b, ',');
        }
        JB_LIT(b, "{\"seq\":");
        jb_u64(b, e->seq);
        jb_put(b, e->json, e->len);
    }
    jb_putc(b, ']');
}

void reclog_free(struct reclog *l)
{
    reclog_clear(l, true);
}
