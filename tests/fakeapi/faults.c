/* faults: parsing and queueing injected faults; content readers for large and broken bodies. */
#include "faults.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void faults_init(struct fault_queue *q)
{
    q->head = NULL;
    q->tail = NULL;
    q->n = 0;
}

static void fault_free(struct fault *f)
{
    if (f == NULL) {
        return;
    }
    json_decref(f->spec);
    free(f->method);
    free(f->path);
    for (size_t i = 0; i < f->n_headers; i++) {
        free(f->headers[i].name);
        free(f->headers[i].value);
    }
    free(f->headers);
    free(f->body);
    free(f);
}

void fault_release(struct fault *f)
{
    if (f != NULL && atomic_fetch_sub(&f->refs, 1) == 1) {
        fault_free(f);
    }
}

static bool get_int(json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!json_is_integer(v)) {
        return false;
    }
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        return false;
    }
    *out = x;
    return true;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n + 1);
    }
    return d;
}

static bool out_of_memory(char *err, size_t err_len)
{
    snprintf(err, err_len, "out of memory");
    return false;
}

/* "body": a string is sent as is, anything else as compact JSON. */
static bool fault_body(struct fault *f, json_t *v, char *err, size_t err_len)
{
    if (json_is_string(v)) {
        f->body_len = json_string_length(v);
        f->body = malloc(f->body_len + 1);
        if (f->body == NULL) {
            return out_of_memory(err, err_len);
        }
        memcpy(f->body, json_string_value(v), f->body_len + 1);
        return true;
    }
    f->body = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (f->body == NULL) {
        return out_of_memory(err, err_len);
    }
    f->body_len = strlen(f->body);
    return true;
}

/* "headers": an object of string values, no line breaks, names without ':'. */
static bool fault_headers(struct fault *f, json_t *v, size_t idx, char *err,
                          size_t err_len)
{
    if (!json_is_object(v)) {
        snprintf(err, err_len, "fault %zu: 'headers' must be an object", idx);
        return false;
    }
    size_t n = json_object_size(v);
    f->headers = calloc(n ? n : 1, sizeof *f->headers);
    if (f->headers == NULL) {
        return out_of_memory(err, err_len);
    }
    const char *hk;
    json_t *hv;
    json_object_foreach(v, hk, hv) {
        if (!json_is_string(hv)) {
            snprintf(err, err_len, "fault %zu: header '%s' must be a string", idx, hk);
            return false;
        }
        if (strpbrk(hk, "\r\n:") != NULL || hk[0] == '\0' ||
            strpbrk(json_string_value(hv), "\r\n") != NULL) {
            snprintf(err, err_len, "fault %zu: invalid header '%s'", idx, hk);
            return false;
        }
        char *name = dup_str(hk);
        char *value = dup_str(json_string_value(hv));
        f->headers[f->n_headers].name = name;
        f->headers[f->n_headers].value = value;
        f->n_headers++;
        if (name == NULL || value == NULL) {
            return out_of_memory(err, err_len);
        }
    }
    return true;
}

/* "close": when the connection drops (enum fault_close). */
static bool fault_close(struct fault *f, json_t *v, size_t idx, char *err, size_t err_len)
{
    static const char *const names[] = {[CLOSE_BEFORE] = "before", [CLOSE_MIDDLE] = "middle",
                                        [CLOSE_AFTER] = "after"};
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    for (int c = CLOSE_BEFORE; c <= CLOSE_AFTER; c++) {
        if (strcmp(s, names[c]) == 0) {
            f->close = c;
            return true;
        }
    }
    snprintf(err, err_len, "fault %zu: 'close' must be \"before\", \"middle\" or \"after\"",
             idx);
    return false;
}

/* The integer fields: name, where, bounds and the words for the error. */
static bool fault_int(struct fault *f, const char *key, json_t *v, size_t idx, char *err,
                      size_t err_len, bool *known)
{
    static const struct {
        const char *name;
        size_t offset;
        int64_t min, max;
        const char *what;
    } ints[] = {
        {"count", offsetof(struct fault, remaining), 1, INT64_MAX, "an integer >= 1"},
        {"delay_ms", offsetof(struct fault, delay_ms), 0, 86400000, "an integer >= 0"},
        {"large_bytes", offsetof(struct fault, large_bytes), 0, INT64_MAX / 2,
         "an integer >= 0"},
    };
    *known = true;
    if (strcmp(key, "status") == 0) {
        int64_t x;
        if (!get_int(v, 100, 599, &x)) {
            snprintf(err, err_len, "fault %zu: 'status' must be an integer in 100..599", idx);
            return false;
        }
        f->status = (int)x;
        return true;
    }
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (strcmp(key, ints[i].name) == 0) {
            if (!get_int(v, ints[i].min, ints[i].max,
                         (int64_t *)((char *)f + ints[i].offset))) {
                snprintf(err, err_len, "fault %zu: '%s' must be %s", idx, key, ints[i].what);
                return false;
            }
            return true;
        }
    }
    *known = false;
    return true;
}

/* Applies one field of a fault object; false with err filled when it is bad. */
static bool fault_field(struct fault *f, const char *key, json_t *v, size_t idx, char *err,
                        size_t err_len)
{
    bool known;
    bool ok = fault_int(f, key, v, idx, err, err_len, &known);
    if (!ok || known) {
        return ok;
    }
    if (strcmp(key, "method") == 0 || strcmp(key, "path") == 0) {
        if (!json_is_string(v)) {
            snprintf(err, err_len, "fault %zu: '%s' must be a string", idx, key);
            return false;
        }
        char *s = dup_str(json_string_value(v));
        *(key[0] == 'm' ? &f->method : &f->path) = s;
        return s != NULL || out_of_memory(err, err_len);
    }
    if (strcmp(key, "truncate") == 0 || strcmp(key, "html") == 0 ||
        strcmp(key, "chunked") == 0) {
        if (!json_is_boolean(v)) {
            snprintf(err, err_len, "fault %zu: '%s' must be a boolean", idx, key);
            return false;
        }
        *(key[0] == 't' ? &f->truncate : key[0] == 'h' ? &f->html : &f->chunked) =
            json_is_true(v);
        return true;
    }
    if (strcmp(key, "close") == 0) {
        return fault_close(f, v, idx, err, err_len);
    }
    if (strcmp(key, "body") == 0) {
        return fault_body(f, v, err, err_len);
    }
    if (strcmp(key, "headers") == 0) {
        return fault_headers(f, v, idx, err, err_len);
    }
    snprintf(err, err_len, "fault %zu: unknown field '%s'", idx, key);
    return false;
}

static struct fault *fault_parse(json_t *o, size_t idx, char *err, size_t err_len)
{
    if (!json_is_object(o)) {
        snprintf(err, err_len, "fault %zu: must be an object", idx);
        return NULL;
    }
    struct fault *f = calloc(1, sizeof *f);
    if (f == NULL) {
        out_of_memory(err, err_len);
        return NULL;
    }
    atomic_init(&f->refs, 1);
    f->remaining = 1;
    f->large_bytes = -1;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (!fault_field(f, key, v, idx, err, err_len)) {
            fault_free(f);
            return NULL;
        }
    }
    f->spec = json_incref(o);
    return f;
}

bool faults_add_json(struct fault_queue *q, json_t *v, char *err,
                     size_t err_len)
{
    struct fault *head = NULL;
    struct fault *tail = NULL;
    size_t n = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            struct fault *f = fault_parse(json_array_get(v, i), i, err, err_len);
            if (f == NULL) {
                while (head != NULL) {
                    struct fault *next = head->next;
                    fault_release(head);
                    head = next;
                }
                return false;
            }
            if (tail != NULL) {
                tail->next = f;
            } else {
                head = f;
            }
            tail = f;
            n++;
        }
    } else {
        head = tail = fault_parse(v, 0, err, err_len);
        if (head == NULL) {
            return false;
        }
        n = 1;
    }
    if (head == NULL) {
        return true;
    }
    if (q->tail != NULL) {
        q->tail->next = head;
    } else {
        q->head = head;
    }
    q->tail = tail;
    q->n += n;
    return true;
}

void faults_clear(struct fault_queue *q)
{
    struct fault *f = q->head;
    while (f != NULL) {
        struct fault *next = f->next;
        fault_release(f);
        f = next;
    }
    faults_init(q);
}

void faults_write_json(struct fault_queue *q, struct jbuf *b)
{
    jb_putc(b, '[');
    for (struct fault *f = q->head; f != NULL; f = f->next) {
        if (f != q->head) {
            jb_putc(b, ',');
        }
        json_object_set_new(f->spec, "count", json_integer(f->remaining));
        char *txt = json_dumps(f->spec, JSON_COMPACT);
        if (txt != NULL) {
            jb_puts(b, txt);
            free(txt);
        } else {
            JB_LIT(b, "null");
        }
    }
    jb_putc(b, ']');
}

struct fault *faults_take(struct fault_queue *q, const char *method,
                          const char *path, size_t path_len)
{
    struct fault *f = q->head;
    if (f == NULL) {
        return NULL;
    }
    if (f->method != NULL && strcmp(f->method, method) != 0) {
        return NULL;
    }
    if (f->path != NULL) {
        size_t n = strlen(f->path);
        if (n > 0 && memmem(path, path_len, f->path, n) == NULL) {
            return NULL;
        }
    }
    atomic_fetch_add(&f->refs, 1);
    if (--f->remaining <= 0) {
        q->head = f->next;
        if (q->head == NULL) {
            q->tail = NULL;
        }
        q->n--;
        f->next = NULL;
        fault_release(f); /* the queue's reference */
    }
    return f;
}

bool fault_has_header(const struct fault *f, const char *name)
{
    if (f == NULL) {
        return false;
    }
    for (size_t i = 0; i < f->n_headers; i++) {
        if (strcasecmp(f->headers[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- large streamed body ---- */

struct large_state {
    int64_t total;
    const atomic_bool *stopping;
};

#define LARGE_HEAD "{\"pad\":\""
#define LARGE_TAIL "\"}"

static char large_byte_at(int64_t total, int64_t pos)
{
    int64_t head = (int64_t)sizeof LARGE_HEAD - 1;
    int64_t tail = (int64_t)sizeof LARGE_TAIL - 1;
    if (total < head + tail) {
        return ' ';
    }
    if (pos < head) {
        return LARGE_HEAD[pos];
    }
    if (pos >= total - tail) {
        return LARGE_TAIL[pos - (total - tail)];
    }
    return 'x';
}

static ssize_t large_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct large_state *st = cls;
    if (atomic_load(st->stopping)) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if ((int64_t)pos >= st->total) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    int64_t left = st->total - (int64_t)pos;
    size_t n = (int64_t)max < left ? max : (size_t)left;
    int64_t head = (int64_t)sizeof LARGE_HEAD - 1;
    int64_t tail = (int64_t)sizeof LARGE_TAIL - 1;
    size_t i = 0;
    /* bytes in the head, then a run of 'x', then the tail */
    while (i < n && (int64_t)(pos + i) < head) {
        buf[i] = large_byte_at(st->total, (int64_t)(pos + i));
        i++;
    }
    if (st->total >= head + tail && i < n) {
        int64_t x_end = st->total - tail;
        if ((int64_t)(pos + i) < x_end) {
            size_t run = (size_t)(x_end - (int64_t)(pos + i));
            if (run > n - i) {
                run = n - i;
            }
            memset(buf + i, 'x', run);
            i += run;
        }
    }
    while (i < n) {
        buf[i] = large_byte_at(st->total, (int64_t)(pos + i));
        i++;
    }
    return (ssize_t)n;
}

struct MHD_Response *fault_large_response(int64_t n, bool chunked,
                                          const atomic_bool *stopping)
{
    if (n == 0 && !chunked) {
        return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    struct large_state *st = malloc(sizeof *st);
    if (st == NULL) {
        return NULL;
    }
    st->total = n;
    st->stopping = stopping;
    struct MHD_Response *resp = MHD_create_response_from_callback(
        chunked ? MHD_SIZE_UNKNOWN : (uint64_t)n, 64 * 1024, large_reader, st,
        free);
    if (resp == NULL) {
        free(st);
    }
    return resp;
}

/* ---- body cut in the middle ---- */

struct partial_state {
    char *body;
    size_t len;
    size_t half;
};

static ssize_t partial_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct partial_state *st = cls;
    if (pos >= st->half) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->half - (size_t)pos;
    if (n > max) {
        n = max;
    }
    memcpy(buf, st->body + pos, n);
    return (ssize_t)n;
}

static void partial_free(void *cls)
{
    struct partial_state *st = cls;
    free(st->body);
    free(st);
}

struct MHD_Response *fault_partial_response(char *body, size_t len)
{
    struct partial_state *st = malloc(sizeof *st);
    if (st == NULL) {
        free(body);
        return NULL;
    }
    st->body = body;
    st->len = len;
    st->half = len / 2;
    struct MHD_Response *resp = MHD_create_response_from_callback(
        len, 4096, partial_reader, st, partial_free);
    if (resp == NULL) {
        partial_free(st);
    }
    return resp;
}
