/*
 * domain.h - the XML the node writes: libvirt domain definitions and the
 * instance record (nc.h), both with libxml2; and the one validator every
 * record passes through, whether it came from the CC, a file or libvirt.
 */
#ifndef NC_DOMAIN_H
#define NC_DOMAIN_H

#include "common/buf.h"
#include "common/err.h"
#include "nc/nc.h"

/* What the domain needs beyond the record: where its pieces are. */
struct nc_domain_spec {
    const struct nc_instance *inst;
    const char *hypervisor;      /* "kvm" | "qemu" (TCG) */
    const char *root_path;       /* the instance's qcow2 overlay */
    const char *ephemeral_path;  /* NULL when the type has none */
    const char *swap_path;       /* NULL when the type has none */
    const char *kernel_path;     /* NULL: boot from the root disk */
    const char *ramdisk_path;    /* NULL when none */
    const char *cmdline;         /* kernel command line (direct boot only) */
    const char *console_path;    /* the serial console is written here */
    const char *dac_label;       /* "+0:+0": QEMU runs as that user:group and
                                  * libvirt relabels nothing; NULL: libvirt's
                                  * default (dynamic DAC relabelling) */
    /* MacroComponents only (nc/mc.c): the cached base image under the
     * template's disk, and the digests that name the template. */
    const char *base_path;
    const char *base_format;
};

int nc_domain_xml(const struct nc_domain_spec *s, struct oc_buf *out, struct oc_err *err) OC_WUR;

/* The record as a standalone document (instance.xml). */
int nc_record_xml(const struct nc_instance *i, struct oc_buf *out, struct oc_err *err) OC_WUR;
/* Parses a record document: instance.xml, or the <instance> element that
 * virDomainGetMetadata returns.  Validated with nc_instance_check. */
int nc_record_parse(const char *xml, size_t len, struct nc_instance *out,
                    struct oc_err *err) OC_WUR;

/* Every field well formed (ids, MAC, interface name, sizes, locations);
 * OC_EINVAL naming the first bad field. */
int nc_instance_check(const struct nc_instance *i, struct oc_err *err) OC_WUR;

/* Shape checks the API also uses. */
int nc_valid_instance_id(const char *s);
int nc_valid_image_id(const char *s, int kind);   /* kind 'm', 'k', 'r' */
int nc_valid_mac(const char *s);
int nc_valid_ifname(const char *s);
int nc_valid_location(const char *s);
int nc_valid_digest(const char *s);

#endif
