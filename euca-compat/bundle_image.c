/*
 * bundle_image.c - overcast-bundle-image: euca2ools' euca-bundle-image in
 * C.  Options, environment defaults and output are euca2ools' own; the
 * bundle is made by euca-compat/bundler.c.
 *
 *   overcast-bundle-image -i IMAGE -r ARCH [-d DIR] [-p PREFIX] [-c CERT]
 *       [-k KEY] [--ec2cert CERT] [-u ACCOUNT] [--kernel ID] [--ramdisk ID]
 *       [-B VIRTUAL=DEVICE,...] [--productcodes CODE,...]
 *       [--image-type machine|kernel|ramdisk] [--part-size SIZE] [--progress]
 *
 * Prints "Wrote PART" per part and "Wrote manifest MANIFEST" on stdout,
 * progress on stderr (a terminal, or --progress).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/err.h"
#include "common/fsutil.h"
#include "common/xml.h"
#include "euca-compat/bundler.h"
#include "euca-compat/tools.h"

#define PEM_MAX (1u << 20)
#define PROG "overcast-bundle-image"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " -i FILE -r ARCH [options]\n"
            "\n"
            "Bundles a disk, kernel or ramdisk image as euca-bundle-image does: tar, gzip,\n"
            "AES-128-CBC, parts PREFIX.part.NN and PREFIX.manifest.xml.\n"
            "\n"
            "  -i, --image FILE          the image to bundle (required)\n"
            "  -r, --arch ARCH           i386, x86_64, arm64 or armhf (required)\n"
            "  -d, --destination DIR     where the bundle goes (default: a new directory\n"
            "                            bundle-XXXXXX in $TMPDIR, $TEMP, $TMP or /var/tmp)\n"
            "  -p, --prefix PREFIX       file name prefix and image name (default: the\n"
            "                            image's file name)\n"
            "  -c, --cert FILE           your X.509 certificate ($EC2_CERT, $EUCA_CERT)\n"
            "  -k, --privatekey FILE     its private key, signs the manifest\n"
            "                            ($EC2_PRIVATE_KEY, $EUCA_PRIVATE_KEY)\n"
            "      --ec2cert FILE        the cloud's certificate ($EUCALYPTUS_CERT, else\n"
            "                            $OVERCAST_HOME/clc/cloud-cert.pem)\n"
            "  -u, --user ACCOUNT        your 12-digit account id ($EC2_USER_ID)\n"
            "      --kernel ID           kernel image of a machine image ('true': this is\n"
            "                            a kernel image)\n"
            "      --ramdisk ID          ramdisk image of a machine image ('true': this is\n"
            "                            a ramdisk image)\n"
            "  -B, --block-device-mappings VIRTUAL=DEVICE,...\n"
            "                            (default ami=sda1,ephemeral0=sda2,root=/dev/sda1,\n"
            "                            swap=sda3 for machine images)\n"
            "      --productcodes CODE,...\n"
            "      --image-type TYPE     machine (default), kernel or ramdisk\n"
            "      --part-size SIZE      bytes per part, k/m/g suffixes (default 10m)\n"
            "      --progress            show progress even when stderr is not a terminal\n");
}

/* "10485760", "10m", "10MiB", "1G", "512k". */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: return -1;
    }
    if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
        end += strlen(end);
    if (*end || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* "a,b,c" into a malloc'd array of pointers into text, which is cut up. */
static int parse_list(char *text, char ***out, size_t *n)
{
    size_t cap = 1;
    char *save = NULL;

    for (const char *p = text; *p; p++)
        cap += *p == ',';
    *out = calloc(cap, sizeof(**out));
    *n = 0;
    if (!*out)
        return -1;
    for (char *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        (*out)[(*n)++] = tok;
    return 0;
}

/* "VIRTUAL=DEVICE,..." into mappings pointing into text. */
static int parse_mappings(char *text, struct euca_manifest_mapping **out, size_t *n)
{
    char **items = NULL;
    size_t count = 0;
    int rc = 0;

    *n = 0;
    if (parse_list(text, &items, &count) != 0)
        return -1;
    *out = calloc(count ? count : 1, sizeof(**out));
    for (size_t i = 0; *out && rc == 0 && i < count; i++) {
        char *eq = strchr(items[i], '=');

        if (!eq || eq == items[i] || !eq[1] || strchr(eq + 1, '=')) {
            rc = -1;
        } else {
            *eq = '\0';
            (*out)[i].virtual_name = items[i];
            (*out)[i].device = eq + 1;
            (*n)++;
        }
    }
    free(items);
    return *out ? rc : -1;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    euca_progress_update(ctx, done, total);
}

struct pem {
    char *text;
    size_t len;
};

static int pem_read(const char *path, const char *what, struct pem *p)
{
    struct oc_err err = { 0 };

    if (oc_read_file(path, PEM_MAX, &p->text, &p->len, &err) != OC_OK) {
        fprintf(stderr, PROG ": cannot read the %s %s: %s\n", what, path, err.msg);
        return -1;
    }
    return 0;
}

static void pem_free(struct pem *p)
{
    if (p->text) {
        OPENSSL_cleanse(p->text, p->len);
        free(p->text);
    }
}

/* -d, made when missing; else a fresh directory in the temp dir. */
static char *destination(const char *opt)
{
    struct oc_err err = { 0 };
    struct stat st;
    const char *base;
    char *dir;

    if (opt) {
        if (stat(opt, &st) == 0 && !S_ISDIR(st.st_mode)) {
            fprintf(stderr, PROG ": -d/--destination: '%s' is not a directory\n", opt);
            return NULL;
        }
        if (oc_mkdirs(opt, 0755, &err) != OC_OK) {
            fprintf(stderr, PROG ": cannot make %s: %s\n", opt, err.msg);
            return NULL;
        }
        return strdup(opt);
    }
    base = euca_tool_setting(NULL, "TMPDIR", "TEMP");
    if (!base)
        base = euca_tool_setting(NULL, "TMP", NULL);
    if (!base)
        base = "/var/tmp";
    if (asprintf(&dir, "%s/bundle-XXXXXX", base) < 0)
        return NULL;
    if (!mkdtemp(dir)) {
        fprintf(stderr, PROG ": cannot make a directory in %s: %s\n", base, strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
}

/* The image's size: regular files and block devices. */
static int image_open(const char *path, int *fd, uint64_t *size, time_t *mtime)
{
    struct stat st;
    off_t end;

    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        fprintf(stderr, PROG ": cannot open the image %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(*fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        fprintf(stderr, PROG ": the image %s is not a file or a block device\n", path);
        return -1;
    }
    end = lseek(*fd, 0, SEEK_END);
    if (end < 0 || lseek(*fd, 0, SEEK_SET) != 0) {
        fprintf(stderr, PROG ": cannot find the size of %s: %s\n", path, strerror(errno));
        return -1;
    }
    *size = (uint64_t)end;
    *mtime = st.st_mtime;
    return 0;
}

enum {
    OPT_EC2CERT = 256, OPT_KERNEL, OPT_RAMDISK, OPT_PRODUCTCODES, OPT_IMAGE_TYPE,
    OPT_PART_SIZE, OPT_PROGRESS, OPT_BATCH,
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "image", required_argument, NULL, 'i' },
        { "arch", required_argument, NULL, 'r' },
        { "destination", required_argument, NULL, 'd' },
        { "prefix", required_argument, NULL, 'p' },
        { "cert", required_argument, NULL, 'c' },
        { "privatekey", required_argument, NULL, 'k' },
        { "user", required_argument, NULL, 'u' },
        { "block-device-mappings", required_argument, NULL, 'B' },
        { "ec2cert", required_argument, NULL, OPT_EC2CERT },
        { "kernel", required_argument, NULL, OPT_KERNEL },
        { "ramdisk", required_argument, NULL, OPT_RAMDISK },
        { "productcodes", required_argument, NULL, OPT_PRODUCTCODES },
        { "image-type", required_argument, NULL, OPT_IMAGE_TYPE },
        { "part-size", required_argument, NULL, OPT_PART_SIZE },
        { "progress", no_argument, NULL, OPT_PROGRESS },
        { "batch", no_argument, NULL, OPT_BATCH },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct euca_bundle_spec spec = { 0 };
    struct euca_bundle_keys keys = { 0 };
    struct euca_bundle_result res = { 0 };
    struct euca_manifest_mapping *maps = NULL;
    char **codes = NULL;
    const char *image = NULL, *dest_opt = NULL, *cert = NULL, *pkey = NULL, *ec2cert = NULL;
    const char *user = NULL, *type = "machine";
    char *home_cert = NULL, *account = NULL, *image_copy = NULL, *dest = NULL;
    struct pem user_pem = { 0 }, key_pem = { 0 }, cloud_pem = { 0 };
    struct euca_progress bar;
    struct oc_err err = { 0 };
    int c, fd = -1, force_progress = 0, rc = 1;
    uint64_t size;

    while ((c = getopt_long(argc, argv, "i:r:d:p:c:k:u:B:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': image = optarg; break;
        case 'r': spec.arch = optarg; break;
        case 'd': dest_opt = optarg; break;
        case 'p': spec.prefix = optarg; break;
        case 'c': cert = optarg; break;
        case 'k': pkey = optarg; break;
        case 'u': user = optarg; break;
        case OPT_EC2CERT: ec2cert = optarg; break;
        case OPT_KERNEL: spec.kernel_id = optarg; break;
        case OPT_RAMDISK: spec.ramdisk_id = optarg; break;
        case OPT_IMAGE_TYPE: type = optarg; break;
        case OPT_PROGRESS: force_progress = 1; break;
        case OPT_BATCH: break;
        case 'B':
            free(maps);
            if (parse_mappings(optarg, &maps, &spec.nmappings) != 0) {
                fprintf(stderr, PROG ": -B: '%s' is not VIRTUAL=DEVICE,...\n", optarg);
                goto cleanup;
            }
            spec.mappings = maps;
            break;
        case OPT_PRODUCTCODES:
            free(codes);
            if (parse_list(optarg, &codes, &spec.nproduct_codes) != 0)
                goto cleanup;
            spec.product_codes = (const char *const *)codes;
            break;
        case OPT_PART_SIZE:
            if (parse_size(optarg, &spec.part_size) != 0 || spec.part_size == 0) {
                fprintf(stderr, PROG ": --part-size: '%s' is not a size\n", optarg);
                rc = 2;
                goto cleanup;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !image || !spec.arch) {
        fprintf(stderr, PROG ": -i/--image and -r/--arch are required\n");
        usage(stderr);
        return 2;
    }

    /* euca2ools' order: the option, then the environment. */
    cert = euca_tool_setting(cert, "EC2_CERT", "EUCA_CERT");
    pkey = euca_tool_setting(pkey, "EC2_PRIVATE_KEY", "EUCA_PRIVATE_KEY");
    ec2cert = euca_tool_setting(ec2cert, "EUCALYPTUS_CERT", NULL);
    user = euca_tool_setting(user, "EC2_USER_ID", NULL);
    if (!ec2cert) {
        const char *home = euca_tool_setting(NULL, "OVERCAST_HOME", NULL);

        if (asprintf(&home_cert, "%s/clc/cloud-cert.pem", home ? home : "/var/lib/overcast") < 0)
            goto cleanup;
        if (access(home_cert, R_OK) == 0)
            ec2cert = home_cert;
    }
    if (!cert || !pkey || !ec2cert || !user) {
        fprintf(stderr, PROG ": missing %s\n",
                !cert     ? "certificate; please supply one with -c"
                : !pkey   ? "private key; please supply one with -k"
                : !ec2cert ? "cloud certificate; please supply one with --ec2cert"
                           : "account ID; please supply one with -u");
        rc = 2;
        goto cleanup;
    }
    /* euca2ools takes "1234-5678-9012" too. */
    account = strdup(user);
    if (!account)
        goto cleanup;
    for (char *s = account, *d = account;; s++)
        if (*s != '-' && !(*d++ = *s))
            break;
    spec.account = account;

    /* "--kernel true" and "--ramdisk true" make kernel and ramdisk bundles. */
    if (spec.kernel_id && strcmp(spec.kernel_id, "true") == 0)
        type = "kernel";
    if (spec.ramdisk_id && strcmp(spec.ramdisk_id, "true") == 0)
        type = "ramdisk";
    if (strcmp(type, "machine") == 0) {
        spec.type = EUCA_IMAGE_MACHINE;
    } else if (strcmp(type, "kernel") == 0) {
        spec.type = EUCA_IMAGE_KERNEL;
    } else if (strcmp(type, "ramdisk") == 0) {
        spec.type = EUCA_IMAGE_RAMDISK;
    } else {
        fprintf(stderr, PROG ": --image-type: '%s' is not machine, kernel or ramdisk\n", type);
        rc = 2;
        goto cleanup;
    }

    image_copy = strdup(image);
    if (!image_copy)
        goto cleanup;
    if (!spec.prefix)
        spec.prefix = basename(image_copy);
    if (pem_read(cert, "certificate", &user_pem) || pem_read(pkey, "private key", &key_pem) ||
        pem_read(ec2cert, "cloud certificate", &cloud_pem))
        goto cleanup;
    keys.user_cert = user_pem.text;
    keys.user_cert_len = user_pem.len;
    keys.user_key = key_pem.text;
    keys.user_key_len = key_pem.len;
    keys.cloud_cert = cloud_pem.text;
    keys.cloud_cert_len = cloud_pem.len;
    if (image_open(image, &fd, &size, &spec.mtime) != 0)
        goto cleanup;
    dest = destination(dest_opt);
    if (!dest)
        goto cleanup;

    oc_xml_init();
    euca_progress_init(&bar, "Bundling image", force_progress);
    if (euca_bundle_create(&spec, &keys, fd, size, dest, on_progress, &bar, &res, &err) !=
        OC_OK) {
        if (bar.drawn)
            fputc('\n', stderr);
        fprintf(stderr, PROG ": %s\n", err.msg);
        goto cleanup;
    }
    euca_progress_end(&bar, size, size);
    for (size_t i = 0; i < res.nparts; i++)
        printf("Wrote %s/%s.part.%02zu\n", dest, spec.prefix, i);
    printf("Wrote manifest %s\n", res.manifest_path);
    rc = fflush(stdout) == 0 ? 0 : 1;
cleanup:
    if (fd >= 0)
        close(fd);
    euca_bundle_result_free(&res);
    pem_free(&user_pem);
    pem_free(&key_pem);
    pem_free(&cloud_pem);
    free(maps);
    free(codes);
    free(home_cert);
    free(account);
    free(image_copy);
    free(dest);
    return rc;
}
