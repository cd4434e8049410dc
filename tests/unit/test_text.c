/* tests/unit/test_text.c — the terminal sanitizer (core/text.c): every
 * control a terminal acts on, C1 in both spellings, invalid UTF-8, the
 * multi-line mode, cutting at boundaries, and output that does not fit. */
#include "../../core/text.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

static void clean_is(const char *in, size_t n, int flags, const char *want, const char *name)
{
    char out[256];
    size_t need = rc_text_sanitize(in, n, flags, out, sizeof out);
    is_str(out, want, name);
    ok(need == strlen(want), "  ... and the length it reports");
    ok(rc_text_is_clean(in, n, flags) == (strcmp(in, want) == 0 && n == strlen(in)),
       "  ... and rc_text_is_clean agrees");
}

#define CLEAN(in, flags, want, name) clean_is(in, sizeof in - 1, flags, want, name)

void test_text(void)
{
    CLEAN("run_abc123", 0, "run_abc123", "plain ASCII is unchanged");
    CLEAN("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", 0, "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80",
          "valid UTF-8 (2, 3 and 4 bytes) is unchanged");
    CLEAN("\x1b]0;pwned\x07", 0, "\\x1b]0;pwned\\x07", "OSC 0 (window title): ESC and BEL escaped");
    CLEAN("\x1b[2J", 0, "\\x1b[2J", "ESC[2J (clear screen)");
    CLEAN("\x1b]52;c;aGk=\x1b\\", 0, "\\x1b]52;c;aGk=\\x1b\\", "OSC 52 (clipboard write)");
    CLEAN("a\x9b" "31mb", 0, "a\\x9b31mb", "a lone C1 byte \\x9b (invalid UTF-8)");
    CLEAN("a\xc2\x9b" "31mb", 0, "a\\u009b31mb", "C1 CSI written in UTF-8 (U+009B)");
    CLEAN("ok\r\nrunctl: all done", 0, "ok\\r\\nrunctl: all done", "CR LF forging a line");
    CLEAN("a\tb\nc", 0, "a\\tb\\nc", "tab and newline escaped in a single-line field");
    CLEAN("a\tb\nc\rd", RC_TEXT_MULTILINE, "a\tb\nc\\rd", "multi-line text keeps tab and LF, not CR");
    CLEAN("\x7f\x01", 0, "\\x7f\\x01", "DEL and other C0 controls");
    CLEAN("\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82" "", 0,
          "\\xc0\\xaf \\xed\\xa0\\x80 \\xf4\\x90\\x80\\x80 \\xe2\\x82",
          "overlong, surrogate, beyond U+10FFFF and a cut sequence: each byte escaped");
    CLEAN("abc\xe2\x80\xae" "evil", 0, "abc\\u202eevil", "a bidi override (U+202E)");
    CLEAN("back\\slash", 0, "back\\slash", "a backslash stays");
    clean_is("a\0b", 3, 0, "a\\x00b", "NUL");

    char small[8];
    size_t need = rc_text_sanitize("ab\x1b" "cdef", 7, 0, small, sizeof small);
    is_str(small, "ab\\x1bc", "cut output: never half an escape");
    ok(need == 10, "  ... and the whole length is reported");
    need = rc_text_sanitize("\x1b\x1b", 2, 0, small, 6);
    is_str(small, "\\x1b", "cut before an escape that does not fit");

    const char *s = "retrying because the server said so";
    ok(rc_text_cut(s, strlen(s), 100) == strlen(s), "cut: what fits stays whole");
    ok(rc_text_cut(s, strlen(s), 19) == 16, "cut: at the last space before the limit");
    const char *u = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";     /* four 2-byte characters */
    ok(rc_text_cut(u, 8, 5) == 4, "cut: never inside a UTF-8 sequence");
    ok(rc_text_cut("abcdefghij", 10, 4) == 4, "cut: a word longer than the limit is cut at a character");

    char echo[] = "key sk-abcdefgh, again sk-abcdefghsk-abcdefgh; sk-abcdefg";
    ok(rc_text_mask(echo, strlen(echo), "sk-abcdefgh", 11) == 3, "mask: every occurrence, back to back too");
    is_str(echo, "key ***********, again **********************; sk-abcdefg", "  same length, a shorter prefix left");
    char word[] = "the answer";
    ok(rc_text_mask(word, strlen(word), "answer", 6) == 0 && strcmp(word, "the answer") == 0,
       "mask: a secret under 8 bytes masks nothing");
    ok(rc_text_mask(NULL, 0, "sk-abcdefgh", 11) == 0, "mask: no text, nothing masked");
}
