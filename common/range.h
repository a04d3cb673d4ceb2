/*
 * range.h - HTTP Range header parsing for one byte range (RFC 9110):
 * `bytes=a-b`, `bytes=a-`, `bytes=-n`.  Multiple ranges are not supported
 * (S3 does not either) and are treated as absent, like S3.
 */
#ifndef OC_RANGE_H
#define OC_RANGE_H

#include <stdint.h>
#include <stddef.h>

enum oc_range_result {
    OC_RANGE_NONE,          /* no usable Range: send the whole object (200) */
    OC_RANGE_OK,            /* *first..*last inclusive (206) */
    OC_RANGE_UNSATISFIABLE  /* 416 */
};

enum oc_range_result oc_range_parse(const char *header, uint64_t size,
                                    uint64_t *first, uint64_t *last);

#endif
