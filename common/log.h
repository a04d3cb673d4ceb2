/*
 * log.h - leveled logging to stderr (or a file), one line per message with a
 * timestamp, level and the component name.  Never log secrets.
 */
#ifndef OC_LOG_H
#define OC_LOG_H

#include "common/err.h"

enum oc_log_level { OC_LOG_DEBUG, OC_LOG_INFO, OC_LOG_WARN, OC_LOG_ERROR };

void oc_log_init(const char *component, enum oc_log_level level);
int oc_log_level_parse(const char *s, enum oc_log_level *out);
void oc_log(enum oc_log_level level, const char *fmt, ...) OC_PRINTF(2, 3);

/* Milliseconds on the monotonic clock: for "how long did that take", in
 * log lines and waits; never a date. */
double oc_mono_ms(void);

#define oc_debug(...) oc_log(OC_LOG_DEBUG, __VA_ARGS__)
#define oc_info(...) oc_log(OC_LOG_INFO, __VA_ARGS__)
#define oc_warn(...) oc_log(OC_LOG_WARN, __VA_ARGS__)
#define oc_error(...) oc_log(OC_LOG_ERROR, __VA_ARGS__)

#endif
