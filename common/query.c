/*
 * query.c - query-string / form parsing and AWS list conventions.
 */
#include "common/query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"

static char *decode_part(struct oc_arena *a, const char *s, size_t n)
{
    char *out = oc_arena_alloc(a, n + 1);
    size_t len;

    return oc_url_decode_raw(s, n, 1, out, &len) == OC_OK ? out : NULL;
}

int oc_query_parse(struct oc_arena *a, const char *raw, size_t len, struct oc_query *out,
                   struct oc_err *err)
{
    size_t count = 0, i = 0;
    const char *p = raw, *end = raw + len;

    out->items = NULL;
    out->n = 0;
    for (size_t k = 0; k < len; k++)
        if (raw[k] == '&')
            count++;
    count++;
    if (count > OC_QUERY_MAX_PARAMS)
        return oc_err_set(err, OC_ETOOBIG, "more than %d parameters", OC_QUERY_MAX_PARAMS);
    out->items = oc_arena_calloc(a, count, sizeof(*out->items));
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(seg_end - p));
        struct oc_kv *kv;

        if (seg_end == p) {            /* empty segment: "a=1&&b=2" */
            p = seg_end + 1;
            continue;
        }
        kv = &out->items[i];
        kv->name = decode_part(a, p, (size_t)((eq ? eq : seg_end) - p));
        if (!kv->name)
            return oc_err_set(err, OC_EINVAL, "malformed percent-encoding in a parameter name");
        if (eq) {
            kv->value = decode_part(a, eq + 1, (size_t)(seg_end - eq - 1));
            if (!kv->value)
                return oc_err_set(err, OC_EINVAL,
                                  "malformed percent-encoding in the value of '%s'", kv->name);
            kv->has_value = 1;
        } else {
            kv->value = "";
        }
        i++;
        if (!amp)
            break;
        p = amp + 1;
    }
    out->n = i;
    return OC_OK;
}

const char *oc_query_get(const struct oc_query *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->items[i].name, name) == 0)
            return q->items[i].value;
    return NULL;
}

int oc_query_has(const struct oc_query *q, const char *name)
{
    return oc_query_get(q, name) != NULL;
}

/* Parses a positive decimal index without sign or leading zeros' surprises. */
static int parse_index(const char *s, size_t len, long *out)
{
    long v = 0;

    if (len == 0 || len > 9)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1)
        return -1;
    *out = v;
    return 0;
}

struct indexed {
    long idx;
    const char *value;
    size_t param;     /* which parameter, for sub-lists */
};

static int cmp_indexed(const void *x, const void *y)
{
    const struct indexed *a = x, *b = y;

    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int oc_query_list(struct oc_arena *a, const struct oc_query *q, const char *prefix,
                  const char ***values, size_t *n, struct oc_err *err)
{
    size_t plen = strlen(prefix), cnt = 0;
    struct indexed *tmp = oc_arena_calloc(a, q->n ? q->n : 1, sizeof(*tmp));

    for (size_t i = 0; i < q->n; i++) {
        const char *name = q->items[i].name;
        long idx;

        if (strncmp(name, prefix, plen) != 0 || name[plen] != '.')
            continue;
        if (parse_index(name + plen + 1, strlen(name + plen + 1), &idx) != 0)
            continue;   /* "Prefix.N.Sub" belongs to another helper */
        tmp[cnt].idx = idx;
        tmp[cnt].value = q->items[i].value;
        cnt++;
    }
    qsort(tmp, cnt, sizeof(*tmp), cmp_indexed);
    for (size_t i = 1; i < cnt; i++)
        if (tmp[i].idx == tmp[i - 1].idx)
            return oc_err_set(err, OC_EINVAL, "parameter %s.%ld is given twice", prefix,
                              tmp[i].idx);
    *values = oc_arena_calloc(a, cnt ? cnt : 1, sizeof(char *));
    for (size_t i = 0; i < cnt; i++)
        (*values)[i] = tmp[i].value;
    *n = cnt;
    return OC_OK;
}

int oc_query_filters(struct oc_arena *a, const struct oc_query *q,
                     struct oc_filter **filters, size_t *n, struct oc_err *err)
{
    struct indexed *names = oc_arena_calloc(a, q->n ? q->n : 1, sizeof(*names));
    size_t nn = 0;

    for (size_t i = 0; i < q->n; i++) {
        const char *s = q->items[i].name, *dot;
        long idx;

        if (strncmp(s, "Filter.", 7) != 0)
            continue;
        s += 7;
        dot = strchr(s, '.');
        if (!dot || parse_index(s, (size_t)(dot - s), &idx) != 0)
            return oc_err_set(err, OC_EINVAL, "malformed filter parameter '%s'",
                              q->items[i].name);
        if (strcmp(dot, ".Name") == 0) {
            names[nn].idx = idx;
            names[nn].value = q->items[i].value;
            nn++;
        } else if (strncmp(dot, ".Value.", 7) != 0) {
            return oc_err_set(err, OC_EINVAL, "malformed filter parameter '%s'",
                              q->items[i].name);
        }
    }
    qsort(names, nn, sizeof(*names), cmp_indexed);
    *filters = oc_arena_calloc(a, nn ? nn : 1, sizeof(**filters));
    for (size_t f = 0; f < nn; f++) {
        char *prefix;

        if (f && names[f].idx == names[f - 1].idx)
            return oc_err_set(err, OC_EINVAL, "Filter.%ld.Name is given twice", names[f].idx);
        prefix = oc_arena_printf(a, "Filter.%ld.Value", names[f].idx);
        (*filters)[f].name = names[f].value;
        if (oc_query_list(a, q, prefix, &(*filters)[f].values, &(*filters)[f].nvalues, err))
            return OC_EINVAL;
        if ((*filters)[f].nvalues == 0)
            return oc_err_set(err, OC_EINVAL, "filter '%s' has no values", names[f].value);
    }
    /* Values without a name are an error, as on AWS. */
    for (size_t i = 0; i < q->n; i++) {
        const char *s = q->items[i].name;
        long idx = 0;
        const char *dot;
        int found = 0;

        if (strncmp(s, "Filter.", 7) != 0)
            continue;
        dot = strchr(s + 7, '.');
        parse_index(s + 7, (size_t)(dot - (s + 7)), &idx);
        for (size_t f = 0; f < nn; f++)
            found |= names[f].idx == idx;
        if (!found)
            return oc_err_set(err, OC_EINVAL, "Filter.%ld has values but no Name", idx);
    }
    *n = nn;
    return OC_OK;
}
