/* core/patcost.c — the worst-case cost of a Lua pattern match (see patcost.h).
 *
 * Why it is shaped this way: Lua's matcher backtracks. Items of fixed
 * length (a character, a class, a set, a capture, %f) never branch; each
 * variable item (x*, x+, x-, x?) tries every length it can take, so for one
 * start position the matcher explores at most one path per way of giving
 * lengths to the variable items: with k of them over n characters, at most
 * C(n + k, k) ways, and at most the product of (longest length + 1) over
 * the items, where a class item can never take more characters than the
 * subject's longest run of characters in that class. A variable item with
 * nothing after it (but closing parentheses) never backtracks: the match
 * ends there, so it costs one scan, not a branch. An unanchored match is
 * tried at every start position, n + 1 of them. %b and back references
 * (%1..%9) do not branch but scan up to n characters each time: they count
 * as variable items of length up to n. */
#include "patcost.h"

#include <ctype.h>
#include <string.h>

#define COST_CAP 1e300          /* past any budget; keeps the products finite */
#define SCAN_BUDGET 1e8         /* characters looked at to refine a bound, at most */

/* Length of the single-character class at pat[i] (".", "%x", "[set]" or a
 * plain character), or 0 when it is malformed. A set's first ']' (after an
 * optional '^') is a member, as in Lua. */
static size_t class_len(const char *pat, size_t i, size_t plen)
{
    if (pat[i] == '%')
        return i + 1 < plen ? 2 : 0;
    if (pat[i] != '[')
        return 1;
    size_t q = i + 1;
    if (q < plen && pat[q] == '^')
        q++;
    for (int first = 1; q < plen; first = 0) {
        if (pat[q] == ']' && !first)
            return q + 1 - i;
        q += pat[q] == '%' ? 2 : 1;
    }
    return 0;
}

/* Whether c is in the class %e (a letter class, or e itself). */
static int escape_has(unsigned char e, unsigned char c)
{
    int in;
    switch (tolower(e)) {
    case 'a': in = isalpha(c); break;
    case 'c': in = iscntrl(c); break;
    case 'd': in = isdigit(c); break;
    case 'g': in = isgraph(c); break;
    case 'l': in = islower(c); break;
    case 'p': in = ispunct(c); break;
    case 's': in = isspace(c); break;
    case 'u': in = isupper(c); break;
    case 'w': in = isalnum(c); break;
    case 'x': in = isxdigit(c); break;
    default: return e == c;
    }
    return isupper(e) ? !in : in != 0;
}

/* Whether c is in the class cls (len bytes, as class_len measured it). */
static int class_has(const unsigned char *cls, size_t len, unsigned char c)
{
    if (len == 1)
        return cls[0] == '.' || cls[0] == c;
    if (cls[0] == '%')
        return escape_has(cls[1], c);
    size_t i = cls[1] == '^' ? 2 : 1, close = len - 1;
    int found = 0;
    for (; i < close && !found; i++) {
        if (cls[i] == '%' && i + 1 < close) {
            found = escape_has(cls[++i], c);
        } else if (i + 2 < close && cls[i + 1] == '-') {
            found = cls[i] <= c && c <= cls[i + 2];
            i += 2;
        } else {
            found = cls[i] == c;
        }
    }
    return found != (cls[1] == '^');
}

/* The subject's longest run of characters in the class. */
static size_t longest_run(const char *s, size_t n, const char *cls, size_t len)
{
    if (len == 1 && cls[0] == '.')
        return n;
    size_t best = 0, run = 0;
    for (size_t i = 0; i < n; i++) {
        run = class_has((const unsigned char *)cls, len, (unsigned char)s[i]) ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    return best;
}

/* Whether only closing parentheses follow pat[i..]: the match ends there. */
static int at_end(const char *pat, size_t i, size_t plen)
{
    while (i < plen && pat[i] == ')')
        i++;
    return i == plen;
}

/* The bound for one start position: lengths are n, or the subject's runs
 * when runs is set. Sets *k to the number of branching items. */
static double per_start(const char *pat, size_t plen, size_t i, const char *s, size_t n,
                        int runs, int *k)
{
    double product = 1;
    *k = 0;
    while (i < plen) {
        size_t len, longest = n;
        if (pat[i] == '(' || pat[i] == ')' || (pat[i] == '$' && i + 1 == plen)) {
            i++;
            continue;
        }
        if (pat[i] == '%' && i + 1 < plen && (pat[i + 1] == 'b' || isdigit((unsigned char)pat[i + 1]))) {
            i += pat[i + 1] == 'b' ? 4 : 2;     /* scans up to n: counted as a variable item */
        } else if (pat[i] == '%' && i + 1 < plen && pat[i + 1] == 'f') {
            if (i + 2 >= plen || (len = class_len(pat, i + 2, plen)) == 0)
                return 0;
            i += 2 + len;                       /* zero width, no branch */
            continue;
        } else {
            if ((len = class_len(pat, i, plen)) == 0)
                return 0;
            size_t q = i + len;
            if (q >= plen || strchr("*+-?", pat[q]) == NULL) {
                i = q;                          /* fixed length */
                continue;
            }
            if (at_end(pat, q + 1, plen)) {
                i = q + 1;                      /* last: scans once, never backtracks */
                continue;
            }
            if (pat[q] == '?')
                longest = 1;
            else if (runs)
                longest = longest_run(s, n, pat + i, len);
            i = q + 1;
        }
        (*k)++;
        product = product * ((double)longest + 1);
        if (product > COST_CAP)
            product = COST_CAP;
    }
    double ways = 1;                            /* C(n + k, k) */
    for (int j = 1; j <= *k && ways < COST_CAP; j++)
        ways = ways * ((double)n + j) / j;
    return product < ways ? product : ways;
}

double rc_pattern_cost(const char *pat, size_t plen, const char *s, size_t n,
                       int anchor, double budget)
{
    int anchored = anchor && plen > 0 && pat[0] == '^';
    double starts = anchored ? 1 : (double)n + 1;
    int k;
    double cost = per_start(pat, plen, anchored, s, n, 0, &k) * starts;
    /* Over budget by length alone: the subject's runs may tell better, if
     * looking at them is cheap enough itself. */
    if (cost > budget && (double)n * k <= SCAN_BUDGET)
        cost = per_start(pat, plen, anchored, s, n, 1, &k) * starts;
    return cost;
}
