/* libFuzzer target: the Query-string parser and the AWS list helpers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_arena *a = oc_arena_new();
    struct oc_query q;
    struct oc_err err;
    const char **vals;
    struct oc_filter *f;
    size_t n;

    if (oc_query_parse(a, (const char *)data, size, &q, &err) == OC_OK) {
        for (size_t i = 0; i < q.n; i++)
            (void)strlen(q.items[i].name), (void)strlen(q.items[i].value);
        (void)oc_query_list(a, &q, "Name", &vals, &n, &err);
        (void)oc_query_filters(a, &q, &f, &n, &err);
        (void)oc_query_get(&q, "Action");
    }
    oc_arena_free(a);
    return 0;
}
