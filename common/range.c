#include "common/range.h"

#include <string.h>

/* Parses decimal digits [s, e) into *v; 0 on success. */
static int parse_u64(const char *s, const char *e, uint64_t *v)
{
    uint64_t n = 0;

    if (s == e)
        return -1;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (n > (UINT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *v = n;
    return 0;
}

enum oc_range_result oc_range_parse(const char *h, uint64_t size, uint64_t *first,
                                    uint64_t *last)
{
    const char *spec, *dash, *end;
    uint64_t a, b;

    if (!h)
        return OC_RANGE_NONE;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncmp(h, "bytes=", 6) != 0)
        return OC_RANGE_NONE;
    spec = h + 6;
    while (*spec == ' ')
        spec++;
    if (strchr(spec, ','))
        return OC_RANGE_NONE;          /* multiple ranges: S3 ignores them */
    end = spec + strlen(spec);
    while (end > spec && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    dash = memchr(spec, '-', (size_t)(end - spec));
    if (!dash)
        return OC_RANGE_NONE;
    if (dash == spec) {                /* bytes=-N: the last N bytes */
        if (parse_u64(dash + 1, end, &b) != 0)
            return OC_RANGE_NONE;
        if (b == 0 || size == 0)
            return OC_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return OC_RANGE_OK;
    }
    if (parse_u64(spec, dash, &a) != 0)
        return OC_RANGE_NONE;
    if (dash + 1 == end) {             /* bytes=a- */
        b = UINT64_MAX;
    } else if (parse_u64(dash + 1, end, &b) != 0) {
        return OC_RANGE_NONE;
    } else if (b < a) {
        return OC_RANGE_NONE;          /* syntactically invalid: ignored (RFC 9110) */
    }
    if (a >= size)
        return OC_RANGE_UNSATISFIABLE;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return OC_RANGE_OK;
}
