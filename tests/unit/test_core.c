/* tests/unit/test_core.c — TAP unit tests for core/: path escaping and ID checks,
 * URL redaction, header parsing, retry decisions, Retry-After and backoff, the
 * engine's timers and request checks; main runs every group (tap.h). */
#include "../../core/engine.h"
#include "../../core/url.h"
#include "../../core/wire.h"
#include "tap.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void escape_case(const char *in, size_t len, const char *want, const char *name)
{
    char out[3 * 64 + 1];
    rc_url_escape_segment(in, len, out);
    is_str(out, want, name);
}

static void test_escaping(void)
{
    escape_case("run_abc123", 10, "run_abc123", "plain IDs pass unchanged");
    escape_case("a/b", 3, "a%2Fb", "slash is encoded");
    escape_case("?x=1", 4, "%3Fx=1", "question mark is encoded, = kept");
    escape_case("a#b", 3, "a%23b", "hash is encoded");
    escape_case("100%", 4, "100%25", "percent is encoded");
    escape_case("a b", 3, "a%20b", "space is encoded");
    escape_case("x\r\nHost: evil", 13, "x%0D%0AHost:%20evil", "CR and LF are encoded");
    escape_case("-._~!$&'()*+,;=:@", 17, "-._~!$&'()*+,;=:@", "sub-delims, ':' and '@' stay");
    escape_case("\xc3\xa9", 2, "%C3%A9", "UTF-8 bytes are encoded");
    escape_case("../x", 4, "..%2Fx", "../x stays one segment");

    char out[16];
    rc_url_escape_query("a b&c", 5, out);
    is_str(out, "a%20b%26c", "query escaping encodes space and &");

    ok(rc_url_check_id("", 0) == RC_ID_EMPTY, "empty ID is rejected");
    ok(rc_url_check_id(".", 1) == RC_ID_DOT, "'.' is rejected");
    ok(rc_url_check_id("..", 2) == RC_ID_DOT, "'..' is rejected");
    ok(rc_url_check_id("...", 3) == RC_ID_OK, "'...' is a valid ID");
    ok(rc_url_check_id("a\0b", 3) == RC_ID_NUL, "NUL byte is rejected");
    char *big = malloc(RC_ID_MAX_LEN + 1);
    memset(big, 'a', RC_ID_MAX_LEN + 1);
    ok(rc_url_check_id(big, RC_ID_MAX_LEN) == RC_ID_OK, "ID at the length limit is valid");
    ok(rc_url_check_id(big, RC_ID_MAX_LEN + 1) == RC_ID_TOO_LONG, "ID over the limit is rejected");
    free(big);
    is_str(rc_url_id_problem(RC_ID_EMPTY), "must not be empty", "problem text names the issue");
}

static void test_redaction(void)
{
    char out[256];
    rc_url_redact("https://api.example.com/v1/x?api-key=sk-secret&limit=2", out, sizeof out);
    is_str(out, "https://api.example.com/v1/x?api-key=REDACTED&limit=2", "api-key query value hidden");
    rc_url_redact("https://user:pw@host/path", out, sizeof out);
    is_str(out, "https://REDACTED@host/path", "userinfo hidden");
    rc_url_redact("http://h/p?token=abc#frag", out, sizeof out);
    is_str(out, "http://h/p?token=REDACTED#frag", "token hidden, fragment kept");
    rc_url_redact("http://h/p?limit=1&order=asc", out, sizeof out);
    is_str(out, "http://h/p?limit=1&order=asc", "harmless query untouched");
    rc_url_redact("http://h/p?sig=abcdef", out, 12);
    ok(strlen(out) == 11, "redaction truncates to the buffer");
}

static void test_headers(void)
{
    char *name, *value;
    ok(rc_wire_parse_header("X-Request-ID:  req_123 \r\n", 25, &name, &value) == 0, "header line parses");
    is_str(name, "x-request-id", "name lower-cased");
    is_str(value, "req_123", "value trimmed");
    free(name);
    free(value);
    ok(rc_wire_parse_header("HTTP/1.1 200 OK\r\n", 17, &name, &value) != 0, "status line is not a header");
    ok(rc_wire_parse_header("\r\n", 2, &name, &value) != 0, "blank line is not a header");
    ok(rc_wire_parse_header(" folded\r\n", 9, &name, &value) != 0, "continuation line ignored");
    ok(rc_wire_parse_header("A: b\rc\r\n", 8, &name, &value) != 0, "a CR inside a line is malformed");
    ok(rc_wire_parse_header("A: b\0c\r\n", 8, &name, &value) != 0, "a NUL inside a line is malformed");
    ok(rc_wire_parse_header("Empty:\r\n", 8, &name, &value) == 0 && strcmp(value, "") == 0, "empty value allowed");
    free(name);
    free(value);
    ok(rc_wire_is_secret_header("Authorization", 13), "authorization is secret");
    ok(rc_wire_is_secret_header("api-key", 7), "api-key is secret");
    ok(!rc_wire_is_secret_header("accept", 6), "accept is not secret");
}

static void test_retry_rules(void)
{
    int retried[] = { 408, 409, 429, 500, 502, 503, 504 };
    int kept[] = { 200, 400, 401, 403, 404, 422 };
    for (size_t i = 0; i < sizeof retried / sizeof *retried; i++) {
        char name[64];
        snprintf(name, sizeof name, "status %d is retried", retried[i]);
        ok(rc_wire_retry_reason(retried[i], RC_RETRY_NO, NULL) == RC_RETRY_STATUS, name);
    }
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        char name[64];
        snprintf(name, sizeof name, "status %d is not retried", kept[i]);
        ok(rc_wire_retry_reason(kept[i], RC_RETRY_NO, NULL) == RC_RETRY_NO, name);
    }
    ok(rc_wire_retry_reason(400, RC_RETRY_NO, "true") == RC_RETRY_SHOULD_RETRY_HEADER, "x-should-retry: true forces a retry");
    ok(rc_wire_retry_reason(503, RC_RETRY_NO, "false") == RC_RETRY_NO, "x-should-retry: false forbids one");
    ok(rc_wire_retry_reason(503, RC_RETRY_NO, "maybe") == RC_RETRY_STATUS, "other x-should-retry values fall back");
    ok(rc_wire_retry_reason(0, RC_RETRY_CONNECTION, NULL) == RC_RETRY_CONNECTION, "connection failures retried");
    ok(rc_wire_retry_reason(0, RC_RETRY_TIMEOUT, NULL) == RC_RETRY_TIMEOUT, "timeouts retried");
}

/* A cancel's "Cannot cancel ..." answer is final (API-FACTS.md: 409 for
 * batches on the live service, 400 elsewhere); other 409s stay retryable. */
static void test_final_cannot_cancel(void)
{
    static const char batch[] = "{\"error\":{\"message\":\"Cannot cancel a batch with status "
                                "'completed'.\",\"type\":\"invalid_request_error\",\"param\":null}}";
    static const char run[] = "{ \"error\" : { \"message\" :\n \"Cannot cancel run with status 'cancelling'.\" } }";
    static const char sync[] = "{\"error\":{\"message\":\"Cannot cancel a synchronous response.\"}}";
    static const char lock[] = "{\"error\":{\"message\":\"lock timeout\",\"type\":\"conflict\"}}";
    static const char elsewhere[] = "{\"error\":{\"type\":\"Cannot cancel\",\"message\":\"busy\"}}";
    ok(rc_wire_is_final_cannot_cancel(409, batch, sizeof batch - 1), "409 Cannot cancel a batch ... is final");
    ok(rc_wire_is_final_cannot_cancel(400, run, sizeof run - 1), "400 Cannot cancel run ..., spaced JSON, is final");
    ok(rc_wire_is_final_cannot_cancel(400, sync, sizeof sync - 1), "400 Cannot cancel a synchronous response. is final");
    ok(!rc_wire_is_final_cannot_cancel(409, lock, sizeof lock - 1), "a 409 lock timeout is not");
    ok(!rc_wire_is_final_cannot_cancel(409, elsewhere, sizeof elsewhere - 1), "the words elsewhere than message are not");
    ok(!rc_wire_is_final_cannot_cancel(500, batch, sizeof batch - 1), "a 500 with that text is not");
    ok(!rc_wire_is_final_cannot_cancel(409, batch, 30), "a body cut before the message is not");
    ok(!rc_wire_is_final_cannot_cancel(409, NULL, 0), "no body is not");
    ok(!rc_wire_is_final_cannot_cancel(409, "Cannot cancel", 13), "plain text is not (not JSON)");
}

static void test_retry_after(void)
{
    time_t now = 1700000000;
    near(rc_wire_retry_after("1500", NULL, now), 1.5, 1e-9, "retry-after-ms in milliseconds");
    near(rc_wire_retry_after("250", "30", now), 0.25, 1e-9, "retry-after-ms wins over retry-after");
    near(rc_wire_retry_after(NULL, "3", now), 3, 1e-9, "retry-after in seconds");
    near(rc_wire_retry_after(NULL, " 25 ", now), 25, 1e-9, "seconds with whitespace around (OWS)");
    /* RFC 9110: delay-seconds is 1*DIGIT; everything else is not a delay. */
    const char *not_seconds[] = { "0x10", "1.5e1", "+5", "2.5", "5s", "1e3", "inf", "nan", " ", "" };
    for (size_t i = 0; i < sizeof not_seconds / sizeof *not_seconds; i++) {
        char name[80];
        snprintf(name, sizeof name, "retry-after '%s' is not a delay", not_seconds[i]);
        near(rc_wire_retry_after(NULL, not_seconds[i], now), -1, 0, name);
    }
    near(rc_wire_retry_after(NULL, "99999999999999999999999", now), 1e23, 1e9, "many digits: a long wait (capped later)");
    /* retry-after-ms: what both SDKs read (float() / parseFloat()). */
    near(rc_wire_retry_after("1.5e1", NULL, now), 0.015, 1e-12, "retry-after-ms with an exponent");
    near(rc_wire_retry_after("2.5", NULL, now), 0.0025, 1e-12, "retry-after-ms with a fraction");
    near(rc_wire_retry_after(" +40 ", NULL, now), 0.04, 1e-12, "retry-after-ms with a plus sign and OWS");
    near(rc_wire_retry_after(".5", NULL, now), 0.0005, 1e-12, "retry-after-ms '.5'");
    const char *not_ms[] = { "0x10", "12abc", "1_000", "inf", "nan", "-5", "1e", "e5", ".", "+", "" };
    for (size_t i = 0; i < sizeof not_ms / sizeof *not_ms; i++) {
        char name[80];
        snprintf(name, sizeof name, "retry-after-ms '%s' is refused (retry-after: 7 used)", not_ms[i]);
        near(rc_wire_retry_after(not_ms[i], "7", now), 7, 0, name);
    }
    near(rc_wire_retry_after("junk", "4", now), 4, 1e-9, "bad retry-after-ms falls back to retry-after");
    near(rc_wire_retry_after(NULL, "-1", now), -1, 0, "negative is ignored");
    near(rc_wire_retry_after(NULL, "soon", now), -1, 0, "garbage is ignored");
    near(rc_wire_retry_after(NULL, NULL, now), -1, 0, "no header: -1");
    char date[64];
    time_t later = now + 7;
    struct tm tm;
    gmtime_r(&later, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    near(rc_wire_retry_after(NULL, date, now), 7, 1e-9, "retry-after as an HTTP date");
    near(rc_wire_retry_after(NULL, "Wed, 21 Oct 2015 07:28:00 GMT", now), 0, 0, "a past date means now");

    near(rc_wire_backoff(0, 0), 0.5, 1e-9, "first backoff 0.5 s");
    near(rc_wire_backoff(1, 0), 1.0, 1e-9, "second backoff 1 s");
    near(rc_wire_backoff(3, 0), 4.0, 1e-9, "fourth backoff 4 s");
    near(rc_wire_backoff(10, 0), 8.0, 1e-9, "backoff capped at 8 s");
    near(rc_wire_backoff(0, 0.999999), 0.375, 1e-3, "jitter takes off at most 25%");
    near(rc_wire_retry_delay(3600, 0, 0, 60), 60, 1e-9, "a huge server delay is capped");
    near(rc_wire_retry_delay(2, 0, 0, 60), 2, 1e-9, "a server delay under the cap is honoured");
    near(rc_wire_retry_delay(-1, 4, 0, 60), 8, 1e-9, "no server delay: backoff");
    near(rc_wire_retry_delay(-1, 4, 0, 3), 3, 1e-9, "backoff also capped");
}

static int fired_order[4], fired_count;
static void fire(void *ud)
{
    fired_order[fired_count++] = (int)(size_t)ud;
}

static void test_timers(void)
{
    rc_engine *e = rc_engine_new();
    rc_timer a, b, c;
    rc_timer_init(&a, fire, (void *)1);
    rc_timer_init(&b, fire, (void *)2);
    rc_timer_init(&c, fire, (void *)3);
    rc_engine_timer_arm(e, &a, 0.03);
    rc_engine_timer_arm(e, &b, 0.01);
    rc_engine_timer_arm(e, &c, 0.02);
    rc_engine_timer_disarm(e, &c);
    ok(rc_engine_pending(e) == 2, "two timers pending after one disarmed");
    while (rc_engine_poll(e, -1) > 0)
        ;
    ok(fired_count == 2 && fired_order[0] == 2 && fired_order[1] == 1, "timers fire in due order, disarmed one never");
    ok(rc_engine_poll(e, -1) == 0, "poll with nothing pending returns at once");

    char err[128];
    const char *bad_header[] = { "X-Evil: a\r\nInjected: 1" };
    rc_request req = { .method = "GET", .url = "http://127.0.0.1:1/", .headers = bad_header, .n_headers = 1 };
    ok(rc_engine_submit(e, &req, NULL, NULL, err, sizeof err) == NULL, "header with CR/LF refused");
    req.n_headers = 0;
    req.url = "http://127.0.0.1:1/a b";
    ok(rc_engine_submit(e, &req, NULL, NULL, err, sizeof err) == NULL, "URL with a space refused");
    req.url = "file:///etc/passwd";
    ok(rc_engine_submit(e, &req, NULL, NULL, err, sizeof err) == NULL, "non-HTTP URL refused");
    req.url = "http://127.0.0.1:1/";
    req.method = "GE T";
    ok(rc_engine_submit(e, &req, NULL, NULL, err, sizeof err) == NULL, "bad method refused");
    rc_engine_free(e);

    char hex[33];
    rc_random_hex(hex, 16);
    ok(strlen(hex) == 32 && strspn(hex, "0123456789abcdef") == 32, "random token is 32 hex chars");
}

/* A timer already due when the poll starts fires, and the poll then returns
 * instead of also waiting for a later timer (its caller has work now). */
static void test_due_timer_ends_the_wait(void)
{
    rc_engine *e = rc_engine_new();
    rc_timer now_timer, later;
    rc_timer_init(&now_timer, fire, (void *)1);
    rc_timer_init(&later, fire, (void *)2);
    rc_engine_timer_arm(e, &later, 3600);
    rc_engine_timer_arm(e, &now_timer, 0);
    fired_count = 0;
    int pending = rc_engine_poll(e, -1);     /* before the fix: blocked an hour */
    ok(fired_count == 1 && pending == 1,
       "a poll that fired a due timer returns without waiting for the next one");
    rc_engine_timer_disarm(e, &later);
    rc_engine_free(e);
}

int main(void)
{
    test_escaping();
    test_redaction();
    test_headers();
    test_retry_rules();
    test_final_cannot_cancel();
    test_retry_after();
    test_timers();
    test_timer_heap();
    test_limiter();
    test_ratelimit();
    test_url_host();
    test_patcost();
    test_due_timer_ends_the_wait();
    test_reuse();
    test_engine_deadline();
    test_text();
    curl_global_cleanup();
    return tap_done();
}
