/* tests/unit/test_url_host.c — rc_url_host_port (core/url.c): the host and
 * port libcurl will connect to, normalized as the sandbox compares them. */
#include "../../core/url.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

/* want: "host port zone" as text, or NULL when the URL must be refused. */
static void host_case(const char *url, int want_default, const char *want, const char *name)
{
    char *host, *port, got[300];
    int zone;
    if (rc_url_host_port(url, want_default, &host, &port, &zone) != 0) {
        ok(want == NULL && host == NULL && port == NULL, name);
        if (want != NULL)
            printf("#   refused '%s', want '%s'\n", url, want);
        return;
    }
    snprintf(got, sizeof got, "%s %s %d", host, port ? port : "-", zone);
    free(host);
    free(port);
    if (want == NULL) {
        ok(0, name);
        printf("#   got '%s' for '%s', want a refusal\n", got, url);
        return;
    }
    is_str(got, want, name);
}

void test_url_host(void)
{
    host_case("https://api.openai.com/v1/x", 1, "api.openai.com 443 0", "https: default port 443");
    host_case("http://example.com/", 1, "example.com 80 0", "http: default port 80");
    host_case("http://example.com/", 0, "example.com - 0", "no default asked: no port");
    host_case("http://example.com:8080/", 0, "example.com 8080 0", "an explicit port is kept");
    host_case("https://good.com:pw@evil.com/", 1, "evil.com 443 0", "userinfo is not the host");
    host_case("https://user:pw@good.com@evil.com/", 1, NULL, "two @ in the authority: refused");
    host_case("http://evil.com#@good.com/", 1, "evil.com 80 0", "a fragment is not userinfo");
    host_case("HTTPS://API.OpenAI.COM/", 1, "api.openai.com 443 0", "scheme and host lower-cased");
    host_case("http://example.com./", 1, "example.com 80 0", "trailing dot dropped");
    host_case("http://[::1]:8080/", 1, "::1 8080 0", "IPv6 without brackets");
    host_case("http://[::FFFF:7F00:1]/", 1, "::ffff:7f00:1 80 0", "IPv6 lower-cased");
    host_case("http://[fe80::1%25eth0]/", 1, "fe80::1 80 1", "an IPv6 zone ID is reported");
    host_case("http://0x7f.1/", 1, "127.0.0.1 80 0", "hex IPv4 shorthand as curl connects");
    host_case("http://2130706433/", 1, "127.0.0.1 80 0", "IPv4 as one number");
    host_case("http://0177.0.0.1/", 1, "127.0.0.1 80 0", "octal IPv4");
    host_case("http://%65vil.com/", 1, "evil.com 80 0", "percent escapes in the host decoded");
    host_case("garbage", 1, NULL, "no scheme: refused");
    host_case("http://", 1, NULL, "no host: refused");
    host_case("", 1, NULL, "empty: refused");
    host_case("http://a b/", 1, NULL, "a space in the host: refused");
    host_case("http://example.com:99999/", 1, NULL, "a port over 65535: refused");
}
