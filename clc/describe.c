/*
 * describe.c - the loop every EC2 Describe handler of an account's
 * resources shares (security groups, images, key pairs): list the rows the
 * caller may see in one query, load the tags of all of them in one more,
 * then keep the named ones, apply Filter.N, stop at MaxResults, write each
 * row and the NextToken.
 *
 * Loading per page instead of per row is what makes a Describe cheap: a
 * page of 20 groups costs three statements (groups, rules, tags), not
 * forty-one, all inside one read transaction taken by the front door.
 */
#include <string.h>

#include "clc/clc.h"

/* ------------------------------------------------------------------ */
/* rows */

int clc_describe_rows(struct clc_req *r, const char *sql, const char *after,
                      clc_row_fill_fn fill, size_t row_size, void **rows, size_t *n)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db, sql, &err);
    unsigned char *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_text(st, 2, after ? after : "", -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            unsigned char *nv = oc_arena_calloc(r->arena, ncap, row_size);

            if (cnt)
                memcpy(nv, v, cnt * row_size);
            v = nv;
            cap = ncap;
        }
        fill(r->arena, st, v + cnt * row_size);
        cnt++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "list resources");
        return clc_internal(r, &err);
    }
    *rows = v;
    *n = cnt;
    return CLC_OK;
}

const char *clc_col_text(struct oc_arena *a, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    int len = sqlite3_column_bytes(st, col);

    if (!t || len <= 0)
        return "";
    return oc_arena_strndup(a, (const char *)t, (size_t)len);
}

/* ------------------------------------------------------------------ */
/* tags of many resources */

int clc_tagmap_load(struct clc_req *r, const char *resource_type, const char *after,
                    struct clc_tagmap *out)
{
    struct oc_err err = { 0 };
    /* Only the caller's own tags: EC2 shows tags to the account that set
     * them (clc_tags_load() has the same rule for one resource). */
    sqlite3_stmt *st = oc_db_prepare(r->db,
                                     "SELECT resource_id, key, value FROM tags"
                                     " WHERE account_id = ?1 AND resource_type = ?2"
                                     " AND resource_id > ?3 ORDER BY resource_id, key",
                                     &err);
    struct clc_tag *tags = NULL;
    size_t ntags = 0, cap = 0, nres = 0;
    const char *prev = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, resource_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, after ? after : "", -1, SQLITE_STATIC);
    /* Pass 1: every tag in one array, with the resource id of each kept
     * in the (not yet needed) key slot of a parallel array. */
    {
        const char **ids = NULL;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(st, 0);

            if (ntags == cap) {
                size_t ncap = cap ? cap * 2 : 32;
                struct clc_tag *nt = oc_arena_calloc(r->arena, ncap, sizeof(*nt));
                const char **ni = oc_arena_calloc(r->arena, ncap, sizeof(*ni));

                if (ntags) {
                    memcpy(nt, tags, ntags * sizeof(*nt));
                    memcpy(ni, ids, ntags * sizeof(*ni));
                }
                tags = nt;
                ids = ni;
                cap = ncap;
            }
            if (!prev || strcmp(prev, id ? id : "") != 0) {
                prev = clc_col_text(r->arena, st, 0);
                nres++;
            }
            ids[ntags] = prev;
            tags[ntags].key = clc_col_text(r->arena, st, 1);
            tags[ntags].value = clc_col_text(r->arena, st, 2);
            ntags++;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            oc_db_fail(r->db, &err, "load tags");
            return clc_internal(r, &err);
        }
        if (nres == 0)
            return CLC_OK;
        /* Pass 2: one set per resource, slices of the tag array (the rows
         * came sorted by resource id, so each resource is one run). */
        out->ids = oc_arena_calloc(r->arena, nres, sizeof(*out->ids));
        out->sets = oc_arena_calloc(r->arena, nres, sizeof(*out->sets));
        for (size_t i = 0; i < ntags; i++) {
            if (i == 0 || ids[i] != ids[i - 1]) {
                out->ids[out->n] = ids[i];
                out->sets[out->n].tags = &tags[i];
                out->n++;
            }
            out->sets[out->n - 1].n++;
        }
    }
    return CLC_OK;
}

const struct clc_tagset *clc_tagmap_get(const struct clc_tagmap *m, const char *id)
{
    static const struct clc_tagset empty = { NULL, 0 };
    size_t lo = 0, hi = m->n;

    /* SQLite's default BINARY collation orders like strcmp (memcmp on
     * UTF-8), so the ids are sorted the way this search expects. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->ids[mid], id);

        if (c == 0)
            return &m->sets[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return &empty;
}

/* ------------------------------------------------------------------ */
/* the loop */

int clc_describe_run(struct clc_req *r, const struct clc_describe *d, void *ctx)
{
    const struct clc_page *page = d->page;
    int limited = page && page->limited;
    const unsigned char *rows = d->rows;
    struct clc_tagmap tags;
    const char *last = NULL;
    long long shown = 0;
    int more = 0;

    /* Tags are loaded for ids past the page's start only when the page
     * key is the id. */
    if (clc_tagmap_load(r, d->tag_type, limited && !d->page_key ? page->after : NULL, &tags))
        return CLC_FAILED;
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, d->set_name);
    for (size_t i = 0; i < d->nrows; i++) {
        const void *row = rows + i * d->row_size;
        const struct clc_tagset *ts;
        const char *id = d->id(row);

        if (d->keep) {
            int k = d->keep(r, row, ctx);

            if (k < 0)
                return CLC_FAILED;
            if (!k)
                continue;
        }
        ts = clc_tagmap_get(&tags, id);
        if (!clc_filters_match(d->filters, d->attr, (void *)row, ts))
            continue;
        if (limited && shown == page->max) {
            /* One more match exists: the page ends before it. */
            more = 1;
            break;
        }
        d->write(r, row, ts, ctx);
        last = d->page_key ? d->page_key(row) : id;
        shown++;
    }
    if (d->end)
        d->end(r, ctx);
    oc_xmlw_end(r->xml);
    if (more)
        clc_page_next(r, last);
    return CLC_OK;
}

int clc_in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}
