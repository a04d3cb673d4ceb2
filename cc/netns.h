/*
 * netns.h - doing things inside the data plane's network namespace
 * (VNET_NETNS, a name under /run/netns as `ip netns add` makes them).
 *
 * setns() moves only the calling thread, so each job runs on a thread of
 * its own that enters the namespace, does the work and ends: sockets it
 * opens (netlink, nftables, listeners) stay in that namespace after it.
 * An empty or NULL name means the CC's own namespace.
 */
#ifndef CC_NETNS_H
#define CC_NETNS_H

#include "common/err.h"

/* Runs fn(arg, err) inside the namespace and returns what it returned. */
int cc_netns_run(const char *netns, int (*fn)(void *arg, struct oc_err *err), void *arg,
                 struct oc_err *err) OC_WUR;
/* An O_RDONLY|O_CLOEXEC descriptor of the namespace (for a child to
 * setns() into before exec), -1 with err set when it cannot be opened. */
int cc_netns_open(const char *netns, struct oc_err *err);

#endif
