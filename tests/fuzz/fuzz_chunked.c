/*
 * libFuzzer target: the aws-chunked decoder.
 *
 * Byte 0 chooses the mode (bit 0 signed chunks, bit 1 trailer, bit 2 an
 * announced x-amz-checksum-crc32 trailer); bytes 1..8 are the sizes of the
 * pieces the body is fed in (cycled, each 1..256 bytes); the rest is the
 * body.  Signed bodies use the AWS example key, date, scope and seed
 * signature so seeds made with them verify.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/chunked.h"
#include "common/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *arg, const char *d, size_t len)
{
    uint64_t *total = arg;

    if (len && !d)
        abort();
    *total += len;
    return OC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    struct oc_chunked_config cfg = { 0 };
    struct oc_chunked *c;
    struct oc_err err;
    uint8_t key[32], pieces[8];
    uint64_t total = 0;
    size_t off = 9, k = 0;
    int rc = OC_OK;

    if (size < 9)
        return 0;
    memcpy(pieces, data + 1, 8);
    oc_sigv4_signing_key(secret, sizeof(secret) - 1, "20130524", 8, "us-east-1", 9, "s3", 2,
                         key);
    cfg.signed_chunks = data[0] & 1;
    cfg.trailer = (data[0] >> 1) & 1;
    cfg.signing_key = key;
    cfg.amz_date = "20130524T000000Z";
    cfg.scope = "20130524/us-east-1/s3/aws4_request";
    cfg.seed_signature = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    cfg.declared_trailer = (data[0] & 4) ? "x-amz-checksum-crc32" : NULL;
    c = oc_chunked_new(&cfg);
    if (!c)
        abort();
    while (off < size && rc == OC_OK) {
        size_t n = (size_t)pieces[k++ % 8] + 1;

        if (n > size - off)
            n = size - off;
        rc = oc_chunked_feed(c, (const char *)data + off, n, sink, &total, &err);
        off += n;
    }
    if (rc == OC_OK)
        rc = oc_chunked_finish(c, &err);
    if (rc == OC_OK && total != oc_chunked_decoded_len(c))
        abort();
    if (rc != OC_OK && oc_chunked_failure(c) == 0)
        abort();    /* every decoder failure says why (the sink never fails here) */
    oc_chunked_free(c);
    return 0;
}
