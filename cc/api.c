/*
 * api.c - the cluster controller's internal Query API (docs/cc.md), on
 * common/qsrv: cc* actions from its CLC's key, ccNodeEvent from its nodes'.
 */
#include "cc/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static struct cc_api *api_of(struct oc_qsrv_req *r)
{
    return r->ctx;
}

static int is_node(const struct cc_api *a, const struct oc_principal *who)
{
    return who->is_admin && strcmp(who->user_name, a->nc_user) == 0;
}

static int is_clc(const struct cc_api *a, const struct oc_principal *who)
{
    if (a->clc_access_key[0])
        return strcmp(who->access_key_id, a->clc_access_key) == 0;
    return who->is_admin && strcmp(who->user_name, a->clc_user) == 0;
}

int cc_api_authorize(void *ctx, const struct oc_principal *who)
{
    struct cc_api *a = ctx;

    return who->active && (is_clc(a, who) || is_node(a, who)) ? OC_OK : OC_EPERM;
}

/* Every action but ccNodeEvent is the CLC's. */
/* Makes the data plane what the state now says, before the answer: a rule
 * or an address is live when the call returns.  When that fails the state
 * is kept (the periodic sync retries) and the caller hears why. */
static int applied(struct oc_qsrv_req *r)
{
    struct oc_err err = { 0 };

    if (api_of(r)->dp && cc_dataplane_sync(api_of(r)->dp, &err) != OC_OK)
        return oc_qsrv_error(r, "InternalError", "recorded, but the data plane failed: %s",
                             err.msg);
    return OC_OK;
}

static int clc_only(struct oc_qsrv_req *r)
{
    if (is_clc(api_of(r), &r->who))
        return OC_OK;
    return oc_qsrv_error(r, "AccessDenied", "Only the cloud controller may call %s", r->action);
}


static int image(struct oc_qsrv_req *r, const char *pfx, struct cc_image *im, int required)
{
    return oc_qsrv_image(r, pfx, im->id, sizeof(im->id), im->location, sizeof(im->location),
                         im->digest, sizeof(im->digest), required);
}

static void instance_item(struct oc_xmlw *w, const struct cc_instance_info *i)
{
    oc_xmlw_start(w, "item");
    oc_xmlw_elem(w, "instanceId", i->id);
    oc_xmlw_elem(w, "reservationId", i->reservation_id);
    oc_xmlw_elem(w, "ownerId", i->owner_id);
    oc_xmlw_elemf(w, "launchIndex", "%u", i->launch_index);
    oc_xmlw_elem(w, "instanceType", i->instance_type);
    oc_xmlw_elem(w, "imageId", i->image_id);
    oc_xmlw_elem(w, "groupId", i->group_id);
    oc_xmlw_start(w, "groupSet");
    for (unsigned k = 0; k < i->ngroups; k++) {
        oc_xmlw_start(w, "item");
        oc_xmlw_elem(w, "groupId", i->groups[k]);
        oc_xmlw_end(w);
    }
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "node", i->node);
    oc_xmlw_elem(w, "nodeState", i->node_up ? "up" : "down");
    oc_xmlw_elem(w, "macAddress", i->mac);
    oc_xmlw_elem(w, "privateIpAddress", i->private_ip);
    oc_xmlw_elem(w, "ipAddress", i->public_ip);
    oc_xmlw_elem(w, "state", i->state);
    oc_xmlw_elem(w, "stateReason", i->state_reason);
    oc_xmlw_elemf(w, "launchTime", "%lld", (long long)i->launch_time);
    oc_xmlw_end(w);
}

static int valid_group_id(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n < CC_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* GroupId.N (N = 1..5, the first decides the network) or GroupId (one
 * group): into req->group_id and req->groups. */
static int run_groups(struct oc_qsrv_req *r, struct cc_run_request *req)
{
    const char *one = oc_query_get(r->params, "GroupId");
    const char **ids = NULL;
    size_t n = 0;
    struct oc_err err = { 0 };

    if (oc_query_list(r->arena, r->params, "GroupId", &ids, &n, &err) != OC_OK)
        return oc_qsrv_error(r, "InvalidParameterValue", "%s", err.msg);
    if (one && n)
        return oc_qsrv_error(r, "InvalidParameterCombination",
                             "GroupId and GroupId.N cannot both be given");
    if (!one && !n)
        return oc_qsrv_error(r, "MissingParameter", "The request must contain GroupId.1");
    if (one) {
        ids = &one;
        n = 1;
    }
    if (n > CC_MAX_GROUPS)
        return oc_qsrv_error(r, "SecurityGroupsPerInstanceLimitExceeded",
                             "An instance may be in at most %d security groups", CC_MAX_GROUPS);
    for (size_t k = 0; k < n; k++) {
        if (!valid_group_id(ids[k]))
            return oc_qsrv_error(r, "InvalidParameterValue", "GroupId is malformed");
        for (size_t j = 0; j < k; j++)
            if (strcmp(ids[j], ids[k]) == 0)
                return oc_qsrv_error(r, "InvalidParameterValue",
                                     "Security group %s is named twice", ids[k]);
        snprintf(req->groups[k], sizeof(req->groups[k]), "%s", ids[k]);
    }
    req->ngroups = n;
    snprintf(req->group_id, sizeof(req->group_id), "%s", ids[0]);
    return OC_OK;
}

static int cc_run_instances(struct oc_qsrv_req *r)
{
    struct cc_run_request req = { 0 };
    struct cc_instance_info *out;
    struct oc_err err = { 0 };
    struct oc_xmlw *w;
    long long v[6];
    int rc;

    if (clc_only(r) || oc_qsrv_copy(r, "ReservationId", req.reservation_id,
                            sizeof(req.reservation_id), 1) ||
        oc_qsrv_copy(r, "OwnerId", req.owner_id, sizeof(req.owner_id), 0) ||
        oc_qsrv_copy(r, "InstanceType", req.instance_type, sizeof(req.instance_type), 1) ||
        run_groups(r, &req) || !oc_qsrv_need(r, "VCpus") ||
        oc_qsrv_uint(r, "VCpus", 1, 1, 64, &v[0]) ||
        !oc_qsrv_need(r, "MemoryMiB") ||
        oc_qsrv_uint(r, "MemoryMiB", 256, 32, 1024 * 1024, &v[1]) ||
        !oc_qsrv_need(r, "DiskGiB") || oc_qsrv_uint(r, "DiskGiB", 1, 1, 16384, &v[2]) ||
        oc_qsrv_uint(r, "EphemeralGiB", 0, 0, 16384, &v[3]) ||
        oc_qsrv_uint(r, "SwapMiB", 0, 0, 1024 * 1024, &v[4]) ||
        oc_qsrv_uint(r, "LaunchIndex", 0, 0, 100000, &v[5]) ||
        image(r, "Image", &req.image, 1) || image(r, "Kernel", &req.kernel, 0) ||
        image(r, "Ramdisk", &req.ramdisk, 0) ||
        oc_qsrv_copy(r, "MacroComponentReady", req.mc_ready, sizeof(req.mc_ready), 0) ||
        oc_qsrv_copy(r, "CloneOf", req.clone_of, sizeof(req.clone_of), 0))
        return OC_EINVAL;
    if (oc_query_list(r->arena, r->params, "InstanceId", &req.ids, &req.n, &err) != OC_OK)
        return oc_qsrv_error(r, "InvalidParameterValue", "%s", err.msg);
    if (req.n == 0)
        return oc_qsrv_error(r, "MissingParameter", "The request must contain InstanceId.1");
    if (req.n > 1000)
        return oc_qsrv_error(r, "InvalidParameterValue", "At most 1000 instances at once");
    req.vcpus = (unsigned)v[0];
    req.mem_mb = (unsigned)v[1];
    req.disk_gb = (unsigned)v[2];
    req.ephemeral_gb = (unsigned)v[3];
    req.swap_mb = (unsigned)v[4];
    req.launch_index = (unsigned)v[5];
    out = oc_arena_calloc(r->arena, req.n, sizeof(*out));
    if (!out)
        return oc_qsrv_error(r, "InternalError", "out of memory");
    if ((rc = cc_run(api_of(r)->cluster, &req, out, &err)))
        return oc_qsrv_fail(r, rc, &err);
    if ((rc = applied(r)))
        return rc;
    w = oc_qsrv_reply(r);
    oc_xmlw_start(w, "instancesSet");
    for (size_t k = 0; k < req.n; k++)
        instance_item(w, &out[k]);
    oc_xmlw_end(w);
    return OC_OK;
}

static int each_instance(struct oc_qsrv_req *r, enum cc_op op)
{
    const char **ids = NULL;
    size_t n = 0;
    struct oc_err err = { 0 };
    struct oc_xmlw *w;

    if (clc_only(r))
        return OC_EINVAL;
    if (oc_query_list(r->arena, r->params, "InstanceId", &ids, &n, &err) != OC_OK)
        return oc_qsrv_error(r, "InvalidParameterValue", "%s", err.msg);
    if (n == 0)
        return oc_qsrv_error(r, "MissingParameter", "The request must contain InstanceId.1");
    w = oc_qsrv_reply(r);
    oc_xmlw_start(w, "instancesSet");
    for (size_t k = 0; k < n; k++) {
        char prev[16] = "", cur[16] = "";
        int rc = cc_instance_op(api_of(r)->cluster, op, ids[k], prev, cur, &err);

        oc_xmlw_start(w, "item");
        oc_xmlw_elem(w, "instanceId", ids[k]);
        if (rc) {
            /* One instance's failure does not hide the others' results. */
            oc_xmlw_elem(w, "error", err.msg);
            if (rc == OC_ETOOBIG)
                oc_xmlw_elem(w, "errorCode", "InsufficientInstanceCapacity");
        } else {
            oc_xmlw_elem(w, "previousState", prev);
            oc_xmlw_elem(w, "currentState", cur);
        }
        oc_xmlw_end(w);
    }
    oc_xmlw_end(w);
    if (op == CC_OP_TERMINATE && api_of(r)->dp &&
        cc_dataplane_sync(api_of(r)->dp, &err) != OC_OK)
        oc_log(OC_LOG_WARN, "data plane after terminating: %s", err.msg);
    return OC_OK;
}

static int cc_terminate(struct oc_qsrv_req *r)
{
    return each_instance(r, CC_OP_TERMINATE);
}

static int cc_stop(struct oc_qsrv_req *r)
{
    return each_instance(r, CC_OP_STOP);
}

static int cc_start(struct oc_qsrv_req *r)
{
    return each_instance(r, CC_OP_START);
}

static int cc_reboot(struct oc_qsrv_req *r)
{
    return each_instance(r, CC_OP_REBOOT);
}

static int cc_describe_instances(struct oc_qsrv_req *r)
{
    struct cc_instance_info *all = NULL;
    const char **ids = NULL;
    size_t n = 0, nids = 0;
    struct oc_err err = { 0 };
    struct oc_xmlw *w;

    if (clc_only(r))
        return OC_EINVAL;
    if (oc_query_list(r->arena, r->params, "InstanceId", &ids, &nids, &err) != OC_OK)
        return oc_qsrv_error(r, "InvalidParameterValue", "%s", err.msg);
    if (cc_instances(api_of(r)->cluster, &all, &n) != OC_OK)
        return oc_qsrv_error(r, "InternalError", "out of memory");
    {
        struct cc_eip *eips = NULL;
        size_t ne = 0;

        /* Elastic IPs live in netstate: join them in. */
        if (cc_netstate_eips(api_of(r)->net, &eips, &ne, &err) == OC_OK)
            for (size_t e = 0; e < ne; e++)
                for (size_t k = 0; eips[e].instance_id[0] && k < n; k++)
                    if (strcmp(all[k].id, eips[e].instance_id) == 0)
                        snprintf(all[k].public_ip, sizeof(all[k].public_ip), "%s",
                                 eips[e].public_ip);
        free(eips);
    }
    w = oc_qsrv_reply(r);
    oc_xmlw_start(w, "instancesSet");
    for (size_t k = 0; k < n; k++) {
        int want = nids == 0;

        for (size_t j = 0; j < nids && !want; j++)
            want = strcmp(ids[j], all[k].id) == 0;
        if (want)
            instance_item(w, &all[k]);
    }
    oc_xmlw_end(w);
    free(all);
    return OC_OK;
}

static void node_item(struct oc_xmlw *w, const struct cc_node_info *nd)
{
    oc_xmlw_start(w, "item");
    oc_xmlw_elem(w, "nodeName", nd->name);
    oc_xmlw_elem(w, "host", nd->host);
    oc_xmlw_elemf(w, "port", "%u", nd->port);
    oc_xmlw_elem(w, "state", nd->up ? "up" : "down");
    oc_xmlw_elem(w, "hypervisor", nd->hypervisor);
    oc_xmlw_elemf(w, "coresTotal", "%u", nd->cores_total);
    oc_xmlw_elemf(w, "coresFree", "%u", nd->cores_free);
    oc_xmlw_elem_u64(w, "memoryTotalMiB", nd->mem_total_mb);
    oc_xmlw_elem_u64(w, "memoryFreeMiB", nd->mem_free_mb);
    oc_xmlw_elem_u64(w, "diskTotalGiB", nd->disk_total_gb);
    oc_xmlw_elem_u64(w, "diskFreeGiB", nd->disk_free_gb);
    oc_xmlw_elemf(w, "instanceCount", "%u", nd->instances);
    oc_xmlw_elem_u64(w, "cacheMaxMiB", nd->cache_max_mb);
    oc_xmlw_elem_u64(w, "cacheUsedMiB", nd->cache_used_mb);
    oc_xmlw_end(w);
}

/* ccDescribeNodes and ccDescribeResources: the same node list; the
 * latter adds the cluster's totals. */
static int describe_nodes(struct oc_qsrv_req *r, int totals)
{
    struct cc_node_info *nodes = NULL, sum = { 0 };
    size_t n = 0;
    struct oc_xmlw *w;

    if (clc_only(r))
        return OC_EINVAL;
    if (cc_nodes(api_of(r)->cluster, &nodes, &n) != OC_OK)
        return oc_qsrv_error(r, "InternalError", "out of memory");
    w = oc_qsrv_reply(r);
    oc_xmlw_start(w, "nodeSet");
    for (size_t k = 0; k < n; k++) {
        node_item(w, &nodes[k]);
        if (nodes[k].up) {
            sum.cores_total += nodes[k].cores_total;
            sum.cores_free += nodes[k].cores_free;
            sum.mem_total_mb += nodes[k].mem_total_mb;
            sum.mem_free_mb += nodes[k].mem_free_mb;
            sum.disk_total_gb += nodes[k].disk_total_gb;
            sum.disk_free_gb += nodes[k].disk_free_gb;
        }
    }
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "schedPolicy", cc_policy_name(cc_policy(api_of(r)->cluster)));
    if (totals) {
        oc_xmlw_elemf(w, "coresTotal", "%u", sum.cores_total);
        oc_xmlw_elemf(w, "coresFree", "%u", sum.cores_free);
        oc_xmlw_elem_u64(w, "memoryTotalMiB", sum.mem_total_mb);
        oc_xmlw_elem_u64(w, "memoryFreeMiB", sum.mem_free_mb);
        oc_xmlw_elem_u64(w, "diskTotalGiB", sum.disk_total_gb);
        oc_xmlw_elem_u64(w, "diskFreeGiB", sum.disk_free_gb);
    }
    free(nodes);
    return OC_OK;
}

static int cc_describe_nodes(struct oc_qsrv_req *r)
{
    return describe_nodes(r, 0);
}

static int cc_describe_resources(struct oc_qsrv_req *r)
{
    return describe_nodes(r, 1);
}

static int cc_register_node(struct oc_qsrv_req *r)
{
    const char *name, *host;
    long long port;
    struct oc_err err = { 0 };
    int rc;

    if (clc_only(r) || !(name = oc_qsrv_need(r, "NodeName")) ||
        !(host = oc_qsrv_need(r, "Host")) || oc_qsrv_uint(r, "Port", 8775, 1, 65535, &port))
        return OC_EINVAL;
    if ((rc = cc_node_register(api_of(r)->cluster, name, host, (unsigned)port, &err)))
        return rc == OC_EEXIST ? oc_qsrv_error(r, "InvalidParameterValue", "%s", err.msg)
                               : oc_qsrv_fail(r, rc, &err);
    if ((rc = applied(r)))
        return rc;
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

static int cc_modify_instance(struct oc_qsrv_req *r)
{
    const char *id, *type;
    long long vcpus, mem;
    struct oc_err err = { 0 };
    int rc;

    if (clc_only(r) || !(id = oc_qsrv_need(r, "InstanceId")) ||
        !(type = oc_qsrv_need(r, "InstanceType")) || !oc_qsrv_need(r, "VCpus") ||
        !oc_qsrv_need(r, "MemoryMiB") || oc_qsrv_uint(r, "VCpus", 1, 1, 1024, &vcpus) ||
        oc_qsrv_uint(r, "MemoryMiB", 1, 1, 1LL << 30, &mem))
        return OC_EINVAL;
    rc = cc_instance_resize(api_of(r)->cluster, id, type, (unsigned)vcpus, (unsigned)mem, &err);
    if (rc == OC_ECONFLICT)
        return oc_qsrv_error(r, "IncorrectInstanceState", "%s", err.msg);
    if (rc == OC_ENOTFOUND)
        return oc_qsrv_error(r, "InvalidInstanceID.NotFound", "%s", err.msg);
    if (rc == OC_EINVAL)
        return oc_qsrv_error(r, "InvalidParameterValue", "%s", err.msg);
    if (rc)
        return oc_qsrv_fail(r, rc, &err);
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

static int cc_set_property_action(struct oc_qsrv_req *r)
{
    const char *name, *value;
    struct oc_err err = { 0 };
    int rc;

    if (clc_only(r) || !(name = oc_qsrv_need(r, "Name")) || !(value = oc_qsrv_need(r, "Value")))
        return OC_EINVAL;
    if ((rc = cc_set_property(api_of(r)->cluster, name, value, &err)))
        return rc == OC_EINVAL ? oc_qsrv_error(r, "InvalidParameterValue", "%s", err.msg)
                               : oc_qsrv_fail(r, rc, &err);
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

static int cc_drop_image_action(struct oc_qsrv_req *r)
{
    const char *id;
    unsigned told = 0;
    struct oc_err err = { 0 };
    int rc;

    if (clc_only(r) || !(id = oc_qsrv_need(r, "ImageId")))
        return OC_EINVAL;
    if ((rc = cc_drop_image(api_of(r)->cluster, id, &told, &err)))
        return oc_qsrv_fail(r, rc, &err);
    oc_xmlw_elemf(oc_qsrv_reply(r), "nodesTold", "%u", told);
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

static int cc_deregister_node(struct oc_qsrv_req *r)
{
    const char *name;
    struct oc_err err = { 0 };
    int rc;

    if (clc_only(r) || !(name = oc_qsrv_need(r, "NodeName")))
        return OC_EINVAL;
    if ((rc = cc_node_deregister(api_of(r)->cluster, name, &err)))
        return rc == OC_ENOTFOUND ? oc_qsrv_error(r, "InvalidNode.NotFound", "%s", err.msg)
                                  : oc_qsrv_fail(r, rc, &err);
    if ((rc = applied(r)))
        return rc;
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

static int cc_get_console(struct oc_qsrv_req *r)
{
    const char *id;
    struct oc_buf b = { 0 };
    struct oc_err err = { 0 };
    struct oc_xmlw *w;
    int rc;

    if (clc_only(r) || !(id = oc_qsrv_need(r, "InstanceId")))
        return OC_EINVAL;
    if ((rc = cc_console(api_of(r)->cluster, id, &b, &err)) ||
        (rc = oc_buf_putc(&b, 0))) {
        oc_buf_free(&b);
        return oc_qsrv_fail(r, rc, &err);
    }
    w = oc_qsrv_reply(r);
    oc_xmlw_elem(w, "instanceId", id);
    oc_xmlw_elem(w, "output", (const char *)b.data);
    oc_buf_free(&b);
    return OC_OK;
}

static int cc_event(struct oc_qsrv_req *r)
{
    const char *node, *id, *state;
    long long when, seq;
    struct oc_err err = { 0 };
    int rc;

    if (!is_node(api_of(r), &r->who))
        return oc_qsrv_error(r, "AccessDenied", "Only nodes may report events");
    if (!(node = oc_qsrv_need(r, "NodeName")) || !(id = oc_qsrv_need(r, "InstanceId")) ||
        !(state = oc_qsrv_need(r, "State")) ||
        oc_qsrv_uint(r, "StateTime", 0, 0, 1LL << 40, &when) ||
        oc_qsrv_uint(r, "Sequence", 0, 0, 1LL << 62, &seq))
        return OC_EINVAL;
    rc = cc_node_event(api_of(r)->cluster, node, id, state,
                       oc_query_get(r->params, "StateReason") ? oc_query_get(r->params,
                                                                             "StateReason")
                                                              : "",
                       when, (uint64_t)seq, &err);
    if (rc)
        return oc_qsrv_fail(r, rc, &err);
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

/* A port, or an icmp type/code: -1 (any) to 65535. */
static int port_param(struct oc_qsrv_req *r, const char *name, int def, int *out)
{
    const char *v = oc_query_get(r->params, name);
    char *end;
    long n;

    if (!v || !*v) {
        *out = def;
        return OC_OK;
    }
    n = strtol(v, &end, 10);
    if (*end || n < -1 || n > 65535)
        return oc_qsrv_error(r, "InvalidParameterValue", "%s must be -1 to 65535", name);
    *out = (int)n;
    return OC_OK;
}

/* The rules named <pfx>.N.{Protocol,FromPort,ToPort,CidrIp,SourceGroupId},
 * N = 1.. contiguous, appended to rules[*n] (at most CC_NETSTATE_MAX_RULES
 * in all). */
static int rule_params(struct oc_qsrv_req *r, const char *pfx, int egress,
                       struct cc_rule *rules, size_t *n)
{
    for (size_t k = 1;; k++) {
        char name[64];
        const char *v;
        struct cc_rule *x;

        snprintf(name, sizeof(name), "%s.%zu.Protocol", pfx, k);
        if (!(v = oc_query_get(r->params, name)))
            return OC_OK;
        if (*n == CC_NETSTATE_MAX_RULES)
            return oc_qsrv_error(r, "InvalidParameterValue", "At most %d rules",
                                 CC_NETSTATE_MAX_RULES);
        x = &rules[(*n)++];
        x->egress = egress;
        snprintf(x->proto, sizeof(x->proto), "%.7s", v);
        snprintf(name, sizeof(name), "%s.%zu.FromPort", pfx, k);
        if (port_param(r, name, 0, &x->from_port))
            return OC_EINVAL;
        snprintf(name, sizeof(name), "%s.%zu.ToPort", pfx, k);
        if (port_param(r, name, x->from_port, &x->to_port))
            return OC_EINVAL;
        snprintf(name, sizeof(name), "%s.%zu.CidrIp", pfx, k);
        if (oc_qsrv_copy(r, name, x->cidr, sizeof(x->cidr), 0))
            return OC_EINVAL;
        snprintf(name, sizeof(name), "%s.%zu.SourceGroupId", pfx, k);
        if (oc_qsrv_copy(r, name, x->src_group, sizeof(x->src_group), 0))
            return OC_EINVAL;
    }
}

/* ccConfigureNetwork: GroupId; ingress Rule.N.{Protocol,FromPort,ToPort,
 * CidrIp,SourceGroupId}; Egress (all: instance-initiated traffic is not
 * filtered, the default; rules: only EgressRule.N, same fields with the
 * destination in CidrIp/SourceGroupId, lets it out).  Replaces the
 * group's rules whole. */
static int cc_configure_network(struct oc_qsrv_req *r)
{
    const char *group, *egress = oc_query_get(r->params, "Egress");
    struct cc_rule *rules;
    struct oc_err err = { 0 };
    size_t n = 0;
    int rc;

    if (clc_only(r) || !(group = oc_qsrv_need(r, "GroupId")))
        return OC_EINVAL;
    if (egress && strcmp(egress, "all") != 0 && strcmp(egress, "rules") != 0)
        return oc_qsrv_error(r, "InvalidParameterValue", "Egress must be all or rules");
    rules = oc_arena_calloc(r->arena, CC_NETSTATE_MAX_RULES, sizeof(*rules));
    if (!rules)
        return oc_qsrv_error(r, "InternalError", "out of memory");
    if (rule_params(r, "Rule", 0, rules, &n) || rule_params(r, "EgressRule", 1, rules, &n))
        return OC_EINVAL;
    if ((rc = cc_netstate_configure(api_of(r)->net, group, rules, n,
                                    egress && strcmp(egress, "rules") == 0, &err)))
        return oc_qsrv_fail(r, rc, &err);
    if ((rc = applied(r)))
        return rc;
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

static int cc_assign_address(struct oc_qsrv_req *r)
{
    const char *pub, *id;
    struct cc_instance_info *all = NULL;
    char priv[16] = "";
    size_t n = 0;
    struct oc_err err = { 0 };
    int rc, live = 0;

    if (clc_only(r) || !(pub = oc_qsrv_need(r, "PublicIp")) ||
        !(id = oc_qsrv_need(r, "InstanceId")))
        return OC_EINVAL;
    if (cc_instances(api_of(r)->cluster, &all, &n) != OC_OK)
        return oc_qsrv_error(r, "InternalError", "out of memory");
    for (size_t k = 0; k < n; k++)
        if (strcmp(all[k].id, id) == 0 && strcmp(all[k].state, "terminated") != 0) {
            snprintf(priv, sizeof(priv), "%s", all[k].private_ip);
            live = 1;
        }
    free(all);
    if (!live)
        return oc_qsrv_error(r, "InvalidInstanceID.NotFound", "The cluster has no live "
                                                               "instance %s", id);
    if ((rc = cc_netstate_assign(api_of(r)->net, pub, id, priv, &err)))
        return rc == OC_EEXIST ? oc_qsrv_error(r, "Resource.AlreadyAssociated", "%s", err.msg)
                               : oc_qsrv_fail(r, rc, &err);
    if ((rc = applied(r)))
        return rc;
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

static int cc_unassign_address(struct oc_qsrv_req *r)
{
    const char *pub;
    struct oc_err err = { 0 };
    int rc;

    if (clc_only(r) || !(pub = oc_qsrv_need(r, "PublicIp")))
        return OC_EINVAL;
    if ((rc = cc_netstate_unassign(api_of(r)->net, pub, &err)))
        return rc == OC_ENOTFOUND ? oc_qsrv_error(r, "InvalidAddress.NotFound", "%s", err.msg)
                                  : oc_qsrv_fail(r, rc, &err);
    if ((rc = applied(r)))
        return rc;
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

static int cc_describe_networks(struct oc_qsrv_req *r)
{
    struct cc_netstate *ns = api_of(r)->net;
    char(*groups)[64] = NULL;
    struct cc_eip *eips = NULL;
    size_t ng = 0, ne = 0;
    struct oc_err err = { 0 };
    struct oc_xmlw *w;

    if (clc_only(r))
        return OC_EINVAL;
    if (cc_netstate_groups(ns, &groups, &ng, &err) || cc_netstate_eips(ns, &eips, &ne, &err)) {
        free(groups);
        free(eips);
        return oc_qsrv_fail(r, OC_EINTERNAL, &err);
    }
    w = oc_qsrv_reply(r);
    oc_xmlw_elemf(w, "generation", "%llu", (unsigned long long)cc_netstate_generation(ns));
    oc_xmlw_start(w, "groupSet");
    for (size_t k = 0; k < ng; k++) {
        struct cc_rule *rules = NULL;
        size_t nr = 0;
        int filtered = 0;
        char cidr[20], gw[16];

        oc_xmlw_start(w, "item");
        oc_xmlw_elem(w, "groupId", groups[k]);
        if (cc_group_network(api_of(r)->cluster, groups[k], cidr, gw, &err) == OC_OK) {
            oc_xmlw_elem(w, "cidr", cidr);
            oc_xmlw_elem(w, "gateway", gw);
        }
        if (cc_netstate_rules(ns, groups[k], &rules, &nr, &filtered, &err) != OC_OK)
            nr = 0;
        oc_xmlw_elem(w, "egress", filtered ? "rules" : "all");
        for (int eg = 0; eg < 2; eg++) {
            oc_xmlw_start(w, eg ? "egressRuleSet" : "ruleSet");
            for (size_t j = 0; j < nr; j++) {
                if (rules[j].egress != eg)
                    continue;
                oc_xmlw_start(w, "item");
                oc_xmlw_elem(w, "protocol", rules[j].proto);
                oc_xmlw_elemf(w, "fromPort", "%d", rules[j].from_port);
                oc_xmlw_elemf(w, "toPort", "%d", rules[j].to_port);
                if (rules[j].cidr[0])
                    oc_xmlw_elem(w, "cidrIp", rules[j].cidr);
                if (rules[j].src_group[0])
                    oc_xmlw_elem(w, "sourceGroupId", rules[j].src_group);
                oc_xmlw_end(w);
            }
            oc_xmlw_end(w);
        }
        free(rules);
        oc_xmlw_end(w);
    }
    oc_xmlw_end(w);
    oc_xmlw_start(w, "addressSet");
    for (size_t k = 0; k < ne; k++) {
        oc_xmlw_start(w, "item");
        oc_xmlw_elem(w, "publicIp", eips[k].public_ip);
        oc_xmlw_elem(w, "instanceId", eips[k].instance_id);
        oc_xmlw_elem(w, "privateIp", eips[k].private_ip);
        oc_xmlw_end(w);
    }
    oc_xmlw_end(w);
    free(groups);
    free(eips);
    return OC_OK;
}

const struct oc_qsrv_action cc_api_actions[] = {
    { "ccConfigureNetwork", cc_configure_network },
    { "ccAssignAddress", cc_assign_address },
    { "ccUnassignAddress", cc_unassign_address },
    { "ccDescribeNetworks", cc_describe_networks },
    { "ccRunInstances", cc_run_instances },
    { "ccTerminateInstances", cc_terminate },
    { "ccDescribeInstances", cc_describe_instances },
    { "ccDescribeResources", cc_describe_resources },
    { "ccRebootInstances", cc_reboot },
    { "ccStartInstances", cc_start },
    { "ccStopInstances", cc_stop },
    { "ccGetConsoleOutput", cc_get_console },
    { "ccRegisterNode", cc_register_node },
    { "ccDeregisterNode", cc_deregister_node },
    { "ccDescribeNodes", cc_describe_nodes },
    { "ccDropImage", cc_drop_image_action },
    { "ccSetProperty", cc_set_property_action },
    { "ccModifyInstance", cc_modify_instance },
    { "ccNodeEvent", cc_event },
    { NULL, NULL },
};
