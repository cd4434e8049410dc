/* jbuf: growable byte buffer, JSON string escaping, nullable integers and error bodies. */
#include "jbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void jb_init(struct jbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = false;
}

void jb_free(struct jbuf *b)
{
    free(b->data);
    jb_init(b);
}

void jb_reset(struct jbuf *b)
{
    b->len = 0;
    b->oom = false;
}

bool jb_reserve(struct jbuf *b, size_t extra)
{
    if (b->oom) {
        return false;
    }
    /* always keep one spare byte for the terminating NUL of jb_steal */
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

char *jb_steal(struct jbuf *b, size_t *len)
{
    if (b->oom || !jb_reserve(b, 0)) {
        jb_free(b);
        return NULL;
    }
    char *p = b->data;
    p[b->len] = '\0';
    if (len != NULL) {
        *len = b->len;
    }
    jb_init(b);
    return p;
}

void jb_puts(struct jbuf *b, const char *s)
{
    jb_put(b, s, strlen(s));
}

void jb_printf(struct jbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof tmp) {
        jb_put(b, tmp, (size_t)n);
        return;
    }
    if (!jb_reserve(b, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void jb_u64(struct jbuf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    jb_put(b, tmp + i, sizeof tmp - i);
}

void jb_i64(struct jbuf *b, int64_t v)
{
    if (v < 0) {
        jb_putc(b, '-');
        jb_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        jb_u64(b, (uint64_t)v);
    }
}

/* Length of the valid UTF-8 sequence starting at s (n bytes available),
 * or 0 when the sequence is invalid (overlong, surrogate, > U+10FFFF). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0xC2 && c <= 0xDF) {
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) {
            return 0;
        }
        if (c == 0xE0 && s[1] < 0xA0) {
            return 0; /* overlong */
        }
        if (c == 0xED && s[1] >= 0xA0) {
            return 0; /* UTF-16 surrogate */
        }
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80) {
            return 0;
        }
        if (c == 0xF0 && s[1] < 0x90) {
            return 0; /* overlong */
        }
        if (c == 0xF4 && s[1] >= 0x90) {
            return 0; /* above U+10FFFF */
        }
        return 4;
    }
    return 0;
}

void jb_jstr(struct jbuf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    /* worst case is 6 output bytes per input byte; reserve a guess */
    if (!jb_reserve(b, n + 2)) {
        return;
    }
    jb_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' &&
               s[i] != '\\') {
            i++;
        }
        jb_put(b, s + start, i - start);
        if (i >= n) {
            break;
        }
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            jb_put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            jb_put(b, esc, 6);
            i++;
        } else {
            size_t k = utf8_seq_len(s + i, n - i);
            if (k == 0) {
                JB_LIT(b, "\\ufffd");
                i++;
            } else {
                jb_put(b, s + i, k);
                i += k;
            }
        }
    }
    jb_putc(b, '"');
}

void jb_error(struct jbuf *b, const char *msg, size_t msg_len,
              const char *type, const char *param, const char *code)
{
    JB_LIT(b, "{\"error\":{\"message\":");
    jb_jstr(b, msg, msg_len);
    JB_LIT(b, ",\"type\":");
    jb_jstrz(b, type);
    JB_LIT(b, ",\"param\":");
    if (param != NULL) {
        jb_jstrz(b, param);
    } else {
        JB_LIT(b, "null");
    }
    JB_LIT(b, ",\"code\":");
    if (code != NULL) {
        jb_jstrz(b, code);
    } else {
        JB_LIT(b, "null");
    }
    JB_LIT(b, "}}");
}

void jb_error_id(struct jbuf *b, const char *prefix, const char *id, size_t id_len,
                 const char *suffix)
{
    struct jbuf m;
    jb_init(&m);
    jb_puts(&m, prefix);
    jb_put(&m, id, id_len);
    jb_puts(&m, suffix);
    jb_error(b, m.data ? m.data : "", m.len, "invalid_request_error", NULL, NULL);
    jb_free(&m);
}

void jb_i64_or_null(struct jbuf *b, int64_t v)
{
    if (v == JB_NULL_I64) {
        JB_LIT(b, "null");
    } else {
        jb_i64(b, v);
    }
}

char *jb_quote_dup(const char *p, size_t n)
{
    struct jbuf b;
    jb_init(&b);
    jb_jstr(&b, p, n);
    if (b.oom) {
        jb_free(&b);
        return NULL;
    }
    return jb_steal(&b, NULL);
}
