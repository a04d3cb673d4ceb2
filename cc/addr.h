/*
 * addr.h - the cluster's private address plan, as Eucalyptus's MANAGED
 * modes lay it out: VNET_SUBNET/VNET_NETMASK is cut into networks of
 * VNET_ADDRSPERNET addresses, one per security group.  In network k:
 *   base + 0           the network address
 *   base + 1           the gateway: the CC's address on that network
 *   base + 2 .. n - 2  instances
 *   base + n - 1       broadcast
 * and an instance's MAC is derived from its IP (d0:0d:a:b:c:d), so the
 * DHCP host entry, the NIC and the address always agree.  Pure functions;
 * which network and address are taken lives in cluster.c's database.
 */
#ifndef CC_ADDR_H
#define CC_ADDR_H

#include <stdint.h>

#include "common/err.h"

struct cc_plan {
    uint32_t subnet;      /* host byte order */
    uint32_t netmask;
    uint32_t per_net;     /* a power of two, 8 .. 65536 */
    unsigned networks;    /* how many networks fit */
};

struct cc_network {
    uint32_t base, gateway, first, last, broadcast, mask;
    unsigned prefix;      /* e.g. 27 */
};

int cc_plan_init(struct cc_plan *p, const char *subnet, const char *netmask, unsigned per_net,
                 struct oc_err *err) OC_WUR;
int cc_plan_network(const struct cc_plan *p, unsigned idx, struct cc_network *out) OC_WUR;
/* Which network an address is in, -1 when none (or not an instance address). */
int cc_plan_index_of(const struct cc_plan *p, uint32_t ip, unsigned *idx);

/* "10.1.2.3"; out holds 16 bytes. */
void cc_ip_str(uint32_t ip, char out[16]);
int cc_ip_parse(const char *s, uint32_t *out);
/* d0:0d:0a:01:02:03 for 10.1.2.3; out holds 18 bytes. */
void cc_mac_of_ip(uint32_t ip, char out[18]);

/* VNET_MODE=STATIC: Eucalyptus's VNET_MACMAP, "MAC=IP MAC=IP ..." (space
 * or comma separated): the only addresses instances get, each with its
 * MAC.  Every IP a host address of the plan's subnet, no MAC or IP twice,
 * MACs unicast (stored lower-case).  *out malloc'd (free()). */
struct cc_static_addr {
    uint32_t ip;
    char mac[18];
};
int cc_macmap_parse(const struct cc_plan *p, const char *spec, struct cc_static_addr **out,
                    size_t *n, struct oc_err *err) OC_WUR;

#endif
