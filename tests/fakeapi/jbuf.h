/* jbuf: growable byte buffer and a small hand-written JSON writer. */
#ifndef FAKEAPI_JBUF_H
#define FAKEAPI_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct jbuf {
    char *data;
    size_t len;
    size_t cap;
    bool oom; /* set once an allocation failed; further writes are dropped */
};

void jb_init(struct jbuf *b);
void jb_free(struct jbuf *b);
void jb_reset(struct jbuf *b);
bool jb_reserve(struct jbuf *b, size_t extra);
/* Hands the buffer (NUL-terminated, malloc'd) to the caller; b is reset. */
char *jb_steal(struct jbuf *b, size_t *len);

static inline void jb_put(struct jbuf *b, const void *p, size_t n)
{
    if (n == 0 || !jb_reserve(b, n)) {
        return;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void jb_putc(struct jbuf *b, char c)
{
    if (!jb_reserve(b, 1)) {
        return;
    }
    b->data[b->len++] = c;
}

#define JB_LIT(b, s) jb_put((b), (s), sizeof(s) - 1)

void jb_puts(struct jbuf *b, const char *s);
void jb_printf(struct jbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void jb_i64(struct jbuf *b, int64_t v);
/* The integer, or null for JB_NULL_I64 (the stores' "no time"). */
#define JB_NULL_I64 INT64_MIN
void jb_i64_or_null(struct jbuf *b, int64_t v);
void jb_u64(struct jbuf *b, uint64_t v);

/* Writes bytes as a quoted JSON string: '"' and '\\' escaped, bytes below
 * 0x20 as \u00XX, invalid UTF-8 bytes as \ufffd. */
void jb_jstr(struct jbuf *b, const char *s, size_t n);
static inline void jb_jstrz(struct jbuf *b, const char *s)
{
    jb_jstr(b, s, strlen(s));
}

/* The bytes as a quoted JSON string in a new malloc'd string (NULL when out
 * of memory). */
char *jb_quote_dup(const char *p, size_t n);

/* The JSON error envelope used by the API:
 * {"error":{"message":M,"type":T,"param":P|null,"code":C|null}} */
void jb_error(struct jbuf *b, const char *msg, size_t msg_len,
              const char *type, const char *param, const char *code);

/* An invalid_request_error whose message is prefix + id + suffix, the id
 * escaped: "No run found with id 'x'." */
void jb_error_id(struct jbuf *b, const char *prefix, const char *id, size_t id_len,
                 const char *suffix);

#endif
