/* reclog: the recorded API requests: an entry built from the request as sent, kept in
 * a bounded ring (oldest dropped), listed whole or filtered by method and path. */
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
    char *method_path; /* "METHOD /raw/path", for filtering */
};

/* Which entries to list: a method (NULL: any) and the end of the raw path
 * (NULL: any), e.g. POST and "/batches/batch_1/cancel". */
struct rec_filter {
    const char *method;
    size_t method_len;
    const char *path_end;
    size_t path_end_len;
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
/* Appends an entry, taking ownership of json, for a request of this method
 * and raw path; returns its seq number. */
uint64_t reclog_add(struct reclog *l, char *json, size_t len, const char *method,
                    const char *path, size_t path_len);
void reclog_clear(struct reclog *l, bool reset_seq);
/* Writes the entries the filter keeps (NULL: all) as a JSON array. */
void reclog_write_json(const struct reclog *l, const struct rec_filter *f, struct jbuf *b);
void reclog_free(struct reclog *l);

struct req;
struct MHD_Connection;
/* Builds the entry for reclog_add (after its {"seq":N prefix): method, raw
 * path and query, the headers (lower-cased names, repeats joined with ", "),
 * the body and the request id. NULL when out of memory. */
char *reclog_entry(struct MHD_Connection *c, const struct req *r, const char *method,
                   const char *rid, size_t *len);

#endif
