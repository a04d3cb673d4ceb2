/*
 * netstate.h - what the cluster's data plane must enforce, as the CLC said
 * it: each security group's ingress and egress rules (ccConfigureNetwork)
 * and the elastic IPs (ccAssignAddress / ccUnassignAddress) from the cluster's
 * public range (VNET_PUBLICIPS).  Kept in $OVERCAST_HOME/cc/cc.db beside
 * cluster.c's tables, so a restarted CC rebuilds the same rules.  Every
 * change bumps a generation number: the data plane (nftables) renders the
 * whole model again when it moves.
 */
#ifndef CC_NETSTATE_H
#define CC_NETSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CC_NETSTATE_MAX_RULES 500     /* per group */
#define CC_NETSTATE_MAX_PUBLIC 65536  /* addresses in VNET_PUBLICIPS */

struct cc_rule {
    char proto[8];          /* tcp | udp | icmp | all | an IP protocol number 0-255 */
    int from_port, to_port; /* icmp: type and code, -1 = any; -1 when the
                               protocol has no ports (all, numbers) */
    char cidr[20];          /* "a.b.c.d/n" or "" */
    char src_group[64];     /* a group id or "" (exactly one of cidr and src_group):
                               the source of an ingress rule, the destination of
                               an egress one */
    int egress;             /* 0: traffic to the group's instances; 1: traffic
                               they start */
};

struct cc_eip {
    char public_ip[16];
    char instance_id[24];   /* "" when free */
    char private_ip[16];
};

struct cc_netstate;

/* public_ips: Eucalyptus's VNET_PUBLICIPS: space or comma separated
 * addresses and ranges "a.b.c.d-a.b.c.e"; may be empty. */
int cc_netstate_open(const char *dir, const char *public_ips, struct cc_netstate **out,
                     struct oc_err *err) OC_WUR;
void cc_netstate_close(struct cc_netstate *ns);

/*
 * Replaces a group's rules, both directions (validated: protocols, port
 * ranges, CIDRs, group ids); OC_EINVAL names the first bad one.
 * egress_filtered 0: what the group's instances start is not filtered
 * (its egress rules, if any, are kept but mean nothing: a CLC that says
 * nothing about egress); 1: only its egress rules let it out, none = no
 * instance-initiated traffic at all.
 */
int cc_netstate_configure(struct cc_netstate *ns, const char *group_id,
                          const struct cc_rule *rules, size_t n, int egress_filtered,
                          struct oc_err *err) OC_WUR;
/* The group's rules (malloc'd array, free()), ingress first, each
 * direction in the order given; absent group = none, egress not filtered.
 * egress_filtered may be NULL. */
int cc_netstate_rules(struct cc_netstate *ns, const char *group_id, struct cc_rule **out,
                      size_t *n, int *egress_filtered, struct oc_err *err) OC_WUR;
/* Every group that was configured (malloc'd array of 64-byte ids). */
int cc_netstate_groups(struct cc_netstate *ns, char (**ids)[64], size_t *n,
                       struct oc_err *err) OC_WUR;

/* OC_EINVAL: not in the public range; OC_EEXIST: held by another instance
 * (the same instance again is fine); an instance holds at most one. */
int cc_netstate_assign(struct cc_netstate *ns, const char *public_ip, const char *instance_id,
                       const char *private_ip, struct oc_err *err) OC_WUR;
/* OC_ENOTFOUND when the address is not assigned. */
int cc_netstate_unassign(struct cc_netstate *ns, const char *public_ip,
                         struct oc_err *err) OC_WUR;
/* Drops whatever an instance held (it terminated). */
void cc_netstate_forget_instance(struct cc_netstate *ns, const char *instance_id);
/* The whole public range with assignments (malloc'd; free()). */
int cc_netstate_eips(struct cc_netstate *ns, struct cc_eip **out, size_t *n,
                     struct oc_err *err) OC_WUR;

/* Only the assigned addresses (malloc'd; free()). */
int cc_netstate_assigned(struct cc_netstate *ns, struct cc_eip **out, size_t *n,
                         struct oc_err *err) OC_WUR;
/* Whether ip (host order) is in VNET_PUBLICIPS (the range never changes). */
int cc_netstate_is_public(struct cc_netstate *ns, uint32_t ip);

uint64_t cc_netstate_generation(struct cc_netstate *ns);

#endif
