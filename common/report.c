/*
 * report.c - ordered, queued state-change reports (see report.h).
 */
#include "common/report.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/httpc.h"
#include "common/log.h"

struct item {
    struct oc_report_event e;
    uint64_t seq;
};

struct oc_report {
    struct oc_httpc *http;
    char *path, *service, *action, *version, *source_param, *source;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *q;           /* ring of OC_REPORT_QUEUE_MAX */
    size_t head, len;
    uint64_t seq, sent;
    int stop;
    pthread_t thread;
    int started;
};

static int send_one(struct oc_report *r, const struct item *it)
{
    char seq[24], t[24];
    struct oc_kv p[7] = {
        { r->source_param, r->source, 1 }, { "InstanceId", it->e.id, 1 },
        { "State", it->e.state, 1 },       { "StateReason", it->e.reason, 1 },
        { "StateTime", t, 1 },             { "Sequence", seq, 1 },
        { "Node", it->e.node, 1 },
    };
    struct oc_httpc_resp resp = { 0 };
    struct oc_err err = { 0 };
    int rc;

    snprintf(seq, sizeof(seq), "%" PRIu64, it->seq);
    snprintf(t, sizeof(t), "%" PRId64, it->e.time);
    rc = oc_httpc_query(r->http, r->path, r->service, r->action, r->version, p,
                        it->e.node[0] ? 7 : 6, &resp, &err);
    if (rc == OC_OK && resp.status != 200) {
        oc_log(OC_LOG_WARN, "%s %s %s: HTTP %ld", r->action, it->e.id, it->e.state,
               resp.status);
        rc = resp.status >= 500 ? OC_EIO : OC_OK;   /* a refusal will not change on retry */
    }
    oc_httpc_resp_free(&resp);
    return rc;
}

static void *main_loop(void *arg)
{
    struct oc_report *r = arg;

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct item it;
        struct timespec until;

        if (!r->len) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        it = r->q[r->head];
        pthread_mutex_unlock(&r->mu);
        if (send_one(r, &it) == OC_OK) {
            pthread_mutex_lock(&r->mu);
            /* The slot may have been overwritten by an overflow. */
            if (r->len && r->q[r->head].seq == it.seq) {
                r->head = (r->head + 1) % OC_REPORT_QUEUE_MAX;
                r->len--;
            }
            r->sent++;
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

int oc_report_new(const struct oc_report_config *cfg, struct oc_report **out,
                  struct oc_err *err)
{
    struct oc_report *r = calloc(1, sizeof(*r));
    int rc;

    *out = NULL;
    if (!r)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->path = strdup(cfg->path ? cfg->path : "/");
    r->service = strdup(cfg->service ? cfg->service : "");
    r->action = strdup(cfg->action ? cfg->action : "");
    r->version = strdup(cfg->version ? cfg->version : "");
    r->source_param = strdup(cfg->source_param ? cfg->source_param : "Source");
    r->source = strdup(cfg->source ? cfg->source : "");
    r->q = calloc(OC_REPORT_QUEUE_MAX, sizeof(*r->q));
    if (!r->path || !r->service || !r->action || !r->version || !r->source_param ||
        !r->source || !r->q) {
        oc_report_free(r);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    if (cfg->url && *cfg->url) {
        struct oc_httpc_config hc = { cfg->url, cfg->access_key_id, cfg->secret, cfg->region,
                                      10000 };

        if ((rc = oc_httpc_new(&hc, &r->http, err))) {
            oc_report_free(r);
            return rc;
        }
        if (pthread_create(&r->thread, NULL, main_loop, r) != 0) {
            oc_report_free(r);
            return oc_err_set(err, OC_EINTERNAL, "cannot start the report thread");
        }
        r->started = 1;
    }
    *out = r;
    return OC_OK;
}

void oc_report_free(struct oc_report *r)
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
    free(r->path);
    free(r->service);
    free(r->action);
    free(r->version);
    free(r->source_param);
    free(r->source);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

void oc_report_push(struct oc_report *r, const struct oc_report_event *e)
{
    struct item *it;

    pthread_mutex_lock(&r->mu);
    if (!r->started) {
        r->seq++;
        pthread_mutex_unlock(&r->mu);
        return;
    }
    if (r->len == OC_REPORT_QUEUE_MAX) {
        r->head = (r->head + 1) % OC_REPORT_QUEUE_MAX;
        r->len--;
    }
    it = &r->q[(r->head + r->len) % OC_REPORT_QUEUE_MAX];
    it->e = *e;
    it->seq = ++r->seq;
    r->len++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void oc_report_counts(struct oc_report *r, uint64_t *pushed, uint64_t *sent)
{
    pthread_mutex_lock(&r->mu);
    *pushed = r->seq;
    *sent = r->sent;
    pthread_mutex_unlock(&r->mu);
}
