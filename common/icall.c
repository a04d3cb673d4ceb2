/*
 * icall.c - one call of an internal Query API (see icall.h).
 */
#include "common/icall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpc.h"
#include "common/xml.h"

void oc_icall_free(struct oc_icall *r)
{
    if (r->doc)
        xmlFreeDoc(r->doc);
    memset(r, 0, sizeof(*r));
}

int oc_icall(const struct oc_icall_target *t, const char *action, const struct oc_kv *p,
             size_t n, struct oc_icall *out, struct oc_err *err)
{
    struct oc_httpc_config hc = { t->endpoint, t->access_key_id, t->secret, t->region,
                                  t->timeout_ms ? t->timeout_ms : 15000 };
    struct oc_httpc *h = NULL;
    struct oc_httpc_resp resp = { 0 };
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = oc_httpc_new(&hc, &h, err)))
        return rc;
    rc = oc_httpc_query(h, "/", t->service, action, t->version, p, n, &resp, err);
    oc_httpc_free(h);
    if (rc)
        return rc;
    out->status = resp.status;
    out->doc = oc_xml_parse((const char *)resp.body.data, resp.body.len, err);
    oc_httpc_resp_free(&resp);
    if (!out->doc)
        return oc_err_set(err, OC_EIO, "%s: %s: the answer (HTTP %ld) is not XML", t->endpoint,
                          action, out->status);
    out->root = xmlDocGetRootElement(out->doc);
    return OC_OK;
}

int oc_icall_err(const struct oc_icall *r, const char *who, const char *action, char *code,
                 size_t codecap, struct oc_err *err)
{
    xmlNodePtr e = r->root ? oc_xml_child(oc_xml_child(r->root, "Errors"), "Error") : NULL;
    char *c = e ? oc_xml_text(oc_xml_child(e, "Code")) : NULL;
    char *msg = e ? oc_xml_text(oc_xml_child(e, "Message")) : NULL;
    int rc = r->status == 404 ? OC_ENOTFOUND : r->status >= 500 ? OC_EIO : OC_EINVAL;

    if (c && strcmp(c, "InsufficientInstanceCapacity") == 0)
        rc = OC_ETOOBIG;
    if (c && strcmp(c, "IncorrectInstanceState") == 0)
        rc = OC_ECONFLICT;
    if (code)
        snprintf(code, codecap, "%s", c ? c : "");
    oc_err_set(err, rc, "%s: %s: %s: %s", who, action, c ? c : "HTTP error", msg ? msg : "");
    xmlFree(c);
    xmlFree(msg);
    return rc;
}

void oc_icall_text(xmlNodePtr parent, const char *name, char *dst, size_t cap)
{
    char *t = parent ? oc_xml_text(oc_xml_child(parent, name)) : NULL;

    snprintf(dst, cap, "%s", t ? t : "");
    xmlFree(t);
}

unsigned long long oc_icall_num(xmlNodePtr parent, const char *name)
{
    char *t = parent ? oc_xml_text(oc_xml_child(parent, name)) : NULL;
    unsigned long long v = t ? strtoull(t, NULL, 10) : 0;

    xmlFree(t);
    return v;
}
