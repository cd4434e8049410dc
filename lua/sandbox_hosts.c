/* lua/sandbox_hosts.c — the sandbox's request policy: the hosts (and
 * proxies) a script's requests may reach. */
#include "sandbox_int.h"
#include "../core/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ hosts */

/* Parses an allow-list entry ("host", "host:port", "[v6]:port", "*.domain")
 * through the same parser as the URLs, so both sides are normalized alike. */
int sbx_parse_allowed(const char *entry, allowed_host *out)
{
    memset(out, 0, sizeof *out);
    if (strncmp(entry, "*.", 2) == 0) {
        out->subdomains = 1;
        entry += 2;
    }
    if (*entry == '\0' || strpbrk(entry, "/?#@ \t\r\n") != NULL)
        return -1;
    char url[600];
    int colons = 0;
    for (const char *c = entry; *c; c++)
        colons += *c == ':';
    /* a bare IPv6 address ("::1") gets its brackets */
    int n = colons > 1 && entry[0] != '[' ? snprintf(url, sizeof url, "http://[%s]/", entry)
                                          : snprintf(url, sizeof url, "http://%s/", entry);
    if (n < 0 || (size_t)n >= sizeof url)
        return -1;
    int zone;
    if (rc_url_host_port(url, 0, &out->host, &out->port, &zone) != 0 || zone) {
        free(out->host);
        free(out->port);
        return -1;
    }
    return 0;
}

static int host_allowed(const rc_sandbox *sb, const char *host, const char *port)
{
    size_t hl = strlen(host);
    for (size_t i = 0; i < sb->n_hosts; i++) {
        const allowed_host *a = &sb->hosts[i];
        if (a->port != NULL && (port == NULL || strcmp(a->port, port) != 0))
            continue;
        if (!a->subdomains && strcmp(a->host, host) == 0)
            return 1;
        size_t al = strlen(a->host);
        if (a->subdomains && hl > al + 1 && host[hl - al - 1] == '.' &&
            strcmp(host + hl - al, a->host) == 0)
            return 1;
    }
    return 0;
}

/* The proxy libcurl would take from the environment for url (its scheme's
 * variable, then ALL_PROXY), or NULL. (NO_PROXY only ever means no proxy.) */
static const char *env_proxy(const char *url)
{
    static const char *const https[] = { "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL };
    static const char *const http[] = { "http_proxy", "all_proxy", "ALL_PROXY", NULL };
    for (const char *const *v = strncmp(url, "https:", 6) == 0 ? https : http; *v != NULL; v++) {
        const char *p = getenv(*v);
        if (p != NULL && *p != '\0')
            return p;
    }
    return NULL;
}

/* Whether the proxy (as written in the environment) is an allowed host, at
 * the port libcurl would use (1080 when none is given, 443 for https://). */
static int proxy_allowed(const rc_sandbox *sb, const char *proxy)
{
    char url[600];
    int https = strncmp(proxy, "https://", 8) == 0;
    if (snprintf(url, sizeof url, "%s%s", strstr(proxy, "://") ? "" : "http://", proxy) >= (int)sizeof url)
        return 0;
    char *host, *port;
    int zone, ok = 0;
    if (rc_url_host_port(url, 0, &host, &port, &zone) != 0)
        return 0;
    ok = !zone && host_allowed(sb, host, port != NULL ? port : https ? "443" : "1080");
    free(host);
    free(port);
    return ok;
}

/* The request policy (rc_host.policy): called before a request is
 * submitted. Refusals become Lua errors in the script that asked. libcurl
 * would honour the environment's proxy variables (and an http:// proxy
 * would see the credentials): a sandbox uses a proxy only when it is an
 * allowed host itself, and otherwise connects directly. */
int sbx_policy(void *ud, rc_request *req, char *why, size_t whysz)
{
    rc_sandbox *sb = ud;
    char *host, *port;
    int zone;
    if (req->ca_file != NULL) {
        snprintf(why, whysz, "sandbox: ca_file is not allowed (scripts may not name local files)");
        return 0;
    }
    if (rc_url_host_port(req->url, 1, &host, &port, &zone) != 0) {
        snprintf(why, whysz, "sandbox: the request URL has no host that can be checked");
        return 0;
    }
    int ok = !zone && host_allowed(sb, host, port);
    /* A response body is held in C until its request ends, out of the
     * allocator's count: never more of it than the memory limit. */
    if (ok && sb->limits.max_memory > 0 && (req->max_bytes == 0 || req->max_bytes > sb->limits.max_memory))
        req->max_bytes = sb->limits.max_memory;
    if (ok) {
        const char *proxy = env_proxy(req->url);
        req->proxy = proxy != NULL && proxy_allowed(sb, proxy) ? proxy : "";
    } else {
        int v6 = strchr(host, ':') != NULL;
        snprintf(why, whysz, "sandbox: requests to %s%.100s%s:%s are not allowed%s",
                 v6 ? "[" : "", host, v6 ? "]" : "", port != NULL ? port : "?",
                 zone ? " (IPv6 zone ids are refused)" : " (the host is not in the sandbox's allow-list)");
    }
    free(host);
    free(port);
    return ok;
}
