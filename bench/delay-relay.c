/* bench/delay-relay.c — a TCP relay on 127.0.0.1 that holds every chunk of
 * bytes, in each direction, for DELAY_MS before passing it on, so that round
 * trips to a local server take as long as over a real network (2 x DELAY_MS).
 *   delay-relay PORT_FILE TARGET_PORT DELAY_MS
 * Listens on a free port (written to PORT_FILE), connects each client to
 * 127.0.0.1:TARGET_PORT, runs until SIGTERM. One thread, poll(2). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 512

typedef struct chunk {
    struct chunk *next;
    double due;                 /* when it may be written on */
    size_t len, off;            /* len 0: the sender closed (pass the EOF on) */
    char data[];
} chunk;

typedef struct pipe_dir {       /* bytes read from one socket, waiting for the other */
    int from, to;
    chunk *head, *tail;
    int read_done, write_done;
} pipe_dir;

typedef struct pair {
    pipe_dir dir[2];            /* [0] client -> server, [1] server -> client */
} pair;

static pair *pairs[MAX_PAIRS];
static double delay_s;
static volatile sig_atomic_t stop;

static void on_term(int sig) { (void)sig; stop = 1; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int listen_loopback(unsigned short *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("delay-relay: listen");
    *port = ntohs(a.sin_port);
    return fd;
}

static int connect_target(unsigned short port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void set_fast(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void add_pair(int client, unsigned short target_port)
{
    int server = connect_target(target_port);
    int slot = 0;
    while (slot < MAX_PAIRS && pairs[slot] != NULL)
        slot++;
    pair *p = slot < MAX_PAIRS && server >= 0 ? calloc(1, sizeof *p) : NULL;
    if (p == NULL) {
        close(client);
        if (server >= 0)
            close(server);
        return;
    }
    set_fast(client);
    set_fast(server);
    p->dir[0] = (pipe_dir){ .from = client, .to = server };
    p->dir[1] = (pipe_dir){ .from = server, .to = client };
    pairs[slot] = p;
}

static void free_pair(int slot)
{
    pair *p = pairs[slot];
    for (int d = 0; d < 2; d++) {
        while (p->dir[d].head != NULL) {
            chunk *c = p->dir[d].head;
            p->dir[d].head = c->next;
            free(c);
        }
    }
    close(p->dir[0].from);
    close(p->dir[1].from);
    free(p);
    pairs[slot] = NULL;
}

/* Reads what is there into a new chunk due delay_s from now. -1: broken. */
static int read_side(pipe_dir *d)
{
    char buf[65536];
    ssize_t n = read(d->from, buf, sizeof buf);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    chunk *c = malloc(sizeof *c + (size_t)n);
    if (c == NULL)
        return -1;
    memcpy(c->data, buf, (size_t)n);
    c->next = NULL;
    c->due = now_s() + delay_s;
    c->len = (size_t)n;
    c->off = 0;
    if (d->tail != NULL)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
    if (n == 0)
        d->read_done = 1;
    return 0;
}

/* Writes the chunks that are due. -1: broken. */
static int write_side(pipe_dir *d, double now)
{
    while (d->head != NULL && d->head->due <= now) {
        chunk *c = d->head;
        if (c->len == 0) {
            shutdown(d->to, SHUT_WR);
            d->write_done = 1;
        } else {
            ssize_t n = write(d->to, c->data + c->off, c->len - c->off);
            if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
            c->off += (size_t)n;
            if (c->off < c->len)
                return 0;
        }
        d->head = c->next;
        if (d->head == NULL)
            d->tail = NULL;
        free(c);
    }
    return 0;
}

/* Fills fds for one pair; returns how many, and lowers *wait_ms to the next due chunk. */
static int watch_pair(pair *p, struct pollfd *fds, double now, int *wait_ms)
{
    fds[0] = (struct pollfd){ .fd = p->dir[0].from };
    fds[1] = (struct pollfd){ .fd = p->dir[1].from };
    for (int d = 0; d < 2; d++) {
        pipe_dir *dir = &p->dir[d];
        if (!dir->read_done)
            fds[d].events |= POLLIN;
        if (dir->head != NULL) {
            if (dir->head->due <= now)
                fds[1 - d].events |= POLLOUT;   /* dir->to is the other socket */
            int ms = (int)((dir->head->due - now) * 1000.0) + 1;
            if (ms < *wait_ms)
                *wait_ms = ms > 0 ? ms : 0;
        }
    }
    return 2;
}

static void serve_pair(int slot, const struct pollfd *fds, double now)
{
    pair *p = pairs[slot];
    int broken = 0;
    for (int d = 0; d < 2 && !broken; d++)
        if (fds[d].revents & (POLLIN | POLLHUP | POLLERR) && !p->dir[d].read_done)
            broken = read_side(&p->dir[d]) != 0;
    for (int d = 0; d < 2 && !broken; d++)
        broken = write_side(&p->dir[d], now) != 0;
    if (broken || (p->dir[0].write_done && p->dir[1].write_done))
        free_pair(slot);
}

static void write_port(const char *path, unsigned short port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        die("delay-relay: port file");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: delay-relay PORT_FILE TARGET_PORT DELAY_MS\n");
        return 64;
    }
    unsigned short target = (unsigned short)atoi(argv[2]), port;
    delay_s = atof(argv[3]) / 1000.0;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_loopback(&port);
    write_port(argv[1], port);
    static struct pollfd fds[1 + 2 * MAX_PAIRS];
    static int slot_of[1 + 2 * MAX_PAIRS];
    while (!stop) {
        double now = now_s();
        int wait_ms = 1000, n = 1;
        fds[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
        for (int i = 0; i < MAX_PAIRS; i++) {
            if (pairs[i] == NULL)
                continue;
            slot_of[n] = i;
            n += watch_pair(pairs[i], &fds[n], now, &wait_ms);
        }
        if (poll(fds, (nfds_t)n, wait_ms) < 0 && errno != EINTR)
            die("delay-relay: poll");
        now = now_s();
        for (int i = 1; i < n; i += 2)
            serve_pair(slot_of[i], &fds[i], now);
        if (fds[0].revents & POLLIN) {
            int c = accept(lfd, NULL, NULL);
            if (c >= 0)
                add_pair(c, target);
        }
    }
    return 0;
}
