/* core/wire.h — the OpenAI wire rules that are not I/O: header lines, retry
 * decisions, Retry-After parsing and backoff delays. */
#ifndef RC_WIRE_H
#define RC_WIRE_H

#include <stddef.h>
#include <time.h>

/* Splits one raw header line ("Name: value\r\n") into a lower-cased name and
 * a trimmed value, both newly allocated. Returns 0 on success, -1 when the
 * line is not a header (status line, blank line, obs-fold, a CR, LF or NUL
 * inside) or on ENOMEM. */
int rc_wire_parse_header(const char *line, size_t len, char **name, char **value);

/* The same split without copying: name and value point into line (the name
 * not lower-cased, the value trimmed). Returns 0, or -1 as above. */
int rc_wire_header_span(const char *line, size_t len, const char **name, size_t *name_len,
                        const char **value, size_t *value_len);

/* Why a failed attempt may be retried; RC_RETRY_NO when it must not be. */
typedef enum {
    RC_RETRY_NO = 0,
    RC_RETRY_SHOULD_RETRY_HEADER,  /* x-should-retry: true */
    RC_RETRY_STATUS,               /* 408, 409, 429, >= 500 */
    RC_RETRY_CONNECTION,           /* connect/reset/truncation */
    RC_RETRY_TIMEOUT
} rc_retry_reason;

/* status: the HTTP status, or 0 when no response arrived; transport:
 * 0 when a response arrived, else RC_RETRY_CONNECTION or RC_RETRY_TIMEOUT
 * (or RC_RETRY_NO for transport failures that retrying cannot fix).
 * x_should_retry: the header's value or NULL. "true" forces a retry,
 * "false" forbids one, anything else falls back to the status rules. */
rc_retry_reason rc_wire_retry_reason(long status, rc_retry_reason transport,
                                     const char *x_should_retry);

const char *rc_wire_retry_reason_text(rc_retry_reason reason);

/* 1 when an answer says the object cannot be cancelled in its state: status
 * 400 or 409 and a JSON body whose "message" starts with "Cannot cancel"
 * ("Cannot cancel a batch with status 'completed'.", "Cannot cancel a
 * synchronous response."). Such an answer is final: retrying cannot change
 * it (the SDKs' blanket 409 retry would). body need not be NUL-terminated. */
int rc_wire_is_final_cannot_cancel(long status, const char *body, size_t len);

/* Seconds the server asked us to wait, from retry-after-ms (milliseconds:
 * a decimal number, fraction and exponent allowed, as the SDKs read it) or
 * else retry-after (RFC 9110: digits only, or an HTTP date relative to now).
 * Either header may be NULL. Returns -1 when neither gives a usable value.
 * A date in the past means 0. */
double rc_wire_retry_after(const char *retry_after_ms, const char *retry_after, time_t now);

/* The client-chosen delay before retry number retry_index (0 = the first
 * retry): min(0.5 * 2^k, 8) seconds times (1 - 0.25 * jitter), jitter in [0,1). */
double rc_wire_backoff(int retry_index, double jitter);

/* The delay to use: the server's (capped at max_delay) when it gave one,
 * else the backoff. */
double rc_wire_retry_delay(double server_delay, int retry_index, double jitter, double max_delay);

/* 1 when a header name carries a credential and must never be printed. */
int rc_wire_is_secret_header(const char *name, size_t len);

#endif
