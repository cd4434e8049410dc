/* examples/frame-loop.c — a game-style host: a 60 Hz loop that starts cancels
 * from Lua and calls runctl_poll(L, 0) once per frame, so no frame ever waits
 * on the network however slowly the server answers, and no frame does more
 * work than the frame budget allows. Prints what it saw.
 *
 *   OPENAI_API_KEY=... frame-loop [--base-url URL] [--thread ID] [--requests N]
 *                                 [--max-frames N] [--quit-after-frames N]
 *                                 [--budget MS] [--worst-frame] [--percentiles]
 *
 * Cancels runs RUN_PREFIX1..RUN_PREFIXN ("run_1".."run_100") of one thread, all
 * at once. --quit-after-frames closes the state while requests are in flight
 * (a clean teardown); --budget sets the frame budget (negative: none);
 * --worst-frame prints only the worst frame time, --percentiles only the
 * frame-time percentiles (p50, p99, max) of runctl_poll. */
#include <runctl.h>

#include <lauxlib.h>
#include <lualib.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRAME_NS (1000000000L / 60)

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

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
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

static int usage(void)
{
    fprintf(stderr, "usage: frame-loop [--base-url URL] [--thread ID] [--run-prefix P] [--requests N]\n"
                    "                  [--max-frames N] [--quit-after-frames N] [--budget MS]\n"
                    "                  [--worst-frame] [--percentiles]\n");
    return 2;
}

int main(int argc, char **argv)
{
    runctl_options opts;
    runctl_options_init(&opts);
    const char *thread_id = "thread_frame", *prefix = "run_";
    long requests = 100, max_frames = 60 * 60, quit_after = 0;
    int worst_only = 0, percentiles_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--worst-frame") == 0 || strcmp(a, "--percentiles") == 0) {
            *(a[2] == 'w' ? &worst_only : &percentiles_only) = 1;
            continue;
        }
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--base-url") == 0)
            opts.base_url = v;
        else if (strcmp(a, "--thread") == 0)
            thread_id = v;
        else if (strcmp(a, "--run-prefix") == 0)
            prefix = v;
        else if (strcmp(a, "--requests") == 0 && (requests = atol(v)) > 0)
            continue;
        else if (strcmp(a, "--max-frames") == 0 && (max_frames = atol(v)) > 0)
            continue;
        else if (strcmp(a, "--quit-after-frames") == 0 && (quit_after = atol(v)) > 0)
            continue;
        else if (strcmp(a, "--budget") == 0 && (opts.frame_budget_ms = atof(v)) != 0)
            continue;
        else
            return usage();
    }

    lua_State *L = luaL_newstate();
    if (L == NULL)
        return 1;
    luaL_openlibs(L);
    if (runctl_openlibs(L, &opts) != 0) {
        fprintf(stderr, "frame-loop: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }

    long frames = 0, frames_in_flight = 0, first_done = -1, last_done = -1, done = 0, last_seen = 0;
    double worst = 0;
    double *poll_ms = calloc((size_t)max_frames, sizeof *poll_ms);   /* runctl_poll's time per frame */
    if (poll_ms == NULL)
        return 1;
    int status = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;; frames++) {
        double start = now_ms();
        if (frames == 0) {
            if (luaL_loadstring(L, start_cancels) != LUA_OK) {
                fprintf(stderr, "frame-loop: %s\n", lua_tostring(L, -1));
                status = 1;
                break;
            }
            lua_pushstring(L, thread_id);
            lua_pushstring(L, prefix);
            lua_pushinteger(L, requests);
            if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
                fprintf(stderr, "frame-loop: %s\n", lua_tostring(L, -1));
                status = 1;
                break;
            }
        }
        /* The frame's runctl work: never waits (timeout 0), bounded by the budget. */
        double poll_start = now_ms();
        int pending = runctl_poll(L, 0);
        poll_ms[frames] = now_ms() - poll_start;
        done = stat_field(L, "done");
        double spent = now_ms() - start;
        if (spent > worst)
            worst = spent;
        if (pending < 0) {
            status = 1;
            break;
        }
        if (done < stat_field(L, "started"))
            frames_in_flight++;         /* runctl_poll returned with requests in flight */
        if (done > last_seen) {
            if (first_done < 0)
                first_done = frames;
            last_done = frames;
            last_seen = done;
        }
        if (done == requests && pending == 0) {
            frames++;
            break;
        }
        if (quit_after > 0 && frames + 1 >= quit_after) {
            printf("closing the state after %ld frames with %ld requests in flight\n",
                   frames + 1, requests - done);
            frames++;
            break;
        }
        if (frames + 1 >= max_frames) {
            fprintf(stderr, "frame-loop: %ld of %ld requests done after %ld frames\n", done, requests, max_frames);
            status = 1;
            frames++;
            break;
        }
        /* Sleep to the next frame boundary; a late frame does not make the next ones short. */
        next.tv_nsec += FRAME_NS;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
            next = now;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
    }

    qsort(poll_ms, (size_t)frames, sizeof *poll_ms, by_value);
    runctl_stats st;
    runctl_get_stats(L, &st);
    if (percentiles_only) {
        printf("frame-loop: %ld in flight: runctl_poll p50 %.3f ms, p99 %.3f ms, max %.3f ms over %ld frames "
               "(%ld left work for the next)\n", requests, percentile(poll_ms, frames, 50),
               percentile(poll_ms, frames, 99), frames > 0 ? poll_ms[frames - 1] : 0.0, frames,
               (long)st.budget_stops);
    } else if (worst_only) {
        printf("frame-loop: worst frame %.3f ms over %ld frames at 60 Hz (%ld cancels in flight at once)\n",
               worst, frames, requests);
    } else if (status == 0) {
        printf("started=%ld completed=%ld cancelled=%ld failed=%ld max_in_flight=%ld\n",
               stat_field(L, "started"), done, stat_field(L, "cancelled"), stat_field(L, "failed"),
               stat_field(L, "max_in_flight"));
        printf("frames=%ld frames_in_flight=%ld first_completion_frame=%ld last_completion_frame=%ld\n",
               frames, frames_in_flight, first_done, last_done);
        printf("worst_frame_ms=%.3f\n", worst);
        printf("polls=%lu resumed=%lu budget_stops=%lu max_resumed=%lu tasks_left=%d in_engine=%d\n",
               st.polls, st.resumed, st.budget_stops, st.max_resumed, st.tasks, st.in_engine);
        lua_getglobal(L, "stats");
        if (lua_getfield(L, -1, "last_error") == LUA_TSTRING)
            printf("last_error=%s\n", lua_tostring(L, -1));
        lua_pop(L, 2);
    }
    free(poll_ms);
    lua_close(L);                       /* cancels whatever is still in flight */
    return status;
}
