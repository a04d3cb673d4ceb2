/*
 * manifest.c - bundle manifests: strict parse on libxml2 (common/xml.h,
 * no entities, no DTD, no network) and the RSA-SHA1 signature check on
 * OpenSSL.  See manifest.h for the format and what is signed.
 */
#include "euca-compat/manifest.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/codec.h"
#include "common/xml.h"

#define MC_OPEN "<machine_configuration>"
#define MC_CLOSE "</machine_configuration>"
#define IMAGE_OPEN "<image>"
#define IMAGE_CLOSE "</image>"

/* Field limits: generous for anything a bundler writes, small enough that
 * a hostile manifest cannot make us hold much. */
#define LEN_NAME 1024
#define LEN_SHORT 64
#define LEN_FILENAME 255
#define LEN_ENC_HEX 4096      /* an RSA-16384 ciphertext */
#define LEN_SIG_HEX 4096
#define SHA1_HEX 40

const char *euca_image_type_name(enum euca_image_type t)
{
    switch (t) {
    case EUCA_IMAGE_KERNEL:
        return "kernel";
    case EUCA_IMAGE_RAMDISK:
        return "ramdisk";
    case EUCA_IMAGE_MACHINE:
    default:
        return "machine";
    }
}

/* ------------------------------------------------------------------ */
/* small checks */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int all_of(const char *s, const char *set)
{
    return strspn(s, set) == strlen(s);
}

#define DIGITS "0123456789"
#define HEXDIGITS "0123456789abcdefABCDEF"
#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* Decimal without sign or spaces, at most max. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (!*s || strlen(s) > 20 || !all_of(s, DIGITS))
        return -1;
    for (; *s; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* Hex of even length within [min, max] characters; lowercased in place. */
static int hex_ok(char *s, size_t min, size_t max)
{
    size_t n = strlen(s);

    if (n < min || n > max || n % 2 || !all_of(s, HEXDIGITS))
        return 0;
    lower(s);
    return 1;
}

/* ------------------------------------------------------------------ */
/* tree helpers */

/* The only element child named `name` of parent: more than one is an
 * error; none is one when required (else *out is NULL). */
static int child_one(xmlNodePtr parent, const char *name, int required, xmlNodePtr *out,
                     struct oc_err *err)
{
    xmlNodePtr n = oc_xml_child(parent, name);

    *out = n;
    if (!n) {
        if (required)
            return oc_err_set(err, OC_EINVAL, "the manifest has no <%s> in <%s>", name,
                              (const char *)parent->name);
        return OC_OK;
    }
    if (oc_xml_next(n, name))
        return oc_err_set(err, OC_EINVAL, "the manifest has more than one <%s> in <%s>", name,
                          (const char *)parent->name);
    return OC_OK;
}

/* Trimmed text of an element that holds only text, at most max bytes,
 * without control characters.  A NULL node gives "". */
static int leaf_text(struct oc_arena *a, xmlNodePtr n, size_t max, char **out,
                     struct oc_err *err)
{
    char *t, *s;
    size_t len;

    if (!n) {
        *out = oc_arena_strdup(a, "");
        return OC_OK;
    }
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return oc_err_set(err, OC_EINVAL, "<%s> in the manifest must hold text only",
                              (const char *)n->name);
    t = oc_xml_text(n);
    s = t ? t : (char *)"";
    while (is_space(*s))
        s++;
    len = strlen(s);
    while (len && is_space(s[len - 1]))
        len--;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            xmlFree(t);
            return oc_err_set(err, OC_EINVAL, "<%s> in the manifest holds a control character",
                              (const char *)n->name);
        }
    if (len > max) {
        xmlFree(t);
        return oc_err_set(err, OC_EINVAL, "<%s> in the manifest is longer than %zu bytes",
                          (const char *)n->name, max);
    }
    *out = oc_arena_strndup(a, s, len);
    xmlFree(t);
    return OC_OK;
}

/* Text of the only child `name` (required or ""). */
static int field(struct oc_arena *a, xmlNodePtr parent, const char *name, int required,
                 size_t max, char **out, struct oc_err *err)
{
    xmlNodePtr n;
    int rc = child_one(parent, name, required, &n, err);

    if (rc)
        return rc;
    rc = leaf_text(a, n, max, out, err);
    if (rc == OC_OK && required && !**out)
        rc = oc_err_set(err, OC_EINVAL, "<%s> in the manifest is empty", name);
    return rc;
}

/* An attribute's value (arena copy), or NULL when absent. */
static const char *attr(struct oc_arena *a, xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    char *s;

    if (!v)
        return NULL;
    s = oc_arena_strdup(a, (const char *)v);
    xmlFree(v);
    return s;
}

/* algorithm="SHA1" (case aside) on a digest element; absent means SHA1. */
static int sha1_attr(struct oc_arena *a, xmlNodePtr n, struct oc_err *err)
{
    const char *alg = attr(a, n, "algorithm");

    if (alg && strcasecmp(alg, "SHA1") != 0 && strcasecmp(alg, "SHA-1") != 0)
        return oc_err_set(err, OC_EINVAL, "digest algorithm '%.32s' is not supported (SHA1)",
                          alg);
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* the signed text */

/* [start, end) of the element `open`…`close` in the document: the first
 * opening tag, which must be the only one, and the first closing tag
 * after it. */
static int signed_span(const char *xml, size_t len, const char *open, const char *close,
                       const char **start, size_t *slen, struct oc_err *err)
{
    size_t olen = strlen(open), clen = strlen(close);
    const char *p = memmem(xml, len, open, olen), *q;

    if (!p)
        return oc_err_set(err, OC_EINVAL, "the manifest has no %s element", open);
    if (memmem(p + olen, len - (size_t)(p + olen - xml), open, olen))
        return oc_err_set(err, OC_EINVAL, "the manifest has more than one %s element", open);
    q = memmem(p + olen, len - (size_t)(p + olen - xml), close, clen);
    if (!q)
        return oc_err_set(err, OC_EINVAL, "the manifest has no %s", close);
    *start = p;
    *slen = (size_t)(q + clen - p);
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* machine_configuration */

static int id_or_true(char *s)
{
    const char *dash;
    size_t tail;

    if (!*s || strcmp(s, "true") == 0)
        return 1;
    dash = strchr(s, '-');
    if (!dash || dash - s != 3 || strspn(s, "abcdefghijklmnopqrstuvwxyz") != 3)
        return 0;
    tail = strlen(dash + 1);
    if (tail < 8 || tail > 17 || !all_of(dash + 1, HEXDIGITS))
        return 0;
    lower(s);
    return 1;
}

static int parse_mappings(struct oc_arena *a, xmlNodePtr bdm, struct euca_manifest *m,
                          struct oc_err *err)
{
    size_t n = 0;

    for (xmlNodePtr c = bdm->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) {
            if (xmlStrcmp(c->name, BAD_CAST "mapping") != 0)
                return oc_err_set(err, OC_EINVAL, "unexpected <%.64s> in <block_device_mapping>",
                                  (const char *)c->name);
            n++;
        }
    if (n > EUCA_MANIFEST_MAX_MAPPINGS)
        return oc_err_set(err, OC_ETOOBIG, "more than %d block device mappings",
                          EUCA_MANIFEST_MAX_MAPPINGS);
    m->mappings = oc_arena_calloc(a, n ? n : 1, sizeof(*m->mappings));
    for (xmlNodePtr c = oc_xml_child(bdm, "mapping"); c; c = oc_xml_next(c, "mapping")) {
        char *virt, *dev;
        int rc = field(a, c, "virtual", 1, LEN_SHORT, &virt, err);

        if (rc == OC_OK)
            rc = field(a, c, "device", 1, LEN_SHORT, &dev, err);
        if (rc)
            return rc;
        if (!all_of(virt, ALNUM "_-") || !all_of(dev, ALNUM "/_.:-"))
            return oc_err_set(err, OC_EINVAL, "block device mapping '%s' -> '%s' is malformed",
                              virt, dev);
        m->mappings[m->nmappings].virtual_name = virt;
        m->mappings[m->nmappings].device = dev;
        m->nmappings++;
    }
    return OC_OK;
}

static int parse_product_codes(struct oc_arena *a, xmlNodePtr pc, struct euca_manifest *m,
                               struct oc_err *err)
{
    size_t n = 0;

    for (xmlNodePtr c = oc_xml_child(pc, "product_code"); c; c = oc_xml_next(c, "product_code"))
        n++;
    if (n > EUCA_MANIFEST_MAX_PRODUCT_CODES)
        return oc_err_set(err, OC_ETOOBIG, "more than %d product codes",
                          EUCA_MANIFEST_MAX_PRODUCT_CODES);
    m->product_codes = oc_arena_calloc(a, n ? n : 1, sizeof(*m->product_codes));
    for (xmlNodePtr c = oc_xml_child(pc, "product_code"); c; c = oc_xml_next(c, "product_code")) {
        char *code;
        int rc = leaf_text(a, c, LEN_SHORT, &code, err);

        if (rc)
            return rc;
        if (!*code || !all_of(code, ALNUM))
            return oc_err_set(err, OC_EINVAL, "product code '%s' is malformed", code);
        m->product_codes[m->nproduct_codes++] = code;
    }
    return OC_OK;
}

static int parse_machine(struct oc_arena *a, xmlNodePtr mc, struct euca_manifest *m,
                         struct oc_err *err)
{
    static const char *const arches[] = { "i386", "x86_64", "arm64", "armhf" };
    char *arch, *kernel, *ramdisk;
    xmlNodePtr bdm, pc;
    int rc, known = 0;

    rc = field(a, mc, "architecture", 1, LEN_SHORT, &arch, err);
    if (rc == OC_OK)
        rc = field(a, mc, "kernel_id", 0, LEN_SHORT, &kernel, err);
    if (rc == OC_OK)
        rc = field(a, mc, "ramdisk_id", 0, LEN_SHORT, &ramdisk, err);
    if (rc == OC_OK)
        rc = child_one(mc, "block_device_mapping", 0, &bdm, err);
    if (rc == OC_OK)
        rc = child_one(mc, "product_codes", 0, &pc, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
        known |= strcmp(arch, arches[i]) == 0;
    if (!known)
        return oc_err_set(err, OC_EINVAL, "architecture '%s' is not one of i386, x86_64, "
                                          "arm64, armhf", arch);
    if (!id_or_true(kernel))
        return oc_err_set(err, OC_EINVAL, "kernel_id '%s' is malformed", kernel);
    if (!id_or_true(ramdisk))
        return oc_err_set(err, OC_EINVAL, "ramdisk_id '%s' is malformed", ramdisk);
    m->architecture = arch;
    m->kernel_id = kernel;
    m->ramdisk_id = ramdisk;
    m->mappings = NULL;
    if (bdm && (rc = parse_mappings(a, bdm, m, err)) != OC_OK)
        return rc;
    if (pc && (rc = parse_product_codes(a, pc, m, err)) != OC_OK)
        return rc;
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* image */

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int parse_parts(struct oc_arena *a, xmlNodePtr parts, struct euca_manifest *m,
                       struct oc_err *err)
{
    const char *count_s = attr(a, parts, "count");
    const char **names;
    uint64_t count, seen = 0;

    if (!count_s || parse_u64(count_s, UINT64_MAX, &count) != 0)
        return oc_err_set(err, OC_EINVAL, "<parts> needs a decimal count attribute");
    if (count == 0)
        return oc_err_set(err, OC_EINVAL, "the bundle has no parts");
    if (count > EUCA_MANIFEST_MAX_PARTS)
        return oc_err_set(err, OC_ETOOBIG, "the bundle has more than %d parts",
                          EUCA_MANIFEST_MAX_PARTS);
    m->parts = oc_arena_calloc(a, (size_t)count, sizeof(*m->parts));
    for (xmlNodePtr c = parts->children; c; c = c->next) {
        struct euca_manifest_part *p;
        const char *idx_s;
        char *fname, *digest;
        xmlNodePtr dnode;
        uint64_t idx;
        int rc;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrcmp(c->name, BAD_CAST "part") != 0)
            return oc_err_set(err, OC_EINVAL, "unexpected <%.64s> in <parts>",
                              (const char *)c->name);
        if (++seen > count)
            return oc_err_set(err, OC_EINVAL, "<parts> holds more parts than its count %s",
                              count_s);
        idx_s = attr(a, c, "index");
        if (!idx_s || parse_u64(idx_s, count - 1, &idx) != 0)
            return oc_err_set(err, OC_EINVAL, "a part's index '%.32s' is not in 0..%llu",
                              idx_s ? idx_s : "", (unsigned long long)(count - 1));
        p = &m->parts[idx];
        if (p->filename)
            return oc_err_set(err, OC_EINVAL, "part %llu appears twice",
                              (unsigned long long)idx);
        rc = field(a, c, "filename", 1, LEN_FILENAME, &fname, err);
        if (rc == OC_OK)
            rc = child_one(c, "digest", 1, &dnode, err);
        if (rc == OC_OK)
            rc = sha1_attr(a, dnode, err);
        if (rc == OC_OK)
            rc = leaf_text(a, dnode, SHA1_HEX, &digest, err);
        if (rc)
            return rc;
        if (strchr(fname, '/') || strcmp(fname, ".") == 0 || strcmp(fname, "..") == 0)
            return oc_err_set(err, OC_EINVAL, "part file name '%s' is not a plain name", fname);
        if (strlen(digest) != SHA1_HEX || !hex_ok(digest, SHA1_HEX, SHA1_HEX))
            return oc_err_set(err, OC_EINVAL, "part %llu's digest is not 40 hex digits",
                              (unsigned long long)idx);
        p->index = (unsigned)idx;
        p->filename = fname;
        p->digest = digest;
    }
    if (seen != count)
        return oc_err_set(err, OC_EINVAL, "<parts count=\"%s\"> holds %llu parts", count_s,
                          (unsigned long long)seen);
    m->nparts = (size_t)count;
    /* Two parts in one object could not both be right. */
    names = oc_arena_calloc(a, m->nparts, sizeof(*names));
    for (size_t i = 0; i < m->nparts; i++)
        names[i] = m->parts[i].filename;
    qsort(names, m->nparts, sizeof(*names), cmp_str);
    for (size_t i = 1; i < m->nparts; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return oc_err_set(err, OC_EINVAL, "part file name '%s' appears twice", names[i]);
    return OC_OK;
}

/* An encrypted key or IV: hex, and an algorithm attribute (when present)
 * of AES-128-CBC. */
static int enc_field(struct oc_arena *a, xmlNodePtr image, const char *name, int required,
                     struct euca_manifest *m, const char **out, struct oc_err *err)
{
    xmlNodePtr n;
    const char *alg;
    char *v;
    int rc = child_one(image, name, required, &n, err);

    if (rc == OC_OK)
        rc = leaf_text(a, n, LEN_ENC_HEX, &v, err);
    if (rc)
        return rc;
    if (n && !hex_ok(v, 2, LEN_ENC_HEX))
        return oc_err_set(err, OC_EINVAL, "<%s> is not hex", name);
    alg = n ? attr(a, n, "algorithm") : NULL;
    if (alg) {
        if (strcasecmp(alg, "AES-128-CBC") != 0)
            return oc_err_set(err, OC_EINVAL, "bundle cipher '%.32s' is not supported "
                                              "(AES-128-CBC)", alg);
        m->enc_algorithm = "AES-128-CBC";
    }
    *out = v;
    return OC_OK;
}

static int parse_image(struct oc_arena *a, xmlNodePtr image, struct euca_manifest *m,
                       struct oc_err *err)
{
    char *name, *user, *type, *digest, *size, *bsize;
    xmlNodePtr dnode, parts;
    int rc;

    rc = field(a, image, "name", 1, LEN_NAME, &name, err);
    if (rc == OC_OK)
        rc = field(a, image, "user", 1, LEN_SHORT, &user, err);
    if (rc == OC_OK)
        rc = field(a, image, "type", 1, LEN_SHORT, &type, err);
    if (rc == OC_OK)
        rc = child_one(image, "digest", 1, &dnode, err);
    if (rc == OC_OK)
        rc = sha1_attr(a, dnode, err);
    if (rc == OC_OK)
        rc = leaf_text(a, dnode, SHA1_HEX, &digest, err);
    if (rc == OC_OK)
        rc = field(a, image, "size", 1, LEN_SHORT, &size, err);
    if (rc == OC_OK)
        rc = field(a, image, "bundled_size", 1, LEN_SHORT, &bsize, err);
    if (rc)
        return rc;
    if (!all_of(user, ALNUM "-_.@"))
        return oc_err_set(err, OC_EINVAL, "<user> '%s' is malformed", user);
    if (strcmp(type, "machine") == 0)
        m->type = EUCA_IMAGE_MACHINE;
    else if (strcmp(type, "kernel") == 0)
        m->type = EUCA_IMAGE_KERNEL;
    else if (strcmp(type, "ramdisk") == 0)
        m->type = EUCA_IMAGE_RAMDISK;
    else
        return oc_err_set(err, OC_EINVAL, "image type '%s' is not machine, kernel or ramdisk",
                          type);
    m->type_name = euca_image_type_name(m->type);
    if (strlen(digest) != SHA1_HEX || !hex_ok(digest, SHA1_HEX, SHA1_HEX))
        return oc_err_set(err, OC_EINVAL, "the image digest is not 40 hex digits");
    if (parse_u64(size, EUCA_MANIFEST_MAX_IMAGE_SIZE, &m->size) != 0)
        return oc_err_set(err, OC_EINVAL, "image size '%s' is not a byte count", size);
    if (parse_u64(bsize, EUCA_MANIFEST_MAX_IMAGE_SIZE, &m->bundled_size) != 0)
        return oc_err_set(err, OC_EINVAL, "bundled size '%s' is not a byte count", bsize);
    m->name = name;
    m->user = user;
    m->digest = digest;
    m->enc_algorithm = "AES-128-CBC";
    rc = enc_field(a, image, "ec2_encrypted_key", 1, m, &m->ec2_encrypted_key, err);
    if (rc == OC_OK)
        rc = enc_field(a, image, "ec2_encrypted_iv", 1, m, &m->ec2_encrypted_iv, err);
    if (rc == OC_OK)
        rc = enc_field(a, image, "user_encrypted_key", 0, m, &m->user_encrypted_key, err);
    if (rc == OC_OK)
        rc = enc_field(a, image, "user_encrypted_iv", 0, m, &m->user_encrypted_iv, err);
    if (rc == OC_OK)
        rc = child_one(image, "parts", 1, &parts, err);
    if (rc == OC_OK)
        rc = parse_parts(a, parts, m, err);
    return rc;
}

/* ------------------------------------------------------------------ */
/* the document */

/* version, bundler and signature: the parts outside the signed text. */
static int parse_outer(struct oc_arena *a, xmlNodePtr root, struct euca_manifest *m,
                       struct oc_err *err)
{
    xmlNodePtr bundler, node;
    char *version, *sig;
    int rc;

    rc = field(a, root, "version", 1, LEN_SHORT, &version, err);
    if (rc == OC_OK)
        rc = field(a, root, "signature", 1, LEN_SIG_HEX, &sig, err);
    if (rc == OC_OK)
        rc = child_one(root, "machine_configuration", 1, &node, err);
    if (rc == OC_OK)
        rc = child_one(root, "image", 1, &node, err);
    if (rc == OC_OK)
        rc = child_one(root, "bundler", 0, &bundler, err);
    if (rc)
        return rc;
    if (!all_of(version, DIGITS "-"))
        return oc_err_set(err, OC_EINVAL, "manifest version '%s' is malformed", version);
    if (!hex_ok(sig, 2, LEN_SIG_HEX))
        return oc_err_set(err, OC_EINVAL, "the manifest signature is not hex");
    m->version = version;
    m->signature = sig;
    m->bundler_name = m->bundler_version = m->bundler_release = "";
    if (bundler) {
        char *bn, *bv, *br;

        rc = field(a, bundler, "name", 0, LEN_SHORT, &bn, err);
        if (rc == OC_OK)
            rc = field(a, bundler, "version", 0, LEN_SHORT, &bv, err);
        if (rc == OC_OK)
            rc = field(a, bundler, "release", 0, LEN_SHORT, &br, err);
        if (rc)
            return rc;
        m->bundler_name = bn;
        m->bundler_version = bv;
        m->bundler_release = br;
    }
    return OC_OK;
}

/*
 * machine_configuration and image, read from the signed text alone:
 * `<s>` + signed text + `</s>` must be a document of exactly those two
 * elements, in that order.
 */
static int parse_signed(struct oc_arena *a, struct euca_manifest *m, struct oc_err *err)
{
    char *wrapped = oc_arena_printf(a, "<s>%s</s>", m->signed_text);
    xmlDocPtr doc = oc_xml_parse(wrapped, strlen(wrapped), err);
    xmlNodePtr root, mc = NULL, image = NULL;
    int rc, n = 0;

    if (!doc) {
        oc_err_set(err, OC_EINVAL, "the signed part of the manifest is not well-formed XML");
        return OC_EINVAL;
    }
    root = xmlDocGetRootElement(doc);
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
        if (c->type == XML_TEXT_NODE && xmlIsBlankNode(c))
            continue;
        if (c->type == XML_COMMENT_NODE)
            continue;
        if (c->type == XML_ELEMENT_NODE && n == 0 &&
            xmlStrcmp(c->name, BAD_CAST "machine_configuration") == 0)
            mc = c;
        else if (c->type == XML_ELEMENT_NODE && n == 1 &&
                 xmlStrcmp(c->name, BAD_CAST "image") == 0)
            image = c;
        n++;
    }
    if (n != 2 || !mc || !image) {
        xmlFreeDoc(doc);
        return oc_err_set(err, OC_EINVAL, "the signed part of the manifest is not one "
                                          "<machine_configuration> and one <image>");
    }
    rc = parse_machine(a, mc, m, err);
    if (rc == OC_OK)
        rc = parse_image(a, image, m, err);
    xmlFreeDoc(doc);
    return rc;
}

int euca_manifest_parse(struct oc_arena *a, const char *xml, size_t len,
                        struct euca_manifest *out, struct oc_err *err)
{
    const char *mc_p, *im_p;
    size_t mc_len, im_len;
    xmlDocPtr doc;
    xmlNodePtr root;
    char *text;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > EUCA_MANIFEST_MAX_BYTES)
        return oc_err_set(err, OC_ETOOBIG, "the manifest is larger than %u bytes",
                          EUCA_MANIFEST_MAX_BYTES);
    if (len == 0 || memchr(xml, '\0', len))
        return oc_err_set(err, OC_EINVAL, "the manifest is empty or holds a NUL byte");
    doc = oc_xml_parse(xml, len, err);
    if (!doc)
        return oc_err_set(err, OC_EINVAL, "the manifest is not well-formed XML");
    root = xmlDocGetRootElement(doc);
    if (!root || xmlStrcmp(root->name, BAD_CAST "manifest") != 0) {
        xmlFreeDoc(doc);
        return oc_err_set(err, OC_EINVAL, "the document is not a <manifest>");
    }
    rc = parse_outer(a, root, out, err);
    xmlFreeDoc(doc);
    if (rc)
        return rc;
    rc = signed_span(xml, len, MC_OPEN, MC_CLOSE, &mc_p, &mc_len, err);
    if (rc == OC_OK)
        rc = signed_span(xml, len, IMAGE_OPEN, IMAGE_CLOSE, &im_p, &im_len, err);
    if (rc)
        return rc;
    text = oc_arena_alloc(a, mc_len + im_len + 1);
    memcpy(text, mc_p, mc_len);
    memcpy(text + mc_len, im_p, im_len);
    out->signed_text = text;
    out->signed_len = mc_len + im_len;
    return parse_signed(a, out, err);
}

/* ------------------------------------------------------------------ */
/* signature */

int euca_manifest_verify(const struct euca_manifest *m, const char *cert_pem, size_t pem_len,
                         struct oc_err *err)
{
    size_t hexlen = m->signature ? strlen(m->signature) : 0;
    uint8_t *sig = NULL;
    BIO *bio = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key;
    EVP_MD_CTX *ctx = NULL;
    long siglen;
    int rc;

    if (!m->signed_text || hexlen == 0 || hexlen > LEN_SIG_HEX)
        return oc_err_set(err, OC_EINVAL, "the manifest has no signature");
    if (pem_len > INT32_MAX)
        return oc_err_set(err, OC_EINVAL, "certificate too large");
    bio = BIO_new_mem_buf(cert_pem, (int)pem_len);
    cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (!cert) {
        rc = oc_err_set(err, OC_EINVAL, "the signing certificate is not a PEM X.509 "
                                        "certificate");
        goto cleanup;
    }
    key = X509_get0_pubkey(cert);
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        rc = oc_err_set(err, OC_EINVAL, "the signing certificate's key is not RSA");
        goto cleanup;
    }
    if (EVP_PKEY_get_bits(key) < 1024) {
        rc = oc_err_set(err, OC_EINVAL, "the signing certificate's key is under 1024 bits");
        goto cleanup;
    }
    sig = malloc(hexlen / 2 + 1);
    if (!sig) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    siglen = oc_hex_decode(m->signature, hexlen, sig, hexlen / 2 + 1);
    if (siglen <= 0) {
        rc = oc_err_set(err, OC_EINVAL, "the manifest signature is not hex");
        goto cleanup;
    }
    /* RSASSA-PKCS1-v1_5 with SHA-1, what `openssl pkeyutl -sign -pkeyopt
     * digest:sha1` over the SHA-1 of the text produces. */
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestVerifyInit(ctx, NULL, EVP_sha1(), NULL, key) != 1) {
        rc = oc_err_set(err, OC_EINTERNAL, "cannot set up RSA-SHA1 verification");
        goto cleanup;
    }
    if (EVP_DigestVerify(ctx, sig, (size_t)siglen, (const unsigned char *)m->signed_text,
                         m->signed_len) == 1)
        rc = OC_OK;
    else
        rc = oc_err_set(err, OC_EAUTH, "the manifest signature does not verify against the "
                                       "certificate");
cleanup:
    /* Failures leave entries in this thread's OpenSSL error queue. */
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    free(sig);
    X509_free(cert);
    BIO_free(bio);
    return rc;
}
