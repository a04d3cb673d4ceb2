/*
 * dataplane.h - makes the cluster's network what the CC's state says
 * (VNET_MODE=MANAGED-NOVLAN, or STATIC: one network, addresses from
 * VNET_MACMAP, no group filtering, the bridge's addresses the admin's).
 *
 * A sync gathers one model (netmodel.h) from the cluster (every group a
 * live instance is in, the network of each first group, every live
 * instance's MAC, address and groups) and from netstate (ingress and
 * egress rules, assigned elastic IPs), then, inside
 * VNET_NETNS:
 *   1. netif.c: the bridge exists and is up and holds each group's gateway
 *      (and the metadata address when it is in the plan); the public
 *      interface holds each elastic IP; forwarding is on;
 *   2. nft.c: the table is replaced in one transaction, when its text
 *      changed;
 *   3. dhcp.c: dnsmasq's files are rewritten and it is signalled, when they
 *      changed.
 * Syncs are serialized.  The API calls one before answering any change
 * (so a rule is live when ccConfigureNetwork or ccAssignAddress returns), a
 * thread calls one every interval (instances the poller or a node's event
 * changed), and the first runs at open, before the metadata proxy binds.
 * A clean close removes the table and stops dnsmasq; the bridge and the
 * addresses stay (instances keep their links across a CC restart).
 */
#ifndef CC_DATAPLANE_H
#define CC_DATAPLANE_H

#include <stdint.h>
#include <sys/types.h>

#include "cc/cluster.h"
#include "cc/netstate.h"
#include "common/buf.h"
#include "common/err.h"

struct cc_dataplane_config {
    const char *dir;              /* $OVERCAST_HOME/cc (dnsmasq's files) */
    const char *netns;            /* VNET_NETNS ("": the CC's own) */
    const char *bridge;           /* VNET_BRIDGE */
    int static_mode;              /* VNET_MODE=STATIC: one network, no group filtering */
    const char *router;           /* STATIC: VNET_ROUTER, the instances' gateway */
    const char *pubif;            /* VNET_PUBINTERFACE ("": none) */
    const char *table;            /* CC_NFT_TABLE */
    const char *subnet, *netmask; /* VNET_SUBNET, VNET_NETMASK */
    unsigned addrs_per_net;
    const char *md_ip;            /* VNET_METADATA_IP ("": no redirect) */
    unsigned md_port;
    const char *dnsmasq;          /* VNET_DHCPDAEMON */
    unsigned lease_s;
    unsigned interval_s;          /* periodic sync (0: none) */
};

struct cc_dataplane;

int cc_dataplane_open(const struct cc_dataplane_config *cfg, struct cc_cluster *cluster,
                      struct cc_netstate *net, struct cc_dataplane **out,
                      struct oc_err *err) OC_WUR;
int cc_dataplane_sync(struct cc_dataplane *dp, struct oc_err *err) OC_WUR;
/* The nft table text last applied (a copy in out). */
void cc_dataplane_nft_text(struct cc_dataplane *dp, struct oc_buf *out);
void cc_dataplane_close(struct cc_dataplane *dp);

/* Builds the model (for tests and the renderers): arrays malloc'd, freed
 * with cc_net_model_free(). */
struct cc_net_model;
int cc_dataplane_model(struct cc_dataplane *dp, struct cc_net_model *m,
                       struct oc_err *err) OC_WUR;
void cc_net_model_free(struct cc_net_model *m);

#endif
