/* ratelimit: the fake's rate-limit mode (see ratelimit.h). The bucket is
 * OpenAI's as its headers describe it: limit = the bucket's size,
 * remaining = whole tokens left, reset = the time until it is full again. */
#include "ratelimit.h"
#include "http.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const hint_names[] = { "ms", "seconds", "date", "reset", "none" };

static int hint_parse(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, hint_names[i]) == 0)
            return i;
    return -1;
}

bool ratelimit_parse_flag(const char *spec, struct rl_config *c)
{
    char buf[128];
    if (strlen(spec) >= sizeof buf)
        return false;
    strcpy(buf, spec);
    char *save = NULL, *part = strtok_r(buf, ":", &save);
    char *end;
    struct rl_config n = { 0, 0, RL_HINT_MS, true, false };
    n.rate = part ? strtod(part, &end) : 0;
    if (part == NULL || *end != '\0' || !(n.rate > 0) || n.rate > 1e6)
        return false;
    n.burst = n.rate;
    if ((part = strtok_r(NULL, ":", &save)) != NULL) {
        n.burst = strtod(part, &end);
        if (*end != '\0' || !(n.burst >= 1) || n.burst > 1e9)
            return false;
        if ((part = strtok_r(NULL, ":", &save)) != NULL) {
            if ((n.hint = hint_parse(part)) < 0)
                return false;
            if ((part = strtok_r(NULL, ":", &save)) != NULL) {
                if (strcmp(part, "noheaders") != 0 || strtok_r(NULL, ":", &save) != NULL)
                    return false;
                n.headers = false;
            }
        }
    }
    n.no_quota = c->no_quota;
    *c = n;
    return true;
}

static void start_over(struct ratelimit *rl)
{
    rl->tokens = rl->cfg.burst;
    rl->last_us = rl->t0_us = mono_us();
    memset(rl->admitted, 0, sizeof rl->admitted);
    memset(rl->limited, 0, sizeof rl->limited);
    rl->total_admitted = rl->total_limited = 0;
}

void ratelimit_init(struct ratelimit *rl, const struct rl_config *startup)
{
    pthread_mutex_init(&rl->lock, NULL);
    rl->startup = rl->cfg = *startup;
    if (startup->rate <= 0)     /* off: a config that turns it on gets headers */
        rl->startup.headers = rl->cfg.headers = true;
    start_over(rl);
}

void ratelimit_free(struct ratelimit *rl)
{
    pthread_mutex_destroy(&rl->lock);
}

void ratelimit_reset(struct ratelimit *rl)
{
    pthread_mutex_lock(&rl->lock);
    rl->cfg = rl->startup;
    start_over(rl);
    pthread_mutex_unlock(&rl->lock);
}

static void add_str(struct rl_headers *h, const char *name, const char *value)
{
    if (h->n >= sizeof h->name / sizeof h->name[0])
        return;
    snprintf(h->name[h->n], sizeof h->name[0], "%s", name);
    snprintf(h->value[h->n], sizeof h->value[0], "%s", value);
    h->n++;
}

static void add(struct rl_headers *h, const char *name, const char *fmt, double v)
{
    char value[48];
    snprintf(value, sizeof value, fmt, v);
    add_str(h, name, value);
}

/* A Go duration with microseconds: "1m30.5s", "97.5ms", "0s". */
static void add_duration(struct rl_headers *h, const char *name, double s)
{
    char v[48];
    if (s >= 60)
        snprintf(v, sizeof v, "%dm%gs", (int)(s / 60), fmod(s, 60));
    else if (s >= 1)
        snprintf(v, sizeof v, "%gs", s);
    else if (s > 0)
        snprintf(v, sizeof v, "%.3fms", s * 1000);
    else
        snprintf(v, sizeof v, "0s");
    add_str(h, name, v);
}

static void add_headers(const struct ratelimit *rl, struct rl_headers *h)
{
    const struct rl_config *c = &rl->cfg;
    add(h, "x-ratelimit-limit-requests", "%.0f", c->burst);
    add(h, "x-ratelimit-remaining-requests", "%.0f", floor(rl->tokens < 0 ? 0 : rl->tokens));
    add_duration(h, "x-ratelimit-reset-requests", (c->burst - rl->tokens) / c->rate);
    /* a token budget that never runs low: read, never the pace */
    add(h, "x-ratelimit-limit-tokens", "%.0f", 1000000);
    add(h, "x-ratelimit-remaining-tokens", "%.0f", 999000);
    add_duration(h, "x-ratelimit-reset-tokens", 0.06);
}

static void add_hint(const struct ratelimit *rl, struct rl_headers *h)
{
    double wait = (1 - rl->tokens) / rl->cfg.rate;
    if (rl->cfg.hint == RL_HINT_MS) {
        add(h, "retry-after-ms", "%.0f", ceil(wait * 1000) < 1 ? 1 : ceil(wait * 1000));
    } else if (rl->cfg.hint == RL_HINT_SECONDS) {
        add(h, "retry-after", "%.0f", ceil(wait) < 1 ? 1 : ceil(wait));
    } else if (rl->cfg.hint == RL_HINT_DATE) {
        time_t at = time(NULL) + (time_t)ceil(wait);
        struct tm tm;
        gmtime_r(&at, &tm);
        char v[48];
        strftime(v, sizeof v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        add_str(h, "retry-after", v);
    }
}

unsigned ratelimit_take(struct ratelimit *rl, struct jbuf *out, struct rl_headers *h)
{
    h->n = 0;
    pthread_mutex_lock(&rl->lock);
    const struct rl_config *c = &rl->cfg;
    if (c->rate <= 0 && !c->no_quota) {
        pthread_mutex_unlock(&rl->lock);
        return 0;
    }
    int64_t now = mono_us();
    size_t sec = (size_t)((now - rl->t0_us) / 1000000);
    if (sec >= RL_MAX_SECONDS)
        sec = RL_MAX_SECONDS - 1;
    unsigned status = 0;
    if (c->no_quota) {
        status = 429;
        put_error(out, "You exceeded your current quota, please check your plan and billing "
                  "details.", "insufficient_quota", NULL, "insufficient_quota");
    } else {
        rl->tokens += c->rate * (double)(now - rl->last_us) / 1e6;
        if (rl->tokens > c->burst)
            rl->tokens = c->burst;
        rl->last_us = now;
        if (rl->tokens >= 1) {
            rl->tokens -= 1;
        } else {
            status = 429;
            char msg[160];
            snprintf(msg, sizeof msg, "Rate limit reached for requests: Limit %.0f, Used %.0f, "
                     "Requested 1.", c->burst, c->burst);
            put_error(out, msg, "requests", NULL, "rate_limit_exceeded");
            add_hint(rl, h);
        }
        if (c->headers || c->hint == RL_HINT_RESET)
            add_headers(rl, h);
    }
    if (status == 0) {
        rl->admitted[sec]++;
        rl->total_admitted++;
    } else {
        rl->limited[sec]++;
        rl->total_limited++;
    }
    pthread_mutex_unlock(&rl->lock);
    return status;
}

void ratelimit_add_headers(const struct rl_headers *h, struct MHD_Response *resp)
{
    for (size_t i = 0; resp != NULL && i < h->n; i++)
        MHD_add_response_header(resp, h->name[i], h->value[i]);
}

bool ratelimit_configure(struct ratelimit *rl, json_t *v, char *err, size_t err_len)
{
    if (!json_is_object(v)) {
        snprintf(err, err_len, "rate_limit must be an object {rate, burst, hint, headers, "
                 "insufficient_quota}");
        return false;
    }
    pthread_mutex_lock(&rl->lock);
    struct rl_config c = rl->cfg;
    const char *key;
    json_t *f;
    bool ok = true;
    json_object_foreach(v, key, f) {
        if (strcmp(key, "rate") == 0 && json_is_number(f) && json_number_value(f) >= 0 &&
            json_number_value(f) <= 1e6) {
            c.rate = json_number_value(f);
        } else if (strcmp(key, "burst") == 0 && json_is_number(f) && json_number_value(f) >= 1 &&
                   json_number_value(f) <= 1e9) {
            c.burst = json_number_value(f);
        } else if (strcmp(key, "hint") == 0 && json_is_string(f) &&
                   hint_parse(json_string_value(f)) >= 0) {
            c.hint = hint_parse(json_string_value(f));
        } else if (strcmp(key, "headers") == 0 && json_is_boolean(f)) {
            c.headers = json_is_true(f);
        } else if (strcmp(key, "insufficient_quota") == 0 && json_is_boolean(f)) {
            c.no_quota = json_is_true(f);
        } else {
            snprintf(err, err_len, "rate_limit: bad field '%s' (rate >= 0, burst >= 1, hint one "
                     "of ms, seconds, date, reset, none; headers and insufficient_quota "
                     "booleans)", key);
            ok = false;
            break;
        }
    }
    if (ok) {
        if (c.burst < 1)
            c.burst = c.rate >= 1 ? c.rate : 1;
        rl->cfg = c;
        start_over(rl);
    }
    pthread_mutex_unlock(&rl->lock);
    return ok;
}

void ratelimit_write_json(struct ratelimit *rl, struct jbuf *out)
{
    pthread_mutex_lock(&rl->lock);
    const struct rl_config *c = &rl->cfg;
    jb_printf(out, "{\"rate\":%g,\"burst\":%g,\"hint\":\"%s\",\"headers\":%s,"
              "\"insufficient_quota\":%s,\"admitted\":%llu,\"limited\":%llu,\"per_second\":[",
              c->rate, c->burst, hint_names[c->hint], c->headers ? "true" : "false",
              c->no_quota ? "true" : "false", (unsigned long long)rl->total_admitted,
              (unsigned long long)rl->total_limited);
    size_t last = (size_t)((mono_us() - rl->t0_us) / 1000000);
    if (last >= RL_MAX_SECONDS)
        last = RL_MAX_SECONDS - 1;
    for (size_t i = 0; i <= last; i++)
        jb_printf(out, "%s[%u,%u]", i ? "," : "", rl->admitted[i], rl->limited[i]);
    jb_printf(out, "]}");
    pthread_mutex_unlock(&rl->lock);
}
