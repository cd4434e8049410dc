/* ids: the id hash, the open-addressing id index shared by the store (threads,
 * runs) and jobs (batches, responses, ...), and generated ids. */
#ifndef FAKEAPI_IDS_H
#define FAKEAPI_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An id as bytes (not NUL-terminated). */
struct id_key {
    const char *p;
    size_t n;
};

/* The id of items[i]; each owner of an array writes one of these. */
typedef struct id_key (*id_key_fn)(const void *items, size_t i);

/* An index over an array: slots hold position + 1, 0 = empty. The owner
 * allocates the zeroed slots (id_index_slots(n) of them) where it likes. */
struct id_index {
    uint32_t *slots;
    size_t mask;
};

/* How many slots an index over n items needs (a power of two, at least 16). */
size_t id_index_slots(size_t n);
/* Fills x->slots (zeroed, id_index_slots(n) long) for items[0..n). Returns
 * n when every id is unique, else the position of the first duplicate. */
size_t id_index_fill(struct id_index *x, size_t n_slots, const void *items, size_t n,
                     id_key_fn key);
/* The position of the item with this id, or -1. */
long id_index_find(const struct id_index *x, const void *items, id_key_fn key,
                   const char *id, size_t len);

/* Orders ids bytewise, a shorter prefix first (qsort-style result). */
int id_cmp(const char *a, size_t an, const char *b, size_t bn);

/* SplitMix64's finalizer: a bijection that scatters bits. */
uint64_t mix64(uint64_t z);
/* SplitMix64: the deterministic sequence behind generated stores. */
uint64_t rng_next(uint64_t *state);
/* Writes prefix + 24 alphanumerics + NUL into out (strlen(prefix) + 25 bytes),
 * shaped like the real ids. */
void gen_id_into(char *out, uint64_t *rng, const char *prefix);
/* A hash of the bytes (FNV-1a, folded); also seeds ids a seed left out. */
uint64_t hash_bytes(const char *p, size_t n);

#endif
