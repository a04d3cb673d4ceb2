/*
 * libFuzzer target: the Describe machinery of clc/filter.c.  Byte 0 picks
 *   0  the wildcard matcher: the rest is "pattern NUL value" (both sides
 *      arbitrary bytes); also checks that "*" and the value itself, with
 *      its specials escaped, always match;
 *   1  NextToken decoding: the rest is the token text, verified by
 *      clc_page_parse against a key in a throwaway clc.db;
 *   2  Filter.N parsing and matching: the rest is a Query string whose
 *      filters are applied to a fixed row with tags.
 * Crashes, sanitizer reports, and a token or pattern that takes long
 * (libFuzzer's -timeout) are the failures.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clc/clc.h"
#include "clc/schema.h"
#include "common/arena.h"
#include "common/db.h"
#include "common/query.h"
#include "common/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct oc_db *db;

static void setup(void)
{
    char tmpl[] = "/tmp/fuzz-clc-filter-XXXXXX";
    char *dir = mkdtemp(tmpl), path[256];
    const struct oc_migration *m;
    size_t n;
    struct oc_err err = { 0 };

    if (!dir)
        abort();
    oc_xml_init();
    snprintf(path, sizeof(path), "%s/clc.db", dir);
    m = clc_schema(&n);
    if (oc_db_open(path, m, n, &db, &err) != OC_OK) {
        fprintf(stderr, "oc_db_open: %s\n", err.msg);
        abort();
    }
}

static struct clc_req *req(struct oc_arena *a, const struct oc_query *q)
{
    struct clc_req *r = oc_arena_alloc(a, sizeof(*r));

    r->arena = a;
    r->db = db;
    r->params = q;
    r->action = "DescribeTags";
    r->version = "2016-11-15";
    r->request_id = "FUZZ";
    r->now = time(NULL);
    snprintf(r->who.account_id, sizeof(r->who.account_id), "123456789012");
    return r;
}

static void fuzz_wildcard(const char *s, size_t n)
{
    const char *nul = memchr(s, '\0', n);
    char *pattern, *value, *escaped;
    size_t plen = nul ? (size_t)(nul - s) : n;
    size_t vlen = nul ? n - plen - 1 : 0;
    size_t k = 0;

    pattern = strndup(s, plen);
    value = strndup(nul ? nul + 1 : "", vlen);
    escaped = malloc(2 * strlen(value) + 1);
    if (!pattern || !value || !escaped)
        abort();
    (void)clc_wildcard_match(pattern, value);
    if (!clc_wildcard_match("*", value))
        abort();
    for (const char *p = value; *p; p++) {
        if (*p == '*' || *p == '?' || *p == '\\')
            escaped[k++] = '\\';
        escaped[k++] = *p;
    }
    escaped[k] = '\0';
    if (!clc_wildcard_match(escaped, value))
        abort();
    free(pattern);
    free(value);
    free(escaped);
}

static void fuzz_token(const char *s, size_t n)
{
    struct oc_arena *a = oc_arena_new();
    struct oc_query *q = oc_arena_alloc(a, sizeof(*q));
    struct clc_page page;
    struct clc_req *r;

    q->items = oc_arena_calloc(a, 1, sizeof(*q->items));
    q->items[0].name = "NextToken";
    q->items[0].value = oc_arena_strndup(a, s, n);
    q->items[0].has_value = 1;
    q->n = 1;
    r = req(a, q);
    if (clc_page_parse(r, 5, 1000, 0, &page) == CLC_OK && page.after) {
        /* A token that verifies must re-encode to one that verifies too. */
        clc_page_next(r, page.after);
        if (r->err_code)
            abort();
    }
    oc_xmlw_free(r->xml);
    oc_arena_free(a);
}

static void row_attr(void *row, const char *name, struct clc_values *vals)
{
    (void)row;
    if (strcmp(name, "key") == 0) {
        clc_values_add(vals, "Name");
    } else if (strcmp(name, "value") == 0) {
        clc_values_add(vals, "web*server?");
        clc_values_addf(vals, "%d", 42);
    }
}

static void fuzz_filters(const char *s, size_t n)
{
    static const char *const known[] = { "key", "value", NULL };
    struct oc_arena *a = oc_arena_new();
    struct oc_query *q = oc_arena_alloc(a, sizeof(*q));
    struct clc_filters *f = NULL;
    struct clc_tag tags[] = { { "env", "prod" }, { "", "" }, { "caf\xc3\xa9", "\xff\xfe" } };
    struct clc_tagset ts = { tags, 3 };
    struct clc_req *r;

    if (oc_query_parse(a, s, n, q, NULL) == OC_OK) {
        r = req(a, q);
        if (clc_filters_parse(r, known, &f) == CLC_OK) {
            (void)clc_filters_match(f, row_attr, NULL, &ts);
            (void)clc_filters_match(f, row_attr, NULL, NULL);
        } else if (!r->err_code) {
            abort();
        }
    }
    oc_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db)
        setup();
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_wildcard((const char *)data + 1, size - 1);
        break;
    case 1:
        fuzz_token((const char *)data + 1, size - 1);
        break;
    default:
        fuzz_filters((const char *)data + 1, size - 1);
        break;
    }
    return 0;
}
