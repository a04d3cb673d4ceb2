/*
 * metadata.c - the instance metadata service, as the CCs' proxies ask it:
 *
 *   GET /services/metadata/<instance-id>/<path>   SigV4, service "metadata"
 *
 * The proxy (cc/mdproxy.c) names the instance by the source address of
 * the guest's request and signs with the CC's key; only users of the
 * eucalyptus account named CLC_CC_USER (default "cc") are answered, and
 * only about live instances.  Paths are EC2's: "/" lists the versions;
 * "/<version>/" lists dynamic, meta-data and user-data; meta-data/ lists
 * its keys with directories ending in "/"; user-data is the raw bytes
 * (404 when there is none); dynamic/instance-identity/document is JSON.
 * Every version answers the same keys.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clc/api.h"
#include "clc/instances.h"
#include "common/buf.h"
#include "common/log.h"

static const char *const versions[] = {
    "1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
    "2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12",
    "2014-02-25", "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02",
    "latest", NULL,
};

struct md {
    struct clc_req *r;
    struct oc_db *db;
    struct clc_instance in;
    struct oc_buf out;
    const char *ctype;
    int status;
    int oom;                      /* an append failed: 500 */
};

static void text(struct md *m, const char *s)
{
    if (oc_buf_puts(&m->out, s) != OC_OK)
        m->oom = 1;
}

static void line(struct md *m, const char *s)
{
    if (m->out.len)
        text(m, "\n");
    text(m, s);
}

/* The OpenSSH public key of the instance's key pair, or NULL. */
static const char *public_key(struct md *m)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    const char *key = NULL;

    if (!*m->in.key_name)
        return NULL;
    st = oc_db_prepare(m->db, "SELECT public_key FROM keypairs WHERE account_id = ?"
                              " AND name = ?", &err);
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, m->in.account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->in.key_name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        key = clc_col_text(m->r->arena, st, 0);
    sqlite3_reset(st);
    return key;
}

static void identity_document(struct md *m)
{
    char when[32];
    struct tm tm;
    json_t *doc;
    char *s;

    gmtime_r(&m->in.launch_time, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    doc = json_pack("{s:s, s:s, s:s, s:n, s:n, s:n, s:s, s:s, s:s, s:s?, s:s, s:s, s:s?, s:s,"
                    " s:s}",
                    "accountId", m->in.account_id, "architecture", m->in.architecture,
                    "availabilityZone", m->in.cluster, "billingProducts", "devpayProductCodes",
                    "marketplaceProductCodes", "imageId", m->in.image_id, "instanceId",
                    m->in.id, "instanceType", m->in.instance_type, "kernelId",
                    *m->in.kernel_id ? m->in.kernel_id : NULL, "pendingTime", when,
                    "privateIp", m->in.private_ip, "ramdiskId",
                    *m->in.ramdisk_id ? m->in.ramdisk_id : NULL, "region",
                    clc_conf(m->r, "REGION", "us-east-1"), "version", "2017-09-30");
    s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!s) {
        m->status = 500;
        return;
    }
    text(m, s);
    free(s);
    m->ctype = "application/json";
}

/* meta-data/<key>: 1 answered, 0 no such key. */
static int meta_data(struct md *m, const char *key)
{
    const char **gids, **gnames;
    const char *pub = public_key(m);
    size_t ng;

    if (!*key) {
        static const char *const keys[] = {
            "ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/",
            "hostname", "instance-action", "instance-id", "instance-type", NULL,
        };

        for (size_t k = 0; keys[k]; k++)
            line(m, keys[k]);
        if (*m->in.kernel_id)
            line(m, "kernel-id");
        line(m, "local-hostname");
        line(m, "local-ipv4");
        line(m, "mac");
        line(m, "placement/");
        line(m, "public-hostname");
        line(m, "public-ipv4");
        if (pub)
            line(m, "public-keys/");
        if (*m->in.ramdisk_id)
            line(m, "ramdisk-id");
        line(m, "reservation-id");
        line(m, "security-groups");
        return 1;
    }
#define IS(k) (strcmp(key, k) == 0)
    if (IS("ami-id"))
        text(m, m->in.image_id);
    else if (IS("ami-launch-index"))
        text(m, oc_arena_printf(m->r->arena, "%d", m->in.launch_index));
    else if (IS("ami-manifest-path"))
        text(m, "(unknown)");
    else if (IS("block-device-mapping/") || IS("block-device-mapping"))
        text(m, "ami\nroot");
    else if (IS("block-device-mapping/ami") || IS("block-device-mapping/root"))
        text(m, m->in.root_device_name);
    else if (IS("hostname") || IS("local-hostname"))
        text(m, m->in.private_dns);
    else if (IS("instance-action"))
        text(m, "none");
    else if (IS("instance-id"))
        text(m, m->in.id);
    else if (IS("instance-type"))
        text(m, m->in.instance_type);
    else if (IS("kernel-id") && *m->in.kernel_id)
        text(m, m->in.kernel_id);
    else if (IS("ramdisk-id") && *m->in.ramdisk_id)
        text(m, m->in.ramdisk_id);
    else if (IS("local-ipv4"))
        text(m, m->in.private_ip);
    else if (IS("mac"))
        text(m, m->in.mac);
    else if (IS("placement/") || IS("placement"))
        text(m, "availability-zone\nregion");
    else if (IS("placement/availability-zone"))
        text(m, m->in.cluster);
    else if (IS("placement/region"))
        text(m, clc_conf(m->r, "REGION", "us-east-1"));
    else if ((IS("public-hostname") || IS("public-ipv4")) && *m->in.public_ip)
        text(m, key[7] == 'h' ? m->in.public_dns : m->in.public_ip);
    else if ((IS("public-keys/") || IS("public-keys")) && pub)
        text(m, oc_arena_printf(m->r->arena, "0=%s", m->in.key_name));
    else if ((IS("public-keys/0/") || IS("public-keys/0")) && pub)
        text(m, "openssh-key");
    else if (IS("public-keys/0/openssh-key") && pub)
        text(m, oc_arena_printf(m->r->arena, "%s %s\n", pub, m->in.key_name));
    else if (IS("reservation-id"))
        text(m, m->in.reservation_id);
    else if (IS("security-groups")) {
        ng = clc_instance_groups(m->r->arena, &m->in, &gids, &gnames);
        for (size_t k = 0; k < ng; k++)
            line(m, gnames[k]);
    } else
        return 0;
#undef IS
    return 1;
}

/* <version>/<rest>: 1 answered, 0 not found. */
static int versioned(struct md *m, const char *rest)
{
    const void *ud;
    size_t udlen;
    struct oc_err err = { 0 };

    if (clc_instance_user_data(m->db, m->r->arena, m->in.id, &ud, &udlen, &err)) {
        m->status = 500;
        return 1;
    }
    if (!*rest) {
        text(m, ud ? "dynamic\nmeta-data\nuser-data" : "dynamic\nmeta-data");
        return 1;
    }
    if (strcmp(rest, "user-data") == 0 || strcmp(rest, "user-data/") == 0) {
        if (!ud)
            return 0;
        if (oc_buf_append(&m->out, ud, udlen) != OC_OK)
            m->oom = 1;
        m->ctype = "application/octet-stream";
        return 1;
    }
    if (strcmp(rest, "meta-data") == 0 || strncmp(rest, "meta-data/", 10) == 0)
        return meta_data(m, rest[9] ? rest + 10 : "");
    if (strcmp(rest, "dynamic") == 0 || strcmp(rest, "dynamic/") == 0) {
        text(m, "instance-identity/");
        return 1;
    }
    if (strcmp(rest, "dynamic/instance-identity") == 0 ||
        strcmp(rest, "dynamic/instance-identity/") == 0) {
        text(m, "document");
        return 1;
    }
    if (strcmp(rest, "dynamic/instance-identity/document") == 0) {
        identity_document(m);
        return 1;
    }
    return 0;
}

static void answer(struct md *m, const char *path)
{
    const char *slash;
    size_t vlen;

    if (!*path || strcmp(path, "/") == 0) {
        for (size_t k = 0; versions[k]; k++)
            line(m, versions[k]);
        return;
    }
    path++;                        /* the '/' after the instance id */
    slash = strchr(path, '/');
    vlen = slash ? (size_t)(slash - path) : strlen(path);
    for (size_t k = 0; versions[k]; k++)
        if (strlen(versions[k]) == vlen && strncmp(versions[k], path, vlen) == 0) {
            if (!versioned(m, slash ? slash + 1 : ""))
                m->status = 404;
            return;
        }
    m->status = 404;
}

int clc_metadata_render(struct clc *c, struct oc_arena *arena, const struct oc_principal *who,
                        const char *path, const char **ctype, struct oc_buf *out)
{
    const char *slash = strchr(path, '/');
    char *id = oc_arena_strndup(arena, path, slash ? (size_t)(slash - path) : strlen(path));
    struct clc_req req = { 0 };
    struct md m = { &req, NULL, { 0 }, { 0 }, "text/plain", 200, 0 };
    struct oc_err err = { 0 };
    int rc;

    req.clc = c;
    req.arena = arena;
    req.who = *who;
    *ctype = "text/plain";
    if (!who->is_admin || strcmp(who->user_name, clc_conf(&req, "CLC_CC_USER", "cc")) != 0)
        return 403;
    m.db = oc_dbpool_get(clc_pool(c), &err);
    if (!m.db) {
        oc_error("metadata: %s", err.msg);
        return 500;
    }
    rc = clc_instance_load(m.db, arena, id, &m.in, &err);
    if (rc == OC_OK && clc_state_live(m.in.state)) {
        clc_instance_names(&req, &m.in);
        answer(&m, slash ? slash : "");
    } else {
        if (rc && rc != OC_ENOTFOUND)
            oc_error("metadata: %s", err.msg);
        m.status = rc && rc != OC_ENOTFOUND ? 500 : 404;
    }
    oc_dbpool_put(clc_pool(c), m.db);
    if (m.oom)
        m.status = 500;
    if (m.status == 200) {
        *ctype = m.ctype;
        *out = m.out;
    } else {
        oc_buf_free(&m.out);
    }
    return m.status;
}

void clc_metadata_serve(struct clc_req *r)
{
    struct oc_buf out = { 0 };
    const char *ctype;
    int status = clc_metadata_render(r->clc, r->arena, &r->who,
                                     r->http->path + sizeof(CLC_METADATA_PREFIX) - 1, &ctype,
                                     &out);

    if (status != 200) {
        static const char *const texts[] = { "Forbidden\n", "Not Found\n", "Internal Error\n" };
        const char *t = texts[status == 403 ? 0 : status == 404 ? 1 : 2];

        oc_http_respond(r->http, status, "text/plain", t, strlen(t));
        return;
    }
    if (oc_http_respond(r->http, 200, ctype, out.data ? (const char *)out.data : "", out.len) !=
        OC_OK)
        oc_http_respond(r->http, 500, NULL, NULL, 0);
    oc_buf_free(&out);
}
