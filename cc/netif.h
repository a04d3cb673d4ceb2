/*
 * netif.h - the CC's links and addresses, through netlink (libnl-route-3),
 * in the calling thread's network namespace (run it with cc_netns_run):
 *
 *   the instances' bridge    created when missing, brought up, and given
 *                            the gateway address (base+1) of every group
 *                            network in the model
 *   the public interface     (VNET_PUBINTERFACE) given each assigned
 *                            elastic IP as a /32, so the CC answers ARP for
 *                            it and the DNAT rule sees its packets; a new
 *                            one is announced with a gratuitous ARP
 *   IPv4 forwarding          on; ICMP redirects off (groups share the bridge:
 *                            a redirect would send an instance around the
 *                            filter)
 *
 * Only addresses the CC manages are ever removed: on the bridge, those
 * inside the private plan; on the public interface, /32s inside the public
 * range.  Anything else an administrator put there stays.
 */
#ifndef CC_NETIF_H
#define CC_NETIF_H

#include <stdint.h>

#include "cc/netmodel.h"
#include "common/err.h"

struct cc_netif_scope {
    uint32_t plan_base, plan_mask;          /* host order: the private plan */
    int (*is_public)(void *ctx, uint32_t ip);   /* in VNET_PUBLICIPS */
    void *ctx;
    int *garp_fd;             /* a packet socket kept by the caller (-1: none yet) */
};

int cc_netif_sync(const struct cc_net_model *m, const struct cc_netif_scope *scope,
                  struct oc_err *err) OC_WUR;

#endif
