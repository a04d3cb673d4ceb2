/*
 * nft.h - the cluster's nftables table (family ip, one table the CC owns,
 * named by CC_NFT_TABLE, default "overcast").
 *
 * The whole table is rendered from the model (netmodel.h).  At start it
 * is replaced in one libnftables transaction ("add table; delete table;
 * table {...}"); after that each change is the difference between the
 * last text applied and the new one (cc_nft_update: only the chains and
 * map elements that changed), again one transaction.  A packet sees
 * either the old rules or the new ones, never a mix, and nothing outside
 * the table is touched.  What the table holds:
 *
 *   maps eip_dnat      public -> private, and eip_snat private -> public
 *   set m-<group>      the members of a group some instances have besides
 *                      their first: its network and those instances
 *   prerouting (nat)   169.254.169.254:80 from the instances' bridge is
 *                      sent to the metadata proxy; an address in eip_dnat
 *                      is DNATed to its instance's private address
 *   postrouting (nat)  an instance in eip_snat leaves the private plan
 *                      from its elastic IP (SNAT)
 *   forward (filter)   replies pass (conntrack: security groups are
 *                      stateful); a packet from a network whose group
 *                      filters egress jumps to e-<group>, then a packet
 *                      for a group's network jumps to g-<group>
 *   chain e-<group>    each egress rule of the group (return: allowed on),
 *                      then those of the instances' other groups for the
 *                      instances that have them, then drop
 *   chain g-<group>    the group's members pass (instances of one group
 *                      talk freely, as in Eucalyptus), then each ingress
 *                      rule (tcp/udp ports, icmp type/code, protocol
 *                      numbers; a CIDR or a group = its members), then the
 *                      members and rules of the instances' other groups
 *                      for the instances that have them, then drop
 * An instance's network is its first group's; the rules enforced for it
 * are the union of all its groups' (netmodel.h).
 */
#ifndef CC_NFT_H
#define CC_NFT_H

#include "cc/netmodel.h"
#include "common/buf.h"
#include "common/err.h"

/* The table's text (without the replace preamble), appended to out. */
int cc_nft_render(const struct cc_net_model *m, struct oc_buf *out) OC_WUR;
/*
 * A libnftables context kept between transactions, so each does not pay
 * for a new context and a fresh cache of the kernel's ruleset.  Its
 * netlink socket belongs to the network namespace of the thread that made
 * it: make and use it inside the same namespace.
 */
struct cc_nft;
int cc_nft_new(struct cc_nft **out, struct oc_err *err) OC_WUR;
void cc_nft_free(struct cc_nft *n);
/* Runs commands (one transaction); listings are appended to out. */
int cc_nft_exec(struct cc_nft *n, const char *cmds, struct oc_buf *out,
                struct oc_err *err) OC_WUR;

/* Replaces the table with text (cc_nft_render's) in one transaction, in
 * the calling thread's network namespace (n NULL: a context of its own). */
int cc_nft_apply(struct cc_nft *n, const char *table, const char *text,
                 struct oc_err *err) OC_WUR;
/*
 * The commands that turn the table rendered as old_text into new_text
 * without replacing it, appended to cmds: new chains, changed chains
 * flushed and refilled, map elements deleted and added, chains gone
 * deleted.  0 with cmds (empty when nothing changed); 1 when only a full
 * replace will do (old_text unknown, maps or base chains changed); -1 out
 * of memory.  Applied with cc_nft_run() as one transaction.
 */
int cc_nft_update(const char *table, const char *old_text, const char *new_text,
                  struct oc_buf *cmds) OC_WUR;
/* Removes the table if it exists. */
int cc_nft_remove(const char *table, struct oc_err *err) OC_WUR;
/* cc_nft_exec() on a context of its own. */
int cc_nft_run(const char *cmds, struct oc_buf *out, struct oc_err *err) OC_WUR;

#endif
