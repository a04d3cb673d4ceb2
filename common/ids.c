#include "common/ids.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"

void oc_request_id(char *out)
{
    /* A random per-process prefix and a counter: unique, cheap, sortable per run. */
    static _Atomic uint32_t counter;
    static uint32_t prefix;
    static atomic_int ready;

    if (!atomic_load(&ready)) {
        uint32_t p;

        oc_random_bytes(&p, sizeof(p));
        prefix = p;
        atomic_store(&ready, 1);
    }
    static const char hex[] = "0123456789ABCDEF";
    uint64_t v = (uint64_t)prefix << 32 | atomic_fetch_add(&counter, 1);

    /* "%08X%08X" by hand: this runs for every request. */
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[i] = hex[v & 15];
    out[16] = '\0';
}

void oc_random_hex(char *out, size_t nbytes)
{
    uint8_t buf[64];

    while (nbytes) {
        size_t n = nbytes < sizeof(buf) ? nbytes : sizeof(buf);

        oc_random_bytes(buf, n);
        oc_hex_encode(buf, n, out);
        out += 2 * n;
        nbytes -= n;
    }
    *out = '\0';
}

void oc_resource_id(const char *prefix, char *out)
{
    char hex[19];

    oc_random_hex(hex, 9);
    sprintf(out, "%s-%.17s", prefix, hex);
}

int oc_valid_mc_ready(const char *s)
{
    size_t n = strlen(s);

    if (s[0] == '+') {
        char *end;
        long v;

        if (n < 2 || n > 5 || strspn(s + 1, "0123456789") != n - 1)
            return 0;
        v = strtol(s + 1, &end, 10);
        return !*end && v >= 1 && v <= 3600;
    }
    return n >= 1 && n < 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") == n;
}
