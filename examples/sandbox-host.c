/* examples/sandbox-host.c — a host that runs scripts it does not trust: each
 * SCRIPT runs in turn in one sandbox with the given limits, and one line per
 * script says how it ended. A hostile script stops with a clear error; the
 * host carries on with the next one.
 *
 *   sandbox-host [--memory BYTES] [--instructions N] [--seconds S]
 *                [--allow-host HOST]... [--frame-loop] [--max-rss] SCRIPT...
 *
 * --frame-loop drives each run from a 60 Hz loop (runctl_sandbox_start,
 * runctl_poll(L, 0), runctl_sandbox_status) instead of runctl_sandbox_run.
 * A limit that trips ends the run's tasks, requests and sleeps, so the same
 * sandbox runs the next script; should a run still leave work pending, its
 * sandbox is closed and replaced before the next script.
 * --max-rss prints the process's peak resident size last ("max rss: N kB"),
 * to check that a limit held in C as well as in Lua.
 * Prints "SCRIPT: ok" or "SCRIPT: error: MESSAGE"; exits 0 when every script
 * ended ok, 1 otherwise, 2 on a usage error. */
#include <runctl.h>

#include <lauxlib.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_HOSTS 16

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* One run driven frame by frame, the way a game would. */
static int run_in_frames(lua_State *L, const char *code, size_t len, const char *name)
{
    if (runctl_sandbox_start(L, code, len, name) != 0)
        return -1;
    struct timespec frame = { 0, 1000000000L / 60 };
    int st;
    while ((st = runctl_sandbox_status(L)) == 1) {
        if (runctl_poll(L, 0) < 0) {    /* the status says why (a limit, say) */
            if ((st = runctl_sandbox_status(L)) != 1)
                return st;
            lua_pushliteral(L, "runctl_poll failed");
            return -1;
        }
        while (nanosleep(&frame, &frame) == -1 && errno == EINTR)
            ;
        frame.tv_nsec = 1000000000L / 60;
    }
    return st;
}

int main(int argc, char **argv)
{
    runctl_sandbox_limits limits;
    runctl_sandbox_limits_init(&limits);
    const char *hosts[MAX_HOSTS + 1] = { NULL };
    int n_hosts = 0, frames = 0, max_rss = 0, i;
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--frame-loop") == 0) {
            frames = 1;
            continue;
        }
        if (strcmp(a, "--max-rss") == 0) {
            max_rss = 1;
            continue;
        }
        if (i + 1 >= argc)
            break;
        const char *v = argv[++i];
        if (strcmp(a, "--memory") == 0)
            limits.max_memory = strtoul(v, NULL, 10);
        else if (strcmp(a, "--instructions") == 0)
            limits.max_instructions = strtoul(v, NULL, 10);
        else if (strcmp(a, "--seconds") == 0)
            limits.max_seconds = strtod(v, NULL);
        else if (strcmp(a, "--allow-host") == 0 && n_hosts < MAX_HOSTS)
            hosts[n_hosts++] = v;
        else
            i = argc;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: sandbox-host [--memory BYTES] [--instructions N] [--seconds S]\n"
                        "                    [--allow-host HOST]... [--frame-loop] [--max-rss] SCRIPT...\n");
        return 2;
    }
    limits.allow_hosts = hosts;

    char err[256];
    lua_State *L = NULL;
    int failures = 0;
    for (; i < argc; i++) {
        if (L == NULL && (L = runctl_sandbox_new(&limits, NULL, err, sizeof err)) == NULL) {
            fprintf(stderr, "sandbox-host: %s\n", err);
            return 1;
        }
        size_t len;
        char *code = read_file(argv[i], &len);
        if (code == NULL) {
            printf("%s: error: cannot read it\n", argv[i]);
            failures++;
            continue;
        }
        char name[512];
        snprintf(name, sizeof name, "@%s", argv[i]);
        int st = frames ? run_in_frames(L, code, len, name) : runctl_sandbox_run(L, code, len, name);
        free(code);
        if (st == 0) {
            printf("%s: ok\n", argv[i]);
        } else {
            printf("%s: error: %s\n", argv[i], lua_tostring(L, -1));
            lua_pop(L, 1);
            failures++;
        }
        fflush(stdout);
        /* Work left behind (none after a limit: it ends the run's tasks): start afresh. */
        if (runctl_poll(L, 0) != 0) {
            runctl_sandbox_close(L);
            L = NULL;
        }
    }
    if (L != NULL)
        runctl_sandbox_close(L);
    struct rusage ru;
    if (max_rss && getrusage(RUSAGE_SELF, &ru) == 0)
        printf("max rss: %ld kB\n", ru.ru_maxrss);
    return failures > 0 ? 1 : 0;
}
