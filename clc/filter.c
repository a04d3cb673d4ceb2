/*
 * filter.c - the Describe machinery shared by every EC2 resource module:
 * Filter.N.Name / Filter.N.Value.M parsing and matching with AWS wildcards,
 * and MaxResults / NextToken pagination with tamper-evident tokens.
 *
 * Filters.  A request's filters are ANDed; the values of one filter are
 * ORed; a value matches when it matches (case-sensitively, `*` any run,
 * `?` one character, `\` escaping the next character) at least one of the
 * resource's values for that name, which the module's attribute callback
 * provides.  `tag:<key>`, `tag-key` and `tag-value` are answered here from
 * the resource's tag set.  A filter sent without any value matches
 * nothing, as EC2 answers an empty list for `--filters Name=vpc-id`.
 *
 * Tokens.  A NextToken is url-safe base64 (no padding) of
 *     version (1 byte) || last key || HMAC-SHA256(k, version || action ||
 *     NUL || account || NUL || last key) truncated to 16 bytes
 * where k is a random 32-byte key kept in the settings table (row
 * `pagination_token_key`, created on first use).  The action and the
 * account are bound by the MAC, so a token is refused by another action or
 * another account, and any change to it is detected.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clc/clc.h"
#include "common/buf.h"
#include "common/codec.h"

/* ------------------------------------------------------------------ */
/* values */

void clc_values_add(struct clc_values *vals, const char *value)
{
    if (!value)
        return;
    if (vals->n == vals->cap) {
        size_t cap = vals->cap ? vals->cap * 2 : 8;
        const char **v = oc_arena_calloc(vals->arena, cap, sizeof(*v));

        if (vals->n)
            memcpy(v, vals->v, vals->n * sizeof(*v));
        vals->v = v;
        vals->cap = cap;
    }
    /* A copy: callbacks may hand us their own short-lived buffers. */
    vals->v[vals->n++] = oc_arena_strdup(vals->arena, value);
}

void clc_values_addf(struct clc_values *vals, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    clc_values_add(vals, s);
    free(s);
}

/* ------------------------------------------------------------------ */
/* wildcards */

/* Start of the next UTF-8 character after s (s points at a non-NUL). */
static const char *next_char(const char *s)
{
    s++;
    while (((unsigned char)*s & 0xC0) == 0x80)
        s++;
    return s;
}

/*
 * Greedy matching with one backtrack point (the last `*` seen): when a
 * literal fails, the last star absorbs one more character and matching
 * resumes just after it.  Earlier stars never need revisiting, so the cost
 * is at most len(pattern) * len(value) steps for any pattern.
 */
int clc_wildcard_match(const char *pattern, const char *value)
{
    const char *p = pattern, *v = value;
    const char *star_p = NULL, *star_v = NULL;

    if (!pattern || !value)
        return 0;
    while (*v) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            star_p = p;
            star_v = v;
            continue;
        }
        if (*p == '?') {
            p++;
            v = next_char(v);
            continue;
        }
        if (*p) {
            /* `\x` is a literal x; a trailing `\` is a literal backslash. */
            const char *lit = (*p == '\\' && p[1]) ? p + 1 : p;

            if (*lit == *v) {
                p = lit + 1;
                v++;
                continue;
            }
        }
        if (!star_p)
            return 0;
        star_v = next_char(star_v);
        p = star_p;
        v = star_v;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

/* ------------------------------------------------------------------ */
/* filters */

enum filter_kind { F_ATTR, F_TAG, F_TAG_KEY, F_TAG_VALUE };

struct filter_item {
    const char *name;
    enum filter_kind kind;
    const char *tag_key;          /* F_TAG: the <key> of tag:<key> */
    const char **values;
    size_t nvalues;
};

struct clc_filters {
    struct oc_arena *arena;
    struct filter_item *items;
    size_t n;
};

/* Positive decimal index of at most 9 digits; -1 otherwise. */
static long parse_index(const char *s, size_t len)
{
    long v = 0;

    if (len == 0 || len > 9)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 ? v : -1;
}

struct name_at {
    long idx;
    const char *name;
};

static int cmp_name_at(const void *x, const void *y)
{
    const struct name_at *a = x, *b = y;

    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int name_known(const char *name, const char *const *known)
{
    for (size_t i = 0; known && known[i]; i++)
        if (strcmp(known[i], name) == 0)
            return 1;
    return 0;
}

int clc_filters_parse(struct clc_req *r, const char *const *known, struct clc_filters **out)
{
    const struct oc_query *q = r->params;
    struct name_at *names = oc_arena_calloc(r->arena, q->n ? q->n : 1, sizeof(*names));
    struct clc_filters *f;
    size_t nn = 0;

    *out = NULL;
    /* Pass 1: every Filter.* parameter is well formed; collect the names. */
    for (size_t i = 0; i < q->n; i++) {
        const char *pname = q->items[i].name, *s, *dot;
        long idx;

        if (strncmp(pname, "Filter.", 7) != 0)
            continue;
        s = pname + 7;
        dot = strchr(s, '.');
        idx = dot ? parse_index(s, (size_t)(dot - s)) : -1;
        if (idx > 0 && strcmp(dot, ".Name") == 0) {
            for (size_t k = 0; k < nn; k++)
                if (names[k].idx == idx)
                    return clc_error(r, "InvalidParameterValue",
                                     "The parameter Filter.%ld.Name is given more than once",
                                     idx);
            names[nn].idx = idx;
            names[nn].name = q->items[i].value;
            nn++;
            continue;
        }
        if (idx > 0 && strncmp(dot, ".Value.", 7) == 0 &&
            parse_index(dot + 7, strlen(dot + 7)) > 0)
            continue;
        return clc_error(r, "UnknownParameter", "The parameter %s is not recognized", pname);
    }
    /* Values whose filter has no name: EC2 calls that filter 'null'. */
    for (size_t i = 0; i < q->n; i++) {
        const char *pname = q->items[i].name, *dot;
        long idx;
        int found = 0;

        if (strncmp(pname, "Filter.", 7) != 0)
            continue;
        dot = strchr(pname + 7, '.');
        idx = parse_index(pname + 7, (size_t)(dot - (pname + 7)));
        for (size_t k = 0; k < nn && !found; k++)
            found = names[k].idx == idx;
        if (!found)
            return clc_error(r, "InvalidParameterValue", "The filter 'null' is invalid");
    }
    if (nn == 0)
        return CLC_OK;
    qsort(names, nn, sizeof(*names), cmp_name_at);

    f = oc_arena_alloc(r->arena, sizeof(*f));
    f->arena = r->arena;
    f->items = oc_arena_calloc(r->arena, nn, sizeof(*f->items));
    for (size_t k = 0; k < nn; k++) {
        struct filter_item *it = &f->items[k];
        const char *name = names[k].name;
        struct oc_err err = { 0 };
        char *prefix;

        if (strncmp(name, "tag:", 4) == 0 && name[4]) {
            it->kind = F_TAG;
            it->tag_key = name + 4;
        } else if (strcmp(name, "tag-key") == 0) {
            it->kind = F_TAG_KEY;
        } else if (strcmp(name, "tag-value") == 0) {
            it->kind = F_TAG_VALUE;
        } else if (name_known(name, known)) {
            it->kind = F_ATTR;
        } else {
            return clc_error(r, "InvalidParameterValue", "The filter '%s' is invalid", name);
        }
        it->name = name;
        prefix = oc_arena_printf(r->arena, "Filter.%ld.Value", names[k].idx);
        if (oc_query_list(r->arena, q, prefix, &it->values, &it->nvalues, &err) != OC_OK)
            return clc_error(r, "InvalidParameterValue", "%s", err.msg);
    }
    f->n = nn;
    *out = f;
    return CLC_OK;
}

/* Whether any pattern of the filter matches s. */
static int any_pattern(const struct filter_item *it, const char *s)
{
    for (size_t i = 0; i < it->nvalues; i++)
        if (clc_wildcard_match(it->values[i], s))
            return 1;
    return 0;
}

static int tags_match(const struct filter_item *it, const struct clc_tagset *tags)
{
    for (size_t t = 0; tags && t < tags->n; t++) {
        const struct clc_tag *tag = &tags->tags[t];

        switch (it->kind) {
        case F_TAG:
            /* The key of tag:<key> is literal; the values are patterns. */
            if (strcmp(tag->key, it->tag_key) == 0 && any_pattern(it, tag->value))
                return 1;
            break;
        case F_TAG_KEY:
            if (any_pattern(it, tag->key))
                return 1;
            break;
        case F_TAG_VALUE:
            if (any_pattern(it, tag->value))
                return 1;
            break;
        case F_ATTR:
        default:
            break;
        }
    }
    return 0;
}

int clc_filters_match(const struct clc_filters *f, clc_attr_fn fn, void *row,
                      const struct clc_tagset *tags)
{
    if (!f)
        return 1;
    for (size_t k = 0; k < f->n; k++) {
        const struct filter_item *it = &f->items[k];
        int ok = 0;

        if (it->nvalues == 0)
            return 0;
        if (it->kind != F_ATTR) {
            ok = tags_match(it, tags);
        } else if (fn) {
            struct clc_values vals = { .arena = f->arena };

            fn(row, it->name, &vals);
            for (size_t i = 0; i < vals.n && !ok; i++)
                ok = any_pattern(it, vals.v[i]);
        }
        if (!ok)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* pagination tokens */

#define TOKEN_VERSION 1
#define TOKEN_MAC_LEN 16
#define TOKEN_KEY_LEN 32
#define TOKEN_MAX_TEXT 4096       /* longer NextTokens are refused unread */
#define TOKEN_KEY_SETTING "pagination_token_key"

/* The CLC's token key: read from settings, created by the first caller
 * (INSERT OR IGNORE, so concurrent first uses agree on one key). */
static int token_key(struct clc_req *r, uint8_t key[TOKEN_KEY_LEN])
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    char hex[2 * TOKEN_KEY_LEN + 1];
    uint8_t fresh[TOKEN_KEY_LEN];
    int rc;

    for (int attempt = 0; attempt < 2; attempt++) {
        st = oc_db_prepare(r->db, "SELECT value FROM settings WHERE name = ?", &err);
        if (!st)
            return clc_internal(r, &err);
        sqlite3_bind_text(st, 1, TOKEN_KEY_SETTING, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(st, 0);
            long n = v ? oc_hex_decode(v, strlen(v), key, TOKEN_KEY_LEN) : -1;

            sqlite3_reset(st);
            if (n != TOKEN_KEY_LEN) {
                oc_err_set(&err, OC_EINTERNAL, "settings.%s is malformed", TOKEN_KEY_SETTING);
                return clc_internal(r, &err);
            }
            return CLC_OK;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            oc_db_fail(r->db, &err, "read the pagination key");
            return clc_internal(r, &err);
        }
        if (attempt)
            break;
        oc_random_bytes(fresh, sizeof(fresh));
        oc_hex_encode(fresh, sizeof(fresh), hex);
        st = oc_db_prepare(r->db, "INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)",
                           &err);
        if (!st)
            return clc_internal(r, &err);
        sqlite3_bind_text(st, 1, TOKEN_KEY_SETTING, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, hex, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            oc_db_fail(r->db, &err, "store the pagination key");
            return clc_internal(r, &err);
        }
    }
    oc_err_set(&err, OC_EINTERNAL, "the pagination key vanished");
    return clc_internal(r, &err);
}

int clc_page_key_init(struct oc_db *db, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "INSERT OR IGNORE INTO settings (name, value)"
                                         " VALUES (?, ?)", err);
    uint8_t fresh[TOKEN_KEY_LEN];
    char hex[2 * TOKEN_KEY_LEN + 1];
    int rc;

    if (!st)
        return OC_EDB;
    oc_random_bytes(fresh, sizeof(fresh));
    oc_hex_encode(fresh, sizeof(fresh), hex);
    sqlite3_bind_text(st, 1, TOKEN_KEY_SETTING, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hex, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OC_OK : oc_db_fail(db, err, "store the pagination key");
}

static void token_mac(const uint8_t key[TOKEN_KEY_LEN], const struct clc_req *r,
                      const char *last, size_t lastlen, uint8_t mac[TOKEN_MAC_LEN])
{
    struct oc_buf b = { 0 };
    uint8_t full[OC_SHA256_LEN];
    uint8_t version = TOKEN_VERSION;
    const char *action = r->action ? r->action : "";

    /* Out of memory aborts in the arena; a failed buf append leaves a
     * shorter input, which only makes the MAC fail to verify. */
    if (oc_buf_append(&b, &version, 1) || oc_buf_append(&b, action, strlen(action) + 1) ||
        oc_buf_append(&b, r->who.account_id, strlen(r->who.account_id) + 1) ||
        oc_buf_append(&b, last, lastlen))
        oc_buf_reset(&b);
    oc_hmac_sha256(key, TOKEN_KEY_LEN, b.data ? b.data : "", b.len, full);
    memcpy(mac, full, TOKEN_MAC_LEN);
    oc_buf_free(&b);
}

/* Standard base64 in b turned url-safe without padding, in place. */
static void base64_to_url(struct oc_buf *b)
{
    size_t n = b->len;

    while (n && b->data[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++) {
        if (b->data[i] == '+')
            b->data[i] = '-';
        else if (b->data[i] == '/')
            b->data[i] = '_';
    }
    b->len = n;
    b->data[n] = '\0';
}

/* The token for last_key (arena string), or NULL after choosing an error. */
static const char *token_make(struct clc_req *r, const char *last_key)
{
    uint8_t key[TOKEN_KEY_LEN], mac[TOKEN_MAC_LEN];
    struct oc_buf raw = { 0 }, text = { 0 };
    uint8_t version = TOKEN_VERSION;
    size_t lastlen = strlen(last_key);
    const char *out = NULL;

    if (token_key(r, key))
        return NULL;
    token_mac(key, r, last_key, lastlen, mac);
    if (oc_buf_append(&raw, &version, 1) == OC_OK &&
        oc_buf_append(&raw, last_key, lastlen) == OC_OK &&
        oc_buf_append(&raw, mac, sizeof(mac)) == OC_OK &&
        oc_base64_encode((const uint8_t *)raw.data, raw.len, &text) == OC_OK && text.data) {
        base64_to_url(&text);
        out = oc_arena_strdup(r->arena, text.data);
    }
    oc_buf_free(&raw);
    oc_buf_free(&text);
    if (!out) {
        struct oc_err err = { 0 };

        oc_err_set(&err, OC_ENOMEM, "cannot encode a pagination token");
        clc_internal(r, &err);
    }
    return out;
}

static int bad_token(struct clc_req *r, const char *tok)
{
    return clc_error(r, "InvalidParameterValue",
                     "Value ( %.128s ) for parameter NextToken is invalid. The token is invalid.",
                     tok);
}

/* Decodes and verifies tok; *last gets the key it carries. */
static int token_open(struct clc_req *r, const char *tok, const char **last)
{
    size_t len = strlen(tok), padded;
    uint8_t key[TOKEN_KEY_LEN], mac[TOKEN_MAC_LEN];
    char *std;
    uint8_t *raw;
    long n;

    if (len == 0 || len > TOKEN_MAX_TEXT || len % 4 == 1)
        return bad_token(r, tok);
    padded = (len + 3) / 4 * 4;
    std = oc_arena_alloc(r->arena, padded + 1);
    for (size_t i = 0; i < len; i++) {
        char c = tok[i];

        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return bad_token(r, tok);
        std[i] = c;
    }
    for (size_t i = len; i < padded; i++)
        std[i] = '=';
    std[padded] = '\0';
    raw = oc_arena_alloc(r->arena, padded);
    n = oc_base64_decode(std, padded, raw, padded);
    if (n < 1 + TOKEN_MAC_LEN || raw[0] != TOKEN_VERSION)
        return bad_token(r, tok);
    /* Only the canonical spelling: the last character's unused low bits
     * must be zero, or two texts would open to one token. */
    {
        struct oc_buf again = { 0 };
        int same;

        if (oc_base64_encode(raw, (size_t)n, &again) != OC_OK) {
            oc_buf_free(&again);
            return bad_token(r, tok);
        }
        base64_to_url(&again);
        same = again.len == len && memcmp(again.data, tok, len) == 0;
        oc_buf_free(&again);
        if (!same)
            return bad_token(r, tok);
    }
    if (memchr(raw + 1, '\0', (size_t)n - 1 - TOKEN_MAC_LEN))
        return bad_token(r, tok);
    if (token_key(r, key))
        return CLC_FAILED;
    token_mac(key, r, (const char *)raw + 1, (size_t)n - 1 - TOKEN_MAC_LEN, mac);
    if (!oc_ct_equal(mac, sizeof(mac), raw + n - TOKEN_MAC_LEN, TOKEN_MAC_LEN))
        return bad_token(r, tok);
    *last = oc_arena_strndup(r->arena, (const char *)raw + 1, (size_t)n - 1 - TOKEN_MAC_LEN);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* pagination */

/* EC2's own words for the id list named in the request ("volumeSet"). */
static const struct {
    const char *param;
    const char *wire;
} id_lists[] = {
    { "InstanceId", "instancesSet" },
    { "ImageId", "imagesSet" },
    { "VolumeId", "volumeSet" },
    { "SnapshotId", "snapshotSet" },
    { "GroupId", "groupIds" },
    { "GroupName", "groupNames" },
    { "KeyName", "keyNames" },
    { "KeyPairId", "keyPairIds" },
};

/* The name AWS uses in InvalidParameterCombination for the first
 * `Name.N` list parameter of the request (lowerCamel + "s" otherwise). */
static const char *id_list_name(struct clc_req *r)
{
    const struct oc_query *q = r->params;

    for (size_t i = 0; i < q->n; i++) {
        const char *n = q->items[i].name, *dot = strchr(n, '.');
        size_t plen;
        char *s;

        if (!dot || parse_index(dot + 1, strlen(dot + 1)) < 0 || dot == n)
            continue;
        plen = (size_t)(dot - n);
        for (size_t k = 0; k < sizeof(id_lists) / sizeof(id_lists[0]); k++)
            if (strlen(id_lists[k].param) == plen && strncmp(id_lists[k].param, n, plen) == 0)
                return id_lists[k].wire;
        s = oc_arena_printf(r->arena, "%.*ss", (int)plen, n);
        if (s[0] >= 'A' && s[0] <= 'Z')
            s[0] = (char)(s[0] - 'A' + 'a');
        return s;
    }
    return "ids";
}

int clc_page_parse(struct clc_req *r, long long min, long long max, int ids_given,
                   struct clc_page *page)
{
    const char *mr = clc_param(r, "MaxResults"), *tok = clc_param(r, "NextToken");

    memset(page, 0, sizeof(*page));
    if (mr && ids_given)
        return clc_error(r, "InvalidParameterCombination",
                         "The parameter %s cannot be used with the parameter maxResults",
                         id_list_name(r));
    if (mr) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(mr, &end, 10);
        if (!*mr || *end || errno || mr[0] == ' ' || mr[0] == '+')
            return clc_error(r, "InvalidParameterValue",
                             "Value ( %.64s ) for parameter maxResults is invalid. Expecting "
                             "an integer.", mr);
        if (v < min)
            return clc_error(r, "InvalidParameterValue",
                             "Value ( %lld ) for parameter maxResults is invalid. Expecting a "
                             "value greater than %lld.", v, min);
        if (v > max)
            return clc_error(r, "InvalidParameterValue",
                             "Value ( %lld ) for parameter maxResults is invalid. Expecting a "
                             "value less than %lld.", v, max);
        page->limited = 1;
        page->max = v;
    }
    /* An empty NextToken is "first page", as EC2 treats it for most calls. */
    if (tok && *tok) {
        if (token_open(r, tok, &page->after))
            return CLC_FAILED;
        if (!page->limited) {
            page->limited = 1;
            page->max = max;
        }
    }
    return CLC_OK;
}

void clc_page_next(struct clc_req *r, const char *last_key)
{
    const char *tok;

    if (!last_key)
        return;
    tok = token_make(r, last_key);
    if (tok)
        oc_xmlw_elem(clc_reply_begin(r), "nextToken", tok);
}
