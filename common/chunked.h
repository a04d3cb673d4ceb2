/*
 * chunked.h - decoder for aws-chunked request bodies.
 *
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD          hex-size;chunk-signature=sig\r\n data \r\n ...
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  same, then trailer headers and
 *                                               x-amz-trailer-signature
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER          hex-size\r\n data \r\n ... 0\r\n trailers \r\n
 *
 * Bytes are fed in arbitrary pieces as they arrive; decoded payload is passed
 * to a sink.  Each chunk's signature is checked when the chunk ends (a bad
 * one fails the whole body, so the caller must not commit what the sink
 * received).  Trailing checksums (x-amz-checksum-crc32, -crc32c, -sha1,
 * -sha256) are decoded and checked against the payload, never stored.
 */
#ifndef OC_CHUNKED_H
#define OC_CHUNKED_H

#include <stdint.h>
#include <stddef.h>
#include "common/err.h"

struct oc_chunked_config {
    int signed_chunks;             /* verify chunk-signature= on every chunk */
    int trailer;                   /* trailer headers follow the last chunk */
    const uint8_t *signing_key;    /* 32 bytes, when signed_chunks */
    const char *amz_date;          /* when signed_chunks */
    const char *scope;             /* when signed_chunks */
    const char *seed_signature;    /* when signed_chunks */
    /* The x-amz-trailer request header ("x-amz-checksum-crc32", may list
     * several, comma-separated), so only the announced checksums are
     * computed.  NULL: compute every supported one.  When given, each
     * announced trailer must arrive. */
    const char *declared_trailer;
};

enum oc_chunked_failure {
    OC_CHUNKED_MALFORMED = 1,      /* framing: IncompleteBody / InvalidRequest */
    OC_CHUNKED_BAD_SIGNATURE,      /* SignatureDoesNotMatch */
    OC_CHUNKED_BAD_CHECKSUM,       /* BadDigest */
    OC_CHUNKED_TOO_BIG,            /* a size field beyond the limit */
};

struct oc_chunked;

typedef int (*oc_chunked_sink)(void *arg, const char *data, size_t len);

struct oc_chunked *oc_chunked_new(const struct oc_chunked_config *cfg);
void oc_chunked_free(struct oc_chunked *c);
/* Returns OC_OK, the sink's own negative code, or OC_EINVAL/OC_EAUTH with
 * err and oc_chunked_failure() telling why. */
int oc_chunked_feed(struct oc_chunked *c, const char *data, size_t len, oc_chunked_sink sink,
                    void *arg, struct oc_err *err) OC_WUR;
/* After the last byte: requires the final chunk (and trailer) to be complete. */
int oc_chunked_finish(struct oc_chunked *c, struct oc_err *err) OC_WUR;
enum oc_chunked_failure oc_chunked_failure(const struct oc_chunked *c);
uint64_t oc_chunked_decoded_len(const struct oc_chunked *c);

#endif
