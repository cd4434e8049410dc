/* tests/unit/tap.h — the TAP helpers every unit test file uses, and the
 * test groups main (test_core.c) runs. */
#ifndef RC_TAP_H
#define RC_TAP_H

void ok(int cond, const char *name);
void is_str(const char *got, const char *want, const char *name);
void near(double got, double want, double tolerance, const char *name);
/* Prints the plan; returns the exit status (0: every test passed). */
int tap_done(void);

void test_timer_heap(void);     /* test_timers.c */
void test_limiter(void);        /* test_limiter.c */
void test_url_host(void);       /* test_url_host.c */
void test_patcost(void);        /* test_patcost.c */
void test_reuse(void);          /* test_reuse.c */
void test_engine_deadline(void); /* test_engine_deadline.c */
void test_ratelimit(void);      /* test_ratelimit.c */
void test_text(void);           /* test_text.c */

#endif
