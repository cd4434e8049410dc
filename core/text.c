/* core/text.c — the sanitizer for outside text shown on a terminal or in a
 * log line (server IDs, statuses, messages, request IDs, ID files), and
 * cutting text at a boundary. See text.h for the rules. */
#include "text.h"

#include <string.h>

size_t rc_text_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;               /* a continuation byte, 0xc0, 0xc1, 0xf5.. */
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;               /* overlong, out of range, a surrogate */
    return len;
}

/* The code point of the valid sequence s[0..len). */
static unsigned code_point(const unsigned char *s, size_t len)
{
    if (len == 1)
        return s[0];
    unsigned cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    return cp;
}

/* Code points shown as \uXXXX: C1 controls, bidi overrides, line separators. */
static int escaped_code_point(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

/* What replaces the byte(s) at s: writes the escape into esc (NUL-terminated)
 * and returns how many input bytes it stands for, or returns the length of a
 * sequence to copy as it is with esc[0] = '\0'. */
static size_t next_piece(const unsigned char *s, size_t n, int flags, char esc[8])
{
    static const char hex[] = "0123456789abcdef";
    unsigned c = s[0];
    esc[0] = '\0';
    if (c >= 0x20 && c < 0x7f)
        return 1;
    if ((c == '\n' || c == '\t') && (flags & RC_TEXT_MULTILINE))
        return 1;
    if (c < 0x80) {
        if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            esc[2] = '\0';
        } else {
            memcpy(esc, "\\x", 2);
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            esc[4] = '\0';
        }
        return 1;
    }
    size_t len = rc_text_utf8_len(s, n);
    if (len == 0) {
        memcpy(esc, "\\x", 2);
        esc[2] = hex[c >> 4];
        esc[3] = hex[c & 15];
        esc[4] = '\0';
        return 1;
    }
    unsigned cp = code_point(s, len);
    if (escaped_code_point(cp)) {
        memcpy(esc, "\\u", 2);
        for (int i = 0; i < 4; i++)
            esc[2 + i] = hex[(cp >> (12 - 4 * i)) & 15];
        esc[6] = '\0';
    }
    return len;
}

int rc_text_is_clean(const char *s, size_t n, int flags)
{
    const unsigned char *p = (const unsigned char *)s;
    char esc[8];
    for (size_t i = 0; i < n;) {
        if (p[i] >= 0x20 && p[i] < 0x7f) {     /* the common case, at once */
            i++;
            continue;
        }
        size_t used = next_piece(p + i, n - i, flags, esc);
        if (esc[0] != '\0')
            return 0;
        i += used;
    }
    return 1;
}

size_t rc_text_sanitize(const char *s, size_t n, int flags, char *out, size_t outsz)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t need = 0, written = 0;
    int full = outsz == 0;
    char esc[8];
    for (size_t i = 0; i < n;) {
        size_t used = next_piece(p + i, n - i, flags, esc);
        const char *piece = esc[0] != '\0' ? esc : s + i;
        size_t len = esc[0] != '\0' ? strlen(esc) : used;
        if (!full && written + len < outsz) {
            memcpy(out + written, piece, len);
            written += len;
        } else {
            full = 1;           /* never a piece in part */
        }
        need += len;
        i += used;
    }
    if (outsz > 0)
        out[written] = '\0';
    return need;
}

size_t rc_text_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    const unsigned char *p = (const unsigned char *)s;
    size_t cut = max;
    while (cut > 0 && (p[cut] & 0xc0) == 0x80)     /* not inside a character */
        cut--;
    for (size_t sp = cut; sp > max / 2; sp--) {
        if (p[sp] == ' ') {
            while (sp > 0 && p[sp - 1] == ' ')
                sp--;
            return sp;
        }
    }
    return cut;
}

size_t rc_text_mask(char *s, size_t n, const char *secret, size_t secret_len)
{
    size_t masked = 0;
    if (s == NULL || secret == NULL || secret_len < RC_TEXT_MASK_MIN)
        return 0;
    char *at = s, *end = s + n;
    while ((size_t)(end - at) >= secret_len &&
           (at = memmem(at, (size_t)(end - at), secret, secret_len)) != NULL) {
        memset(at, '*', secret_len);
        at += secret_len;
        masked++;
    }
    return masked;
}
