/*
 * disk.h - an instance's disks: a qcow2 overlay on the cached base image
 * (copy-on-write: the base is never written) and blank ephemeral and swap
 * disks, made by qemu-img with a fixed argv.
 */
#ifndef NC_DISK_H
#define NC_DISK_H

#include <stdint.h>

#include "common/err.h"

/* The size the guest sees: a raw file's length, a qcow2 header's size. */
int nc_disk_virtual_size(const char *path, const char *format, uint64_t *out,
                         struct oc_err *err) OC_WUR;
/* path := qcow2 overlay of base (format raw|qcow2), virtual size bytes
 * (refused when smaller than the base: the image does not fit). */
int nc_disk_overlay(const char *qemu_img, const char *base, const char *format, const char *path,
                    uint64_t bytes, struct oc_err *err) OC_WUR;
/* path := an empty qcow2 disk of bytes. */
int nc_disk_blank(const char *qemu_img, const char *path, uint64_t bytes,
                  struct oc_err *err) OC_WUR;

#endif
