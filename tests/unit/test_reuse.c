/* tests/unit/test_reuse.c — the engine keeps easy handles configured between
 * requests: a request sent on the handle an earlier one used carries none of
 * that request's method, body, headers, timeout, proxy or compression. A
 * one-connection-at-a-time HTTP server in this process (served between engine
 * polls) records each request as it arrived. */
#include "../../core/engine.h"
#include "tap.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct server {
    int listen_fd, conn_fd;
    int port;
    char got[4096];             /* the request being read, then the last one read */
    size_t len;
    double hold_s;              /* how long to keep the next answer back */
    double answer_at;           /* when the request in got is answered; 0: still reading */
} server;

static int server_start(server *s)
{
    memset(s, 0, sizeof *s);
    s->conn_fd = -1;
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->listen_fd, 8) != 0 || getsockname(s->listen_fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    fcntl(s->listen_fd, F_SETFL, O_NONBLOCK);
    s->port = ntohs(a.sin_port);
    return 0;
}

/* 1 when got holds a whole request: its head and Content-Length bytes of body. */
static int request_complete(const server *s)
{
    const char *end = strstr(s->got, "\r\n\r\n");
    if (end == NULL)
        return 0;
    const char *cl = strstr(s->got, "Content-Length: ");
    size_t body = cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
    return s->len >= (size_t)(end + 4 - s->got) + body;
}

/* Accepts, reads and answers (after hold_s) without blocking; called between polls. */
static void server_step(server *s)
{
    if (s->conn_fd < 0) {
        s->conn_fd = accept(s->listen_fd, NULL, NULL);
        if (s->conn_fd < 0)
            return;
        fcntl(s->conn_fd, F_SETFL, O_NONBLOCK);
        s->len = 0;
        s->got[0] = '\0';
        s->answer_at = 0;
    }
    if (s->answer_at == 0) {
        ssize_t n = read(s->conn_fd, s->got + s->len, sizeof s->got - 1 - s->len);
        if (n > 0) {
            s->len += (size_t)n;
            s->got[s->len] = '\0';
        }
        if (request_complete(s))
            s->answer_at = rc_now() + s->hold_s;
        return;
    }
    if (rc_now() < s->answer_at)
        return;
    const char *answer = strncmp(s->got, "HEAD ", 5) == 0
        ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
        : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    if (write(s->conn_fd, answer, strlen(answer)) < 0)
        perror("test server write");
    close(s->conn_fd);
    s->conn_fd = -1;
    s->hold_s = 0;
}

static void mark_done(rc_transfer *t, void *ud)
{
    (void)t;
    *(int *)ud = 1;
}

/* Sends req through e, serving s until it is done; returns its response's
 * status (0 on a failure), with the body copied into body. */
static long send_one(rc_engine *e, server *s, rc_request *req, char *body, size_t bodysz)
{
    char err[160];
    int done = 0;
    rc_transfer *t = rc_engine_submit(e, req, mark_done, &done, err, sizeof err);
    if (t == NULL) {
        printf("# submit failed: %s\n", err);
        return 0;
    }
    while (!done) {
        rc_engine_poll(e, 5);
        server_step(s);
    }
    const rc_response *r = rc_transfer_response(t);
    if (r->error != RC_OK)
        printf("# %s %s failed: %s\n", req->method, req->url, r->message);
    snprintf(body, bodysz, "%s", r->body);
    long status = r->error == RC_OK ? r->status : 0;
    rc_transfer_free(t);
    return status;
}

static int has(const server *s, const char *text)
{
    return strstr(s->got, text) != NULL;
}

void test_reuse(void)
{
    server s;
    if (server_start(&s) != 0) {
        ok(0, "reuse: the test server listens");
        return;
    }
    static const char *const proxy_vars[] = { "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY" };
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++)
        unsetenv(proxy_vars[i]);
    rc_engine *e = rc_engine_new();
    char base[64], url[128], proxy[64], body[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", s.port);
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", s.port);
    const char *one_line[] = { "X-One: 1" };
    rc_request req;

    /* 1: a POST with a body, a header, a proxy (this same server) and a short timeout */
    memset(&req, 0, sizeof req);
    snprintf(url, sizeof url, "%s/one", base);
    req.method = "POST", req.url = url, req.body = "abc", req.body_len = 3;
    req.headers = one_line, req.n_headers = 1, req.proxy = proxy, req.timeout_s = 1.5;
    ok(send_one(e, &s, &req, body, sizeof body) == 200, "reuse: a proxied POST with a timeout succeeds");
    char want[160];
    snprintf(want, sizeof want, "POST %s/one HTTP/1.1\r\n", base);
    ok(strncmp(s.got, want, strlen(want)) == 0, "reuse: it went through the proxy (absolute URL)");
    ok(has(&s, "X-One: 1") && has(&s, "\r\n\r\nabc"), "reuse: with its header and body");

    /* 2: a plain GET on the same handle, answered after more than request 1's timeout */
    memset(&req, 0, sizeof req);
    snprintf(url, sizeof url, "%s/two", base);
    req.method = "GET", req.url = url;
    s.hold_s = 2.0;
    ok(send_one(e, &s, &req, body, sizeof body) == 200,
       "reuse: the next request has no timeout of its own (the earlier 1.5 s did not carry over)");
    ok(strncmp(s.got, "GET /two HTTP/1.1\r\n", 19) == 0, "reuse: it is a GET sent straight (no proxy carried over)");
    ok(!has(&s, "X-One") && !has(&s, "Content-Length") && !has(&s, "abc"),
       "reuse: without the earlier header, length or body");
    ok(has(&s, "Accept-Encoding: "), "reuse: a GET asks for compressed answers");

    /* 3: HEAD, then GET: the GET reads its body */
    snprintf(url, sizeof url, "%s/three", base);
    req.method = "HEAD";
    ok(send_one(e, &s, &req, body, sizeof body) == 200 && strncmp(s.got, "HEAD /three ", 12) == 0, "reuse: a HEAD");
    snprintf(url, sizeof url, "%s/four", base);
    req.method = "GET";
    ok(send_one(e, &s, &req, body, sizeof body) == 200 && strncmp(s.got, "GET /four ", 10) == 0,
       "reuse: the GET after it is a GET");
    is_str(body, "ok", "reuse: and gets its body (no NOBODY carried over)");

    /* 4: DELETE, then a POST without a body: not a DELETE, Content-Length 0, no compression */
    snprintf(url, sizeof url, "%s/five", base);
    req.method = "DELETE";
    ok(send_one(e, &s, &req, body, sizeof body) == 200 && strncmp(s.got, "DELETE /five ", 13) == 0, "reuse: a DELETE");
    snprintf(url, sizeof url, "%s/six", base);
    req.method = "POST";
    ok(send_one(e, &s, &req, body, sizeof body) == 200 && strncmp(s.got, "POST /six ", 10) == 0,
       "reuse: the POST after it is a POST (no custom method carried over)");
    ok(has(&s, "Content-Length: 0\r\n") && !has(&s, "Accept-Encoding"),
       "reuse: with an empty body and no Accept-Encoding carried over from the GETs");

    rc_engine_free(e);
    close(s.listen_fd);
}
