/* tests/unit/test_engine_deadline.c — rc_engine_poll_until against a local
 * listening socket: with its deadline already past, a poll hands libcurl one
 * queued start and one ready socket, no more, and the next polls take the
 * rest in order; without a deadline one poll takes everything ready. */
#include "../../core/engine.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define N 3

static int done_order[N], n_done;

static void on_done(rc_transfer *t, void *ud)
{
    (void)t;
    done_order[n_done++] = (int)(size_t)ud;
}

static int listen_local(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

/* Drives the engine until the server has accepted n connections and read
 * each one's whole request (so each transfer now waits for its answer). The
 * server's sockets are non-blocking: the engine runs between their reads. */
static int serve_requests(rc_engine *e, int lfd, int *conn, int n)
{
    char buf[N][2048];
    size_t got[N] = { 0 };
    int accepted = 0, complete = 0;
    for (int round = 0; round < 100000 && complete < n; round++) {
        rc_engine_poll(e, 10);
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (fd >= 0 && accepted < n)
            conn[accepted++] = fd;
        complete = 0;
        for (int i = 0; i < accepted; i++) {
            ssize_t r = read(conn[i], buf[i] + got[i], sizeof buf[i] - 1 - got[i]);
            if (r > 0)
                got[i] += (size_t)r;
            buf[i][got[i]] = '\0';
            complete += strstr(buf[i], "\r\n\r\n") != NULL;
        }
    }
    return complete == n ? 0 : -1;
}

static rc_engine_stats stats_of(rc_engine *e)
{
    rc_engine_stats st;
    rc_engine_get_stats(e, &st);
    return st;
}

void test_engine_deadline(void)
{
    int port = 0, lfd = listen_local(&port), conn[N];
    char url[64], err[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
    rc_engine *e = rc_engine_new();
    rc_transfer *t[N];
    rc_request req = { .method = "GET", .url = url, .timeout_s = 30 };
    for (int i = 0; i < N; i++)
        t[i] = rc_engine_submit(e, &req, on_done, (void *)(size_t)i, err, sizeof err);
    ok(lfd >= 0 && t[0] && t[1] && t[2] && stats_of(e).starting == N,
       "submitted transfers wait in the start queue until a poll");
    double past = 1e-9;         /* a deadline long gone: monotonic time is far beyond it */
    rc_engine_poll_until(e, 0, past);
    ok(stats_of(e).starting == N - 1 && stats_of(e).deferred == 1,
       "a poll past its deadline starts one transfer and leaves the rest for the next");
    rc_engine_poll_until(e, 0, past);
    rc_engine_poll_until(e, 0, past);
    ok(stats_of(e).starting == 0, "the next polls start the rest, one each");
    ok(serve_requests(e, lfd, conn, N) == 0 && n_done == 0, "the server has all three requests");
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for (int i = 0; i < N; i++)
        ok(write(conn[i], answer, sizeof answer - 1) == (ssize_t)(sizeof answer - 1), "the server answers");
    unsigned long deferred = stats_of(e).deferred;
    rc_engine_poll_until(e, 0, past);
    ok(n_done == 1 && stats_of(e).deferred == deferred + 1,
       "with three answers ready, a poll past its deadline completes one and defers the rest");
    rc_engine_poll_until(e, 0, past);
    ok(n_done == 2, "the next poll completes the next one");
    rc_engine_poll(e, 0);
    ok(n_done == N, "a poll without a deadline completes everything ready");
    ok(rc_transfer_response(t[0])->status == 200 && strcmp(rc_transfer_response(t[2])->body, "ok") == 0,
       "every transfer got its whole answer");
    for (int i = 0; i < N; i++) {
        rc_transfer_free(t[i]);
        close(conn[i]);
    }
    close(lfd);
    rc_engine_free(e);
}
