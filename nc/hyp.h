/*
 * hyp.h - which libvirt domain type the node runs: "kvm" or "qemu" (TCG).
 *
 * HYPERVISOR="kvm"|"qemu" in overcast.conf decides; empty or "auto" asks
 * the machine: kvm only when /dev/kvm exists AND /proc/cpuinfo shows the
 * vmx or svm flag.  A /dev/kvm without them is a paravirtual one (PVM on
 * our build machines) that runs only kernels built for it and hangs a
 * stock kernel in the BIOS, so TCG is the only thing that works there.
 */
#ifndef NC_HYP_H
#define NC_HYP_H

#include "common/err.h"

/* Writes "kvm" or "qemu" to out (8 bytes) and, in why, how it was chosen. */
int nc_hyp_choose(const char *conf, const char *cpuinfo_path, const char *kvm_dev, char out[8],
                  char *why, size_t whylen, struct oc_err *err) OC_WUR;

/* 1 (with a message in why) when kvm_dev exists but only its owner may
 * open it: without udev it is root:root 0600, and libvirtd then spends
 * ~50 s probing it at every domain start, TCG guests included. */
int nc_hyp_kvm_dev_slow(const char *kvm_dev, char *why, size_t whylen);

#endif
