#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static const char *log_component = "overcast";
static enum oc_log_level log_min = OC_LOG_INFO;

void oc_log_init(const char *component, enum oc_log_level level)
{
    log_component = component;
    log_min = level;
}

int oc_log_level_parse(const char *s, enum oc_log_level *out)
{
    static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum oc_log_level)i;
            return OC_OK;
        }
    }
    if (strcasecmp(s, "TRACE") == 0 || strcasecmp(s, "ALL") == 0) {
        *out = OC_LOG_DEBUG;
        return OC_OK;
    }
    if (strcasecmp(s, "FATAL") == 0) {
        *out = OC_LOG_ERROR;
        return OC_OK;
    }
    return OC_EINVAL;
}

void oc_log(enum oc_log_level level, const char *fmt, ...)
{
    static const char *tags[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    char line[2048], ts[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    if (level < log_min)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: ", ts, (long)tv.tv_usec / 1000,
                 tags[level], log_component);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fprintf per line keeps lines whole across threads. */
    fprintf(stderr, "%s\n", line);
}

double oc_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
