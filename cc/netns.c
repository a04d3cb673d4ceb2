/*
 * netns.c - jobs inside a network namespace (netns.h).
 */
#include "cc/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cc_netns_open(const char *netns, struct oc_err *err)
{
    char path[300];
    int fd;

    if (!netns || !*netns || strchr(netns, '/') || strlen(netns) > 200 ||
        strcmp(netns, ".") == 0 || strcmp(netns, "..") == 0) {
        oc_err_set(err, OC_EINVAL, "network namespace name '%.40s' is malformed",
                   netns ? netns : "");
        return -1;
    }
    snprintf(path, sizeof(path), "/run/netns/%s", netns);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        oc_err_set(err, OC_EIO, "cannot open network namespace %s: %s", netns, strerror(errno));
    return fd;
}

struct job {
    const char *netns;
    int (*fn)(void *arg, struct oc_err *err);
    void *arg;
    int rc;
    struct oc_err err;
};

static void *job_main(void *p)
{
    struct job *j = p;

    if (j->netns && *j->netns) {
        int fd = cc_netns_open(j->netns, &j->err);

        if (fd < 0) {
            j->rc = j->err.code;
            return NULL;
        }
        if (setns(fd, CLONE_NEWNET) != 0) {
            j->rc = oc_err_set(&j->err, OC_EIO, "cannot enter network namespace %s: %s",
                               j->netns, strerror(errno));
            close(fd);
            return NULL;
        }
        close(fd);
    }
    j->rc = j->fn(j->arg, &j->err);
    return NULL;
}

int cc_netns_run(const char *netns, int (*fn)(void *arg, struct oc_err *err), void *arg,
                 struct oc_err *err)
{
    struct job j = { netns, fn, arg, OC_OK, { 0 } };
    pthread_t t;

    if (!netns || !*netns)
        return fn(arg, err);
    if (pthread_create(&t, NULL, job_main, &j) != 0)
        return oc_err_set(err, OC_EINTERNAL, "cannot start a thread");
    pthread_join(t, NULL);
    if (j.rc && err)
        *err = j.err;
    return j.rc;
}
