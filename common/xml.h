/*
 * xml.h - XML writing and reading on libxml2 for every API response and
 * request body.  The writer produces a document in memory (responses are
 * small; large listings are bounded by MaxKeys).  The reader parses with
 * entity expansion, DTD loading and network access disabled.
 */
#ifndef OC_XML_H
#define OC_XML_H

#include <stddef.h>
#include <stdint.h>
#include <libxml/tree.h>
#include "common/err.h"
#include "common/buf.h"

struct oc_xmlw;

/* Starts a document whose root element is `root` in namespace ns (may be NULL). */
struct oc_xmlw *oc_xmlw_new(const char *root, const char *ns);
void oc_xmlw_free(struct oc_xmlw *w);
void oc_xmlw_start(struct oc_xmlw *w, const char *name);
void oc_xmlw_end(struct oc_xmlw *w);
/* <name>escaped text</name> */
void oc_xmlw_elem(struct oc_xmlw *w, const char *name, const char *text);
void oc_xmlw_elemf(struct oc_xmlw *w, const char *name, const char *fmt, ...) OC_PRINTF(3, 4);
void oc_xmlw_elem_u64(struct oc_xmlw *w, const char *name, uint64_t v);
void oc_xmlw_attr(struct oc_xmlw *w, const char *name, const char *value);
/* Escaped text inside the open element (after its attributes). */
void oc_xmlw_text(struct oc_xmlw *w, const char *text);
/* Closes every open element and hands the document (with XML declaration) out. */
int oc_xmlw_finish(struct oc_xmlw *w, struct oc_buf *out) OC_WUR;

/* Escapes text for element content or attribute values. */
int oc_xml_escape(const char *in, size_t len, struct oc_buf *out) OC_WUR;

/* Safe parse; the caller frees with xmlFreeDoc. NULL and err set on failure. */
xmlDocPtr oc_xml_parse(const char *data, size_t len, struct oc_err *err);
/* First element child of node named `name` (namespace ignored), or NULL. */
xmlNodePtr oc_xml_child(xmlNodePtr node, const char *name);
/* Next element sibling named `name` after node, or NULL. */
xmlNodePtr oc_xml_next(xmlNodePtr node, const char *name);
/* Text content of an element; caller frees with xmlFree. */
char *oc_xml_text(xmlNodePtr node);
/* Process-wide libxml2 initialisation; call once at start. */
void oc_xml_init(void);

#endif
