/* core/text.h — outside text on its way to a terminal or a log line: the one
 * sanitizer (controls and invalid UTF-8 shown escaped), and cutting text to a
 * length at a word or character boundary; masking a secret a server echoed.
 * Plain C, no allocation. */
#ifndef RC_TEXT_H
#define RC_TEXT_H

#include <stddef.h>

/* Keep newline and tab as they are (text of several lines the program itself
 * laid out). Without it, every control is escaped: a single-line field. */
#define RC_TEXT_MULTILINE 1

/* Writes s[0..n) into out (at most outsz bytes, NUL included) with every byte
 * a terminal could act on shown escaped:
 * - C0 controls and DEL as \xHH (ESC as \x1b, CR as \r, LF as \n, tab as \t;
 *   LF and tab kept as they are under RC_TEXT_MULTILINE);
 * - C1 controls (U+0080..U+009F, written in UTF-8) as \u0080..\u009f, and
 *   the bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069)
 *   and the line/paragraph separators (U+2028, U+2029) as \u....;
 * - every byte that is not part of valid UTF-8 (a lone \x9b, an overlong
 *   form, a surrogate, a cut sequence) as \xHH.
 * Everything else (printable ASCII and valid UTF-8) is copied unchanged; a
 * backslash stays a backslash (the escapes are for reading, not reversible).
 * The output is cut, never in the middle of an escape or a character, when
 * out is too small. Returns the length the whole output needs (without the
 * NUL), like snprintf: a result >= outsz means it was cut. */
size_t rc_text_sanitize(const char *s, size_t n, int flags, char *out, size_t outsz);

/* 1 when s[0..n) is copied unchanged by rc_text_sanitize (the common case:
 * no allocation needed). */
int rc_text_is_clean(const char *s, size_t n, int flags);

/* The length of a valid UTF-8 sequence at s (n bytes left), or 0 when the
 * byte at s does not start one. */
size_t rc_text_utf8_len(const unsigned char *s, size_t n);

/* The length of s[0..n) cut to at most max bytes: n when it fits; else at the
 * last space before the limit (when that keeps at least half of it), else at
 * the last character boundary. A caller shows the cut with an ellipsis. */
size_t rc_text_cut(const char *s, size_t n, size_t max);

/* Overwrites, in place, every occurrence of secret (secret_len bytes) in
 * s[0..n) with '*' (same length: JSON text stays valid). A secret under
 * RC_TEXT_MASK_MIN bytes masks nothing (it would hit ordinary words).
 * Returns the number of occurrences masked. */
#define RC_TEXT_MASK_MIN 8
size_t rc_text_mask(char *s, size_t n, const char *secret, size_t secret_len);

#endif
