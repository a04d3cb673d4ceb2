/*
 * libFuzzer target: the S3 request-body parsers (walrus/s3_xmlreq.c).  The
 * first byte chooses the parser (0 DeleteObjects, 1 CompleteMultipartUpload,
 * 2 AccessControlPolicy, 3 CreateBucketConfiguration); the rest is the body.
 * Besides memory safety, each parser's contract is checked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "walrus/s3_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_arena *a;
    struct oc_err err = { 0 };
    const char *body;
    size_t len;

    if (size < 1)
        return 0;
    a = oc_arena_new();
    body = (const char *)data + 1;
    len = size - 1;
    switch (data[0] % 4) {
    case 0: {
        struct wal_s3_delete_req d;

        if (wal_s3_parse_delete(a, body, len, &d, &err) == OC_OK) {
            if (d.n < 1 || d.n > WAL_S3_MAX_DELETE || (d.quiet != 0 && d.quiet != 1))
                abort();
            for (size_t i = 0; i < d.n; i++)
                if (!d.keys[i])
                    abort();
        } else if (d.n != 0) {
            abort();
        }
        break;
    }
    case 1: {
        struct wal_part_ref *refs = NULL;
        size_t n = 0;

        if (wal_s3_parse_complete(a, body, len, &refs, &n, &err) == OC_OK) {
            if (n < 1 || n > WAL_MAX_PARTS || !refs)
                abort();
            for (size_t i = 0; i < n; i++)
                if (refs[i].number < 1 || refs[i].number > WAL_MAX_PARTS || !refs[i].etag)
                    abort();
        } else if (n != 0 || refs) {
            abort();
        }
        break;
    }
    case 2: {
        const char *canned = NULL;

        if (wal_s3_parse_acl(body, len, "111122223333", &canned, &err) == OC_OK &&
            !wal_s3_canned_acl(canned))
            abort();
        break;
    }
    default: {
        const char *loc = NULL;

        if (wal_s3_parse_location(a, body, len, &loc, &err) == OC_OK && !loc)
            abort();
        break;
    }
    }
    oc_arena_free(a);
    return 0;
}
