/*
 * instances.h - what the instance modules share: the EC2 Query actions
 * (clc/instances.c, clc/instance_ops.c), the event receiver and the
 * reconciliation poller (clc/events.c, clc/poller.c), elastic IPs
 * (clc/addresses.c) and the metadata service (clc/metadata.c).
 *
 * clc.db is the desired state and the record of what the clusters said:
 * an instance row is written (pending, with its cluster) before
 * ccRunInstances is sent, its state follows the cluster's events and the
 * poller's full describes, and its public address is the elastic IP
 * associated with it.
 */
#ifndef CLC_INSTANCES_H
#define CLC_INSTANCES_H

#include <stddef.h>
#include <time.h>

#include "clc/clc.h"
#include "clc/clusters.h"

/* Security groups per instance (AWS's default quota); the first decides
 * its network on the cluster. */
#define CLC_MAX_GROUPS 5

/* EC2's state code of a state name (pending 0, running 16, ...), -1 when
 * it is none of EC2's. */
int clc_state_code(const char *state);
/* Whether an instance in this state still holds a place on a node. */
int clc_state_live(const char *state);

/* One instance as clc.db holds it. */
struct clc_instance {
    const char *id, *reservation_id, *account_id, *image_id, *kernel_id, *ramdisk_id;
    const char *instance_type, *key_name, *cluster, *node, *state, *state_reason;
    const char *private_ip, *mac, *public_ip, *architecture, *root_device_type;
    const char *root_device_name, *platform, *client_token;
    const char *groups;           /* "id\tname\n...", in the order given at launch */
    const char *private_dns, *public_dns;   /* set by clc_instance_names() */
    int launch_index, node_up, disable_api_termination, has_user_data;
    time_t launch_time, state_time;
};
/* The instance `id` (any account); OC_ENOTFOUND when there is none. */
int clc_instance_load(struct oc_db *db, struct oc_arena *a, const char *id,
                      struct clc_instance *out, struct oc_err *err) OC_WUR;
/* Fills private_dns and public_dns ("" for an address it lacks, and for a
 * terminated instance): ip-A-B-C-D.<region>.compute.internal and
 * ec2-A-B-C-D.<region>.compute.<CLC_DNS_DOMAIN>. */
void clc_instance_names(struct clc_req *r, struct clc_instance *in);
/* <elem><code>N</code><name>state</name></elem> */
void clc_state_elem(struct oc_xmlw *w, const char *elem, const char *state);
/* <groupSet> of the instance's groups (with their names unless ids_only). */
void clc_instance_groups_write(struct clc_req *r, const struct clc_instance *in, int ids_only);
/* Its groups split: ids[k], names[k]. */
size_t clc_instance_groups(struct oc_arena *a, const struct clc_instance *in,
                           const char ***ids, const char ***names);
/* Its user data (decoded); *len 0 and *data NULL when it has none. */
int clc_instance_user_data(struct oc_db *db, struct oc_arena *a, const char *id,
                           const void **data, size_t *len, struct oc_err *err) OC_WUR;

/*
 * Records what a cluster said about one of its instances: state (a
 * node's `crashed` is stored as `stopped` with the reason), reason, and
 * when (`at`: a report older than the recorded state is ignored).  Empty
 * strings leave node, address and MAC as they are.  OC_ENOTFOUND when the
 * cluster has no such instance in clc.db.  A terminated instance's
 * elastic IP is no longer associated with it.
 */
struct clc_instance_news {
    const char *id, *cluster, *state, *reason;
    time_t at;
    const char *node, *private_ip, *mac;
    int node_up;                  /* -1: unknown */
};
int clc_instance_record(struct oc_db *db, const struct clc_instance_news *n,
                        struct oc_err *err) OC_WUR;

/* ---- the network of a security group on its clusters ---- */

/* Sends the rules of group gid, ingress and egress, to cluster cl
 * (ccConfigureNetwork with Egress=rules: the CC replaces the group's rules
 * whole and lets its instances start only what the egress rules allow). */
int clc_net_push_group(struct clc *c, struct oc_db *db, struct oc_arena *a,
                       const struct clc_cluster *cl, const char *gid,
                       struct oc_err *err) OC_WUR;
/* After a rule change: pushes gid to every cluster where it has live
 * instances.  A cluster that cannot be reached is left for the poller,
 * which pushes every group of a cluster that missed a change. */
void clc_net_group_changed(struct clc_req *r, const char *gid);
/* Pushes every group with live instances on cl. */
int clc_net_push_cluster(struct clc *c, struct oc_db *db, struct oc_arena *a,
                         const struct clc_cluster *cl, struct oc_err *err) OC_WUR;

/* The actions of instance_ops.c (listed in clc_instance_actions). */
int clc_terminate_instances(struct clc_req *r);
int clc_stop_instances(struct clc_req *r);
int clc_start_instances(struct clc_req *r);
int clc_reboot_instances(struct clc_req *r);
int clc_get_console_output(struct clc_req *r);
int clc_describe_instance_status(struct clc_req *r);
int clc_describe_instance_attribute(struct clc_req *r);
int clc_modify_instance_attribute(struct clc_req *r);

/* Writes one instance item (RunInstances, DescribeInstances). */
void clc_instance_write(struct clc_req *r, const struct clc_instance *in,
                        const struct clc_tagset *tags);

#endif
