/* tests/fuzz/fuzz_header.c — libFuzzer target for header-line parsing: names
 * come out lower-case tokens, values trimmed; nothing else is accepted. */
#include "../../core/wire.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name, *value;
    if (rc_wire_parse_header((const char *)data, size, &name, &value) != 0) {
        if (name != NULL || value != NULL)
            abort();
        return 0;
    }
    size_t n = strlen(name);
    if (n == 0)
        abort();
    for (size_t i = 0; i < n; i++)
        if (isupper((unsigned char)name[i]) || name[i] == ':' || (unsigned char)name[i] <= ' ')
            abort();
    size_t v = strlen(value);
    if (v > 0 && (value[0] == ' ' || value[0] == '\t' || value[v - 1] == ' ' || value[v - 1] == '\t'))
        abort();
    (void)rc_wire_is_secret_header(name, n);
    free(name);
    free(value);
    return 0;
}
