/* reclog: the bounded log of recorded API requests (a ring, oldest dropped). */
#ifndef FAKEAPI_RECLOG_H
#define FAKEAPI_RECLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jbuf.h"

struct rec_entry {
    uint64_t seq;
    char *json; /* the entry without its leading {"seq":N, i.e. ,"method":...} */
    size_t len;
};

struct reclog {
    struct rec_entry *ring;
    size_t cap;      /* allocated slots */
    size_t limit;    /* maximum entries kept */
    size_t head;     /* index of the oldest entry */
    size_t count;
    uint64_t next_seq;
    uint64_t dropped;
};

void reclog_init(struct reclog *l, size_t limit);
/* Appends an entry, taking ownership of json; returns its seq number. */
uint64_t reclog_add(struct reclog *l, char *json, size_t len);
void reclog_clear(struct reclog *l, bool reset_seq);
void reclog_write_json(const struct reclog *l, struct jbuf *b);
void reclog_free(struct reclog *l);

struct req;
struct MHD_Connection;
/* Builds the entry for reclog_add (after its {"seq":N prefix): method, raw
 * path and query, the headers (lower-cased names, repeats joined with ", "),
 * the body and the request id. NULL when out of memory. */
char *reclog_entry(struct MHD_Connection *c, const struct req *r, const char *method,
                   const char *rid, size_t *len);

#endif
