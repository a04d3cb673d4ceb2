/*
 * proc.h - running helper programs with a fixed argv, never a shell string
 * (qemu-img on the node; ip, nft and dnsmasq on the cluster controller).
 */
#ifndef OC_PROC_H
#define OC_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/err.h"

/*
 * Runs argv[0] (looked up in PATH when it has no '/') with argv, stdin
 * from /dev/null, and waits.  Its stdout goes to out when out is non-NULL
 * (bounded at 1 MiB), else is discarded.  OC_OK when it exits 0; OC_EIO
 * otherwise, the message naming the program, how it ended and the end of
 * what it wrote to stderr.
 */
int oc_run(const char *const argv[], struct oc_buf *out, struct oc_err *err) OC_WUR;

#endif
