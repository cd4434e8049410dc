/* tests/fuzz/fuzz_retry_after.c — libFuzzer target for Retry-After parsing and
 * the retry delay: never negative (except "no value"), never NaN, always capped. */
#include "../../core/wire.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* First half: retry-after-ms, second half: retry-after. */
    size_t half = size / 2;
    char *ms = malloc(half + 1), *secs = malloc(size - half + 1);
    memcpy(ms, data, half);
    ms[half] = '\0';
    memcpy(secs, data + half, size - half);
    secs[size - half] = '\0';
    double d = rc_wire_retry_after(size % 2 ? ms : NULL, secs, 1700000000);
    if (isnan(d) || (d < 0 && d != -1))
        abort();
    double cap = 1 + (size % 60);
    double delay = rc_wire_retry_delay(d, (int)(size % 12), (double)(size % 100) / 100.0, cap);
    if (isnan(delay) || delay < 0 || delay > cap)
        abort();
    rc_retry_reason r = rc_wire_retry_reason((long)(size % 700), RC_RETRY_NO, secs);
    (void)rc_wire_retry_reason_text(r);
    free(ms);
    free(secs);
    return 0;
}
