/*
 * tools.h - what overcast-bundle-image and overcast-upload-bundle share:
 * euca2ools' way of taking a setting from an option or the environment,
 * and the progress line on stderr: a bar redrawn in place on a terminal,
 * or (asked for with --progress on something else, a log) one line per
 * tenth of the way.  Silent unless enabled; never writes to stdout.
 */
#ifndef EUCA_TOOLS_H
#define EUCA_TOOLS_H

#include <stdint.h>

struct euca_progress {
    const char *label;
    int enabled;
    int tty;
    int last_tenth;               /* lines mode: the last tenth printed */
    uint64_t last_ms;             /* bar mode: when it was last drawn */
    int drawn;
};

/* force: --progress.  Enabled when forced or stderr is a terminal. */
void euca_progress_init(struct euca_progress *p, const char *label, int force);
void euca_progress_update(struct euca_progress *p, uint64_t done, uint64_t total);
/* The final state (drawn whatever the rate limit) and a newline. */
void euca_progress_end(struct euca_progress *p, uint64_t done, uint64_t total);

/* opt when set and not empty, else the first of the environment
 * variables env1, env2 (either may be NULL) that is, else NULL. */
const char *euca_tool_setting(const char *opt, const char *env1, const char *env2);

#endif
