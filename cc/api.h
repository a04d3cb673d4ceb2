/*
 * api.h - the cluster controller's internal Query API (docs/cc.md), served
 * by common/qsrv: SigV4 service "cc".  cc* actions are accepted from the
 * CLC's key only (CC_CLC_ACCESS_KEY_ID, else any key of the eucalyptus
 * account's user CC_CLC_USER, "clc"); ccNodeEvent from the nodes' user
 * (CC_NC_USER, "nc").
 */
#ifndef CC_API_H
#define CC_API_H

#include "cc/cluster.h"
#include "cc/dataplane.h"
#include "cc/netstate.h"
#include "common/creds.h"
#include "common/qsrv.h"

#define CC_API_XMLNS "http://overcast.invalid/doc/cc/2026-11-01/"

struct cc_api {
    struct cc_cluster *cluster;
    struct cc_netstate *net;
    struct cc_dataplane *dp;      /* NULL: VNET_MODE without a data plane */
    char clc_access_key[OC_ACCESS_KEY_LEN + 1];
    char clc_user[65];
    char nc_user[65];
};

extern const struct oc_qsrv_action cc_api_actions[];
int cc_api_authorize(void *ctx, const struct oc_principal *who);

#endif
