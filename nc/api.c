/*
 * api.c - the node's internal Query API (docs/nc.md): nc* actions in,
 * node.c calls out.  Parameters are checked here for presence and shape;
 * nc_instance_check in domain.c is the final word on a record.
 */
#include "nc/api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/log.h"
#include "nc/domain.h"

#define CONSOLE_MAX (64u * 1024)

static struct nc_api *api_of(struct oc_qsrv_req *r)
{
    return r->ctx;
}

static int image(struct oc_qsrv_req *r, const char *pfx, struct nc_image_spec *im, int required)
{
    return oc_qsrv_image(r, pfx, im->id, sizeof(im->id), im->location, sizeof(im->location),
                         im->digest, sizeof(im->digest), required);
}

static void state_item(struct oc_xmlw *w, const char *name, enum nc_state s)
{
    static const int codes[] = {
        [NC_PENDING] = 0,   [NC_RUNNING] = 16, [NC_SHUTTING_DOWN] = 32, [NC_TERMINATED] = 48,
        [NC_STOPPING] = 64, [NC_STOPPED] = 80, [NC_CRASHED] = 80,
    };

    oc_xmlw_start(w, name);
    oc_xmlw_elemf(w, "code", "%d", codes[s]);
    oc_xmlw_elem(w, "name", nc_state_name(s));
    oc_xmlw_end(w);
}

static void time_elem(struct oc_xmlw *w, const char *name, int64_t t)
{
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    oc_xmlw_elem(w, name, buf);
}

static void instance_item(struct oc_xmlw *w, const char *elem, const struct nc_instance *i)
{
    oc_xmlw_start(w, elem);
    oc_xmlw_elem(w, "instanceId", i->id);
    oc_xmlw_elem(w, "reservationId", i->reservation_id);
    oc_xmlw_elem(w, "ownerId", i->owner_id);
    oc_xmlw_elemf(w, "launchIndex", "%u", i->launch_index);
    state_item(w, "instanceState", i->state);
    oc_xmlw_elem(w, "stateReason", i->state_reason);
    oc_xmlw_elem(w, "instanceType", i->instance_type);
    oc_xmlw_elemf(w, "vcpus", "%u", i->vcpus);
    oc_xmlw_elemf(w, "memoryMiB", "%u", i->mem_mb);
    oc_xmlw_elemf(w, "diskGiB", "%u", i->disk_gb);
    oc_xmlw_elem(w, "imageId", i->image.id);
    oc_xmlw_elem(w, "kernelId", i->kernel.id);
    oc_xmlw_elem(w, "ramdiskId", i->ramdisk.id);
    if (i->mc_ready[0])
        oc_xmlw_elem(w, "macroComponentReady", i->mc_ready);
    if (i->clone_of[0])
        oc_xmlw_elem(w, "cloneOf", i->clone_of);
    oc_xmlw_elem(w, "macAddress", i->mac);
    if (i->bridge[0])
        oc_xmlw_elem(w, "bridge", i->bridge);
    if (i->tap[0])
        oc_xmlw_elem(w, "tap", i->tap);
    time_elem(w, "launchTime", i->launch_time);
    time_elem(w, "stateTime", i->state_time);
    oc_xmlw_end(w);
}


static const char *instance_id(struct oc_qsrv_req *r)
{
    const char *id = oc_qsrv_need(r, "InstanceId");

    if (id && !nc_valid_instance_id(id)) {
        oc_qsrv_error(r, "InvalidInstanceID.Malformed", "Invalid id: \"%.32s\"", id);
        return NULL;
    }
    return id;
}

static int nc_run(struct oc_qsrv_req *r)
{
    struct nc_instance req = { 0 }, got;
    struct oc_err err = { 0 };
    long long v[6];
    int rc;

    if (oc_qsrv_copy(r, "InstanceId", req.id, sizeof(req.id), 1) ||
        oc_qsrv_copy(r, "ReservationId", req.reservation_id, sizeof(req.reservation_id), 0) ||
        oc_qsrv_copy(r, "OwnerId", req.owner_id, sizeof(req.owner_id), 0) ||
        oc_qsrv_copy(r, "InstanceType", req.instance_type, sizeof(req.instance_type), 1) ||
        oc_qsrv_uint(r, "LaunchIndex", 0, 0, 100000, &v[0]) ||
        !oc_qsrv_need(r, "VCpus") || oc_qsrv_uint(r, "VCpus", 1, 1, 64, &v[1]) ||
        !oc_qsrv_need(r, "MemoryMiB") ||
        oc_qsrv_uint(r, "MemoryMiB", 256, 32, 1024 * 1024, &v[2]) ||
        !oc_qsrv_need(r, "DiskGiB") || oc_qsrv_uint(r, "DiskGiB", 1, 1, 16384, &v[3]) ||
        oc_qsrv_uint(r, "EphemeralGiB", 0, 0, 16384, &v[4]) ||
        oc_qsrv_uint(r, "SwapMiB", 0, 0, 1024 * 1024, &v[5]) ||
        image(r, "Image", &req.image, 1) || image(r, "Kernel", &req.kernel, 0) ||
        image(r, "Ramdisk", &req.ramdisk, 0) ||
        oc_qsrv_copy(r, "MacAddress", req.mac, sizeof(req.mac), 1) ||
        oc_qsrv_copy(r, "Bridge", req.bridge, sizeof(req.bridge), 0) ||
        oc_qsrv_copy(r, "Tap", req.tap, sizeof(req.tap), 0) ||
        oc_qsrv_copy(r, "MacroComponentReady", req.mc_ready, sizeof(req.mc_ready), 0) ||
        oc_qsrv_copy(r, "CloneOf", req.clone_of, sizeof(req.clone_of), 0))
        return OC_EINVAL;
    if (!nc_valid_instance_id(req.id))
        return oc_qsrv_error(r, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", req.id);
    req.launch_index = (unsigned)v[0];
    req.vcpus = (unsigned)v[1];
    req.mem_mb = (unsigned)v[2];
    req.disk_gb = (unsigned)v[3];
    req.ephemeral_gb = (unsigned)v[4];
    req.swap_mb = (unsigned)v[5];
    if (!!req.bridge[0] == !!req.tap[0])
        return oc_qsrv_error(r, "InvalidParameterCombination",
                             "Exactly one of Bridge and Tap is required");
    if (req.bridge[0] && api_of(r)->bridge[0])
        snprintf(req.bridge, sizeof(req.bridge), "%s", api_of(r)->bridge);
    if ((rc = nc_instance_check(&req, &err)))
        return oc_qsrv_error(r, "InvalidParameterValue", "%s", err.msg);
    if ((rc = nc_node_run(api_of(r)->node, &req, &got, &err)))
        return oc_qsrv_fail(r, rc, &err);
    instance_item(oc_qsrv_reply(r), "instance", &got);
    return OC_OK;
}

/* Terminate, stop and start answer alike. */
/* The answer of a state change (rc from the node). */
static int changed(struct oc_qsrv_req *r, const char *id, int rc, enum nc_state prev,
                   enum nc_state cur, const struct oc_err *err)
{
    struct oc_xmlw *w;

    if (rc)
        return oc_qsrv_fail(r, rc, err);
    w = oc_qsrv_reply(r);
    oc_xmlw_elem(w, "instanceId", id);
    state_item(w, "previousState", prev);
    state_item(w, "currentState", cur);
    return OC_OK;
}

static int change(struct oc_qsrv_req *r,
                  int (*fn)(struct nc_node *, const char *, enum nc_state *, enum nc_state *,
                            struct oc_err *))
{
    const char *id = instance_id(r);
    struct oc_err err = { 0 };
    enum nc_state prev = NC_PENDING, cur = NC_PENDING;
    int rc;

    if (!id)
        return OC_EINVAL;
    rc = fn(api_of(r)->node, id, &prev, &cur, &err);
    return changed(r, id, rc, prev, cur, &err);
}

static int nc_terminate(struct oc_qsrv_req *r)
{
    return change(r, nc_node_terminate);
}

static int nc_stop(struct oc_qsrv_req *r)
{
    return change(r, nc_node_stop);
}

/* ncStartInstance; VCpus and MemoryMiB (both or neither) give the size it
 * starts with (ModifyInstanceAttribute instanceType while stopped). */
static int nc_start(struct oc_qsrv_req *r)
{
    const char *id = instance_id(r);
    long long vcpus = 0, mem = 0;
    struct oc_err err = { 0 };
    enum nc_state prev = NC_PENDING, cur = NC_PENDING;
    int rc;

    if (!id)
        return OC_EINVAL;
    if ((oc_query_get(r->params, "VCpus") || oc_query_get(r->params, "MemoryMiB")) &&
        (!oc_qsrv_need(r, "VCpus") || !oc_qsrv_need(r, "MemoryMiB") ||
         oc_qsrv_uint(r, "VCpus", 1, 1, 1024, &vcpus) ||
         oc_qsrv_uint(r, "MemoryMiB", 1, 1, 1LL << 30, &mem)))
        return OC_EINVAL;
    rc = nc_node_start_as(api_of(r)->node, id, (unsigned)vcpus, (unsigned)mem, &prev, &cur,
                          &err);
    return changed(r, id, rc, prev, cur, &err);
}

static int nc_reboot(struct oc_qsrv_req *r)
{
    const char *id = instance_id(r);
    struct oc_err err = { 0 };
    int rc;

    if (!id)
        return OC_EINVAL;
    if ((rc = nc_node_reboot(api_of(r)->node, id, &err)))
        return oc_qsrv_fail(r, rc, &err);
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

static int nc_describe(struct oc_qsrv_req *r)
{
    struct nc_instance *all = NULL;
    const char **ids = NULL;
    size_t n = 0, nids = 0;
    struct oc_err err = { 0 };
    struct oc_xmlw *w;

    if (oc_query_list(r->arena, r->params, "InstanceId", &ids, &nids, &err) != OC_OK)
        return oc_qsrv_error(r, "InvalidParameterValue", "%s", err.msg);
    if (nc_node_list(api_of(r)->node, &all, &n) != OC_OK)
        return oc_qsrv_error(r, "InternalError", "out of memory");
    w = oc_qsrv_reply(r);
    oc_xmlw_start(w, "instanceSet");
    for (size_t k = 0; k < n; k++) {
        int want = nids == 0;

        for (size_t j = 0; j < nids && !want; j++)
            want = strcmp(ids[j], all[k].id) == 0;
        if (want)
            instance_item(w, "item", &all[k]);
    }
    oc_xmlw_end(w);
    free(all);
    return OC_OK;
}

static int nc_resource(struct oc_qsrv_req *r)
{
    struct nc_api *a = api_of(r);
    struct nc_resources res;
    struct oc_xmlw *w = oc_qsrv_reply(r);

    nc_node_resources(a->node, &res);
    oc_xmlw_elem(w, "nodeName", a->node_name);
    oc_xmlw_elem(w, "hypervisor", a->hypervisor);
    oc_xmlw_elemf(w, "coresTotal", "%u", res.cores_total);
    oc_xmlw_elemf(w, "coresFree", "%u", res.cores_free);
    oc_xmlw_elem_u64(w, "memoryTotalMiB", res.mem_total_mb);
    oc_xmlw_elem_u64(w, "memoryFreeMiB", res.mem_free_mb);
    oc_xmlw_elem_u64(w, "diskTotalGiB", res.disk_total_gb);
    oc_xmlw_elem_u64(w, "diskFreeGiB", res.disk_free_gb);
    oc_xmlw_elemf(w, "instanceCount", "%u", res.instances);
    if (a->cache) {
        struct nc_imgcache_stats st;

        nc_imgcache_stats(a->cache, &st);
        oc_xmlw_elem_u64(w, "cacheMaxMiB", st.max_bytes >> 20);
        oc_xmlw_elem_u64(w, "cacheUsedMiB", (st.bytes + (1 << 20) - 1) >> 20);
    }
    return OC_OK;
}

/* ncSetProperty: NC_CACHE_MAX_MB (MiB, 1 to 2^40) is the one setting that
 * changes while the node runs.  It is not kept here: the CC pushes it
 * again to a node that restarted (docs/nc.md). */
static int nc_set_property(struct oc_qsrv_req *r)
{
    struct nc_api *a = api_of(r);
    const char *name = oc_qsrv_need(r, "Name");
    long long mb;

    if (!name)
        return OC_EINVAL;
    if (strcmp(name, "NC_CACHE_MAX_MB") != 0 || !a->cache)
        return oc_qsrv_error(r, "InvalidParameterValue", "no property %s can change while "
                             "the node runs", name);
    if (!oc_qsrv_need(r, "Value") || oc_qsrv_uint(r, "Value", 1, 1, 1LL << 40, &mb))
        return OC_EINVAL;
    nc_imgcache_set_max(a->cache, (uint64_t)mb << 20);
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

static int nc_console(struct oc_qsrv_req *r)
{
    const char *id = instance_id(r);
    struct oc_buf raw = { 0 }, b64 = { 0 };
    struct oc_err err = { 0 };
    struct oc_xmlw *w;
    int rc;

    if (!id)
        return OC_EINVAL;
    rc = nc_node_console(api_of(r)->node, id, CONSOLE_MAX, &raw, &err);
    if (rc == OC_OK && (rc = oc_base64_encode((const uint8_t *)raw.data, raw.len, &b64)) != OC_OK)
        oc_err_set(&err, rc, "out of memory");
    if (rc == OC_OK && oc_buf_putc(&b64, 0) != OC_OK)
        rc = oc_err_set(&err, OC_ENOMEM, "out of memory");
    if (rc) {
        oc_buf_free(&raw);
        oc_buf_free(&b64);
        return oc_qsrv_fail(r, rc, &err);
    }
    w = oc_qsrv_reply(r);
    oc_xmlw_elem(w, "instanceId", id);
    time_elem(w, "timestamp", (int64_t)time(NULL));
    oc_xmlw_elem(w, "output", (const char *)b64.data);
    oc_buf_free(&raw);
    oc_buf_free(&b64);
    return OC_OK;
}

static int nc_drop_image(struct oc_qsrv_req *r)
{
    const char *id = oc_qsrv_need(r, "ImageId");

    if (!id)
        return OC_EINVAL;
    if (!nc_valid_image_id(id, 'm'))
        return oc_qsrv_error(r, "InvalidAMIID.Malformed", "Invalid id: \"%.32s\"", id);
    nc_node_drop_image(api_of(r)->node, id);
    oc_xmlw_elem(oc_qsrv_reply(r), "return", "true");
    return OC_OK;
}

const struct oc_qsrv_action nc_api_actions[] = {
    { "ncRunInstance", nc_run },
    { "ncTerminateInstance", nc_terminate },
    { "ncDescribeInstances", nc_describe },
    { "ncDescribeResource", nc_resource },
    { "ncRebootInstance", nc_reboot },
    { "ncStartInstance", nc_start },
    { "ncStopInstance", nc_stop },
    { "ncGetConsoleOutput", nc_console },
    { "ncDropImage", nc_drop_image },
    { "ncSetProperty", nc_set_property },
    { NULL, NULL },
};

int nc_api_authorize(void *ctx, const struct oc_principal *who)
{
    struct nc_api *a = ctx;

    if (!who->active)
        return OC_EPERM;
    if (a->cc_access_key[0])
        return strcmp(who->access_key_id, a->cc_access_key) == 0 ? OC_OK : OC_EPERM;
    return who->is_admin && strcmp(who->user_name, a->cc_user) == 0 ? OC_OK : OC_EPERM;
}
