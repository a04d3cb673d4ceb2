/*
 * buf.h - growable byte buffer, always NUL-terminated after any append.
 * A zeroed struct oc_buf is an empty buffer; oc_buf_free(NULL) is a no-op.
 */
#ifndef OC_BUF_H
#define OC_BUF_H

#include <stddef.h>
#include <stdarg.h>
#include "common/err.h"

struct oc_buf {
    char *data;
    size_t len;
    size_t cap;
};

int oc_buf_append(struct oc_buf *b, const void *data, size_t len) OC_WUR;
int oc_buf_puts(struct oc_buf *b, const char *s) OC_WUR;
int oc_buf_putc(struct oc_buf *b, char c) OC_WUR;
int oc_buf_printf(struct oc_buf *b, const char *fmt, ...) OC_PRINTF(2, 3) OC_WUR;
int oc_buf_vprintf(struct oc_buf *b, const char *fmt, va_list ap) OC_WUR;
int oc_buf_reserve(struct oc_buf *b, size_t extra) OC_WUR;
/* Returns a NUL-terminated string ("" for an empty buffer). */
const char *oc_buf_cstr(struct oc_buf *b);
/* Hands the malloc'd string to the caller and empties the buffer. */
char *oc_buf_steal(struct oc_buf *b);
void oc_buf_reset(struct oc_buf *b);
void oc_buf_free(struct oc_buf *b);

#endif
