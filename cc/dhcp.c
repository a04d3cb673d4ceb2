/*
 * dhcp.c - dnsmasq as a supervised child (dhcp.h).
 */
#include "cc/dhcp.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cc/netns.h"
#include "common/fsutil.h"
#include "common/log.h"

#define DHCP_ARGS 24

struct cc_dhcp {
    pthread_mutex_t lock;         /* pid, stopping, restart, the files' last contents */
    pthread_cond_t cond;          /* stop wakes the restart delay */
    pthread_t thread;
    int thread_started;
    pid_t pid;
    int stopping;
    int restart;                  /* dnsmasq was ended to read a new dnsmasq.conf */
    unsigned lease_s;
    int nsfd;                     /* -1: the CC's own namespace */
    char *conf_path, *hosts_path, *opts_path, *log_path, *pid_path;
    char *conf_last, *hosts_last, *opts_last;
    char *args[DHCP_ARGS];        /* owned strings; argv points at them */
    const char *argv[DHCP_ARGS + 1];
};

/* ------------------------------------------------------------------ */
/* files */

int cc_dhcp_render_hosts(const struct cc_net_model *m, struct oc_buf *out)
{
    for (size_t i = 0; i < m->nhosts; i++) {
        const struct cc_net_host *h = &m->hosts[i];

        if (oc_buf_printf(out, "%s,%s,%s\n", h->mac, h->ip, h->id))
            return OC_ENOMEM;
    }
    return OC_OK;
}

int cc_dhcp_render_ranges(const struct cc_net_model *m, unsigned lease_s, struct oc_buf *out)
{
    for (size_t i = 0; i < m->ngroups; i++) {
        const struct cc_net_group *g = &m->groups[i];
        size_t baselen = strcspn(g->cidr, "/");

        if (!g->has_net)
            continue;
        if (oc_buf_printf(out, "dhcp-range=set:n%u,%.*s,static,%s,%u\n", g->index,
                          (int)baselen, g->cidr, g->netmask, lease_s))
            return OC_ENOMEM;
    }
    return OC_OK;
}

int cc_dhcp_render_opts(const struct cc_net_model *m, struct oc_buf *out)
{
    for (size_t i = 0; i < m->ngroups; i++) {
        const struct cc_net_group *g = &m->groups[i];

        if (!g->has_net)
            continue;   /* no addresses of its own */
        if (oc_buf_printf(out, "tag:n%u,option:router,%s\ntag:n%u,option:netmask,%s\n"
                          "tag:n%u,28,%s\n", g->index, g->gateway, g->index,
                          g->netmask, g->index, g->broadcast))
            return OC_ENOMEM;
    }
    return OC_OK;
}

/* Writes path when its text differs from *last; 1 when it wrote. */
static int write_if_changed(const char *path, char **last, const struct oc_buf *text,
                            struct oc_err *err)
{
    const char *t = text->data ? text->data : "";
    char *copy;
    int rc;

    if (*last && strcmp(*last, t) == 0)
        return 0;
    copy = strdup(t);
    if (!copy)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = oc_write_file_atomic(path, t, text->len, 0600, err);
    if (rc) {
        free(copy);
        return rc;
    }
    free(*last);
    *last = copy;
    return 1;
}

/* What write_files changed. */
enum { FILES_SAME = 0, FILES_RELOAD = 1, FILES_RESTART = 2 };

/* FILES_RESTART when dnsmasq.conf (the ranges) changed, FILES_RELOAD when
 * only the hosts or options did, FILES_SAME when nothing did; < 0 on
 * error (lock held). */
static int write_files(struct cc_dhcp *d, const struct cc_net_model *m, struct oc_err *err)
{
    struct oc_buf c = { 0 }, h = { 0 }, o = { 0 };
    int rc, a = 0, b = 0, r = 0;

    rc = oc_buf_puts(&c, "# written by overcast-cc: one static range per group network\n");
    if (rc == OC_OK)
        rc = cc_dhcp_render_ranges(m, d->lease_s, &c);
    if (rc == OC_OK)
        rc = cc_dhcp_render_hosts(m, &h);
    if (rc == OC_OK)
        rc = cc_dhcp_render_opts(m, &o);
    if (rc)
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
    /* Ranges and options before hosts: a host's network is always there
     * when dnsmasq reads the host. */
    if (rc == OC_OK)
        rc = r = write_if_changed(d->conf_path, &d->conf_last, &c, err);
    if (rc >= 0)
        rc = b = write_if_changed(d->opts_path, &d->opts_last, &o, err);
    if (rc >= 0)
        rc = a = write_if_changed(d->hosts_path, &d->hosts_last, &h, err);
    oc_buf_free(&c);
    oc_buf_free(&h);
    oc_buf_free(&o);
    return rc < 0 ? rc : r ? FILES_RESTART : (a || b) ? FILES_RELOAD : FILES_SAME;
}

/* ------------------------------------------------------------------ */
/* the child */

/* fork + exec with everything prepared before the fork: between them the
 * child only makes system calls. */
static pid_t spawn(struct cc_dhcp *d)
{
    int logfd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    sigset_t none;
    struct sigaction ign;
    pid_t pid;

    sigemptyset(&none);
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    if (logfd < 0 || nullfd < 0) {
        oc_error("dhcp: cannot open %s or /dev/null: %s", d->log_path, strerror(errno));
        if (logfd >= 0)
            close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        /* The daemon blocks signals for its signal thread: dnsmasq must
         * see SIGHUP and SIGTERM. */
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* A SIGHUP sent before dnsmasq installs its handler would end it
         * (the default action); ignored, it is lost harmlessly: dnsmasq
         * installs its handlers before it reads any file. */
        sigaction(SIGHUP, &ign, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (d->nsfd >= 0 && setns(d->nsfd, CLONE_NEWNET) != 0)
            _exit(126);
        if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(126);
        if (strchr(d->argv[0], '/'))
            execv(d->argv[0], (char *const *)d->argv);
        else
            execvp(d->argv[0], (char *const *)d->argv);
        _exit(127);
    }
    close(logfd);
    close(nullfd);
    if (pid < 0)
        oc_error("dhcp: fork: %s", strerror(errno));
    return pid;
}

static void *supervise(void *arg)
{
    struct cc_dhcp *d = arg;

    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        pid_t pid = spawn(d);
        int status = 0;

        if (pid > 0) {
            d->pid = pid;
            oc_info("dhcp: dnsmasq started (pid %d)", (int)pid);
            pthread_mutex_unlock(&d->lock);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            pthread_mutex_lock(&d->lock);
            d->pid = 0;
            if (d->stopping)
                break;
            if (d->restart) {
                /* Ended by cc_dhcp_update for new ranges: back at once. */
                d->restart = 0;
                continue;
            }
            if (WIFEXITED(status))
                oc_warn("dhcp: dnsmasq exited with status %d (see %s); restarting",
                        WEXITSTATUS(status), d->log_path);
            else
                oc_warn("dhcp: dnsmasq was killed by signal %d; restarting",
                        WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
        {
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            while (!d->stopping &&
                   pthread_cond_timedwait(&d->cond, &d->lock, &ts) != ETIMEDOUT)
                ;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* A dnsmasq left by a CC that died without stopping it (its pid file
 * names a live dnsmasq started with our hosts file) is ended first. */
static void end_leftover(struct cc_dhcp *d)
{
    char *text = NULL, path[64], *cmd = NULL;
    size_t len, clen;
    long pid;
    struct oc_err err = { 0 };

    if (oc_read_file(d->pid_path, 64, &text, &len, &err) != OC_OK)
        return;
    pid = strtol(text, NULL, 10);
    free(text);
    if (pid <= 1)
        return;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    if (oc_read_file(path, 65536, &cmd, &clen, &err) != OC_OK)
        return;
    for (size_t i = 0; i + 1 < clen; i++)
        if (cmd[i] == '\0')
            cmd[i] = ' ';
    if (strstr(cmd, "dnsmasq") && strstr(cmd, d->hosts_path)) {
        oc_warn("dhcp: ending dnsmasq %ld left by an earlier run", pid);
        kill((pid_t)pid, SIGTERM);
        for (int i = 0; i < 50 && kill((pid_t)pid, 0) == 0; i++)
            usleep(100 * 1000);
    }
    free(cmd);
}

static void dhcp_free(struct cc_dhcp *d)
{
    if (d->nsfd >= 0)
        close(d->nsfd);
    free(d->conf_path);
    free(d->hosts_path);
    free(d->opts_path);
    free(d->log_path);
    free(d->pid_path);
    free(d->conf_last);
    free(d->hosts_last);
    free(d->opts_last);
    for (size_t i = 0; i < DHCP_ARGS; i++)
        free(d->args[i]);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
}

const char *const *cc_dhcp_argv(const struct cc_dhcp *d)
{
    return d->argv;
}

int cc_dhcp_start(const struct cc_dhcp_config *cfg, const struct cc_net_model *m,
                  struct cc_dhcp **out, struct oc_err *err)
{
    struct cc_dhcp *d = calloc(1, sizeof(*d));
    size_t n = 0;
    int rc, bad = 0;

    *out = NULL;
    if (!d)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    d->nsfd = -1;
    d->lease_s = cfg->lease_s ? cfg->lease_s : 3600;
#define ARG(...) (n < DHCP_ARGS && asprintf(&d->args[n++], __VA_ARGS__) >= 0 ? 0 : (bad = 1))
    if (asprintf(&d->conf_path, "%s/dnsmasq.conf", cfg->dir) < 0 ||
        asprintf(&d->hosts_path, "%s/dnsmasq.hosts", cfg->dir) < 0 ||
        asprintf(&d->opts_path, "%s/dnsmasq.opts", cfg->dir) < 0 ||
        asprintf(&d->log_path, "%s/dnsmasq.log", cfg->dir) < 0 ||
        asprintf(&d->pid_path, "%s/dnsmasq.pid", cfg->dir) < 0) {
        dhcp_free(d);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    ARG("%s", cfg->dnsmasq && *cfg->dnsmasq ? cfg->dnsmasq : "dnsmasq");
    ARG("--keep-in-foreground");
    ARG("--conf-file=%s", d->conf_path);
    ARG("--port=0");
    ARG("--user=root");
    ARG("--interface=%s", cfg->bridge);
    ARG("--bind-interfaces");
    ARG("--except-interface=lo");
    ARG("--dhcp-authoritative");
    ARG("--no-ping");
    ARG("--log-dhcp");
    ARG("--log-facility=-");
    ARG("--dhcp-hostsfile=%s", d->hosts_path);
    ARG("--dhcp-optsfile=%s", d->opts_path);
    ARG("--dhcp-leasefile=%s/dnsmasq.leases", cfg->dir);
    ARG("--pid-file=%s", d->pid_path);
#undef ARG
    if (bad) {
        dhcp_free(d);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        d->argv[i] = d->args[i];
    d->argv[n] = NULL;
    if (cfg->netns && *cfg->netns) {
        d->nsfd = cc_netns_open(cfg->netns, err);
        if (d->nsfd < 0) {
            dhcp_free(d);
            return err && err->code ? err->code : OC_EIO;
        }
    }
    rc = write_files(d, m, err);
    if (rc < 0) {
        dhcp_free(d);
        return rc;
    }
    end_leftover(d);
    if (pthread_create(&d->thread, NULL, supervise, d) != 0) {
        dhcp_free(d);
        return oc_err_set(err, OC_EINTERNAL, "cannot start a thread");
    }
    d->thread_started = 1;
    *out = d;
    return OC_OK;
}

int cc_dhcp_update(struct cc_dhcp *d, const struct cc_net_model *m, struct oc_err *err)
{
    int rc;

    pthread_mutex_lock(&d->lock);
    rc = write_files(d, m, err);
    if (rc == FILES_RESTART && d->pid > 0) {
        /* dnsmasq reads its ranges only at start; the supervisor starts it
         * again at once (no instance loses its address: they are static,
         * and the lease file stays). */
        d->restart = 1;
        kill(d->pid, SIGTERM);
    } else if (rc == FILES_RELOAD && d->pid > 0) {
        kill(d->pid, SIGHUP);
    }
    if (rc > 0)
        rc = OC_OK;
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void cc_dhcp_stop(struct cc_dhcp *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    if (d->pid > 0)
        kill(d->pid, SIGTERM);
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (d->thread_started)
        pthread_join(d->thread, NULL);
    dhcp_free(d);
}
