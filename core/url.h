/* core/url.h — building URLs: path-segment escaping, ID validation, query strings. */
#ifndef RC_URL_H
#define RC_URL_H

#include <stddef.h>

/* Longest ID accepted for a path segment; real IDs are ~30 bytes. */
#define RC_ID_MAX_LEN 1024

typedef enum {
    RC_ID_OK = 0,
    RC_ID_EMPTY,     /* "" */
    RC_ID_NUL,       /* contains a NUL byte */
    RC_ID_DOT,       /* "." or "..": would rewrite the path */
    RC_ID_TOO_LONG   /* longer than RC_ID_MAX_LEN */
} rc_id_status;

/* Checks that an ID may become one path segment. */
rc_id_status rc_url_check_id(const char *id, size_t len);

/* Human text for a status, e.g. "must not be empty". */
const char *rc_url_id_problem(rc_id_status status);

/* Percent-encodes every byte outside A-Za-z0-9-._~!$&'()*+,;=:@ (RFC 3986
 * pchar) into out, which must hold 3 * len + 1 bytes. Returns the length
 * written (without the terminating NUL). */
size_t rc_url_escape_segment(const char *in, size_t len, char *out);

/* Percent-encodes for a query key or value: everything outside the
 * unreserved set A-Za-z0-9-._~ is encoded. Same sizing as above. */
size_t rc_url_escape_query(const char *in, size_t len, char *out);

/* Writes a copy of url into out (size outsz) with secrets hidden: the
 * userinfo part and the values of query parameters whose names look like
 * credentials (key, token, secret, password, sig...) become "REDACTED".
 * Always NUL-terminates; truncates if out is too small. */
void rc_url_redact(const char *url, char *out, size_t outsz);

#endif
