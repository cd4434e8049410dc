/* fakeapi: command line, daemon start-up on 127.0.0.1, port file, signal-driven shutdown. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "http.h"
#include "server.h"

static const char usage_text[] =
    "usage: fakeapi [--port N] [--port-file FILE]\n"
    "               [--seed FILE.json | --generate THREADSxRUNS[:SEED]]\n"
    "               [--jobs N] [--path-prefix /PREFIX]\n"
    "               [--api-key KEY] [--admin-key KEY] [--cancel-delay-ms N] [--latency-ms N]\n"
    "               [--cancel-style legacy|live|400|200|409]\n"
    "               [--threads N] [--no-record] [--record-limit N]\n"
    "               [--rate-limit RATE[:BURST[:ms|seconds|date|reset|none[:noheaders]]]]\n"
    "               [--insufficient-quota]\n"
    "               [--quiet] [--verbose] [--hostile]\n";

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9') {
        return false;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_generate(const char *s, struct options *o)
{
    char *end;
    errno = 0;
    unsigned long t = strtoul(s, &end, 10);
    if (errno != 0 || end == s || (*end != 'x' && *end != 'X') || t > 10000000) {
        return false;
    }
    const char *p = end + 1;
    unsigned long r = strtoul(p, &end, 10);
    if (errno != 0 || end == p || r > 100000000) {
        return false;
    }
    uint64_t seed = 1;
    if (*end == ':') {
        if (!parse_u64(end + 1, UINT64_MAX, &seed)) {
            return false;
        }
    } else if (*end != '\0') {
        return false;
    }
    if ((uint64_t)t * r > 50000000) {
        return false;
    }
    o->generate = true;
    o->gen_threads = (unsigned)t;
    o->gen_runs = (unsigned)r;
    o->gen_seed = seed;
    return true;
}

static bool parse_args(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char name[64];
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq != NULL && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
            a = name;
        }
        bool flag = strcmp(a, "--quiet") == 0 || strcmp(a, "--verbose") == 0 ||
                    strcmp(a, "--no-record") == 0 || strcmp(a, "--help") == 0 ||
                    strcmp(a, "--insufficient-quota") == 0 ||
                    strcmp(a, "--hostile") == 0 ||
                    strcmp(a, "-h") == 0;
        if (flag) {
            if (val != NULL) {
                fprintf(stderr, "fakeapi: %s takes no value\n", a);
                return false;
            }
            if (strcmp(a, "--quiet") == 0) {
                o->quiet = true;
            } else if (strcmp(a, "--verbose") == 0) {
                o->verbose = true;
            } else if (strcmp(a, "--hostile") == 0) {
                fake_hostile = true;    /* http.c: terminal controls in every x-request-id */
            } else if (strcmp(a, "--no-record") == 0) {
                o->record = false;
            } else if (strcmp(a, "--insufficient-quota") == 0) {
                o->rate_limit.no_quota = true;
            } else {
                fputs(usage_text, stdout);
                exit(0);
            }
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "fakeapi: %s needs a value\n%s", a, usage_text);
                return false;
            }
            val = argv[++i];
        }
        uint64_t n;
        if (strcmp(a, "--port") == 0 && parse_u64(val, 65535, &n)) {
            o->port = (unsigned)n;
        } else if (strcmp(a, "--port-file") == 0) {
            o->port_file = val;
        } else if (strcmp(a, "--seed") == 0) {
            o->seed_file = val;
        } else if (strcmp(a, "--generate") == 0 && parse_generate(val, o)) {
            continue;
        } else if (strcmp(a, "--jobs") == 0 && parse_u64(val, 1000000, &n)) {
            o->gen_jobs = (unsigned)n;
        } else if (strcmp(a, "--path-prefix") == 0 && val[0] == '/' && val[1] != '\0' &&
                   val[strlen(val) - 1] != '/') {
            o->path_prefix = val;
        } else if (strcmp(a, "--api-key") == 0 && val[0] != '\0') {
            o->api_key = val;
        } else if (strcmp(a, "--admin-key") == 0 && val[0] != '\0') {
            o->admin_key = val;
        } else if (strcmp(a, "--cancel-delay-ms") == 0 && parse_u64(val, 86400000, &n)) {
            o->cancel_delay_ms = (int64_t)n;
        } else if (strcmp(a, "--cancel-style") == 0 &&
                   cancel_style_parse(val, strlen(val)) >= 0) {
            o->cancel_style = cancel_style_parse(val, strlen(val));
        } else if (strcmp(a, "--latency-ms") == 0 && parse_u64(val, 86400000, &n)) {
            o->latency_ms = (int64_t)n;
        } else if (strcmp(a, "--threads") == 0 && parse_u64(val, 1024, &n)) {
            o->threads = (unsigned)n;
        } else if (strcmp(a, "--rate-limit") == 0 && ratelimit_parse_flag(val, &o->rate_limit)) {
            continue;
        } else if (strcmp(a, "--record-limit") == 0 && parse_u64(val, 100000000, &n) && n > 0) {
            o->record_limit = (size_t)n;
        } else {
            fprintf(stderr, "fakeapi: bad option or value: %s %s\n%s", a, val, usage_text);
            return false;
        }
    }
    if (o->seed_file != NULL && o->generate) { /* --jobs N adds to a seed */
        fprintf(stderr, "fakeapi: --seed and --generate are exclusive\n");
        return false;
    }
    return true;
}

static bool write_port_file(const char *path, unsigned port)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 32);
    if (tmp == NULL) {
        return false;
    }
    snprintf(tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL;
    if (ok) {
        ok = fprintf(f, "%u\n", port) > 0;
        ok = (fclose(f) == 0) && ok;
    }
    if (ok) {
        ok = rename(tmp, path) == 0;
    }
    if (!ok) {
        fprintf(stderr, "fakeapi: cannot write port file %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

/* Thread-per-connection mode needs one descriptor per connection. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static struct server srv;
    srv.opt.cancel_delay_ms = 100;
    srv.opt.cancel_style = CANCEL_STYLE_DEFAULT;
    srv.opt.record = true;
    srv.opt.record_limit = 100000;
    if (!parse_args(argc, argv, &srv.opt)) {
        return 2;
    }
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);

    /* block the stop signals everywhere; the main thread waits for them */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);

    if (!server_init(&srv)) {
        server_free(&srv);
        return 1;
    }

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)srv.opt.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    unsigned flags;
    unsigned pool = 0;
    if (srv.opt.threads > 0) {
        flags = MHD_USE_EPOLL_INTERNAL_THREAD;
        pool = srv.opt.threads;
    } else {
        /* poll, not select: no FD_SETSIZE ceiling on connections */
        flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD;
    }
    if (srv.opt.verbose) {
        flags |= MHD_USE_ERROR_LOG;
    }
    struct MHD_OptionItem pool_opt[] = {
        {pool > 0 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, pool, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, server_handle, &srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_URI_LOG_CALLBACK, server_uri_log, &srv,
        MHD_OPTION_UNESCAPE_CALLBACK, server_unescape, &srv,
        MHD_OPTION_NOTIFY_COMPLETED, server_completed, &srv,
        MHD_OPTION_ARRAY, pool_opt,
        MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "fakeapi: cannot start the HTTP daemon on 127.0.0.1:%u\n",
                srv.opt.port);
        server_free(&srv);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : srv.opt.port;
    int rc = 0;
    if (srv.opt.port_file != NULL && !write_port_file(srv.opt.port_file, port)) {
        rc = 1;
    } else {
        printf("fakeapi listening on http://127.0.0.1:%u\n", port);
        fflush(stdout);
        int sig = 0;
        while (sigwait(&stop_set, &sig) != 0) {
        }
        if (!srv.opt.quiet) {
            fprintf(stderr, "fakeapi: %s, stopping\n", strsignal(sig));
        }
    }
    server_begin_stop(&srv);
    MHD_stop_daemon(d);
    server_free(&srv);
    return rc;
}
