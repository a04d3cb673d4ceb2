/* Unit tests for the CLC identity store (clc/identity.c) and the credential
 * source operations of common/creds.c. */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clc/identity.h"
#include "clc/schema.h"
#include "common/codec.h"
#include "common/sigv4.h"

struct fixture {
    char db[256], key[256];
    struct oc_dbpool *pool;
    struct clc_identity *id;
    struct oc_db *conn;
};

static int fixture_open(struct fixture *f, const char *name, const char *keyname)
{
    const struct oc_migration *m;
    size_t n;
    struct oc_err err = { 0 };

    snprintf(f->db, sizeof(f->db), "%s/%s.db", oc_test_tmpdir(), name);
    snprintf(f->key, sizeof(f->key), "%s/%s.key", oc_test_tmpdir(), keyname);
    m = clc_schema(&n);
    if (oc_dbpool_new(f->db, m, n, &f->pool, &err) != OC_OK)
        return -1;
    if (clc_identity_open(f->key, f->pool, &f->id, &err) != OC_OK)
        return -1;
    f->conn = oc_dbpool_get(f->pool, &err);
    return f->conn ? 0 : -1;
}

static void fixture_close(struct fixture *f)
{
    oc_dbpool_put(f->pool, f->conn);
    clc_identity_free(f->id);
    oc_dbpool_free(f->pool);
}

OC_TEST(identity_account_user_key_lifecycle)
{
    struct fixture f;
    struct clc_account a, b;
    struct clc_user u;
    struct clc_access_key k, k2;
    struct oc_principal p;
    struct oc_err err = { 0 };
    struct oc_cred_source src;
    char secret[OC_SECRET_KEY_LEN + 1], secret2[OC_SECRET_KEY_LEN + 1];
    struct stat st;

    CHECK_INT(fixture_open(&f, "ident1", "ident1"), 0);
    CHECK_INT(stat(f.key, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    CHECK_INT(clc_account_create(f.id, f.conn, "eucalyptus", &a, &err), 0);
    CHECK_INT(strlen(a.id), 12);
    CHECK(a.id[0] != '0');
    CHECK_INT(clc_account_create(f.id, f.conn, "eucalyptus", &b, &err), OC_EEXIST);
    CHECK_INT(clc_account_create(f.id, f.conn, "Bad Name", &b, &err), OC_EINVAL);
    CHECK_INT(clc_account_create(f.id, f.conn, "-x-", &b, &err), OC_EINVAL);
    CHECK_INT(clc_account_find(f.conn, "eucalyptus", &b, &err), 0);
    CHECK_STR(b.id, a.id);
    CHECK_INT(clc_account_find(f.conn, a.id, &b, &err), 0);
    CHECK_STR(b.name, "eucalyptus");
    CHECK_INT(clc_account_find(f.conn, "nobody", &b, &err), OC_ENOTFOUND);

    CHECK_INT(clc_user_create(f.conn, a.id, "admin", NULL, &u, &err), 0);
    CHECK_STR(u.path, "/");
    CHECK(strncmp(u.user_id, "AIDA", 4) == 0);
    CHECK_INT(clc_user_create(f.conn, a.id, "admin", NULL, &u, &err), OC_EEXIST);
    CHECK_INT(clc_user_create(f.conn, "999999999999", "x", NULL, &u, &err), OC_ENOTFOUND);
    CHECK_INT(clc_user_create(f.conn, a.id, "bad path", "/x/", &u, &err), OC_EINVAL);
    CHECK_INT(clc_user_create(f.conn, a.id, "p", "nopath", &u, &err), OC_EINVAL);

    CHECK_INT(clc_key_create(f.id, f.conn, a.id, "admin", &k, secret, &err), 0);
    CHECK_INT(strlen(k.id), 20);
    CHECK_INT(strlen(secret), 40);
    CHECK(k.active);
    CHECK_INT(clc_key_create(f.id, f.conn, a.id, "ghost", &k2, secret2, &err), OC_ENOTFOUND);

    src = clc_identity_source(f.id);
    memset(&p, 0, sizeof(p));
    CHECK_INT(src.lookup(src.ctx, k.id, &p, &err), 0);
    CHECK_STR(p.secret_key, secret);
    CHECK(p.is_admin);
    CHECK_STR(p.account_name, "eucalyptus");
    CHECK_INT(src.lookup(src.ctx, "AKIANOSUCHKEY0000000", &p, &err), OC_ENOTFOUND);

    /* Deactivation shows at once (the store flushes its cache). */
    CHECK_INT(clc_key_set_active(f.id, f.conn, k.id, 0, &err), 0);
    CHECK_INT(src.lookup(src.ctx, k.id, &p, &err), 0);
    CHECK_INT(p.active, 0);
    CHECK_INT(clc_key_set_active(f.id, f.conn, "AKIANOSUCHKEY0000000", 0, &err), OC_ENOTFOUND);

    /* A user with keys cannot go; without them it can. */
    CHECK_INT(clc_user_delete(f.id, f.conn, a.id, "admin", &err), OC_ECONFLICT);
    CHECK_INT(clc_key_delete(f.id, f.conn, k.id, &err), 0);
    CHECK_INT(src.lookup(src.ctx, k.id, &p, &err), OC_ENOTFOUND);
    CHECK_INT(clc_user_delete(f.id, f.conn, a.id, "admin", &err), 0);
    CHECK_INT(clc_user_find(f.conn, a.id, "admin", &u, &err), OC_ENOTFOUND);
    /* The admin account itself cannot be deleted. */
    CHECK_INT(clc_account_delete(f.id, f.conn, a.id, 1, &err), OC_EPERM);
    fixture_close(&f);
}

OC_TEST(identity_account_delete_recursive)
{
    struct fixture f;
    struct clc_account a;
    struct clc_user u;
    struct clc_access_key k;
    struct oc_principal p;
    struct oc_err err = { 0 };
    struct oc_cred_source src;
    char secret[OC_SECRET_KEY_LEN + 1];

    CHECK_INT(fixture_open(&f, "ident3", "ident3"), 0);
    CHECK_INT(clc_account_create(f.id, f.conn, "doomed", &a, &err), 0);
    CHECK_INT(clc_user_create(f.conn, a.id, "u", NULL, &u, &err), 0);
    CHECK_INT(clc_key_create(f.id, f.conn, a.id, "u", &k, secret, &err), 0);
    src = clc_identity_source(f.id);
    CHECK_INT(src.lookup(src.ctx, k.id, &p, &err), 0);
    CHECK_INT(clc_account_delete(f.id, f.conn, a.id, 0, &err), OC_ECONFLICT);
    CHECK_INT(clc_account_delete(f.id, f.conn, a.id, 1, &err), 0);
    CHECK_INT(clc_account_find(f.conn, "doomed", &a, &err), OC_ENOTFOUND);
    CHECK_INT(src.lookup(src.ctx, k.id, &p, &err), OC_ENOTFOUND);
    fixture_close(&f);
}

OC_TEST(identity_secret_is_sealed)
{
    struct fixture f, g;
    struct clc_account a;
    struct clc_user u;
    struct clc_access_key k;
    struct oc_principal p;
    struct oc_err err = { 0 };
    char secret[OC_SECRET_KEY_LEN + 1], *hay;
    FILE *fp;
    long n;

    CHECK_INT(fixture_open(&f, "ident2", "ident2"), 0);
    CHECK_INT(clc_account_create(f.id, f.conn, "acct", &a, &err), 0);
    CHECK_INT(clc_user_create(f.conn, a.id, "u", NULL, &u, &err), 0);
    CHECK_INT(clc_key_create(f.id, f.conn, a.id, "u", &k, secret, &err), 0);
    fixture_close(&f);
    fp = fopen(f.db, "rb");
    CHECK(fp != NULL);
    if (!fp)
        return;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    hay = calloc(1, (size_t)n + 1);
    CHECK_INT(fread(hay, 1, (size_t)n, fp), n);
    fclose(fp);
    CHECK(memmem(hay, (size_t)n, secret, strlen(secret)) == NULL);
    free(hay);

    /* The same key file decrypts; a different one cannot. */
    CHECK_INT(fixture_open(&g, "ident2", "ident2"), 0);
    CHECK_INT(clc_key_principal(g.id, g.conn, k.id, &p, &err), 0);
    CHECK_STR(p.secret_key, secret);
    fixture_close(&g);
    CHECK_INT(fixture_open(&g, "ident2", "ident2-other"), 0);
    CHECK_INT(clc_key_principal(g.id, g.conn, k.id, &p, &err), OC_EINTERNAL);
    fixture_close(&g);
}

/* A source holding one secret: oc_cred_* derive from it and wipe it. */
static int one_lookup(void *ctx, const char *akid, struct oc_principal *out,
                      struct oc_err *err)
{
    (void)ctx;
    if (strcmp(akid, "AKIDEXAMPLE") != 0)
        return oc_err_set(err, OC_ENOTFOUND, "unknown");
    memset(out, 0, sizeof(*out));
    strcpy(out->access_key_id, akid);
    strcpy(out->secret_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    out->active = 1;
    return OC_OK;
}

OC_TEST(creds_local_derivation)
{
    struct oc_cred_source src = { .lookup = one_lookup };
    struct oc_principal who;
    struct oc_err err = { 0 };
    uint8_t key[32], want[32], mac[32];
    size_t maclen = 0;
    const char *secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    CHECK_INT(oc_cred_sigv4_key(&src, "AKIDEXAMPLE", "20150830", "us-east-1", "iam", key, &who,
                                &err), 0);
    oc_sigv4_signing_key(secret, strlen(secret), "20150830", 8, "us-east-1", 9, "iam", 3, want);
    CHECK(memcmp(key, want, 32) == 0);
    CHECK_INT(who.secret_key[0], 0);
    CHECK_INT(oc_cred_sigv4_key(&src, "AKIDNOPE", "20150830", "us-east-1", "iam", key, &who,
                                &err), OC_ENOTFOUND);
    CHECK_INT(oc_cred_sigv2_sign(&src, "AKIDEXAMPLE", OC_CRED_HMAC_SHA1, "abc", 3, mac, &maclen,
                                 &who, &err), 0);
    CHECK_INT(maclen, 20);
    oc_hmac_sha1(secret, strlen(secret), "abc", 3, want);
    CHECK(memcmp(mac, want, 20) == 0);
    CHECK_INT(oc_cred_sigv2_sign(&src, "AKIDEXAMPLE", OC_CRED_HMAC_SHA256, "abc", 3, mac,
                                 &maclen, &who, &err), 0);
    CHECK_INT(maclen, 32);
    oc_hmac_sha256(secret, strlen(secret), "abc", 3, want);
    CHECK(memcmp(mac, want, 32) == 0);
    CHECK_INT(who.secret_key[0], 0);
}
