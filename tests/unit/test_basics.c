/* Unit tests for the small common modules: buf, arena, codec, query, config,
 * xml, range, ids, fsutil. */
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/db.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/query.h"
#include "common/range.h"
#include "common/xml.h"

#include <libxml/xmlwriter.h>

OC_TEST(buf_grows_and_terminates)
{
    struct oc_buf b = { 0 };

    CHECK_STR(oc_buf_cstr(&b), "");
    for (int i = 0; i < 1000; i++)
        CHECK_INT(oc_buf_printf(&b, "%d,", i), 0);
    CHECK(b.len > 3000);
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    CHECK_INT(b.data[b.len], '\0');
    oc_buf_reset(&b);
    CHECK_STR(oc_buf_cstr(&b), "");
    oc_buf_free(&b);
    oc_buf_free(NULL);
}

static int deferred_ran;
static void mark_deferred(void *arg)
{
    deferred_ran = *(int *)arg;
}

OC_TEST(arena_allocates_and_runs_defers)
{
    struct oc_arena *a = oc_arena_new();
    static int seven = 7;
    char *big = oc_arena_alloc(a, 100000);

    CHECK(big != NULL);
    big[99999] = 'x';
    for (int i = 0; i < 5000; i++) {
        char *s = oc_arena_printf(a, "item-%d", i);
        CHECK(s && strncmp(s, "item-", 5) == 0);
    }
    CHECK_STR(oc_arena_strndup(a, "abcdef", 3), "abc");
    oc_arena_defer(a, mark_deferred, &seven);
    oc_arena_free(a);
    CHECK_INT(deferred_ran, 7);
    oc_arena_free(NULL);
}

OC_TEST(hex_and_base64)
{
    uint8_t raw[4] = { 0xde, 0xad, 0xbe, 0xef }, back[8];
    char hex[9];
    struct oc_buf b = { 0 };

    oc_hex_encode(raw, 4, hex);
    CHECK_STR(hex, "deadbeef");
    CHECK_INT(oc_hex_decode("DEADbeef", 8, back, sizeof(back)), 4);
    CHECK(memcmp(back, raw, 4) == 0);
    CHECK_INT(oc_hex_decode("abc", 3, back, sizeof(back)), -1);
    CHECK_INT(oc_hex_decode("zz", 2, back, sizeof(back)), -1);
    CHECK_INT(oc_base64_encode((const uint8_t *)"hello", 5, &b), 0);
    CHECK_STR(oc_buf_cstr(&b), "aGVsbG8=");
    CHECK_INT(oc_base64_decode("aGVsbG8=", 8, back, sizeof(back)), 5);
    CHECK(memcmp(back, "hello", 5) == 0);
    CHECK_INT(oc_base64_decode("aGVsbG8", 7, back, sizeof(back)), -1);
    CHECK_INT(oc_base64_decode("a=VsbG8=", 8, back, sizeof(back)), -1);
    CHECK_INT(oc_base64_decode("aGVs!G8=", 8, back, sizeof(back)), -1);
    oc_buf_free(&b);
}

OC_TEST(digests_known_values)
{
    char hex[65];
    uint8_t md5[16], mac[32];
    struct oc_digest *d = oc_digest_new(OC_DIGEST_MD5);

    oc_sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    oc_md5("abc", 3, md5);
    oc_hex_encode(md5, 16, hex);
    CHECK_STR(hex, "900150983cd24fb0d6963f7d28e17f72");
    /* Incremental equals one-shot. */
    oc_digest_update(d, "a", 1);
    oc_digest_update(d, "bc", 2);
    CHECK_INT(oc_digest_final(d, md5), 16);
    oc_hex_encode(md5, 16, hex);
    CHECK_STR(hex, "900150983cd24fb0d6963f7d28e17f72");
    oc_digest_free(d);
    /* RFC 4231 test case 2. */
    oc_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    oc_hex_encode(mac, 32, hex);
    CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(oc_ct_equal("abc", 3, "abc", 3));
    CHECK(!oc_ct_equal("abc", 3, "abd", 3));
    CHECK(!oc_ct_equal("abc", 3, "abcd", 4));
}

OC_TEST(uri_encode_and_decode)
{
    struct oc_buf b = { 0 };

    CHECK_INT(oc_uri_encode("a b/c~d*e+f", 11, 1, &b), 0);
    CHECK_STR(oc_buf_cstr(&b), "a%20b/c~d%2Ae%2Bf");
    oc_buf_reset(&b);
    CHECK_INT(oc_uri_encode("a/b", 3, 0, &b), 0);
    CHECK_STR(oc_buf_cstr(&b), "a%2Fb");
    oc_buf_reset(&b);
    CHECK_INT(oc_uri_encode("\xc3\xa9", 2, 0, &b), 0);
    CHECK_STR(oc_buf_cstr(&b), "%C3%A9");
    oc_buf_reset(&b);
    CHECK_INT(oc_url_decode("a%20b+c%2f", 10, 1, &b), 0);
    CHECK_STR(oc_buf_cstr(&b), "a b c/");
    oc_buf_reset(&b);
    CHECK_INT(oc_url_decode("a+b", 3, 0, &b), 0);
    CHECK_STR(oc_buf_cstr(&b), "a+b");
    oc_buf_reset(&b);
    CHECK_INT(oc_url_decode("bad%2", 5, 0, &b), OC_EINVAL);
    oc_buf_reset(&b);
    CHECK_INT(oc_url_decode("bad%zz", 6, 0, &b), OC_EINVAL);
    oc_buf_reset(&b);
    CHECK_INT(oc_url_decode("nul%00", 6, 0, &b), OC_EINVAL);
    oc_buf_free(&b);
}

OC_TEST(query_parse_and_lists)
{
    struct oc_arena *a = oc_arena_new();
    struct oc_query q;
    struct oc_err err = { 0 };
    const char **vals;
    size_t n;
    const char *raw = "acl&prefix=a%2Fb&max-keys=10&empty=&Name.2=two&Name.1=one+1&Name.10=ten";

    CHECK_INT(oc_query_parse(a, raw, strlen(raw), &q, &err), 0);
    CHECK_INT(q.n, 7);
    CHECK(oc_query_has(&q, "acl"));
    CHECK_INT(q.items[0].has_value, 0);
    CHECK_STR(oc_query_get(&q, "prefix"), "a/b");
    CHECK_STR(oc_query_get(&q, "empty"), "");
    CHECK_INT(q.items[3].has_value, 1);
    CHECK(oc_query_get(&q, "missing") == NULL);
    CHECK_INT(oc_query_list(a, &q, "Name", &vals, &n, &err), 0);
    CHECK_INT(n, 3);
    CHECK_STR(vals[0], "one 1");
    CHECK_STR(vals[1], "two");
    CHECK_STR(vals[2], "ten");

    /* Duplicated index is an error. */
    raw = "Id.1=a&Id.1=b";
    CHECK_INT(oc_query_parse(a, raw, strlen(raw), &q, &err), 0);
    CHECK_INT(oc_query_list(a, &q, "Id", &vals, &n, &err), OC_EINVAL);
    /* Malformed escapes are rejected. */
    raw = "a=%zz";
    CHECK_INT(oc_query_parse(a, raw, strlen(raw), &q, &err), OC_EINVAL);
    /* Empty segments are skipped. */
    raw = "&&a=1&&";
    CHECK_INT(oc_query_parse(a, raw, strlen(raw), &q, &err), 0);
    CHECK_INT(q.n, 1);
    oc_arena_free(a);
}

OC_TEST(query_too_many_params)
{
    struct oc_arena *a = oc_arena_new();
    struct oc_buf b = { 0 };
    struct oc_query q;
    struct oc_err err = { 0 };

    for (int i = 0; i < OC_QUERY_MAX_PARAMS + 1; i++)
        CHECK_INT(oc_buf_printf(&b, "p%d=1&", i), 0);
    CHECK_INT(oc_query_parse(a, b.data, b.len, &q, &err), OC_ETOOBIG);
    oc_buf_free(&b);
    oc_arena_free(a);
}

OC_TEST(query_filters)
{
    struct oc_arena *a = oc_arena_new();
    struct oc_query q;
    struct oc_err err = { 0 };
    struct oc_filter *f;
    size_t n;
    const char *raw = "Filter.2.Name=tag%3AEnv&Filter.2.Value.1=prod&Filter.1.Name=instance-state-name"
                      "&Filter.1.Value.2=stopped&Filter.1.Value.1=running";

    CHECK_INT(oc_query_parse(a, raw, strlen(raw), &q, &err), 0);
    CHECK_INT(oc_query_filters(a, &q, &f, &n, &err), 0);
    CHECK_INT(n, 2);
    CHECK_STR(f[0].name, "instance-state-name");
    CHECK_INT(f[0].nvalues, 2);
    CHECK_STR(f[0].values[0], "running");
    CHECK_STR(f[0].values[1], "stopped");
    CHECK_STR(f[1].name, "tag:Env");
    CHECK_STR(f[1].values[0], "prod");
    raw = "Filter.1.Value.1=x";
    CHECK_INT(oc_query_parse(a, raw, strlen(raw), &q, &err), 0);
    CHECK_INT(oc_query_filters(a, &q, &f, &n, &err), OC_EINVAL);
    raw = "Filter.x.Name=y";
    CHECK_INT(oc_query_parse(a, raw, strlen(raw), &q, &err), 0);
    CHECK_INT(oc_query_filters(a, &q, &f, &n, &err), OC_EINVAL);
    oc_arena_free(a);
}

OC_TEST(config_parse)
{
    struct oc_config *c = oc_config_new();
    struct oc_err err = { 0 };
    long long v;
    const char *text = "# Overcast\n"
                       "WALRUS_PORT=\"8780\"\n"
                       "  VNET_MODE=\"MANAGED-NOVLAN\"   # trailing comment\n"
                       "export LOGLEVEL='DEBUG'\n"
                       "EMPTY=\"\"\n"
                       "UNQUOTED=plain value  \n"
                       "ESCAPED=\"a \\\"quoted\\\" word\"\n"
                       "WALRUS_PORT=\"8781\"\n";

    CHECK_INT(oc_config_parse(c, text, strlen(text), &err), 0);
    CHECK_STR(oc_config_get(c, "WALRUS_PORT", NULL), "8781");
    CHECK_STR(oc_config_get(c, "VNET_MODE", NULL), "MANAGED-NOVLAN");
    CHECK_STR(oc_config_get(c, "LOGLEVEL", NULL), "DEBUG");
    CHECK_STR(oc_config_get(c, "EMPTY", "x"), "");
    CHECK_STR(oc_config_get(c, "UNQUOTED", NULL), "plain value");
    CHECK_STR(oc_config_get(c, "ESCAPED", NULL), "a \"quoted\" word");
    CHECK_STR(oc_config_get(c, "MISSING", "dflt"), "dflt");
    CHECK_INT(oc_config_get_int(c, "WALRUS_PORT", 0, &v, &err), 0);
    CHECK_INT(v, 8781);
    CHECK_INT(oc_config_get_int(c, "VNET_MODE", 0, &v, &err), OC_EINVAL);
    setenv("OVERCAST_VNET_MODE", "SYSTEM", 1);
    CHECK_STR(oc_config_get(c, "VNET_MODE", NULL), "SYSTEM");
    unsetenv("OVERCAST_VNET_MODE");
    oc_config_free(c);

    c = oc_config_new();
    text = "GOOD=\"1\"\nBAD LINE\n";
    CHECK_INT(oc_config_parse(c, text, strlen(text), &err), OC_EINVAL);
    CHECK(strstr(err.msg, "line 2") != NULL);
    text = "KEY=\"unterminated\n";
    CHECK_INT(oc_config_parse(c, text, strlen(text), &err), OC_EINVAL);
    text = "KEY=\"v\" junk\n";
    CHECK_INT(oc_config_parse(c, text, strlen(text), &err), OC_EINVAL);
    text = "=v\n";
    CHECK_INT(oc_config_parse(c, text, strlen(text), &err), OC_EINVAL);
    oc_config_free(c);
}

OC_TEST(xml_escape_and_writer)
{
    struct oc_buf b = { 0 };
    struct oc_xmlw *w;
    struct oc_err err = { 0 };
    xmlDocPtr doc;
    char *t;

    CHECK_INT(oc_xml_escape("a<b>&\"c'", 9, &b), 0);
    CHECK_STR(oc_buf_cstr(&b), "a&lt;b&gt;&amp;&quot;c&apos;");
    oc_buf_reset(&b);

    w = oc_xmlw_new("ListBucketResult", "http://s3.amazonaws.com/doc/2006-03-01/");
    oc_xmlw_elem(w, "Name", "b<&>");
    oc_xmlw_start(w, "Contents");
    oc_xmlw_elem_u64(w, "Size", 18446744073709551615ULL);
    oc_xmlw_end(w);
    CHECK_INT(oc_xmlw_finish(w, &b), 0);
    oc_xmlw_free(w);
    CHECK(strstr(oc_buf_cstr(&b), "<Name>b&lt;&amp;&gt;</Name>") != NULL);
    CHECK(strstr(oc_buf_cstr(&b), "<Size>18446744073709551615</Size>") != NULL);
    CHECK(strstr(oc_buf_cstr(&b), "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"") != NULL);

    /* Round trip through the reader. */
    doc = oc_xml_parse(b.data, b.len, &err);
    CHECK(doc != NULL);
    if (doc) {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        t = oc_xml_text(oc_xml_child(root, "Name"));
        CHECK_STR(t, "b<&>");
        xmlFree(t);
        CHECK(oc_xml_child(root, "Nope") == NULL);
        xmlFreeDoc(doc);
    }
    oc_buf_free(&b);
}

/* The writer's fast path for text that needs no escaping gives exactly the
 * bytes libxml2's own xmlTextWriterWriteElement() gives, for every text. */
OC_TEST(xml_writer_matches_libxml2)
{
    static const char *const texts[] = {
        "", "sg-0123456789abcdef0", "plain words", "a<b", "a>b", "a&b", "say \"hi\"",
        "line\r\nnext", "tab\there", "it's", "caf\xc3\xa9 \xe2\x82\xac", "]]>", "&amp;",
    };
    char long_text[5000];

    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    long_text[4000] = '&';
    for (size_t i = 0; i <= sizeof(texts) / sizeof(texts[0]); i++) {
        const char *text = i < sizeof(texts) / sizeof(texts[0]) ? texts[i] : long_text;
        struct oc_buf ours = { 0 };
        struct oc_xmlw *w = oc_xmlw_new("R", "urn:x");
        xmlBufferPtr lb = xmlBufferCreate();
        xmlTextWriterPtr lw = xmlNewTextWriterMemory(lb, 0);

        oc_xmlw_start(w, "item");
        oc_xmlw_elem(w, "value", text);
        oc_xmlw_start(w, "t");
        oc_xmlw_text(w, text);
        oc_xmlw_end(w);
        oc_xmlw_end(w);
        CHECK_INT(oc_xmlw_finish(w, &ours), 0);
        oc_xmlw_free(w);

        xmlTextWriterStartDocument(lw, "1.0", "UTF-8", NULL);
        xmlTextWriterStartElement(lw, BAD_CAST "R");
        xmlTextWriterWriteAttribute(lw, BAD_CAST "xmlns", BAD_CAST "urn:x");
        xmlTextWriterStartElement(lw, BAD_CAST "item");
        xmlTextWriterWriteElement(lw, BAD_CAST "value", BAD_CAST text);
        xmlTextWriterStartElement(lw, BAD_CAST "t");
        xmlTextWriterWriteString(lw, BAD_CAST text);
        xmlTextWriterEndDocument(lw);
        xmlFreeTextWriter(lw);
        CHECK_INT((long)ours.len, (long)xmlBufferLength(lb));
        CHECK(ours.len == (size_t)xmlBufferLength(lb) &&
              memcmp(ours.data, xmlBufferContent(lb), ours.len) == 0);
        xmlBufferFree(lb);
        oc_buf_free(&ours);
    }
}

OC_TEST(xml_reader_refuses_entities_and_garbage)
{
    struct oc_err err = { 0 };
    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                      "<d>&x;</d>";
    const char *bomb = "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY a \"aaaaaaaaaa\">"
                       "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><d>&b;</d>";

    CHECK(oc_xml_parse(xxe, strlen(xxe), &err) == NULL);
    CHECK(oc_xml_parse(bomb, strlen(bomb), &err) == NULL);
    CHECK(oc_xml_parse("<a><b></a>", 10, &err) == NULL);
    CHECK(oc_xml_parse("", 0, &err) == NULL);
}

OC_TEST(range_parse)
{
    uint64_t a = 0, b = 0;

    CHECK_INT(oc_range_parse(NULL, 100, &a, &b), OC_RANGE_NONE);
    CHECK_INT(oc_range_parse("bytes=0-9", 100, &a, &b), OC_RANGE_OK);
    CHECK_INT(a, 0);
    CHECK_INT(b, 9);
    CHECK_INT(oc_range_parse("bytes=90-200", 100, &a, &b), OC_RANGE_OK);
    CHECK_INT(b, 99);
    CHECK_INT(oc_range_parse("bytes=50-", 100, &a, &b), OC_RANGE_OK);
    CHECK_INT(a, 50);
    CHECK_INT(b, 99);
    CHECK_INT(oc_range_parse("bytes=-10", 100, &a, &b), OC_RANGE_OK);
    CHECK_INT(a, 90);
    CHECK_INT(b, 99);
    CHECK_INT(oc_range_parse("bytes=-1000", 100, &a, &b), OC_RANGE_OK);
    CHECK_INT(a, 0);
    CHECK_INT(oc_range_parse("bytes=100-", 100, &a, &b), OC_RANGE_UNSATISFIABLE);
    CHECK_INT(oc_range_parse("bytes=-0", 100, &a, &b), OC_RANGE_UNSATISFIABLE);
    CHECK_INT(oc_range_parse("bytes=0-0", 0, &a, &b), OC_RANGE_UNSATISFIABLE);
    CHECK_INT(oc_range_parse("bytes=5-3", 100, &a, &b), OC_RANGE_NONE);
    CHECK_INT(oc_range_parse("bytes=0-1,5-6", 100, &a, &b), OC_RANGE_NONE);
    CHECK_INT(oc_range_parse("items=0-1", 100, &a, &b), OC_RANGE_NONE);
    CHECK_INT(oc_range_parse("bytes=x-1", 100, &a, &b), OC_RANGE_NONE);
    CHECK_INT(oc_range_parse("bytes=99999999999999999999999-", 100, &a, &b), OC_RANGE_NONE);
}

OC_TEST(ids_shapes)
{
    char rid[OC_REQUEST_ID_LEN + 1], rid2[OC_REQUEST_ID_LEN + 1], hex[33], res[32];

    oc_request_id(rid);
    oc_request_id(rid2);
    CHECK_INT(strlen(rid), OC_REQUEST_ID_LEN);
    CHECK(strcmp(rid, rid2) != 0);
    oc_random_hex(hex, 16);
    CHECK_INT(strlen(hex), 32);
    CHECK_INT(strspn(hex, "0123456789abcdef"), 32);
    oc_resource_id("i", res);
    CHECK_INT(strlen(res), 19);
    CHECK(strncmp(res, "i-", 2) == 0);
}

OC_TEST(fsutil_atomic_write_and_read)
{
    char path[256], *data = NULL;
    size_t len = 0;
    struct oc_err err = { 0 };

    snprintf(path, sizeof(path), "%s/fs/a/b", oc_test_tmpdir());
    CHECK_INT(oc_mkdirs(path, 0700, &err), 0);
    snprintf(path, sizeof(path), "%s/fs/a/b/file", oc_test_tmpdir());
    CHECK_INT(oc_write_file_atomic(path, "hello", 5, 0600, &err), 0);
    CHECK_INT(oc_read_file(path, 100, &data, &len, &err), 0);
    CHECK_INT(len, 5);
    CHECK_STR(data, "hello");
    free(data);
    CHECK_INT(oc_read_file(path, 3, &data, &len, &err), OC_ETOOBIG);
    snprintf(path, sizeof(path), "%s/fs/missing", oc_test_tmpdir());
    CHECK_INT(oc_read_file(path, 3, &data, &len, &err), OC_ENOTFOUND);
}

/* oc_db_run binds by the types string, refuses a count that does not
 * match the statement, and reports constraint violations as OC_EEXIST. */
OC_TEST(db_run_binds_and_checks)
{
    static const struct oc_migration m[] = {
        { 1, "CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, b BLOB)" },
    };
    char path[256];
    struct oc_db *db = NULL;
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    int changes = -1;

    snprintf(path, sizeof(path), "%s/run.db", oc_test_tmpdir());
    CHECK_INT(oc_db_open(path, m, 1, &db, &err), OC_OK);
    CHECK_INT(oc_db_run(db, "INSERT INTO t VALUES (?, ?, ?)", &changes, &err, "sib", "a", 42LL,
                        (const void *)"xyz", (size_t)3), OC_OK);
    CHECK_INT(changes, 1);
    CHECK_INT(oc_db_run(db, "INSERT INTO t VALUES (?, ?, ?)", NULL, &err, "sib", "a", 1LL,
                        (const void *)NULL, (size_t)0), OC_EEXIST);
    CHECK_INT(oc_db_run(db, "INSERT INTO t VALUES (?, ?, ?)", NULL, &err, "si", "b", 1LL),
              OC_EINTERNAL);
    CHECK(strstr(err.msg, "2 values for 3 parameters") != NULL);
    st = oc_db_prepare(db, "SELECT n, length(b) FROM t WHERE k = 'a'", &err);
    CHECK(st != NULL);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(st, 0), 42);
    CHECK_INT(sqlite3_column_int(st, 1), 3);
    sqlite3_reset(st);
    oc_db_close(db);
}
