/*
 * nft.h - the cluster's nftables table (family ip, one table the CC owns,
 * named by CC_NFT_TABLE, default "overcast").
 *
 * The whole table is rendered from the model (netmodel.h) and replaced in
 * one libnftables transaction ("add table; delete table; table {...}"),
 * so a packet sees either the old rules or the new ones, never a mix, and
 * nothing outside the table is touched.  What the table holds:
 *
 *   prerouting (nat)   169.254.169.254:80 from the instances' bridge is
 *                      sent to the metadata proxy; each elastic IP is
 *                      DNATed to its instance's private address
 *   postrouting (nat)  an instance with an elastic IP leaves the private
 *                      plan from that address (SNAT)
 *   forward (filter)   replies pass (conntrack); a packet for a group's
 *                      network jumps to that group's chain
 *   chain g-<group>    its own network passes (instances of one group talk
 *                      freely, as in Eucalyptus), then each ingress rule
 *                      (tcp/udp ports, icmp type/code, CIDR or source
 *                      group = that group's network), then drop
 */
#ifndef CC_NFT_H
#define CC_NFT_H

#include "cc/netmodel.h"
#include "common/buf.h"
#include "common/err.h"

/* The table's text (without the replace preamble), appended to out. */
int cc_nft_render(const struct cc_net_model *m, struct oc_buf *out) OC_WUR;
/* Replaces the table with text (cc_nft_render's) in one transaction, in
 * the calling thread's network namespace. */
int cc_nft_apply(const char *table, const char *text, struct oc_err *err) OC_WUR;
/* Removes the table if it exists. */
int cc_nft_remove(const char *table, struct oc_err *err) OC_WUR;
/* Runs nft commands (a buffer of them, one transaction); the listing
 * commands' output is appended to out when out is non-NULL. */
int cc_nft_run(const char *cmds, struct oc_buf *out, struct oc_err *err) OC_WUR;

#endif
