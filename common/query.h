/*
 * query.h - Query-string and form-body parsing (application/x-www-form-
 * urlencoded), shared by S3 sub-resources and the EC2 Query API.
 *
 * Parameters keep their order of appearance; names and values are
 * percent-decoded ('+' is a space).  Lookups are by exact name.  AWS list
 * conventions are helpers on top: `Name.N` and `Filter.N.Value.M`.
 */
#ifndef OC_QUERY_H
#define OC_QUERY_H

#include <stddef.h>
#include "common/err.h"
#include "common/arena.h"

struct oc_kv {
    const char *name;
    const char *value;   /* "" when the parameter had no '=' */
    int has_value;       /* 0 for `?acl`, 1 for `?acl=` or `?a=b` */
};

struct oc_query {
    struct oc_kv *items;
    size_t n;
};

/* Limits guard against hostile input. */
#define OC_QUERY_MAX_PARAMS 1000

/* Parses raw (not yet decoded) text.  Memory comes from the arena. */
int oc_query_parse(struct oc_arena *a, const char *raw, size_t len,
                   struct oc_query *out, struct oc_err *err) OC_WUR;
const char *oc_query_get(const struct oc_query *q, const char *name);
int oc_query_has(const struct oc_query *q, const char *name);

/*
 * Collects `prefix.1`, `prefix.2`, ... (1-based, contiguous or not, sorted by
 * N) into an arena array of values.  Rejects N that is not a positive
 * decimal number or duplicates.
 */
int oc_query_list(struct oc_arena *a, const struct oc_query *q, const char *prefix,
                  const char ***values, size_t *n, struct oc_err *err) OC_WUR;

struct oc_filter {
    const char *name;
    const char **values;
    size_t nvalues;
};
/* Collects `Filter.N.Name` / `Filter.N.Value.M`. */
int oc_query_filters(struct oc_arena *a, const struct oc_query *q,
                     struct oc_filter **filters, size_t *n, struct oc_err *err) OC_WUR;

#endif
