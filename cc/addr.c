/*
 * addr.c - the private address plan (see addr.h).
 */
#include "cc/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

int cc_ip_parse(const char *s, uint32_t *out)
{
    struct in_addr a;

    if (!s || inet_pton(AF_INET, s, &a) != 1)
        return OC_EINVAL;
    *out = ntohl(a.s_addr);
    return OC_OK;
}

void cc_ip_str(uint32_t ip, char out[16])
{
    snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

void cc_mac_of_ip(uint32_t ip, char out[18])
{
    snprintf(out, 18, "d0:0d:%02x:%02x:%02x:%02x", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
             ip & 255);
}

int cc_plan_init(struct cc_plan *p, const char *subnet, const char *netmask, unsigned per_net,
                 struct oc_err *err)
{
    uint32_t mask;

    memset(p, 0, sizeof(*p));
    if (cc_ip_parse(subnet, &p->subnet) || cc_ip_parse(netmask, &mask))
        return oc_err_set(err, OC_EINVAL, "VNET_SUBNET and VNET_NETMASK must be IPv4 addresses");
    /* A netmask is ones then zeros. */
    if (mask == 0 || (~mask & (~mask + 1)) != 0)
        return oc_err_set(err, OC_EINVAL, "VNET_NETMASK %s is not a netmask", netmask);
    if (p->subnet & ~mask)
        return oc_err_set(err, OC_EINVAL, "VNET_SUBNET %s has host bits under %s", subnet,
                          netmask);
    if (per_net < 8 || per_net > 65536 || (per_net & (per_net - 1)))
        return oc_err_set(err, OC_EINVAL, "VNET_ADDRSPERNET must be a power of two, 8-65536");
    if ((uint64_t)per_net > (uint64_t)~mask + 1)
        return oc_err_set(err, OC_EINVAL, "VNET_ADDRSPERNET is larger than the subnet");
    p->netmask = mask;
    p->per_net = per_net;
    p->networks = (unsigned)(((uint64_t)~mask + 1) / per_net);
    return OC_OK;
}

int cc_plan_network(const struct cc_plan *p, unsigned idx, struct cc_network *out)
{
    if (idx >= p->networks)
        return OC_EINVAL;
    out->base = p->subnet + idx * p->per_net;
    out->gateway = out->base + 1;
    out->first = out->base + 2;
    out->broadcast = out->base + p->per_net - 1;
    out->last = out->broadcast - 1;
    out->mask = ~(p->per_net - 1);
    out->prefix = 32;
    for (uint32_t v = p->per_net; v > 1; v >>= 1)
        out->prefix--;
    return OC_OK;
}

int cc_plan_index_of(const struct cc_plan *p, uint32_t ip, unsigned *idx)
{
    struct cc_network n;

    if ((ip & p->netmask) != p->subnet)
        return -1;
    *idx = (ip - p->subnet) / p->per_net;
    if (cc_plan_network(p, *idx, &n) != OC_OK || ip < n.first || ip > n.last)
        return -1;
    return 0;
}
