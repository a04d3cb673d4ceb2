/*
 * config.c - overcast.conf parsing.  Small: a sorted-by-insertion array of
 * key/value pairs; later definitions of a key replace earlier ones, as a
 * shell sourcing the file would.
 */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fsutil.h"

#define CONFIG_MAX_FILE (1024 * 1024)

struct config_item {
    char *key;
    char *value;
};

struct oc_config {
    struct config_item *items;
    size_t n, cap;
};

struct oc_config *oc_config_new(void)
{
    return calloc(1, sizeof(struct oc_config));
}

void oc_config_free(struct oc_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].key);
        free(c->items[i].value);
    }
    free(c->items);
    free(c);
}

int oc_config_set(struct oc_config *c, const char *key, const char *value)
{
    char *v = strdup(value), *k;

    if (!v)
        return OC_ENOMEM;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->items[i].key, key) == 0) {
            free(c->items[i].value);
            c->items[i].value = v;
            return OC_OK;
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct config_item *p = realloc(c->items, cap * sizeof(*p));

        if (!p) {
            free(v);
            return OC_ENOMEM;
        }
        c->items = p;
        c->cap = cap;
    }
    k = strdup(key);
    if (!k) {
        free(v);
        return OC_ENOMEM;
    }
    c->items[c->n].key = k;
    c->items[c->n].value = v;
    c->n++;
    return OC_OK;
}

static int is_key_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_';
}

/* Parses one value starting at *p (just after '='); leaves *p at line end. */
static int parse_value(const char **p, const char *end, struct oc_buf *out, int line,
                       struct oc_err *err)
{
    const char *s = *p;
    int rc = OC_OK;

    if (s < end && (*s == '"' || *s == '\'')) {
        char q = *s++;

        for (;;) {
            if (s >= end || *s == '\n')
                return oc_err_set(err, OC_EINVAL, "line %d: unterminated quoted value", line);
            if (*s == q) {
                s++;
                break;
            }
            if (q == '"' && *s == '\\' && s + 1 < end && s[1] != '\n') {
                s++;
            }
            rc = oc_buf_putc(out, *s++);
            if (rc)
                return rc;
        }
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (s < end && *s == '#')
            while (s < end && *s != '\n')
                s++;
        if (s < end && *s != '\n' && *s != '\r')
            return oc_err_set(err, OC_EINVAL, "line %d: text after the closing quote", line);
    } else {
        const char *v = s;

        while (s < end && *s != '\n' && *s != '#')
            s++;
        const char *ve = s;
        while (ve > v && isspace((unsigned char)ve[-1]))
            ve--;
        rc = oc_buf_append(out, v, (size_t)(ve - v));
        if (rc)
            return rc;
        while (s < end && *s != '\n')
            s++;
    }
    *p = s;
    return oc_buf_append(out, "", 0);
}

int oc_config_parse(struct oc_config *c, const char *text, size_t len, struct oc_err *err)
{
    const char *p = text, *end = text + len;
    int line = 0;

    while (p < end) {
        const char *k, *ke;
        struct oc_buf val = { 0 };
        char *key;
        int rc;

        line++;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p >= end)
            break;
        if (*p == '\n') {
            p++;
            continue;
        }
        if (*p == '#') {
            while (p < end && *p != '\n')
                p++;
            continue;
        }
        if (end - p > 7 && strncmp(p, "export ", 7) == 0)
            p += 7;
        k = p;
        while (p < end && is_key_char(*p))
            p++;
        ke = p;
        if (ke == k || isdigit((unsigned char)*k))
            return oc_err_set(err, OC_EINVAL, "line %d: expected KEY=\"value\"", line);
        if (p >= end || *p != '=')
            return oc_err_set(err, OC_EINVAL, "line %d: expected '=' after %.*s", line,
                              (int)(ke - k), k);
        p++;
        rc = parse_value(&p, end, &val, line, err);
        if (rc) {
            oc_buf_free(&val);
            return rc;
        }
        key = strndup(k, (size_t)(ke - k));
        if (!key) {
            oc_buf_free(&val);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
        rc = oc_config_set(c, key, oc_buf_cstr(&val));
        free(key);
        oc_buf_free(&val);
        if (rc)
            return oc_err_set(err, rc, "out of memory");
        if (p < end && *p == '\n')
            p++;
    }
    return OC_OK;
}

int oc_config_load(struct oc_config *c, const char *path, struct oc_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = oc_read_file(path, CONFIG_MAX_FILE, &text, &len, err);

    if (rc)
        return rc;
    rc = oc_config_parse(c, text, len, err);
    if (rc && err) {
        char msg[sizeof(err->msg)];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        oc_err_set(err, rc, "%s: %s", path, msg);
    }
    free(text);
    return rc;
}

const char *oc_config_get(const struct oc_config *c, const char *key, const char *def)
{
    char envname[128];
    const char *v;

    if (snprintf(envname, sizeof(envname), "OVERCAST_%s", key) < (int)sizeof(envname)) {
        v = getenv(envname);
        if (v)
            return v;
    }
    if (c) {
        for (size_t i = 0; i < c->n; i++)
            if (strcmp(c->items[i].key, key) == 0)
                return c->items[i].value;
    }
    return def;
}

int oc_config_get_int(const struct oc_config *c, const char *key, long long def,
                      long long *out, struct oc_err *err)
{
    const char *v = oc_config_get(c, key, NULL);
    char *end;
    long long n;

    if (!v || !*v) {
        *out = def;
        return OC_OK;
    }
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || *end)
        return oc_err_set(err, OC_EINVAL, "%s=\"%s\" is not an integer", key, v);
    *out = n;
    return OC_OK;
}

int oc_parse_port(const char *s, uint16_t *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}
