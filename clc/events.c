/*
 * events.c - the receiver of the clusters' instance events:
 *
 *   POST /services/Cluster  (SigV4 service "clc", a key of the CC user)
 *   Action=clcInstanceEvent&ClusterName=..&InstanceId=..&State=..
 *     &StateReason=..&StateTime=<epoch s>&Sequence=<n>&Node=<node>
 *
 * Each event is recorded as it arrives (clc_instance_record): a state
 * older than the one recorded is ignored, so events that overtake each
 * other or a poll leave the newest.  An event about an instance the
 * cluster does not hold in clc.db is refused (InvalidInstanceID.NotFound,
 * not retried by the CC).  Callers: users of the eucalyptus account named
 * CLC_CC_USER (default "cc"), AccessDenied for anyone else.
 */
#include <stdlib.h>
#include <string.h>

#include "clc/instances.h"
#include "common/log.h"

static int instance_event(struct clc_req *r)
{
    const char *cluster, *id, *state, *reason = clc_param(r, "StateReason");
    const char *node = clc_param(r, "Node");
    long long at;
    struct clc_instance_news nw;
    struct oc_err err = { 0 };
    int rc;

    if (strcmp(r->who.user_name, clc_conf(r, "CLC_CC_USER", "cc")) != 0)
        return clc_error(r, "AccessDenied", "Only cluster controllers may send events");
    if (clc_param_required(r, "ClusterName", &cluster) ||
        clc_param_required(r, "InstanceId", &id) || clc_param_required(r, "State", &state) ||
        clc_param_int(r, "StateTime", 0, 1LL << 40, (long long)r->now, &at))
        return CLC_FAILED;
    nw = (struct clc_instance_news){ id, cluster, state, reason ? reason : "", (time_t)at,
                                     node ? node : "", NULL, NULL, -1 };
    rc = clc_instance_record(r->db, &nw, &err);
    if (rc == OC_ENOTFOUND)
        return clc_error(r, "InvalidInstanceID.NotFound", "%s", err.msg);
    if (rc == OC_EINVAL)
        return clc_error(r, "InvalidParameterValue", "%s", err.msg);
    if (rc)
        return clc_internal(r, &err);
    oc_log(OC_LOG_DEBUG, "event: %s %s on %s (%s)", id, state, cluster,
           clc_param(r, "Sequence") ? clc_param(r, "Sequence") : "-");
    return clc_reply_return_true(r);
}

const struct clc_action clc_cluster_actions[] = {
    { "clcInstanceEvent", instance_event, CLC_ACTION_ADMIN },
    { NULL, NULL, 0 },
};
