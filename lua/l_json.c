/* lua/l_json.c — the json module: decode (a one-pass fast path for plain JSON,
 * lua-cjson for the rest and for errors; numbers that are whole become
 * integers), encode here (sorted keys, json.array for [], json.null). */
#include "host.h"
#include "../core/text.h"

#include <lua-cjson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_META "runctl.json.array"
#define BUFFER_META "runctl.json.buffer"
/* One nesting limit both ways: what decode accepts, encode can write back
 * (and integerize reaches every number of it). Recursion in C is bounded by it. */
#define MAX_DEPTH 1000

/* ---- decode ---- */

/* Turns whole floats into integers, recursively: cjson 2.1 yields only floats. */
static void integerize(lua_State *L, int idx, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    luaL_checkstack(L, 3, "json nesting");
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number n = lua_tonumber(L, -1);
            if (n == floor(n) && fabs(n) < 9007199254740992.0) {
                lua_pushvalue(L, -2);
                lua_pushinteger(L, (lua_Integer)n);
                lua_rawset(L, idx);
            }
        } else if (lua_type(L, -1) == LUA_TTABLE) {
            integerize(L, lua_gettop(L), depth + 1);
        }
        lua_pop(L, 1);
    }
}

/* ---- decode: the fast path ----
 * Most JSON runctl reads is an API object a few hundred bytes long. cjson
 * builds it through tables that grow key by key, and every number then needs
 * a second pass to become an integer (integerize). The fast path reads the text
 * once, pushing each object's or array's members on the stack, then creates
 * the table at its final size; whole numbers are pushed as integers at once.
 * It decodes all valid JSON up to MAX_DEPTH levels (a container's members are
 * gathered FLUSH_AT at a time, so no text runs the Lua stack out) and gives up
 * (returns 0, j->p where it stopped) on the rest: invalid text, control
 * characters in strings, lone surrogates, deeper nesting. cjson then judges the
 * text and words the error; what the fast path accepts it decodes to the same
 * value. A sandbox never calls cjson: its buffer is malloc'd outside the
 * state's allocator and leaks when a memory error unwinds through it, so there
 * the fast path's stop is the error. */
#define FLUSH_AT 256

typedef struct fast_json {
    lua_State *L;
    const char *p, *end;
} fast_json;

/* Bytes a string scan stops at: the closing quote, a backslash, a control
 * character (one table look-up per byte instead of three comparisons). */
static const unsigned char stops_string[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

static int fast_value(fast_json *j, int depth);

static void skip_space(fast_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

/* Appends the character of one escape (j->p after the backslash) to b. */
static int fast_escape(fast_json *j, luaL_Buffer *b)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = j->p < j->end && *j->p != '\0' ? strchr(from, *j->p) : NULL;
    if (hit != NULL) {
        luaL_addchar(b, to[hit - from]);
        j->p++;
        return 1;
    }
    if (j->end - j->p < 5 || *j->p != 'u')
        return 0;
    int cp = hex4(j->p + 1);
    size_t used = 5;
    if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
        return 0;                   /* not hex, or a lone low surrogate */
    if (cp >= 0xd800 && cp <= 0xdbff) {         /* a high surrogate: its low one must follow */
        int low = j->end - j->p >= 11 && j->p[5] == '\\' && j->p[6] == 'u' ? hex4(j->p + 7) : -1;
        if (low < 0xdc00 || low > 0xdfff)
            return 0;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        used = 11;
    }
    char utf8[4];
    size_t n = 0;
    if (cp < 0x80) {
        utf8[n++] = (char)cp;
    } else if (cp < 0x800) {
        utf8[n++] = (char)(0xc0 | (cp >> 6));
        utf8[n++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        utf8[n++] = (char)(0xe0 | (cp >> 12));
        utf8[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        utf8[n++] = (char)(0x80 | (cp & 0x3f));
    } else {
        utf8[n++] = (char)(0xf0 | (cp >> 18));
        utf8[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        utf8[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        utf8[n++] = (char)(0x80 | (cp & 0x3f));
    }
    luaL_addlstring(b, utf8, n);
    j->p += used;
    return 1;
}

/* Pushes the string starting after its opening quote. */
static int fast_string(fast_json *j)
{
    const char *start = j->p;
    while (j->p < j->end && !stops_string[(unsigned char)*j->p])
        j->p++;
    if (j->p < j->end && *j->p == '"') {        /* no escapes: the common case */
        lua_pushlstring(j->L, start, (size_t)(j->p - start));
        j->p++;
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(j->L, &b);
    luaL_addlstring(&b, start, (size_t)(j->p - start));
    while (j->p < j->end) {
        const char *run = j->p;
        while (j->p < j->end && !stops_string[(unsigned char)*j->p])
            j->p++;
        luaL_addlstring(&b, run, (size_t)(j->p - run));
        if (j->p == j->end || (unsigned char)*j->p < 0x20)
            return 0;
        if (*j->p++ == '"') {
            luaL_pushresult(&b);
            return 1;
        }
        if (!fast_escape(j, &b))
            return 0;
    }
    return 0;
}

static int is_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* Pushes the number at j->p (JSON's grammar exactly): an integer when it is
 * whole and below 2^53, as integerize makes cjson's. */
static int fast_number(fast_json *j)
{
    const char *start = j->p, *p = j->p, *end = j->end;
    int whole = 1;
    if (p < end && *p == '-')
        p++;
    if (!is_digit(p, end))
        return 0;
    if (*p == '0')
        p++;
    else
        while (is_digit(p, end))
            p++;
    const char *digits_end = p;
    if (p < end && *p == '.') {
        whole = 0;
        if (!is_digit(++p, end))
            return 0;
        while (is_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        whole = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return 0;
        while (is_digit(p, end))
            p++;
    }
    j->p = p;
    const char *d = start + (*start == '-');
    if (whole && digits_end - d <= 15) {        /* exact as an integer */
        lua_Integer v = 0;
        for (; d < digits_end; d++)
            v = v * 10 + (*d - '0');
        lua_pushinteger(j->L, *start == '-' ? -v : v);
        return 1;
    }
    char *stop;
    double v = strtod(start, &stop);
    if (stop != p)
        return 0;
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        lua_pushinteger(j->L, (lua_Integer)v);
    else
        lua_pushnumber(j->L, v);
    return 1;
}

/* Replaces the n values above base with a table created at its size: an
 * array of them, or (pairs) an object of n/2 key-value pairs, set in text
 * order so that a repeated key keeps its last value, as in cjson. */
static void collect(lua_State *L, int base, int n, int pairs)
{
    lua_createtable(L, pairs ? 0 : n, pairs ? n / 2 : 0);
    int t = lua_gettop(L);
    if (pairs) {
        for (int i = 1; i < n; i += 2) {
            lua_pushvalue(L, base + i);
            lua_pushvalue(L, base + i + 1);
            lua_rawset(L, t);
        }
    } else {
        for (int i = 1; i <= n; i++) {
            lua_pushvalue(L, base + i);
            lua_rawseti(L, t, i);
        }
    }
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
}

/* Moves the n values above the table at base + 1 into it (pairs: n/2 keys;
 * else array items after the `stored` it holds); returns the new count stored. */
static lua_Integer flush_into(lua_State *L, int base, int n, int pairs, lua_Integer stored)
{
    int t = base + 1;
    for (int i = 1; pairs ? i < n : i <= n; i += pairs ? 2 : 1) {
        lua_pushvalue(L, t + i);
        if (pairs) {
            lua_pushvalue(L, t + i + 1);
            lua_rawset(L, t);
        } else {
            lua_rawseti(L, t, stored + i);
        }
    }
    lua_settop(L, t);
    return stored + (pairs ? 0 : n);
}

/* Pushes the object or array whose opening bracket was just read. Members
 * wait on the stack until the table can be created at its final size; past
 * FLUSH_AT of them (or a stack that cannot grow) they go into the table made
 * so far, so a container of any size decodes. */
static int fast_container(fast_json *j, char close, int depth)
{
    lua_State *L = j->L;
    int base = lua_gettop(L), n = 0, made = 0, pairs = close == '}';
    lua_Integer stored = 0;
    skip_space(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        lua_createtable(L, 0, 0);
        return 1;
    }
    for (;;) {
        if (n >= FLUSH_AT || !lua_checkstack(L, 4)) {     /* n is even for an object here */
            if (n == 0 || !lua_checkstack(L, 2))
                return 0;           /* nothing to flush: the stack is full */
            if (made) {
                stored = flush_into(L, base, n, pairs, stored);
            } else {
                collect(L, base, n, pairs);
                stored = pairs ? 0 : n;
                made = 1;
            }
            n = 0;
        }
        if (close == '}') {
            if (j->p == j->end || *j->p != '"')
                return 0;
            j->p++;
            if (!fast_string(j))
                return 0;
            skip_space(j);
            if (j->p == j->end || *j->p++ != ':')
                return 0;
            n++;
        }
        if (!fast_value(j, depth + 1))
            return 0;
        n++;
        skip_space(j);
        if (j->p == j->end)
            return 0;
        char c = *j->p++;
        if (c == close)
            break;
        if (c != ',')
            return 0;
        skip_space(j);
    }
    if (made)
        flush_into(L, base, n, pairs, stored);
    else
        collect(L, base, n, pairs);
    return 1;
}

static int fast_literal(fast_json *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return 0;
    j->p += n;
    return 1;
}

/* Pushes the value at j->p (no leading space), or returns 0. */
static int fast_value(fast_json *j, int depth)
{
    if (j->p == j->end)
        return 0;
    switch (*j->p) {                /* a container at depth d is nesting level d + 1 */
    case '{': return depth < MAX_DEPTH && (j->p++, fast_container(j, '}', depth));
    case '[': return depth < MAX_DEPTH && (j->p++, fast_container(j, ']', depth));
    case '"': j->p++; return fast_string(j);
    case 't':
        if (!fast_literal(j, "true", 4)) return 0;
        lua_pushboolean(j->L, 1);
        return 1;
    case 'f':
        if (!fast_literal(j, "false", 5)) return 0;
        lua_pushboolean(j->L, 0);
        return 1;
    case 'n':
        if (!fast_literal(j, "null", 4)) return 0;
        lua_pushlightuserdata(j->L, NULL);     /* json.null, as cjson's null */
        return 1;
    default:
        return fast_number(j);
    }
}

/* Decodes s[0..len) onto the stack and returns 1, or leaves the stack as it
 * was and returns 0 with *stop where it stopped (the text is for cjson). */
static int fast_decode(lua_State *L, const char *s, size_t len, size_t *stop)
{
    int top = lua_gettop(L);
    fast_json j = { L, s, s + len };
    skip_space(&j);
    if (lua_checkstack(L, 4) && fast_value(&j, 0)) {
        skip_space(&j);
        if (j.p == j.end)
            return 1;
    }
    lua_settop(L, top);
    *stop = (size_t)(j.p - s);
    return 0;
}

/* Pushes the JSON object s[0..len) holds, as json.decode gives it, and
 * returns 1; returns 0 with the stack as it was when s is not an object or
 * not one the fast path decodes (json.decode then judges it). */
int rc_json_decode_object(lua_State *L, const char *s, size_t len)
{
    fast_json j = { L, s, s + len };
    skip_space(&j);
    size_t stop;
    return j.p < j.end && *j.p == '{' && fast_decode(L, s, len, &stop);
}

static int in_sandbox(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, RC_HOST_KEY);
    rc_host *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return h != NULL && h->limits_check != NULL;
}

/* nil, err for text the fast path stopped in at s[stop] (a sandbox's error). */
static int invalid_at(lua_State *L, const char *s, size_t len, size_t stop)
{
    lua_pushnil(L);
    if (stop >= len)
        lua_pushliteral(L, "invalid JSON: unexpected end of text");
    else if (s[stop] > 0x20 && s[stop] < 0x7f)
        lua_pushfstring(L, "invalid JSON: unexpected '%c' at character %I", s[stop], (lua_Integer)stop + 1);
    else
        lua_pushfstring(L, "invalid JSON: unexpected byte %d at character %I",
                        (int)(unsigned char)s[stop], (lua_Integer)stop + 1);
    return 2;
}

/* json.decode(s) -> value | nil, err */
static int l_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    size_t stop;
    lua_settop(L, 1);
    if (fast_decode(L, s, len, &stop))
        return 1;
    if (in_sandbox(L))                      /* never cjson there: see the fast path */
        return invalid_at(L, s, len, stop);
    lua_pushvalue(L, lua_upvalueindex(1));  /* cjson's decode */
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        lua_pushnil(L);
        lua_pushfstring(L, "invalid JSON: %s", msg ? msg : "?");
        return 2;
    }
    if (lua_type(L, -1) == LUA_TTABLE)
        integerize(L, lua_gettop(L), 0);
    else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
        lua_Number n = lua_tonumber(L, -1);
        if (n == floor(n) && fabs(n) < 9007199254740992.0)
            lua_pushinteger(L, (lua_Integer)n);
    }
    return 1;
}

/* ---- encode ----
 * The output grows in a buffer allocated through the state's own allocator,
 * so a sandbox's memory limit counts every byte of it; long work (a table
 * holding the same subtable many times expands exponentially) reports its
 * steps to the sandbox's limits (rc_host.limits_check) every CHECK_STEPS. */
#define CHECK_STEPS 4096        /* values visited, plus bytes written / 16 */

typedef struct json_buf {
    char *data;
    size_t len, cap;
    size_t steps;               /* work since the limits were last checked */
    lua_Alloc alloc;
    void *alloc_ud;
    rc_host *host;              /* NULL when runctl is not open in this state */
} json_buf;

static int buffer_gc(lua_State *L)
{
    json_buf *b = luaL_checkudata(L, 1, BUFFER_META);
    if (b->data != NULL)
        b->alloc(b->alloc_ud, b->data, b->cap, 0);
    b->data = NULL;
    b->cap = 0;
    return 0;
}

/* Reports the work done so far to a sandbox, which raises once a limit tripped. */
static void check_limits(lua_State *L, json_buf *b, int out_of_memory)
{
    if (b->host != NULL && b->host->limits_check != NULL)
        b->host->limits_check(L, b->host->limits_ud, b->steps, out_of_memory);
    else if (out_of_memory)
        luaL_error(L, "not enough memory");
    b->steps = 0;
}

/* Grows the buffer to hold need bytes: doubling, else by an eighth, else
 * the same after a full collection; then the memory limit (or plain memory)
 * ran out. Always geometric: growing by the bytes needed alone would copy
 * the whole buffer at every put once near the limit. */
static void grow(lua_State *L, json_buf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *data = b->alloc(b->alloc_ud, b->data, b->cap, cap);
    if (data == NULL) {
        cap = need < SIZE_MAX - need / 8 - 4096 ? need + need / 8 + 4096 : need;
        data = b->alloc(b->alloc_ud, b->data, b->cap, cap);
    }
    if (data == NULL) {
        lua_gc(L, LUA_GCCOLLECT);
        data = b->alloc(b->alloc_ud, b->data, b->cap, cap);
    }
    if (data == NULL)
        check_limits(L, b, 1);          /* raises */
    b->data = data;
    b->cap = cap;
}

static void put(lua_State *L, json_buf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX - b->len - 1)
        check_limits(L, b, 1);
    if (b->len + n + 1 > b->cap)
        grow(L, b, b->len + n + 1);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->steps += n / 16;
}

/* Writes s as a JSON string. Bytes that are not valid UTF-8 become U+FFFD
 * (the replacement character), so the output is always valid UTF-8 JSON:
 * a strict reader (Python's json) never fails on a report line. */
static void put_string(lua_State *L, json_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(L, b, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        size_t used = 1;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;                        /* the common case */
            continue;
        }
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
        } else if ((used = rc_text_utf8_len((const unsigned char *)s + i, n - i)) == 0) {
            esc = "\xef\xbf\xbd";      /* U+FFFD for a byte that is not UTF-8 */
            used = 1;
        }
        if (esc != NULL) {
            put(L, b, s + start, i - start);
            put(L, b, esc, strlen(esc));
            start = i + used;
        }
        i += used;
    }
    put(L, b, s + start, n - start);
    put(L, b, "\"", 1);
}

static void encode(lua_State *L, json_buf *b, int idx, int depth);

/* 1 if the table at idx is a non-empty sequence 1..n with no other keys. */
static int is_sequence(lua_State *L, int idx, lua_Integer *n_out)
{
    lua_Integer n = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max)
            max = k;
        n++;
    }
    *n_out = n;
    return n > 0 && max == n;
}

static int compare_keys(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

static void encode_object(lua_State *L, json_buf *b, int idx, int depth)
{
    /* Collect and sort the keys so the output is deterministic. */
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "json.encode: object keys must be strings (found a %s key)",
                       luaL_typename(L, -1));
        n++;
    }
    const char **keys = lua_newuserdatauv(L, (n ? n : 1) * sizeof *keys, 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        keys[i++] = lua_tostring(L, -1);    /* anchored by the table itself */
    }
    qsort(keys, n, sizeof *keys, compare_keys);
    put(L, b, "{", 1);
    for (i = 0; i < n; i++) {
        if (i > 0)
            put(L, b, ",", 1);
        put_string(L, b, keys[i], strlen(keys[i]));
        put(L, b, ":", 1);
        lua_getfield(L, idx, keys[i]);
        encode(L, b, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    put(L, b, "}", 1);
    lua_pop(L, 1);  /* keys */
}

static void encode(lua_State *L, json_buf *b, int idx, int depth)
{
    char num[64];
    if (++b->steps >= CHECK_STEPS)
        check_limits(L, b, 0);
    if (depth > MAX_DEPTH)
        luaL_error(L, "json.encode: nesting deeper than %d (is there a cycle?)", MAX_DEPTH);
    luaL_checkstack(L, 6, "json.encode");
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        put(L, b, "null", 4);
        return;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            put(L, b, "true", 4);
        else
            put(L, b, "false", 5);
        return;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            snprintf(num, sizeof num, LUA_INTEGER_FMT, lua_tointeger(L, idx));
        } else {
            lua_Number v = lua_tonumber(L, idx);
            if (isnan(v) || isinf(v)) {         /* JSON has no such number: null, as JSON.stringify */
                put(L, b, "null", 4);
                return;
            }
            if (v == floor(v) && fabs(v) < 1e15)
                snprintf(num, sizeof num, "%.0f", v);
            else
                snprintf(num, sizeof num, "%.17g", v);
        }
        put(L, b, num, strlen(num));
        return;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        put_string(L, b, s, n);
        return;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {   /* json.null */
            put(L, b, "null", 4);
            return;
        }
        break;
    case LUA_TTABLE: {
        lua_Integer n = 0;
        int marked = 0;
        if (lua_getmetatable(L, idx)) {
            luaL_getmetatable(L, ARRAY_META);
            marked = lua_rawequal(L, -1, -2);
            lua_pop(L, 2);
        }
        if (marked)
            n = (lua_Integer)lua_rawlen(L, idx);
        if (marked || is_sequence(L, idx, &n)) {
            put(L, b, "[", 1);
            for (lua_Integer i = 1; i <= n; i++) {
                if (i > 1)
                    put(L, b, ",", 1);
                lua_rawgeti(L, idx, i);
                encode(L, b, lua_gettop(L), depth + 1);
                lua_pop(L, 1);
            }
            put(L, b, "]", 1);
        } else {
            encode_object(L, b, idx, depth);
        }
        return;
    }
    default:
        break;
    }
    luaL_error(L, "json.encode: cannot encode a %s", luaL_typename(L, idx));
}

static int encode_protected(lua_State *L)
{
    json_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    b->alloc = lua_getallocf(L, &b->alloc_ud);
    luaL_setmetatable(L, BUFFER_META);
    lua_getfield(L, LUA_REGISTRYINDEX, RC_HOST_KEY);
    b->host = lua_touserdata(L, -1);    /* kept alive by the registry */
    lua_pop(L, 1);
    encode(L, b, 1, 0);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    lua_pushcfunction(L, buffer_gc);    /* the copy is made: give the buffer back now */
    lua_pushvalue(L, 2);
    lua_call(L, 1, 0);
    return 1;
}

/* json.encode(v) -> string | nil, err */
static int l_encode(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushcfunction(L, encode_protected);
    lua_insert(L, 1);
    int status = lua_pcall(L, 1, 1, 0);
    if (status == LUA_ERRMEM) {         /* Lua's own allocation for the encoder was refused */
        lua_getfield(L, LUA_REGISTRYINDEX, RC_HOST_KEY);
        rc_host *h = lua_touserdata(L, -1);
        lua_pop(L, 1);
        if (h != NULL && h->limits_check != NULL)
            h->limits_check(L, h->limits_ud, 0, 1);    /* a sandbox's memory limit: raises */
    }
    if (status != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

/* json.array([t]) -> t marked to encode as a JSON array, even when empty. */
static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
    }
    luaL_setmetatable(L, ARRAY_META);
    return 1;
}

int luaopen_runctl_json(lua_State *L)
{
    luaL_newmetatable(L, ARRAY_META);
    lua_pop(L, 1);
    if (luaL_newmetatable(L, BUFFER_META)) {
        lua_pushcfunction(L, buffer_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);

    /* A private cjson instance: the user's own require "cjson" keeps its settings. */
#ifdef RUNCTL_SYSTEM_CJSON
    /* runctl.so inside a stock interpreter: the interpreter's own cjson module,
     * so the module neither links nor duplicates lua-cjson. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
#else
    luaL_requiref(L, "cjson", luaopen_cjson, 0);
#endif
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "decode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode_max_depth");
    lua_pushinteger(L, MAX_DEPTH);
    lua_call(L, 1, 0);
    int cj = lua_gettop(L);

    lua_createtable(L, 0, 4);
    lua_getfield(L, cj, "decode");
    lua_pushcclosure(L, l_decode, 1);
    lua_setfield(L, -2, "decode");
    lua_pushcfunction(L, l_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, l_array);
    lua_setfield(L, -2, "array");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 1;
}
