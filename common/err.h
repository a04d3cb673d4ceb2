/*
 * err.h - the one error vocabulary of Overcast.
 *
 * Functions that can fail return int: OC_OK (0) or a negative OC_E* code, and
 * fill an optional struct oc_err with a message written where the failure was
 * found.  API layers (S3, EC2) map codes to AWS error codes; storage code
 * never picks AWS codes itself.
 */
#ifndef OC_ERR_H
#define OC_ERR_H

#include <stddef.h>

#define OC_WUR __attribute__((warn_unused_result))
#define OC_PRINTF(a, b) __attribute__((format(printf, a, b)))

enum {
    OC_OK = 0,
    OC_EINVAL = -1,     /* bad input from the caller */
    OC_ENOMEM = -2,
    OC_EIO = -3,        /* filesystem or socket failure */
    OC_ENOTFOUND = -4,
    OC_EEXIST = -5,
    OC_EAUTH = -6,      /* authentication failed */
    OC_ETOOBIG = -7,    /* a limit was exceeded */
    OC_EAGAIN = -8,     /* need more input / try later */
    OC_EPERM = -9,      /* authenticated but not allowed */
    OC_ECONFLICT = -10, /* state forbids it (e.g. bucket not empty) */
    OC_EINTERNAL = -11, /* a bug or a library failure */
    OC_EDB = -12,       /* SQLite failure */
};

struct oc_err {
    int code;
    char msg[512];
};

/* Sets err (if non-NULL) and returns code, so callers can write
 * `return oc_err_set(err, OC_EINVAL, "...")`. */
int oc_err_set(struct oc_err *err, int code, const char *fmt, ...) OC_PRINTF(3, 4);
void oc_err_clear(struct oc_err *err);
const char *oc_err_name(int code);

#endif
