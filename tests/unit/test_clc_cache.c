/* Unit tests for the CLC's answer cache and the generation of clc.db
 * (clc/cache.c). */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <string.h>

#include "clc/cache.h"
#include "common/arena.h"
#include "common/creds.h"
#include "common/db.h"
#include "common/query.h"

static struct oc_principal who_of(const char *account, const char *user, int admin)
{
    struct oc_principal p;

    memset(&p, 0, sizeof(p));
    snprintf(p.account_id, sizeof(p.account_id), "%s", account);
    snprintf(p.user_name, sizeof(p.user_name), "%s", user);
    p.is_admin = admin;
    return p;
}

/* The key of a raw query string. */
static int key_of(int api, const struct oc_principal *who, const char *raw, struct oc_buf *key)
{
    struct oc_arena *a = oc_arena_new();
    struct oc_query q;
    struct oc_err err = { 0 };
    int rc = oc_query_parse(a, raw, strlen(raw), &q, &err);

    oc_buf_reset(key);
    if (rc == OC_OK)
        rc = clc_rcache_key(api, who, &q, key);
    oc_arena_free(a);
    return rc;
}

static int same_key(const struct oc_principal *w1, const char *q1,
                    const struct oc_principal *w2, const char *q2)
{
    struct oc_buf k1 = { 0 }, k2 = { 0 };
    int same;

    CHECK_INT(key_of(0, w1, q1, &k1), OC_OK);
    CHECK_INT(key_of(0, w2, q2, &k2), OC_OK);
    same = k1.len == k2.len && memcmp(k1.data, k2.data, k1.len) == 0;
    oc_buf_free(&k1);
    oc_buf_free(&k2);
    return same;
}

OC_TEST(clc_rcache_key_rules)
{
    struct oc_principal a = who_of("000000000001", "alice", 0);
    struct oc_principal b = who_of("000000000002", "alice", 0);
    struct oc_principal a_bob = who_of("000000000001", "bob", 0);
    struct oc_principal a_admin = who_of("000000000001", "alice", 1);

    /* Order of different names and the signature's parameters do not matter. */
    CHECK(same_key(&a, "Action=DescribeImages&Owner.1=self",
                   &a, "Owner.1=self&Action=DescribeImages"));
    CHECK(same_key(&a, "Action=DescribeImages&X-Amz-Date=20260101T000000Z&Signature=abc",
                   &a, "Action=DescribeImages&X-Amz-Date=20270101T000000Z&Signature=def"));
    /* Everything else does: caller, values, repeated names' order, '=' or not. */
    CHECK(!same_key(&a, "Action=DescribeImages", &b, "Action=DescribeImages"));
    CHECK(!same_key(&a, "Action=DescribeImages", &a_bob, "Action=DescribeImages"));
    CHECK(!same_key(&a, "Action=DescribeImages", &a_admin, "Action=DescribeImages"));
    CHECK(!same_key(&a, "Action=DescribeImages&Owner.1=self",
                    &a, "Action=DescribeImages&Owner.1=amazon"));
    CHECK(!same_key(&a, "Action=X&F=1&F=2", &a, "Action=X&F=2&F=1"));
    CHECK(!same_key(&a, "Action=X&F", &a, "Action=X&F="));
    /* Length prefixes: no two lists share a key. */
    CHECK(!same_key(&a, "Action=X&ab=c", &a, "Action=X&a=bc"));
}

static void put_doc(struct clc_rcache *c, const struct oc_buf *key, uint64_t gen,
                    const char *rid, const char *body)
{
    char doc[2048];

    snprintf(doc, sizeof(doc), "<R><requestId>%s</requestId>%s</R>", rid, body);
    clc_rcache_put(c, key, gen, rid, doc, strlen(doc));
}

OC_TEST(clc_rcache_hit_miss_generation)
{
    struct oc_principal a = who_of("000000000001", "alice", 0);
    struct clc_rcache *c = NULL;
    struct oc_err err = { 0 };
    struct oc_buf key = { 0 }, out = { 0 };
    struct clc_rcache_stats st;

    CHECK_INT(clc_rcache_new(1 << 20, 16, &c, &err), OC_OK);
    CHECK(c != NULL);
    CHECK_INT(key_of(0, &a, "Action=DescribeKeyPairs", &key), OC_OK);
    CHECK_INT(clc_rcache_get(c, &key, 5, "r-new", &out, NULL), 0);
    put_doc(c, &key, 5, "r-old", "<x>1</x>");
    /* A hit carries the new request's id and the rest unchanged. */
    CHECK_INT(clc_rcache_get(c, &key, 5, "r-newer-and-longer", &out, NULL), 1);
    CHECK_INT(oc_buf_puts(&out, ""), OC_OK);
    CHECK_STR(out.data, "<R><requestId>r-newer-and-longer</requestId><x>1</x></R>");
    oc_buf_reset(&out);
    /* Another generation: a miss, and the entry is gone for good. */
    CHECK_INT(clc_rcache_get(c, &key, 6, "r", &out, NULL), 0);
    CHECK_INT(clc_rcache_get(c, &key, 5, "r", &out, NULL), 0);
    CHECK_INT(out.len, 0);
    /* Generation 0 (the check failed) never stores or hits. */
    put_doc(c, &key, 0, "r0", "<x/>");
    CHECK_INT(clc_rcache_get(c, &key, 0, "r", &out, NULL), 0);
    /* A document without its own requestId is not stored. */
    clc_rcache_put(c, &key, 7, "r7", "<R><requestId>other</requestId></R>", 35);
    CHECK_INT(clc_rcache_get(c, &key, 7, "r", &out, NULL), 0);
    clc_rcache_stats(c, &st);
    CHECK_INT(st.hits, 1);
    CHECK_INT(st.entries, 0);
    oc_buf_free(&key);
    oc_buf_free(&out);
    clc_rcache_free(c);
}

OC_TEST(clc_rcache_bounds)
{
    struct oc_principal a = who_of("000000000001", "alice", 0);
    struct clc_rcache *c = NULL;
    struct oc_err err = { 0 };
    struct oc_buf key = { 0 }, out = { 0 };
    struct clc_rcache_stats st;
    char q[64];

    CHECK_INT(clc_rcache_new(1 << 20, 4, &c, &err), OC_OK);
    for (int i = 0; i < 10; i++) {
        snprintf(q, sizeof(q), "Action=D&N=%d", i);
        CHECK_INT(key_of(0, &a, q, &key), OC_OK);
        put_doc(c, &key, 1, "r", "<x/>");
        clc_rcache_stats(c, &st);
        CHECK_INT(st.entries, i < 4 ? i + 1 : 4);
    }
    clc_rcache_stats(c, &st);
    CHECK_INT(st.entries, 4);
    CHECK(st.bytes <= st.max_bytes);
    /* The oldest went first: 0..5 are gone, 6..9 are there. */
    for (int i = 0; i < 10; i++) {
        snprintf(q, sizeof(q), "Action=D&N=%d", i);
        CHECK_INT(key_of(0, &a, q, &key), OC_OK);
        oc_buf_reset(&out);
        CHECK_INT(clc_rcache_get(c, &key, 1, "r", &out, NULL), i >= 6);
    }
    clc_rcache_free(c);

    /* The byte bound: one entry may take a quarter of it at most. */
    CHECK_INT(clc_rcache_new(2048, 100, &c, &err), OC_OK);
    {
        char big[1024];

        memset(big, 'b', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        CHECK_INT(key_of(0, &a, "Action=Big", &key), OC_OK);
        put_doc(c, &key, 1, "r", big);
        CHECK_INT(clc_rcache_get(c, &key, 1, "r", &out, NULL), 0);
    }
    for (int i = 0; i < 50; i++) {
        snprintf(q, sizeof(q), "Action=D&N=%d", i);
        CHECK_INT(key_of(0, &a, q, &key), OC_OK);
        put_doc(c, &key, 1, "r", "<x>0123456789</x>");
    }
    clc_rcache_stats(c, &st);
    CHECK(st.bytes <= 2048);
    CHECK(st.entries > 0 && st.entries < 50);
    clc_rcache_free(c);
    oc_buf_free(&key);
    oc_buf_free(&out);
}

OC_TEST(clc_rcache_conf_parse)
{
    size_t b, e;
    struct oc_err err = { 0 };

    CHECK_INT(clc_rcache_conf("32M,4096", &b, &e, &err), OC_OK);
    CHECK_INT(b, 32u << 20);
    CHECK_INT(e, 4096);
    CHECK_INT(clc_rcache_conf("1k", &b, &e, &err), OC_OK);
    CHECK_INT(b, 1024);
    CHECK_INT(e, 4096);
    CHECK_INT(clc_rcache_conf("0", &b, &e, &err), OC_OK);
    CHECK_INT(b, 0);
    CHECK_INT(e, 0);
    CHECK_INT(clc_rcache_conf("1G,0", &b, &e, &err), OC_OK);
    CHECK_INT(b, 0);
    CHECK(clc_rcache_conf("", &b, &e, &err) != OC_OK);
    CHECK(clc_rcache_conf("12X", &b, &e, &err) != OC_OK);
    CHECK(clc_rcache_conf("-1", &b, &e, &err) != OC_OK);
    CHECK(clc_rcache_conf("1M,", &b, &e, &err) != OC_OK);
    CHECK(clc_rcache_conf("1M,2K", &b, &e, &err) != OC_OK);
    CHECK(clc_rcache_conf("99999999999999G", &b, &e, &err) != OC_OK);
    {
        struct clc_rcache *c = (struct clc_rcache *)1;

        CHECK_INT(clc_rcache_new(0, 0, &c, &err), OC_OK);
        CHECK(c == NULL);
    }
}

/* Any commit to the file, by any other connection, moves the generation;
 * reads do not. */
OC_TEST(clc_dbgen_follows_commits)
{
    char path[256];
    struct oc_db *w = NULL;
    struct clc_dbgen *g = NULL;
    struct oc_err err = { 0 };
    uint64_t g1, g2, g3;

    snprintf(path, sizeof(path), "%s/dbgen.db", oc_test_tmpdir());
    CHECK_INT(oc_db_open(path, NULL, 0, &w, &err), OC_OK);
    CHECK_INT(oc_db_exec(w, "CREATE TABLE t (x)", &err), OC_OK);
    CHECK_INT(clc_dbgen_open(path, &g, &err), OC_OK);
    g1 = clc_dbgen_now(g);
    CHECK(g1 >= 1);
    CHECK_INT(clc_dbgen_now(g), g1);
    CHECK_INT(oc_db_exec(w, "SELECT count(*) FROM t", &err), OC_OK);
    CHECK_INT(clc_dbgen_now(g), g1);
    CHECK_INT(oc_db_exec(w, "INSERT INTO t VALUES (1)", &err), OC_OK);
    g2 = clc_dbgen_now(g);
    CHECK(g2 != g1);
    CHECK_INT(oc_db_exec(w, "BEGIN; UPDATE t SET x = 2; ROLLBACK", &err), OC_OK);
    CHECK_INT(clc_dbgen_now(g), g2);
    CHECK_INT(oc_db_exec(w, "UPDATE t SET x = 3", &err), OC_OK);
    g3 = clc_dbgen_now(g);
    CHECK(g3 != g2 && g3 != g1);
    /* clc.db is in WAL mode: the header is read from the mapping. */
    CHECK_INT(clc_dbgen_mapped(g), 1);
    /* Every commit moves it, also right after the WAL was checkpointed and
     * truncated (the writer starts again at frame 1). */
    for (int i = 0; i < 50; i++) {
        uint64_t before;

        /* (A checkpoint may count as a change too: that only costs misses.) */
        if (i % 10 == 0)
            CHECK_INT(oc_db_exec(w, "PRAGMA wal_checkpoint(TRUNCATE)", &err), OC_OK);
        before = clc_dbgen_now(g);
        CHECK_INT(clc_dbgen_now(g), before);
        CHECK_INT(oc_db_exec(w, "UPDATE t SET x = x + 1", &err), OC_OK);
        CHECK(clc_dbgen_now(g) != before);
    }
    clc_dbgen_free(g);
    oc_db_close(w);
}

/* A lent document: the id written in place, one borrower at a time (the
 * next hit copies), and an entry dropped while lent lives until it is
 * given back (ASan checks the last part in the sanitizer build). */
OC_TEST(clc_rcache_lend)
{
    struct oc_principal a = who_of("000000000001", "alice", 0);
    struct clc_rcache *c = NULL;
    struct oc_err err = { 0 };
    struct oc_buf key = { 0 }, out = { 0 };
    struct clc_rcache_lend l1 = { 0 }, l2 = { 0 };

    CHECK_INT(clc_rcache_new(1 << 20, 16, &c, &err), OC_OK);
    CHECK_INT(key_of(0, &a, "Action=DescribeImages", &key), OC_OK);
    put_doc(c, &key, 3, "r-0001", "<x>1</x>");
    CHECK_INT(clc_rcache_get(c, &key, 3, "r-0002", &out, &l1), 2);
    CHECK_INT(out.len, 0);
    CHECK(l1.entry != NULL);
    CHECK_INT(l1.len, strlen("<R><requestId>r-0002</requestId><x>1</x></R>"));
    CHECK(memcmp(l1.doc, "<R><requestId>r-0002</requestId><x>1</x></R>", l1.len) == 0);
    /* Lent: the next hit copies, with its own id; the lent bytes stay. */
    CHECK_INT(clc_rcache_get(c, &key, 3, "r-0003", &out, &l2), 1);
    CHECK(l2.entry == NULL);
    CHECK_INT(oc_buf_puts(&out, ""), OC_OK);
    CHECK_STR(out.data, "<R><requestId>r-0003</requestId><x>1</x></R>");
    CHECK(memcmp(l1.doc, "<R><requestId>r-0002</requestId><x>1</x></R>", l1.len) == 0);
    /* An id of another length is never written in place. */
    clc_rcache_return(l1.entry);
    oc_buf_reset(&out);
    CHECK_INT(clc_rcache_get(c, &key, 3, "r-00004", &out, &l2), 1);
    CHECK(l2.entry == NULL);
    /* Given back, it can be lent again. */
    oc_buf_reset(&out);
    CHECK_INT(clc_rcache_get(c, &key, 3, "r-0005", &out, &l1), 2);
    /* Dropped while lent (a newer generation): the bytes stay readable
     * until returned, and the table no longer has it. */
    CHECK_INT(clc_rcache_get(c, &key, 4, "r-0006", &out, &l2), 0);
    CHECK(memcmp(l1.doc, "<R><requestId>r-0005</requestId><x>1</x></R>", l1.len) == 0);
    clc_rcache_return(l1.entry);
    CHECK_INT(clc_rcache_get(c, &key, 3, "r-0007", &out, &l2), 0);
    oc_buf_free(&key);
    oc_buf_free(&out);
    clc_rcache_free(c);
}
