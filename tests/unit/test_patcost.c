/* tests/unit/test_patcost.c — rc_pattern_cost (core/patcost.c): the bound
 * the sandbox compares with its budget before a pattern match runs. */
#include "../../core/patcost.h"
#include "tap.h"

#include <string.h>

static double cost(const char *pat, const char *s, int anchor, double budget)
{
    return rc_pattern_cost(pat, strlen(pat), s, strlen(s), anchor, budget);
}

void test_patcost(void)
{
    const char *ten = "aaaaaaaaaa";
    near(cost("abc", ten, 1, 1e9), 11, 0, "fixed items: one path at each of the n + 1 starts");
    near(cost("^a*b", ten, 1, 1e9), 11, 0, "anchored, one variable item: n + 1 lengths at one start");
    near(cost("^a*b", ten, 0, 1e9), 121, 0, "gmatch takes '^' as a character: every start is tried");
    near(cost("[^\n]+", ten, 1, 1e9), 11, 0, "a last variable item never backtracks");
    near(cost("(a*)", ten, 1, 1e9), 11, 0, "nor does one followed by closing parentheses only");
    near(cost("^%s*(.-)%s*$", ten, 1, 1e9), 286, 0, "$ can fail: three items, C(13, 3) ways");
    near(cost("a?b", ten, 1, 1e9), 22, 0, "? takes one of two lengths");
    near(cost("%b()", ten, 1, 0), 121, 0, "%b scans up to n at each start");
    near(cost("(a)%1b", ten, 1, 0), 121, 0, "and so does a back reference");
    near(cost("[a", ten, 1, 0), 0, 0, "a malformed pattern is the matcher's to report");
    ok(cost("^" "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaa", 1, 1e7) > 1e14,
       "26 'a*' on 26 'a's: C(52, 26) ways");
    near(cost("a*b", "xxxxxxxxxx", 1, 1e9), 121, 0, "under budget: the subject is not looked at");
    near(cost("a*b", "xxxxxxxxxx", 1, 100), 11, 0, "over budget: no run of 'a', one length at each start");
    near(cost("^[%d,]*x", "12,34 zz", 1, 1), 6, 0, "a set with a class: its longest run is 5");
    near(cost("[^a-c]*d", "abcxyzab", 1, 1), 36, 0, "a negated range: longest run 3, at 9 starts");
    near(cost("%D*x", "12ab3", 1, 1), 18, 0, "an upper-case class is the complement");
    near(cost("[]]*x", "a]]b", 1, 1), 15, 0, "a set's first ']' is a member");
}
