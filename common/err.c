#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int oc_err_set(struct oc_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void oc_err_clear(struct oc_err *err)
{
    if (err) {
        err->code = OC_OK;
        err->msg[0] = '\0';
    }
}

const char *oc_err_name(int code)
{
    switch (code) {
    case OC_OK: return "ok";
    case OC_EINVAL: return "invalid argument";
    case OC_ENOMEM: return "out of memory";
    case OC_EIO: return "i/o error";
    case OC_ENOTFOUND: return "not found";
    case OC_EEXIST: return "already exists";
    case OC_EAUTH: return "authentication failed";
    case OC_ETOOBIG: return "too big";
    case OC_EAGAIN: return "try again";
    case OC_EPERM: return "not permitted";
    case OC_ECONFLICT: return "conflict";
    case OC_EINTERNAL: return "internal error";
    case OC_EDB: return "database error";
    default: return "unknown error";
    }
}
