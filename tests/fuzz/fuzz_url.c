/* tests/fuzz/fuzz_url.c — libFuzzer target for the path/query escaping, URL
 * redaction and host extraction: escaped output is always one safe segment
 * that decodes back to the input, redaction never overruns its buffer, and a
 * host found is lower case, without brackets. */
#include "../../core/url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void check_host_port(const char *url)
{
    for (int want_default = 0; want_default <= 1; want_default++) {
        char *host, *port;
        int zone;
        if (rc_url_host_port(url, want_default, &host, &port, &zone) != 0) {
            if (host != NULL || port != NULL || zone)
                abort();
            continue;
        }
        if (host[0] == '\0' || strpbrk(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZ[]") != NULL)
            abort();
        if (port != NULL && (port[0] == '\0' || strspn(port, "0123456789") != strlen(port)))
            abort();
        free(host);
        free(port);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char *out = malloc(3 * size + 1);
    size_t n = rc_url_escape_segment(in, size, out);
    if (strlen(out) != n)
        abort();
    /* No byte that could end or redirect a path segment survives. */
    if (strpbrk(out, "/?# \r\n\t\\\"<>") != NULL)
        abort();
    /* It decodes back to exactly the input. */
    size_t j = 0;
    for (size_t i = 0; i < n; i++, j++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '%') {
            int hi = hex_value(out[i + 1]), lo = hex_value(out[i + 2]);
            if (hi < 0 || lo < 0)
                abort();
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (j >= size || c != data[j])
            abort();
    }
    if (j != size)
        abort();
    rc_id_status st = rc_url_check_id(in, size);
    if (st == RC_ID_OK && (size == 0 || memchr(in, 0, size) != NULL))
        abort();

    n = rc_url_escape_query(in, size, out);
    for (size_t i = 0; i < n; i++)
        if (strchr("&=+?# ", out[i]) != NULL)
            abort();
    free(out);

    /* Redaction: any buffer size, always terminated, never longer. */
    char *url = malloc(size + 1);
    memcpy(url, data, size);
    url[size] = '\0';
    char small[17], big[4096];
    rc_url_redact(url, small, sizeof small);
    rc_url_redact(url, big, sizeof big);
    if (strlen(small) >= sizeof small || strlen(big) >= sizeof big)
        abort();
    check_host_port(url);
    free(url);
    return 0;
}
