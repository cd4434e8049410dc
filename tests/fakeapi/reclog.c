/* reclog: the recorded API requests: an entry built from a request as sent,
 * kept in a ring buffer, written out as a JSON array. */
#include "reclog.h"
#include "http.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void reclog_init(struct reclog *l, size_t limit)
{
    l->ring = NULL;
    l->cap = 0;
    l->limit = limit ? limit : 1;
    l->head = 0;
    l->count = 0;
    l->next_seq = 1;
    l->dropped = 0;
}

/* Grows the ring (up to limit), keeping entries in order from index 0. */
static bool reclog_grow(struct reclog *l)
{
    size_t cap = l->cap ? l->cap * 2 : 64;
    if (cap > l->limit) {
        cap = l->limit;
    }
    struct rec_entry *ring = malloc(cap * sizeof *ring);
    if (ring == NULL) {
        return false;
    }
    for (size_t i = 0; i < l->count; i++) {
        ring[i] = l->ring[(l->head + i) % l->cap];
    }
    free(l->ring);
    l->ring = ring;
    l->cap = cap;
    l->head = 0;
    return true;
}

static void entry_free(struct rec_entry *e)
{
    free(e->json);
    free(e->method_path);
}

uint64_t reclog_add(struct reclog *l, char *json, size_t len, const char *method,
                    const char *path, size_t path_len)
{
    uint64_t seq = l->next_seq++;
    struct jbuf mp;
    jb_init(&mp);
    jb_puts(&mp, method);
    jb_putc(&mp, ' ');
    jb_put(&mp, path, path_len);
    char *method_path = jb_steal(&mp, NULL);
    if (l->count == l->cap && l->cap < l->limit && !reclog_grow(l) &&
        l->cap == 0) {
        free(json);
        free(method_path);
        l->dropped++;
        return seq;
    }
    if (l->count == l->cap) {
        /* full: drop the oldest */
        entry_free(&l->ring[l->head]);
        l->head = (l->head + 1) % l->cap;
        l->count--;
        l->dropped++;
    }
    struct rec_entry *e = &l->ring[(l->head + l->count) % l->cap];
    e->seq = seq;
    e->json = json;
    e->len = len;
    e->method_path = method_path;
    l->count++;
    return seq;
}

void reclog_clear(struct reclog *l, bool reset_seq)
{
    for (size_t i = 0; i < l->count; i++) {
        entry_free(&l->ring[(l->head + i) % l->cap]);
    }
    free(l->ring);
    l->ring = NULL;
    l->cap = 0;
    l->head = 0;
    l->count = 0;
    l->dropped = 0;
    if (reset_seq) {
        l->next_seq = 1;
    }
}

static bool entry_kept(const struct rec_entry *e, const struct rec_filter *f)
{
    if (f == NULL) {
        return true;
    }
    const char *mp = e->method_path != NULL ? e->method_path : "";
    const char *space = strchr(mp, ' ');
    size_t mn = space != NULL ? (size_t)(space - mp) : strlen(mp);
    const char *path = space != NULL ? space + 1 : "";
    size_t pn = strlen(path);
    if (f->method != NULL && (f->method_len != mn || memcmp(f->method, mp, mn) != 0)) {
        return false;
    }
    return f->path_end == NULL ||
           (f->path_end_len <= pn &&
            memcmp(path + pn - f->path_end_len, f->path_end, f->path_end_len) == 0);
}

void reclog_write_json(const struct reclog *l, const struct rec_filter *f, struct jbuf *b)
{
    jb_putc(b, '[');
    bool first = true;
    for (size_t i = 0; i < l->count; i++) {
        const struct rec_entry *e = &l->ring[(l->head + i) % l->cap];
        if (!entry_kept(e, f)) {
            continue;
        }
        if (!first) {
            jb_putc(b, ',');
        }
        first = false;
        JB_LIT(b, "{\"seq\":");
        jb_u64(b, e->seq);
        jb_put(b, e->json, e->len);
    }
    jb_putc(b, ']');
}

void reclog_free(struct reclog *l)
{
    reclog_clear(l, true);
}

/* ---- an entry from the request as sent ---- */

struct hdr_item {
    const char *k;
    size_t kn;
    const char *v;
    size_t vn;
};

struct hdr_list {
    struct hdr_item *items;
    size_t n;
    size_t cap;
};

static enum MHD_Result hdr_collect(void *cls, enum MHD_ValueKind kind,
                                   const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
    (void)kind;
    struct hdr_list *l = cls;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct hdr_item *p = realloc(l->items, cap * sizeof *p);
        if (p == NULL) {
            return MHD_NO;
        }
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n].k = key;
    l->items[l->n].kn = key_size;
    l->items[l->n].v = value ? value : "";
    l->items[l->n].vn = value ? value_size : 0;
    l->n++;
    return MHD_YES;
}

/* Builds the log entry after its {"seq":N prefix. */
char *reclog_entry(struct MHD_Connection *c, const struct req *r, const char *method,
                   const char *rid, size_t *len)
{
    struct hdr_list hl = {NULL, 0, 0};
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, hdr_collect, &hl);
    struct jbuf b;
    jb_init(&b);
    jb_reserve(&b, 512 + r->path_len + r->query_len + r->body.len);
    JB_LIT(&b, ",\"method\":");
    jb_jstrz(&b, method);
    JB_LIT(&b, ",\"path\":");
    jb_jstr(&b, r->uri, r->path_len);
    JB_LIT(&b, ",\"query\":");
    jb_jstr(&b, r->query, r->query_len);
    JB_LIT(&b, ",\"headers\":{");
    bool first = true;
    char lower[256];
    for (size_t i = 0; i < hl.n; i++) {
        const struct hdr_item *h = &hl.items[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = hl.items[j].kn == h->kn && strncasecmp(hl.items[j].k, h->k, h->kn) == 0;
        }
        if (seen) {
            continue;
        }
        if (!first) {
            jb_putc(&b, ',');
        }
        first = false;
        /* lower-case the name (long names are written in pieces) */
        struct jbuf name;
        jb_init(&name);
        for (size_t k = 0; k < h->kn; k += sizeof lower) {
            size_t m = h->kn - k < sizeof lower ? h->kn - k : sizeof lower;
            for (size_t x = 0; x < m; x++) {
                char ch = h->k[k + x];
                lower[x] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
            }
            jb_put(&name, lower, m);
        }
        jb_jstr(&b, name.data ? name.data : "", name.len);
        jb_free(&name);
        jb_putc(&b, ':');
        bool multi = false;
        for (size_t j = i + 1; j < hl.n && !multi; j++) {
            multi = hl.items[j].kn == h->kn && strncasecmp(hl.items[j].k, h->k, h->kn) == 0;
        }
        if (!multi) {
            jb_jstr(&b, h->v, h->vn);
            continue;
        }
        struct jbuf v;
        jb_init(&v);
        for (size_t j = i; j < hl.n; j++) {
            if (hl.items[j].kn == h->kn && strncasecmp(hl.items[j].k, h->k, h->kn) == 0) {
                if (j > i) {
                    JB_LIT(&v, ", ");
                }
                jb_put(&v, hl.items[j].v, hl.items[j].vn);
            }
        }
        jb_jstr(&b, v.data ? v.data : "", v.len);
        jb_free(&v);
    }
    free(hl.items);
    JB_LIT(&b, "},\"body\":");
    jb_jstr(&b, r->body.data ? r->body.data : "", r->body.len);
    JB_LIT(&b, ",\"request_id\":\"");
    jb_puts(&b, rid);
    JB_LIT(&b, "\"}");
    return jb_steal(&b, len);
}
