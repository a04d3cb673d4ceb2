/*
 * upload_bundle.c - overcast-upload-bundle: euca2ools' euca-upload-bundle
 * in C.  Reads a bundle's manifest (euca_manifest_parse: only a manifest
 * this cloud would accept is sent), checks each part's SHA-1 against it,
 * creates the bucket when it is missing, PUTs the parts and then the
 * manifest to Walrus (S3, SigV4) under BUCKET[/PREFIX]/, showing progress.
 *
 *   overcast-upload-bundle -b BUCKET[/PREFIX] -m MANIFEST [--url S3_URL]
 *       [-I ACCESS_KEY_ID -S SECRET_KEY] [--skipmanifest] [--progress]
 *
 * Credentials: -I/-S, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or
 * EC2_ACCESS_KEY/EC2_SECRET_KEY) from the environment, as the eucarc
 * written by `overcast-clc bootstrap` sets them; the endpoint is --url,
 * else S3_URL, else AWS_ENDPOINT_URL_S3.  Parts are mapped, not read into
 * memory, so memory stays small whatever the part size.
 *
 * Prints "Uploaded BUCKET/KEY" for the manifest on stdout: that is the
 * ImageLocation to register.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/httpc.h"
#include "common/xml.h"
#include "euca-compat/manifest.h"
#include "euca-compat/tools.h"

#define PROG "overcast-upload-bundle"
#define UPLOAD_TIMEOUT_MS (3600L * 1000)    /* one PUT; stalls end sooner (httpc) */

struct upload {
    struct oc_httpc *http;
    const char *path_base;        /* the URL's path, "" for http://host:port */
    const char *bucket;
    const char *key_prefix;       /* "" or "dir/" */
    struct euca_progress bar;
    uint64_t done, total;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " -b BUCKET[/PREFIX] -m MANIFEST [options]\n"
            "\n"
            "Uploads a bundle made by overcast-bundle-image (or euca-bundle-image) to\n"
            "Walrus: its parts, then its manifest, creating the bucket when missing.\n"
            "\n"
            "  -b, --bucket BUCKET[/PREFIX]  where the bundle goes (required)\n"
            "  -m, --manifest FILE           the bundle's manifest; the parts are\n"
            "                                next to it (required)\n"
            "  -U, --url URL                 Walrus ($S3_URL, $AWS_ENDPOINT_URL_S3)\n"
            "  -I, --access-key-id KEY       ($AWS_ACCESS_KEY_ID, $EC2_ACCESS_KEY)\n"
            "  -S, --secret-key KEY          ($AWS_SECRET_ACCESS_KEY, $EC2_SECRET_KEY)\n"
            "      --region REGION           for the signature ($AWS_DEFAULT_REGION,\n"
            "                                default us-east-1)\n"
            "      --skipmanifest            upload the parts only\n"
            "      --progress                show progress even when stderr is not a\n"
            "                                terminal\n");
}

/* "Code: message" of an S3 error document, or the status alone. */
static void print_s3_error(const char *what, const struct oc_httpc_resp *resp)
{
    struct oc_err err = { 0 };
    xmlDocPtr doc = resp->body.len ? oc_xml_parse(resp->body.data, resp->body.len, &err) : NULL;
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    char *code = root ? oc_xml_text(oc_xml_child(root, "Code")) : NULL;
    char *msg = root ? oc_xml_text(oc_xml_child(root, "Message")) : NULL;

    fprintf(stderr, PROG ": %s: HTTP %ld%s%s%s%s\n", what, resp->status, code ? " " : "",
            code ? code : "", msg ? ": " : "", msg ? msg : "");
    xmlFree(code);
    xmlFree(msg);
    if (doc)
        xmlFreeDoc(doc);
}

/* path_base + "/" + encoded bucket [+ "/" + encoded key]. */
static int object_path(const struct upload *u, const char *key, struct oc_buf *out)
{
    oc_buf_reset(out);
    if (oc_buf_printf(out, "%s/", u->path_base) != OC_OK ||
        oc_uri_encode(u->bucket, strlen(u->bucket), 0, out) != OC_OK)
        return -1;
    if (key && (oc_buf_putc(out, '/') != OC_OK ||
                oc_uri_encode(key, strlen(key), 1, out) != OC_OK))
        return -1;
    return 0;
}

/* HEAD the bucket; PUT it when Walrus says it is not there. */
static int bucket_ensure(struct upload *u)
{
    struct oc_httpc_resp resp = { 0 };
    struct oc_buf path = { 0 };
    struct oc_err err = { 0 };
    int rc = -1;

    if (object_path(u, NULL, &path) != 0)
        goto cleanup;
    if (oc_httpc_request(u->http, "HEAD", "s3", oc_buf_cstr(&path), NULL, NULL, 0, -1, &resp,
                         &err) != OC_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        goto cleanup;
    }
    if (resp.status == 200) {
        rc = 0;
        goto cleanup;
    }
    if (resp.status != 404) {
        fprintf(stderr, PROG ": bucket %s: HTTP %ld (%s)\n", u->bucket, resp.status,
                resp.status == 403 ? "not yours, or the credentials are refused" : "refused");
        goto cleanup;
    }
    oc_httpc_resp_free(&resp);
    if (oc_httpc_request(u->http, "PUT", "s3", oc_buf_cstr(&path), NULL, NULL, 0, -1, &resp,
                         &err) != OC_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        goto cleanup;
    }
    if (resp.status != 200) {
        print_s3_error("cannot create the bucket", &resp);
        goto cleanup;
    }
    rc = 0;
cleanup:
    oc_httpc_resp_free(&resp);
    oc_buf_free(&path);
    return rc;
}

static int put_object(struct upload *u, const char *name, const void *data, size_t len)
{
    struct oc_httpc_resp resp = { 0 };
    struct oc_buf path = { 0 }, key = { 0 }, what = { 0 };
    struct oc_err err = { 0 };
    int rc = -1;

    if (oc_buf_printf(&key, "%s%s", u->key_prefix, name) != OC_OK ||
        object_path(u, oc_buf_cstr(&key), &path) != 0 ||
        oc_buf_printf(&what, "PUT %s/%s", u->bucket, oc_buf_cstr(&key)) != OC_OK)
        goto cleanup;
    if (oc_httpc_request(u->http, "PUT", "s3", oc_buf_cstr(&path), NULL, data, len, -1, &resp,
                         &err) != OC_OK) {
        fprintf(stderr, PROG ": %s: %s\n", oc_buf_cstr(&what), err.msg);
        goto cleanup;
    }
    if (resp.status != 200) {
        print_s3_error(oc_buf_cstr(&what), &resp);
        goto cleanup;
    }
    u->done += len;
    euca_progress_update(&u->bar, u->done, u->total);
    rc = 0;
cleanup:
    oc_httpc_resp_free(&resp);
    oc_buf_free(&path);
    oc_buf_free(&key);
    oc_buf_free(&what);
    return rc;
}

/* A part, mapped, checked against its manifest digest, then PUT. */
static int put_part(struct upload *u, const char *dir, const struct euca_manifest_part *p)
{
    struct oc_buf path = { 0 };
    struct oc_digest *d = NULL;
    struct stat st;
    uint8_t raw[OC_SHA1_LEN];
    char hex[2 * OC_SHA1_LEN + 1];
    void *map = NULL;
    size_t len = 0;
    int fd = -1, rc = -1;

    if (oc_buf_printf(&path, "%s/%s", dir, p->filename) != OC_OK)
        goto cleanup;
    fd = open(oc_buf_cstr(&path), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, PROG ": part %u: cannot open %s: %s\n", p->index, oc_buf_cstr(&path),
                fd < 0 ? strerror(errno) : "not a regular file");
        goto cleanup;
    }
    len = (size_t)st.st_size;
    if (len) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            map = NULL;
            fprintf(stderr, PROG ": cannot map %s: %s\n", oc_buf_cstr(&path), strerror(errno));
            goto cleanup;
        }
    }
    d = oc_digest_new(OC_DIGEST_SHA1);
    if (!d)
        goto cleanup;
    oc_digest_update(d, map ? map : "", len);
    oc_digest_final(d, raw);
    oc_hex_encode(raw, sizeof(raw), hex);
    if (strcmp(hex, p->digest) != 0) {
        fprintf(stderr, PROG ": part %u (%s) has SHA-1 %s, the manifest says %s: not "
                "uploaded\n", p->index, oc_buf_cstr(&path), hex, p->digest);
        goto cleanup;
    }
    rc = put_object(u, p->filename, map ? map : "", len);
cleanup:
    if (map)
        munmap(map, len);
    if (fd >= 0)
        close(fd);
    oc_digest_free(d);
    oc_buf_free(&path);
    return rc;
}

/* Sizes of the parts (for progress); -1 when one is missing. */
static int parts_total(const char *dir, const struct euca_manifest *m, uint64_t *total)
{
    struct oc_buf path = { 0 };
    int rc = 0;

    *total = 0;
    for (size_t i = 0; rc == 0 && i < m->nparts; i++) {
        struct stat st;

        oc_buf_reset(&path);
        if (oc_buf_printf(&path, "%s/%s", dir, m->parts[i].filename) != OC_OK) {
            rc = -1;
        } else if (stat(oc_buf_cstr(&path), &st) != 0) {
            fprintf(stderr, PROG ": part %zu: %s: %s\n", i, oc_buf_cstr(&path),
                    strerror(errno));
            rc = -1;
        } else {
            *total += (uint64_t)st.st_size;
        }
    }
    oc_buf_free(&path);
    return rc;
}

/* "http://host:port[/path]" into endpoint and path ("" or "/path"). */
static int split_url(const char *url, char **endpoint, char **path)
{
    const char *host = strstr(url, "://");
    const char *slash;
    size_t plen;

    if (!host || !host[3] || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8)))
        return -1;
    slash = strchr(host + 3, '/');
    *endpoint = strndup(url, slash ? (size_t)(slash - url) : strlen(url));
    *path = strdup(slash ? slash : "");
    if (!*endpoint || !*path)
        return -1;
    plen = strlen(*path);
    while (plen && (*path)[plen - 1] == '/')
        (*path)[--plen] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "bucket", required_argument, NULL, 'b' },
        { "manifest", required_argument, NULL, 'm' },
        { "url", required_argument, NULL, 'U' },
        { "access-key-id", required_argument, NULL, 'I' },
        { "secret-key", required_argument, NULL, 'S' },
        { "region", required_argument, NULL, 'R' },
        { "skipmanifest", no_argument, NULL, 'M' },
        { "progress", no_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct upload u = { 0 };
    struct oc_httpc_config cfg = { 0 };
    struct oc_err err = { 0 };
    struct oc_arena *arena = NULL;
    struct euca_manifest m;
    struct oc_buf key_prefix = { 0 };
    const char *bucket_arg = NULL, *manifest_path = NULL, *url = NULL, *ak = NULL, *sk = NULL;
    const char *region = NULL;
    char *doc = NULL, *endpoint = NULL, *path_base = NULL, *bucket = NULL, *dir_copy = NULL;
    char *slash, *mname_copy = NULL;
    const char *dir, *mname;
    size_t doc_len = 0;
    int c, skip_manifest = 0, force_progress = 0, rc = 1;

    while ((c = getopt_long(argc, argv, "b:m:U:I:S:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': bucket_arg = optarg; break;
        case 'm': manifest_path = optarg; break;
        case 'U': url = optarg; break;
        case 'I': ak = optarg; break;
        case 'S': sk = optarg; break;
        case 'R': region = optarg; break;
        case 'M': skip_manifest = 1; break;
        case 'P': force_progress = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !bucket_arg || !manifest_path) {
        fprintf(stderr, PROG ": -b/--bucket and -m/--manifest are required\n");
        usage(stderr);
        return 2;
    }
    ak = euca_tool_setting(ak, "AWS_ACCESS_KEY_ID", "EC2_ACCESS_KEY");
    sk = euca_tool_setting(sk, "AWS_SECRET_ACCESS_KEY", "EC2_SECRET_KEY");
    url = euca_tool_setting(url, "S3_URL", "AWS_ENDPOINT_URL_S3");
    region = euca_tool_setting(region, "AWS_DEFAULT_REGION", NULL);
    if (!ak || !sk) {
        fprintf(stderr, PROG ": no credentials: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (source your eucarc), or pass -I and -S\n");
        return 2;
    }
    if (!url) {
        fprintf(stderr, PROG ": no Walrus URL: set S3_URL (source your eucarc) or pass "
                "--url\n");
        return 2;
    }
    if (split_url(url, &endpoint, &path_base) != 0) {
        fprintf(stderr, PROG ": '%s' is not an http(s) URL\n", url);
        goto cleanup;
    }

    /* BUCKET[/PREFIX]: keys are PREFIX/NAME, as euca2ools makes them. */
    bucket = strdup(bucket_arg);
    if (!bucket)
        goto cleanup;
    slash = strchr(bucket, '/');
    if (slash) {
        *slash = '\0';
        if (slash[1] && oc_buf_printf(&key_prefix, "%s%s", slash + 1,
                                      slash[strlen(slash + 1)] == '/' ? "" : "/") != OC_OK)
            goto cleanup;
    }
    if (!*bucket) {
        fprintf(stderr, PROG ": -b: no bucket name in '%s'\n", bucket_arg);
        rc = 2;
        goto cleanup;
    }

    oc_xml_init();
    if (oc_read_file(manifest_path, EUCA_MANIFEST_MAX_BYTES, &doc, &doc_len, &err) != OC_OK) {
        fprintf(stderr, PROG ": cannot read the manifest: %s\n", err.msg);
        goto cleanup;
    }
    arena = oc_arena_new();
    if (!arena)
        goto cleanup;
    if (euca_manifest_parse(arena, doc, doc_len, &m, &err) != OC_OK) {
        fprintf(stderr, PROG ": %s is not a bundle manifest: %s\n", manifest_path, err.msg);
        goto cleanup;
    }
    dir_copy = strdup(manifest_path);
    mname_copy = strdup(manifest_path);
    if (!dir_copy || !mname_copy)
        goto cleanup;
    dir = dirname(dir_copy);
    mname = basename(mname_copy);
    if (parts_total(dir, &m, &u.total) != 0)
        goto cleanup;
    if (!skip_manifest)
        u.total += doc_len;

    cfg.endpoint = endpoint;
    cfg.access_key_id = ak;
    cfg.secret_key = sk;
    cfg.region = region;
    cfg.timeout_ms = UPLOAD_TIMEOUT_MS;
    if (oc_httpc_new(&cfg, &u.http, &err) != OC_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        goto cleanup;
    }
    u.path_base = path_base;
    u.bucket = bucket;
    u.key_prefix = oc_buf_cstr(&key_prefix);
    if (bucket_ensure(&u) != 0)
        goto cleanup;
    euca_progress_init(&u.bar, "Uploading bundle", force_progress);
    euca_progress_update(&u.bar, 0, u.total);
    for (size_t i = 0; i < m.nparts; i++)
        if (put_part(&u, dir, &m.parts[i]) != 0)
            goto cleanup;
    /* The manifest last: once it is there, the bundle is whole. */
    if (!skip_manifest && put_object(&u, mname, doc, doc_len) != 0)
        goto cleanup;
    euca_progress_end(&u.bar, u.done, u.total);
    if (!skip_manifest)
        printf("Uploaded %s/%s%s\n", bucket, u.key_prefix, mname);
    rc = fflush(stdout) == 0 ? 0 : 1;
cleanup:
    if (rc && u.bar.drawn)
        fputc('\n', stderr);
    oc_httpc_free(u.http);
    oc_arena_free(arena);
    oc_buf_free(&key_prefix);
    free(doc);
    free(endpoint);
    free(path_base);
    free(bucket);
    free(dir_copy);
    free(mname_copy);
    return rc;
}
