/*
 * mdproxy.h - the cluster's instance metadata proxy.
 *
 * Instances ask http://169.254.169.254/...; the cluster's nftables table
 * redirects that to this listener (bind_ip:port, inside VNET_NETNS when
 * one is configured).  The proxy names the instance by the request's
 * source address (its private IP, which the CC gave it and its DHCP
 * server pins to its MAC) and forwards the request to the CLC as
 *   GET {upstream}/services/metadata/{instance-id}{path}
 * signed with the CC's own key (SigV4, service "metadata"): the CLC trusts
 * the instance id because only a CC may sign such a request, and an
 * instance can only ever read its own metadata because it cannot choose
 * its source address.  Anything that is not a GET of a plain path, or
 * comes from an address that is no live instance's, is refused here.
 */
#ifndef CC_MDPROXY_H
#define CC_MDPROXY_H

#include <stdint.h>

#include "common/err.h"

struct cc_mdproxy_config {
    const char *netns;            /* NULL/"": the current namespace */
    const char *bind_ip;          /* e.g. "10.101.0.1" */
    unsigned port;                /* 0 = any free port (tests) */
    unsigned threads;             /* 0 = 4 */
    const char *upstream;         /* the CLC: "http://127.0.0.1:8773" */
    const char *access_key_id;    /* the CC's key */
    const char *secret_key;
    const char *region;
    /* The live instance whose private address is ip: OC_OK and its id. */
    int (*instance_of)(void *ctx, const char *ip, char id[24]);
    void *ctx;
};

struct cc_mdproxy;

int cc_mdproxy_start(const struct cc_mdproxy_config *cfg, struct cc_mdproxy **out,
                     struct oc_err *err) OC_WUR;
uint16_t cc_mdproxy_port(const struct cc_mdproxy *p);
void cc_mdproxy_stop(struct cc_mdproxy *p);

/* A listening TCP socket on ip:port, opened inside netns (NULL/"": here).
 * Shared with anything else the CC serves inside its namespace. */
int cc_listen_in_netns(const char *netns, const char *ip, unsigned port, int *fd,
                       struct oc_err *err) OC_WUR;

#endif
