/* tests/tools/badpeer.c — a deliberately broken HTTP peer on 127.0.0.1 for the
 * timeout tests: "blackhole" never completes a TCP handshake (its accept queue
 * is kept full), "stall-body" sends headers and part of the body, then stalls,
 * "refuse" holds a port bound but never listening: every connection to it is
 * refused, and nobody else can take the port while badpeer runs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

/* Binds a free port on 127.0.0.1 and listens on it, unless backlog < 0. */
static int listen_on_loopback(int backlog, unsigned short *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || (backlog >= 0 && listen(fd, backlog) != 0) ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("badpeer: listen");
        exit(1);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void write_port(const char *path, unsigned short port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        perror("badpeer: port file");
        exit(1);
    }
}

/* Connects to ourselves until the handshake queue is full: later clients hang in connect. */
static void fill_backlog(unsigned short port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (int i = 0; i < 8; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd >= 0)
            connect(fd, (struct sockaddr *)&a, sizeof a);   /* kept open on purpose */
    }
}

static void stall_body(int lfd)
{
    static const char head[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
        "x-request-id: req_stalled\r\n\r\n{\"id\":\"run_";
    struct pollfd fds[256];
    int n = 1;
    fds[0].fd = lfd;
    fds[0].events = POLLIN;
    while (!stop) {
        if (poll(fds, (nfds_t)n, 200) <= 0)
            continue;
        if ((fds[0].revents & POLLIN) && n < 256) {
            int c = accept(lfd, NULL, NULL);
            if (c >= 0) {
                fds[n].fd = c;
                fds[n].events = POLLIN;
                n++;
            }
        }
        for (int i = 1; i < n; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[8192];
            ssize_t got = read(fds[i].fd, buf, sizeof buf);
            if (got <= 0) {         /* the client gave up: forget it */
                close(fds[i].fd);
                fds[i--] = fds[--n];
                continue;
            }
            if (memmem(buf, (size_t)got, "\r\n\r\n", 4) != NULL &&
                write(fds[i].fd, head, sizeof head - 1) < 0) {
                close(fds[i].fd);
                fds[i--] = fds[--n];
            }
        }
    }
}

int main(int argc, char **argv)
{
    int refuse = argc == 3 && strcmp(argv[1], "refuse") == 0;
    if (argc != 3 || (strcmp(argv[1], "blackhole") != 0 && strcmp(argv[1], "stall-body") != 0 && !refuse)) {
        fprintf(stderr, "usage: badpeer blackhole|stall-body|refuse PORT_FILE\n");
        return 2;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    unsigned short port;
    int blackhole = strcmp(argv[1], "blackhole") == 0;
    int lfd = listen_on_loopback(refuse ? -1 : blackhole ? 0 : 64, &port);
    if (blackhole)
        fill_backlog(port);
    write_port(argv[2], port);
    if (blackhole || refuse)
        while (!stop)
            pause();
    else
        stall_body(lfd);
    return 0;
}
