/*
 * report.c - state changes to the CC (see report.h).
 */
#include "nc/report.h"

#include <stdio.h>
#include <string.h>

int nc_report_new(const char *cc_url, const char *access_key_id, const char *secret,
                  const char *region, const char *node_name, struct oc_report **out,
                  struct oc_err *err)
{
    struct oc_report_config rc = { cc_url,        access_key_id, secret,
                                   region,        "/",           "cc",
                                   "ccNodeEvent", "2026-11-01",  "NodeName",
                                   node_name };

    return oc_report_new(&rc, out, err);
}

void nc_report_change(void *ctx, const struct nc_instance *s)
{
    struct oc_report_event e;

    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "%s", s->id);
    snprintf(e.state, sizeof(e.state), "%s", nc_state_name(s->state));
    snprintf(e.reason, sizeof(e.reason), "%s", s->state_reason);
    e.time = s->state_time;
    oc_report_push(ctx, &e);
}
