/* libFuzzer target: the overcast.conf parser. */
#include <stdint.h>
#include <stddef.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_config *c = oc_config_new();
    struct oc_err err;
    long long v;

    if (oc_config_parse(c, (const char *)data, size, &err) == OC_OK) {
        (void)oc_config_get(c, "WALRUS_PORT", NULL);
        (void)oc_config_get_int(c, "WALRUS_PORT", 0, &v, &err);
    }
    oc_config_free(c);
    return 0;
}
