/*
 * Unit tests for key pair parsing and fingerprints (clc/keypairs.c).  The
 * expected values were computed independently of our code, with
 *   openssl rsa -pubin -in <(ssh-keygen -e -m PKCS8 -f k.pub) -outform DER | openssl md5 -c
 *   awk '{print $2}' k.pub | base64 -d | openssl dgst -sha256 -binary | base64
 * (AWS's documented ways for imported RSA and for ED25519 keys).
 */
#include "tests/unit/harness.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "clc/keypairs.h"
#include "common/buf.h"

static const char RSA_PUB[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDTIN//ccusqq1fC1qvUB6cn8niRqdv3reBtDhdlud9RJPEUvu"
    "KqW3r3ea0gY3/0Q0ybRRjKxyxf19HAgAiB+J8GwL+CTb8Q6zAIRYttwBZxTGG5YUKAGaI5rM3+ub9S0m0Kqqx"
    "11yWiO69KM7oo8kgvU7i7JbxzVwfOrlPr5LOKQ== test\n";
static const char RSA_FP[] = "05:e4:52:05:96:86:95:0e:e6:f5:9e:d4:31:20:89:b3";
static const char ED_PUB[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFUFHwgwDcT+M6wFvJEMSx7SCciSUcG7t74CzgGv9lwY test";
static const char ED_FP[] = "SaGgNuhtg5DhvGgxOhnV2XQj3G8KiQzBUP4ykkd2PVw=";

OC_TEST(keypairs_import_fingerprints)
{
    struct clc_pubkey k;
    struct oc_buf fp = { 0 }, line = { 0 };
    struct oc_err err = { 0 };

    CHECK_INT(clc_pubkey_parse(RSA_PUB, strlen(RSA_PUB), &k, &err), 0);
    CHECK_STR(k.type, "rsa");
    CHECK_INT(clc_pubkey_fingerprint(k.pkey, &fp), 0);
    CHECK_STR(oc_buf_cstr(&fp), RSA_FP);
    /* The stored form is the key without its comment. */
    CHECK_INT(clc_pubkey_openssh(k.pkey, &line), 0);
    CHECK(strncmp(oc_buf_cstr(&line), RSA_PUB, line.len) == 0);
    CHECK_INT(RSA_PUB[line.len], ' ');
    EVP_PKEY_free(k.pkey);
    oc_buf_reset(&fp);
    oc_buf_reset(&line);

    CHECK_INT(clc_pubkey_parse(ED_PUB, strlen(ED_PUB), &k, &err), 0);
    CHECK_STR(k.type, "ed25519");
    CHECK_INT(clc_pubkey_fingerprint(k.pkey, &fp), 0);
    CHECK_STR(oc_buf_cstr(&fp), ED_FP);
    CHECK_INT(clc_pubkey_openssh(k.pkey, &line), 0);
    CHECK(strncmp(oc_buf_cstr(&line), ED_PUB, line.len) == 0);
    EVP_PKEY_free(k.pkey);
    oc_buf_free(&fp);
    oc_buf_free(&line);
}

OC_TEST(keypairs_rejects_bad_keys)
{
    static const char *const bad[] = {
        "",
        "ssh-rsa",
        "ssh-rsa not-base64!!",
        /* type on the line differs from the type in the blob */
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFUFHwgwDcT+M6wFvJEMSx7SCciSUcG7t74CzgGv9lwY",
        /* DSA is not accepted */
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
        /* ed25519 blob cut short */
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFUFHwgwDcT+M6wFvJEMSx7SCciSUcG7t74CzgGv9l",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    };
    struct clc_pubkey k;
    struct oc_err err = { 0 };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(clc_pubkey_parse(bad[i], strlen(bad[i]), &k, &err), OC_EINVAL);
        CHECK(k.pkey == NULL);
    }
}

OC_TEST(keypairs_rsa_size_limits_and_pem)
{
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
    EVP_PKEY *ok = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    struct oc_buf line = { 0 }, fp1 = { 0 }, fp2 = { 0 };
    struct clc_pubkey k;
    struct oc_err err = { 0 };
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;
    long n;

    CHECK(small && ok && bio);
    CHECK_INT(clc_pubkey_openssh(small, &line), 0);
    CHECK_INT(clc_pubkey_parse(oc_buf_cstr(&line), line.len, &k, &err), OC_EINVAL);
    oc_buf_reset(&line);
    /* OpenSSH and PEM forms of one key give one fingerprint. */
    CHECK_INT(clc_pubkey_openssh(ok, &line), 0);
    CHECK_INT(clc_pubkey_parse(oc_buf_cstr(&line), line.len, &k, &err), 0);
    CHECK_INT(clc_pubkey_fingerprint(k.pkey, &fp1), 0);
    EVP_PKEY_free(k.pkey);
    CHECK_INT(PEM_write_bio_PUBKEY(bio, ok), 1);
    n = BIO_get_mem_data(bio, &pem);
    CHECK_INT(clc_pubkey_parse(pem, (size_t)n, &k, &err), 0);
    CHECK_INT(clc_pubkey_fingerprint(k.pkey, &fp2), 0);
    CHECK_STR(oc_buf_cstr(&fp1), oc_buf_cstr(&fp2));
    EVP_PKEY_free(k.pkey);
    /* AWS-made RSA fingerprints: SHA-1, 20 colon-separated bytes. */
    oc_buf_reset(&fp1);
    CHECK_INT(clc_privkey_fingerprint(ok, &fp1), 0);
    CHECK_INT(fp1.len, 59);
    BIO_free(bio);
    EVP_PKEY_free(small);
    EVP_PKEY_free(ok);
    oc_buf_free(&line);
    oc_buf_free(&fp1);
    oc_buf_free(&fp2);
}
