/* tests/fuzz/fuzz_text.c — libFuzzer target for the terminal sanitizer
 * (core/text.c): whatever the input, the output holds no C0 control (but LF
 * and tab in multi-line mode), no DEL, no C1 control and only valid UTF-8;
 * its length is the one reported; a cut output is a prefix of the whole; and
 * rc_text_cut never cuts inside a UTF-8 sequence. */
#include "../../core/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_clean(const char *out, size_t n, int flags)
{
    const unsigned char *p = (const unsigned char *)out;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c < 0x20 && !((flags & RC_TEXT_MULTILINE) && (c == '\n' || c == '\t')))
            abort();
        if (c == 0x7f)
            abort();
        size_t len = rc_text_utf8_len(p + i, n - i);
        if (len == 0)
            abort();                            /* invalid UTF-8 left */
        if (len == 2 && c == 0xc2 && p[i + 1] < 0xa0)
            abort();                            /* a C1 control left */
        i += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int flags = data[0] & 1 ? RC_TEXT_MULTILINE : 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    size_t need = rc_text_sanitize(s, n, flags, NULL, 0);
    char *out = malloc(need + 1);
    if (rc_text_sanitize(s, n, flags, out, need + 1) != need || strlen(out) != need)
        abort();
    check_clean(out, need, flags);
    if ((need == n && memcmp(out, s, n) == 0) != rc_text_is_clean(s, n, flags))
        abort();                                /* clean means copied unchanged */
    size_t small = data[0] % 64;
    char *part = malloc(small + 1);
    rc_text_sanitize(s, n, flags, part, small + 1);
    if (strncmp(part, out, strlen(part)) != 0 || strlen(part) > small)
        abort();                                /* a cut output is a prefix */
    check_clean(part, strlen(part), flags);
    free(part);
    size_t cut = rc_text_cut(out, need, small);
    if (cut > need || (need > small && cut > small))
        abort();
    if (cut < need && ((unsigned char)out[cut] & 0xc0) == 0x80)
        abort();                                /* inside a character */
    free(out);
    return 0;
}
