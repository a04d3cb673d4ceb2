/*
 * dhcp.h - the cluster's DHCP server: one dnsmasq on the instances'
 * bridge, a child of the CC with a fixed argv, DHCP only (--port=0).
 *
 * Every instance has a static entry (MAC, address, its group's tag) in a
 * hosts file; each group network's router, netmask and broadcast are
 * options for its tag in an options file.  dnsmasq rereads both on SIGHUP,
 * so new instances and new group networks never need a restart: its one
 * dhcp-range is the whole private plan, static.  The files and the lease
 * file live in $OVERCAST_HOME/cc/.  A supervisor thread restarts dnsmasq
 * (after a second) whenever it exits; addresses are static, so no instance
 * loses its address across a restart.  dnsmasq runs as root (--user=root)
 * because it rereads files in the CC's private directory.
 */
#ifndef CC_DHCP_H
#define CC_DHCP_H

#include <sys/types.h>

#include "cc/netmodel.h"
#include "common/buf.h"
#include "common/err.h"

struct cc_dhcp_config {
    const char *dir;             /* dnsmasq.hosts, .opts, .leases, .log, .pid */
    const char *netns;           /* "" or NULL: the CC's own namespace */
    const char *bridge;
    const char *subnet, *netmask;   /* the whole private plan */
    const char *dnsmasq;         /* the program (PATH lookup when no '/') */
    unsigned lease_s;
};

/* The files' contents for a model, appended to out. */
int cc_dhcp_render_hosts(const struct cc_net_model *m, struct oc_buf *out) OC_WUR;
int cc_dhcp_render_opts(const struct cc_net_model *m, struct oc_buf *out) OC_WUR;
/* The argv dnsmasq runs with (NULL-terminated, strings owned by d). */
struct cc_dhcp;
const char *const *cc_dhcp_argv(const struct cc_dhcp *d);

/* Writes the files for m (creating them), then starts dnsmasq and its
 * supervisor. */
int cc_dhcp_start(const struct cc_dhcp_config *cfg, const struct cc_net_model *m,
                  struct cc_dhcp **out, struct oc_err *err) OC_WUR;
/* Rewrites the files when they change and signals dnsmasq (SIGHUP). */
int cc_dhcp_update(struct cc_dhcp *d, const struct cc_net_model *m, struct oc_err *err) OC_WUR;
/* dnsmasq's pid now (0 while it is being restarted) and how many times it
 * has been started. */
pid_t cc_dhcp_pid(struct cc_dhcp *d, unsigned *starts);
/* Stops dnsmasq (SIGTERM) and the supervisor. */
void cc_dhcp_stop(struct cc_dhcp *d);

#endif
