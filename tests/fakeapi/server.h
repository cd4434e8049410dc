/* server: the options and shared state of the fake server, its life, and the
 * libmicrohttpd callbacks; the handlers each request goes to. */
#ifndef FAKEAPI_SERVER_H
#define FAKEAPI_SERVER_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "faults.h"
#include "ratelimit.h"
#include "refusal.h"
#include "reclog.h"
#include "store.h"

struct options {
    unsigned port;
    const char *port_file;
    const char *seed_file;
    bool generate;
    unsigned gen_threads;
    unsigned gen_runs;
    uint64_t gen_seed;
    unsigned gen_jobs;       /* --jobs N: generated batches, responses, ... of each kind */
    const char *path_prefix; /* --path-prefix /p: the API also lives under /p/... */
    const char *api_key;
    const char *admin_key;   /* --admin-key: the only key that reads costs and usage */
    int64_t cancel_delay_ms;
    int cancel_style;        /* enum cancel_style (refusal.h) */
    int64_t latency_ms;
    unsigned threads;
    bool quiet;
    bool verbose;
    bool record;
    size_t record_limit;
    struct rl_config rate_limit; /* --rate-limit, --insufficient-quota (ratelimit.h) */
};

struct server {
    struct options opt;
    pthread_mutex_t lock; /* guards everything below */
    struct store *store;
    json_t *startup_seed; /* parsed --seed file, NULL otherwise */
    int64_t start_time;   /* unix seconds, base of the start-up seed */
    struct reclog log;
    struct fault_queue faults;
    uint64_t n_requests;
    uint64_t n_cancels;
    struct cancel_rules cancel; /* from the options; POST /_fake/config changes it */
    struct ratelimit rl;        /* its own lock (ratelimit.h) */

    /* lock-free */
    atomic_uint_fast64_t rid_counter;
    uint64_t rid_key1;
    uint64_t rid_key2;
    atomic_bool stopping;
    pthread_mutex_t sleep_lock;
    pthread_cond_t sleep_cond;
};

/* Sets up locks and the start-up store; false (and a message on stderr) on
 * error. */
bool server_init(struct server *s);
/* Builds the store the server started with. */
struct store *server_startup_store(struct server *s, char *err, size_t err_len);
/* Wakes every sleeping request so the daemon can stop quickly. */
void server_begin_stop(struct server *s);
void server_free(struct server *s);

void *server_uri_log(void *cls, const char *uri, struct MHD_Connection *c);
size_t server_unescape(void *cls, struct MHD_Connection *c, char *s);
void server_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe);
enum MHD_Result server_handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls);

/* ---- where a whole request goes (api.c, control.c) ---- */

struct req;
struct path;
/* An API request: recorded, faulted, answered (runs_api.c, jobs.c). */
enum MHD_Result api_handle(struct server *s, struct MHD_Connection *c, struct req *r,
                           const char *method);
/* A request under /_fake, p being its split path. */
enum MHD_Result control_handle(struct server *s, struct MHD_Connection *c, struct req *r,
                               const char *method, const struct path *p);

#endif
