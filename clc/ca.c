/*
 * ca.c - user certificates issued by the cloud key (see ca.h).
 */
#include "clc/ca.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"

#define CA_FILE_MAX (64 * 1024)
#define USER_CERT_DAYS (5L * 366)

static int read_pem(const char *home, const char *name, char **out, struct oc_err *err)
{
    char *path = NULL;
    size_t len;
    int rc;

    if (asprintf(&path, "%s/clc/%s", home, name) < 0)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = oc_read_file(path, CA_FILE_MAX, out, &len, err);
    free(path);
    return rc;
}

int clc_ca_cert(const char *home, char **pem, struct oc_err *err)
{
    return read_pem(home, "cloud-cert.pem", pem, err);
}

/* The contents of a memory BIO as a malloc'd string. */
static char *bio_string(BIO *b)
{
    char *data = NULL, *s;
    long n = BIO_get_mem_data(b, &data);

    if (n <= 0)
        return NULL;
    s = malloc((size_t)n + 1);
    if (s) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

static int add_name(X509_NAME *name, const char *field, const char *value)
{
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value,
                                      -1, -1, 0);
}

int clc_ca_extensions(X509 *x, X509 *issuer, int ca)
{
    static const struct {
        int nid;
        const char *ca, *user;
    } exts[] = {
        { NID_basic_constraints, "critical,CA:TRUE", "critical,CA:FALSE" },
        { NID_key_usage, "critical,keyCertSign,cRLSign",
          "critical,digitalSignature,keyEncipherment" },
        { NID_subject_key_identifier, "hash", "hash" },
        { NID_authority_key_identifier, "keyid:always", "keyid:always" },
    };
    X509V3_CTX ctx;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid,
                                                ca ? exts[i].ca : exts[i].user);
        int ok = e && X509_add_ext(x, e, -1);

        X509_EXTENSION_free(e);
        if (!ok)
            return OC_EINTERNAL;
    }
    return OC_OK;
}

int clc_ca_issue(const char *home, const char *account_id, const char *account_name,
                 const char *user_name, char **key_pem, char **cert_pem, struct oc_err *err)
{
    char *ca_key_pem = NULL, *ca_cert_pem = NULL;
    BIO *in = NULL, *kout = NULL, *cout = NULL;
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509 *ca = NULL, *x = NULL;
    BIGNUM *serial = NULL;
    X509_NAME *name;
    int rc;

    *key_pem = *cert_pem = NULL;
    rc = read_pem(home, "cloud-pk.pem", &ca_key_pem, err);
    if (rc == OC_OK)
        rc = read_pem(home, "cloud-cert.pem", &ca_cert_pem, err);
    if (rc)
        goto done;
    rc = oc_err_set(err, OC_EINTERNAL, "cannot issue a certificate with the cloud key");
    in = BIO_new_mem_buf(ca_key_pem, -1);
    ca_key = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    in = BIO_new_mem_buf(ca_cert_pem, -1);
    ca = in ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
    if (!ca_key || !ca)
        goto done;
    key = EVP_RSA_gen(2048);
    x = X509_new();
    serial = BN_new();
    if (!key || !x || !serial || !BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) || !X509_set_version(x, 2) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), (int)USER_CERT_DAYS, 0, NULL) ||
        !X509_set_pubkey(x, key) || !(name = X509_get_subject_name(x)) ||
        !add_name(name, "O", account_id) || !add_name(name, "OU", account_name) ||
        !add_name(name, "CN", user_name) ||
        !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
        clc_ca_extensions(x, ca, 0) != OC_OK || !X509_sign(x, ca_key, EVP_sha256()))
        goto done;
    kout = BIO_new(BIO_s_mem());
    cout = BIO_new(BIO_s_mem());
    if (!kout || !cout || !PEM_write_bio_PrivateKey(kout, key, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cout, x))
        goto done;
    *key_pem = bio_string(kout);
    *cert_pem = bio_string(cout);
    if (!*key_pem || !*cert_pem) {
        free(*key_pem);
        free(*cert_pem);
        *key_pem = *cert_pem = NULL;
        goto done;
    }
    rc = OC_OK;
done:
    ERR_clear_error();
    BN_free(serial);
    X509_free(x);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    BIO_free(in);
    BIO_free(kout);
    BIO_free(cout);
    if (ca_key_pem)
        OPENSSL_cleanse(ca_key_pem, strlen(ca_key_pem));
    free(ca_key_pem);
    free(ca_cert_pem);
    return rc;
}
