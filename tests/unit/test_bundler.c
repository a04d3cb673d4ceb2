/*
 * test_bundler.c - making bundles (euca-compat/bundler.c).
 *
 * Every bundle made here is read back two ways: with the cloud's own
 * reader (euca_manifest_parse, euca_manifest_verify, euca_bundle_extract),
 * which must give back the image byte for byte; and field by field against
 * the format euca2ools 3.x writes (BundleManifest.dump_to_str), with the
 * digests, the key, the signature and the tar stream recomputed here with
 * OpenSSL and zlib directly rather than through the code under test.
 */
#include "tests/unit/harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <libxml/tree.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/fsutil.h"
#include "common/xml.h"
#include "euca-compat/bundle.h"
#include "euca-compat/bundler.h"
#include "euca-compat/manifest.h"

#define ACCOUNT "000123456789"
#define MTIME 1700000000

/* ------------------------------------------------------------------ */
/* keys: a user and a cloud, each an RSA key and a self-signed certificate */

struct pki {
    EVP_PKEY *key;
    char *key_pem, *cert_pem;
};

static char *pem_of(EVP_PKEY *k, X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *s;
    long n;

    if (k)
        CHECK(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
    else
        CHECK(PEM_write_bio_X509(b, x) == 1);
    n = BIO_get_mem_data(b, &data);
    s = malloc((size_t)n + 1);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

static const struct pki *pki(int which)
{
    static struct pki p[3];

    if (!p[which].key) {
        X509 *x = X509_new();

        p[which].key = EVP_RSA_gen(2048);
        CHECK(x && p[which].key);
        ASN1_INTEGER_set(X509_get_serialNumber(x), which + 1);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_set_pubkey(x, p[which].key);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (const unsigned char *)"bundler-test", -1, -1, 0);
        X509_set_issuer_name(x, X509_get_subject_name(x));
        CHECK(X509_sign(x, p[which].key, EVP_sha256()) > 0);
        p[which].key_pem = pem_of(p[which].key, NULL);
        p[which].cert_pem = pem_of(NULL, x);
        X509_free(x);
    }
    return &p[which];
}

#define USER 0
#define CLOUD 1
#define OTHER 2

static struct euca_bundle_keys keys_of(int user, int user_key, int cloud)
{
    struct euca_bundle_keys k = {
        pki(user)->cert_pem, strlen(pki(user)->cert_pem),
        pki(user_key)->key_pem, strlen(pki(user_key)->key_pem),
        pki(cloud)->cert_pem, strlen(pki(cloud)->cert_pem),
    };

    return k;
}

/* ------------------------------------------------------------------ */
/* images and bundles on disk */

static char *tmp_path(const char *name)
{
    char *p;

    CHECK(asprintf(&p, "%s/%s", oc_test_tmpdir(), name) > 0);
    return p;
}

/* An image of random bytes, then a run of a counter that compresses. */
static uint8_t *image_bytes(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);
    size_t random_len = len / 2;

    oc_random_bytes(p, random_len);
    for (size_t i = random_len; i < len; i++)
        p[i] = (uint8_t)((i / 1000) ^ seed);
    return p;
}

static int image_fd(const uint8_t *data, size_t len)
{
    char *path = tmp_path("image-XXXXXX");
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    unlink(path);
    free(path);
    CHECK(len == 0 || write(fd, data, len) == (ssize_t)len);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    return fd;
}

static struct euca_bundle_spec machine_spec(const char *prefix, uint64_t part_size)
{
    struct euca_bundle_spec s = { 0 };

    s.prefix = prefix;
    s.arch = "x86_64";
    s.account = ACCOUNT;
    s.type = EUCA_IMAGE_MACHINE;
    s.kernel_id = "aki-0123456789abcdef0";
    s.ramdisk_id = "ari-0123456789abcdef0";
    s.part_size = part_size;
    s.mtime = MTIME;
    return s;
}

struct made {
    int rc;
    struct oc_err err;
    struct euca_bundle_result res;
    char *dir;
    char *manifest;               /* the file's text */
    size_t manifest_len;
    uint64_t progress_calls, progress_last;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct made *m = ctx;

    CHECK(done >= m->progress_last && done <= total);
    m->progress_calls++;
    m->progress_last = done;
}

/* Bundles data into a fresh directory named after dirname. */
static void make(const struct euca_bundle_spec *s, const struct euca_bundle_keys *k,
                 const uint8_t *data, size_t len, const char *dirname, struct made *m)
{
    struct oc_err err = { 0 };
    int fd = image_fd(data, len);

    memset(m, 0, sizeof(*m));
    m->dir = tmp_path(dirname);
    CHECK_INT(oc_mkdirs(m->dir, 0755, &err), OC_OK);
    m->rc = euca_bundle_create(s, k, fd, len, m->dir, on_progress, m, &m->res, &m->err);
    close(fd);
    if (m->rc == OC_OK) {
        CHECK_INT(oc_read_file(m->res.manifest_path, EUCA_MANIFEST_MAX_BYTES, &m->manifest,
                               &m->manifest_len, &err), OC_OK);
        CHECK_INT(m->progress_last, len);
        CHECK(m->progress_calls >= (len ? 2u : 1u));
    }
}

static void made_free(struct made *m)
{
    euca_bundle_result_free(&m->res);
    free(m->dir);
    free(m->manifest);
}

static size_t dir_count(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    CHECK(d != NULL);
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void file_read(const char *path, struct oc_buf *out)
{
    char *text = NULL;
    size_t len = 0;
    struct oc_err err = { 0 };

    CHECK_INT(oc_read_file(path, 1u << 30, &text, &len, &err), OC_OK);
    CHECK_INT(oc_buf_append(out, text, len), OC_OK);
    free(text);
}

/* ------------------------------------------------------------------ */
/* the existing reader */

struct dir_src {
    const char *dir;
    unsigned opened;
};

static int dir_open_part(void *ctx, const struct euca_manifest_part *p, int *fd,
                         struct oc_err *err)
{
    struct dir_src *s = ctx;
    char *path;

    s->opened++;
    CHECK(asprintf(&path, "%s/%s", s->dir, p->filename) > 0);
    *fd = open(path, O_RDONLY);
    free(path);
    return *fd >= 0 ? OC_OK : oc_err_set(err, OC_ENOTFOUND, "no part %s", p->filename);
}

/* Parse, verify and extract with the cloud's code; the image must come
 * back as it went in. */
static void read_back(const struct made *m, const uint8_t *data, size_t len)
{
    struct oc_arena *a = oc_arena_new();
    struct euca_manifest man;
    struct oc_err err = { 0 };
    struct dir_src ds = { m->dir, 0 };
    struct euca_bundle_source src = { dir_open_part, &ds };
    struct oc_buf out = { 0 };
    const char *cloud_key = pki(CLOUD)->key_pem;
    uint64_t got = 0;
    int fd = image_fd(NULL, 0);

    CHECK_INT(euca_manifest_parse(a, m->manifest, m->manifest_len, &man, &err), OC_OK);
    CHECK_INT(euca_manifest_verify(&man, pki(USER)->cert_pem, strlen(pki(USER)->cert_pem),
                                   &err), OC_OK);
    /* Signed by the user, nobody else. */
    CHECK_INT(euca_manifest_verify(&man, pki(CLOUD)->cert_pem, strlen(pki(CLOUD)->cert_pem),
                                   &err), OC_EAUTH);
    oc_err_clear(&err);
    CHECK_INT(euca_bundle_extract(&man, cloud_key, strlen(cloud_key), &src, fd, &got, &err),
              OC_OK);
    if (err.msg[0])
        printf("    %s\n", err.msg);
    CHECK_INT(got, len);
    CHECK_INT(ds.opened, m->res.nparts);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    for (;;) {
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n <= 0)
            break;
        CHECK_INT(oc_buf_append(&out, buf, (size_t)n), OC_OK);
    }
    CHECK_INT(out.len, len);
    CHECK(out.len == len && (len == 0 || memcmp(out.data, data, len) == 0));
    CHECK_STR(man.digest, m->res.digest);
    CHECK_INT(man.size, len);
    close(fd);
    oc_buf_free(&out);
    oc_arena_free(a);
}

/* ------------------------------------------------------------------ */
/* the format, independently */

static void sha1_hex(const void *data, size_t len, char out[41])
{
    uint8_t raw[SHA_DIGEST_LENGTH];

    SHA1(data, len, raw);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static int lower_hex(const char *s, size_t len)
{
    return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

/* "name" per element, depth-first, with attributes as name[attr=value]. */
static void element_list(xmlNodePtr n, int depth, struct oc_buf *out)
{
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE) {
            /* Text only in leaves; no whitespace between elements. */
            CHECK(n->parent->children == n && !n->next);
            continue;
        }
        CHECK_INT(n->type, XML_ELEMENT_NODE);
        CHECK_INT(oc_buf_printf(out, "%*s%s", depth * 2, "", (const char *)n->name), OC_OK);
        for (xmlAttrPtr at = n->properties; at; at = at->next) {
            xmlChar *v = xmlGetProp(n, at->name);

            CHECK_INT(oc_buf_printf(out, "[%s=%s]", (const char *)at->name,
                                    strcmp((const char *)at->name, "index") == 0 ||
                                    strcmp((const char *)at->name, "count") == 0
                                        ? "N" : (const char *)v), OC_OK);
            xmlFree(v);
        }
        CHECK_INT(oc_buf_putc(out, '\n'), OC_OK);
        element_list(n->children, depth + 1, out);
    }
}

/* Text of the element at a path of names from the root. */
static char *text_at(xmlNodePtr root, const char *p1, const char *p2, const char *p3)
{
    xmlNodePtr n = oc_xml_child(root, p1);

    if (n && p2)
        n = oc_xml_child(n, p2);
    if (n && p3)
        n = oc_xml_child(n, p3);
    CHECK(n != NULL);
    return n ? oc_xml_text(n) : NULL;
}

#define CHECK_TEXT(root, want, p1, p2, p3)                                       \
    do {                                                                         \
        char *t_ = text_at(root, p1, p2, p3);                                    \
        CHECK_STR(t_, want);                                                     \
        xmlFree(t_);                                                             \
    } while (0)

/* RSA PKCS#1 v1.5 decryption by k of a hex ciphertext. */
static void rsa_decrypt_hex(EVP_PKEY *k, const char *hex, char *out, size_t cap)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    uint8_t ct[512], pt[512];
    long ctlen = oc_hex_decode(hex, strlen(hex), ct, sizeof(ct));
    size_t n = sizeof(pt);

    out[0] = '\0';
    CHECK_INT(ctlen, EVP_PKEY_get_size(k));
    CHECK(EVP_PKEY_decrypt_init(ctx) == 1);
    CHECK(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1);
    CHECK(EVP_PKEY_decrypt(ctx, pt, &n, ct, (size_t)ctlen) == 1);
    CHECK(n < cap);
    if (n < cap) {
        memcpy(out, pt, n);
        out[n] = '\0';
    }
    EVP_PKEY_CTX_free(ctx);
}

static void aes_decrypt(const char *key_hex, const char *iv_hex, const struct oc_buf *in,
                        struct oc_buf *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t key[16], iv[16];
    int n = 0;

    CHECK_INT(oc_hex_decode(key_hex, 32, key, 16), 16);
    CHECK_INT(oc_hex_decode(iv_hex, 32, iv, 16), 16);
    CHECK_INT(oc_buf_reserve(out, in->len + 32), OC_OK);
    CHECK(EVP_DecryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv) == 1);
    CHECK(EVP_DecryptUpdate(c, (unsigned char *)out->data, &n,
                            (const unsigned char *)in->data, (int)in->len) == 1);
    out->len = (size_t)n;
    CHECK(EVP_DecryptFinal_ex(c, (unsigned char *)out->data + out->len, &n) == 1);
    out->len += (size_t)n;
    EVP_CIPHER_CTX_free(c);
}

static void gunzip(const struct oc_buf *in, struct oc_buf *out)
{
    z_stream z = { 0 };
    uint8_t buf[65536];
    int zr;

    CHECK_INT(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    do {
        z.next_out = buf;
        z.avail_out = sizeof(buf);
        zr = inflate(&z, Z_NO_FLUSH);
        CHECK(zr == Z_OK || zr == Z_STREAM_END);
        CHECK_INT(oc_buf_append(out, buf, sizeof(buf) - z.avail_out), OC_OK);
    } while (zr == Z_OK);
    CHECK_INT(z.avail_in, 0);     /* one gzip member, nothing after it */
    inflateEnd(&z);
}

static uint64_t octal(const char *field, size_t len)
{
    uint64_t v = 0;

    for (size_t i = 0; i < len && field[i] >= '0' && field[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(field[i] - '0');
    return v;
}

/*
 * The manifest of m, field by field, as euca2ools' dump_to_str writes it,
 * and the parts and the tar stream behind it.  expect_elems is the whole
 * element list (element_list's format).
 */
static void check_format(const struct made *m, const char *prefix, const uint8_t *data,
                         size_t len, uint64_t part_size, const char *expect_elems,
                         const char *type)
{
    xmlDocPtr doc = xmlReadMemory(m->manifest, (int)m->manifest_len, "m.xml", NULL,
                                  XML_PARSE_NONET);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    struct oc_buf elems = { 0 }, enc = { 0 }, gz = { 0 }, tar = { 0 }, size_s = { 0 };
    const char *mc = strstr(m->manifest, "<machine_configuration>");
    const char *im_end = strstr(m->manifest, "</image>");
    char key[64], iv[64], key_u[64], iv_u[64], digest[41];
    char *t, *sig;
    xmlNodePtr parts, part;
    uint64_t bundled = 0;
    size_t nparts = 0;

    CHECK(root != NULL);
    if (!root)
        return;
    /* lxml's tostring: no declaration, no whitespace, no newline. */
    CHECK(strncmp(m->manifest, "<manifest><version>2007-10-10</version><bundler>", 48) == 0);
    CHECK(strcmp(m->manifest + m->manifest_len - 23, "</signature></manifest>") == 0);
    CHECK(!memchr(m->manifest, '\n', m->manifest_len) && !strstr(m->manifest, "> <"));
    element_list(root, 0, &elems);
    CHECK_STR(oc_buf_cstr(&elems), expect_elems);
    if (strcmp(oc_buf_cstr(&elems), expect_elems) != 0)
        printf("%s", oc_buf_cstr(&elems));

    CHECK_TEXT(root, "2007-10-10", "version", NULL, NULL);
    CHECK_TEXT(root, "overcast", "bundler", "name", NULL);
    CHECK_TEXT(root, "0", "bundler", "release", NULL);
    CHECK_TEXT(root, "x86_64", "machine_configuration", "architecture", NULL);
    CHECK_TEXT(root, prefix, "image", "name", NULL);
    CHECK_TEXT(root, ACCOUNT, "image", "user", NULL);
    CHECK_TEXT(root, type, "image", "type", NULL);
    CHECK_INT(oc_buf_printf(&size_s, "%zu", len), OC_OK);
    CHECK_TEXT(root, oc_buf_cstr(&size_s), "image", "size", NULL);

    /* The encrypted key and IV: 2048-bit RSA = 512 hex, the same key
     * for the cloud and the user, 32 lowercase hex characters. */
    {
        static const struct {
            const char *elem;
            int who;
        } fields[] = { { "ec2_encrypted_key", CLOUD }, { "user_encrypted_key", USER },
                    { "ec2_encrypted_iv", CLOUD }, { "user_encrypted_iv", USER } };
        char *plain[] = { key, key_u, iv, iv_u };

        for (size_t i = 0; i < 4; i++) {
            t = text_at(root, "image", fields[i].elem, NULL);
            CHECK(lower_hex(t, 512));
            rsa_decrypt_hex(pki(fields[i].who)->key, t, plain[i], 64);
            xmlFree(t);
        }
    }
    CHECK(lower_hex(key, 32) && lower_hex(iv, 32) && strcmp(key, iv) != 0);
    CHECK_STR(key_u, key);
    CHECK_STR(iv_u, iv);

    /* The parts: full part_size but the last, digests and names. */
    parts = oc_xml_child(oc_xml_child(root, "image"), "parts");
    for (part = parts ? oc_xml_child(parts, "part") : NULL; part;
         part = oc_xml_next(part, "part"), nparts++) {
        xmlChar *idx = xmlGetProp(part, BAD_CAST "index");
        char want_name[256], *fname = text_at(part, "filename", NULL, NULL), *path;
        char *dg = text_at(part, "digest", NULL, NULL);
        struct oc_buf bytes = { 0 };
        char d[41];

        snprintf(want_name, sizeof(want_name), "%s.part.%02zu", prefix, nparts);
        CHECK_INT(atoi((const char *)idx), nparts);
        CHECK_STR(fname, want_name);
        CHECK(asprintf(&path, "%s/%s", m->dir, want_name) > 0);
        file_read(path, &bytes);
        sha1_hex(bytes.data, bytes.len, d);
        CHECK_STR(dg, d);
        CHECK(bytes.len > 0 && bytes.len <= part_size);
        bundled += bytes.len;
        CHECK_INT(oc_buf_append(&enc, bytes.data, bytes.len), OC_OK);
        if (oc_xml_next(part, "part"))
            CHECK_INT(bytes.len, part_size);
        oc_buf_free(&bytes);
        free(path);
        xmlFree(idx);
        xmlFree(fname);
        xmlFree(dg);
    }
    t = parts ? (char *)xmlGetProp(parts, BAD_CAST "count") : NULL;
    CHECK_INT(t ? atoi(t) : -1, nparts);
    xmlFree(t);
    CHECK_INT(nparts, m->res.nparts);
    /* The parts and the manifest, nothing else. */
    CHECK_INT(dir_count(m->dir), nparts + 1);
    CHECK_INT(m->res.bundled_size, bundled);
    oc_buf_reset(&size_s);
    CHECK_INT(oc_buf_printf(&size_s, "%llu", (unsigned long long)bundled), OC_OK);
    CHECK_TEXT(root, oc_buf_cstr(&size_s), "image", "bundled_size", NULL);
    CHECK_INT(enc.len % 16, 0);

    /* AES-128-CBC -> one gzip member -> a GNU tar of one file. */
    aes_decrypt(key, iv, &enc, &gz);
    CHECK(gz.len > 10 && (uint8_t)gz.data[0] == 0x1f && (uint8_t)gz.data[1] == 0x8b);
    gunzip(&gz, &tar);
    sha1_hex(tar.data, tar.len, digest);
    CHECK_TEXT(root, digest, "image", "digest", NULL);
    CHECK_STR(m->res.digest, digest);
    CHECK_INT(tar.len % 10240, 0);
    CHECK(tar.len >= 512 + (len + 511) / 512 * 512 + 1024);
    if (tar.len >= 512) {
        CHECK_STR(tar.data, prefix);                          /* name */
        CHECK(memcmp(tar.data + 257, "ustar  \0", 8) == 0);   /* GNU magic */
        CHECK_INT(tar.data[156], '0');                        /* a regular file */
        CHECK_INT(octal(tar.data + 124, 12), len);
        CHECK_INT(octal(tar.data + 136, 12), MTIME);
        CHECK_INT(octal(tar.data + 100, 8), 0644);
        CHECK(len == 0 || memcmp(tar.data + 512, data, len) == 0);
    }

    /* The signature: RSA-SHA1 by the user over the two elements as they
     * are in the file. */
    sig = text_at(root, "signature", NULL, NULL);
    CHECK(lower_hex(sig, 512));
    CHECK(mc && im_end && mc < im_end);
    if (sig && mc && im_end) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t raw[256];

        CHECK_INT(oc_hex_decode(sig, strlen(sig), raw, sizeof(raw)), 256);
        CHECK(EVP_DigestVerifyInit(ctx, NULL, EVP_sha1(), NULL, pki(USER)->key) == 1);
        CHECK_INT(EVP_DigestVerify(ctx, raw, 256, (const unsigned char *)mc,
                                   (size_t)(im_end + 8 - mc)), 1);
        EVP_MD_CTX_free(ctx);
        /* Only machine_configuration and image lie between. */
        CHECK(strstr(m->manifest, "</machine_configuration><image>") != NULL);
    }
    xmlFree(sig);
    oc_buf_free(&elems);
    oc_buf_free(&enc);
    oc_buf_free(&gz);
    oc_buf_free(&tar);
    oc_buf_free(&size_s);
    xmlFreeDoc(doc);
}

/* The element list of a euca2ools manifest with n parts; mc is the
 * machine_configuration's children. */
static char *expected_elems(const char *mc, size_t nparts)
{
    struct oc_buf b = { 0 };

    CHECK_INT(oc_buf_printf(&b,
                            "manifest\n"
                            "  version\n"
                            "  bundler\n"
                            "    name\n"
                            "    version\n"
                            "    release\n"
                            "  machine_configuration\n"
                            "%s"
                            "  image\n"
                            "    name\n"
                            "    user\n"
                            "    digest[algorithm=SHA1]\n"
                            "    size\n"
                            "    bundled_size\n"
                            "    type\n"
                            "    ec2_encrypted_key[algorithm=AES-128-CBC]\n"
                            "    user_encrypted_key[algorithm=AES-128-CBC]\n"
                            "    ec2_encrypted_iv\n"
                            "    user_encrypted_iv\n"
                            "    parts[count=N]\n",
                            mc), OC_OK);
    for (size_t i = 0; i < nparts; i++)
        CHECK_INT(oc_buf_puts(&b, "      part[index=N]\n"
                                  "        filename\n"
                                  "        digest[algorithm=SHA1]\n"), OC_OK);
    CHECK_INT(oc_buf_puts(&b, "  signature\n"), OC_OK);
    return oc_buf_steal(&b);
}

#define MC_MACHINE                                                   \
    "    architecture\n"                                             \
    "    kernel_id\n"                                                \
    "    ramdisk_id\n"                                               \
    "    block_device_mapping\n"                                     \
    "      mapping\n        device\n        virtual\n"               \
    "      mapping\n        device\n        virtual\n"               \
    "      mapping\n        device\n        virtual\n"               \
    "      mapping\n        device\n        virtual\n"

/* ------------------------------------------------------------------ */

OC_TEST(bundler_round_trip_and_format)
{
    size_t len = 300 * 1000 + 17;
    uint8_t *img = image_bytes(len, 1);
    struct euca_bundle_spec s = machine_spec("disk.img", 64 * 1024);
    struct euca_bundle_keys k = keys_of(USER, USER, CLOUD);
    struct made m;
    char *want;

    make(&s, &k, img, len, "rt", &m);
    CHECK_INT(m.rc, OC_OK);
    if (m.rc)
        printf("    %s\n", m.err.msg);
    CHECK(m.res.nparts >= 2);
    CHECK_INT(m.res.size, len);
    read_back(&m, img, len);
    want = expected_elems(MC_MACHINE, m.res.nparts);
    check_format(&m, "disk.img", img, len, 64 * 1024, want, "machine");
    /* euca2ools' default mappings, sorted by virtual name, device first. */
    CHECK(strstr(m.manifest, "<kernel_id>aki-0123456789abcdef0</kernel_id>"
                             "<ramdisk_id>ari-0123456789abcdef0</ramdisk_id>"
                             "<block_device_mapping>"
                             "<mapping><device>sda1</device><virtual>ami</virtual></mapping>"
                             "<mapping><device>sda2</device><virtual>ephemeral0</virtual>"
                             "</mapping>"
                             "<mapping><device>/dev/sda1</device><virtual>root</virtual>"
                             "</mapping>"
                             "<mapping><device>sda3</device><virtual>swap</virtual></mapping>"
                             "</block_device_mapping></machine_configuration>") != NULL);
    free(want);
    made_free(&m);
    free(img);
}

OC_TEST(bundler_sizes_and_part_boundaries)
{
    static const size_t sizes[] = { 0, 1, 512, 10240, 3 * 1024 * 1024 + 5 };
    struct euca_bundle_keys k = keys_of(USER, USER, CLOUD);

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *img = image_bytes(sizes[i], (unsigned)i + 2);
        struct euca_bundle_spec s = machine_spec("img", 4096);
        char dir[32];
        struct made m;
        char *want;

        snprintf(dir, sizeof(dir), "sz%zu", i);
        make(&s, &k, img, sizes[i], dir, &m);
        CHECK_INT(m.rc, OC_OK);
        read_back(&m, img, sizes[i]);
        want = expected_elems(MC_MACHINE, m.res.nparts);
        check_format(&m, "img", img, sizes[i], 4096, want, "machine");
        free(want);
        made_free(&m);
        free(img);
    }

    /* Ciphertext of exactly two parts: no third, empty one.  The same
     * image and mtime make the same gzip stream, so the second bundle is
     * as long as the first whatever its key. */
    {
        size_t len = 200 * 1000;
        uint8_t *img = image_bytes(len, 9);
        struct euca_bundle_spec s = machine_spec("even", 1u << 30);
        struct made m1, m2;

        make(&s, &k, img, len, "even1", &m1);
        CHECK_INT(m1.rc, OC_OK);
        CHECK_INT(m1.res.nparts, 1);
        s.part_size = m1.res.bundled_size / 2;
        make(&s, &k, img, len, "even2", &m2);
        CHECK_INT(m2.rc, OC_OK);
        CHECK_INT(m2.res.bundled_size, m1.res.bundled_size);
        CHECK_INT(m2.res.nparts, 2);
        CHECK_INT(dir_count(m2.dir), 3);
        read_back(&m2, img, len);
        made_free(&m1);
        made_free(&m2);
        free(img);
    }
}

OC_TEST(bundler_default_part_size)
{
    /* 21 MiB that barely compress: parts of 10 MiB as euca2ools cuts them. */
    size_t len = 21u << 20;
    uint8_t *img = malloc(len);
    struct euca_bundle_spec s = machine_spec("big.img", 0);
    struct euca_bundle_keys k = keys_of(USER, USER, CLOUD);
    struct made m;
    char *want;

    oc_random_bytes(img, len);
    make(&s, &k, img, len, "big", &m);
    CHECK_INT(m.rc, OC_OK);
    CHECK_INT(m.res.nparts, 3);
    read_back(&m, img, len);
    want = expected_elems(MC_MACHINE, 3);
    check_format(&m, "big.img", img, len, 10u << 20, want, "machine");
    free(want);
    made_free(&m);
    free(img);
}

OC_TEST(bundler_kernel_ramdisk_and_options)
{
    size_t len = 50 * 1000;
    uint8_t *img = image_bytes(len, 3);
    struct euca_bundle_keys k = keys_of(USER, USER, CLOUD);
    struct euca_manifest_mapping maps[] = { { "swap", "sdb3" }, { "ami", "vda" },
                                            { "ephemeral1", "sdc" } };
    const char *codes[] = { "ABCD1234", "ffff0000" };
    struct euca_bundle_spec s;
    struct made m;
    char *want;

    /* A kernel bundle: euca2ools' "--kernel true", no mappings. */
    s = machine_spec("vmlinuz", 16384);
    s.type = EUCA_IMAGE_KERNEL;
    s.kernel_id = "true";
    s.ramdisk_id = NULL;
    make(&s, &k, img, len, "kernel", &m);
    CHECK_INT(m.rc, OC_OK);
    read_back(&m, img, len);
    want = expected_elems("    architecture\n    kernel_id\n", m.res.nparts);
    check_format(&m, "vmlinuz", img, len, 16384, want, "kernel");
    CHECK(strstr(m.manifest, "<machine_configuration><architecture>x86_64</architecture>"
                             "<kernel_id>true</kernel_id></machine_configuration>") != NULL);
    free(want);
    made_free(&m);

    /* A ramdisk by --image-type alone. */
    s = machine_spec("initrd", 16384);
    s.type = EUCA_IMAGE_RAMDISK;
    s.kernel_id = s.ramdisk_id = NULL;
    make(&s, &k, img, len, "ramdisk", &m);
    CHECK_INT(m.rc, OC_OK);
    read_back(&m, img, len);
    want = expected_elems("    architecture\n", m.res.nparts);
    check_format(&m, "initrd", img, len, 16384, want, "ramdisk");
    free(want);
    made_free(&m);

    /* A machine image of its own mappings (sorted) and product codes. */
    s = machine_spec("custom", 16384);
    s.kernel_id = s.ramdisk_id = NULL;
    s.mappings = maps;
    s.nmappings = 3;
    s.product_codes = codes;
    s.nproduct_codes = 2;
    make(&s, &k, img, len, "custom", &m);
    CHECK_INT(m.rc, OC_OK);
    read_back(&m, img, len);
    want = expected_elems("    architecture\n"
                          "    block_device_mapping\n"
                          "      mapping\n        device\n        virtual\n"
                          "      mapping\n        device\n        virtual\n"
                          "      mapping\n        device\n        virtual\n"
                          "    product_codes\n      product_code\n      product_code\n",
                          m.res.nparts);
    check_format(&m, "custom", img, len, 16384, want, "machine");
    CHECK(strstr(m.manifest, "<block_device_mapping>"
                             "<mapping><device>vda</device><virtual>ami</virtual></mapping>"
                             "<mapping><device>sdc</device><virtual>ephemeral1</virtual>"
                             "</mapping>"
                             "<mapping><device>sdb3</device><virtual>swap</virtual></mapping>"
                             "</block_device_mapping><product_codes>"
                             "<product_code>ABCD1234</product_code>"
                             "<product_code>ffff0000</product_code></product_codes>") != NULL);
    free(want);
    made_free(&m);

    /* A name that needs escaping is escaped, and still reads back. */
    s = machine_spec("a&b<c>.img", 16384);
    make(&s, &k, img, len, "escape", &m);
    CHECK_INT(m.rc, OC_OK);
    CHECK(m.manifest && strstr(m.manifest, "<name>a&amp;b&lt;c&gt;.img</name>") != NULL);
    read_back(&m, img, len);
    made_free(&m);
    free(img);
}

/* Refused before anything is written: no manifest, no parts. */
static void refused(const struct euca_bundle_spec *s, const struct euca_bundle_keys *k,
                    const char *dirname, const char *text)
{
    uint8_t img[2000] = { 1, 2, 3 };
    struct made m;

    make(s, k, img, sizeof(img), dirname, &m);
    CHECK_INT(m.rc, OC_EINVAL);
    if (!strstr(m.err.msg, text))
        oc_test_fail(__FILE__, __LINE__, "%s: message '%s' lacks '%s'", dirname, m.err.msg,
                     text);
    CHECK_INT(dir_count(m.dir), 0);
    CHECK(m.res.manifest_path == NULL);
    made_free(&m);
}

OC_TEST(bundler_refusals)
{
    struct euca_bundle_keys good = keys_of(USER, USER, CLOUD);
    struct euca_bundle_keys k;
    struct euca_manifest_mapping dup[] = { { "ami", "sda1" }, { "ami", "sda2" } };
    struct euca_manifest_mapping bad[] = { { "ami", "sda 1" } };
    struct euca_bundle_spec s;
    char long_prefix[EUCA_BUNDLE_PREFIX_MAX + 2];

    s = machine_spec("a/b", 4096);
    refused(&s, &good, "r-slash", "prefix");
    s = machine_spec("..", 4096);
    refused(&s, &good, "r-dots", "prefix");
    memset(long_prefix, 'x', sizeof(long_prefix) - 1);
    long_prefix[sizeof(long_prefix) - 1] = '\0';
    s = machine_spec(long_prefix, 4096);
    refused(&s, &good, "r-long", "prefix");
    s = machine_spec("x", 4096);
    s.arch = "sparc";
    refused(&s, &good, "r-arch", "architecture");
    s = machine_spec("x", 4096);
    s.account = "12345";
    refused(&s, &good, "r-acct", "12 digits");
    s = machine_spec("x", 4096);
    s.kernel_id = "vmlinuz";
    refused(&s, &good, "r-kid", "kernel");
    s = machine_spec("x", 4096);
    s.kernel_id = "true";
    refused(&s, &good, "r-ktrue", "machine image");
    s = machine_spec("x", 4096);
    s.type = EUCA_IMAGE_KERNEL;
    s.kernel_id = NULL;
    refused(&s, &good, "r-kram", "kernel image");
    s = machine_spec("x", 4096);
    s.type = EUCA_IMAGE_RAMDISK;
    s.kernel_id = s.ramdisk_id = NULL;
    s.mappings = dup;
    s.nmappings = 1;
    refused(&s, &good, "r-rmap", "machine images only");
    s = machine_spec("x", 4096);
    s.mappings = dup;
    s.nmappings = 2;
    refused(&s, &good, "r-dup", "twice");
    s = machine_spec("x", 4096);
    s.mappings = bad;
    s.nmappings = 1;
    refused(&s, &good, "r-badmap", "malformed");
    s = machine_spec("x", 100);
    refused(&s, &good, "r-part", "part size");

    s = machine_spec("x", 4096);
    k = keys_of(USER, OTHER, CLOUD);
    refused(&s, &k, "r-keymix", "not the user certificate's key");
    k = good;
    k.cloud_cert = pki(CLOUD)->key_pem;
    k.cloud_cert_len = strlen(k.cloud_cert);
    refused(&s, &k, "r-cloudpem", "cloud certificate");
    k = good;
    k.user_key = pki(USER)->cert_pem;
    k.user_key_len = strlen(k.user_key);
    refused(&s, &k, "r-userkey", "private key");
}

OC_TEST(bundler_short_image)
{
    /* The image ends before its announced size: an error, no manifest. */
    uint8_t img[5000] = { 0 };
    struct euca_bundle_spec s = machine_spec("short", 4096);
    struct euca_bundle_keys k = keys_of(USER, USER, CLOUD);
    struct euca_bundle_result res;
    struct oc_err err = { 0 };
    char *dir = tmp_path("short");
    char *manifest = tmp_path("short/short.manifest.xml");
    int fd = image_fd(img, sizeof(img));

    CHECK_INT(oc_mkdirs(dir, 0755, &err), OC_OK);
    CHECK_INT(euca_bundle_create(&s, &k, fd, sizeof(img) + 1, dir, NULL, NULL, &res, &err),
              OC_EIO);
    CHECK(strstr(err.msg, "ended after 5000 of 5001 bytes") != NULL);
    CHECK(access(manifest, F_OK) != 0);
    close(fd);
    free(dir);
    free(manifest);
}
