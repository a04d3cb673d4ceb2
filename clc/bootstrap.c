/*
 * bootstrap.c - the admin account, the component users and the credential
 * files they read (see bootstrap.h).
 */
#include "clc/bootstrap.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clc/api.h"
#include "clc/ca.h"
#include "clc/identity.h"
#include "common/buf.h"
#include "common/eucarc.h"
#include "common/fsutil.h"

/* Component users and where each one's key goes (relative to the home). */
static const struct {
    const char *user;
    const char *dir;
    const char *file;
} components[] = {
    /* Walrus, CC and NC call the CLC with these; the CLC itself uses its
     * own to read image manifests from Walrus. */
    { "walrus", "walrus", "clc-credentials" },
    { "clc", "clc", "component-credentials" },
    { "cc", "cc", "clc-credentials" },
    { "nc", "nc", "clc-credentials" },
};

static int write_file(const char *dir, const char *name, struct oc_buf *b, struct oc_err *err)
{
    char *path = NULL;
    int rc = oc_mkdirs(dir, 0700, err);

    if (rc)
        return rc;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = oc_write_file_atomic(path, b->data ? (const char *)b->data : "", b->len, 0600, err);
    free(path);
    return rc;
}

static int exists(const char *dir, const char *name)
{
    char *path = NULL;
    struct stat st;
    int ok;

    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return 0;
    ok = stat(path, &st) == 0;
    free(path);
    return ok;
}

/* A user (created when missing) with a fresh key. */
static int new_key(struct clc *c, struct oc_db *db, const struct clc_account *a,
                   const char *user, struct clc_access_key *k, char *secret,
                   struct oc_err *err)
{
    struct clc_user u;
    int rc = clc_user_find(db, a->id, user, &u, NULL);

    if (rc == OC_ENOTFOUND || rc != OC_OK)
        rc = clc_user_create(db, a->id, user, "/", &u, err);
    if (rc)
        return rc;
    return clc_key_create(clc_identity(c), db, a->id, user, k, secret, err);
}

static int admin_files(const char *home, const struct oc_config *conf,
                       const struct clc_account *a, const struct clc_access_key *k,
                       const char *secret, struct oc_err *err)
{
    struct oc_buf eucarc = { 0 }, cfg = { 0 }, cred = { 0 };
    const char *region = oc_config_get(conf, "REGION", "us-east-1");
    const char *host = oc_config_get(conf, "CLC_PUBLIC_HOST", "127.0.0.1");
    const char *clc_port = oc_config_get(conf, "CLC_PORT", "8773");
    const char *s3_port = oc_config_get(conf, "WALRUS_PORT", "8780");
    char *dir = NULL;
    int rc;

    char *ec2 = NULL, *euare = NULL, *s3 = NULL, *who = NULL;
    struct oc_eucarc e = {
        .access_key_id = k->id, .secret_key = secret, .region = region,
        .account_id = a->id,
    };

    rc = asprintf(&ec2, "http://%s:%s/services/compute", host, clc_port) < 0 ||
         asprintf(&euare, "http://%s:%s/services/Euare", host, clc_port) < 0 ||
         asprintf(&s3, "http://%s:%s", host, s3_port) < 0 ||
         asprintf(&who, "%s/admin", a->name) < 0;
    if (!rc) {
        e.ec2_url = ec2;
        e.euare_url = euare;
        e.s3_url = s3;
        e.who = who;
        rc = oc_eucarc_render(&e, &eucarc, &cfg, &cred);
    }
    if (rc || asprintf(&dir, "%s/admin", home) < 0) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = write_file(dir, "eucarc", &eucarc, err);
    if (rc == OC_OK)
        rc = write_file(dir, "aws-config", &cfg, err);
    if (rc == OC_OK)
        rc = write_file(dir, "aws-credentials", &cred, err);
cleanup:
    if (eucarc.data)
        OPENSSL_cleanse(eucarc.data, eucarc.len);
    if (cred.data)
        OPENSSL_cleanse(cred.data, cred.len);
    oc_buf_free(&eucarc);
    oc_buf_free(&cfg);
    oc_buf_free(&cred);
    free(dir);
    free(ec2);
    free(euare);
    free(s3);
    free(who);
    return rc;
}

static int component_file(const char *home, const char *sub, const char *file,
                          const struct clc_access_key *k, const char *secret,
                          struct oc_err *err)
{
    struct oc_buf b = { 0 };
    char *dir = NULL;
    int rc;

    if (oc_buf_printf(&b, "# %s's key for calling the CLC (user %s of eucalyptus)\n"
                          "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n",
                      sub, k->user_name, k->id, secret) ||
        asprintf(&dir, "%s/%s", home, sub) < 0) {
        oc_buf_free(&b);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    rc = write_file(dir, file, &b, err);
    OPENSSL_cleanse(b.data, b.len);
    oc_buf_free(&b);
    free(dir);
    return rc;
}

/* PEM of a key or certificate into b. */
static int pem_of(EVP_PKEY *key, X509 *cert, struct oc_buf *b)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int ok;

    if (!bio)
        return OC_ENOMEM;
    ok = key ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
             : PEM_write_bio_X509(bio, cert);
    len = BIO_get_mem_data(bio, &data);
    ok = ok && len > 0 && oc_buf_append(b, data, (size_t)len) == OC_OK;
    BIO_free(bio);
    return ok ? OC_OK : OC_EINTERNAL;
}

/* The cloud's RSA key and self-signed certificate: bundles are encrypted
 * for it (ec2_encrypted_key), and nodes decrypt them with the key. */
static int cloud_keys(const char *home, struct oc_err *err)
{
    struct oc_buf key = { 0 }, cert = { 0 };
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    X509_NAME *name;
    char *clc_dir = NULL, *nc_dir = NULL;
    int rc = OC_OK;

    if (asprintf(&clc_dir, "%s/clc", home) < 0 || asprintf(&nc_dir, "%s/nc", home) < 0) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    if (exists(clc_dir, "cloud-pk.pem")) {
        char *path = NULL, *text = NULL;
        size_t len = 0;

        /* Already made: only a node directory that lacks the key gets it. */
        if (exists(nc_dir, "cloud-pk.pem"))
            goto cleanup;
        if (asprintf(&path, "%s/cloud-pk.pem", clc_dir) < 0) {
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
            goto cleanup;
        }
        rc = oc_read_file(path, 1 << 16, &text, &len, err);
        free(path);
        if (rc == OC_OK)
            rc = oc_buf_append(&key, text, len);
        if (text)
            OPENSSL_cleanse(text, len);
        free(text);
        if (rc == OC_OK)
            rc = write_file(nc_dir, "cloud-pk.pem", &key, err);
        goto cleanup;
    }
    pk = EVP_RSA_gen(2048);
    x = X509_new();
    if (!pk || !x || !X509_set_version(x, 2) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 10L * 366 * 24 * 3600) ||
        !X509_set_pubkey(x, pk) || !(name = X509_get_subject_name(x)) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Overcast",
                                    -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"overcast-cloud", -1, -1, 0) ||
        !X509_set_issuer_name(x, name) || clc_ca_extensions(x, x, 1) != OC_OK ||
        !X509_sign(x, pk, EVP_sha256()) ||
        pem_of(pk, NULL, &key) || pem_of(NULL, x, &cert)) {
        rc = oc_err_set(err, OC_EINTERNAL, "cannot make the cloud key and certificate");
        goto cleanup;
    }
    rc = write_file(clc_dir, "cloud-cert.pem", &cert, err);
    if (rc == OC_OK)
        rc = write_file(clc_dir, "cloud-pk.pem", &key, err);
    if (rc == OC_OK)
        rc = write_file(nc_dir, "cloud-pk.pem", &key, err);
cleanup:
    if (key.data)
        OPENSSL_cleanse(key.data, key.len);
    oc_buf_free(&key);
    oc_buf_free(&cert);
    EVP_PKEY_free(pk);
    X509_free(x);
    free(clc_dir);
    free(nc_dir);
    return rc;
}

int clc_bootstrap(struct clc *c, const char *home, const struct oc_config *conf,
                  struct oc_err *err)
{
    struct oc_db *db = oc_dbpool_get(clc_pool(c), err);
    struct clc_account a;
    struct clc_access_key k;
    char secret[OC_SECRET_KEY_LEN + 1];
    char *dir = NULL;
    int rc;

    if (!db)
        return OC_EDB;
    rc = clc_account_find(db, OC_ADMIN_ACCOUNT, &a, NULL);
    if (rc == OC_ENOTFOUND)
        rc = clc_account_create(clc_identity(c), db, OC_ADMIN_ACCOUNT, &a, err);
    if (rc)
        goto cleanup;
    if (asprintf(&dir, "%s/admin", home) < 0) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    if (!exists(dir, "eucarc")) {
        rc = new_key(c, db, &a, "admin", &k, secret, err);
        if (rc == OC_OK)
            rc = admin_files(home, conf, &a, &k, secret, err);
        if (rc)
            goto cleanup;
    }
    for (size_t i = 0; i < sizeof(components) / sizeof(components[0]); i++) {
        free(dir);
        if (asprintf(&dir, "%s/%s", home, components[i].dir) < 0) {
            dir = NULL;
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
            goto cleanup;
        }
        if (exists(dir, components[i].file))
            continue;
        rc = new_key(c, db, &a, components[i].user, &k, secret, err);
        if (rc == OC_OK)
            rc = component_file(home, components[i].dir, components[i].file, &k, secret,
                                err);
        if (rc)
            goto cleanup;
    }
    rc = cloud_keys(home, err);
cleanup:
    OPENSSL_cleanse(secret, sizeof(secret));
    free(dir);
    oc_dbpool_put(clc_pool(c), db);
    return rc;
}
