/*
 * libFuzzer target: the public key parser behind ImportKeyPair
 * (clc_pubkey_parse in clc/keypairs.c: OpenSSH lines, RFC 4716 files, PEM,
 * base64 and binary DER).  Whatever it accepts must survive the round trip
 * the service makes: the stored OpenSSH line parses back to a key of the
 * same type with the same fingerprint.  Crashes, sanitizer reports and a
 * broken round trip (abort) are the failures.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "clc/keypairs.h"
#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct clc_pubkey k, again;
    struct oc_buf line = { 0 }, fp1 = { 0 }, fp2 = { 0 };
    struct oc_err err = { 0 };

    if (clc_pubkey_parse((const char *)data, size, &k, &err) != OC_OK) {
        if (k.pkey || !err.msg[0])
            abort();        /* a failure leaves no key and says why */
        return 0;
    }
    if (clc_pubkey_openssh(k.pkey, &line) != OC_OK ||
        clc_pubkey_fingerprint(k.pkey, &fp1) != OC_OK)
        abort();
    if (clc_pubkey_parse(line.data, line.len, &again, &err) != OC_OK) {
        fprintf(stderr, "stored line does not parse: %s\n%s\n", err.msg, line.data);
        abort();
    }
    if (strcmp(k.type, again.type) != 0 || clc_pubkey_fingerprint(again.pkey, &fp2) != OC_OK ||
        strcmp(oc_buf_cstr(&fp1), oc_buf_cstr(&fp2)) != 0)
        abort();
    EVP_PKEY_free(k.pkey);
    EVP_PKEY_free(again.pkey);
    oc_buf_free(&line);
    oc_buf_free(&fp1);
    oc_buf_free(&fp2);
    return 0;
}
