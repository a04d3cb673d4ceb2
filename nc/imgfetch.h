/*
 * imgfetch.h - the node's image fetcher (struct nc_img_fetcher for the
 * image cache): GETs images from Walrus with the node's own credentials.
 *
 *   - "bucket/x.manifest.xml": a Eucalyptus bundle.  The manifest is
 *     fetched and parsed (euca_manifest_parse), its image digest must be
 *     the one the CLC recorded (ref->digest), then the parts
 *     "<dir of the manifest key>/<filename>" are downloaded one at a time
 *     into anonymous temporary files in tmpdir (unlinked at once, so freed
 *     as soon as consumed, and nothing is left by a crash) and unpacked by
 *     euca_bundle_extract with the cloud's private key.
 *   - anything else: a plain raw/qcow2 object, GET straight into the
 *     cache's file, then read back for its MD5, which must equal
 *     ref->digest when that is a plain 32-hex ETag.  A multipart ETag
 *     ("<hex>-<n>") cannot be recomputed without the upload's part sizes:
 *     such objects are accepted on a complete transfer (curl checks the
 *     Content-Length) without a content check.
 *
 * Each fetch uses its own HTTP client, so fetches run concurrently from
 * any threads.  The fetcher never writes outside tmpdir and the fd it is
 * given.
 */
#ifndef NC_IMGFETCH_H
#define NC_IMGFETCH_H

#include "common/buf.h"
#include "common/err.h"
#include "nc/imgcache.h"

struct nc_walrus_fetcher_config {
    const char *walrus_url;       /* "http://127.0.0.1:8773", no path */
    const char *access_key_id;    /* the node's credentials */
    const char *secret_key;
    const char *region;           /* NULL = "us-east-1" */
    /* PEM of the cloud's RSA private key, read at each bundle fetch (so it
     * may be installed later).  NULL or missing: bundles are refused with
     * an error saying so; plain images still work. */
    const char *cloud_key_path;
    const char *tmpdir;           /* for downloaded parts; NULL = "/tmp" */
    long timeout_ms;              /* per HTTP request (a whole image GET); 0 = 1 hour */
};

struct nc_walrus_fetcher;

int nc_walrus_fetcher_new(const struct nc_walrus_fetcher_config *cfg,
                          struct nc_walrus_fetcher **out, struct oc_err *err) OC_WUR;
void nc_walrus_fetcher_free(struct nc_walrus_fetcher *w);
/* The fetcher for nc_imgcache_open; valid while w lives. */
struct nc_img_fetcher nc_walrus_fetcher(struct nc_walrus_fetcher *w);

/* ---- helpers, exposed for tests ---- */

/*
 * Splits "bucket/key" into malloc'd strings (free with free()).  OC_EINVAL
 * for a location that is not one: no '/', an empty or malformed bucket
 * (1-255 of [A-Za-z0-9._-], not "." or ".."), an empty key, a key over
 * 1024 bytes, or a key with "." or ".." path segments (HTTP clients would
 * squash them and fetch another object).
 */
int nc_walrus_location_split(const char *location, char **bucket, char **key,
                             struct oc_err *err) OC_WUR;
/* Whether key names a bundle manifest (ends in ".manifest.xml"). */
int nc_walrus_is_manifest(const char *key);
/* The request path "/bucket/key", URI-encoded for S3 and SigV4 (every
 * byte but A-Za-z0-9-._~ as %XX; the key's slashes kept), appended to out. */
int nc_walrus_object_path(const char *bucket, const char *key, struct oc_buf *out) OC_WUR;
/* "<dir of manifest_key>/<filename>" (just filename when the manifest is
 * at the top of its bucket), malloc'd; NULL when out of memory. */
char *nc_walrus_part_key(const char *manifest_key, const char *filename);

#endif
