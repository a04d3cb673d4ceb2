/*
 * libFuzzer target: bundle manifests (euca-compat/manifest.c).  The input
 * is a manifest document.  Besides memory safety, the parser's contract is
 * checked on every manifest it accepts: parts in index order with 40-hex
 * digests and plain names, a type among the three, the signed text being
 * machine_configuration then image; and the signature check runs against
 * a certificate made once at start, which must never accept (the corpus
 * is not signed by its key).
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "euca-compat/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *cert_pem;
static size_t cert_len;

static void make_cert(void)
{
    EVP_PKEY *key = EVP_RSA_gen(1024);
    X509 *x = X509_new();
    BIO *b = BIO_new(BIO_s_mem());
    X509_NAME *name;
    char *p;
    long n;

    if (!key || !x || !b)
        abort();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    if (!X509_sign(x, key, EVP_sha256()) || !PEM_write_bio_X509(b, x))
        abort();
    n = BIO_get_mem_data(b, &p);
    cert_pem = malloc((size_t)n);
    if (!cert_pem)
        abort();
    memcpy(cert_pem, p, (size_t)n);
    cert_len = (size_t)n;
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
}

static int is_hex40(const char *s)
{
    return s && strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_arena *a;
    struct euca_manifest m;
    struct oc_err err = { 0 };

    if (!cert_pem)
        make_cert();
    a = oc_arena_new();
    if (euca_manifest_parse(a, (const char *)data, size, &m, &err) == OC_OK) {
        if (m.nparts < 1 || m.nparts > EUCA_MANIFEST_MAX_PARTS || !is_hex40(m.digest))
            abort();
        if (m.type != EUCA_IMAGE_MACHINE && m.type != EUCA_IMAGE_KERNEL &&
            m.type != EUCA_IMAGE_RAMDISK)
            abort();
        for (size_t i = 0; i < m.nparts; i++)
            if (m.parts[i].index != i || !is_hex40(m.parts[i].digest) ||
                !m.parts[i].filename[0] || strchr(m.parts[i].filename, '/'))
                abort();
        if (m.signed_len != strlen(m.signed_text) ||
            strncmp(m.signed_text, "<machine_configuration>", 23) != 0 ||
            m.signed_len < 8 || strcmp(m.signed_text + m.signed_len - 8, "</image>") != 0)
            abort();
        if (m.nmappings > EUCA_MANIFEST_MAX_MAPPINGS || m.size > EUCA_MANIFEST_MAX_IMAGE_SIZE)
            abort();
        if (euca_manifest_verify(&m, cert_pem, cert_len, &err) == OC_OK)
            abort();
    } else if (!err.msg[0]) {
        abort();
    }
    oc_arena_free(a);
    return 0;
}
