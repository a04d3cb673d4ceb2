/*
 * admin.c - the admin API (Eucalyptus's Empyrean and Properties services,
 * /services/Empyrean and /services/Properties, Version=eucalyptus): the
 * cloud's services and nodes, their registration, tunable properties and
 * the cloud certificate.  Every action is admin-only (AccessDenied for
 * anyone else); answers use the EC2 envelope in Empyrean's namespace.
 *
 *   DescribeServices         the CLC, Walrus, each cluster and each node, with
 *                            a state each (ENABLED, NOTREADY, BROKEN) found
 *                            by asking it now; ByServiceType=, ByPartition=
 *   DescribeNodeControllers  euserv-describe-node-controllers: node, zone,
 *                            state, capacity, the instances on it
 *   RegisterService          Type=cluster (Partition or Name = zone, Host,
 *                            Port) or Type=node (Partition = zone, Name,
 *                            Host, Port; the zone's CC registers it)
 *   DeregisterService        Type, Name (and Partition for a node)
 *   DescribeProperties       Property.N optional; ModifyPropertyValue Name,
 *                            Value (docs/admin.md lists the properties)
 *   GetCloudCertificate      the cloud CA certificate (Overcast extension)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clc/ca.h"
#include "clc/clc.h"
#include "clc/clusters.h"
#include "common/httpc.h"
#include "common/icall.h"
#include "common/xml.h"

#define WALRUS_DEFAULT "http://127.0.0.1:8780"

/* ------------------------------------------------------------------ */
/* services */

struct svc_filter {
    const char *type;             /* ByServiceType, or NULL */
    const char *partition;        /* ByPartition, or NULL */
};

static int svc_wanted(const struct svc_filter *f, const char *type, const char *partition)
{
    return (!f->type || strcasecmp(f->type, type) == 0) &&
           (!f->partition || strcmp(f->partition, partition) == 0);
}

static void svc_item(struct clc_req *r, const char *partition, const char *name,
                     const char *type, const char *uri, const char *state, const char *details)
{
    struct oc_xmlw *w = r->xml;

    oc_xmlw_start(w, "item");
    oc_xmlw_start(w, "serviceId");
    oc_xmlw_elem(w, "partition", partition);
    oc_xmlw_elem(w, "name", name);
    oc_xmlw_elem(w, "type", type);
    oc_xmlw_elem(w, "fullName", oc_arena_printf(r->arena, "arn:euca:eucalyptus:%s:%s:%s/",
                                                partition, type, name));
    oc_xmlw_elem(w, "uri", uri);
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "localState", state);
    oc_xmlw_elem(w, "localEpoch", "0");
    oc_xmlw_start(w, "details");
    if (details && *details) {
        oc_xmlw_start(w, "item");
        oc_xmlw_elem(w, "severity", "ERROR");
        oc_xmlw_elem(w, "message", details);
        oc_xmlw_end(w);
    }
    oc_xmlw_end(w);
    oc_xmlw_end(w);
}

/* Whether Walrus answers HTTP at all (any status), with the reason if not. */
static int walrus_up(struct clc_req *r, const char *url, const char **why)
{
    struct oc_httpc_config cfg = { .endpoint = url, .timeout_ms = 5000 };
    struct oc_httpc *hc = NULL;
    struct oc_httpc_resp resp = { 0 };
    struct oc_err err = { 0 };
    int rc = oc_httpc_new(&cfg, &hc, &err);

    if (rc == OC_OK)
        rc = oc_httpc_request(hc, "GET", "s3", "/", NULL, NULL, 0, -1, &resp, &err);
    oc_httpc_resp_free(&resp);
    oc_httpc_free(hc);
    if (rc)
        *why = oc_arena_strdup(r->arena, err.msg);
    return rc == OC_OK;
}

/* The clusters, each with its ccDescribeNodes answer (doc NULL when the
 * CC did not answer; why says so). */
struct cluster_view {
    struct clc_cluster cl;
    struct oc_icall ans;
    int up;
    const char *why;
};

static int clusters_view(struct clc_req *r, const char *only, struct cluster_view **out,
                         size_t *n)
{
    struct clc_cluster *cls;
    struct oc_err err = { 0 };
    size_t ncls;
    struct cluster_view *v;

    if (clc_clusters_list(r->db, r->arena, &cls, &ncls, &err))
        return clc_internal(r, &err);
    v = oc_arena_calloc(r->arena, ncls ? ncls : 1, sizeof(*v));
    if (!v)
        return clc_internal(r, NULL);
    *n = 0;
    for (size_t i = 0; i < ncls; i++) {
        struct cluster_view *cv = &v[*n];

        if (only && strcmp(only, cls[i].name) != 0)
            continue;
        cv->cl = cls[i];
        memset(&err, 0, sizeof(err));
        cv->up = clc_cc_call(clc_of(r), &cv->cl, "ccDescribeNodes", NULL, 0, &cv->ans, NULL,
                             &err) == OC_OK;
        if (!cv->up)
            cv->why = oc_arena_strdup(r->arena, err.msg);
        (*n)++;
    }
    *out = v;
    return CLC_OK;
}

static void clusters_free(struct cluster_view *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].up)
            oc_icall_free(&v[i].ans);
}

static xmlNodePtr first_node(struct cluster_view *cv)
{
    xmlNodePtr set = cv->up ? oc_xml_child(cv->ans.root, "nodeSet") : NULL;

    return set ? oc_xml_child(set, "item") : NULL;
}

static int admin_describe_services(struct clc_req *r)
{
    struct svc_filter f = { clc_param(r, "ByServiceType"), clc_param(r, "ByPartition") };
    const char *region = clc_conf(r, "REGION", "us-east-1");
    const char *walrus = clc_conf(r, "WALRUS_URL", WALRUS_DEFAULT);
    const char *host = clc_conf(r, "CLC_PUBLIC_HOST", "127.0.0.1");
    const char *port = clc_conf(r, "CLC_PORT", "8773");
    struct cluster_view *v = NULL;
    size_t n = 0;

    if (clusters_view(r, NULL, &v, &n) != CLC_OK)
        return CLC_FAILED;
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, "serviceStatuses");
    if (svc_wanted(&f, "cloud", region))
        svc_item(r, region, "clc", "cloud",
                 oc_arena_printf(r->arena, "http://%s:%s/services/compute", host, port),
                 "ENABLED", NULL);
    if (svc_wanted(&f, "walrus", region)) {
        const char *why = NULL;
        int up = walrus_up(r, walrus, &why);

        svc_item(r, region, "walrus", "walrus", walrus, up ? "ENABLED" : "BROKEN", why);
    }
    for (size_t i = 0; i < n; i++) {
        struct cluster_view *cv = &v[i];

        if (svc_wanted(&f, "cluster", cv->cl.name))
            svc_item(r, cv->cl.name, cv->cl.name, "cluster", cv->cl.endpoint,
                     cv->up ? "ENABLED" : "NOTREADY", cv->why);
        for (xmlNodePtr it = first_node(cv); it; it = oc_xml_next(it, "item")) {
            char name[128], nhost[256], nport[16], state[16];

            oc_icall_text(it, "nodeName", name, sizeof(name));
            oc_icall_text(it, "host", nhost, sizeof(nhost));
            oc_icall_text(it, "port", nport, sizeof(nport));
            oc_icall_text(it, "state", state, sizeof(state));
            if (!svc_wanted(&f, "node", cv->cl.name))
                continue;
            svc_item(r, cv->cl.name, name, "node",
                     oc_arena_printf(r->arena, "http://%s:%s/", nhost, nport),
                     strcmp(state, "up") == 0 ? "ENABLED" : "NOTREADY",
                     strcmp(state, "up") == 0 ? NULL : "the node does not answer its cluster");
        }
    }
    oc_xmlw_end(r->xml);
    clusters_free(v, n);
    return CLC_OK;
}

/* The ids of the live instances clc.db places on node of cluster. */
static int node_instances(struct clc_req *r, const char *cluster, const char *node)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT id FROM instances WHERE cluster = ?"
                                            " AND node = ? AND state <> 'terminated'"
                                            " ORDER BY id", &err);
    int rc;

    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
    oc_xmlw_start(r->xml, "instances");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        oc_xmlw_start(r->xml, "item");
        oc_xmlw_elem(r->xml, "instanceId", (const char *)sqlite3_column_text(st, 0));
        oc_xmlw_end(r->xml);
    }
    oc_xmlw_end(r->xml);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "list a node's instances");
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

static int admin_describe_nodes(struct clc_req *r)
{
    static const char *const copied[] = {
        "hypervisor", "coresTotal", "coresFree", "memoryTotalMiB", "memoryFreeMiB",
        "diskTotalGiB", "diskFreeGiB", "instanceCount",
    };
    struct cluster_view *v = NULL;
    size_t n = 0;
    int rc = CLC_OK;

    if (clusters_view(r, clc_param(r, "ByPartition"), &v, &n) != CLC_OK)
        return CLC_FAILED;
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, "nodeControllers");
    for (size_t i = 0; i < n && rc == CLC_OK; i++) {
        for (xmlNodePtr it = first_node(&v[i]); it && rc == CLC_OK;
             it = oc_xml_next(it, "item")) {
            char name[128], buf[256];

            oc_icall_text(it, "nodeName", name, sizeof(name));
            oc_xmlw_start(r->xml, "item");
            oc_xmlw_elem(r->xml, "partition", v[i].cl.name);
            oc_xmlw_elem(r->xml, "name", name);
            oc_icall_text(it, "host", buf, sizeof(buf));
            oc_xmlw_elem(r->xml, "hostName", buf);
            oc_icall_text(it, "port", buf, sizeof(buf));
            oc_xmlw_elem(r->xml, "port", buf);
            oc_icall_text(it, "state", buf, sizeof(buf));
            oc_xmlw_elem(r->xml, "state", strcmp(buf, "up") == 0 ? "ENABLED" : "NOTREADY");
            for (size_t k = 0; k < sizeof(copied) / sizeof(copied[0]); k++) {
                oc_icall_text(it, copied[k], buf, sizeof(buf));
                oc_xmlw_elem(r->xml, copied[k], buf);
            }
            rc = node_instances(r, v[i].cl.name, name);
            oc_xmlw_end(r->xml);
        }
    }
    oc_xmlw_end(r->xml);
    clusters_free(v, n);
    return rc;
}

/* ------------------------------------------------------------------ */
/* registration */

static int cc_call_simple(struct clc_req *r, const char *zone, const char *action,
                          const struct oc_kv *p, size_t np)
{
    struct clc_cluster cl;
    struct oc_icall ans;
    struct oc_err err = { 0 };
    char code[64];
    int rc = clc_cluster_get(r->db, r->arena, zone, &cl, &err);

    if (rc == OC_ENOTFOUND)
        return clc_error(r, "InvalidParameterValue", "No cluster is registered for the "
                         "partition '%s'.", zone);
    if (rc)
        return clc_internal(r, &err);
    rc = clc_cc_call(clc_of(r), &cl, action, p, np, &ans, code, &err);
    if (rc == OC_OK) {
        oc_icall_free(&ans);
        return CLC_OK;
    }
    if (rc == OC_EIO)
        return clc_error(r, "ServiceUnavailable", "%s", err.msg);
    return clc_error(r, code[0] ? code : "InvalidParameterValue", "%s", err.msg);
}

static int admin_register_service(struct clc_req *r)
{
    const char *type, *name = clc_param(r, "Name"), *part = clc_param(r, "Partition");
    const char *host;
    long long port;
    struct oc_err err = { 0 };

    if (clc_param_required(r, "Type", &type) || clc_param_required(r, "Host", &host))
        return CLC_FAILED;
    if (strcasecmp(type, "cluster") == 0) {
        const char *zone = part && *part ? part : name;

        if (!zone || !*zone)
            return clc_error(r, "MissingParameter", "The request must contain the parameter "
                             "Partition (the cluster's zone)");
        if (clc_param_int(r, "Port", 1, 65535, 8774, &port))
            return CLC_FAILED;
        if (clc_dry_run(r))
            return CLC_FAILED;
        if (clc_cluster_register(r->db, zone, host, (int)port, &err))
            return err.code == OC_EINVAL ? clc_error(r, "InvalidParameterValue", "%s", err.msg)
                                         : clc_internal(r, &err);
        return clc_reply_return_true(r);
    }
    if (strcasecmp(type, "node") == 0) {
        char portbuf[16];
        struct oc_kv p[3];

        if (!part || !*part || !name || !*name)
            return clc_error(r, "MissingParameter", "A node needs Partition (its cluster's "
                             "zone) and Name");
        if (clc_param_int(r, "Port", 1, 65535, 8775, &port))
            return CLC_FAILED;
        if (clc_dry_run(r))
            return CLC_FAILED;
        snprintf(portbuf, sizeof(portbuf), "%lld", port);
        p[0] = (struct oc_kv){ "NodeName", name, 1 };
        p[1] = (struct oc_kv){ "Host", host, 1 };
        p[2] = (struct oc_kv){ "Port", portbuf, 1 };
        if (cc_call_simple(r, part, "ccRegisterNode", p, 3) != CLC_OK)
            return CLC_FAILED;
        return clc_reply_return_true(r);
    }
    return clc_error(r, "InvalidParameterValue", "Type must be cluster or node, not '%s'.",
                     type);
}

static int admin_deregister_service(struct clc_req *r)
{
    const char *type, *name, *part = clc_param(r, "Partition");
    struct oc_err err = { 0 };

    if (clc_param_required(r, "Type", &type) || clc_param_required(r, "Name", &name))
        return CLC_FAILED;
    if (strcasecmp(type, "cluster") == 0) {
        long long live = 0;
        sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT count(*) FROM instances WHERE"
                                                " cluster = ? AND state <> 'terminated'", &err);

        if (!st)
            return clc_internal(r, &err);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            live = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (live > 0)
            return clc_error(r, "InvalidParameterValue", "The cluster '%s' still has %lld "
                             "instances; terminate them first.", name, live);
        if (clc_dry_run(r))
            return CLC_FAILED;
        if (clc_cluster_deregister(r->db, name, &err))
            return err.code == OC_ENOTFOUND
                       ? clc_error(r, "InvalidParameterValue", "No cluster is registered "
                                   "for the partition '%s'.", name)
                       : clc_internal(r, &err);
        return clc_reply_return_true(r);
    }
    if (strcasecmp(type, "node") == 0) {
        struct oc_kv p[1] = { { "NodeName", name, 1 } };

        if (!part || !*part)
            return clc_error(r, "MissingParameter", "The request must contain the parameter "
                             "Partition (the node's zone)");
        if (clc_dry_run(r))
            return CLC_FAILED;
        if (cc_call_simple(r, part, "ccDeregisterNode", p, 1) != CLC_OK)
            return CLC_FAILED;
        return clc_reply_return_true(r);
    }
    return clc_error(r, "InvalidParameterValue", "Type must be cluster or node, not '%s'.",
                     type);
}

/* ------------------------------------------------------------------ */
/* properties
 *
 *   cloud.vmtypes.<type>.cpu|memory|disk   the instance_types table: new
 *                                          launches use it at once
 *   <zone>.cluster.schedulingpolicy        GREEDY, ROUNDROBIN, POWERSAVE:
 *                                          the zone's CC switches at once
 *                                          and keeps it across restarts
 *   <zone>.node.imagecachesize             MiB of every node's image cache:
 *                                          the CC sends it to its nodes at
 *                                          once and to any that restarts
 */

struct prop {
    const char *name, *value, *description;
};

struct prop_list {
    struct prop *v;
    size_t n, cap;
};

static void prop_add(struct clc_req *r, struct prop_list *l, const char *name,
                     const char *value, const char *description)
{
    if (l->n == l->cap) {
        struct prop *nv = oc_arena_calloc(r->arena, l->cap ? 2 * l->cap : 16, sizeof(*nv));

        if (!nv)
            return;
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof(*nv));
        l->v = nv;
        l->cap = l->cap ? 2 * l->cap : 16;
    }
    l->v[l->n++] = (struct prop){ name, value, description };
}

static const struct {
    const char *suffix, *column, *what;
} vm_fields[] = {
    { "cpu", "vcpus", "virtual CPUs" },
    { "memory", "memory_mib", "memory in MiB" },
    { "disk", "disk_gib", "root disk in GiB" },
};

/* The nodes' image cache limits: one number when they agree, else
 * "node=MiB" for each. */
static const char *cache_sizes(struct clc_req *r, struct cluster_view *cv)
{
    const char *one = NULL, *all = "";
    int same = 1;

    for (xmlNodePtr it = first_node(cv); it; it = oc_xml_next(it, "item")) {
        char name[128], mb[32];

        oc_icall_text(it, "nodeName", name, sizeof(name));
        oc_icall_text(it, "cacheMaxMiB", mb, sizeof(mb));
        if (one && strcmp(one, mb) != 0)
            same = 0;
        if (!one)
            one = oc_arena_strdup(r->arena, mb);
        all = oc_arena_printf(r->arena, "%s%s%s=%s", all, *all ? "," : "", name, mb);
    }
    return !one ? "(no nodes)" : same ? one : all;
}

static int props_collect(struct clc_req *r, struct prop_list *l)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT name, vcpus, memory_mib, disk_gib FROM"
                                            " instance_types ORDER BY ord, name", &err);
    struct cluster_view *v = NULL;
    size_t n = 0;
    int rc;

    if (!st)
        return clc_internal(r, &err);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 0));

        for (int k = 0; k < 3; k++)
            prop_add(r, l, oc_arena_printf(r->arena, "cloud.vmtypes.%s.%s", type,
                                           vm_fields[k].suffix),
                     oc_arena_printf(r->arena, "%lld",
                                     (long long)sqlite3_column_int64(st, k + 1)),
                     oc_arena_printf(r->arena, "%s of instance type %s", vm_fields[k].what,
                                     type));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "list instance types");
        return clc_internal(r, &err);
    }
    if (clusters_view(r, NULL, &v, &n) != CLC_OK)
        return CLC_FAILED;
    for (size_t i = 0; i < n; i++) {
        char policy[32] = "";

        if (v[i].up)
            oc_icall_text(v[i].ans.root, "schedPolicy", policy, sizeof(policy));
        prop_add(r, l, oc_arena_printf(r->arena, "%s.cluster.schedulingpolicy", v[i].cl.name),
                 v[i].up ? oc_arena_strdup(r->arena, policy) : "(cluster not reachable)",
                 "placement policy of the zone's cluster: GREEDY, ROUNDROBIN or POWERSAVE");
        prop_add(r, l, oc_arena_printf(r->arena, "%s.node.imagecachesize", v[i].cl.name),
                 v[i].up ? cache_sizes(r, &v[i]) : "(cluster not reachable)",
                 "MiB of each node's image cache (the nodes' own values, as they report "
                 "them)");
    }
    clusters_free(v, n);
    return CLC_OK;
}

static int admin_describe_properties(struct clc_req *r)
{
    struct prop_list l = { 0 };
    const char **want;
    size_t nwant;

    if (clc_param_list(r, "Property", &want, &nwant) || props_collect(r, &l) != CLC_OK)
        return CLC_FAILED;
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, "properties");
    for (size_t i = 0; i < l.n; i++) {
        int keep = nwant == 0;

        /* A name or a prefix of names ("cloud.vmtypes"), as euctl takes. */
        for (size_t k = 0; k < nwant && !keep; k++) {
            size_t wl = strlen(want[k]);

            keep = strncmp(l.v[i].name, want[k], wl) == 0 &&
                   (l.v[i].name[wl] == '\0' || l.v[i].name[wl] == '.');
        }
        if (!keep)
            continue;
        oc_xmlw_start(r->xml, "item");
        oc_xmlw_elem(r->xml, "name", l.v[i].name);
        oc_xmlw_elem(r->xml, "value", l.v[i].value);
        oc_xmlw_elem(r->xml, "description", l.v[i].description);
        oc_xmlw_end(r->xml);
    }
    oc_xmlw_end(r->xml);
    return CLC_OK;
}

static int set_vmtype(struct clc_req *r, const char *type, const char *field, const char *value,
                      const char *old)
{
    struct oc_err err = { 0 };
    char *end;
    long long v = strtoll(value, &end, 10);
    long long max = strcmp(field, "memory") == 0 ? 1LL << 22 : strcmp(field, "cpu") == 0 ? 256
                                                                                        : 65536;
    int changes = 0, rc;

    if (!*value || *end || v < 1 || v > max)
        return clc_error(r, "InvalidParameterValue", "The value of cloud.vmtypes.%s.%s must "
                         "be a whole number from 1 to %lld.", type, field, max);
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (strcmp(field, "cpu") == 0)
        rc = oc_db_run(r->db, "UPDATE instance_types SET vcpus = ?2 WHERE name = ?1", &changes,
                       &err, "si", type, v);
    else if (strcmp(field, "memory") == 0)
        rc = oc_db_run(r->db, "UPDATE instance_types SET memory_mib = ?2 WHERE name = ?1",
                       &changes, &err, "si", type, v);
    else
        rc = oc_db_run(r->db, "UPDATE instance_types SET disk_gib = ?2 WHERE name = ?1",
                       &changes, &err, "si", type, v);
    if (rc)
        return clc_internal(r, &err);
    clc_reply_begin(r);
    oc_xmlw_elem(r->xml, "name", oc_arena_printf(r->arena, "cloud.vmtypes.%s.%s", type, field));
    oc_xmlw_elem(r->xml, "value", value);
    oc_xmlw_elem(r->xml, "oldValue", old);
    return CLC_OK;
}

/* A property of the zone that name starts with (zone_len characters),
 * set on its CC as cc_name (ccSetProperty); answers as ModifyPropertyValue. */
static int set_cc_property(struct clc_req *r, const char *name, size_t zone_len,
                           const char *cc_name, const char *value, const char *old)
{
    const char *zone = oc_arena_strndup(r->arena, name, zone_len);
    struct oc_kv p[2] = { { "Name", cc_name, 1 }, { "Value", value, 1 } };

    if (clc_dry_run(r) || cc_call_simple(r, zone, "ccSetProperty", p, 2) != CLC_OK)
        return CLC_FAILED;
    clc_reply_begin(r);
    oc_xmlw_elem(r->xml, "name", name);
    oc_xmlw_elem(r->xml, "value", value);
    oc_xmlw_elem(r->xml, "oldValue", old);
    return CLC_OK;
}

static int admin_modify_property(struct clc_req *r)
{
    struct prop_list l = { 0 };
    const char *name, *value, *old = NULL;
    const char *dot;

    if (clc_param_required(r, "Name", &name) || clc_param_required(r, "Value", &value) ||
        props_collect(r, &l) != CLC_OK)
        return CLC_FAILED;
    for (size_t i = 0; i < l.n && !old; i++)
        if (strcmp(l.v[i].name, name) == 0)
            old = l.v[i].value;
    if (!old)
        return clc_error(r, "InvalidParameterValue", "No property is named '%s'.", name);
    if (strncmp(name, "cloud.vmtypes.", 14) == 0) {
        const char *type = name + 14;

        dot = strrchr(type, '.');
        return set_vmtype(r, oc_arena_strndup(r->arena, type, (size_t)(dot - type)), dot + 1,
                          value, old);
    }
    dot = strstr(name, ".cluster.schedulingpolicy");
    if (dot && dot[25] == '\0') {
        if (strcmp(value, "GREEDY") != 0 && strcmp(value, "ROUNDROBIN") != 0 &&
            strcmp(value, "POWERSAVE") != 0)
            return clc_error(r, "InvalidParameterValue", "A scheduling policy is GREEDY, "
                             "ROUNDROBIN or POWERSAVE.");
        return set_cc_property(r, name, (size_t)(dot - name), "SCHEDPOLICY", value, old);
    }
    dot = strstr(name, ".node.imagecachesize");
    if (dot && dot[20] == '\0') {
        char *end;
        long long mb = strtoll(value, &end, 10);

        if (!*value || *end || mb < 1 || mb > (1LL << 40))
            return clc_error(r, "InvalidParameterValue", "The image cache size is a whole "
                             "number of MiB, at least 1.");
        return set_cc_property(r, name, (size_t)(dot - name), "NC_CACHE_MAX_MB", value, old);
    }
    return clc_error(r, "InvalidParameterValue", "The property '%s' cannot be changed.", name);
}

/* ------------------------------------------------------------------ */

static int admin_cloud_certificate(struct clc_req *r)
{
    struct oc_err err = { 0 };
    char *pem = NULL;

    if (clc_ca_cert(clc_home(r), &pem, &err))
        return clc_internal(r, &err);
    oc_xmlw_elem(clc_reply_begin(r), "certificate", pem);
    free(pem);
    return CLC_OK;
}

#define ADMIN CLC_ACTION_ADMIN
#define ADMIN_OUT (CLC_ACTION_ADMIN | CLC_ACTION_CALLS_OUT)

const struct clc_action clc_admin_actions[] = {
    { "DescribeServices", admin_describe_services, ADMIN_OUT },
    { "DescribeNodeControllers", admin_describe_nodes, ADMIN_OUT },
    { "RegisterService", admin_register_service, ADMIN_OUT },
    { "DeregisterService", admin_deregister_service, ADMIN_OUT },
    { "DescribeProperties", admin_describe_properties, ADMIN_OUT },
    { "ModifyPropertyValue", admin_modify_property, ADMIN_OUT },
    { "GetCloudCertificate", admin_cloud_certificate, ADMIN },
    { NULL, NULL, 0 },
};
