/*
 * tools.c - see tools.h.
 */
#include "euca-compat/tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30
#define REDRAW_MS 200

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void euca_progress_init(struct euca_progress *p, const char *label, int force)
{
    memset(p, 0, sizeof(*p));
    p->label = label;
    p->tty = isatty(STDERR_FILENO);
    p->enabled = force || p->tty;
    p->last_tenth = -1;
}

static unsigned percent(uint64_t done, uint64_t total)
{
    if (total == 0 || done >= total)
        return 100;
    /* done * 100 could overflow past 184 PB; divide first then. */
    return (unsigned)(total > UINT64_MAX / 100 ? done / (total / 100) : done * 100 / total);
}

static void draw(struct euca_progress *p, uint64_t done, uint64_t total)
{
    unsigned pct = percent(done, total), fill = pct * BAR_WIDTH / 100;
    char bar[BAR_WIDTH + 1];

    memset(bar, '#', fill);
    memset(bar + fill, '.', BAR_WIDTH - fill);
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r%s %3u%% [%s] %.1f/%.1f MiB", p->label, pct, bar,
            (double)done / (1 << 20), (double)total / (1 << 20));
    fflush(stderr);
    p->drawn = 1;
}

void euca_progress_update(struct euca_progress *p, uint64_t done, uint64_t total)
{
    if (!p->enabled)
        return;
    if (p->tty) {
        uint64_t t = now_ms();

        if (p->drawn && t - p->last_ms < REDRAW_MS)
            return;
        p->last_ms = t;
        draw(p, done, total);
    } else {
        int tenth = (int)(percent(done, total) / 10);

        if (tenth == p->last_tenth)
            return;
        p->last_tenth = tenth;
        fprintf(stderr, "%s %d%% (%llu of %llu bytes)\n", p->label, tenth * 10,
                (unsigned long long)done, (unsigned long long)total);
        fflush(stderr);
    }
}

void euca_progress_end(struct euca_progress *p, uint64_t done, uint64_t total)
{
    if (!p->enabled)
        return;
    if (p->tty) {
        draw(p, done, total);
        fputc('\n', stderr);
        fflush(stderr);
    } else {
        euca_progress_update(p, done, total);
    }
}

const char *euca_tool_setting(const char *opt, const char *env1, const char *env2)
{
    const char *v;

    if (opt && *opt)
        return opt;
    v = env1 ? getenv(env1) : NULL;
    if (v && *v)
        return v;
    v = env2 ? getenv(env2) : NULL;
    return v && *v ? v : NULL;
}
