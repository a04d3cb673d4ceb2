/*
 * config.h - overcast.conf, Eucalyptus style: one `KEY="value"` per line,
 * `#` comments, blank lines ignored, double-quoted values with \" and \\
 * escapes, unquoted values allowed.  The environment may override a key
 * (OVERCAST_<KEY>) so tests can run without writing files.
 */
#ifndef OC_CONFIG_H
#define OC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "common/err.h"

struct oc_config;

struct oc_config *oc_config_new(void);
void oc_config_free(struct oc_config *c);
/* Parses text; on a syntax error returns OC_EINVAL naming the line. */
int oc_config_parse(struct oc_config *c, const char *text, size_t len, struct oc_err *err) OC_WUR;
int oc_config_load(struct oc_config *c, const char *path, struct oc_err *err) OC_WUR;
int oc_config_set(struct oc_config *c, const char *key, const char *value) OC_WUR;
/* Environment OVERCAST_<KEY> wins over the file. */
const char *oc_config_get(const struct oc_config *c, const char *key, const char *def);
int oc_config_get_int(const struct oc_config *c, const char *key, long long def,
                      long long *out, struct oc_err *err) OC_WUR;

/* A decimal TCP port 0..65535 (command-line --port); 0 or -1. */
int oc_parse_port(const char *s, uint16_t *out);

#endif
