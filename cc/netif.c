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
#include "common/nlink.h"

#define WANT_MAX 4096

struct want {
    uint32_t ip;       /* host order */
    unsigned prefix;
    int present;
};

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
        return oc_nl_fail(err, "list addresses", rc);
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
                return oc_nl_fail(err, "remove address", rc);
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
            return oc_nl_fail(err, "add address", rc);
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

static int never_managed(const struct cc_netif_scope *s, uint32_t ip, unsigned prefix)
{
    (void)s;
    (void)ip;
    (void)prefix;
    return 0;
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

/* The wanted address of ip/prefix, appended when ip parses. */
static void want(struct want *w, size_t *nw, const char *ip, unsigned prefix)
{
    if (cc_ip_parse(ip, &w[*nw].ip) != OC_OK)
        return;
    w[*nw].prefix = prefix;
    w[*nw].present = 0;
    (*nw)++;
}

/* Every group network's gateway on the one bridge. */
static int sync_bridge(struct nl_sock *sk, const struct cc_net_model *m,
                       const struct cc_netif_scope *scope, struct want *w, struct oc_err *err)
{
    struct oc_nl_make bridge = { OC_NL_BRIDGE };
    size_t nw = 0;
    uint32_t ip;
    int rc, idx;

    if (!(idx = oc_nl_link_up(sk, m->bridge, &bridge, NULL, err)))
        return err->code ? err->code : OC_EIO;
    rc = sysctls(m->bridge, err);
    if (rc)
        return rc;
    if (!m->filter) {
        /* STATIC: the bridge's addresses are the administrator's; only
         * the metadata address is added when missing, nothing removed. */
        if (m->md_ip && m->md_ip[0])
            want(w, &nw, m->md_ip, 32);
        return sync_addrs(sk, idx, w, nw, never_managed, scope, err);
    }
    for (size_t i = 0; i < m->ngroups; i++)
        if (m->groups[i].has_net)
            want(w, &nw, m->groups[i].gateway, m->groups[i].prefix);
    /* The metadata proxy's address, when it is in the plan, is the CC's
     * too (the proxy binds it). */
    if (m->md_ip && m->md_ip[0] && cc_ip_parse(m->md_ip, &ip) == OC_OK &&
        gateway_managed(scope, ip, 32))
        want(w, &nw, m->md_ip, 32);
    return sync_addrs(sk, idx, w, nw, gateway_managed, scope, err);
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
    if ((rc = oc_nl_open(&sk, err)) != OC_OK)
        return rc;
    rc = sync_bridge(sk, m, scope, w, err);
    if (rc == OC_OK && m->pubif && m->pubif[0]) {
        unsigned char mac[6];

        if (!(idx = oc_nl_link_up(sk, m->pubif, NULL, mac, err))) {
            rc = err->code ? err->code : OC_EIO;
        } else {
            nw = 0;
            for (size_t i = 0; i < m->neips; i++)
                want(w, &nw, m->eips[i].public_ip, 32);
            rc = sync_addrs(sk, idx, w, nw, public_managed, scope, err);
            /* Neighbours that cached the address elsewhere (or failed to
             * resolve it before) learn where it lives now. */
            for (size_t i = 0; rc == OC_OK && i < nw; i++)
                if (!w[i].present)
                    garp(scope->garp_fd, idx, mac, w[i].ip);
        }
    }
    oc_nl_close(sk);
    return rc;
}
