/*
 * admin.h - what the commands of overcast-admin share (admin.c: the
 * client, accounts, users and keys; admin_cloud.c: services, nodes,
 * properties, credential bundles, clones).
 */
#ifndef EUCA_ADMIN_H
#define EUCA_ADMIN_H

#include <libxml/tree.h>

#include "common/buf.h"
#include "common/httpc.h"

struct admin {
    struct oc_httpc *http;
    const char *path;             /* the service path of EUARE_URL */
    const char *endpoint;         /* "http://host:port" of EUARE_URL */
    const char *home;             /* $OVERCAST_HOME */
    const char *cmd;              /* for messages */
};

/* The APIs overcast-admin calls, all on the CLC that serves EUARE_URL. */
enum api { API_IAM, API_ADMIN, API_EC2 };

/*
 * One Query call; params are name/value pairs ending with NULL.  On
 * success (0) *result is the <ActionResult> element (IAM) or the root
 * element (the others) of *doc (free with xmlFreeDoc); with doc NULL the
 * answer is only checked.  Errors are printed; non-zero is returned.
 */
int adm_call(struct admin *a, enum api api, const char *action, xmlDocPtr *doc,
             xmlNodePtr *result, ...);
/* The text of node's child `name` ("" when absent), kept in tmp. */
const char *child_text(struct oc_buf *tmp, xmlNodePtr node, const char *name);

/* admin_cloud.c: one command (argv after its name); -1 when cmd is not
 * one of them, 2 for a usage error. */
int adm_cloud_command(struct admin *a, const char *cmd, int argc, char **argv);
/* Their usage lines. */
extern const char adm_cloud_usage[];

#endif
