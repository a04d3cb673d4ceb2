/*
 * qmp.h - a QEMU Machine Protocol client on a unix socket, with jansson.
 *
 * QMP is one JSON object per line: a greeting ({"QMP":…}) on connect,
 * then a reply ({"return":…} or {"error":{"class","desc"}}) to each
 * command, with asynchronous events ({"event":…,"data":…}) in between.
 * nc/mc.c drives MacroComponent templates and forks with it.
 *
 * One connection is used by one thread at a time.  Every wait is bounded:
 * a QEMU that stops answering gives OC_EAGAIN, never a hang.
 */
#ifndef NC_QMP_H
#define NC_QMP_H

#include <stddef.h>

#include <jansson.h>

#include "common/err.h"

/* A reply line longer than this is refused (QEMU's are far shorter). */
#define NC_QMP_LINE_MAX (1u << 20)

enum nc_qmp_kind { NC_QMP_GREETING, NC_QMP_RETURN, NC_QMP_ERROR, NC_QMP_EVENT };

struct nc_qmp_msg {
    enum nc_qmp_kind kind;
    json_t *root;        /* owns everything below */
    json_t *value;       /* return's value, or event's data (may be NULL) */
    char name[64];       /* event name, or error class */
    char desc[256];      /* error description */
};

/* One line (without its newline) into a message; OC_EINVAL when it is not
 * a QMP object.  Free with nc_qmp_msg_free. */
int nc_qmp_parse(const char *line, size_t len, struct nc_qmp_msg *out, struct oc_err *err) OC_WUR;
void nc_qmp_msg_free(struct nc_qmp_msg *m);

struct nc_qmp;

/* Connects to sock_path (retrying while the socket is not there yet, up
 * to timeout_ms), reads the greeting and enters command mode. */
int nc_qmp_open(const char *sock_path, int timeout_ms, struct nc_qmp **out,
                struct oc_err *err) OC_WUR;
void nc_qmp_close(struct nc_qmp *q);

/* Runs a command.  args is stolen (NULL: none).  fd >= 0 is passed with
 * it (SCM_RIGHTS), as getfd and add-fd want.  *ret, when asked for, gets
 * the return value (a new reference).  A QMP error is OC_ECONFLICT with
 * "Class: description" in err; a dead or silent QEMU OC_EIO / OC_EAGAIN. */
int nc_qmp_call(struct nc_qmp *q, const char *cmd, json_t *args, int fd, json_t **ret,
                int timeout_ms, struct oc_err *err) OC_WUR;

/* Waits for an event by name (events seen during calls count).  *data,
 * when asked for, gets its data (a new reference, may be NULL). */
int nc_qmp_wait_event(struct nc_qmp *q, const char *name, int timeout_ms, json_t **data,
                      struct oc_err *err) OC_WUR;

#endif
