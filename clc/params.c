/*
 * params.c - Query parameter helpers for CLC handlers: required values,
 * `Name.N` lists, booleans and bounded integers, each failing with the
 * error AWS gives for that mistake.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clc/clc.h"

const char *clc_param(const struct clc_req *r, const char *name)
{
    return oc_query_get(r->params, name);
}

int clc_param_required(struct clc_req *r, const char *name, const char **out)
{
    const char *v = oc_query_get(r->params, name);

    if (!v || !*v)
        return clc_error(r, "MissingParameter", "The request must contain the parameter %s",
                         name);
    *out = v;
    return CLC_OK;
}

int clc_param_list(struct clc_req *r, const char *prefix, const char ***out, size_t *n)
{
    struct oc_err err = { 0 };

    if (oc_query_list(r->arena, r->params, prefix, out, n, &err) != OC_OK)
        return clc_error(r, "InvalidParameterValue", "%s", err.msg);
    return CLC_OK;
}

int clc_param_bool(struct clc_req *r, const char *name, int def, int *out)
{
    const char *v = oc_query_get(r->params, name);

    if (!v) {
        *out = def;
        return CLC_OK;
    }
    if (strcasecmp(v, "true") == 0) {
        *out = 1;
        return CLC_OK;
    }
    if (strcasecmp(v, "false") == 0) {
        *out = 0;
        return CLC_OK;
    }
    return clc_error(r, "InvalidParameterValue",
                     "Value (%s) for parameter %s is invalid. Expected: 'true' or 'false'.", v,
                     name);
}

int clc_param_int(struct clc_req *r, const char *name, long long min, long long max,
                  long long def, long long *out)
{
    const char *v = oc_query_get(r->params, name);
    char *end;
    long long x;

    if (!v) {
        *out = def;
        return CLC_OK;
    }
    errno = 0;
    x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max)
        return clc_error(r, "InvalidParameterValue",
                         "Value (%s) for parameter %s is invalid. Expected an integer from "
                         "%lld to %lld.", v, name, min, max);
    *out = x;
    return CLC_OK;
}
