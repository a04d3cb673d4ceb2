/* Unit tests for the identity store (common/creds.c). */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/creds.h"

static void store_paths(const char *name, char *db, char *key, size_t n)
{
    snprintf(db, n, "%s/%s.db", oc_test_tmpdir(), name);
    snprintf(key, n, "%s/%s.key", oc_test_tmpdir(), name);
}

OC_TEST(creds_account_user_key_lifecycle)
{
    char db[256], key[256], id[OC_ACCOUNT_ID_LEN + 1], id2[OC_ACCOUNT_ID_LEN + 1];
    struct oc_credstore *s;
    struct oc_principal p, q;
    struct oc_err err = { 0 };
    struct oc_cred_source src;
    struct stat st;

    store_paths("creds1", db, key, sizeof(db));
    CHECK_INT(oc_credstore_open(db, key, &s, &err), 0);
    CHECK_INT(stat(key, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    CHECK_INT(oc_credstore_account_create(s, "eucalyptus", id, &err), 0);
    CHECK_INT(strlen(id), 12);
    CHECK(id[0] != '0');
    CHECK_INT(oc_credstore_account_create(s, "eucalyptus", id2, &err), OC_EEXIST);
    CHECK_INT(oc_credstore_account_create(s, "Bad Name", id2, &err), OC_EINVAL);
    CHECK_INT(oc_credstore_account_find(s, "eucalyptus", id2, &err), 0);
    CHECK_STR(id2, id);
    CHECK_INT(oc_credstore_account_find(s, "nobody", id2, &err), OC_ENOTFOUND);
    CHECK_INT(oc_credstore_user_create(s, id, "admin", &err), 0);
    CHECK_INT(oc_credstore_user_create(s, id, "admin", &err), OC_EEXIST);
    CHECK_INT(oc_credstore_user_create(s, "999999999999", "x", &err), OC_ENOTFOUND);
    CHECK_INT(oc_credstore_key_create(s, id, "admin", &p, &err), 0);
    CHECK_INT(strlen(p.access_key_id), 20);
    CHECK_INT(strlen(p.secret_key), 40);
    CHECK(p.is_admin);
    CHECK(p.active);
    CHECK_STR(p.account_name, "eucalyptus");
    CHECK_INT(oc_credstore_key_create(s, id, "ghost", &q, &err), OC_ENOTFOUND);

    src = oc_credstore_source(s);
    memset(&q, 0, sizeof(q));
    CHECK_INT(src.lookup(src.ctx, p.access_key_id, &q, &err), 0);
    CHECK_STR(q.secret_key, p.secret_key);
    CHECK_INT(src.lookup(src.ctx, "AKIANOSUCHKEY0000000", &q, &err), OC_ENOTFOUND);
    CHECK_INT(oc_credstore_key_set_active(s, p.access_key_id, 0, &err), 0);
    CHECK_INT(oc_credstore_lookup(s, p.access_key_id, &q, &err), 0);
    CHECK_INT(q.active, 0);
    oc_credstore_free(s);

    /* Reopen: same key file decrypts the secret again. */
    CHECK_INT(oc_credstore_open(db, key, &s, &err), 0);
    CHECK_INT(oc_credstore_lookup(s, p.access_key_id, &q, &err), 0);
    CHECK_STR(q.secret_key, p.secret_key);
    oc_credstore_free(s);
}

OC_TEST(creds_secret_is_not_stored_in_clear)
{
    char db[256], key[256], id[OC_ACCOUNT_ID_LEN + 1], *hay;
    struct oc_credstore *s;
    struct oc_principal p;
    struct oc_err err = { 0 };
    FILE *f;
    long n;

    store_paths("creds2", db, key, sizeof(db));
    CHECK_INT(oc_credstore_open(db, key, &s, &err), 0);
    CHECK_INT(oc_credstore_account_create(s, "acct", id, &err), 0);
    CHECK_INT(oc_credstore_user_create(s, id, "u", &err), 0);
    CHECK_INT(oc_credstore_key_create(s, id, "u", &p, &err), 0);
    oc_credstore_free(s);
    f = fopen(db, "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    hay = calloc(1, (size_t)n + 1);
    CHECK_INT(fread(hay, 1, (size_t)n, f), n);
    fclose(f);
    CHECK(memmem(hay, (size_t)n, p.secret_key, strlen(p.secret_key)) == NULL);
    free(hay);

    /* A different host key cannot decrypt. */
    snprintf(key, sizeof(key), "%s/other.key", oc_test_tmpdir());
    CHECK_INT(oc_credstore_open(db, key, &s, &err), 0);
    {
        struct oc_principal q;
        CHECK_INT(oc_credstore_lookup(s, p.access_key_id, &q, &err), OC_EINTERNAL);
    }
    oc_credstore_free(s);
}
