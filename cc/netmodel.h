/*
 * netmodel.h - one snapshot of everything the cluster's data plane must
 * enforce, gathered from cluster.c (group networks, live instances) and
 * netstate.c (rules, elastic IPs) by dataplane.c, and rendered whole by
 * nft.c (the nftables table) and dhcp.c (dnsmasq's host and option files).
 * Renderers are pure: the same model always gives the same bytes, which is
 * what lets a restarted CC rebuild its table identically and lets unit
 * tests compare against golden files.
 */
#ifndef CC_NETMODEL_H
#define CC_NETMODEL_H

#include <stddef.h>

#include "cc/netstate.h"

#define CC_NET_MAX_GROUPS 5      /* security groups per instance (CC_MAX_GROUPS) */

/*
 * A security group with at least one live instance here.  A group that
 * is the first group of one of them has a network (has_net: index, cidr,
 * gateway, ...); a group that only some instances have besides their
 * first has none: it brings its rules and its membership, not addresses.
 */
struct cc_net_group {
    char id[64];                 /* security group id */
    int has_net;
    unsigned index;              /* its network's index in the address plan */
    char cidr[20];               /* "10.101.0.32/27" */
    char gateway[16];            /* the CC's address on it */
    char netmask[16], broadcast[16];
    unsigned prefix;
    /* Its rules, both directions (cc_rule.egress).  Egress is what the
     * rules allow: none = nothing instance-initiated leaves; a group whose
     * egress is not filtered carries the rule "all to 0.0.0.0/0". */
    const struct cc_rule *rules;
    size_t nrules;
};

struct cc_net_host {
    char id[24];                 /* instance id */
    char mac[18];
    char ip[16];
    unsigned group;              /* index into groups[]: its first group, its network */
    unsigned extra[CC_NET_MAX_GROUPS - 1];  /* its other groups (indexes into groups[]) */
    unsigned nextra;
};

struct cc_net_model {
    const char *table;           /* nftables table name (family ip) */
    const char *bridge;          /* the instances' bridge, in the CC's namespace */
    int filter;                  /* MANAGED-NOVLAN: groups are isolated and filtered;
                                    0 in STATIC (one network, the admin's addresses) */
    const char *pubif;           /* VNET_PUBINTERFACE ("": none) */
    const char *subnet;          /* the whole private plan, "10.101.0.0/16" */
    const char *md_ip;           /* metadata proxy address ("": no redirect) */
    unsigned md_port;
    struct cc_net_group *groups; /* those with a network first, by index;
                                    then the others, by id */
    size_t ngroups;
    struct cc_net_host *hosts;   /* sorted by ip */
    size_t nhosts;
    struct cc_eip *eips;         /* assigned elastic IPs only, sorted by public_ip */
    size_t neips;
};

#endif
