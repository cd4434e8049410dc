/* server: the server's life (start-up store, init, stop, free) and the
 * libmicrohttpd entry point, which gathers a request's body and hands it to
 * the control routes (control.c) or the API (api.c). */
#include "server.h"
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- entry point ---- */

enum MHD_Result server_handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct req *r = *con_cls;
    if (r == NULL) {
        /* the URI log callback failed to allocate; use what MHD gives us */
        r = req_new(url);
        if (r == NULL) {
            return MHD_NO;
        }
        *con_cls = r;
    }
    if (!r->started) {
        r->started = true;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (r->body.len + *upload_size > MAX_BODY) {
            r->body_too_large = true;
        } else {
            jb_put(&r->body, upload_data, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* whole request received */
    if (r->path_len >= 6 && memcmp(r->uri, "/_fake", 6) == 0 &&
        (r->path_len == 6 || r->uri[6] == '/')) {
        struct path p;
        path_split(&p, r->uri, r->path_len);
        enum MHD_Result ret = control_handle(s, c, r, method, &p);
        free(p.buf);
        return ret;
    }
    return api_handle(s, c, r, method);
}

/* ---- lifecycle ---- */

struct store *server_startup_store(struct server *s, char *err, size_t err_len)
{
    struct store *st;
    if (s->startup_seed != NULL) {
        st = store_from_json(s->startup_seed, s->start_time, err, err_len);
    } else if (s->opt.generate) {
        st = store_generate(s->opt.gen_threads, s->opt.gen_runs, s->opt.gen_seed,
                            s->start_time, err, err_len);
    } else {
        st = store_generate(0, 0, 0, s->start_time, err, err_len);
    }
    if (st != NULL && s->opt.gen_jobs > 0 &&
        !store_generate_jobs(st, s->opt.gen_jobs, s->opt.gen_seed, s->start_time, err,
                             err_len)) {
        store_free(st);
        st = NULL;
    }
    return st;
}

bool server_init(struct server *s)
{
    char err[512];
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->sleep_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->sleep_cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&s->stopping, false);
    request_ids_init(s);
    s->cancel = (struct cancel_rules){s->opt.cancel_style, s->opt.cancel_delay_ms};
    s->start_time = real_ms() / 1000;
    reclog_init(&s->log, s->opt.record_limit);
    ratelimit_init(&s->rl, &s->opt.rate_limit);
    faults_init(&s->faults);
    if (s->opt.seed_file != NULL) {
        json_error_t jerr;
        s->startup_seed = json_load_file(s->opt.seed_file, 0, &jerr);
        if (s->startup_seed == NULL) {
            fprintf(stderr, "fakeapi: %s:%d:%d: %s\n", s->opt.seed_file, jerr.line,
                    jerr.column, jerr.text);
            return false;
        }
    }
    s->store = server_startup_store(s, err, sizeof err);
    if (s->store == NULL) {
        fprintf(stderr, "fakeapi: seed: %s\n", err);
        return false;
    }
    return true;
}

void server_begin_stop(struct server *s)
{
    pthread_mutex_lock(&s->sleep_lock);
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->sleep_cond);
    pthread_mutex_unlock(&s->sleep_lock);
}

void server_free(struct server *s)
{
    store_free(s->store);
    s->store = NULL;
    json_decref(s->startup_seed);
    s->startup_seed = NULL;
    reclog_free(&s->log);
    ratelimit_free(&s->rl);
    faults_clear(&s->faults);
    pthread_cond_destroy(&s->sleep_cond);
    pthread_mutex_destroy(&s->sleep_lock);
    pthread_mutex_destroy(&s->lock);
}

