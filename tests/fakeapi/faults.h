/* faults: the injected-fault FIFO queue and the streamed/broken fault bodies. */
#ifndef FAKEAPI_FAULTS_H
#define FAKEAPI_FAULTS_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jbuf.h"

/* When a fault drops the connection: before the request is applied, in the
 * middle of the answer (applied, half sent), or after it was applied with
 * nothing sent (the "answer lost" case). */
enum fault_close { CLOSE_NONE, CLOSE_BEFORE, CLOSE_MIDDLE, CLOSE_AFTER };

struct fault_header {
    char *name;
    char *value;
};

struct fault {
    struct fault *next;
    atomic_int refs;
    json_t *spec;          /* the object as posted, for listing */
    char *method;          /* NULL = any */
    char *path;            /* substring of the raw path, NULL = any */
    int64_t remaining;     /* requests left before removal */
    int status;            /* 0 = not given */
    struct fault_header *headers;
    size_t n_headers;
    char *body;            /* NULL = not given */
    size_t body_len;
    int64_t delay_ms;
    int close;             /* enum fault_close */
    bool truncate;
    bool html;
    bool chunked;
    int64_t large_bytes;   /* -1 = not given */
};

struct fault_queue {
    struct fault *head;
    struct fault *tail;
    size_t n;
};

void faults_init(struct fault_queue *q);
/* Validates one fault object or an array of them and appends them all, or
 * none on error (err is filled). Caller holds the state lock. */
bool faults_add_json(struct fault_queue *q, json_t *v, char *err,
                     size_t err_len);
void faults_clear(struct fault_queue *q);
void faults_write_json(struct fault_queue *q, struct jbuf *b);
/* If the head fault matches, returns it with a reference held (release it
 * with fault_release) and consumes one of its uses; otherwise NULL. */
struct fault *faults_take(struct fault_queue *q, const char *method,
                          const char *path, size_t path_len);
void fault_release(struct fault *f);
/* Looks a header up (case-insensitive) among the fault's extra headers. */
bool fault_has_header(const struct fault *f, const char *name);

/* A 200-style body of n bytes, {"pad":"xxx..."}, streamed in blocks. */
struct MHD_Response *fault_large_response(int64_t n, bool chunked,
                                          const atomic_bool *stopping);
/* A response announcing len bytes that sends the first half and then
 * aborts the connection. Takes ownership of body (malloc'd). */
struct MHD_Response *fault_partial_response(char *body, size_t len);

#endif
