/*
 * addr.c - the private address plan (see addr.h).
 */
#include "cc/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
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

/* "AA:bb:..": six hex pairs; out gets the lower-case form. */
static int mac_parse(const char *s, size_t n, char out[18])
{
    if (n != 17)
        return OC_EINVAL;
    for (size_t i = 0; i < 17; i++) {
        char ch = s[i];

        if (i % 3 == 2) {
            if (ch != ':')
                return OC_EINVAL;
            out[i] = ':';
        } else if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')) {
            out[i] = ch;
        } else if (ch >= 'A' && ch <= 'F') {
            out[i] = (char)(ch - 'A' + 'a');
        } else {
            return OC_EINVAL;
        }
    }
    out[17] = '\0';
    /* A unicast address: the low bit of the first byte clear. */
    return (strtol((char[3]){ out[0], out[1], 0 }, NULL, 16) & 1) ? OC_EINVAL : OC_OK;
}

int cc_macmap_parse(const struct cc_plan *p, const char *spec, struct cc_static_addr **out,
                    size_t *n, struct oc_err *err)
{
    size_t cap = 0;
    const char *s = spec;

    *out = NULL;
    *n = 0;
    while (*s) {
        size_t len = strcspn(s, " ,\t\n");
        const char *eq = memchr(s, '=', len);
        char ip[16];
        struct cc_static_addr a;

        if (len == 0) {
            s++;
            continue;
        }
        if (!eq || (size_t)(s + len - eq - 1) >= sizeof(ip) ||
            mac_parse(s, (size_t)(eq - s), a.mac) != OC_OK) {
            free(*out);
            *out = NULL;
            return oc_err_set(err, OC_EINVAL, "VNET_MACMAP: '%.*s' is not MAC=IP (a unicast"
                              " MAC)", (int)(len > 60 ? 60 : len), s);
        }
        memcpy(ip, eq + 1, (size_t)(s + len - eq - 1));
        ip[s + len - eq - 1] = '\0';
        if (cc_ip_parse(ip, &a.ip) != OC_OK || (a.ip & p->netmask) != p->subnet ||
            a.ip == p->subnet || a.ip == (p->subnet | ~p->netmask)) {
            free(*out);
            *out = NULL;
            return oc_err_set(err, OC_EINVAL, "VNET_MACMAP: %.15s is not a host address of "
                              "VNET_SUBNET/VNET_NETMASK", ip);
        }
        for (size_t k = 0; k < *n; k++)
            if ((*out)[k].ip == a.ip || strcmp((*out)[k].mac, a.mac) == 0) {
                free(*out);
                *out = NULL;
                return oc_err_set(err, OC_EINVAL, "VNET_MACMAP: %s or %s appears twice",
                                  a.mac, ip);
            }
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct cc_static_addr *more = realloc(*out, ncap * sizeof(*more));

            if (!more) {
                free(*out);
                *out = NULL;
                return oc_err_set(err, OC_ENOMEM, "out of memory");
            }
            *out = more;
            cap = ncap;
        }
        (*out)[(*n)++] = a;
        s += len;
    }
    return OC_OK;
}
