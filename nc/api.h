/*
 * api.h - the node's internal Query API (docs/nc.md), served by
 * common/qsrv: SigV4 service "nc", accepted only from its CC's key.
 */
#ifndef NC_API_H
#define NC_API_H

#include "common/creds.h"
#include "common/qsrv.h"
#include "nc/node.h"

#define NC_API_XMLNS "http://overcast.invalid/doc/nc/2026-11-01/"

struct nc_api {
    struct nc_node *node;
    struct nc_imgcache *cache;   /* its size is a property (ncSetProperty) */
    char node_name[256];
    char hypervisor[8];
    /* NC_BRIDGE: when set, the bridge this node plugs every instance into
     * whatever bridge the CC names (Eucalyptus's node-local VNET_BRIDGE). */
    char bridge[NC_IFNAME_MAX];
    /* Who may call: the key NC_CC_ACCESS_KEY_ID when set, else any active
     * key of the user NC_CC_USER in the eucalyptus account. */
    char cc_access_key[OC_ACCESS_KEY_LEN + 1];
    char cc_user[65];
};

extern const struct oc_qsrv_action nc_api_actions[];
/* qsrv's authorize, ctx = struct nc_api. */
int nc_api_authorize(void *ctx, const struct oc_principal *who);

#endif
