/* core/wire.c — header-line parsing, retry classification, Retry-After and backoff. */
#include "wire.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rc_wire_header_span(const char *line, size_t len, const char **name, size_t *name_len,
                        const char **value, size_t *value_len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    if (len == 0 || line[0] == ' ' || line[0] == '\t')
        return -1;
    /* The name: printable, without spaces, up to the colon. Its test also
     * refuses CR, LF and NUL, never part of a field (RFC 9110 5.5). */
    const char *p = line, *end = line + len;
    while (p < end && *p != ':') {
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 127)  /* "HTTP/1.1 200 OK": not a header */
            return -1;
        p++;
    }
    if (p == end || p == line)
        return -1;
    const char *colon = p;
    for (p = colon + 1; p < end; p++)       /* the value: no CR, LF or NUL either */
        if (*p == '\r' || *p == '\n' || *p == '\0')
            return -1;
    const char *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *name = line;
    *name_len = (size_t)(colon - line);
    *value = v;
    *value_len = (size_t)(end - v);
    return 0;
}

int rc_wire_parse_header(const char *line, size_t len, char **name, char **value)
{
    const char *n, *v;
    size_t nl, vl;
    *name = NULL;
    *value = NULL;
    if (rc_wire_header_span(line, len, &n, &nl, &v, &vl) != 0)
        return -1;
    *name = malloc(nl + 1);
    *value = malloc(vl + 1);
    if (*name == NULL || *value == NULL) {
        free(*name);
        free(*value);
        *name = *value = NULL;
        return -1;
    }
    for (size_t i = 0; i < nl; i++)
        (*name)[i] = (char)tolower((unsigned char)n[i]);
    (*name)[nl] = '\0';
    memcpy(*value, v, vl);
    (*value)[vl] = '\0';
    return 0;
}

rc_retry_reason rc_wire_retry_reason(long status, rc_retry_reason transport,
                                     const char *x_should_retry)
{
    if (x_should_retry != NULL) {
        if (strcasecmp(x_should_retry, "true") == 0)
            return RC_RETRY_SHOULD_RETRY_HEADER;
        if (strcasecmp(x_should_retry, "false") == 0)
            return RC_RETRY_NO;
    }
    if (status == 0)
        return transport;
    if (status == 408 || status == 409 || status == 429 || status >= 500)
        return RC_RETRY_STATUS;
    return RC_RETRY_NO;
}

/* The value of the first "message" key in a JSON text: skips the key, the
 * colon and the opening quote; NULL when there is none. A plain scan, not a
 * parser: what it finds is only compared with a known prefix. */
static const char *json_message(const char *body, size_t len, size_t *left)
{
    static const char key[] = "\"message\"";
    const size_t klen = sizeof key - 1;
    for (size_t i = 0; i + klen <= len; i++) {
        if (memcmp(body + i, key, klen) != 0)
            continue;
        size_t j = i + klen;
        while (j < len && (body[j] == ' ' || body[j] == '\t' || body[j] == '\r' || body[j] == '\n'))
            j++;
        if (j >= len || body[j] != ':')
            continue;
        j++;
        while (j < len && (body[j] == ' ' || body[j] == '\t' || body[j] == '\r' || body[j] == '\n'))
            j++;
        if (j >= len || body[j] != '"')
            continue;
        *left = len - j - 1;
        return body + j + 1;
    }
    return NULL;
}

int rc_wire_is_final_cannot_cancel(long status, const char *body, size_t len)
{
    static const char prefix[] = "Cannot cancel";
    if ((status != 400 && status != 409) || body == NULL)
        return 0;
    size_t left = 0;
    const char *msg = json_message(body, len, &left);
    return msg != NULL && left >= sizeof prefix - 1 && memcmp(msg, prefix, sizeof prefix - 1) == 0;
}

const char *rc_wire_retry_reason_text(rc_retry_reason reason)
{
    switch (reason) {
    case RC_RETRY_NO: return "not retryable";
    case RC_RETRY_SHOULD_RETRY_HEADER: return "x-should-retry: true";
    case RC_RETRY_STATUS: return "status";
    case RC_RETRY_CONNECTION: return "connection error";
    case RC_RETRY_TIMEOUT: return "timeout";
    }
    return "unknown";
}

/* Skips the optional whitespace (OWS: spaces and tabs) around a value. */
static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Retry-After's delay-seconds (RFC 9110 10.2.3): 1*DIGIT and nothing else
 * ("0x10", "1.5e1", "+5", "-1" are not delays), OWS around it allowed. A
 * number of digits too large for a double is a very long wait (capped). */
static int parse_delay_seconds(const char *s, double *out)
{
    s = skip_ows(s);
    if (!is_digit(*s))
        return -1;
    double v = 0;
    for (; is_digit(*s); s++)
        v = v * 10 + (*s - '0');
    if (*skip_ows(s) != '\0')
        return -1;
    *out = isfinite(v) ? v : 1e300;
    return 0;
}

/* retry-after-ms: a decimal number of milliseconds as the SDKs read it
 * (openai-python's float(), openai-node's parseFloat()): digits with an
 * optional fraction and exponent, an optional leading '+', OWS around it.
 * Not accepted: what only one of them takes (Python's "1_000", "inf" and
 * "nan"; Node's trailing junk "12abc"), hex, negative numbers. */
static int parse_ms(const char *s, double *out)
{
    const char *p = skip_ows(s);
    if (*p == '+')
        p++;
    const char *start = p;
    int digits = 0;
    while (is_digit(*p)) {
        p++;
        digits++;
    }
    if (*p == '.')
        for (p++; is_digit(*p); p++)
            digits++;
    if (digits == 0)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!is_digit(*p))
            return -1;
        while (is_digit(*p))
            p++;
    }
    if (*skip_ows(p) != '\0')
        return -1;
    char *end;
    errno = 0;
    double v = strtod(start, &end);     /* the grammar above is a subset of strtod's */
    if (end != p || v < 0)
        return -1;
    *out = isfinite(v) ? v : 1e300;    /* ERANGE: huge waits are capped, tiny ones are 0 */
    return 0;
}

double rc_wire_retry_after(const char *retry_after_ms, const char *retry_after, time_t now)
{
    double v;
    if (retry_after_ms != NULL && parse_ms(retry_after_ms, &v) == 0)
        return v / 1000.0;
    if (retry_after == NULL)
        return -1;
    if (parse_delay_seconds(retry_after, &v) == 0)
        return v;
    /* Only try a date when it looks like one (curl_getdate accepts much more). */
    if (strlen(retry_after) < 20 || strchr(retry_after, ',') == NULL)
        return -1;
    time_t when = curl_getdate(retry_after, NULL);
    if (when == (time_t)-1)
        return -1;
    return when > now ? (double)(when - now) : 0.0;
}

double rc_wire_backoff(int retry_index, double jitter)
{
    if (retry_index < 0)
        retry_index = 0;
    double delay = retry_index >= 5 ? 8.0 : 0.5 * (double)(1 << retry_index);
    if (delay > 8.0)
        delay = 8.0;
    if (jitter < 0)
        jitter = 0;
    if (jitter > 1)
        jitter = 1;
    return delay * (1.0 - 0.25 * jitter);
}

double rc_wire_retry_delay(double server_delay, int retry_index, double jitter, double max_delay)
{
    if (server_delay >= 0)
        return server_delay > max_delay ? max_delay : server_delay;
    double d = rc_wire_backoff(retry_index, jitter);
    return d > max_delay ? max_delay : d;
}

int rc_wire_is_secret_header(const char *name, size_t len)
{
    static const char *const secret[] = { "authorization", "api-key", "proxy-authorization",
                                          "cookie", "set-cookie", "x-api-key", "openai-api-key" };
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        if (strlen(secret[i]) == len && strncasecmp(secret[i], name, len) == 0)
            return 1;
    return 0;
}
