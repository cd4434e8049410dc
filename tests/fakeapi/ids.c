/* ids: the id hash, the open-addressing id index shared by the store and jobs,
 * and generated ids. */
#include "ids.h"

#include <string.h>

uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

size_t id_index_slots(size_t n)
{
    size_t sz = 16;
    while (sz < n * 2) {
        sz *= 2;
    }
    return sz;
}

static bool key_is(struct id_key k, const char *id, size_t len)
{
    return k.n == len && memcmp(k.p, id, len) == 0;
}

size_t id_index_fill(struct id_index *x, size_t n_slots, const void *items, size_t n,
                     id_key_fn key)
{
    x->mask = n_slots - 1;
    for (size_t k = 0; k < n; k++) {
        struct id_key id = key(items, k);
        size_t i = hash_bytes(id.p, id.n) & x->mask;
        while (x->slots[i] != 0) {
            if (key_is(key(items, x->slots[i] - 1), id.p, id.n)) {
                return k;
            }
            i = (i + 1) & x->mask;
        }
        x->slots[i] = (uint32_t)k + 1;
    }
    return n;
}

long id_index_find(const struct id_index *x, const void *items, id_key_fn key,
                   const char *id, size_t len)
{
    if (x->slots == NULL) {
        return -1;
    }
    size_t i = hash_bytes(id, len) & x->mask;
    for (;;) {
        uint32_t slot = x->slots[i];
        if (slot == 0) {
            return -1;
        }
        if (key_is(key(items, slot - 1), id, len)) {
            return (long)slot - 1;
        }
        i = (i + 1) & x->mask;
    }
}

int id_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0) {
        return c;
    }
    return an < bn ? -1 : (an > bn ? 1 : 0);
}

uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_next(uint64_t *state)
{
    return mix64(*state += 0x9e3779b97f4a7c15ULL);
}

void gen_id_into(char *out, uint64_t *rng, const char *prefix)
{
    static const char alnum[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t plen = strlen(prefix);
    memcpy(out, prefix, plen);
    for (size_t i = 0; i < 24; i++) {
        out[plen + i] = alnum[rng_next(rng) % 62];
    }
    out[plen + 24] = '\0';
}
