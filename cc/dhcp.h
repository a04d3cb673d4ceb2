/*
 * dhcp.h - the cluster's DHCP server: one dnsmasq on the instances'
 * bridge, a child of the CC with a fixed argv, DHCP only (--port=0).
 *
 * Each group network is a static dhcp-range of its own, tagged n<index>,
 * in dnsmasq.conf (dnsmasq's configuration file, read only at start); its
 * router, netmask and broadcast are options for that tag in an options
 * file; every instance has a static entry (MAC, address, instance id) in a
 * hosts file.  dnsmasq rereads hosts and options on SIGHUP, so a new
 * instance costs a SIGHUP; a network appearing or going changes the
 * ranges and costs a restart (at once, by the supervisor).
 *
 * Host entries carry no tag (set:): dnsmasq 2.90, Debian 12's, frees
 * stack memory on the SIGHUP after a tagged host has been served and
 * crashes (fixed in 2.91, "Fix crash when reloading DHCP config on
 * SIGHUP").  The range a host's address lies in gives its tag instead.
 *
 * The files and the lease file live in $OVERCAST_HOME/cc/.  A supervisor
 * thread restarts dnsmasq (after a second) whenever it exits; addresses
 * are static, so no instance loses its address across a restart.  dnsmasq
 * runs as root (--user=root) because it rereads files in the CC's private
 * directory.
 */
#ifndef CC_DHCP_H
#define CC_DHCP_H

#include <sys/types.h>

#include "cc/netmodel.h"
#include "common/buf.h"
#include "common/err.h"

struct cc_dhcp_config {
    const char *dir;             /* dnsmasq.conf, .hosts, .opts, .leases, .log, .pid */
    const char *netns;           /* "" or NULL: the CC's own namespace */
    const char *bridge;
    const char *dnsmasq;         /* the program (PATH lookup when no '/') */
    unsigned lease_s;
};

/* The files' contents for a model, appended to out: the hosts file, the
 * options file, and dnsmasq.conf's dhcp-range lines. */
int cc_dhcp_render_hosts(const struct cc_net_model *m, struct oc_buf *out) OC_WUR;
int cc_dhcp_render_ranges(const struct cc_net_model *m, unsigned lease_s,
                          struct oc_buf *out) OC_WUR;
int cc_dhcp_render_opts(const struct cc_net_model *m, struct oc_buf *out) OC_WUR;
/* The argv dnsmasq runs with (NULL-terminated, strings owned by d). */
struct cc_dhcp;
const char *const *cc_dhcp_argv(const struct cc_dhcp *d);

/* Writes the files for m (creating them), then starts dnsmasq and its
 * supervisor. */
int cc_dhcp_start(const struct cc_dhcp_config *cfg, const struct cc_net_model *m,
                  struct cc_dhcp **out, struct oc_err *err) OC_WUR;
/* Rewrites the files that change; SIGHUP when hosts or options did, a
 * restart when the ranges did. */
int cc_dhcp_update(struct cc_dhcp *d, const struct cc_net_model *m, struct oc_err *err) OC_WUR;
/* Stops dnsmasq (SIGTERM) and the supervisor. */
void cc_dhcp_stop(struct cc_dhcp *d);

#endif
