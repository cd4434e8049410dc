/* core/url.c — path-segment and query escaping, ID checks, URL redaction for
 * logs, and the host and port a URL connects to (through libcurl's parser). */
#include "url.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char hex_digits[] = "0123456789ABCDEF";

/* 1 for bytes that may stay literal in a path segment (RFC 3986 pchar). */
static int is_pchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

static int is_unreserved(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c == '-' || c == '.' || c == '_' || c == '~';
}

rc_id_status rc_url_check_id(const char *id, size_t len)
{
    if (len == 0)
        return RC_ID_EMPTY;
    if (len > RC_ID_MAX_LEN)
        return RC_ID_TOO_LONG;
    if (memchr(id, '\0', len) != NULL)
        return RC_ID_NUL;
    if ((len == 1 && id[0] == '.') || (len == 2 && id[0] == '.' && id[1] == '.'))
        return RC_ID_DOT;
    return RC_ID_OK;
}

const char *rc_url_id_problem(rc_id_status status)
{
    switch (status) {
    case RC_ID_OK: return "is valid";
    case RC_ID_EMPTY: return "must not be empty";
    case RC_ID_NUL: return "must not contain a NUL byte";
    case RC_ID_DOT: return "must not be '.' or '..'";
    case RC_ID_TOO_LONG: return "is too long (over 1024 bytes)";
    }
    return "is invalid";
}

static size_t escape_with(const char *in, size_t len, char *out, int (*keep)(unsigned char))
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (keep(c)) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex_digits[c >> 4];
            out[n++] = hex_digits[c & 15];
        }
    }
    out[n] = '\0';
    return n;
}

size_t rc_url_escape_segment(const char *in, size_t len, char *out)
{
    return escape_with(in, len, out, is_pchar);
}

size_t rc_url_escape_query(const char *in, size_t len, char *out)
{
    return escape_with(in, len, out, is_unreserved);
}

/* 1 if a query parameter name looks like it carries a credential. */
static int is_secret_name(const char *name, size_t len)
{
    static const char *const words[] = { "key", "token", "secret", "password",
                                         "passwd", "sig", "auth", "credential" };
    char lower[64];
    if (len >= sizeof lower)
        len = sizeof lower - 1;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    lower[len] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(lower, words[i]) != NULL)
            return 1;
    return 0;
}

/* Appends s[0..len) to out at *pos, keeping room for the NUL. */
static void put(char *out, size_t outsz, size_t *pos, const char *s, size_t len)
{
    while (len-- > 0 && *pos + 1 < outsz)
        out[(*pos)++] = *s++;
}

void rc_url_redact(const char *url, char *out, size_t outsz)
{
    static const char hidden[] = "REDACTED";
    size_t pos = 0;
    if (outsz == 0)
        return;
    /* A URL typed without its scheme ("user:secret@host/v1") has its
     * userinfo hidden all the same. */
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end != NULL ? scheme_end + 3 : url;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = memchr(host, '@', auth_len);
    put(out, outsz, &pos, url, (size_t)(host - url));
    if (at != NULL) {
        put(out, outsz, &pos, hidden, sizeof hidden - 1);
        put(out, outsz, &pos, "@", 1);
        host = at + 1;
    }
    const char *p = host;
    const char *query = strchr(p, '?');
    if (query == NULL) {
        put(out, outsz, &pos, p, strlen(p));
        out[pos] = '\0';
        return;
    }
    put(out, outsz, &pos, p, (size_t)(query - p) + 1);
    p = query + 1;
    while (*p != '\0') {
        size_t pair_len = strcspn(p, "&#");
        const char *eq = memchr(p, '=', pair_len);
        if (eq != NULL && is_secret_name(p, (size_t)(eq - p))) {
            put(out, outsz, &pos, p, (size_t)(eq - p) + 1);
            put(out, outsz, &pos, hidden, sizeof hidden - 1);
        } else {
            put(out, outsz, &pos, p, pair_len);
        }
        p += pair_len;
        if (*p == '&') {
            put(out, outsz, &pos, "&", 1);
            p++;
        } else if (*p == '#') {
            put(out, outsz, &pos, p, strlen(p));
            break;
        }
    }
    out[pos] = '\0';
}

/* "[::1]" -> "::1", "Example.COM." -> "example.com"; a malloc'd copy. */
static char *normal_host(const char *h)
{
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n > 1 && h[n - 1] == '.')
        n--;
    char *copy = strndup(h, n);
    for (char *c = copy; c != NULL && *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
    return copy;
}

int rc_url_host_port(const char *url, int want_default_port, char **host, char **port, int *has_zone)
{
    CURLU *u = curl_url();
    char *h = NULL, *p = NULL, *z = NULL;
    int rc = -1;
    *host = *port = NULL;
    *has_zone = 0;
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
        goto done;
    CURLUcode pc = curl_url_get(u, CURLUPART_PORT, &p, want_default_port ? CURLU_DEFAULT_PORT : 0);
    if (pc != CURLUE_OK && pc != CURLUE_NO_PORT)
        goto done;
    *has_zone = curl_url_get(u, CURLUPART_ZONEID, &z, 0) == CURLUE_OK;
    *host = normal_host(h);
    if (p != NULL)
        *port = strdup(p);
    if (*host == NULL || (p != NULL && *port == NULL)) {
        free(*host);
        free(*port);
        *host = *port = NULL;
        *has_zone = 0;
        goto done;
    }
    rc = 0;
done:
    curl_free(h);
    curl_free(p);
    curl_free(z);
    curl_url_cleanup(u);
    return rc;
}
