/*
 * instances.c - RunInstances and DescribeInstances, the instance record in
 * clc.db, and the push of security-group rules to the clusters (see
 * instances.h).  Operations on existing instances are in instance_ops.c.
 *
 * RunInstances: everything is validated and resolved in clc.db first
 * (image, kernel, ramdisk, type, key pair, groups, zone, user data, tags),
 * then for each candidate cluster (the requested zone, else every zone in
 * name order): the reservation and its instances are committed as
 * `pending` on that cluster, the rules of each of its groups the cluster
 * does not have yet are pushed, and ccRunInstances is sent.  An instance
 * may be in up to five groups (AWS's limit); the first decides its
 * network (its subnet, address and MAC), as in Eucalyptus's managed modes,
 * and the cluster enforces the union of all their rules.  The CC places
 * all of them or none; when they do not fit, the rows are deleted and
 * fewer are tried (halving, not below MinCount), then the next cluster.  Nothing is left behind when no
 * cluster can take MinCount: InsufficientInstanceCapacity.
 */
#include "clc/instances.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clc/images.h"
#include "clc/poller.h"
#include "clc/secgroups.h"
#include "common/codec.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/xml.h"

#define MAX_USER_DATA 16384
#define MAX_COUNT 1000

static const struct {
    const char *name;
    int code;
} states[] = {
    { "pending", 0 }, { "running", 16 }, { "shutting-down", 32 }, { "terminated", 48 },
    { "stopping", 64 }, { "stopped", 80 },
};

int clc_state_code(const char *state)
{
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (strcmp(states[i].name, state) == 0)
            return states[i].code;
    return -1;
}

int clc_state_live(const char *state)
{
    return strcmp(state, "terminated") != 0;
}

/* ------------------------------------------------------------------ */
/* the record */

#define INST_COLS                                                                         \
    "i.id, i.reservation_id, i.account_id, i.image_id, i.kernel_id, i.ramdisk_id,"        \
    " i.instance_type, i.key_name, i.cluster, i.node, i.node_up, i.state, i.state_reason," \
    " i.state_time, i.private_ip, i.mac, i.launch_time, i.launch_index,"                  \
    " i.disable_api_termination, i.architecture, i.root_device_type, i.root_device_name," \
    " i.platform, IFNULL(a.public_ip, ''), r.client_token, i.user_data IS NOT NULL,"      \
    " IFNULL((SELECT group_concat(x, char(10)) FROM"                                      \
    "         (SELECT g.group_id || char(9) || g.group_name AS x FROM instance_groups g"   \
    "          WHERE g.instance_id = i.id ORDER BY g.rowid)), ''),"                        \
    " i.reservation_id || '/' || i.id"
#define INST_FROM                                                                         \
    " FROM instances i JOIN reservations r ON r.id = i.reservation_id"                    \
    " LEFT JOIN addresses a ON a.instance_id = i.id"

static void inst_fill(struct oc_arena *a, sqlite3_stmt *st, void *row)
{
    struct clc_instance *in = row;

    in->id = clc_col_text(a, st, 0);
    in->reservation_id = clc_col_text(a, st, 1);
    in->account_id = clc_col_text(a, st, 2);
    in->image_id = clc_col_text(a, st, 3);
    in->kernel_id = clc_col_text(a, st, 4);
    in->ramdisk_id = clc_col_text(a, st, 5);
    in->instance_type = clc_col_text(a, st, 6);
    in->key_name = clc_col_text(a, st, 7);
    in->cluster = clc_col_text(a, st, 8);
    in->node = clc_col_text(a, st, 9);
    in->node_up = sqlite3_column_int(st, 10);
    in->state = clc_col_text(a, st, 11);
    in->state_reason = clc_col_text(a, st, 12);
    in->state_time = (time_t)sqlite3_column_int64(st, 13);
    in->private_ip = clc_col_text(a, st, 14);
    in->mac = clc_col_text(a, st, 15);
    in->launch_time = (time_t)sqlite3_column_int64(st, 16);
    in->launch_index = sqlite3_column_int(st, 17);
    in->disable_api_termination = sqlite3_column_int(st, 18);
    in->architecture = clc_col_text(a, st, 19);
    in->root_device_type = clc_col_text(a, st, 20);
    in->root_device_name = clc_col_text(a, st, 21);
    in->platform = clc_col_text(a, st, 22);
    in->public_ip = clc_col_text(a, st, 23);
    in->client_token = clc_col_text(a, st, 24);
    in->has_user_data = sqlite3_column_int(st, 25);
    in->groups = clc_col_text(a, st, 26);
}

int clc_instance_load(struct oc_db *db, struct oc_arena *a, const char *id,
                      struct clc_instance *out, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT " INST_COLS INST_FROM " WHERE i.id = ?", err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        inst_fill(a, st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return OC_OK;
    if (rc == SQLITE_DONE)
        return oc_err_set(err, OC_ENOTFOUND, "no instance %s", id);
    return oc_db_fail(db, err, "load instance");
}

size_t clc_instance_groups(struct oc_arena *a, const struct clc_instance *in,
                           const char ***ids, const char ***names)
{
    size_t n = 0, k = 0;
    char *s = oc_arena_strdup(a, in->groups), *line, *save = NULL;

    for (const char *p = in->groups; *p; p++)
        n += *p == '\n';
    n += *in->groups ? 1 : 0;
    *ids = oc_arena_calloc(a, n + 1, sizeof(**ids));
    *names = oc_arena_calloc(a, n + 1, sizeof(**names));
    for (line = strtok_r(s, "\n", &save); line && k < n; line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');

        if (tab)
            *tab = '\0';
        (*ids)[k] = line;
        (*names)[k++] = tab ? tab + 1 : "";
    }
    return k;
}

void clc_instance_groups_write(struct clc_req *r, const struct clc_instance *in, int ids_only)
{
    const char **gids, **gnames;
    size_t ng = clc_instance_groups(r->arena, in, &gids, &gnames);

    oc_xmlw_start(r->xml, "groupSet");
    for (size_t k = 0; k < ng; k++) {
        oc_xmlw_start(r->xml, "item");
        oc_xmlw_elem(r->xml, "groupId", gids[k]);
        if (!ids_only)
            oc_xmlw_elem(r->xml, "groupName", gnames[k]);
        oc_xmlw_end(r->xml);
    }
    oc_xmlw_end(r->xml);
}

int clc_instance_user_data(struct oc_db *db, struct oc_arena *a, const char *id,
                           const void **data, size_t *len, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT user_data FROM instances WHERE id = ?", err);
    int rc;

    *data = NULL;
    *len = 0;
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        char *copy = oc_arena_alloc(a, n + 1);

        if (n)
            memcpy(copy, sqlite3_column_blob(st, 0), n);
        *data = copy;
        *len = n;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return OC_OK;
    if (rc == SQLITE_DONE)
        return oc_err_set(err, OC_ENOTFOUND, "no instance %s", id);
    return oc_db_fail(db, err, "load user data");
}

int clc_instance_record(struct oc_db *db, const struct clc_instance_news *n,
                        struct oc_err *err)
{
    const char *state = n->state, *reason = n->reason ? n->reason : "";
    int changed = 0, rc;

    if (strcmp(state, "crashed") == 0) {
        state = "stopped";
        if (!*reason)
            reason = "Server.InternalError: the instance crashed";
    }
    if (clc_state_code(state) < 0)
        return oc_err_set(err, OC_EINVAL, "'%s' is not an instance state", n->state);
    if ((rc = oc_db_begin(db, err)))
        return rc;
    rc = oc_db_run(db,
                   "UPDATE instances SET"
                   "  state = CASE WHEN ?4 >= state_time THEN ?3 ELSE state END,"
                   "  state_reason = CASE WHEN ?4 >= state_time THEN ?5 ELSE state_reason END,"
                   "  state_time = max(state_time, ?4),"
                   "  node = CASE WHEN ?6 <> '' THEN ?6 ELSE node END,"
                   "  private_ip = CASE WHEN ?7 <> '' THEN ?7 ELSE private_ip END,"
                   "  mac = CASE WHEN ?8 <> '' THEN ?8 ELSE mac END,"
                   "  node_up = CASE WHEN ?9 >= 0 THEN ?9 ELSE node_up END"
                   " WHERE id = ?1 AND cluster = ?2",
                   &changed, err, "sssissssi", n->id, n->cluster, state, (long long)n->at, reason,
                   n->node ? n->node : "", n->private_ip ? n->private_ip : "",
                   n->mac ? n->mac : "", (long long)n->node_up);
    if (rc == OC_OK && changed == 0)
        rc = oc_err_set(err, OC_ENOTFOUND, "cluster %s has no instance %s", n->cluster, n->id);
    /* A terminated instance lets its elastic IP go (the CC did). */
    if (rc == OC_OK)
        rc = oc_db_run(db,
                       "UPDATE addresses SET instance_id = '', association_id = ''"
                       " WHERE instance_id = ?1 AND EXISTS (SELECT 1 FROM instances"
                       "   WHERE id = ?1 AND state = 'terminated')",
                       NULL, err, "s", n->id);
    if (rc == OC_OK)
        rc = oc_db_commit(db, err);
    if (rc)
        oc_db_rollback(db);
    return rc;
}

/* ------------------------------------------------------------------ */
/* writing an instance */

static const char *dns_name(struct clc_req *r, int private, const char *ip)
{
    char dashed[16];
    size_t k = 0;

    if (!*ip)
        return "";
    for (; ip[k] && k < sizeof(dashed) - 1; k++)
        dashed[k] = ip[k] == '.' ? '-' : ip[k];
    dashed[k] = '\0';
    if (private)
        return oc_arena_printf(r->arena, "ip-%s.%s.compute.internal", dashed,
                               clc_conf(r, "REGION", "us-east-1"));
    return oc_arena_printf(r->arena, "ec2-%s.%s.compute.%s", dashed,
                           clc_conf(r, "REGION", "us-east-1"),
                           clc_conf(r, "CLC_DNS_DOMAIN", "overcast.internal"));
}

void clc_instance_names(struct clc_req *r, struct clc_instance *in)
{
    int live = clc_state_live(in->state);

    in->private_dns = dns_name(r, 1, live ? in->private_ip : "");
    in->public_dns = dns_name(r, 0, live ? in->public_ip : "");
}

static void iso_time(time_t t, char *out, size_t cap)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

void clc_state_elem(struct oc_xmlw *w, const char *elem, const char *state)
{
    oc_xmlw_start(w, elem);
    oc_xmlw_elemf(w, "code", "%d", clc_state_code(state));
    oc_xmlw_elem(w, "name", state);
    oc_xmlw_end(w);
}

void clc_instance_write(struct clc_req *r, const struct clc_instance *in,
                        const struct clc_tagset *tags)
{
    struct oc_xmlw *w = r->xml;
    char when[32];
    int live = clc_state_live(in->state);

    iso_time(in->launch_time, when, sizeof(when));
    oc_xmlw_start(w, "item");
    oc_xmlw_elem(w, "instanceId", in->id);
    oc_xmlw_elem(w, "imageId", in->image_id);
    clc_state_elem(w, "instanceState", in->state);
    oc_xmlw_elem(w, "privateDnsName", in->private_dns ? in->private_dns : "");
    oc_xmlw_elem(w, "dnsName", in->public_dns ? in->public_dns : "");
    oc_xmlw_elem(w, "reason", in->state_reason);
    if (*in->key_name)
        oc_xmlw_elem(w, "keyName", in->key_name);
    oc_xmlw_elemf(w, "amiLaunchIndex", "%d", in->launch_index);
    oc_xmlw_start(w, "productCodes");
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "instanceType", in->instance_type);
    oc_xmlw_elem(w, "launchTime", when);
    oc_xmlw_start(w, "placement");
    oc_xmlw_elem(w, "availabilityZone", in->cluster);
    oc_xmlw_elem(w, "groupName", "");
    oc_xmlw_elem(w, "tenancy", "default");
    oc_xmlw_end(w);
    if (*in->kernel_id)
        oc_xmlw_elem(w, "kernelId", in->kernel_id);
    if (*in->ramdisk_id)
        oc_xmlw_elem(w, "ramdiskId", in->ramdisk_id);
    if (*in->platform)
        oc_xmlw_elem(w, "platform", in->platform);
    oc_xmlw_start(w, "monitoring");
    oc_xmlw_elem(w, "state", "disabled");
    oc_xmlw_end(w);
    if (live && *in->private_ip)
        oc_xmlw_elem(w, "privateIpAddress", in->private_ip);
    if (live && *in->public_ip)
        oc_xmlw_elem(w, "ipAddress", in->public_ip);
    clc_instance_groups_write(r, in, 0);
    if (*in->state_reason) {
        const char *colon = strchr(in->state_reason, ':');

        oc_xmlw_start(w, "stateReason");
        if (colon)
            oc_xmlw_elem(w, "code", oc_arena_strndup(r->arena, in->state_reason,
                                                     (size_t)(colon - in->state_reason)));
        else
            oc_xmlw_elem(w, "code", in->state_reason);
        oc_xmlw_elem(w, "message", in->state_reason);
        oc_xmlw_end(w);
    }
    oc_xmlw_elem(w, "architecture", in->architecture);
    oc_xmlw_elem(w, "rootDeviceType", in->root_device_type);
    oc_xmlw_elem(w, "rootDeviceName", in->root_device_name);
    oc_xmlw_start(w, "blockDeviceMapping");
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "virtualizationType", *in->kernel_id ? "paravirtual" : "hvm");
    if (*in->client_token)
        oc_xmlw_elem(w, "clientToken", in->client_token);
    clc_tags_write(r, tags);
    oc_xmlw_elem(w, "hypervisor", "xen");
    oc_xmlw_start(w, "networkInterfaceSet");
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "ebsOptimized", "false");
    oc_xmlw_end(w);
}

/* ------------------------------------------------------------------ */
/* the network of a group on a cluster */

int clc_net_push_group(struct clc *c, struct oc_db *db, struct oc_arena *a,
                       const struct clc_cluster *cl, const char *gid, struct oc_err *err)
{
    struct clc_sg_rule *rules = NULL;
    struct oc_kv *p;
    struct oc_icall res;
    size_t n = 0, np = 0;
    int rc, k[2] = { 0, 0 };

    if ((rc = clc_secgroup_rules_load(db, a, gid, &rules, &n, err)))
        return rc;
    p = oc_arena_calloc(a, 2 + 5 * n, sizeof(*p));
    if (!p)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    p[np++] = (struct oc_kv){ "GroupId", gid, 1 };
    /* The cluster filters what instances start by the egress rules sent
     * (none: nothing leaves), as AWS does; a new group has the rule "all
     * traffic to 0.0.0.0/0". */
    p[np++] = (struct oc_kv){ "Egress", "rules", 1 };
    for (size_t i = 0; i < n; i++) {
        const struct clc_sg_rule *ru = &rules[i];
        const char *proto = strcmp(ru->protocol, "-1") == 0 ? "all" : ru->protocol;
        const char *pfx = ru->egress ? "EgressRule" : "Rule";
        int ports = strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0;
        int *kk = &k[ru->egress ? 1 : 0];

        /* The data plane is IPv4: IPv6 ranges and icmpv6 are stored and
         * described, not enforced (docs/clc.md). */
        if (strchr(ru->cidr, ':') || strcmp(proto, "icmpv6") == 0)
            continue;
        (*kk)++;
#define RULE(key, val) \
    p[np++] = (struct oc_kv){ oc_arena_printf(a, "%s.%d." key, pfx, *kk), (val), 1 }
        RULE("Protocol", proto);
        if (ports || strcmp(proto, "icmp") == 0) {
            RULE("FromPort", oc_arena_printf(a, "%d", ru->from_port));
            RULE("ToPort", oc_arena_printf(a, "%d", ru->to_port));
        }
        if (*ru->src_group_id)
            RULE("SourceGroupId", ru->src_group_id);
        else
            RULE("CidrIp", ru->cidr);
#undef RULE
    }
    rc = clc_cc_call(c, cl, "ccConfigureNetwork", p, np, &res, NULL, err);
    if (rc == OC_OK)
        oc_icall_free(&res);
    return rc;
}

/* The clusters where gid has live instances. */
static int group_clusters(struct oc_db *db, struct oc_arena *a, const char *gid,
                          const char ***names, size_t *n, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT DISTINCT i.cluster FROM instance_groups g"
                                         " JOIN instances i ON i.id = g.instance_id"
                                         " WHERE g.group_id = ? AND i.state <> 'terminated'",
                                     err);
    int rc;

    *n = 0;
    *names = NULL;
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, gid, -1, SQLITE_TRANSIENT);
    *names = oc_arena_calloc(a, 64, sizeof(**names));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < 64)
        (*names)[(*n)++] = clc_col_text(a, st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OC_OK
                                                 : oc_db_fail(db, err, "clusters of a group");
}

void clc_net_group_changed(struct clc_req *r, const char *gid)
{
    const char **names;
    size_t n;
    struct oc_err err = { 0 };

    if (group_clusters(r->db, r->arena, gid, &names, &n, &err)) {
        oc_log(OC_LOG_WARN, "group %s: %s", gid, err.msg);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        struct clc_cluster cl;

        if (clc_cluster_get(r->db, r->arena, names[k], &cl, &err) ||
            clc_net_push_group(r->clc, r->db, r->arena, &cl, gid, &err)) {
            oc_log(OC_LOG_WARN, "group %s on cluster %s: %s (the poller retries)", gid,
                   names[k], err.msg);
            clc_poller_net_dirty(r->clc, names[k]);
        }
    }
}

int clc_net_push_cluster(struct clc *c, struct oc_db *db, struct oc_arena *a,
                         const struct clc_cluster *cl, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT DISTINCT g.group_id FROM instance_groups g"
                                         " JOIN instances i ON i.id = g.instance_id"
                                         " WHERE i.cluster = ? AND i.state <> 'terminated'",
                                     err);
    const char **gids = NULL;
    size_t n = 0, cap = 0;
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, cl->name, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            const char **more = oc_arena_calloc(a, cap ? 2 * cap : 16, sizeof(*more));

            if (!more) {
                sqlite3_reset(st);
                return oc_err_set(err, OC_ENOMEM, "out of memory");
            }
            if (n)
                memcpy(more, gids, n * sizeof(*more));
            gids = more;
            cap = cap ? 2 * cap : 16;
        }
        gids[n++] = clc_col_text(a, st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return oc_db_fail(db, err, "groups of a cluster");
    for (size_t k = 0; k < n; k++)
        if ((rc = clc_net_push_group(c, db, a, cl, gids[k], err)))
            return rc;
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* RunInstances */

struct run {
    long long min, max;
    const char *type;
    long long vcpus, mem, disk;
    struct clc_image image, kernel, ramdisk;
    int has_kernel, has_ramdisk;
    const char *key_name;
    /* Its security groups in order (the first decides the network). */
    const char *gids[CLC_MAX_GROUPS], *gnames[CLC_MAX_GROUPS];
    size_t ngroups;
    const char *zone;             /* NULL: any */
    uint8_t *user_data;
    size_t user_data_len;
    int has_user_data, disable_api_termination;
    const char *token;
    const char *clone_of;         /* CloneInstances: the running source */
};

static int run_type(struct clc_req *r, struct run *run)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT vcpus, memory_mib, disk_gib"
                                            " FROM instance_types WHERE name = ?", &err);
    int rc;

    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, run->type, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        run->vcpus = sqlite3_column_int64(st, 0);
        run->mem = sqlite3_column_int64(st, 1);
        run->disk = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return clc_error(r, "InvalidParameterValue", "Invalid value '%s' for InstanceType.",
                         run->type);
    if (rc != SQLITE_ROW) {
        oc_db_fail(r->db, &err, "instance type");
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

/* KernelId / RamdiskId (or the image's own): visible and of that kind. */
static int run_aux_image(struct clc_req *r, const char *param, const char *deflt,
                         const char *kind, struct clc_image *out, int *has)
{
    const char *id = clc_param(r, param);
    struct oc_err err = { 0 };
    int rc;

    if (!id || !*id)
        id = deflt;
    *has = 0;
    if (!id || !*id)
        return CLC_OK;
    id = clc_image_id_canonical(r, id);
    rc = clc_image_load_visible(r, id, out, &err);
    if (rc == OC_ENOTFOUND || (rc == OC_OK && strcmp(out->type, kind) != 0))
        return clc_error(r, "InvalidParameterValue", "Invalid value '%s' for %s: no such %s",
                         id, param, kind);
    if (rc)
        return clc_internal(r, &err);
    *has = 1;
    return CLC_OK;
}

/* Adds one named group (by id or by name) to run's groups, once. */
static int run_group_add(struct clc_req *r, struct run *run, const char *want, int by_id)
{
    struct oc_err err = { 0 };
    const char *gid = NULL, *gname = NULL;
    int rc = clc_secgroup_resolve(r->db, r->arena, r->who.account_id, want, &gid, &gname, &err);

    if (rc == OC_ENOTFOUND || (rc == OC_OK && by_id && strcmp(gid, want) != 0))
        return by_id ? clc_error(r, "InvalidGroup.NotFound",
                                 "The security group '%s' does not exist", want)
                     : clc_error(r, "InvalidGroup.NotFound",
                                 "The security group '%s' does not exist in default VPC", want);
    if (rc)
        return clc_internal(r, &err);
    /* A group named twice (by name and by id, say) counts once, as on AWS. */
    for (size_t k = 0; k < run->ngroups; k++)
        if (strcmp(run->gids[k], gid) == 0)
            return CLC_OK;
    if (run->ngroups == CLC_MAX_GROUPS)
        return clc_error(r, "SecurityGroupsPerInstanceLimitExceeded",
                         "The maximum number of security groups per instance has been reached"
                         " (%d)", CLC_MAX_GROUPS);
    run->gids[run->ngroups] = gid;
    run->gnames[run->ngroups++] = gname;
    return CLC_OK;
}

/* SecurityGroup.N (names) then SecurityGroupId.N, each in N's order; none:
 * the account's `default`.  The first decides the instances' network, as
 * in Eucalyptus's managed modes. */
static int run_group(struct clc_req *r, struct run *run)
{
    const char **names, **ids;
    size_t nn, ni;

    if (clc_param_list(r, "SecurityGroup", &names, &nn) ||
        clc_param_list(r, "SecurityGroupId", &ids, &ni))
        return CLC_FAILED;
    run->ngroups = 0;
    for (size_t k = 0; k < nn; k++)
        if (run_group_add(r, run, names[k], 0))
            return CLC_FAILED;
    for (size_t k = 0; k < ni; k++)
        if (run_group_add(r, run, ids[k], 1))
            return CLC_FAILED;
    if (!run->ngroups && run_group_add(r, run, "default", 0))
        return CLC_FAILED;
    return CLC_OK;
}

static int run_key(struct clc_req *r, struct run *run)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    int rc;

    run->key_name = clc_param(r, "KeyName");
    if (!run->key_name || !*run->key_name) {
        run->key_name = "";
        return CLC_OK;
    }
    st = oc_db_prepare(r->db, "SELECT 1 FROM keypairs WHERE account_id = ? AND name = ?", &err);
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, run->key_name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return clc_error(r, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist",
                         run->key_name);
    return rc == SQLITE_ROW ? CLC_OK : clc_internal(r, &err);
}

static int run_user_data(struct clc_req *r, struct run *run)
{
    const char *ud = clc_param(r, "UserData");
    size_t n;
    long got;

    if (!ud)
        return CLC_OK;
    n = strlen(ud);
    if (n > 4 * ((MAX_USER_DATA + 2) / 3) + 4)
        return clc_error(r, "InvalidParameterValue",
                         "User data is limited to %d bytes", MAX_USER_DATA);
    run->user_data = oc_arena_alloc(r->arena, n + 1);
    got = oc_base64_decode(ud, n, run->user_data, n + 1);
    if (got < 0)
        return clc_error(r, "InvalidParameterValue", "Invalid BASE64 encoding of user data");
    if (got > MAX_USER_DATA)
        return clc_error(r, "InvalidParameterValue",
                         "User data is limited to %d bytes", MAX_USER_DATA);
    run->user_data_len = (size_t)got;
    run->has_user_data = 1;
    return CLC_OK;
}

static int run_parse(struct clc_req *r, struct run *run)
{
    const char *image_id;
    struct oc_err err = { 0 };
    int rc;

    if (clc_param_required(r, "ImageId", &image_id) ||
        clc_param_int(r, "MinCount", 1, MAX_COUNT, 1, &run->min) ||
        clc_param_int(r, "MaxCount", 1, MAX_COUNT, run->min, &run->max) ||
        clc_param_bool(r, "DisableApiTermination", 0, &run->disable_api_termination))
        return CLC_FAILED;
    if (run->min > run->max)
        return clc_error(r, "InvalidParameterValue",
                         "MinCount (%lld) must not be greater than MaxCount (%lld)", run->min,
                         run->max);
    image_id = clc_image_id_canonical(r, image_id);
    rc = clc_image_load_visible(r, image_id, &run->image, &err);
    if (rc == OC_ENOTFOUND || (rc == OC_OK && strcmp(run->image.type, "machine") != 0))
        return clc_error(r, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist",
                         image_id);
    if (rc)
        return clc_internal(r, &err);
    if (strcmp(run->image.state, "available") != 0)
        return clc_error(r, "InvalidAMIID.Unavailable", "The image '%s' is %s", image_id,
                         run->image.state);
    run->type = clc_param(r, "InstanceType");
    if (!run->type || !*run->type)
        run->type = "m1.small";
    run->zone = clc_param(r, "Placement.AvailabilityZone");
    if (run->zone && !*run->zone)
        run->zone = NULL;
    run->token = clc_param(r, "ClientToken");
    if (run->token && strlen(run->token) > 64)
        return clc_error(r, "InvalidParameterValue",
                         "ClientToken must be at most 64 characters");
    if (!run->token)
        run->token = "";
    if (run_type(r, run) ||
        run_aux_image(r, "KernelId", run->image.kernel_id, "kernel", &run->kernel,
                      &run->has_kernel) ||
        run_aux_image(r, "RamdiskId", run->image.ramdisk_id, "ramdisk", &run->ramdisk,
                      &run->has_ramdisk) ||
        run_key(r, run) || run_group(r, run) || run_user_data(r, run) ||
        clc_tags_check_spec(r, "instance"))
        return CLC_FAILED;
    if (run->zone) {
        struct clc_cluster cl;

        rc = clc_cluster_get(r->db, r->arena, run->zone, &cl, &err);
        if (rc == OC_ENOTFOUND)
            return clc_error(r, "InvalidParameterValue",
                             "Invalid availability zone: [%s]", run->zone);
        if (rc)
            return clc_internal(r, &err);
    }
    return CLC_OK;
}

/* The reservation that answered ClientToken before, if any. */
static int token_reservation(struct clc_req *r, const char *token, const char **rid)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    int rc;

    *rid = NULL;
    if (!*token)
        return CLC_OK;
    st = oc_db_prepare(r->db, "SELECT id FROM reservations WHERE account_id = ?"
                              " AND client_token = ?", &err);
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *rid = clc_col_text(r->arena, st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? CLC_OK : clc_internal(r, &err);
}

/* Commits the reservation and its n pending instances on cluster. */
static int run_record(struct clc_req *r, const struct run *run, const char *cluster,
                      const char *rid, char (*ids)[32], long long n, int *token_taken)
{
    struct oc_err err = { 0 };
    int rc;

    *token_taken = 0;
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    rc = oc_db_run(r->db, "INSERT INTO reservations (id, account_id, client_token, created)"
                          " VALUES (?, ?, ?, ?)",
                   NULL, &err, "sssi", rid, r->who.account_id, run->token, (long long)r->now);
    if (rc == OC_EEXIST) {
        oc_db_rollback(r->db);
        *token_taken = 1;
        return CLC_FAILED;
    }
    for (long long k = 0; rc == OC_OK && k < n; k++) {
        rc = oc_db_run(r->db,
                       "INSERT INTO instances (id, reservation_id, account_id, launch_index,"
                       " image_id, kernel_id, ramdisk_id, instance_type, key_name, cluster,"
                       " state, state_time, launch_time, user_data, disable_api_termination,"
                       " architecture, root_device_type, root_device_name, platform)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?11,"
                       " ?12, ?13, ?14, ?15, ?16, ?17)",
                       NULL, &err, "sssissssssibissss", ids[k], rid, r->who.account_id, k,
                       run->image.id, run->has_kernel ? run->kernel.id : "",
                       run->has_ramdisk ? run->ramdisk.id : "", run->type, run->key_name,
                       cluster, (long long)r->now,
                       run->has_user_data ? (const void *)run->user_data : NULL,
                       run->user_data_len, (long long)run->disable_api_termination,
                       *run->image.architecture ? run->image.architecture : "x86_64",
                       run->image.root_device_type, run->image.root_device_name,
                       run->image.platform);
        /* In order: instance_groups' rowid keeps it (the first is the
         * network's). */
        for (size_t g = 0; rc == OC_OK && g < run->ngroups; g++)
            rc = oc_db_run(r->db, "INSERT INTO instance_groups (instance_id, group_id,"
                                  " group_name) VALUES (?, ?, ?)",
                           NULL, &err, "sss", ids[k], run->gids[g], run->gnames[g]);
        if (rc == OC_OK && clc_tags_from_spec(r, "instance", ids[k])) {
            oc_db_rollback(r->db);
            return CLC_FAILED;
        }
    }
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

/* Removes what run_record made (the cluster placed none of it). */
static void run_unrecord(struct clc_req *r, const char *rid)
{
    struct oc_err err = { 0 };
    int rc = oc_db_begin(r->db, &err);

    if (rc == OC_OK)
        rc = oc_db_run(r->db, "DELETE FROM tags WHERE resource_id IN"
                              " (SELECT id FROM instances WHERE reservation_id = ?)",
                       NULL, &err, "s", rid);
    if (rc == OC_OK)
        rc = oc_db_run(r->db, "DELETE FROM instances WHERE reservation_id = ?", NULL, &err, "s",
                       rid);
    if (rc == OC_OK)
        rc = oc_db_run(r->db, "DELETE FROM reservations WHERE id = ?", NULL, &err, "s", rid);
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        oc_log(OC_LOG_ERROR, "reservation %s: could not be removed: %s", rid, err.msg);
    }
}

static void image_params(struct oc_arena *a, struct oc_kv *p, size_t *np, const char *pfx,
                         const struct clc_image *im)
{
    p[(*np)++] = (struct oc_kv){ oc_arena_printf(a, "%sId", pfx), im->id, 1 };
    p[(*np)++] = (struct oc_kv){ oc_arena_printf(a, "%sLocation", pfx), im->location, 1 };
    p[(*np)++] = (struct oc_kv){ oc_arena_printf(a, "%sDigest", pfx), im->digest, 1 };
}

/* Whether group gid has a live instance on cluster outside reservation
 * rid (a failed lookup says no: the rules are then pushed again). */
static int group_on_cluster(struct clc_req *r, const char *gid, const char *cluster,
                            const char *rid)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT 1 FROM instance_groups g"
                                            " JOIN instances i ON i.id = g.instance_id"
                                            " WHERE g.group_id = ? AND i.cluster = ?"
                                            " AND i.state <> 'terminated'"
                                            " AND i.reservation_id <> ? LIMIT 1", &err);
    int found;

    if (!st)
        return 0;
    sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, rid, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return found;
}

/* ccRunInstances for n recorded instances; their addresses and nodes are
 * recorded from the answer.  OC_ETOOBIG when they do not fit. */
static int run_send(struct clc_req *r, const struct run *run, const struct clc_cluster *cl,
                    const char *rid, char (*ids)[32], long long n, struct oc_err *err)
{
    struct oc_kv *p = oc_arena_calloc(r->arena, (size_t)n + 24 + CLC_MAX_GROUPS, sizeof(*p));
    struct oc_icall res;
    size_t np = 0;
    xmlNodePtr set, it;
    int rc;

    if (!p)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    for (long long k = 0; k < n; k++)
        p[np++] = (struct oc_kv){ oc_arena_printf(r->arena, "InstanceId.%lld", k + 1), ids[k],
                                  1 };
    p[np++] = (struct oc_kv){ "ReservationId", rid, 1 };
    p[np++] = (struct oc_kv){ "OwnerId", r->who.account_id, 1 };
    p[np++] = (struct oc_kv){ "InstanceType", run->type, 1 };
    p[np++] = (struct oc_kv){ "VCpus", oc_arena_printf(r->arena, "%lld", run->vcpus), 1 };
    p[np++] = (struct oc_kv){ "MemoryMiB", oc_arena_printf(r->arena, "%lld", run->mem), 1 };
    p[np++] = (struct oc_kv){ "DiskGiB", oc_arena_printf(r->arena, "%lld", run->disk), 1 };
    for (size_t g = 0; g < run->ngroups; g++)
        p[np++] = (struct oc_kv){ oc_arena_printf(r->arena, "GroupId.%zu", g + 1), run->gids[g],
                                  1 };
    p[np++] = (struct oc_kv){ "LaunchIndex", "0", 1 };
    image_params(r->arena, p, &np, "Image", &run->image);
    if (run->has_kernel)
        image_params(r->arena, p, &np, "Kernel", &run->kernel);
    if (run->has_ramdisk)
        image_params(r->arena, p, &np, "Ramdisk", &run->ramdisk);
    /* A MacroComponent image: its nodes fork a template instead of booting. */
    if (*run->image.mc_ready)
        p[np++] = (struct oc_kv){ "MacroComponentReady", run->image.mc_ready, 1 };
    if (run->clone_of)
        p[np++] = (struct oc_kv){ "CloneOf", run->clone_of, 1 };
    /* The cluster has a group's rules already when it runs another of its
     * instances (every change is pushed there; one that failed is the
     * poller's); otherwise they go first, for every group. */
    for (size_t g = 0; g < run->ngroups; g++)
        if (!group_on_cluster(r, run->gids[g], cl->name, rid) &&
            (rc = clc_net_push_group(r->clc, r->db, r->arena, cl, run->gids[g], err)))
            return rc;
    if ((rc = clc_cc_call(r->clc, cl, "ccRunInstances", p, np, &res, NULL, err)))
        return rc;
    set = oc_xml_child(res.root, "instancesSet");
    for (it = set ? oc_xml_child(set, "item") : NULL; it; it = oc_xml_next(it, "item")) {
        char id[32], state[16], reason[256], node[64], ip[16], mac[18], up[8];
        struct clc_instance_news nw;
        struct oc_err e2 = { 0 };

        oc_icall_text(it, "instanceId", id, sizeof(id));
        oc_icall_text(it, "state", state, sizeof(state));
        oc_icall_text(it, "stateReason", reason, sizeof(reason));
        oc_icall_text(it, "node", node, sizeof(node));
        oc_icall_text(it, "privateIpAddress", ip, sizeof(ip));
        oc_icall_text(it, "macAddress", mac, sizeof(mac));
        oc_icall_text(it, "nodeState", up, sizeof(up));
        nw = (struct clc_instance_news){ id, cl->name, state, reason, r->now, node, ip, mac,
                                         strcmp(up, "down") != 0 };
        if (clc_instance_record(r->db, &nw, &e2))
            oc_log(OC_LOG_WARN, "instance %s: %s", id, e2.msg);
    }
    oc_icall_free(&res);
    return OC_OK;
}

/* The reservation's answer: reservationId, ownerId, groupSet, instancesSet. */
static int write_reservation(struct clc_req *r, const char *rid);

static int run_instances(struct clc_req *r)
{
    struct run run = { 0 };
    struct clc_cluster *cls = NULL, one;
    size_t ncl = 0;
    const char *prev_rid;
    struct oc_err err = { 0 };
    char (*ids)[32];
    char rid[32];
    int capacity_short = 0, token_taken = 0;

    if (run_parse(r, &run))
        return CLC_FAILED;
    if (token_reservation(r, run.token, &prev_rid))
        return CLC_FAILED;
    if (prev_rid)
        return write_reservation(r, prev_rid);
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (run.zone) {
        if (clc_cluster_get(r->db, r->arena, run.zone, &one, &err))
            return clc_internal(r, &err);
        cls = &one;
        ncl = 1;
    } else if (clc_clusters_list(r->db, r->arena, &cls, &ncl, &err)) {
        return clc_internal(r, &err);
    }
    if (ncl == 0)
        return clc_error(r, "InsufficientInstanceCapacity",
                         "There is no cluster to run instances in (no zone is registered)");
    ids = oc_arena_calloc(r->arena, (size_t)run.max, sizeof(*ids));
    for (size_t c = 0; c < ncl; c++) {
        long long n = run.max;

        while (n >= run.min) {
            int rc;

            oc_resource_id("r", rid);
            for (long long k = 0; k < n; k++)
                oc_resource_id("i", ids[k]);
            if (run_record(r, &run, cls[c].name, rid, ids, n, &token_taken)) {
                if (!token_taken)
                    return CLC_FAILED;
                /* The same token arrived twice at once: the other won. */
                r->err_code = NULL;
                if (token_reservation(r, run.token, &prev_rid) || !prev_rid)
                    return CLC_FAILED;
                return write_reservation(r, prev_rid);
            }
            rc = run_send(r, &run, &cls[c], rid, ids, n, &err);
            if (rc == OC_OK)
                return write_reservation(r, rid);
            run_unrecord(r, rid);
            if (rc == OC_ETOOBIG) {
                capacity_short = 1;
                oc_log(OC_LOG_INFO, "RunInstances: %lld do not fit in %s", n, cls[c].name);
                if (n == run.min)
                    break;
                n = n / 2 < run.min ? run.min : n / 2;
                continue;
            }
            oc_log(OC_LOG_WARN, "RunInstances on %s: %s", cls[c].name, err.msg);
            if (rc == OC_EIO && strstr(err.msg, "InternalError") == NULL && !capacity_short &&
                c + 1 == ncl)
                return clc_error(r, "Unavailable", "The cluster cannot be reached: %s",
                                 err.msg);
            if (rc != OC_EIO && c + 1 == ncl && !capacity_short)
                return clc_error(r, "InternalError", "The cluster refused: %s", err.msg);
            break;
        }
    }
    return clc_error(r, "InsufficientInstanceCapacity",
                     "There is not enough capacity to fulfill your request of %lld instance(s)"
                     " of type %s", run.min, run.type);
}

/*
 * CloneInstances (an Overcast extension): Count copies of a running
 * MacroComponent instance as it is now (its memory and disk, forked
 * copy-on-write on its node, docs/nc.md), each a new instance of a new
 * reservation with the source's image, type, key, group and user data,
 * its own id, MAC, address and metadata.  They go on the source's node
 * or not at all.
 */
static int clone_instances(struct clc_req *r)
{
    struct run run = { 0 };
    struct clc_instance src;
    struct clc_cluster cl;
    const char *id, **gids, **gnames;
    const void *ud = NULL;
    size_t udlen = 0;
    struct oc_err err = { 0 };
    char (*ids)[32];
    char rid[32];
    int rc, token_taken = 0;

    if (clc_param_required(r, "InstanceId", &id) ||
        clc_param_int(r, "Count", 1, MAX_COUNT, 1, &run.max))
        return CLC_FAILED;
    run.min = run.max;
    rc = clc_instance_load(r->db, r->arena, id, &src, &err);
    if (rc == OC_ENOTFOUND || (rc == OC_OK && strcmp(src.account_id, r->who.account_id) != 0))
        return clc_error(r, "InvalidInstanceID.NotFound",
                         "The instance ID '%s' does not exist", id);
    if (rc)
        return clc_internal(r, &err);
    if (strcmp(src.state, "running") != 0)
        return clc_error(r, "IncorrectInstanceState",
                         "The instance '%s' is not in the 'running' state", id);
    rc = clc_image_load_visible(r, src.image_id, &run.image, &err);
    if (rc == OC_ENOTFOUND)
        return clc_error(r, "InvalidAMIID.NotFound",
                         "The image of '%s' (%s) is no longer registered", id, src.image_id);
    if (rc)
        return clc_internal(r, &err);
    if (!*run.image.mc_ready)
        return clc_error(r, "InvalidParameterValue",
                         "The instance '%s' is not a MacroComponent: only those clone", id);
    run.type = src.instance_type;
    run.key_name = src.key_name;
    run.token = "";
    run.clone_of = src.id;
    run.disable_api_termination = src.disable_api_termination;
    run.ngroups = clc_instance_groups(r->arena, &src, &gids, &gnames);
    if (run.ngroups == 0 || run.ngroups > CLC_MAX_GROUPS)
        return clc_error(r, "InternalError", "The instance '%s' has %zu security groups", id,
                         run.ngroups);
    for (size_t g = 0; g < run.ngroups; g++) {
        run.gids[g] = gids[g];
        run.gnames[g] = gnames[g];
    }
    if (clc_instance_user_data(r->db, r->arena, src.id, &ud, &udlen, &err))
        return clc_internal(r, &err);
    run.user_data = (uint8_t *)ud;
    run.user_data_len = udlen;
    run.has_user_data = ud != NULL;
    if (run_type(r, &run) ||
        run_aux_image(r, "KernelId", src.kernel_id, "kernel", &run.kernel, &run.has_kernel) ||
        run_aux_image(r, "RamdiskId", src.ramdisk_id, "ramdisk", &run.ramdisk,
                      &run.has_ramdisk))
        return CLC_FAILED;
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (clc_cluster_get(r->db, r->arena, src.cluster, &cl, &err))
        return clc_internal(r, &err);
    ids = oc_arena_calloc(r->arena, (size_t)run.max, sizeof(*ids));
    oc_resource_id("r", rid);
    for (long long k = 0; k < run.max; k++)
        oc_resource_id("i", ids[k]);
    if (run_record(r, &run, cl.name, rid, ids, run.max, &token_taken))
        return CLC_FAILED;
    rc = run_send(r, &run, &cl, rid, ids, run.max, &err);
    if (rc == OC_OK)
        return write_reservation(r, rid);
    run_unrecord(r, rid);
    oc_log(OC_LOG_WARN, "CloneInstances of %s: %s", id, err.msg);
    if (rc == OC_ETOOBIG)
        return clc_error(r, "InsufficientInstanceCapacity",
                         "The node of '%s' cannot hold %lld clone(s) of type %s", id, run.max,
                         run.type);
    if (rc == OC_EIO && strstr(err.msg, "InternalError") == NULL)
        return clc_error(r, "Unavailable", "The cluster cannot be reached: %s", err.msg);
    return clc_error(r, "InternalError", "The cluster refused: %s", err.msg);
}

/* ------------------------------------------------------------------ */
/* DescribeInstances */

static const char *const inst_filter_names[] = {
    "instance-id", "instance-state-name", "instance-state-code", "ip-address",
    "private-ip-address", "image-id", "key-name", "instance.group-name", "instance.group-id",
    "group-name", "group-id", "instance-type", "availability-zone", "reservation-id",
    "kernel-id", "ramdisk-id", "dns-name", "private-dns-name", "launch-index", "architecture",
    "root-device-type", "owner-id", "client-token", "launch-time", "state-reason-code",
    "state-reason-message", NULL,
};

struct inst_ctx {
    struct clc_req *r;
    const char **ids;
    size_t nids;
    const char *open_rid;         /* the reservation item left open */
};

static void inst_attr(void *row, const char *name, struct clc_values *vals)
{
    struct clc_instance *in = row;

    if (strcmp(name, "instance-id") == 0)
        clc_values_add(vals, in->id);
    else if (strcmp(name, "instance-state-name") == 0)
        clc_values_add(vals, in->state);
    else if (strcmp(name, "instance-state-code") == 0)
        clc_values_addf(vals, "%d", clc_state_code(in->state));
    else if (strcmp(name, "ip-address") == 0)
        clc_values_add(vals, in->public_ip);
    else if (strcmp(name, "private-ip-address") == 0)
        clc_values_add(vals, in->private_ip);
    else if (strcmp(name, "image-id") == 0)
        clc_values_add(vals, in->image_id);
    else if (strcmp(name, "key-name") == 0)
        clc_values_add(vals, in->key_name);
    else if (strcmp(name, "instance-type") == 0)
        clc_values_add(vals, in->instance_type);
    else if (strcmp(name, "availability-zone") == 0)
        clc_values_add(vals, in->cluster);
    else if (strcmp(name, "reservation-id") == 0)
        clc_values_add(vals, in->reservation_id);
    else if (strcmp(name, "kernel-id") == 0)
        clc_values_add(vals, in->kernel_id);
    else if (strcmp(name, "ramdisk-id") == 0)
        clc_values_add(vals, in->ramdisk_id);
    else if (strcmp(name, "launch-index") == 0)
        clc_values_addf(vals, "%d", in->launch_index);
    else if (strcmp(name, "architecture") == 0)
        clc_values_add(vals, in->architecture);
    else if (strcmp(name, "root-device-type") == 0)
        clc_values_add(vals, in->root_device_type);
    else if (strcmp(name, "owner-id") == 0)
        clc_values_add(vals, in->account_id);
    else if (strcmp(name, "client-token") == 0)
        clc_values_add(vals, in->client_token);
    else if (strcmp(name, "state-reason-message") == 0)
        clc_values_add(vals, in->state_reason);
    else if (strcmp(name, "state-reason-code") == 0) {
        const char *c = strchr(in->state_reason, ':');

        clc_values_add(vals, c ? oc_arena_strndup(vals->arena, in->state_reason,
                                                  (size_t)(c - in->state_reason))
                               : in->state_reason);
    } else if (strcmp(name, "launch-time") == 0) {
        char when[32];

        iso_time(in->launch_time, when, sizeof(when));
        clc_values_add(vals, when);
    } else if (strcmp(name, "dns-name") == 0) {
        clc_values_add(vals, in->public_dns);
    } else if (strcmp(name, "private-dns-name") == 0) {
        clc_values_add(vals, in->private_dns);
    } else {
        /* group-name, group-id, instance.group-* */
        int want_id = strstr(name, "group-id") != NULL;
        const char *p = in->groups;

        while (*p) {
            const char *tab = strchr(p, '\t'), *nl = strchr(p, '\n');
            const char *end = nl ? nl : p + strlen(p);

            if (!tab || tab > end)
                break;
            clc_values_add(vals, want_id ? oc_arena_strndup(vals->arena, p, (size_t)(tab - p))
                                         : oc_arena_strndup(vals->arena, tab + 1,
                                                            (size_t)(end - tab - 1)));
            p = nl ? nl + 1 : end;
        }
    }
}

static const char *inst_id(const void *row)
{
    return ((const struct clc_instance *)row)->id;
}

static int inst_keep(struct clc_req *r, const void *row, void *ctx)
{
    const struct clc_instance *in = row;
    const struct inst_ctx *ic = ctx;

    (void)r;
    return !ic->nids || clc_in_list(in->id, ic->ids, ic->nids);
}

static void close_reservation(struct clc_req *r, struct inst_ctx *ic)
{
    if (!ic->open_rid)
        return;
    oc_xmlw_end(r->xml);   /* instancesSet */
    oc_xmlw_end(r->xml);   /* item */
    ic->open_rid = NULL;
}

static void open_reservation(struct clc_req *r, struct inst_ctx *ic,
                             const struct clc_instance *in)
{
    oc_xmlw_start(r->xml, "item");
    oc_xmlw_elem(r->xml, "reservationId", in->reservation_id);
    oc_xmlw_elem(r->xml, "ownerId", in->account_id);
    clc_instance_groups_write(r, in, 0);
    oc_xmlw_start(r->xml, "instancesSet");
    ic->open_rid = in->reservation_id;
}

static void inst_write(struct clc_req *r, const void *row, const struct clc_tagset *tags,
                       void *ctx)
{
    const struct clc_instance *in = row;
    struct inst_ctx *ic = ctx;

    if (!ic->open_rid || strcmp(ic->open_rid, in->reservation_id) != 0) {
        close_reservation(r, ic);
        open_reservation(r, ic, in);
    }
    clc_instance_write(r, in, tags);
}

static void inst_end(struct clc_req *r, void *ctx)
{
    close_reservation(r, ctx);
}

/* Rows carry their page key (reservation/instance) in a column of their
 * own; the fill keeps it next to the row. */
struct inst_row {
    struct clc_instance in;
    const char *key;
};

static void inst_row_fill(struct oc_arena *a, sqlite3_stmt *st, void *row)
{
    struct inst_row *ir = row;

    inst_fill(a, st, &ir->in);
    ir->key = clc_col_text(a, st, 27);
}

static const char *inst_row_key(const void *row)
{
    return ((const struct inst_row *)row)->key;
}

static int describe_instances(struct clc_req *r)
{
    struct inst_ctx ic = { r, NULL, 0, NULL };
    struct clc_filters *filters = NULL;
    struct clc_page page;
    struct inst_row *rows = NULL;
    size_t nrows = 0;
    struct clc_describe d = {
        .set_name = "reservationSet", .tag_type = "instance",
        .row_size = sizeof(struct inst_row), .id = inst_id, .keep = inst_keep,
        .attr = inst_attr, .write = inst_write, .page_key = inst_row_key, .end = inst_end,
    };

    if (clc_param_list(r, "InstanceId", &ic.ids, &ic.nids) ||
        clc_filters_parse(r, inst_filter_names, &filters) ||
        clc_page_parse(r, 5, 1000, ic.nids > 0, &page))
        return CLC_FAILED;
    for (size_t k = 0; k < ic.nids; k++)
        if (strncmp(ic.ids[k], "i-", 2) != 0 || strlen(ic.ids[k]) < 3)
            return clc_error(r, "InvalidInstanceID.Malformed",
                             "Invalid id: \"%s\" (expecting \"i-...\")", ic.ids[k]);
    if (clc_describe_rows(r, "SELECT " INST_COLS INST_FROM
                             " WHERE i.account_id = ?1 AND i.reservation_id || '/' || i.id > ?2"
                             " ORDER BY i.reservation_id, i.id",
                          page.limited ? page.after : NULL, inst_row_fill, sizeof(*rows),
                          (void **)&rows, &nrows))
        return CLC_FAILED;
    for (size_t k = 0; k < ic.nids; k++) {
        size_t j = 0;

        while (j < nrows && strcmp(rows[j].in.id, ic.ids[k]) != 0)
            j++;
        if (j == nrows)
            return clc_error(r, "InvalidInstanceID.NotFound",
                             "The instance ID '%s' does not exist", ic.ids[k]);
    }
    for (size_t k = 0; k < nrows; k++)
        clc_instance_names(r, &rows[k].in);
    d.rows = rows;
    d.nrows = nrows;
    d.filters = filters;
    d.page = &page;
    return clc_describe_run(r, &d, &ic);
}

static int write_reservation(struct clc_req *r, const char *rid)
{
    struct inst_row *rows = NULL;
    size_t nrows = 0;
    struct clc_tagmap tags;

    if (clc_describe_rows(r, "SELECT " INST_COLS INST_FROM
                             " WHERE i.account_id = ?1 AND i.reservation_id = ?2"
                             " ORDER BY i.launch_index",
                          rid, inst_row_fill, sizeof(*rows), (void **)&rows, &nrows) ||
        clc_tagmap_load(r, "instance", NULL, &tags))
        return CLC_FAILED;
    if (nrows == 0)
        return clc_error(r, "InternalError", "The reservation %s has no instances", rid);
    clc_reply_begin(r);
    /* RunInstances answers the reservation itself, not a set of them. */
    oc_xmlw_elem(r->xml, "reservationId", rows[0].in.reservation_id);
    oc_xmlw_elem(r->xml, "ownerId", rows[0].in.account_id);
    clc_instance_groups_write(r, &rows[0].in, 0);
    oc_xmlw_start(r->xml, "instancesSet");
    for (size_t k = 0; k < nrows; k++) {
        clc_instance_names(r, &rows[k].in);
        clc_instance_write(r, &rows[k].in, clc_tagmap_get(&tags, rows[k].in.id));
    }
    oc_xmlw_end(r->xml);
    return CLC_OK;
}

const struct clc_action clc_instance_actions[] = {
    { "RunInstances", run_instances, CLC_ACTION_CALLS_OUT },
    { "CloneInstances", clone_instances, CLC_ACTION_CALLS_OUT },
    { "DescribeInstances", describe_instances, CLC_ACTION_CACHEABLE },
    { "TerminateInstances", clc_terminate_instances, CLC_ACTION_CALLS_OUT },
    { "StopInstances", clc_stop_instances, CLC_ACTION_CALLS_OUT },
    { "StartInstances", clc_start_instances, CLC_ACTION_CALLS_OUT },
    { "RebootInstances", clc_reboot_instances, CLC_ACTION_CALLS_OUT },
    { "GetConsoleOutput", clc_get_console_output, CLC_ACTION_CALLS_OUT },
    { "DescribeInstanceStatus", clc_describe_instance_status, CLC_ACTION_CACHEABLE },
    { "DescribeInstanceAttribute", clc_describe_instance_attribute, 0 },
    /* instanceType calls the instance's cluster (ccModifyInstance). */
    { "ModifyInstanceAttribute", clc_modify_instance_attribute, CLC_ACTION_CALLS_OUT },
    { NULL, NULL, 0 },
};
