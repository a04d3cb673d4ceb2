/*
 * report.c - state changes to the CC (see report.h).
 */
#include "nc/report.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/httpc.h"
#include "common/log.h"

struct event {
    char id[NC_ID_MAX];
    char state[16];
    char reason[256];
    int64_t time;
    uint64_t seq;
};

struct nc_report {
    struct oc_httpc *http;
    char node[256];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct event *q;          /* ring of NC_REPORT_QUEUE_MAX */
    size_t head, len;
    uint64_t seq;
    int stop;
    pthread_t thread;
    int started;
};

static int send_one(struct nc_report *r, const struct event *e)
{
    char seq[24], t[24];
    struct oc_kv p[] = {
        { "NodeName", r->node, 1 },   { "InstanceId", e->id, 1 },
        { "State", e->state, 1 },     { "StateReason", e->reason, 1 },
        { "StateTime", t, 1 },        { "Sequence", seq, 1 },
    };
    struct oc_httpc_resp resp = { 0 };
    struct oc_err err = { 0 };
    int rc;

    snprintf(seq, sizeof(seq), "%" PRIu64, e->seq);
    snprintf(t, sizeof(t), "%" PRId64, e->time);
    rc = oc_httpc_query(r->http, "/", "cc", "ccNodeEvent", "2026-11-01", p,
                        sizeof(p) / sizeof(p[0]), &resp, &err);
    if (rc == OC_OK && resp.status != 200) {
        oc_log(OC_LOG_WARN, "ccNodeEvent %s %s: HTTP %ld", e->id, e->state, resp.status);
        rc = resp.status >= 500 ? OC_EIO : OC_OK;   /* a refusal will not change on retry */
    }
    oc_httpc_resp_free(&resp);
    return rc;
}

static void *main_loop(void *arg)
{
    struct nc_report *r = arg;

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct event e;
        struct timespec until;

        if (!r->len) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        e = r->q[r->head];
        pthread_mutex_unlock(&r->mu);
        if (send_one(r, &e) == OC_OK) {
            pthread_mutex_lock(&r->mu);
            /* The slot may have been overwritten by an overflow. */
            if (r->len && r->q[r->head].seq == e.seq) {
                r->head = (r->head + 1) % NC_REPORT_QUEUE_MAX;
                r->len--;
            }
            continue;
        }
        pthread_mutex_lock(&r->mu);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 2;
        pthread_cond_timedwait(&r->cv, &r->mu, &until);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int nc_report_new(const char *cc_url, const char *access_key_id, const char *secret,
                  const char *region, const char *node_name, struct nc_report **out,
                  struct oc_err *err)
{
    struct nc_report *r = calloc(1, sizeof(*r));
    int rc;

    if (!r)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    snprintf(r->node, sizeof(r->node), "%s", node_name);
    r->q = calloc(NC_REPORT_QUEUE_MAX, sizeof(*r->q));
    if (!r->q) {
        nc_report_free(r);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    if (cc_url && *cc_url) {
        struct oc_httpc_config hc = { cc_url, access_key_id, secret, region, 10000 };

        if ((rc = oc_httpc_new(&hc, &r->http, err))) {
            nc_report_free(r);
            return rc;
        }
        if (pthread_create(&r->thread, NULL, main_loop, r) != 0) {
            nc_report_free(r);
            return oc_err_set(err, OC_EINTERNAL, "cannot start the report thread");
        }
        r->started = 1;
    }
    *out = r;
    return OC_OK;
}

void nc_report_free(struct nc_report *r)
{
    if (!r)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    oc_httpc_free(r->http);
    free(r->q);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

void nc_report_change(void *ctx, const struct nc_instance *s)
{
    struct nc_report *r = ctx;
    struct event *e;

    pthread_mutex_lock(&r->mu);
    if (!r->started) {
        r->seq++;
        pthread_mutex_unlock(&r->mu);
        return;
    }
    if (r->len == NC_REPORT_QUEUE_MAX) {
        r->head = (r->head + 1) % NC_REPORT_QUEUE_MAX;
        r->len--;
    }
    e = &r->q[(r->head + r->len) % NC_REPORT_QUEUE_MAX];
    snprintf(e->id, sizeof(e->id), "%s", s->id);
    snprintf(e->state, sizeof(e->state), "%s", nc_state_name(s->state));
    snprintf(e->reason, sizeof(e->reason), "%s", s->state_reason);
    e->time = s->state_time;
    e->seq = ++r->seq;
    r->len++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}
