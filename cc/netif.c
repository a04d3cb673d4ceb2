/*
 * netif.c - bridge, gateway and public addresses through libnl (netif.h).
 */
#include "cc/netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cc/addr.h"

#define WANT_MAX 4096

struct want {
    uint32_t ip;       /* host order */
    unsigned prefix;
    int present;
};

static int nlfail(struct oc_err *err, const char *what, int nlerr)
{
    return oc_err_set(err, OC_EIO, "netlink: %s: %s", what, nl_geterror(nlerr));
}

/* The link's index, creating a bridge of that name when make_bridge and it
 * is missing; brought up either way.  0 with err set on failure. */
static int link_up(struct nl_sock *sk, const char *name, int make_bridge, unsigned char mac[6],
                   struct oc_err *err)
{
    struct rtnl_link *link = NULL, *change;
    int rc, idx;

    rc = rtnl_link_get_kernel(sk, 0, name, &link);
    if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) {
        if (!make_bridge) {
            oc_err_set(err, OC_ENOTFOUND, "interface %s does not exist", name);
            return 0;
        }
        struct rtnl_link *br = rtnl_link_bridge_alloc();

        if (!br) {
            oc_err_set(err, OC_ENOMEM, "out of memory");
            return 0;
        }
        rtnl_link_set_name(br, name);
        rc = rtnl_link_add(sk, br, NLM_F_CREATE);
        rtnl_link_put(br);
        if (rc < 0 && rc != -NLE_EXIST) {
            nlfail(err, "create bridge", rc);
            return 0;
        }
        rc = rtnl_link_get_kernel(sk, 0, name, &link);
    }
    if (rc < 0) {
        nlfail(err, name, rc);
        return 0;
    }
    idx = rtnl_link_get_ifindex(link);
    if (mac) {
        struct nl_addr *ll = rtnl_link_get_addr(link);

        memset(mac, 0, 6);
        if (ll && nl_addr_get_len(ll) == 6)
            memcpy(mac, nl_addr_get_binary_addr(ll), 6);
    }
    if (!(rtnl_link_get_flags(link) & IFF_UP)) {
        change = rtnl_link_alloc();
        if (!change) {
            rtnl_link_put(link);
            oc_err_set(err, OC_ENOMEM, "out of memory");
            return 0;
        }
        rtnl_link_set_flags(change, IFF_UP);
        rc = rtnl_link_change(sk, link, change, 0);
        rtnl_link_put(change);
        if (rc < 0) {
            rtnl_link_put(link);
            nlfail(err, "bring link up", rc);
            return 0;
        }
    }
    rtnl_link_put(link);
    return idx;
}

/* Makes the IPv4 addresses on ifindex that `managed` claims exactly the
 * wanted ones. */
static int sync_addrs(struct nl_sock *sk, int ifindex, struct want *w, size_t nw,
                      int (*managed)(const struct cc_netif_scope *s, uint32_t ip, unsigned prefix),
                      const struct cc_netif_scope *scope, struct oc_err *err)
{
    struct nl_cache *cache = NULL;
    struct nl_object *o;
    int rc = rtnl_addr_alloc_cache(sk, &cache);

    if (rc < 0)
        return nlfail(err, "list addresses", rc);
    for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_addr *a = (struct rtnl_addr *)o;
        struct nl_addr *local = rtnl_addr_get_local(a);
        uint32_t ip;
        unsigned prefix;
        int wanted = 0;

        if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET ||
            !local || nl_addr_get_len(local) != 4)
            continue;
        memcpy(&ip, nl_addr_get_binary_addr(local), 4);
        ip = ntohl(ip);
        prefix = (unsigned)rtnl_addr_get_prefixlen(a);
        for (size_t i = 0; i < nw; i++)
            if (w[i].ip == ip && w[i].prefix == prefix) {
                w[i].present = 1;
                wanted = 1;
            }
        if (!wanted && managed(scope, ip, prefix)) {
            rc = rtnl_addr_delete(sk, a, 0);
            if (rc < 0 && rc != -NLE_NOADDR) {
                nl_cache_free(cache);
                return nlfail(err, "remove address", rc);
            }
        }
    }
    nl_cache_free(cache);
    for (size_t i = 0; i < nw; i++) {
        struct rtnl_addr *a;
        struct nl_addr *local;
        uint32_t be = htonl(w[i].ip);

        if (w[i].present)
            continue;
        a = rtnl_addr_alloc();
        local = nl_addr_build(AF_INET, &be, 4);
        if (!a || !local) {
            if (a)
                rtnl_addr_put(a);
            if (local)
                nl_addr_put(local);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
        nl_addr_set_prefixlen(local, (int)w[i].prefix);
        rtnl_addr_set_ifindex(a, ifindex);
        rtnl_addr_set_family(a, AF_INET);
        rc = rtnl_addr_set_local(a, local);
        if (rc >= 0) {
            rtnl_addr_set_prefixlen(a, (int)w[i].prefix);
            rc = rtnl_addr_add(sk, a, 0);
        }
        nl_addr_put(local);
        rtnl_addr_put(a);
        if (rc < 0 && rc != -NLE_EXIST)
            return nlfail(err, "add address", rc);
    }
    return OC_OK;
}

/* A gratuitous ARP request for ip from this interface (best effort), on
 * the caller's packet socket, made at first use and kept: closing a packet
 * socket waits for an RCU grace period (10-25 ms measured here). */
static void garp(int *fdp, int ifindex, const unsigned char mac[6], uint32_t ip)
{
    struct sockaddr_ll to = { 0 };
    unsigned char pkt[28];
    uint32_t be = htonl(ip);

    /* Protocol 0: it only sends, nothing is queued to it. */
    if (*fdp < 0)
        *fdp = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (*fdp < 0)
        return;
    /* htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, op 1 (request);
     * sender and target are both the address. */
    memcpy(pkt, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
    memcpy(pkt + 8, mac, 6);
    memcpy(pkt + 14, &be, 4);
    memset(pkt + 18, 0, 6);
    memcpy(pkt + 24, &be, 4);
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ETH_P_ARP);
    to.sll_ifindex = ifindex;
    to.sll_halen = 6;
    memset(to.sll_addr, 0xff, 6);
    (void)!sendto(*fdp, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to));
}

static int gateway_managed(const struct cc_netif_scope *s, uint32_t ip, unsigned prefix)
{
    (void)prefix;
    return (ip & s->plan_mask) == s->plan_base;
}

static int public_managed(const struct cc_netif_scope *s, uint32_t ip, unsigned prefix)
{
    return prefix == 32 && s->is_public && s->is_public(s->ctx, ip);
}

/* Writes value unless the file already says it (writing ip_forward walks
 * every device, even to write what it holds). */
static int write_proc(const char *path, const char *value, struct oc_err *err)
{
    char now[16] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = strlen(value);

    if (fd >= 0) {
        ssize_t got = read(fd, now, sizeof(now) - 1);

        close(fd);
        if (got == (ssize_t)n && memcmp(now, value, n) == 0)
            return OC_OK;
    }
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, value, n) != (ssize_t)n) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        return oc_err_set(err, OC_EIO, "cannot write %s: %s", path, strerror(e));
    }
    close(fd);
    return OC_OK;
}

/*
 * Forwarding on, and no ICMP redirects from the bridge: every group's
 * network shares it, and a redirect would tell an instance to reach
 * another group's instance directly, around the filter.
 */
static int sysctls(const char *bridge, struct oc_err *err)
{
    char path[128];
    int rc = write_proc("/proc/sys/net/ipv4/ip_forward", "1\n", err);

    if (rc == OC_OK)
        rc = write_proc("/proc/sys/net/ipv4/conf/all/send_redirects", "0\n", err);
    snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/send_redirects", bridge);
    if (rc == OC_OK)
        rc = write_proc(path, "0\n", err);
    return rc;
}

int cc_netif_sync(const struct cc_net_model *m, const struct cc_netif_scope *scope,
                  struct oc_err *err)
{
    static struct want w[WANT_MAX + 1];   /* one sync at a time: dataplane.c's lock */
    struct nl_sock *sk;
    size_t nw = 0;
    int rc, idx;

    if (m->ngroups > WANT_MAX || m->neips > WANT_MAX)
        return oc_err_set(err, OC_ETOOBIG, "too many networks or elastic IPs");
    sk = nl_socket_alloc();
    if (!sk)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = nl_connect(sk, NETLINK_ROUTE);
    if (rc < 0) {
        nl_socket_free(sk);
        return nlfail(err, "connect", rc);
    }
    if (!(idx = link_up(sk, m->bridge, 1, NULL, err)))
        rc = err->code ? err->code : OC_EIO;
    else
        rc = sysctls(m->bridge, err);
    if (rc == OC_OK) {
        for (size_t i = 0; i < m->ngroups; i++) {
            if (cc_ip_parse(m->groups[i].gateway, &w[nw].ip) != OC_OK)
                continue;
            w[nw].prefix = m->groups[i].prefix;
            w[nw].present = 0;
            nw++;
        }
        /* The metadata proxy's address, when it is in the plan, is the
         * CC's too (the proxy binds it). */
        if (m->md_ip && m->md_ip[0] && cc_ip_parse(m->md_ip, &w[nw].ip) == OC_OK &&
            gateway_managed(scope, w[nw].ip, 32)) {
            w[nw].prefix = 32;
            w[nw].present = 0;
            nw++;
        }
        rc = sync_addrs(sk, idx, w, nw, gateway_managed, scope, err);
    }
    if (rc == OC_OK && m->pubif && m->pubif[0]) {
        unsigned char mac[6];

        if (!(idx = link_up(sk, m->pubif, 0, mac, err))) {
            rc = err->code ? err->code : OC_EIO;
        } else {
            nw = 0;
            for (size_t i = 0; i < m->neips; i++) {
                if (cc_ip_parse(m->eips[i].public_ip, &w[nw].ip) != OC_OK)
                    continue;
                w[nw].prefix = 32;
                w[nw].present = 0;
                nw++;
            }
            rc = sync_addrs(sk, idx, w, nw, public_managed, scope, err);
            /* Neighbours that cached the address elsewhere (or failed to
             * resolve it before) learn where it lives now. */
            for (size_t i = 0; rc == OC_OK && i < nw; i++)
                if (!w[i].present)
                    garp(scope->garp_fd, idx, mac, w[i].ip);
        }
    }
    nl_socket_free(sk);
    return rc;
}
