/*
 * nc.h - what the node controller knows about one instance: the record.
 *
 * The record is everything needed to (re)create the VM and to answer
 * ncDescribeInstances.  It is written, as XML, twice: into the libvirt
 * domain's <metadata> (so it lives with the VM) and into
 * $OVERCAST_HOME/nc/instances/<id>/instance.xml (so a stopped instance,
 * which has no domain, survives a restart).  nc/domain.c reads and writes
 * both; nc/node.c keeps them in step.
 */
#ifndef NC_NC_H
#define NC_NC_H

#include <stdint.h>

#define NC_ID_MAX 24          /* i-0123456789abcdef0 and emi-/eki-/eri- ids */
#define NC_LOCATION_MAX 1088  /* bucket (63) / key (1024) */
#define NC_DIGEST_MAX 72
#define NC_IFNAME_MAX 16      /* IFNAMSIZ */
#define NC_RECORD_NS "http://overcast.invalid/nc/2026-11-01/"

/* EC2's names, plus crashed (a guest that died; the CC reports it). */
enum nc_state {
    NC_PENDING,
    NC_RUNNING,
    NC_SHUTTING_DOWN,
    NC_TERMINATED,
    NC_STOPPING,
    NC_STOPPED,
    NC_CRASHED,
};

struct nc_image_spec {
    char id[NC_ID_MAX];              /* "" when absent (kernel, ramdisk) */
    char location[NC_LOCATION_MAX];  /* bucket/key in Walrus */
    char digest[NC_DIGEST_MAX];
};

struct nc_instance {
    char id[NC_ID_MAX];
    char reservation_id[NC_ID_MAX];
    char owner_id[16];
    unsigned launch_index;
    char instance_type[32];
    unsigned vcpus;
    unsigned mem_mb;
    unsigned disk_gb;                /* root disk */
    unsigned ephemeral_gb;           /* 0 = none */
    unsigned swap_mb;                /* 0 = none */
    struct nc_image_spec image, kernel, ramdisk;
    char mac[18];                    /* d0:0d:xx:xx:xx:xx */
    char bridge[NC_IFNAME_MAX];      /* exactly one of bridge and tap */
    char tap[NC_IFNAME_MAX];
    /* A MacroComponent (nc/mc.c): "" for an ordinary instance; else the
     * template's ready point, a console marker ("MC-READY") or "+N"
     * (N seconds after the template starts). */
    char mc_ready[64];
    /* A clone (CloneInstances): the running fork on this node whose
     * current memory and disk it starts from; "" otherwise. */
    char clone_of[NC_ID_MAX];
    enum nc_state state;
    char state_reason[256];          /* why it is where it is, "" when ordinary */
    int64_t launch_time;             /* seconds since the epoch */
    int64_t state_time;
};

const char *nc_state_name(enum nc_state s);
int nc_state_parse(const char *name, enum nc_state *out);

#endif
