/* examples/frame-loop.c — a game-style host: a 60 Hz loop that starts cancels
 * from Lua and calls runctl_poll(L, 0) once per frame, so no frame ever waits
 * on the network however slowly the server answers, and no frame does more
 * work than the frame budget allows. Prints what it saw.
 *
 *   OPENAI_API_KEY=... frame-loop [--base-url URL] [--thread ID] [--requests N]
 *                                 [--max-frames N] [--quit-after-frames N]
 *                                 [--budget MS] [--fps N] [--worst-frame] [--percentiles]
 *
 * Cancels runs RUN_PREFIX1..RUN_PREFIXN ("run_1".."run_100") of one thread, all
 * at once. --quit-after-frames closes the state while requests are in flight
 * (a clean teardown); --budget sets the frame budget (negative: none);
 * --fps sets the frame rate (0: no sleep, poll back to back, as a host with
 * spare time in its frames would); --worst-frame prints only the worst frame
 * time, --percentiles only runctl_poll's percentiles (p50, p99, max, in wall
 * time and in the thread's CPU time, which a busy machine's preemption does
 * not inflate) and the time until every cancel was done. */
#include <runctl.h>

#include <lauxlib.h>
#include <lualib.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* The game's side, run as plain host code (not a task): task.spawn only
 * queues the cancels; the frame loop's runctl_poll starts and finishes them. */
static const char start_cancels[] =
    "local thread_id, prefix, n = ...\n"
    "local c = runctl.client { max_concurrency = n, max_retries = 0 }\n"
    "stats = { started = 0, done = 0, cancelled = 0, failed = 0, in_flight = 0, max_in_flight = 0 }\n"
    "for i = 1, n do\n"
    "  stats.started = stats.started + 1\n"
    "  task.spawn(function()\n"
    "    stats.in_flight = stats.in_flight + 1\n"
    "    stats.max_in_flight = math.max(stats.max_in_flight, stats.in_flight)\n"
    "    local run, err = c.runs.cancel(thread_id, prefix .. i)\n"
    "    stats.in_flight = stats.in_flight - 1\n"
    "    stats.done = stats.done + 1\n"
    "    if run then stats.cancelled = stats.cancelled + 1\n"
    "    else stats.failed = stats.failed + 1; stats.last_error = tostring(err) end\n"
    "  end)\n"
    "end\n";

static double clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

static long stat_field(lua_State *L, const char *name)
{
    lua_getglobal(L, "stats");
    lua_getfield(L, -1, name);
    long v = (long)lua_tointeger(L, -1);
    lua_pop(L, 2);
    return v;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of n sorted values, nearest rank. */
static double percentile(const double *sorted, long n, double p)
{
    long rank = (long)ceil(p / 100.0 * (double)n);
    return n == 0 ? 0 : sorted[rank < 1 ? 0 : rank - 1];
}

typedef struct config {
    runctl_options opts;
    const char *thread_id, *prefix;
    long requests, max_frames, quit_after, fps;
    int worst_only, percentiles_only;
} config;

static int usage(void)
{
    fprintf(stderr, "usage: frame-loop [--base-url URL] [--thread ID] [--run-prefix P] [--requests N]\n"
                    "                  [--max-frames N] [--quit-after-frames N] [--budget MS]\n"
                    "                  [--fps N] [--worst-frame] [--percentiles]\n");
    return 2;
}

/* Fills c from the command line; 0, or -1 on a bad flag. */
static int parse_args(config *c, int argc, char **argv)
{
    runctl_options_init(&c->opts);
    c->thread_id = "thread_frame";
    c->prefix = "run_";
    c->requests = 100, c->max_frames = 60 * 60, c->quit_after = 0, c->fps = 60;
    c->worst_only = c->percentiles_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--worst-frame") == 0 || strcmp(a, "--percentiles") == 0) {
            *(a[2] == 'w' ? &c->worst_only : &c->percentiles_only) = 1;
            continue;
        }
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "--base-url") == 0)
            c->opts.base_url = v;
        else if (strcmp(a, "--thread") == 0)
            c->thread_id = v;
        else if (strcmp(a, "--run-prefix") == 0)
            c->prefix = v;
        else if (strcmp(a, "--requests") == 0 && (c->requests = atol(v)) > 0)
            continue;
        else if (strcmp(a, "--max-frames") == 0 && (c->max_frames = atol(v)) > 0)
            continue;
        else if (strcmp(a, "--quit-after-frames") == 0 && (c->quit_after = atol(v)) > 0)
            continue;
        else if (strcmp(a, "--budget") == 0 && (c->opts.frame_budget_ms = atof(v)) != 0)
            continue;
        else if (strcmp(a, "--fps") == 0 && (c->fps = atol(v)) >= 0 && strspn(v, "0123456789") == strlen(v))
            continue;
        else
            return -1;
    }
    if (c->fps == 0 && c->max_frames == 60 * 60)
        c->max_frames = 1000 * 1000;    /* back to back: frames are short */
    return 0;
}

/* Runs the game's side of the script (spawns the cancels); 0 or -1. */
static int start_cancels_from_lua(lua_State *L, const config *c)
{
    if (luaL_loadstring(L, start_cancels) != LUA_OK) {
        fprintf(stderr, "frame-loop: %s\n", lua_tostring(L, -1));
        return -1;
    }
    lua_pushstring(L, c->thread_id);
    lua_pushstring(L, c->prefix);
    lua_pushinteger(L, c->requests);
    if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
        fprintf(stderr, "frame-loop: %s\n", lua_tostring(L, -1));
        return -1;
    }
    return 0;
}

/* Sleeps to the next frame boundary; a late frame does not make the next ones short. */
static void sleep_to_next_frame(struct timespec *next, long fps)
{
    if (fps == 0)
        return;
    next->tv_nsec += 1000000000L / fps;
    while (next->tv_nsec >= 1000000000L) {
        next->tv_sec++;
        next->tv_nsec -= 1000000000L;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > next->tv_sec || (now.tv_sec == next->tv_sec && now.tv_nsec > next->tv_nsec))
        *next = now;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) == EINTR)
        ;
}

/* What the loop saw. */
typedef struct seen {
    long frames, frames_in_flight, first_done, last_done, done;
    double worst, all_done_ms;
    double *poll_ms, *poll_cpu_ms;  /* runctl_poll's wall and CPU time per frame */
} seen;

/* The frame loop: one runctl_poll(L, 0) per frame. Returns 0, or 1 on failure. */
static int run_frames(lua_State *L, const config *c, seen *w)
{
    long last_seen = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    double t0 = now_ms();
    for (;; w->frames++) {
        double start = now_ms();
        if (w->frames == 0 && start_cancels_from_lua(L, c) != 0)
            return 1;
        /* The frame's runctl work: never waits (timeout 0), bounded by the budget. */
        double cpu_start = clock_ms(CLOCK_THREAD_CPUTIME_ID), poll_start = now_ms();
        int pending = runctl_poll(L, 0);
        w->poll_ms[w->frames] = now_ms() - poll_start;
        w->poll_cpu_ms[w->frames] = clock_ms(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
        w->done = stat_field(L, "done");
        if (now_ms() - start > w->worst)
            w->worst = now_ms() - start;
        if (pending < 0)
            return 1;
        if (w->done < stat_field(L, "started"))
            w->frames_in_flight++;      /* runctl_poll returned with requests in flight */
        if (w->done > last_seen) {
            if (w->first_done < 0)
                w->first_done = w->frames;
            w->last_done = w->frames;
            last_seen = w->done;
        }
        if (w->done == c->requests && pending == 0) {
            w->all_done_ms = now_ms() - t0;
            w->frames++;
            return 0;
        }
        if (c->quit_after > 0 && w->frames + 1 >= c->quit_after) {
            printf("closing the state after %ld frames with %ld requests in flight\n",
                   w->frames + 1, c->requests - w->done);
            w->frames++;
            return 0;
        }
        if (w->frames + 1 >= c->max_frames) {
            fprintf(stderr, "frame-loop: %ld of %ld requests done after %ld frames\n",
                    w->done, c->requests, c->max_frames);
            w->frames++;
            return 1;
        }
        sleep_to_next_frame(&next, c->fps);
    }
}

static void report(lua_State *L, const config *c, seen *w, int status)
{
    runctl_stats st;
    runctl_get_stats(L, &st);
    qsort(w->poll_ms, (size_t)w->frames, sizeof *w->poll_ms, by_value);
    qsort(w->poll_cpu_ms, (size_t)w->frames, sizeof *w->poll_cpu_ms, by_value);
    if (c->percentiles_only) {
        printf("frame-loop: %ld in flight: runctl_poll p50 %.3f ms, p99 %.3f ms, max %.3f ms over %ld frames "
               "(%ld left tasks, %ld network work for the next); CPU p99 %.3f ms, max %.3f ms; "
               "all done in %.0f ms\n",
               c->requests, percentile(w->poll_ms, w->frames, 50), percentile(w->poll_ms, w->frames, 99),
               w->frames > 0 ? w->poll_ms[w->frames - 1] : 0.0, w->frames,
               (long)st.budget_stops, (long)st.io_stops, percentile(w->poll_cpu_ms, w->frames, 99),
               w->frames > 0 ? w->poll_cpu_ms[w->frames - 1] : 0.0, w->all_done_ms);
    } else if (c->worst_only) {
        printf("frame-loop: worst frame %.3f ms over %ld frames at %ld Hz (%ld cancels in flight at once)\n",
               w->worst, w->frames, c->fps, c->requests);
    } else if (status == 0) {
        printf("started=%ld completed=%ld cancelled=%ld failed=%ld max_in_flight=%ld\n",
               stat_field(L, "started"), w->done, stat_field(L, "cancelled"), stat_field(L, "failed"),
               stat_field(L, "max_in_flight"));
        printf("frames=%ld frames_in_flight=%ld first_completion_frame=%ld last_completion_frame=%ld\n",
               w->frames, w->frames_in_flight, w->first_done, w->last_done);
        printf("worst_frame_ms=%.3f\n", w->worst);
        printf("polls=%lu resumed=%lu budget_stops=%lu io_stops=%lu max_resumed=%lu tasks_left=%d in_engine=%d\n",
               st.polls, st.resumed, st.budget_stops, st.io_stops, st.max_resumed, st.tasks, st.in_engine);
        lua_getglobal(L, "stats");
        if (lua_getfield(L, -1, "last_error") == LUA_TSTRING)
            printf("last_error=%s\n", lua_tostring(L, -1));
        lua_pop(L, 2);
    }
}

int main(int argc, char **argv)
{
    config c;
    if (parse_args(&c, argc, argv) != 0)
        return usage();
    lua_State *L = luaL_newstate();
    if (L == NULL)
        return 1;
    luaL_openlibs(L);
    if (runctl_openlibs(L, &c.opts) != 0) {
        fprintf(stderr, "frame-loop: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    seen w = { .first_done = -1, .last_done = -1 };
    w.poll_ms = calloc((size_t)c.max_frames, sizeof *w.poll_ms);
    w.poll_cpu_ms = calloc((size_t)c.max_frames, sizeof *w.poll_cpu_ms);
    int status = w.poll_ms && w.poll_cpu_ms ? run_frames(L, &c, &w) : 1;
    report(L, &c, &w, status);
    free(w.poll_ms);
    free(w.poll_cpu_ms);
    lua_close(L);                       /* cancels whatever is still in flight */
    return status;
}
