/*
 * report.h - pushing instance state changes upstream as they happen: a
 * node to its cluster controller (ccNodeEvent), a cluster controller to
 * the cloud controller (clcInstanceEvent).  One signed Query call per
 * change (docs/nc.md, docs/cc.md).
 *
 * Changes queue in order and a thread sends them; when the receiver cannot
 * be reached they wait (the oldest are dropped past OC_REPORT_QUEUE_MAX)
 * and sending resumes when it answers.  A refusal (4xx) is logged and not
 * retried: it would not change.  Nothing depends on every event arriving:
 * the receiver's periodic full describe repairs what was missed.
 */
#ifndef OC_REPORT_H
#define OC_REPORT_H

#include <stdint.h>

#include "common/err.h"

#define OC_REPORT_QUEUE_MAX 4096

struct oc_report_config {
    const char *url;             /* NULL or "": changes are only counted */
    const char *access_key_id, *secret, *region;
    const char *path;            /* "/" */
    const char *service;         /* SigV4 service: "cc" */
    const char *action;          /* "ccNodeEvent" */
    const char *version;         /* "2026-11-01" */
    const char *source_param;    /* "NodeName" */
    const char *source;          /* this sender's name */
};

struct oc_report_event {
    char id[32];                 /* InstanceId */
    char state[16];              /* State */
    char reason[256];            /* StateReason */
    int64_t time;                /* StateTime (seconds since the epoch) */
    char node[64];               /* Node, when not "" */
};

struct oc_report;

int oc_report_new(const struct oc_report_config *cfg, struct oc_report **out,
                  struct oc_err *err) OC_WUR;
void oc_report_free(struct oc_report *r);
/* Queues a change (copied); its Sequence is the next number. */
void oc_report_push(struct oc_report *r, const struct oc_report_event *e);
/* Changes pushed so far, and how many of them were delivered. */
void oc_report_counts(struct oc_report *r, uint64_t *pushed, uint64_t *sent);

#endif
