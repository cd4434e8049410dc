/* core/patcost.h — an upper bound on the work a Lua pattern match can do,
 * so a sandbox can refuse a match that would run for minutes inside one C
 * call, where no instruction or time limit can stop it. */
#ifndef RC_PATCOST_H
#define RC_PATCOST_H

#include <stddef.h>

/* The number of paths that matching pat against the subject s (n bytes,
 * from the first position tried) may try at worst, each comparing at most
 * plen pattern bytes with subject characters; every start position is tried
 * unless pat begins with '^' and anchor is set (string.gmatch takes '^' as
 * a plain character). Looks at the subject's characters only when the bound
 * from its length alone exceeds budget.
 * A malformed pattern costs 0: the matcher itself raises its error. */
double rc_pattern_cost(const char *pat, size_t plen, const char *s, size_t n,
                       int anchor, double budget);

#endif
