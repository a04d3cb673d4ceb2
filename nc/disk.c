/*
 * disk.c - overlays and blank disks through qemu-img (see disk.h).
 */
#include "nc/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/proc.h"

int nc_disk_virtual_size(const char *path, const char *format, uint64_t *out, struct oc_err *err)
{
    struct stat st;
    unsigned char h[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return oc_err_set(err, OC_EIO, "%s: %s", path, strerror(errno));
    if (strcmp(format, "qcow2") == 0) {
        /* QFI\xfb, version, backing offset/size, cluster bits, then the
         * virtual size as a big-endian u64 at byte 24. */
        if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h, "QFI\xfb", 4) != 0) {
            close(fd);
            return oc_err_set(err, OC_EINVAL, "%s is not a qcow2 image", path);
        }
        *out = 0;
        for (int i = 24; i < 32; i++)
            *out = (*out << 8) | h[i];
    } else {
        if (fstat(fd, &st) != 0) {
            close(fd);
            return oc_err_set(err, OC_EIO, "%s: %s", path, strerror(errno));
        }
        *out = (uint64_t)st.st_size;
    }
    close(fd);
    return OC_OK;
}

int nc_disk_overlay(const char *qemu_img, const char *base, const char *format, const char *path,
                    uint64_t bytes, struct oc_err *err)
{
    char size[32];
    uint64_t vsize;
    int rc;

    if (strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0)
        return oc_err_set(err, OC_EINVAL, "base format must be raw or qcow2");
    if ((rc = nc_disk_virtual_size(base, format, &vsize, err)))
        return rc;
    if (vsize > bytes)
        return oc_err_set(err, OC_EINVAL, "the image (%" PRIu64 " bytes) does not fit the "
                                          "instance type's %" PRIu64 "-byte root disk",
                          vsize, bytes);
    snprintf(size, sizeof(size), "%" PRIu64, bytes);
    {
        /* The backing format is always given: qemu must never probe it, or
         * a raw image holding a qcow2 header could point at any file. */
        const char *argv[] = { qemu_img, "create", "-q", "-f", "qcow2", "-F", format, "-b",
                               base, path, size, NULL };

        return oc_run(argv, NULL, err);
    }
}

int nc_disk_blank(const char *qemu_img, const char *path, uint64_t bytes, struct oc_err *err)
{
    char size[32];
    const char *argv[] = { qemu_img, "create", "-q", "-f", "qcow2", path, size, NULL };

    snprintf(size, sizeof(size), "%" PRIu64, bytes);
    return oc_run(argv, NULL, err);
}
