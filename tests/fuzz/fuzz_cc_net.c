/* libFuzzer target: the cluster controller's data-plane text parsers:
 * VNET_MACMAP (cc_macmap_parse) and the nftables table diff
 * (cc_nft_update parses two rendered tables).  Checked against their
 * contracts: every accepted pair is a unicast MAC and a host address of the
 * plan; a diff is 0 (commands), 1 (replace whole) or -1 (memory), and the
 * diff of a rendered table with itself is empty. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc/addr.h"
#include "cc/nft.h"
#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cc_plan p;
    struct cc_static_addr *m = NULL;
    struct oc_buf cmds = { 0 };
    struct oc_err err = { 0 };
    size_t n = 0, half = size / 2;
    char *a = malloc(half + 1), *b = malloc(size - half + 1);
    int rc;

    memcpy(a, data, half);
    a[half] = '\0';
    memcpy(b, data + half, size - half);
    b[size - half] = '\0';
    if (cc_plan_init(&p, "10.102.0.0", "255.255.255.0", 32, &err) != OC_OK)
        abort();
    if (cc_macmap_parse(&p, a, &m, &n, &err) == OC_OK) {
        for (size_t k = 0; k < n; k++)
            if ((m[k].ip & p.netmask) != p.subnet || strlen(m[k].mac) != 17)
                abort();
    }
    free(m);
    rc = cc_nft_update("overcast", a, b, &cmds);
    if (rc < -1 || rc > 1)
        abort();
    oc_buf_free(&cmds);
    rc = cc_nft_update("overcast", b, b, &cmds);
    if (rc == 0 && cmds.len != 0)
        abort();
    oc_buf_free(&cmds);
    free(a);
    free(b);
    return 0;
}
