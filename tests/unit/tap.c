/* tests/unit/tap.c — TAP output: one "ok N - name" line per check, the plan last. */
#include "tap.h"

#include <stdio.h>
#include <string.h>

static int test_count, failures;

void ok(int cond, const char *name)
{
    test_count++;
    if (!cond)
        failures++;
    printf("%sok %d - %s\n", cond ? "" : "not ", test_count, name);
}

void is_str(const char *got, const char *want, const char *name)
{
    int same = got != NULL && strcmp(got, want) == 0;
    ok(same, name);
    if (!same)
        printf("#   got:  '%s'\n#   want: '%s'\n", got ? got : "(null)", want);
}

void near(double got, double want, double tolerance, const char *name)
{
    int close = got >= want - tolerance && got <= want + tolerance;
    ok(close, name);
    if (!close)
        printf("#   got %g, want %g (+-%g)\n", got, want, tolerance);
}

int tap_done(void)
{
    printf("1..%d\n", test_count);
    return failures != 0;
}
