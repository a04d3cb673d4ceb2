/* Unit tests for clc/filter.c (AWS wildcards, Filter.N parsing and
 * matching, MaxResults/NextToken pagination and its tokens), clc/tags.c
 * (CreateTags/DeleteTags/DescribeTags and TagSpecification) and
 * clc/resource.c, on hand-built requests over a scratch clc.db. */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clc/clc.h"
#include "clc/schema.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/db.h"
#include "common/query.h"
#include "common/xml.h"

#define ACCT_A "111111111111"
#define ACCT_B "222222222222"

/* ------------------------------------------------------------------ */
/* wildcards */

OC_TEST(clc_wildcard_basics)
{
    CHECK(clc_wildcard_match("abc", "abc"));
    CHECK(!clc_wildcard_match("abc", "abd"));
    CHECK(!clc_wildcard_match("abc", "ab"));
    CHECK(!clc_wildcard_match("ab", "abc"));
    CHECK(!clc_wildcard_match("ABC", "abc"));   /* case-sensitive */
    CHECK(clc_wildcard_match("", ""));
    CHECK(!clc_wildcard_match("", "a"));
    CHECK(clc_wildcard_match("*", ""));
    CHECK(clc_wildcard_match("*", "anything at all"));
    CHECK(clc_wildcard_match("a*", "a"));
    CHECK(clc_wildcard_match("a*", "abc"));
    CHECK(!clc_wildcard_match("a*", "bac"));
    CHECK(clc_wildcard_match("*c", "abc"));
    CHECK(!clc_wildcard_match("*c", "abcd"));
    CHECK(clc_wildcard_match("a*c", "ac"));
    CHECK(clc_wildcard_match("a*c", "abbbbc"));
    CHECK(clc_wildcard_match("a*b*c", "aXbYc"));
    CHECK(clc_wildcard_match("a*b*c", "abcbc"));
    CHECK(!clc_wildcard_match("a*b*c", "acb"));
    CHECK(clc_wildcard_match("**a**", "bab"));
    CHECK(clc_wildcard_match("?", "x"));
    CHECK(!clc_wildcard_match("?", ""));
    CHECK(!clc_wildcard_match("?", "xy"));
    CHECK(clc_wildcard_match("sg-????????", "sg-0123abcd"));
    CHECK(!clc_wildcard_match("sg-????????", "sg-0123abc"));
    CHECK(clc_wildcard_match("*?", "a"));
    CHECK(!clc_wildcard_match("*?", ""));
    CHECK(clc_wildcard_match("?*?", "ab"));
    CHECK(!clc_wildcard_match("?*?", "a"));
    CHECK(clc_wildcard_match("web-*-prod", "web-eu-west-prod"));
    CHECK(!clc_wildcard_match("web-*-prod", "web-eu-west-prod2"));
    CHECK(!clc_wildcard_match(NULL, "a"));
    CHECK(!clc_wildcard_match("a", NULL));
}

OC_TEST(clc_wildcard_escapes)
{
    CHECK(clc_wildcard_match("a\\*b", "a*b"));
    CHECK(!clc_wildcard_match("a\\*b", "aXb"));
    CHECK(!clc_wildcard_match("a\\*b", "ab"));
    CHECK(clc_wildcard_match("a\\?b", "a?b"));
    CHECK(!clc_wildcard_match("a\\?b", "aXb"));
    CHECK(clc_wildcard_match("a\\\\b", "a\\b"));
    CHECK(!clc_wildcard_match("a\\\\b", "a\\\\b"));
    CHECK(clc_wildcard_match("\\*", "*"));
    CHECK(!clc_wildcard_match("\\*", "x"));
    CHECK(clc_wildcard_match("*\\*", "abc*"));
    CHECK(!clc_wildcard_match("*\\*", "abc"));
    CHECK(clc_wildcard_match("\\a", "a"));       /* escaping a plain char */
    CHECK(clc_wildcard_match("ab\\", "ab\\"));   /* trailing backslash */
    CHECK(!clc_wildcard_match("ab\\", "ab"));
    CHECK(clc_wildcard_match("*\\?*", "what? no"));
    CHECK(!clc_wildcard_match("*\\?*", "what no"));
}

OC_TEST(clc_wildcard_utf8)
{
    /* ? is one character, not one byte. */
    CHECK(clc_wildcard_match("caf?", "caf\xc3\xa9"));
    CHECK(!clc_wildcard_match("caf??", "caf\xc3\xa9"));
    CHECK(clc_wildcard_match("?", "\xe2\x82\xac"));
    CHECK(clc_wildcard_match("*\xc3\xa9", "caf\xc3\xa9"));
    CHECK(clc_wildcard_match("\xc3\xa9*", "\xc3\xa9t\xc3\xa9"));
    CHECK(clc_wildcard_match("*?t?", "\xc3\xa9t\xc3\xa9"));
}

OC_TEST(clc_wildcard_pathological)
{
    /* Patterns that take exponential time in a naive backtracking matcher
     * finish at once here (at most len(pattern) * len(value) steps). */
    size_t n = 20000;
    char *value = malloc(n + 2), *pattern = malloc(2 * 60 + 2);
    clock_t t0 = clock();
    double secs;

    memset(value, 'a', n);
    value[n] = '\0';
    for (int i = 0; i < 60; i++) {
        pattern[2 * i] = '*';
        pattern[2 * i + 1] = 'a';
    }
    pattern[120] = 'b';
    pattern[121] = '\0';
    CHECK(!clc_wildcard_match(pattern, value));
    pattern[120] = '\0';
    CHECK(clc_wildcard_match(pattern, value));
    value[n] = 'b';
    value[n + 1] = '\0';
    CHECK(!clc_wildcard_match("*a*a*a*a*a*a*a*a*a*a*c", value));
    CHECK(clc_wildcard_match("*a*a*a*a*a*a*a*a*a*a*b", value));
    CHECK(!clc_wildcard_match("*?*?*?*?*?*?*?*?*?*?*?c", value));
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(secs < 2.0);
    free(value);
    free(pattern);
}

/* ------------------------------------------------------------------ */
/* a hand-built request */

struct env {
    struct oc_db *db;
    struct oc_arena *arena;
};

static int env_open(struct env *e, const char *name)
{
    const struct oc_migration *m;
    size_t n;
    struct oc_err err = { 0 };
    char path[512];

    snprintf(path, sizeof(path), "%s/%s.db", oc_test_tmpdir(), name);
    m = clc_schema(&n);
    e->arena = oc_arena_new();
    if (oc_db_open(path, m, n, &e->db, &err) != OC_OK) {
        fprintf(stderr, "oc_db_open: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void env_close(struct env *e)
{
    oc_db_close(e->db);
    oc_arena_free(e->arena);
}

/* Documents a test did not read die with the arena, as the front door
 * frees them after each request. */
static void req_free_xml(void *p)
{
    struct clc_req *r = p;

    oc_xmlw_free(r->xml);
    r->xml = NULL;
}

static struct clc_req *req(struct env *e, const char *action, const char *account,
                           const char *query)
{
    struct clc_req *r = oc_arena_alloc(e->arena, sizeof(*r));
    struct oc_query *q = oc_arena_alloc(e->arena, sizeof(*q));
    struct oc_err err = { 0 };

    if (oc_query_parse(e->arena, query, strlen(query), q, &err) != OC_OK)
        return NULL;
    r->arena = e->arena;
    r->db = e->db;
    r->params = q;
    r->action = action;
    r->version = "2016-11-15";
    r->request_id = "TESTREQUEST";
    r->now = time(NULL);
    r->api = CLC_API_EC2;
    snprintf(r->who.account_id, sizeof(r->who.account_id), "%s", account);
    r->dry_run = oc_query_get(q, "DryRun") && strcmp(oc_query_get(q, "DryRun"), "true") == 0;
    oc_arena_defer(e->arena, req_free_xml, r);
    return r;
}

/* The finished document of r (success) as a string in e's arena. */
static const char *doc(struct env *e, struct clc_req *r)
{
    struct oc_buf b = { 0 };
    const char *s;

    if (!r->xml)
        return "";
    if (oc_xmlw_finish(r->xml, &b) != OC_OK)
        return "";
    s = oc_arena_strdup(e->arena, oc_buf_cstr(&b));
    oc_buf_free(&b);
    oc_xmlw_free(r->xml);
    r->xml = NULL;
    return s;
}

/* Text of the first <name>…</name> in s, or NULL. */
static const char *elem(struct env *e, const char *s, const char *name)
{
    char *open = oc_arena_printf(e->arena, "<%s>", name);
    char *close = oc_arena_printf(e->arena, "</%s>", name);
    const char *a = strstr(s, open), *b;

    if (!a)
        return NULL;
    a += strlen(open);
    b = strstr(a, close);
    return b ? oc_arena_strndup(e->arena, a, (size_t)(b - a)) : NULL;
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ------------------------------------------------------------------ */
/* filters */

struct fake_row {
    const char *name;
    const char *ports[3];
};

static void fake_attr(void *p, const char *name, struct clc_values *vals)
{
    const struct fake_row *row = p;
    char tmp[32];

    if (strcmp(name, "group-name") == 0) {
        /* A short-lived buffer: the engine must copy. */
        snprintf(tmp, sizeof(tmp), "%s", row->name);
        clc_values_add(vals, tmp);
    } else if (strcmp(name, "port") == 0) {
        for (int i = 0; i < 3 && row->ports[i]; i++)
            clc_values_add(vals, row->ports[i]);
    } else if (strcmp(name, "count") == 0) {
        clc_values_addf(vals, "%d", (int)strlen(row->name));
    }
}

static const char *const fake_known[] = { "group-name", "port", "count", NULL };

OC_TEST(clc_filters_parse_and_match)
{
    struct env e;
    struct clc_req *r;
    struct clc_filters *f;
    struct fake_row web = { "web", { "22", "80", NULL } };
    struct fake_row db = { "db", { "5432", NULL, NULL } };
    struct clc_tag web_tags[] = { { "env", "prod" }, { "Name", "front end" } };
    struct clc_tag db_tags[] = { { "env", "dev" }, { "owner", "" } };
    struct clc_tagset wt = { web_tags, 2 }, dt = { db_tags, 2 }, none = { NULL, 0 };

    CHECK_INT(env_open(&e, "filters"), 0);

    /* No filters: everything matches, *out is NULL. */
    r = req(&e, "DescribeX", ACCT_A, "Action=DescribeX");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(f == NULL);
    CHECK(clc_filters_match(f, fake_attr, &web, &wt));

    /* OR across values, wildcards. */
    r = req(&e, "DescribeX", ACCT_A,
            "Filter.1.Name=group-name&Filter.1.Value.1=w*&Filter.1.Value.2=nomatch");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(clc_filters_match(f, fake_attr, &web, &wt));
    CHECK(!clc_filters_match(f, fake_attr, &db, &dt));

    /* AND across filters; multi-valued attributes match on any value. */
    r = req(&e, "DescribeX", ACCT_A,
            "Filter.1.Name=port&Filter.1.Value.1=80&Filter.2.Name=count&Filter.2.Value.1=3");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(clc_filters_match(f, fake_attr, &web, &wt));
    CHECK(!clc_filters_match(f, fake_attr, &db, &dt));
    r = req(&e, "DescribeX", ACCT_A,
            "Filter.1.Name=port&Filter.1.Value.1=80&Filter.2.Name=count&Filter.2.Value.1=2");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(!clc_filters_match(f, fake_attr, &web, &wt));

    /* Indexes need not be contiguous; order of parameters is free. */
    r = req(&e, "DescribeX", ACCT_A,
            "Filter.7.Value.3=5432&Filter.7.Name=port");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(clc_filters_match(f, fake_attr, &db, &dt));
    CHECK(!clc_filters_match(f, fake_attr, &web, &wt));

    /* tag:<key>: literal key, wildcard value. */
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=tag%3Aenv&Filter.1.Value.1=pr%3F%3F");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(clc_filters_match(f, fake_attr, &web, &wt));
    CHECK(!clc_filters_match(f, fake_attr, &db, &dt));
    CHECK(!clc_filters_match(f, fake_attr, &web, &none));
    CHECK(!clc_filters_match(f, fake_attr, &web, NULL));
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=tag%3Ae*&Filter.1.Value.1=*");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(!clc_filters_match(f, fake_attr, &web, &wt));   /* key "e*" is literal */
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=tag%3AName&Filter.1.Value.1=front+end");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(clc_filters_match(f, fake_attr, &web, &wt));
    /* Empty tag values match an empty pattern or "*". */
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=tag%3Aowner&Filter.1.Value.1=");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(clc_filters_match(f, fake_attr, &db, &dt));
    CHECK(!clc_filters_match(f, fake_attr, &web, &wt));

    /* tag-key and tag-value. */
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=tag-key&Filter.1.Value.1=own*");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(clc_filters_match(f, fake_attr, &db, &dt));
    CHECK(!clc_filters_match(f, fake_attr, &web, &wt));
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=tag-value&Filter.1.Value.1=dev");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(clc_filters_match(f, fake_attr, &db, &dt));
    CHECK(!clc_filters_match(f, fake_attr, &web, &wt));

    /* A filter without values matches nothing (EC2 answers an empty set). */
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=group-name");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_OK);
    CHECK(!clc_filters_match(f, fake_attr, &web, &wt));

    env_close(&e);
}

OC_TEST(clc_filters_errors)
{
    struct env e;
    struct clc_req *r;
    struct clc_filters *f;

    CHECK_INT(env_open(&e, "filters_err"), 0);
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=bogus&Filter.1.Value.1=x");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    CHECK_STR(r->err_message, "The filter 'bogus' is invalid");
    CHECK_INT(r->err_status, 400);

    /* Names are case-sensitive; "tag:" needs a key. */
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=Group-Name&Filter.1.Value.1=x");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=tag%3A&Filter.1.Value.1=x");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_FAILED);
    CHECK_STR(r->err_message, "The filter 'tag:' is invalid");

    /* Values without a name. */
    r = req(&e, "DescribeX", ACCT_A, "Filter.2.Value.1=x&Filter.1.Name=port&Filter.1.Value.1=1");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_FAILED);
    CHECK_STR(r->err_message, "The filter 'null' is invalid");

    /* Malformed parameter names. */
    r = req(&e, "DescribeX", ACCT_A, "Filter.x.Name=port");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_FAILED);
    CHECK_STR(r->err_code, "UnknownParameter");
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Values.1=1&Filter.1.Name=port");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_FAILED);
    CHECK_STR(r->err_code, "UnknownParameter");
    r = req(&e, "DescribeX", ACCT_A, "Filter.0.Name=port&Filter.0.Value.1=1");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_FAILED);
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=port&Filter.1.Name=count");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    r = req(&e, "DescribeX", ACCT_A, "Filter.1.Name=port&Filter.1.Value.1=a&Filter.1.Value.1=b");
    CHECK_INT(clc_filters_parse(r, fake_known, &f), CLC_FAILED);
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* pagination */

/* Runs clc_page_next for key under (action, account); returns the token. */
static const char *token_for(struct env *e, const char *action, const char *account,
                             const char *key)
{
    struct clc_req *r = req(e, action, account, "");

    clc_page_next(r, key);
    if (r->err_code)
        return NULL;
    return elem(e, doc(e, r), "nextToken");
}

OC_TEST(clc_page_tokens)
{
    struct env e;
    struct clc_req *r;
    struct clc_page page;
    const char *tok, *tok2, *q;
    char *bad;
    const char *weird = "sg-1|k\xc3\xa9y with spaces & <xml>";

    CHECK_INT(env_open(&e, "tokens"), 0);
    tok = token_for(&e, "DescribeTags", ACCT_A, "sg-0001|Name");
    CHECK(tok != NULL && *tok);
    /* url-safe: no '+', '/', '=' or escaping needed. */
    CHECK(tok && strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
                     == strlen(tok));
    /* The key was created once and is reused. */
    tok2 = token_for(&e, "DescribeTags", ACCT_A, "sg-0001|Name");
    CHECK_STR(tok2, tok);

    q = oc_arena_printf(e.arena, "MaxResults=5&NextToken=%s", tok);
    r = req(&e, "DescribeTags", ACCT_A, q);
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_OK);
    CHECK_INT(page.limited, 1);
    CHECK_INT(page.max, 5);
    CHECK_STR(page.after, "sg-0001|Name");

    /* NextToken alone: limited, pages of the largest size. */
    q = oc_arena_printf(e.arena, "NextToken=%s", tok);
    r = req(&e, "DescribeTags", ACCT_A, q);
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_OK);
    CHECK_INT(page.limited, 1);
    CHECK_INT(page.max, 1000);

    /* Keys with any bytes survive the round trip. */
    tok2 = token_for(&e, "DescribeTags", ACCT_A, weird);
    q = oc_arena_printf(e.arena, "NextToken=%s", tok2);
    r = req(&e, "DescribeTags", ACCT_A, q);
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_OK);
    CHECK_STR(page.after, weird);

    /* Another account or another action: refused. */
    q = oc_arena_printf(e.arena, "NextToken=%s", tok);
    r = req(&e, "DescribeTags", ACCT_B, q);
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    CHECK(r->err_message && strstr(r->err_message, "NextToken"));
    r = req(&e, "DescribeSecurityGroups", ACCT_A, q);
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");

    /* Every single-character change is detected. */
    bad = oc_arena_strdup(e.arena, tok);
    for (size_t i = 0; i < strlen(tok); i++) {
        char saved = bad[i];

        bad[i] = saved == 'A' ? 'B' : 'A';
        q = oc_arena_printf(e.arena, "NextToken=%s", bad);
        r = req(&e, "DescribeTags", ACCT_A, q);
        if (clc_page_parse(r, 5, 1000, 0, &page) != CLC_FAILED)
            oc_test_fail(__FILE__, __LINE__, "tampered token accepted (byte %zu)", i);
        bad[i] = saved;
    }
    /* Truncated, extended, garbage, and too long. */
    q = oc_arena_printf(e.arena, "NextToken=%.*s", (int)strlen(tok) - 1, tok);
    r = req(&e, "DescribeTags", ACCT_A, q);
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_FAILED);
    q = oc_arena_printf(e.arena, "NextToken=%sAA", tok);
    r = req(&e, "DescribeTags", ACCT_A, q);
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_FAILED);
    r = req(&e, "DescribeTags", ACCT_A, "NextToken=%2B%2F%3D%3D");
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_FAILED);
    r = req(&e, "DescribeTags", ACCT_A, "NextToken=x");
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_FAILED);
    {
        char *huge = oc_arena_alloc(e.arena, 10001 + 20);

        strcpy(huge, "NextToken=");
        memset(huge + 10, 'A', 10000);
        r = req(&e, "DescribeTags", ACCT_A, huge);
        CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_FAILED);
    }
    /* An empty NextToken is the first page. */
    r = req(&e, "DescribeTags", ACCT_A, "NextToken=");
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_OK);
    CHECK_INT(page.limited, 0);
    CHECK(page.after == NULL);
    env_close(&e);
}

OC_TEST(clc_page_max_results)
{
    struct env e;
    struct clc_req *r;
    struct clc_page page;

    CHECK_INT(env_open(&e, "maxresults"), 0);
    r = req(&e, "DescribeX", ACCT_A, "");
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_OK);
    CHECK_INT(page.limited, 0);
    r = req(&e, "DescribeX", ACCT_A, "MaxResults=5");
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_OK);
    CHECK_INT(page.max, 5);
    r = req(&e, "DescribeX", ACCT_A, "MaxResults=1000");
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_OK);
    CHECK_INT(page.max, 1000);
    r = req(&e, "DescribeX", ACCT_A, "MaxResults=4");
    CHECK_INT(clc_page_parse(r, 5, 1000, 0, &page), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    CHECK_STR(r->err_message,
              "Value ( 4 ) for parameter maxResults is invalid. Expecting a value greater "
              "than 5.");
    r = req(&e, "DescribeX", ACCT_A, "MaxResults=101");
    CHECK_INT(clc_page_parse(r, 5, 100, 0, &page), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    r = req(&e, "DescribeX", ACCT_A, "MaxResults=abc");
    CHECK_INT(clc_page_parse(r, 5, 100, 0, &page), CLC_FAILED);
    r = req(&e, "DescribeX", ACCT_A, "MaxResults=");
    CHECK_INT(clc_page_parse(r, 5, 100, 0, &page), CLC_FAILED);
    r = req(&e, "DescribeX", ACCT_A, "MaxResults=99999999999999999999999");
    CHECK_INT(clc_page_parse(r, 5, 100, 0, &page), CLC_FAILED);

    /* Ids together with MaxResults. */
    r = req(&e, "DescribeSecurityGroups", ACCT_A, "GroupId.1=sg-12345678&MaxResults=5");
    CHECK_INT(clc_page_parse(r, 5, 1000, 1, &page), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterCombination");
    CHECK_STR(r->err_message, "The parameter groupIds cannot be used with the parameter "
                              "maxResults");
    r = req(&e, "DescribeInstances", ACCT_A, "InstanceId.1=i-1&MaxResults=5");
    CHECK_INT(clc_page_parse(r, 5, 1000, 1, &page), CLC_FAILED);
    CHECK_STR(r->err_message, "The parameter instancesSet cannot be used with the parameter "
                              "maxResults");
    r = req(&e, "DescribeSecurityGroups", ACCT_A, "GroupId.1=sg-12345678");
    CHECK_INT(clc_page_parse(r, 5, 1000, 1, &page), CLC_OK);
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* tags and resources */

static void exec_ok(struct env *e, const char *sql)
{
    struct oc_err err = { 0 };

    if (oc_db_exec(e->db, sql, &err) != OC_OK)
        oc_test_fail(__FILE__, __LINE__, "%s: %s", sql, err.msg);
}

static void seed(struct env *e)
{
    exec_ok(e, "INSERT INTO security_groups VALUES "
               "('sg-0000000000000000a', '" ACCT_A "', 'web', 'd', 1),"
               "('sg-0000000000000000b', '" ACCT_B "', 'other', 'd', 1)");
    exec_ok(e, "INSERT INTO keypairs VALUES "
               "('key-0000000000000000a', '" ACCT_A "', 'k1', 'rsa', 'fp', 'pk', 1)");
    exec_ok(e, "INSERT INTO images (id, account_id, type, name, location, format, "
               "architecture, root_device_name, virtualization_type, state, created) VALUES "
               "('ami-0000000a', '" ACCT_A "', 'machine', 'img', 'b/k', 'raw', 'x86_64', "
               "'/dev/sda1', 'hvm', 'available', 1)");
}

/* Runs one action of clc_tag_actions by name. */
static int run(struct clc_req *r)
{
    for (const struct clc_action *a = clc_tag_actions; a->name; a++)
        if (strcmp(a->name, r->action) == 0)
            return a->fn(r);
    return -99;
}

OC_TEST(clc_resource_owner_kinds)
{
    struct env e;
    struct clc_req *r;
    const char *type = NULL, *owner = NULL;

    CHECK_INT(env_open(&e, "resources"), 0);
    seed(&e);
    r = req(&e, "CreateTags", ACCT_A, "");
    CHECK_INT(clc_resource_owner(r, "sg-0000000000000000a", &type, &owner), CLC_OK);
    CHECK_STR(type, "security-group");
    CHECK_STR(owner, ACCT_A);
    CHECK_INT(clc_resource_owner(r, "sg-0000000000000000b", &type, &owner), CLC_OK);
    CHECK_STR(owner, ACCT_B);
    CHECK_INT(clc_resource_owner(r, "key-0000000000000000a", &type, &owner), CLC_OK);
    CHECK_STR(type, "key-pair");
    CHECK_INT(clc_resource_owner(r, "ami-0000000a", &type, &owner), CLC_OK);
    CHECK_STR(type, "image");
    CHECK_INT(clc_resource_owner(r, "emi-0000000a", &type, &owner), CLC_OK);
    CHECK_STR(type, "image");

    r = req(&e, "CreateTags", ACCT_A, "");
    CHECK_INT(clc_resource_owner(r, "sg-00000000000000099", &type, &owner), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidGroup.NotFound");
    r = req(&e, "CreateTags", ACCT_A, "");
    CHECK_INT(clc_resource_owner(r, "key-1234", &type, &owner), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidKeyPair.NotFound");
    r = req(&e, "CreateTags", ACCT_A, "");
    CHECK_INT(clc_resource_owner(r, "aki-12345678", &type, &owner), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidAMIID.NotFound");
    /* No instances table yet: still a clean NotFound. */
    r = req(&e, "CreateTags", ACCT_A, "");
    CHECK_INT(clc_resource_owner(r, "i-12345678", &type, &owner), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidInstanceID.NotFound");
    r = req(&e, "CreateTags", ACCT_A, "");
    CHECK_INT(clc_resource_owner(r, "vol-12345678", &type, &owner), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidID");
    r = req(&e, "CreateTags", ACCT_A, "");
    CHECK_INT(clc_resource_owner(r, "sg-", &type, &owner), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidID");
    r = req(&e, "CreateTags", ACCT_A, "");
    CHECK_INT(clc_resource_owner(r, "sg-12'; DROP TABLE tags; --", &type, &owner), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidID");
    env_close(&e);
}

OC_TEST(clc_tags_create_delete_describe)
{
    struct env e;
    struct clc_req *r;
    struct clc_tagset ts;
    const char *d, *tok;

    CHECK_INT(env_open(&e, "tags"), 0);
    seed(&e);

    r = req(&e, "CreateTags", ACCT_A,
            "ResourceId.1=sg-0000000000000000a&ResourceId.2=key-0000000000000000a"
            "&Tag.1.Key=Name&Tag.1.Value=web+server&Tag.2.Key=env&Tag.2.Value=prod"
            "&Tag.3.Key=empty");
    CHECK_INT(run(r), CLC_OK);
    CHECK(strstr(doc(&e, r), "<return>true</return>") != NULL);

    r = req(&e, "DescribeTags", ACCT_A, "");
    CHECK_INT(clc_tags_load(r, "sg-0000000000000000a", &ts), CLC_OK);
    CHECK_INT(ts.n, 3);
    CHECK_STR(ts.tags[0].key, "Name");
    CHECK_STR(ts.tags[0].value, "web server");
    CHECK_STR(ts.tags[1].key, "empty");
    CHECK_STR(ts.tags[1].value, "");
    /* Another account sees no tags on it. */
    r = req(&e, "DescribeTags", ACCT_B, "");
    CHECK_INT(clc_tags_load(r, "sg-0000000000000000a", &ts), CLC_OK);
    CHECK_INT(ts.n, 0);

    /* Overwrite a value. */
    r = req(&e, "CreateTags", ACCT_A,
            "ResourceId.1=sg-0000000000000000a&Tag.1.Key=env&Tag.1.Value=staging");
    CHECK_INT(run(r), CLC_OK);

    /* DescribeTags with filters. */
    r = req(&e, "DescribeTags", ACCT_A, "Filter.1.Name=resource-type&Filter.1.Value.1=key-pair");
    CHECK_INT(run(r), CLC_OK);
    d = doc(&e, r);
    CHECK_INT(count_of(d, "<item>"), 3);
    CHECK(strstr(d, "<resourceType>key-pair</resourceType>") != NULL);
    CHECK(strstr(d, "security-group") == NULL);
    r = req(&e, "DescribeTags", ACCT_A,
            "Filter.1.Name=key&Filter.1.Value.1=env&Filter.2.Name=value&Filter.2.Value.1=stag*");
    CHECK_INT(run(r), CLC_OK);
    d = doc(&e, r);
    CHECK_INT(count_of(d, "<item>"), 1);
    CHECK_STR(elem(&e, d, "resourceId"), "sg-0000000000000000a");
    CHECK_STR(elem(&e, d, "value"), "staging");
    r = req(&e, "DescribeTags", ACCT_A, "Filter.1.Name=bogus&Filter.1.Value.1=x");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");

    /* Account B sees none of A's tags. */
    r = req(&e, "DescribeTags", ACCT_B, "");
    CHECK_INT(run(r), CLC_OK);
    CHECK_INT(count_of(doc(&e, r), "<item>"), 0);

    /* Pagination: 6 tags in pages of 5. */
    r = req(&e, "DescribeTags", ACCT_A, "MaxResults=5");
    CHECK_INT(run(r), CLC_OK);
    d = doc(&e, r);
    CHECK_INT(count_of(d, "<item>"), 5);
    tok = elem(&e, d, "nextToken");
    CHECK(tok != NULL);
    r = req(&e, "DescribeTags", ACCT_A,
            oc_arena_printf(e.arena, "MaxResults=5&NextToken=%s", tok ? tok : ""));
    CHECK_INT(run(r), CLC_OK);
    d = doc(&e, r);
    CHECK_INT(count_of(d, "<item>"), 1);
    CHECK(elem(&e, d, "nextToken") == NULL);
    /* Exactly a page: no token. */
    r = req(&e, "DescribeTags", ACCT_A, "MaxResults=6");
    CHECK_INT(run(r), CLC_OK);
    CHECK(elem(&e, doc(&e, r), "nextToken") == NULL);

    /* DeleteTags: value must match; "" means only empty values. */
    r = req(&e, "DeleteTags", ACCT_A,
            "ResourceId.1=sg-0000000000000000a&Tag.1.Key=env&Tag.1.Value=prod");
    CHECK_INT(run(r), CLC_OK);
    r = req(&e, "DescribeTags", ACCT_A, "");
    CHECK_INT(clc_tags_load(r, "sg-0000000000000000a", &ts), CLC_OK);
    CHECK_INT(ts.n, 3);
    r = req(&e, "DeleteTags", ACCT_A,
            "ResourceId.1=sg-0000000000000000a&Tag.1.Key=Name&Tag.1.Value=&Tag.2.Key=empty"
            "&Tag.2.Value=");
    CHECK_INT(run(r), CLC_OK);
    r = req(&e, "DescribeTags", ACCT_A, "");
    CHECK_INT(clc_tags_load(r, "sg-0000000000000000a", &ts), CLC_OK);
    CHECK_INT(ts.n, 2);
    CHECK_STR(ts.tags[0].key, "Name");
    CHECK_STR(ts.tags[1].key, "env");
    r = req(&e, "DeleteTags", ACCT_A, "ResourceId.1=sg-0000000000000000a&Tag.1.Key=env");
    CHECK_INT(run(r), CLC_OK);
    r = req(&e, "DescribeTags", ACCT_A, "");
    CHECK_INT(clc_tags_load(r, "sg-0000000000000000a", &ts), CLC_OK);
    CHECK_INT(ts.n, 1);
    /* No Tag.N: all tags of the resource. */
    r = req(&e, "DeleteTags", ACCT_A, "ResourceId.1=key-0000000000000000a");
    CHECK_INT(run(r), CLC_OK);
    r = req(&e, "DescribeTags", ACCT_A, "");
    CHECK_INT(clc_tags_load(r, "key-0000000000000000a", &ts), CLC_OK);
    CHECK_INT(ts.n, 0);
    /* Drop. */
    r = req(&e, "DescribeTags", ACCT_A, "");
    CHECK_INT(clc_tags_drop(r, "sg-0000000000000000a"), CLC_OK);
    CHECK_INT(clc_tags_load(r, "sg-0000000000000000a", &ts), CLC_OK);
    CHECK_INT(ts.n, 0);
    env_close(&e);
}

OC_TEST(clc_tags_refusals)
{
    struct env e;
    struct clc_req *r;
    struct clc_tagset ts;
    struct oc_buf q = { 0 };

    CHECK_INT(env_open(&e, "tags_refused"), 0);
    seed(&e);

    /* Another account's group: NotFound, and nothing is written. */
    r = req(&e, "CreateTags", ACCT_A,
            "ResourceId.1=sg-0000000000000000a&ResourceId.2=sg-0000000000000000b"
            "&Tag.1.Key=k&Tag.1.Value=v");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidGroup.NotFound");
    r = req(&e, "X", ACCT_A, "");
    CHECK_INT(clc_tags_load(r, "sg-0000000000000000a", &ts), CLC_OK);
    CHECK_INT(ts.n, 0);
    r = req(&e, "DeleteTags", ACCT_A, "ResourceId.1=sg-0000000000000000b");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidGroup.NotFound");

    r = req(&e, "CreateTags", ACCT_A, "ResourceId.1=ami-deadbeef&Tag.1.Key=k");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidAMIID.NotFound");
    r = req(&e, "CreateTags", ACCT_A, "ResourceId.1=foo-123&Tag.1.Key=k");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidID");
    r = req(&e, "CreateTags", ACCT_A, "Tag.1.Key=k");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "MissingParameter");
    r = req(&e, "CreateTags", ACCT_A, "ResourceId.1=sg-0000000000000000a");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "MissingParameter");
    r = req(&e, "CreateTags", ACCT_A, "ResourceId.1=sg-0000000000000000a&Tag.1.Key=aws%3Ax");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    r = req(&e, "CreateTags", ACCT_A, "ResourceId.1=sg-0000000000000000a&Tag.1.Value=v");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    r = req(&e, "CreateTags", ACCT_A,
            "ResourceId.1=sg-0000000000000000a&Tag.1.Key=a&Tag.2.Key=a");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");

    /* Lengths are counted in characters: 128 two-byte characters pass. */
    CHECK_INT(oc_buf_puts(&q, "ResourceId.1=sg-0000000000000000a&Tag.1.Key="), 0);
    for (int i = 0; i < 128; i++)
        CHECK_INT(oc_buf_puts(&q, "%C3%A9"), 0);
    r = req(&e, "CreateTags", ACCT_A, oc_buf_cstr(&q));
    CHECK_INT(run(r), CLC_OK);
    CHECK_INT(oc_buf_puts(&q, "x"), 0);
    r = req(&e, "CreateTags", ACCT_A, oc_buf_cstr(&q));
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    oc_buf_reset(&q);
    CHECK_INT(oc_buf_puts(&q, "ResourceId.1=sg-0000000000000000a&Tag.1.Key=v&Tag.1.Value="), 0);
    for (int i = 0; i < 257; i++)
        CHECK_INT(oc_buf_putc(&q, 'x'), 0);
    r = req(&e, "CreateTags", ACCT_A, oc_buf_cstr(&q));
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");

    /* 50 tags per resource, counting those it has (one, from above). */
    oc_buf_reset(&q);
    CHECK_INT(oc_buf_puts(&q, "ResourceId.1=sg-0000000000000000a"), 0);
    for (int i = 1; i <= 49; i++)
        CHECK_INT(oc_buf_printf(&q, "&Tag.%d.Key=k%d&Tag.%d.Value=v", i, i, i), 0);
    r = req(&e, "CreateTags", ACCT_A, oc_buf_cstr(&q));
    CHECK_INT(run(r), CLC_OK);
    r = req(&e, "CreateTags", ACCT_A, "ResourceId.1=sg-0000000000000000a&Tag.1.Key=one-more");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "TagLimitExceeded");
    /* Overwriting an existing key is not a new tag. */
    r = req(&e, "CreateTags", ACCT_A,
            "ResourceId.1=sg-0000000000000000a&Tag.1.Key=k1&Tag.1.Value=new");
    CHECK_INT(run(r), CLC_OK);
    oc_buf_reset(&q);
    CHECK_INT(oc_buf_puts(&q, "ResourceId.1=key-0000000000000000a"), 0);
    for (int i = 1; i <= 51; i++)
        CHECK_INT(oc_buf_printf(&q, "&Tag.%d.Key=k%d", i, i), 0);
    r = req(&e, "CreateTags", ACCT_A, oc_buf_cstr(&q));
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "TagLimitExceeded");

    /* DryRun: DryRunOperation and nothing written. */
    r = req(&e, "CreateTags", ACCT_A,
            "ResourceId.1=key-0000000000000000a&Tag.1.Key=dry&DryRun=true");
    CHECK_INT(run(r), CLC_FAILED);
    CHECK_STR(r->err_code, "DryRunOperation");
    CHECK_INT(clc_tags_load(r, "key-0000000000000000a", &ts), CLC_OK);
    CHECK_INT(ts.n, 0);
    oc_buf_free(&q);
    env_close(&e);
}

OC_TEST(clc_tags_spec)
{
    struct env e;
    struct clc_req *r;
    struct clc_tagset ts;
    const char *d;

    CHECK_INT(env_open(&e, "tags_spec"), 0);
    seed(&e);
    r = req(&e, "CreateSecurityGroup", ACCT_A,
            "TagSpecification.1.ResourceType=security-group"
            "&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=x"
            "&TagSpecification.1.Tag.2.Key=team");
    CHECK_INT(clc_tags_check_spec(r, "security-group"), CLC_OK);
    CHECK_INT(clc_tags_from_spec(r, "security-group", "sg-0000000000000000a"), CLC_OK);
    CHECK_INT(clc_tags_load(r, "sg-0000000000000000a", &ts), CLC_OK);
    CHECK_INT(ts.n, 2);
    clc_tags_write(r, &ts);
    d = doc(&e, r);
    CHECK(strstr(d, "<tagSet><item><key>Name</key><value>x</value></item>"
                    "<item><key>team</key><value></value></item></tagSet>") != NULL);
    /* An empty set writes nothing. */
    r = req(&e, "X", ACCT_A, "");
    ts.n = 0;
    clc_tags_write(r, &ts);
    CHECK(r->xml == NULL);

    r = req(&e, "CreateSecurityGroup", ACCT_A,
            "TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=a");
    CHECK_INT(clc_tags_check_spec(r, "security-group"), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    r = req(&e, "CreateSecurityGroup", ACCT_A, "TagSpecification.1.Tag.1.Key=a");
    CHECK_INT(clc_tags_check_spec(r, "security-group"), CLC_FAILED);
    CHECK_STR(r->err_code, "InvalidParameterValue");
    r = req(&e, "CreateSecurityGroup", ACCT_A, "TagSpecification.1.ResourceType=security-group");
    CHECK_INT(clc_tags_check_spec(r, "security-group"), CLC_FAILED);
    r = req(&e, "CreateSecurityGroup", ACCT_A,
            "TagSpecification.1.ResourceType=security-group&TagSpecification.1.Tag.1.Key=a"
            "&TagSpecification.2.ResourceType=security-group&TagSpecification.2.Tag.1.Key=b");
    CHECK_INT(clc_tags_check_spec(r, "security-group"), CLC_FAILED);
    r = req(&e, "CreateSecurityGroup", ACCT_A,
            "TagSpecification.1.ResourceType=security-group&TagSpecification.1.Tag.1.Key=aws%3Ab");
    CHECK_INT(clc_tags_check_spec(r, "security-group"), CLC_FAILED);
    r = req(&e, "CreateSecurityGroup", ACCT_A,
            "TagSpecification.1.ResourceType=security-group&TagSpecification.1.Bogus=1");
    CHECK_INT(clc_tags_check_spec(r, "security-group"), CLC_FAILED);
    CHECK_STR(r->err_code, "UnknownParameter");
    /* No specification at all is fine. */
    r = req(&e, "CreateSecurityGroup", ACCT_A, "GroupName=x");
    CHECK_INT(clc_tags_check_spec(r, "security-group"), CLC_OK);
    CHECK_INT(clc_tags_from_spec(r, "security-group", "sg-0000000000000000a"), CLC_OK);
    env_close(&e);
}
