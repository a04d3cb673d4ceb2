/*
 * libFuzzer target: the console's parsers (clc/console.c, clc/identity.c).
 * Byte 0 picks one: the oc_session token of a Cookie header, a path below
 * /console/ (which must never let "..", an empty segment or a hidden file
 * through), or a stored password hash.  Whatever they accept is checked
 * against what they promise.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clc/console.h"
#include "clc/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size < 1 || size > 4096)
        return 0;
    s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0: {
        char tok[65];

        if (clc_console_cookie(s, tok) &&
            (strlen(tok) != 64 || strspn(tok, "0123456789abcdef") != 64 || !strstr(s, tok)))
            abort();
        break;
    }
    case 1:
        if (clc_console_rel_ok(s) &&
            (!*s || s[0] == '.' || s[0] == '/' || strstr(s, "/.") || strstr(s, "//") ||
             s[strlen(s) - 1] == '/'))
            abort();
        break;
    default: {
        uint8_t salt[64], hash[32];
        size_t slen = 0;
        long iter = 0;

        if (clc_login_hash_parse(s, &iter, salt, &slen, hash) == OC_OK &&
            (iter < 1 || iter > 1000000 || slen < 1 || slen > 64))
            abort();
        break;
    }
    }
    free(s);
    return 0;
}
