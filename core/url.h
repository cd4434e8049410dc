/* core/url.h — building URLs (path-segment escaping, ID validation, query
 * strings), redacting them for logs, and finding the host they connect to. */
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

/* Host and port of url as libcurl parses it when it connects, so a check on
 * them checks what curl will reach (userinfo, IPv6 brackets, numeric IPv4
 * forms such as 0x7f.1 or 2130706433, percent escapes). *host: lower case,
 * no brackets, without the one trailing dot of a fully qualified name. *port: the URL's port; when it names none,
 * the scheme's default (80, 443) if want_default_port, else NULL. *has_zone:
 * 1 when an IPv6 zone ID ("%eth0") is present. Both strings are malloc'd
 * (free them). Returns 0, or -1 (unparsable URL, no host, ENOMEM) with both NULL. */
int rc_url_host_port(const char *url, int want_default_port, char **host, char **port, int *has_zone);

#endif
