#include "common/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int oc_buf_reserve(struct oc_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > SIZE_MAX - b->len - 1)
        return OC_ENOMEM;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return OC_OK;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (!p)
        return OC_ENOMEM;
    b->data = p;
    b->cap = cap;
    return OC_OK;
}

int oc_buf_append(struct oc_buf *b, const void *data, size_t len)
{
    int rc = oc_buf_reserve(b, len);

    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return OC_OK;
}

int oc_buf_puts(struct oc_buf *b, const char *s)
{
    return oc_buf_append(b, s, strlen(s));
}

int oc_buf_putc(struct oc_buf *b, char c)
{
    return oc_buf_append(b, &c, 1);
}

int oc_buf_vprintf(struct oc_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return OC_EINVAL;
    rc = oc_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return OC_OK;
}

int oc_buf_printf(struct oc_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = oc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *oc_buf_cstr(struct oc_buf *b)
{
    return b->data ? b->data : "";
}

char *oc_buf_steal(struct oc_buf *b)
{
    char *p = b->data;

    if (!p)
        p = strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void oc_buf_reset(struct oc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void oc_buf_free(struct oc_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
