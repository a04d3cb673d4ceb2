/*
 * secgroups.h - EC2-Classic security groups (clc/secgroups.c): the EC2
 * actions in clc_secgroup_actions[], the `default` group every account gets
 * when it is created, and a plain view of a group's rules for the cluster
 * controller, which enforces them.  This module stores rules; it never
 * touches firewalls.
 *
 * Groups live in security_groups, rules in sg_rules (clc/schema.c), one
 * row per peer: a rule allows one protocol and port range from (ingress) or
 * to (egress) either one CIDR (IPv4 or IPv6, stored normalised to its
 * network address) or one peer group.  Ports are -1 when the protocol has
 * none (protocol "-1" = all traffic, or a protocol number other than tcp,
 * udp, icmp and icmpv6); for icmp they are the ICMP type and code.
 *
 * The parsing helpers below are pure (no database; clc/secgroups_parse.c)
 * and exposed for the unit tests in tests/unit/test_secgroups.c.
 */
#ifndef CLC_SECGROUPS_H
#define CLC_SECGROUPS_H

#include <stddef.h>

#include "common/arena.h"
#include "common/db.h"
#include "common/err.h"
#include "common/query.h"

/* ---- for the cluster controller (issue 5) and RunInstances (issue 6) ---- */

/* One stored rule.  Strings are "" rather than NULL when absent. */
struct clc_sg_rule {
    int egress;                 /* 0 ingress, 1 egress */
    const char *protocol;       /* "tcp" "udp" "icmp" "icmpv6" "-1" or "0".."255" */
    int from_port, to_port;     /* -1 when not applicable; icmp: type, code */
    const char *cidr;           /* "10.0.0.0/8", "2001:db8::/32" or "" */
    const char *src_group_id;   /* peer group "sg-…" or "" */
    const char *src_account_id; /* owner of the peer group, or "" */
    const char *src_group_name; /* its name, "" if it no longer exists */
    const char *description;
    const char *rule_id;        /* "sgr-…" */
};

/*
 * Loads every rule of group_id (ingress first, then egress, each in the
 * order they were authorized) into an arena array.  A group without rules
 * gives *n == 0; an unknown group is not an error (also *n == 0), so callers
 * check existence with clc_secgroup_resolve() when it matters.
 */
int clc_secgroup_rules_load(struct oc_db *db, struct oc_arena *a, const char *group_id,
                            struct clc_sg_rule **rules, size_t *n,
                            struct oc_err *err) OC_WUR;

/*
 * Finds a group of account_id by `sg-` id or by name (ids are recognised by
 * their form).  Fills *group_id and *group_name (arena copies, either may be
 * NULL); OC_ENOTFOUND when the account has no such group.
 */
int clc_secgroup_resolve(struct oc_db *db, struct oc_arena *a, const char *account_id,
                         const char *name_or_id, const char **group_id,
                         const char **group_name, struct oc_err *err) OC_WUR;

/*
 * Sets *in_use when a live (not terminated) instance is a member of
 * group_id, so DeleteSecurityGroup answers DependencyViolation.
 */
int clc_secgroup_in_use_by_instances(struct oc_db *db, const char *group_id, int *in_use,
                                     struct oc_err *err) OC_WUR;

/* ---- parsing (pure; exposed for unit tests) ---- */

/*
 * An error found while parsing a request: the AWS code (chosen here, in the
 * API layer) and its message, both static or arena memory.
 */
struct clc_sg_perr {
    const char *code;
    const char *msg;
};

/*
 * Parses an IPv4 ("a.b.c.d/n", decimal octets without leading zeros, n
 * 0..32) or IPv6 ("x::y/n", n 0..128) CIDR block and normalises it to its
 * network address ("10.1.2.3/8" -> "10.0.0.0/8").  Returns the arena string,
 * or NULL when the text is not a CIDR block.
 */
const char *clc_sg_cidr_normalize(struct oc_arena *a, const char *text, int *is_ipv6);

/*
 * Normalises a protocol: names case-insensitively (tcp, udp, icmp, icmpv6,
 * all -> "-1"), "-1", and numbers 0..255 (6 -> "tcp", 17 -> "udp",
 * 1 -> "icmp", 58 -> "icmpv6").  NULL when invalid.
 */
const char *clc_sg_protocol_normalize(struct oc_arena *a, const char *text);

/* Whether a normalised protocol has ports (tcp, udp) or an ICMP type and
 * code (icmp, icmpv6); other protocols always mean all ports. */
int clc_sg_proto_has_ports(const char *protocol);

/*
 * Checks and completes the ports of a normalised protocol; from/to are the
 * texts sent (NULL when absent).  tcp/udp need both, 0..65535, from <= to;
 * icmp/icmpv6 take type and code -1..255 (absent = -1, type -1 needs code
 * -1); other protocols allow all ports and store -1/-1 whatever was sent.
 * Returns 0, or -1 with *pe set.
 */
int clc_sg_ports_parse(struct oc_arena *a, const char *protocol, const char *from,
                       const char *to, int *from_port, int *to_port,
                       struct clc_sg_perr *pe);

/* One peer of a permission, as the request named it (not yet resolved). */
struct clc_sg_peer {
    const char *cidr;            /* normalised CIDR, or NULL for a group */
    int ipv6;
    const char *group_id;        /* Groups.M.GroupId / GroupName / UserId */
    const char *group_name;
    const char *user_id;
    const char *description;     /* "" when absent */
};

/* One permission: a protocol and port range with its peers. */
struct clc_sg_perm {
    const char *protocol;        /* normalised */
    int from_port, to_port;
    struct clc_sg_peer *peers;
    size_t npeers;
};

/*
 * Parses the permissions of Authorize/Revoke*: IpPermissions.N.IpProtocol,
 * .FromPort, .ToPort, .IpRanges.M.CidrIp(+Description),
 * .Ipv6Ranges.M.CidrIpv6(+Description), .Groups.M.GroupId/GroupName/UserId
 * (+Description), .PrefixListIds.M.PrefixListId (refused: none exist); and
 * the legacy flat form IpProtocol, FromPort, ToPort, CidrIp,
 * SourceSecurityGroupName, SourceSecurityGroupOwnerId, where a source group
 * without a protocol means tcp 0-65535, udp 0-65535 and icmp -1/-1 (as
 * EC2-Classic did).  Every permission needs at least one peer.  Returns 0
 * with an arena array in *perms (at least one), or -1 with *pe set.
 */
int clc_sg_perms_parse(struct oc_arena *a, const struct oc_query *q,
                       struct clc_sg_perm **perms, size_t *n, struct clc_sg_perr *pe);

/* Group names and descriptions: 1..255 printable ASCII characters; names
 * may not start with "sg-".  Returns 0 or -1 with *pe set. */
int clc_sg_name_check(struct oc_arena *a, const char *what, const char *value,
                      struct clc_sg_perr *pe);

/* Whether text has the form of a group id: "sg-" and 8 or 17 hex digits. */
int clc_sg_id_valid(const char *text);

#endif
