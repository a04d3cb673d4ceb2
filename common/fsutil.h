/*
 * fsutil.h - durable file helpers: write all, fsync a file or directory,
 * make directories, write a small file atomically (tmp + fsync + rename +
 * directory fsync).
 */
#ifndef OC_FSUTIL_H
#define OC_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>
#include "common/err.h"

int oc_write_all(int fd, const void *data, size_t len, struct oc_err *err) OC_WUR;
int oc_fsync_dir(const char *dir, struct oc_err *err) OC_WUR;
/* mkdir -p with mode. */
int oc_mkdirs(const char *path, mode_t mode, struct oc_err *err) OC_WUR;
int oc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct oc_err *err) OC_WUR;
/* Reads a whole small file (up to max bytes) into a malloc'd NUL-terminated string. */
int oc_read_file(const char *path, size_t max, char **out, size_t *len, struct oc_err *err) OC_WUR;

#endif
