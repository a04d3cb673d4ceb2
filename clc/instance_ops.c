/*
 * instance_ops.c - what users do to instances that exist: terminate,
 * stop, start, reboot, console output, status, attributes.
 *
 * Every action checks first that each named instance exists and is the
 * caller's (InvalidInstanceID.NotFound for any that is not: the whole
 * request fails, as on EC2), then DryRun, then talks to the clusters,
 * grouped by cluster, one cc* call each.  What a cluster answers is
 * recorded in clc.db.  A cluster that cannot be reached during
 * TerminateInstances does not make the instance immortal: clc.db records
 * `shutting-down` (the desired state) and the poller terminates it when
 * the cluster answers again.
 */
#include "clc/instances.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/log.h"
#include "common/xml.h"

/* The named instances, each the caller's, loaded. */
static int named_instances(struct clc_req *r, struct clc_instance **out, size_t *n)
{
    const char **ids;
    struct oc_err err = { 0 };

    if (clc_param_list(r, "InstanceId", &ids, n))
        return CLC_FAILED;
    if (*n == 0)
        return clc_error(r, "MissingParameter", "The request must contain the parameter "
                         "InstanceId");
    *out = oc_arena_calloc(r->arena, *n, sizeof(**out));
    for (size_t k = 0; k < *n; k++) {
        int rc;

        if (strncmp(ids[k], "i-", 2) != 0)
            return clc_error(r, "InvalidInstanceID.Malformed",
                             "Invalid id: \"%s\" (expecting \"i-...\")", ids[k]);
        rc = clc_instance_load(r->db, r->arena, ids[k], &(*out)[k], &err);
        if (rc == OC_ENOTFOUND ||
            (rc == OC_OK && strcmp((*out)[k].account_id, r->who.account_id) != 0))
            return clc_error(r, "InvalidInstanceID.NotFound",
                             "The instance ID '%s' does not exist", ids[k]);
        if (rc)
            return clc_internal(r, &err);
    }
    return CLC_OK;
}

static int set_state(struct clc_req *r, const struct clc_instance *in, const char *state,
                     const char *reason)
{
    struct clc_instance_news nw = { in->id, in->cluster, state, reason, r->now, NULL, NULL,
                                    NULL, -1 };
    struct oc_err err = { 0 };

    if (clc_instance_record(r->db, &nw, &err)) {
        oc_log(OC_LOG_WARN, "instance %s: %s", in->id, err.msg);
        return -1;
    }
    return 0;
}

/* The answers of one cc* call over several instances: instanceId ->
 * currentState or error. */
struct cc_result {
    const char *current;          /* NULL: the cluster said error, or was not reached */
    const char *error;
    const char *code;             /* the AWS code the cluster chose, or NULL */
};

/* One cc* action for the instances of `in` on cluster (those not skipped):
 * results[k] for in[k].  A cluster that cannot be reached leaves an error
 * for each and returns OC_EIO. */
static int cc_each(struct clc_req *r, const char *action, const struct clc_instance *in,
                   const int *skip, size_t n, const char *cluster, struct cc_result *results)
{
    struct clc_cluster cl;
    struct oc_kv *p = oc_arena_calloc(r->arena, n + 1, sizeof(*p));
    struct oc_icall res;
    struct oc_err err = { 0 };
    size_t np = 0;
    xmlNodePtr set, it;
    int rc;

    for (size_t k = 0; k < n; k++)
        if (!skip[k] && strcmp(in[k].cluster, cluster) == 0) {
            p[np] = (struct oc_kv){ oc_arena_printf(r->arena, "InstanceId.%zu", np + 1),
                                    in[k].id, 1 };
            np++;
        }
    if (np == 0)
        return OC_OK;
    rc = clc_cluster_get(r->db, r->arena, cluster, &cl, &err);
    if (rc == OC_OK)
        rc = clc_cc_call(r->clc, &cl, action, p, np, &res, NULL, &err);
    if (rc) {
        oc_log(OC_LOG_WARN, "%s: %s", action, err.msg);
        for (size_t k = 0; k < n; k++)
            if (!skip[k] && strcmp(in[k].cluster, cluster) == 0)
                results[k].error = oc_arena_strdup(r->arena, err.msg);
        return rc;
    }
    set = oc_xml_child(res.root, "instancesSet");
    for (it = set ? oc_xml_child(set, "item") : NULL; it; it = oc_xml_next(it, "item")) {
        char id[32], cur[16], error[512], code[64];

        oc_icall_text(it, "instanceId", id, sizeof(id));
        oc_icall_text(it, "currentState", cur, sizeof(cur));
        oc_icall_text(it, "error", error, sizeof(error));
        oc_icall_text(it, "errorCode", code, sizeof(code));
        for (size_t k = 0; k < n; k++) {
            if (skip[k] || strcmp(in[k].id, id) != 0)
                continue;
            if (*error) {
                results[k].error = oc_arena_strdup(r->arena, error);
                results[k].code = *code ? oc_arena_strdup(r->arena, code) : NULL;
            } else
                results[k].current = oc_arena_strdup(r->arena, cur);
        }
    }
    oc_icall_free(&res);
    return OC_OK;
}

/* cc_each for every cluster that holds an instance not skipped. */
static void cc_all(struct clc_req *r, const char *action, const struct clc_instance *in,
                   const int *skip, size_t n, struct cc_result *results, int *unreachable)
{
    for (size_t k = 0; k < n; k++) {
        int seen = 0;

        for (size_t j = 0; j < k && !seen; j++)
            seen = !skip[j] && strcmp(in[j].cluster, in[k].cluster) == 0;
        if (!skip[k] && !seen &&
            cc_each(r, action, in, skip, n, in[k].cluster, results) == OC_EIO && unreachable)
            *unreachable = 1;
    }
}

/* <item> of a state change (Terminate/Stop/StartInstances). */
static void change_item(struct clc_req *r, const char *id, const char *cur, const char *prev)
{
    oc_xmlw_start(r->xml, "item");
    oc_xmlw_elem(r->xml, "instanceId", id);
    clc_state_elem(r->xml, "currentState", cur);
    clc_state_elem(r->xml, "previousState", prev);
    oc_xmlw_end(r->xml);
}

/* ------------------------------------------------------------------ */
/* terminate */

int clc_terminate_instances(struct clc_req *r)
{
    struct clc_instance *in;
    struct cc_result *res;
    int *skip;
    size_t n;

    if (named_instances(r, &in, &n))
        return CLC_FAILED;
    for (size_t k = 0; k < n; k++)
        if (in[k].disable_api_termination)
            return clc_error(r, "OperationNotPermitted",
                             "The instance '%s' may not be terminated. Modify its "
                             "'disableApiTermination' instance attribute and try again.",
                             in[k].id);
    if (clc_dry_run(r))
        return CLC_FAILED;
    res = oc_arena_calloc(r->arena, n, sizeof(*res));
    skip = oc_arena_calloc(r->arena, n, sizeof(*skip));
    for (size_t k = 0; k < n; k++)
        skip[k] = strcmp(in[k].state, "terminated") == 0;
    cc_all(r, "ccTerminateInstances", in, skip, n, res, NULL);
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, "instancesSet");
    for (size_t k = 0; k < n; k++) {
        const char *cur = "terminated";

        if (!skip[k]) {
            if (res[k].current) {
                cur = res[k].current;
            } else if (res[k].error && strstr(res[k].error, "NotFound")) {
                cur = "terminated";   /* the cluster has forgotten it */
            } else {
                /* Not reached: the poller finishes the job. */
                cur = "shutting-down";
            }
            set_state(r, &in[k], cur, strcmp(cur, "terminated") == 0 && res[k].error
                                          ? "Server.InternalError: the cluster has no record"
                                          : "Client.UserInitiatedShutdown: User initiated "
                                            "shutdown");
        }
        change_item(r, in[k].id, cur, in[k].state);
    }
    oc_xmlw_end(r->xml);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* stop, start */

static int stop_start(struct clc_req *r, int start)
{
    struct clc_instance *in;
    struct cc_result *res;
    int *skip, unreachable = 0, force = 0;
    size_t n;

    if (named_instances(r, &in, &n) || clc_param_bool(r, "Force", 0, &force))
        return CLC_FAILED;
    skip = oc_arena_calloc(r->arena, n, sizeof(*skip));
    for (size_t k = 0; k < n; k++) {
        const char *s = in[k].state;

        if (strcmp(s, "terminated") == 0 || strcmp(s, "shutting-down") == 0)
            return clc_error(r, "IncorrectInstanceState",
                             "This instance '%s' is not in a state from which it can be %s.",
                             in[k].id, start ? "started" : "stopped");
        /* Already where the call would take it: answered as it is. */
        skip[k] = start ? (strcmp(s, "pending") == 0 || strcmp(s, "running") == 0)
                        : (strcmp(s, "stopping") == 0 || strcmp(s, "stopped") == 0);
        if (start && !skip[k] && strcmp(s, "stopped") != 0)
            return clc_error(r, "IncorrectInstanceState",
                             "The instance '%s' is not in a state from which it can be "
                             "started.", in[k].id);
    }
    if (clc_dry_run(r))
        return CLC_FAILED;
    res = oc_arena_calloc(r->arena, n, sizeof(*res));
    cc_all(r, start ? "ccStartInstances" : "ccStopInstances", in, skip, n, res, &unreachable);
    for (size_t k = 0; k < n; k++)
        if (!skip[k] && !res[k].current)
            return clc_error(r, unreachable ? "Unavailable"
                                : res[k].code ? res[k].code : "IncorrectInstanceState",
                             "%s: %s", in[k].id, res[k].error ? res[k].error : "no answer");
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, "instancesSet");
    for (size_t k = 0; k < n; k++) {
        const char *cur = skip[k] ? in[k].state : res[k].current;

        if (!skip[k])
            set_state(r, &in[k], cur, start ? "" : "Client.UserInitiatedShutdown: User "
                                                   "initiated shutdown");
        change_item(r, in[k].id, cur, in[k].state);
    }
    oc_xmlw_end(r->xml);
    return CLC_OK;
}

int clc_stop_instances(struct clc_req *r)
{
    return stop_start(r, 0);
}

int clc_start_instances(struct clc_req *r)
{
    return stop_start(r, 1);
}

int clc_reboot_instances(struct clc_req *r)
{
    struct clc_instance *in;
    struct cc_result *res;
    int *skip, unreachable = 0;
    size_t n;

    if (named_instances(r, &in, &n))
        return CLC_FAILED;
    for (size_t k = 0; k < n; k++)
        if (strcmp(in[k].state, "terminated") == 0)
            return clc_error(r, "IncorrectInstanceState",
                             "The instance '%s' is not in a state from which it can be "
                             "rebooted.", in[k].id);
    if (clc_dry_run(r))
        return CLC_FAILED;
    res = oc_arena_calloc(r->arena, n, sizeof(*res));
    skip = oc_arena_calloc(r->arena, n, sizeof(*skip));
    cc_all(r, "ccRebootInstances", in, skip, n, res, &unreachable);
    if (unreachable)
        return clc_error(r, "Unavailable", "The cluster cannot be reached");
    /* EC2 answers true and ignores instances that cannot reboot now. */
    for (size_t k = 0; k < n; k++)
        if (res[k].error)
            oc_log(OC_LOG_INFO, "RebootInstances %s: %s", in[k].id, res[k].error);
    return clc_reply_return_true(r);
}

/* ------------------------------------------------------------------ */
/* console */

int clc_get_console_output(struct clc_req *r)
{
    const char *id;
    struct clc_instance in;
    struct clc_cluster cl;
    struct oc_icall res;
    struct oc_err err = { 0 };
    struct oc_kv p[1];
    char when[32];
    struct tm tm;
    char *out;
    int rc;

    if (clc_param_required(r, "InstanceId", &id))
        return CLC_FAILED;
    rc = clc_instance_load(r->db, r->arena, id, &in, &err);
    if (rc == OC_ENOTFOUND || (rc == OC_OK && strcmp(in.account_id, r->who.account_id) != 0))
        return clc_error(r, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist",
                         id);
    if (rc)
        return clc_internal(r, &err);
    if (clc_dry_run(r))
        return CLC_FAILED;
    p[0] = (struct oc_kv){ "InstanceId", id, 1 };
    rc = clc_cluster_get(r->db, r->arena, in.cluster, &cl, &err);
    if (rc == OC_OK)
        rc = clc_cc_call(r->clc, &cl, "ccGetConsoleOutput", p, 1, &res, NULL, &err);
    gmtime_r(&r->now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    if (rc) {
        /* A terminated instance's console is gone with it: EC2 answers an
         * empty output, not an error. */
        if (rc != OC_EIO && !clc_state_live(in.state)) {
            clc_reply_begin(r);
            oc_xmlw_elem(r->xml, "instanceId", id);
            oc_xmlw_elem(r->xml, "timestamp", when);
            oc_xmlw_elem(r->xml, "output", "");
            return CLC_OK;
        }
        return clc_error(r, rc == OC_EIO ? "Unavailable" : "InternalError", "%s", err.msg);
    }
    out = oc_xml_text(oc_xml_child(res.root, "output"));
    clc_reply_begin(r);
    oc_xmlw_elem(r->xml, "instanceId", id);
    oc_xmlw_elem(r->xml, "timestamp", when);
    oc_xmlw_elem(r->xml, "output", out ? out : "");
    xmlFree(out);
    oc_icall_free(&res);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* status */

static const char *const status_filter_names[] = {
    "availability-zone", "instance-state-name", "instance-state-code", "instance-id",
    "system-status.status", "instance-status.status", NULL,
};

struct status_ctx {
    const char **ids;
    size_t nids;
    int all;
};

static void status_attr(void *row, const char *name, struct clc_values *vals)
{
    struct clc_instance *in = row;

    if (strcmp(name, "availability-zone") == 0)
        clc_values_add(vals, in->cluster);
    else if (strcmp(name, "instance-state-name") == 0)
        clc_values_add(vals, in->state);
    else if (strcmp(name, "instance-state-code") == 0)
        clc_values_addf(vals, "%d", clc_state_code(in->state));
    else if (strcmp(name, "instance-id") == 0)
        clc_values_add(vals, in->id);
    else if (strcmp(name, "system-status.status") == 0)
        clc_values_add(vals, in->node_up ? "ok" : "impaired");
    else if (strcmp(name, "instance-status.status") == 0)
        clc_values_add(vals, strcmp(in->state, "running") == 0 ? "ok" : "not-applicable");
}

static const char *status_id(const void *row)
{
    return ((const struct clc_instance *)row)->id;
}

static int status_keep(struct clc_req *r, const void *row, void *ctx)
{
    const struct clc_instance *in = row;
    const struct status_ctx *sc = ctx;

    (void)r;
    if (sc->nids && !clc_in_list(in->id, sc->ids, sc->nids))
        return 0;
    /* Without IncludeAllInstances, running instances only (EC2). */
    return sc->all || strcmp(in->state, "running") == 0;
}

static void status_write(struct clc_req *r, const void *row, const struct clc_tagset *tags,
                         void *ctx)
{
    const struct clc_instance *in = row;
    struct oc_xmlw *w = r->xml;
    const char *sys = in->node_up ? "ok" : "impaired";
    const char *ins = strcmp(in->state, "running") == 0 ? "ok" : "not-applicable";

    (void)tags;
    (void)ctx;
    oc_xmlw_start(w, "item");
    oc_xmlw_elem(w, "instanceId", in->id);
    oc_xmlw_elem(w, "availabilityZone", in->cluster);
    oc_xmlw_start(w, "instanceState");
    oc_xmlw_elemf(w, "code", "%d", clc_state_code(in->state));
    oc_xmlw_elem(w, "name", in->state);
    oc_xmlw_end(w);
    oc_xmlw_start(w, "systemStatus");
    oc_xmlw_elem(w, "status", sys);
    oc_xmlw_start(w, "details");
    oc_xmlw_start(w, "item");
    oc_xmlw_elem(w, "name", "reachability");
    oc_xmlw_elem(w, "status", in->node_up ? "passed" : "failed");
    oc_xmlw_end(w);
    oc_xmlw_end(w);
    oc_xmlw_end(w);
    oc_xmlw_start(w, "instanceStatus");
    oc_xmlw_elem(w, "status", ins);
    oc_xmlw_start(w, "details");
    oc_xmlw_start(w, "item");
    oc_xmlw_elem(w, "name", "reachability");
    oc_xmlw_elem(w, "status", strcmp(ins, "ok") == 0 ? "passed" : "initializing");
    oc_xmlw_end(w);
    oc_xmlw_end(w);
    oc_xmlw_end(w);
    oc_xmlw_end(w);
}

static void status_fill(struct oc_arena *a, sqlite3_stmt *st, void *row)
{
    struct clc_instance *in = row;

    in->id = clc_col_text(a, st, 0);
    in->cluster = clc_col_text(a, st, 1);
    in->state = clc_col_text(a, st, 2);
    in->node_up = sqlite3_column_int(st, 3);
}

int clc_describe_instance_status(struct clc_req *r)
{
    struct status_ctx sc = { 0 };
    struct clc_filters *filters = NULL;
    struct clc_page page;
    struct clc_instance *rows = NULL;
    size_t nrows = 0;
    struct clc_describe d = {
        .set_name = "instanceStatusSet", .tag_type = "instance",
        .row_size = sizeof(struct clc_instance), .id = status_id, .keep = status_keep,
        .attr = status_attr, .write = status_write,
    };

    if (clc_param_list(r, "InstanceId", &sc.ids, &sc.nids) ||
        clc_param_bool(r, "IncludeAllInstances", 0, &sc.all) ||
        clc_filters_parse(r, status_filter_names, &filters) ||
        clc_page_parse(r, 5, 1000, sc.nids > 0, &page))
        return CLC_FAILED;
    if (clc_describe_rows(r, "SELECT id, cluster, state, node_up FROM instances"
                             " WHERE account_id = ?1 AND id > ?2 ORDER BY id",
                          page.limited ? page.after : NULL, status_fill, sizeof(*rows),
                          (void **)&rows, &nrows))
        return CLC_FAILED;
    for (size_t k = 0; k < sc.nids; k++) {
        size_t j = 0;

        while (j < nrows && strcmp(rows[j].id, sc.ids[k]) != 0)
            j++;
        if (j == nrows)
            return clc_error(r, "InvalidInstanceID.NotFound",
                             "The instance ID '%s' does not exist", sc.ids[k]);
    }
    d.rows = rows;
    d.nrows = nrows;
    d.filters = filters;
    d.page = &page;
    return clc_describe_run(r, &d, &sc);
}

/* ------------------------------------------------------------------ */
/* attributes */

static int one_instance(struct clc_req *r, struct clc_instance *in)
{
    const char *id;
    struct oc_err err = { 0 };
    int rc;

    if (clc_param_required(r, "InstanceId", &id))
        return CLC_FAILED;
    rc = clc_instance_load(r->db, r->arena, id, in, &err);
    if (rc == OC_ENOTFOUND || (rc == OC_OK && strcmp(in->account_id, r->who.account_id) != 0))
        return clc_error(r, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist",
                         id);
    return rc ? clc_internal(r, &err) : CLC_OK;
}

static void value_elem(struct oc_xmlw *w, const char *elem, const char *value)
{
    oc_xmlw_start(w, elem);
    oc_xmlw_elem(w, "value", value);
    oc_xmlw_end(w);
}

int clc_describe_instance_attribute(struct clc_req *r)
{
    struct clc_instance in;
    const char *attr;
    struct oc_err err = { 0 };

    if (one_instance(r, &in) || clc_param_required(r, "Attribute", &attr))
        return CLC_FAILED;
    clc_reply_begin(r);
    oc_xmlw_elem(r->xml, "instanceId", in.id);
    if (strcmp(attr, "instanceType") == 0) {
        value_elem(r->xml, "instanceType", in.instance_type);
    } else if (strcmp(attr, "kernel") == 0) {
        value_elem(r->xml, "kernel", in.kernel_id);
    } else if (strcmp(attr, "ramdisk") == 0) {
        value_elem(r->xml, "ramdisk", in.ramdisk_id);
    } else if (strcmp(attr, "disableApiTermination") == 0) {
        value_elem(r->xml, "disableApiTermination",
                   in.disable_api_termination ? "true" : "false");
    } else if (strcmp(attr, "instanceInitiatedShutdownBehavior") == 0) {
        value_elem(r->xml, "instanceInitiatedShutdownBehavior", "stop");
    } else if (strcmp(attr, "rootDeviceName") == 0) {
        value_elem(r->xml, "rootDeviceName", in.root_device_name);
    } else if (strcmp(attr, "blockDeviceMapping") == 0) {
        oc_xmlw_start(r->xml, "blockDeviceMapping");
        oc_xmlw_end(r->xml);
    } else if (strcmp(attr, "groupSet") == 0) {
        clc_instance_groups_write(r, &in, 1);
    } else if (strcmp(attr, "userData") == 0) {
        const void *data;
        size_t len;
        struct oc_buf b64 = { 0 };

        if (clc_instance_user_data(r->db, r->arena, in.id, &data, &len, &err))
            return clc_internal(r, &err);
        oc_xmlw_start(r->xml, "userData");
        if (data) {
            if (oc_base64_encode(data, len, &b64) != OC_OK) {
                oc_buf_free(&b64);
                return clc_error(r, "InternalError", "An internal error has occurred");
            }
            oc_xmlw_elem(r->xml, "value", oc_buf_cstr(&b64));
            oc_buf_free(&b64);
        }
        oc_xmlw_end(r->xml);
    } else {
        return clc_error(r, "InvalidParameterValue",
                         "Value (%s) for parameter attribute is invalid. Unknown attribute.",
                         attr);
    }
    return CLC_OK;
}

int clc_modify_instance_attribute(struct clc_req *r)
{
    struct clc_instance in;
    const char *attr = clc_param(r, "Attribute"), *value = clc_param(r, "Value");
    const char *v;
    struct oc_err err = { 0 };
    int rc = OC_OK;

    if (one_instance(r, &in))
        return CLC_FAILED;
    /* Attribute=x&Value=y, or the structured X.Value form of the SDKs. */
    if (!attr || !*attr) {
        static const char *const forms[] = { "InstanceType", "UserData",
                                             "DisableApiTermination" };

        for (size_t k = 0; k < 3 && !attr; k++) {
            v = clc_param(r, oc_arena_printf(r->arena, "%s.Value", forms[k]));
            if (v) {
                attr = forms[k];
                value = v;
            }
        }
        if (!attr)
            return clc_error(r, "MissingParameter", "The request must contain the parameter "
                             "Attribute");
    }
    if (!value)
        return clc_error(r, "MissingParameter", "The request must contain the parameter Value");
    if (strcasecmp(attr, "instanceType") == 0) {
        if (strcmp(in.state, "stopped") != 0)
            return clc_error(r, "IncorrectInstanceState",
                             "The instance '%s' is not in the 'stopped' state.", in.id);
        char vcpus[16], mem[16];

        {
            sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT vcpus, memory_mib FROM"
                                                    " instance_types WHERE name = ?", &err);
            int found;

            if (!st)
                return clc_internal(r, &err);
            sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
            found = sqlite3_step(st) == SQLITE_ROW;
            if (found) {
                snprintf(vcpus, sizeof(vcpus), "%lld", (long long)sqlite3_column_int64(st, 0));
                snprintf(mem, sizeof(mem), "%lld", (long long)sqlite3_column_int64(st, 1));
            }
            sqlite3_reset(st);
            if (!found)
                return clc_error(r, "InvalidInstanceAttributeValue",
                                 "The instanceType '%s' is not supported.", value);
        }
        if (clc_dry_run(r))
            return CLC_FAILED;
        /* The cluster holds the instance's size for its next start. */
        if (strcmp(value, in.instance_type) != 0) {
            struct oc_kv p[4] = { { "InstanceId", in.id, 1 }, { "InstanceType", value, 1 },
                                  { "VCpus", vcpus, 1 }, { "MemoryMiB", mem, 1 } };
            struct clc_cluster cl;
            struct oc_icall ans;
            char code[64];

            rc = clc_cluster_get(r->db, r->arena, in.cluster, &cl, &err);
            if (rc == OC_OK)
                rc = clc_cc_call(r->clc, &cl, "ccModifyInstance", p, 4, &ans, code, &err);
            if (rc == OC_OK)
                oc_icall_free(&ans);
            else if (rc == OC_EIO || rc == OC_ENOTFOUND)
                return clc_error(r, "Unavailable", "The instance's cluster cannot change it "
                                 "now: %s", err.msg);
            else
                return clc_error(r, code[0] ? code : "IncorrectInstanceState", "%s", err.msg);
        }
        rc = oc_db_run(r->db, "UPDATE instances SET instance_type = ?2 WHERE id = ?1", NULL,
                       &err, "ss", in.id, value);
    } else if (strcasecmp(attr, "userData") == 0) {
        size_t n = strlen(value);
        uint8_t *data = oc_arena_alloc(r->arena, n + 1);
        long got = oc_base64_decode(value, n, data, n + 1);

        if (strcmp(in.state, "stopped") != 0)
            return clc_error(r, "IncorrectInstanceState",
                             "The instance '%s' is not in the 'stopped' state.", in.id);
        if (got < 0 || got > 16384)
            return clc_error(r, "InvalidParameterValue", got < 0
                                 ? "Invalid BASE64 encoding of user data"
                                 : "User data is limited to 16384 bytes");
        if (clc_dry_run(r))
            return CLC_FAILED;
        rc = oc_db_run(r->db, "UPDATE instances SET user_data = ?2 WHERE id = ?1", NULL, &err,
                       "sb", in.id, (const void *)data, (size_t)got);
    } else if (strcasecmp(attr, "disableApiTermination") == 0) {
        int on;

        if (strcasecmp(value, "true") != 0 && strcasecmp(value, "false") != 0)
            return clc_error(r, "InvalidParameterValue",
                             "Value (%s) for parameter value is invalid.", value);
        on = strcasecmp(value, "true") == 0;
        if (clc_dry_run(r))
            return CLC_FAILED;
        rc = oc_db_run(r->db, "UPDATE instances SET disable_api_termination = ?2 WHERE id = ?1",
                       NULL, &err, "si", in.id, (long long)on);
    } else {
        return clc_error(r, "InvalidParameterValue",
                         "Value (%s) for parameter attribute is invalid.", attr);
    }
    if (rc)
        return clc_internal(r, &err);
    return clc_reply_return_true(r);
}
