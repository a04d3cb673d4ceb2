/*
 * test_manifest.c - bundle manifests (euca-compat/manifest.c): manifests
 * built here the way euca2ools writes them (machine_configuration and
 * image serialized without whitespace, signed with RSA-SHA1 by a key and
 * self-signed certificate made here with OpenSSL), every field read back,
 * tampering of each signed field caught, and malformed or oversized
 * manifests refused.
 */
#include "tests/unit/harness.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/codec.h"
#include "euca-compat/manifest.h"

#define DIGEST_A "0123456789abcdef0123456789abcdef01234567"
#define DIGEST_B "89abcdef0123456789abcdef0123456789abcdef"
#define DIGEST_I "fedcba9876543210fedcba9876543210fedcba98"

/* ------------------------------------------------------------------ */
/* keys, certificates, signatures */

static EVP_PKEY *test_key(int which)
{
    static EVP_PKEY *keys[2];

    if (!keys[which])
        keys[which] = EVP_RSA_gen(2048);
    return keys[which];
}

static char *bio_string(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = malloc((size_t)n + 1);

    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

/* A self-signed certificate for key, PEM (malloc'd). */
static char *test_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *name;
    BIO *b = BIO_new(BIO_s_mem());
    char *pem;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"bundler", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, key, EVP_sha256());
    PEM_write_bio_X509(b, x);
    pem = bio_string(b);
    BIO_free(b);
    X509_free(x);
    return pem;
}

/* Hex RSA-SHA1 PKCS#1 v1.5 signature of data (malloc'd). */
static char *sign_hex(EVP_PKEY *key, const char *data, size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t slen = sizeof(sig);
    char *hex;

    CHECK(EVP_DigestSignInit(ctx, NULL, EVP_sha1(), NULL, key) == 1);
    CHECK(EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)data, len) == 1);
    EVP_MD_CTX_free(ctx);
    hex = malloc(2 * slen + 1);
    oc_hex_encode(sig, slen, hex);
    return hex;
}

/* ------------------------------------------------------------------ */
/* manifests as euca2ools writes them */

#define MC_STD                                                                       \
    "<machine_configuration><architecture>x86_64</architecture>"                     \
    "<kernel_id>eki-0123ABCD</kernel_id><ramdisk_id>eri-89abcdef</ramdisk_id>"       \
    "<block_device_mapping><mapping><virtual>ami</virtual><device>sda1</device>"     \
    "</mapping><mapping><virtual>root</virtual><device>/dev/sda1</device></mapping>" \
    "</block_device_mapping></machine_configuration>"

/* The <image> element with nparts parts and `extra` spliced in before <parts>. */
static char *image_xml(const char *type, size_t nparts, const char *extra)
{
    struct oc_buf b = { 0 };

    CHECK_INT(oc_buf_printf(&b,
                            "<image><name>disk.img</name><user>000123456789</user>"
                            "<digest algorithm=\"SHA1\">" DIGEST_I "</digest>"
                            "<size>10485760</size><bundled_size>2048</bundled_size>"
                            "<type>%s</type>"
                            "<ec2_encrypted_key algorithm=\"AES-128-CBC\">0a0b0c"
                            "</ec2_encrypted_key>"
                            "<user_encrypted_key algorithm=\"AES-128-CBC\">1A1B"
                            "</user_encrypted_key>"
                            "<ec2_encrypted_iv>0d0e</ec2_encrypted_iv>"
                            "<user_encrypted_iv>1d1e</user_encrypted_iv>%s"
                            "<parts count=\"%zu\">",
                            type, extra ? extra : "", nparts),
              OC_OK);
    for (size_t i = 0; i < nparts; i++)
        CHECK_INT(oc_buf_printf(&b,
                                "<part index=\"%zu\"><filename>disk.img.part.%zu</filename>"
                                "<digest algorithm=\"SHA1\">%s</digest></part>",
                                i, i, i % 2 ? DIGEST_B : DIGEST_A),
                  OC_OK);
    CHECK_INT(oc_buf_puts(&b, "</parts></image>"), OC_OK);
    return oc_buf_steal(&b);
}

/* A whole manifest: signature by key over sig_mc + sig_image, while the
 * file holds file_mc and file_image (the same unless a test tampers). */
static char *manifest_xml(EVP_PKEY *key, const char *sig_mc, const char *sig_image,
                          const char *file_mc, const char *file_image, int image_first)
{
    struct oc_buf signed_text = { 0 }, b = { 0 };
    char *sig;

    CHECK_INT(oc_buf_puts(&signed_text, sig_mc), OC_OK);
    CHECK_INT(oc_buf_puts(&signed_text, sig_image), OC_OK);
    sig = key ? sign_hex(key, signed_text.data, signed_text.len) : strdup("00ff");
    CHECK_INT(oc_buf_printf(&b,
                            "<manifest><version>2007-10-10</version><bundler><name>euca2ools"
                            "</name><version>3.4.1</version><release>0</release></bundler>"
                            "%s%s<signature>%s</signature></manifest>",
                            image_first ? file_image : file_mc,
                            image_first ? file_mc : file_image, sig),
              OC_OK);
    free(sig);
    oc_buf_free(&signed_text);
    return oc_buf_steal(&b);
}

static char *signed_manifest(EVP_PKEY *key, const char *mc, const char *image)
{
    return manifest_xml(key, mc, image, mc, image, 0);
}

static int parse(struct oc_arena *a, const char *xml, struct euca_manifest *m,
                 struct oc_err *err)
{
    return euca_manifest_parse(a, xml, strlen(xml), m, err);
}

/* Parses and verifies xml against key's certificate. */
static int parse_verify(const char *xml, EVP_PKEY *cert_key)
{
    struct oc_arena *a = oc_arena_new();
    struct euca_manifest m;
    struct oc_err err = { 0 };
    char *pem = test_cert(cert_key);
    int rc = parse(a, xml, &m, &err);

    if (rc == OC_OK)
        rc = euca_manifest_verify(&m, pem, strlen(pem), &err);
    free(pem);
    oc_arena_free(a);
    return rc;
}

/* ------------------------------------------------------------------ */

OC_TEST(manifest_parse_fields)
{
    char *image = image_xml("machine", 3, NULL);
    char *xml = signed_manifest(test_key(0), MC_STD, image);
    struct oc_arena *a = oc_arena_new();
    struct euca_manifest m;
    struct oc_err err = { 0 };

    CHECK_INT(parse(a, xml, &m, &err), OC_OK);
    CHECK_STR(m.version, "2007-10-10");
    CHECK_STR(m.bundler_name, "euca2ools");
    CHECK_STR(m.bundler_version, "3.4.1");
    CHECK_STR(m.architecture, "x86_64");
    CHECK_STR(m.kernel_id, "eki-0123abcd");
    CHECK_STR(m.ramdisk_id, "eri-89abcdef");
    CHECK_INT(m.nmappings, 2);
    if (m.nmappings == 2) {
        CHECK_STR(m.mappings[0].virtual_name, "ami");
        CHECK_STR(m.mappings[0].device, "sda1");
        CHECK_STR(m.mappings[1].virtual_name, "root");
        CHECK_STR(m.mappings[1].device, "/dev/sda1");
    }
    CHECK_INT(m.nproduct_codes, 0);
    CHECK_STR(m.name, "disk.img");
    CHECK_STR(m.user, "000123456789");
    CHECK_INT(m.type, EUCA_IMAGE_MACHINE);
    CHECK_STR(m.type_name, "machine");
    CHECK_STR(m.digest, DIGEST_I);
    CHECK_INT(m.size, 10485760);
    CHECK_INT(m.bundled_size, 2048);
    CHECK_STR(m.enc_algorithm, "AES-128-CBC");
    CHECK_STR(m.ec2_encrypted_key, "0a0b0c");
    CHECK_STR(m.user_encrypted_key, "1a1b");
    CHECK_STR(m.ec2_encrypted_iv, "0d0e");
    CHECK_STR(m.user_encrypted_iv, "1d1e");
    CHECK_INT(m.nparts, 3);
    if (m.nparts == 3) {
        CHECK_INT(m.parts[2].index, 2);
        CHECK_STR(m.parts[0].filename, "disk.img.part.0");
        CHECK_STR(m.parts[1].digest, DIGEST_B);
        CHECK_STR(m.parts[2].filename, "disk.img.part.2");
    }
    /* The signed text is machine_configuration then image, as in the file. */
    CHECK_INT(m.signed_len, strlen(MC_STD) + strlen(image));
    CHECK(strncmp(m.signed_text, MC_STD, strlen(MC_STD)) == 0);
    CHECK_STR(m.signed_text + strlen(MC_STD), image);
    CHECK(strlen(m.signature) == 512);
    oc_arena_free(a);
    free(xml);
    free(image);
}

OC_TEST(manifest_kernel_and_product_codes)
{
    const char *mc = "<machine_configuration><architecture>i386</architecture>"
                     "<kernel_id>true</kernel_id><product_codes><product_code>A1B2"
                     "</product_code><product_code>c3</product_code></product_codes>"
                     "</machine_configuration>";
    char *image = image_xml("kernel", 1, NULL);
    char *xml = signed_manifest(NULL, mc, image);
    struct oc_arena *a = oc_arena_new();
    struct euca_manifest m;
    struct oc_err err = { 0 };

    CHECK_INT(parse(a, xml, &m, &err), OC_OK);
    CHECK_INT(m.type, EUCA_IMAGE_KERNEL);
    CHECK_STR(m.kernel_id, "true");
    CHECK_STR(m.ramdisk_id, "");
    CHECK_INT(m.nmappings, 0);
    CHECK_INT(m.nproduct_codes, 2);
    if (m.nproduct_codes == 2)
        CHECK_STR(m.product_codes[1], "c3");
    CHECK_STR(m.bundler_release, "0");
    oc_arena_free(a);
    free(xml);
    free(image);
}

OC_TEST(manifest_signature_verifies)
{
    char *image = image_xml("machine", 2, NULL);
    char *xml = signed_manifest(test_key(0), MC_STD, image);
    char *first = manifest_xml(test_key(0), MC_STD, image, MC_STD, image, 1);

    CHECK_INT(parse_verify(xml, test_key(0)), OC_OK);
    /* Another user's certificate does not verify it. */
    CHECK_INT(parse_verify(xml, test_key(1)), OC_EAUTH);
    /* The signed text is machine_configuration + image whatever their order. */
    CHECK_INT(parse_verify(first, test_key(0)), OC_OK);
    free(first);
    free(xml);
    free(image);
}

/* Whitespace inside the signed elements is signed too (the exact text). */
OC_TEST(manifest_signature_exact_text)
{
    const char *mc = "<machine_configuration>\n  <architecture>x86_64</architecture>\n"
                     "</machine_configuration>";
    const char *mc2 = "<machine_configuration>\n <architecture>x86_64</architecture>\n"
                      "</machine_configuration>";
    char *image = image_xml("machine", 1, NULL);
    char *good = signed_manifest(test_key(0), mc, image);
    char *bad = manifest_xml(test_key(0), mc, image, mc2, image, 0);
    struct oc_buf pretty = { 0 };

    CHECK_INT(parse_verify(good, test_key(0)), OC_OK);
    CHECK_INT(parse_verify(bad, test_key(0)), OC_EAUTH);
    /* Whitespace between the elements is outside the signature. */
    CHECK_INT(oc_buf_puts(&pretty, good), OC_OK);
    {
        char *p = strstr(pretty.data, "<machine_configuration>");
        struct oc_buf b = { 0 };

        CHECK_INT(oc_buf_append(&b, pretty.data, (size_t)(p - pretty.data)), OC_OK);
        CHECK_INT(oc_buf_puts(&b, "\n  "), OC_OK);
        CHECK_INT(oc_buf_puts(&b, p), OC_OK);
        CHECK_INT(parse_verify(b.data, test_key(0)), OC_OK);
        oc_buf_free(&b);
    }
    oc_buf_free(&pretty);
    free(good);
    free(bad);
    free(image);
}

/* Each signed field changed after signing is caught. */
OC_TEST(manifest_tampering_detected)
{
    char *image = image_xml("machine", 3, NULL);
    struct {
        const char *from, *to;
    } edits[] = {
        { "<name>disk.img</name>", "<name>disk.imh</name>" },
        { "<type>machine</type>", "<type>kernel</type>" },
        { DIGEST_B, DIGEST_A },                               /* a part's digest */
        { "disk.img.part.2", "disk.img.part.9" },            /* a part's object */
        { "<size>10485760</size>", "<size>10485761</size>" },
        { "<ec2_encrypted_key algorithm=\"AES-128-CBC\">0a0b0c",
          "<ec2_encrypted_key algorithm=\"AES-128-CBC\">0a0b0d" },
        { "x86_64", "i386" },
        { "eki-0123ABCD", "eki-0123ABCE" },
    };

    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        struct oc_buf mc = { 0 }, im = { 0 };
        const char *in_mc = strstr(MC_STD, edits[i].from);
        const char *src = in_mc ? MC_STD : image;
        const char *p = strstr(src, edits[i].from);
        char *xml;

        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_INT(oc_buf_append(in_mc ? &mc : &im, src, (size_t)(p - src)), OC_OK);
        CHECK_INT(oc_buf_puts(in_mc ? &mc : &im, edits[i].to), OC_OK);
        CHECK_INT(oc_buf_puts(in_mc ? &mc : &im, p + strlen(edits[i].from)), OC_OK);
        xml = manifest_xml(test_key(0), MC_STD, image, in_mc ? mc.data : MC_STD,
                           in_mc ? image : im.data, 0);
        if (parse_verify(xml, test_key(0)) != OC_EAUTH)
            oc_test_fail(__FILE__, __LINE__, "edit %zu (%s) not detected", i, edits[i].from);
        free(xml);
        oc_buf_free(&mc);
        oc_buf_free(&im);
    }

    /* A part dropped (count adjusted) and a part added. */
    {
        char *two = image_xml("machine", 2, NULL), *four = image_xml("machine", 4, NULL);
        char *x1 = manifest_xml(test_key(0), MC_STD, image, MC_STD, two, 0);
        char *x2 = manifest_xml(test_key(0), MC_STD, image, MC_STD, four, 0);

        CHECK_INT(parse_verify(x1, test_key(0)), OC_EAUTH);
        CHECK_INT(parse_verify(x2, test_key(0)), OC_EAUTH);
        free(x1);
        free(x2);
        free(two);
        free(four);
    }

    /* A flipped signature digit. */
    {
        char *xml = signed_manifest(test_key(0), MC_STD, image);
        char *s = strstr(xml, "<signature>") + strlen("<signature>") + 10;

        *s = *s == '0' ? '1' : '0';
        CHECK_INT(parse_verify(xml, test_key(0)), OC_EAUTH);
        free(xml);
    }
    free(image);
}

/* A signed <image> hidden in a comment next to an unsigned one is refused
 * rather than half-believed. */
OC_TEST(manifest_second_image_refused)
{
    char *image = image_xml("machine", 1, NULL);
    char *evil = image_xml("kernel", 1, NULL);
    struct oc_buf file_image = { 0 };
    char *xml;
    struct oc_arena *a = oc_arena_new();
    struct euca_manifest m;
    struct oc_err err = { 0 };

    CHECK_INT(oc_buf_printf(&file_image, "<!-- %s -->%s", image, evil), OC_OK);
    xml = manifest_xml(test_key(0), MC_STD, image, MC_STD, file_image.data, 0);
    CHECK_INT(parse(a, xml, &m, &err), OC_EINVAL);
    free(xml);
    oc_buf_free(&file_image);

    /* An unsigned image spelled `<image >` beside the signed one in a
     * comment: the fields come from the signed text, never from it. */
    {
        struct oc_buf b = { 0 };

        CHECK_INT(oc_buf_printf(&b, "<!-- %s --><image >%s", image, evil + strlen("<image>")),
                  OC_OK);
        xml = manifest_xml(test_key(0), MC_STD, image, MC_STD, b.data, 0);
        if (parse(a, xml, &m, &err) == OC_OK)
            CHECK_INT(m.type, EUCA_IMAGE_MACHINE);
        free(xml);
        oc_buf_free(&b);
    }
    oc_arena_free(a);
    free(image);
    free(evil);
}

#define MC_SMALL                                                                  \
    "<machine_configuration><architecture>x86_64</architecture>"                  \
    "<block_device_mapping><mapping><virtual>ami</virtual><device>sda1</device>"  \
    "</mapping></block_device_mapping></machine_configuration>"

OC_TEST(manifest_malformed_refused)
{
    static const struct {
        const char *what, *from, *to;   /* edit of a good manifest (NULL: whole doc) */
    } cases[] = {
        { "not xml", NULL, "<manifest><version>" },
        { "wrong root", NULL, "<bundle><version>2007-10-10</version></bundle>" },
        { "no signature", "<signature>00ff</signature>", "" },
        { "two signatures", "<signature>00ff</signature>",
          "<signature>00ff</signature><signature>00ff</signature>" },
        { "signature not hex", "<signature>00ff", "<signature>00fg" },
        { "odd signature", "<signature>00ff", "<signature>00f" },
        { "no version", "<version>2007-10-10</version><bundler>", "<bundler>" },
        { "no machine_configuration", MC_SMALL, "" },
        { "no architecture", "<architecture>x86_64</architecture>", "" },
        { "bad architecture", ">x86_64<", ">sparc<" },
        { "two architectures", "<architecture>x86_64</architecture>",
          "<architecture>x86_64</architecture><architecture>i386</architecture>" },
        { "bad kernel id", "<architecture>x86_64</architecture>",
          "<architecture>x86_64</architecture><kernel_id>aki-xyz</kernel_id>" },
        { "no image name", "<name>disk.img</name>", "" },
        { "two image names", "<name>disk.img</name>", "<name>a</name><name>b</name>" },
        { "nested name", "<name>disk.img</name>", "<name><b>x</b></name>" },
        { "control char", "<name>disk.img</name>", "<name>di&#1;sk</name>" },
        { "bad type", "<type>machine</type>", "<type>disk</type>" },
        { "image digest not hex", "<digest algorithm=\"SHA1\">" DIGEST_I,
          "<digest algorithm=\"SHA1\">" "zz" DIGEST_I },
        { "image digest md5", "<digest algorithm=\"SHA1\">" DIGEST_I,
          "<digest algorithm=\"MD5\">" DIGEST_I },
        { "negative size", "<size>10485760</size>", "<size>-1</size>" },
        { "float size", "<size>10485760</size>", "<size>1e9</size>" },
        { "huge size", "<size>10485760</size>", "<size>99999999999999999999</size>" },
        { "no bundled size", "<bundled_size>2048</bundled_size>", "" },
        { "aes-256", "<ec2_encrypted_key algorithm=\"AES-128-CBC\">",
          "<ec2_encrypted_key algorithm=\"AES-256-CBC\">" },
        { "key not hex", ">0a0b0c<", ">0a0b0x<" },
        { "no ec2 iv", "<ec2_encrypted_iv>0d0e</ec2_encrypted_iv>", "" },
        { "count mismatch", "<parts count=\"2\">", "<parts count=\"3\">" },
        { "count zero", "<parts count=\"2\">", "<parts count=\"0\">" },
        { "count missing", "<parts count=\"2\">", "<parts>" },
        { "count too big", "<parts count=\"2\">", "<parts count=\"10001\">" },
        { "duplicate index", "<part index=\"1\">", "<part index=\"0\">" },
        { "index out of range", "<part index=\"1\">", "<part index=\"2\">" },
        { "index not decimal", "<part index=\"1\">", "<part index=\"0x1\">" },
        { "part digest short", DIGEST_B "</digest>", "89abcdef</digest>" },
        { "part path", "disk.img.part.1<", "../disk.img.part.1<" },
        { "duplicate part file", "disk.img.part.1<", "disk.img.part.0<" },
        { "stranger in parts", "</parts>", "<junk/></parts>" },
        { "bad mapping", "<virtual>ami</virtual>", "<virtual>a m i</virtual>" },
        { "doctype", "<manifest>",
          "<!DOCTYPE manifest [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><manifest>" },
        { "entity", "<name>disk.img</name>", "<name>&x;</name>" },
    };
    char *image = image_xml("machine", 2, NULL);
    char *good = signed_manifest(NULL, MC_SMALL, image);
    struct oc_arena *a = oc_arena_new();
    struct euca_manifest m;
    struct oc_err err = { 0 };

    CHECK_INT(parse(a, good, &m, &err), OC_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct oc_buf b = { 0 };
        int rc;

        if (!cases[i].from) {
            CHECK_INT(oc_buf_puts(&b, cases[i].to), OC_OK);
        } else {
            const char *p = strstr(good, cases[i].from);

            if (!p) {
                oc_test_fail(__FILE__, __LINE__, "case '%s': text not found", cases[i].what);
                continue;
            }
            CHECK_INT(oc_buf_append(&b, good, (size_t)(p - good)), OC_OK);
            CHECK_INT(oc_buf_puts(&b, cases[i].to), OC_OK);
            CHECK_INT(oc_buf_puts(&b, p + strlen(cases[i].from)), OC_OK);
        }
        err.msg[0] = '\0';
        rc = euca_manifest_parse(a, b.data, b.len, &m, &err);
        if (rc != OC_EINVAL && rc != OC_ETOOBIG)
            oc_test_fail(__FILE__, __LINE__, "case '%s' parsed (rc %d)", cases[i].what, rc);
        else if (!err.msg[0])
            oc_test_fail(__FILE__, __LINE__, "case '%s' has no message", cases[i].what);
        oc_buf_free(&b);
    }
    /* An embedded NUL, and a document past the size limit. */
    CHECK_INT(euca_manifest_parse(a, good, strlen(good) + 1, &m, &err), OC_EINVAL);
    CHECK_INT(euca_manifest_parse(a, good, EUCA_MANIFEST_MAX_BYTES + 1, &m, &err),
              OC_ETOOBIG);
    oc_arena_free(a);
    free(good);
    free(image);
}

OC_TEST(manifest_part_limit)
{
    char *image = image_xml("ramdisk", EUCA_MANIFEST_MAX_PARTS, NULL);
    char *xml = signed_manifest(test_key(0), MC_STD, image);
    char *over = image_xml("ramdisk", EUCA_MANIFEST_MAX_PARTS + 1, NULL);
    char *xml_over = signed_manifest(NULL, MC_STD, over);
    struct oc_arena *a = oc_arena_new();
    struct euca_manifest m;
    struct oc_err err = { 0 };

    CHECK_INT(parse(a, xml, &m, &err), OC_OK);
    CHECK_INT(m.nparts, EUCA_MANIFEST_MAX_PARTS);
    CHECK_INT(m.type, EUCA_IMAGE_RAMDISK);
    CHECK_INT(parse_verify(xml, test_key(0)), OC_OK);
    CHECK_INT(parse(a, xml_over, &m, &err), OC_ETOOBIG);
    oc_arena_free(a);
    free(xml);
    free(xml_over);
    free(image);
    free(over);
}

OC_TEST(manifest_bad_certificates)
{
    char *image = image_xml("machine", 1, NULL);
    char *xml = signed_manifest(test_key(0), MC_STD, image);
    struct oc_arena *a = oc_arena_new();
    struct euca_manifest m;
    struct oc_err err = { 0 };
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    char *ec_pem = test_cert(ec);
    const char *junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    CHECK_INT(parse(a, xml, &m, &err), OC_OK);
    CHECK_INT(euca_manifest_verify(&m, junk, strlen(junk), &err), OC_EINVAL);
    CHECK_INT(euca_manifest_verify(&m, "", 0, &err), OC_EINVAL);
    CHECK_INT(euca_manifest_verify(&m, ec_pem, strlen(ec_pem), &err), OC_EINVAL);
    free(ec_pem);
    EVP_PKEY_free(ec);
    oc_arena_free(a);
    free(xml);
    free(image);
}
