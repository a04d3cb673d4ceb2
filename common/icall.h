/*
 * icall.h - one call of an internal Query API (CLC -> CC, CC -> NC): a
 * SigV4-signed form POST to "/" of the callee, its XML answer parsed.
 *
 * The answer is kept as a libxml2 document; on an error answer (the EC2
 * shape <Response><Errors><Error><Code/><Message/>) oc_icall_err() turns
 * the code into an OC_E* value and a message naming the callee.
 */
#ifndef OC_ICALL_H
#define OC_ICALL_H

#include <libxml/tree.h>

#include "common/err.h"
#include "common/query.h"

struct oc_icall_target {
    const char *endpoint;         /* "http://127.0.0.1:8774" */
    const char *access_key_id, *secret, *region;
    const char *service;          /* SigV4 service: "cc", "nc" */
    const char *version;          /* "2026-11-01" */
    long timeout_ms;              /* 0 = 15000 */
};

struct oc_icall {
    long status;                  /* HTTP status */
    xmlDocPtr doc;
    xmlNodePtr root;
};

/* OC_OK when an XML answer arrived, whatever its status (check status);
 * OC_EIO when the callee could not be reached or did not answer XML. */
int oc_icall(const struct oc_icall_target *t, const char *action, const struct oc_kv *p,
             size_t n, struct oc_icall *out, struct oc_err *err) OC_WUR;
void oc_icall_free(struct oc_icall *r);
/*
 * The error of a non-2xx answer: InsufficientInstanceCapacity -> OC_ETOOBIG,
 * IncorrectInstanceState -> OC_ECONFLICT, 404 -> OC_ENOTFOUND, 5xx ->
 * OC_EIO, else OC_EINVAL; err says "<who>: <action>: <Code>: <Message>".
 * code (may be NULL) receives the AWS code ("" when there was none).
 */
int oc_icall_err(const struct oc_icall *r, const char *who, const char *action, char *code,
                 size_t codecap, struct oc_err *err);
/* The text of parent's child `name` copied into dst ("" when absent). */
void oc_icall_text(xmlNodePtr parent, const char *name, char *dst, size_t cap);
/* The decimal number in parent's child `name` (0 when absent). */
unsigned long long oc_icall_num(xmlNodePtr parent, const char *name);

#endif
