/* libFuzzer target: the HTTP Range parser, checked against its contract. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t objsize = 0, first, last;
    char *h;

    if (size < 8)
        return 0;
    memcpy(&objsize, data, 8);
    objsize %= 1ULL << 50;
    h = malloc(size - 8 + 1);
    memcpy(h, data + 8, size - 8);
    h[size - 8] = '\0';
    if (oc_range_parse(h, objsize, &first, &last) == OC_RANGE_OK) {
        /* A satisfiable range always lies inside the object. */
        if (!(first <= last && last < objsize))
            abort();
    }
    free(h);
    return 0;
}
