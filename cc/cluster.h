/*
 * cluster.h - what the cluster controller knows: its nodes (address,
 * capacity, health), the instances it placed (node, MAC, private IP, state)
 * and the networks of its security groups.  State lives in memory and,
 * written through, in $OVERCAST_HOME/cc/cc.db (SQLite), so a restarted CC
 * knows every node and instance again.
 *
 * Capacity of a node is its own report (ncDescribeResource: totals) minus
 * what the CC's live instances on it were given; reserving happens under
 * the cluster lock at placement, before any call to the node, so
 * concurrent requests never overcommit.  A poller asks every node for its
 * resources and instances every poll_s seconds: a node that fails
 * down_after polls in a row is down (its instances keep their last state,
 * reported with nodeState=down), and instance states the CC missed are
 * repaired from the node's answer.
 */
#ifndef CC_CLUSTER_H
#define CC_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "cc/addr.h"
#include "cc/sched.h"
#include "common/buf.h"
#include "common/err.h"

#define CC_NAME_MAX 64
#define CC_ID_MAX 24
#define CC_MAX_GROUPS 5          /* security groups per instance, as on AWS */

struct cc_instance_info;

struct cc_config {
    const char *dir;             /* $OVERCAST_HOME/cc */
    enum cc_policy policy;
    const char *subnet, *netmask;
    unsigned addrs_per_net;
    const char *bridge;          /* the bridge NCs plug instances into */
    /* VNET_MODE=STATIC: instances take addresses (and MACs) from this map
     * only, first free first, whatever their group (NULL: the plan's group
     * networks).  Copied. */
    const struct cc_static_addr *static_map;
    size_t static_n;
    unsigned poll_s;             /* 0 = no poller (tests drive cc_cluster_poll) */
    unsigned down_after;         /* failed polls before a node is down */
    const char *access_key_id;   /* the CC's key, for calling NCs */
    const char *secret_key;
    const char *region;
    /* Called (under the cluster's lock) when an instance is terminated:
     * what it held elsewhere (an elastic IP) is let go.  May be NULL. */
    void (*on_terminated)(void *ctx, const char *instance_id);
    void *on_terminated_ctx;
    /* Called (under the lock: it must only queue) after every change of an
     * instance's state the CC learns (node events, the poller, its own
     * operations): what is forwarded to the CLC.  May be NULL. */
    void (*on_state)(void *ctx, const struct cc_instance_info *i);
    void *on_state_ctx;
};

struct cc_node_info {
    char name[CC_NAME_MAX];
    char host[256];
    unsigned port;
    int up;
    unsigned failures;
    unsigned cores_total, cores_free;
    uint64_t mem_total_mb, mem_free_mb, disk_total_gb, disk_free_gb;
    unsigned instances;
    char hypervisor[8];
    uint64_t cache_max_mb, cache_used_mb;   /* the node's image cache */
};

struct cc_image {
    char id[CC_ID_MAX];
    char location[1088];
    char digest[72];
};

struct cc_run_request {
    char reservation_id[CC_ID_MAX];
    char owner_id[16];
    char instance_type[32];
    unsigned vcpus, mem_mb, disk_gb, ephemeral_gb, swap_mb;
    struct cc_image image, kernel, ramdisk;
    char group_id[CC_NAME_MAX];  /* its first security group: the network it joins */
    /* All its security groups, groups[0] == group_id (ngroups 0: group_id
     * alone).  The others add their rules and their membership (source
     * groups), never a network. */
    char groups[CC_MAX_GROUPS][CC_NAME_MAX];
    size_t ngroups;
    char mc_ready[64];           /* a MacroComponent's ready point, "" = none */
    char clone_of[CC_ID_MAX];    /* clones of this running instance: all go on
                                  * its node; "" = an ordinary run */
    const char **ids;            /* instance ids chosen by the CLC */
    size_t n;
    unsigned launch_index;       /* of ids[0] */
};

struct cc_instance_info {
    char id[CC_ID_MAX];
    char reservation_id[CC_ID_MAX];
    char owner_id[16];
    char node[CC_NAME_MAX];
    int node_up;
    char group_id[CC_NAME_MAX];  /* the first group: its network */
    char groups[CC_MAX_GROUPS][CC_NAME_MAX];   /* all, groups[0] == group_id */
    unsigned ngroups;
    char mac[18];
    char private_ip[16];
    char public_ip[16];
    char instance_type[32];
    char image_id[CC_ID_MAX];
    unsigned launch_index;
    char state[16];
    char state_reason[256];
    int64_t launch_time, state_time;
};

struct cc_cluster;

int cc_cluster_open(const struct cc_config *cfg, struct cc_cluster **out,
                    struct oc_err *err) OC_WUR;
void cc_cluster_close(struct cc_cluster *c);

/* Nodes.  OC_EEXIST when the name is taken by another address;
 * deregistering a node that has live instances is OC_ECONFLICT. */
int cc_node_register(struct cc_cluster *c, const char *name, const char *host, unsigned port,
                     struct oc_err *err) OC_WUR;
int cc_node_deregister(struct cc_cluster *c, const char *name, struct oc_err *err) OC_WUR;
int cc_nodes(struct cc_cluster *c, struct cc_node_info **out, size_t *n) OC_WUR;
/* ccSetProperty, kept in cc.db over overcast.conf: SCHEDPOLICY (GREEDY,
 * ROUNDROBIN, POWERSAVE) changes at once; NC_CACHE_MAX_MB (MiB) is sent
 * to every node now and, by the poller, to any node that reports another
 * limit (a restarted or a new one).  Other names OC_EINVAL. */
int cc_set_property(struct cc_cluster *c, const char *name, const char *value,
                    struct oc_err *err) OC_WUR;
/* The placement policy in force. */
enum cc_policy cc_policy(struct cc_cluster *c);
/* One round of the poller (also run by its thread). */
void cc_cluster_poll(struct cc_cluster *c);

/* Places every instance of the request or none (OC_ETOOBIG: the cluster
 * cannot fit them all), gives each a private IP and MAC in its group's
 * network, then asks each node to run its instances.  out has req->n
 * entries.  An instance whose node refuses it is terminated with the
 * node's reason. */
int cc_run(struct cc_cluster *c, const struct cc_run_request *req,
           struct cc_instance_info *out, struct oc_err *err) OC_WUR;

enum cc_op { CC_OP_TERMINATE, CC_OP_STOP, CC_OP_START, CC_OP_REBOOT };
/* Forwards the operation to the instance's node; prev/cur as the node says. */
/* ccModifyInstance: a stopped instance gets another type (its vCPUs and
 * memory; the disk stays as it is), used from its next start.  OC_ECONFLICT
 * unless stopped. */
int cc_instance_resize(struct cc_cluster *c, const char *id, const char *type,
                       unsigned vcpus, unsigned mem_mb, struct oc_err *err) OC_WUR;
/* START checks that the node has room for the instance as it is now
 * (OC_ETOOBIG otherwise) and sends its vCPUs and memory with
 * ncStartInstance. */
int cc_instance_op(struct cc_cluster *c, enum cc_op op, const char *id, char prev[16],
                   char cur[16], struct oc_err *err) OC_WUR;
/* Base64 console text from the node. */
/* Tells every node the image is gone (ncDropImage: its MacroComponent
 * templates go once unused); *told counts the nodes that answered. */
int cc_drop_image(struct cc_cluster *c, const char *image_id, unsigned *told,
                  struct oc_err *err) OC_WUR;
int cc_console(struct cc_cluster *c, const char *id, struct oc_buf *b64,
               struct oc_err *err) OC_WUR;
int cc_instances(struct cc_cluster *c, struct cc_instance_info **out, size_t *n) OC_WUR;

/* The live instance whose private address is ip (the metadata proxy's
 * question): OC_OK and its id, else OC_ENOTFOUND. */
int cc_instance_by_ip(struct cc_cluster *c, const char *ip, char id[CC_ID_MAX]);

/* The network a group was given: "10.101.0.32/27" and its gateway;
 * OC_ENOTFOUND before the group's first instance. */
int cc_group_network(struct cc_cluster *c, const char *group_id, char cidr[20], char gw[16],
                     struct oc_err *err) OC_WUR;

/* An NC's report of a state change (ccNodeEvent): applied when seq is
 * newer than what the CC has from that node for that instance. */
int cc_node_event(struct cc_cluster *c, const char *node, const char *id, const char *state,
                  const char *reason, int64_t when, uint64_t seq, struct oc_err *err) OC_WUR;

#endif
