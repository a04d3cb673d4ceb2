/*
 * xml.c - libxml2-backed writer and a hardened reader.
 */
#include "common/xml.h"

#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct oc_xmlw {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    int failed;
};

void oc_xml_init(void)
{
    xmlInitParser();
}

struct oc_xmlw *oc_xmlw_new(const char *root, const char *ns)
{
    struct oc_xmlw *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    w->buf = xmlBufferCreate();
    /* Doubling instead of libxml2's default exact growth: a large answer
     * (a long listing) then costs a few reallocations, not one per flush. */
    if (w->buf)
        xmlBufferSetAllocationScheme(w->buf, XML_BUFFER_ALLOC_DOUBLEIT);
    w->w = w->buf ? xmlNewTextWriterMemory(w->buf, 0) : NULL;
    if (!w->w) {
        if (w->buf)
            xmlBufferFree(w->buf);
        free(w);
        return NULL;
    }
    if (xmlTextWriterStartDocument(w->w, "1.0", "UTF-8", NULL) < 0 ||
        xmlTextWriterStartElement(w->w, BAD_CAST root) < 0)
        w->failed = 1;
    if (ns && xmlTextWriterWriteAttribute(w->w, BAD_CAST "xmlns", BAD_CAST ns) < 0)
        w->failed = 1;
    return w;
}

void oc_xmlw_free(struct oc_xmlw *w)
{
    if (!w)
        return;
    if (w->w)
        xmlFreeTextWriter(w->w);
    if (w->buf)
        xmlBufferFree(w->buf);
    free(w);
}

void oc_xmlw_start(struct oc_xmlw *w, const char *name)
{
    if (xmlTextWriterStartElement(w->w, BAD_CAST name) < 0)
        w->failed = 1;
}

void oc_xmlw_end(struct oc_xmlw *w)
{
    if (xmlTextWriterEndElement(w->w) < 0)
        w->failed = 1;
}

/*
 * Text with none of the characters xmlEncodeSpecialChars() replaces
 * (< > & " and CR) is written raw: byte for byte the same output as
 * xmlTextWriterWriteString(), without the escaped copy it allocates and
 * frees for every piece of text (most answers are ids, names and numbers).
 */
static int xmlw_plain(const char *text)
{
    return text[strcspn(text, "<>&\"\r")] == '\0';
}

static void xmlw_text(struct oc_xmlw *w, const char *text)
{
    int rc = xmlw_plain(text) ? xmlTextWriterWriteRaw(w->w, BAD_CAST text)
                              : xmlTextWriterWriteString(w->w, BAD_CAST text);

    if (rc < 0)
        w->failed = 1;
}

void oc_xmlw_elem(struct oc_xmlw *w, const char *name, const char *text)
{
    if (xmlTextWriterStartElement(w->w, BAD_CAST name) < 0) {
        w->failed = 1;
        return;
    }
    xmlw_text(w, text ? text : "");
    if (xmlTextWriterEndElement(w->w) < 0)
        w->failed = 1;
}

void oc_xmlw_elemf(struct oc_xmlw *w, const char *name, const char *fmt, ...)
{
    char small[256], *text = small;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        w->failed = 1;
        return;
    }
    if ((size_t)n >= sizeof(small)) {
        text = malloc((size_t)n + 1);
        if (!text) {
            w->failed = 1;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    oc_xmlw_elem(w, name, text);
    if (text != small)
        free(text);
}

void oc_xmlw_elem_u64(struct oc_xmlw *w, const char *name, uint64_t v)
{
    oc_xmlw_elemf(w, name, "%" PRIu64, v);
}

void oc_xmlw_text(struct oc_xmlw *w, const char *text)
{
    xmlw_text(w, text);
}

void oc_xmlw_attr(struct oc_xmlw *w, const char *name, const char *value)
{
    if (xmlTextWriterWriteAttribute(w->w, BAD_CAST name, BAD_CAST value) < 0)
        w->failed = 1;
}

int oc_xmlw_finish(struct oc_xmlw *w, struct oc_buf *out)
{
    if (xmlTextWriterEndDocument(w->w) < 0)
        w->failed = 1;
    xmlTextWriterFlush(w->w);
    if (w->failed)
        return OC_EINTERNAL;
    return oc_buf_append(out, xmlBufferContent(w->buf), (size_t)xmlBufferLength(w->buf));
}

int oc_xml_escape(const char *in, size_t len, struct oc_buf *out)
{
    int rc = OC_OK;

    for (size_t i = 0; i < len && rc == OC_OK; i++) {
        switch (in[i]) {
        case '<': rc = oc_buf_puts(out, "&lt;"); break;
        case '>': rc = oc_buf_puts(out, "&gt;"); break;
        case '&': rc = oc_buf_puts(out, "&amp;"); break;
        case '"': rc = oc_buf_puts(out, "&quot;"); break;
        case '\'': rc = oc_buf_puts(out, "&apos;"); break;
        case '\r': rc = oc_buf_puts(out, "&#13;"); break;
        default: rc = oc_buf_putc(out, in[i]); break;
        }
    }
    if (rc == OC_OK && len == 0)
        rc = oc_buf_append(out, "", 0);
    return rc;
}

xmlDocPtr oc_xml_parse(const char *data, size_t len, struct oc_err *err)
{
    xmlDocPtr doc;

    if (len > INT32_MAX) {
        oc_err_set(err, OC_ETOOBIG, "XML document too large");
        return NULL;
    }
    /* No entity substitution, no DTD loading, no network: XXE-safe. */
    doc = xmlReadMemory(data, (int)len, "request.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                        XML_PARSE_NOBLANKS);
    if (!doc) {
        oc_err_set(err, OC_EINVAL, "the XML is not well-formed");
        return NULL;
    }
    if (doc->intSubset || doc->extSubset) {
        /* A DOCTYPE has no business in an API body. */
        xmlFreeDoc(doc);
        oc_err_set(err, OC_EINVAL, "DOCTYPE is not allowed");
        return NULL;
    }
    return doc;
}

xmlNodePtr oc_xml_next(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr n = node ? node->next : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0)
            return n;
    return NULL;
}

xmlNodePtr oc_xml_child(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr n = node ? node->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0)
            return n;
    return NULL;
}

char *oc_xml_text(xmlNodePtr node)
{
    return node ? (char *)xmlNodeGetContent(node) : NULL;
}
