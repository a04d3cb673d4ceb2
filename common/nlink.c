/*
 * nlink.c - links through libnl-route-3 (nlink.h).
 */
#include "common/nlink.h"

#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <stdio.h>
#include <string.h>

int oc_nl_fail(struct oc_err *err, const char *what, int nlerr)
{
    return oc_err_set(err, OC_EIO, "netlink: %s: %s", what, nl_geterror(nlerr));
}

int oc_nl_open(struct nl_sock **out, struct oc_err *err)
{
    struct nl_sock *sk = nl_socket_alloc();
    int rc;

    *out = NULL;
    if (!sk)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = nl_connect(sk, NETLINK_ROUTE);
    if (rc < 0) {
        nl_socket_free(sk);
        return oc_nl_fail(err, "connect", rc);
    }
    *out = sk;
    return OC_OK;
}

void oc_nl_close(struct nl_sock *sk)
{
    if (sk)
        nl_socket_free(sk);
}

static int make_bridge(struct nl_sock *sk, const char *name, struct oc_err *err)
{
    struct rtnl_link *l = rtnl_link_bridge_alloc();
    int rc;

    if (!l)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rtnl_link_set_name(l, name);
    rc = rtnl_link_add(sk, l, NLM_F_CREATE);
    rtnl_link_put(l);
    if (rc < 0 && rc != -NLE_EXIST)
        return oc_nl_fail(err, "create bridge", rc);
    return OC_OK;
}

int oc_nl_link_up(struct nl_sock *sk, const char *name, const struct oc_nl_make *make,
                  unsigned char mac[6], struct oc_err *err)
{
    struct rtnl_link *link = NULL, *change;
    int rc, idx;

    rc = rtnl_link_get_kernel(sk, 0, name, &link);
    if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) {
        if (!make || make->kind == OC_NL_EXISTING) {
            oc_err_set(err, OC_ENOTFOUND, "interface %s does not exist", name);
            return 0;
        }
        if (make_bridge(sk, name, err) != OC_OK)
            return 0;
        rc = rtnl_link_get_kernel(sk, 0, name, &link);
    }
    if (rc < 0) {
        oc_nl_fail(err, name, rc);
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
            oc_nl_fail(err, "bring link up", rc);
            return 0;
        }
    }
    rtnl_link_put(link);
    return idx;
}
