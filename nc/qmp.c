/*
 * qmp.c - the QMP client (see qmp.h).
 */
#include "nc/qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

#define EVENTS_KEPT 64

struct nc_qmp {
    int fd;
    char *buf;
    size_t len, cap;
    json_t *events;      /* array of event objects not yet waited for */
};

static long long now_ms(void)
{
    return (long long)oc_mono_ms();
}

/* ------------------------------------------------------------------ */
/* the parser */

static void copy_str(char *dst, size_t cap, json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";

    snprintf(dst, cap, "%s", s);
}

int nc_qmp_parse(const char *line, size_t len, struct nc_qmp_msg *out, struct oc_err *err)
{
    json_error_t je;
    json_t *root, *v;

    memset(out, 0, sizeof(*out));
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return oc_err_set(err, OC_EINVAL, "QMP: not JSON: %s", je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return oc_err_set(err, OC_EINVAL, "QMP: not an object");
    }
    out->root = root;
    if ((v = json_object_get(root, "return"))) {
        out->kind = NC_QMP_RETURN;
        out->value = v;
    } else if ((v = json_object_get(root, "error"))) {
        json_t *cls = json_object_get(v, "class"), *desc = json_object_get(v, "desc");

        if (!json_is_object(v) || !json_is_string(cls) || !json_string_value(cls)[0] ||
            strlen(json_string_value(cls)) >= sizeof(out->name)) {
            nc_qmp_msg_free(out);
            return oc_err_set(err, OC_EINVAL, "QMP: an error without a class");
        }
        out->kind = NC_QMP_ERROR;
        copy_str(out->name, sizeof(out->name), cls);
        copy_str(out->desc, sizeof(out->desc), desc);
    } else if ((v = json_object_get(root, "event"))) {
        if (!json_is_string(v) || !json_string_value(v)[0] ||
            strlen(json_string_value(v)) >= sizeof(out->name)) {
            nc_qmp_msg_free(out);
            return oc_err_set(err, OC_EINVAL, "QMP: an event without a name");
        }
        out->kind = NC_QMP_EVENT;
        copy_str(out->name, sizeof(out->name), v);
        out->value = json_object_get(root, "data");
    } else if (json_is_object(json_object_get(root, "QMP"))) {
        out->kind = NC_QMP_GREETING;
        out->value = json_object_get(root, "QMP");
    } else {
        nc_qmp_msg_free(out);
        return oc_err_set(err, OC_EINVAL, "QMP: neither a reply, an event nor a greeting");
    }
    return OC_OK;
}

void nc_qmp_msg_free(struct nc_qmp_msg *m)
{
    json_decref(m->root);
    m->root = m->value = NULL;
}

/* ------------------------------------------------------------------ */
/* the connection */

/* The next message, read until the deadline. */
static int next_msg(struct nc_qmp *q, long long deadline, struct nc_qmp_msg *m, struct oc_err *err)
{
    for (;;) {
        char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
        struct pollfd p = { q->fd, POLLIN, 0 };
        long long left;
        ssize_t got;

        if (nl) {
            size_t n = (size_t)(nl - q->buf);
            int rc = n ? nc_qmp_parse(q->buf, n, m, err) : OC_EAGAIN;

            memmove(q->buf, nl + 1, q->len - n - 1);
            q->len -= n + 1;
            if (rc == OC_EAGAIN)
                continue;   /* an empty line */
            return rc;
        }
        if (q->len >= NC_QMP_LINE_MAX)
            return oc_err_set(err, OC_ETOOBIG, "QMP: a line longer than %u bytes",
                              NC_QMP_LINE_MAX);
        if (q->cap - q->len < 4096) {
            size_t cap = q->cap ? q->cap * 2 : 8192;
            char *b = realloc(q->buf, cap);

            if (!b)
                return oc_err_set(err, OC_ENOMEM, "out of memory");
            q->buf = b;
            q->cap = cap;
        }
        left = deadline - now_ms();
        if (left <= 0)
            return oc_err_set(err, OC_EAGAIN, "QMP: QEMU did not answer in time");
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            return oc_err_set(err, OC_EIO, "QMP: poll: %s", strerror(errno));
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        got = read(q->fd, q->buf + q->len, q->cap - q->len);
        if (got == 0)
            return oc_err_set(err, OC_EIO, "QMP: QEMU closed the connection");
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return oc_err_set(err, OC_EIO, "QMP: read: %s", strerror(errno));
        }
        q->len += (size_t)got;
    }
}

static void keep_event(struct nc_qmp *q, struct nc_qmp_msg *m)
{
    if (json_array_size(q->events) >= EVENTS_KEPT)
        json_array_remove(q->events, 0);
    json_array_append(q->events, m->root);
}

static int send_all(int fd, const char *data, size_t len, int pass_fd, struct oc_err *err)
{
    while (len) {
        struct iovec iov = { (void *)data, len };
        struct msghdr mh = { 0 };
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        ssize_t n;

        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        if (pass_fd >= 0) {
            struct cmsghdr *c;

            memset(&u, 0, sizeof(u));
            mh.msg_control = u.buf;
            mh.msg_controllen = sizeof(u.buf);
            c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return oc_err_set(err, OC_EIO, "QMP: send: %s", strerror(errno));
        }
        pass_fd = -1;   /* sent with the first bytes */
        data += n;
        len -= (size_t)n;
    }
    return OC_OK;
}

int nc_qmp_call(struct nc_qmp *q, const char *cmd, json_t *args, int fd, json_t **ret,
                int timeout_ms, struct oc_err *err)
{
    long long deadline = now_ms() + timeout_ms;
    json_t *req = json_pack("{s:s}", "execute", cmd);
    char *text;
    int rc;

    if (ret)
        *ret = NULL;
    if (!req) {
        json_decref(args);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    if (args && json_object_set_new(req, "arguments", args) != 0) {
        json_decref(req);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = send_all(q->fd, text, strlen(text), fd, err);
    if (rc == OC_OK)
        rc = send_all(q->fd, "\n", 1, -1, err);
    free(text);
    while (rc == OC_OK) {
        struct nc_qmp_msg m;

        if ((rc = next_msg(q, deadline, &m, err)))
            break;
        if (m.kind == NC_QMP_EVENT) {
            keep_event(q, &m);
        } else if (m.kind == NC_QMP_RETURN) {
            if (ret)
                *ret = json_incref(m.value);
            nc_qmp_msg_free(&m);
            return OC_OK;
        } else if (m.kind == NC_QMP_ERROR) {
            rc = oc_err_set(err, OC_ECONFLICT, "%s: %s: %s", cmd, m.name, m.desc);
        }
        nc_qmp_msg_free(&m);
    }
    return rc;
}

static json_t *take_event(struct nc_qmp *q, const char *name)
{
    for (size_t i = 0; i < json_array_size(q->events); i++) {
        json_t *e = json_array_get(q->events, i);

        if (strcmp(json_string_value(json_object_get(e, "event")), name) == 0) {
            json_incref(e);
            json_array_remove(q->events, i);
            return e;
        }
    }
    return NULL;
}

int nc_qmp_wait_event(struct nc_qmp *q, const char *name, int timeout_ms, json_t **data,
                      struct oc_err *err)
{
    long long deadline = now_ms() + timeout_ms;
    json_t *e = take_event(q, name);
    int rc = OC_OK;

    while (!e) {
        struct nc_qmp_msg m;

        if ((rc = next_msg(q, deadline, &m, err)))
            return rc;
        if (m.kind == NC_QMP_EVENT) {
            if (strcmp(m.name, name) == 0)
                e = json_incref(m.root);
            else
                keep_event(q, &m);
        }
        nc_qmp_msg_free(&m);
    }
    if (data)
        *data = json_incref(json_object_get(e, "data"));
    json_decref(e);
    return OC_OK;
}

int nc_qmp_open(const char *sock_path, int timeout_ms, struct nc_qmp **out, struct oc_err *err)
{
    long long deadline = now_ms() + timeout_ms;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct nc_qmp *q;
    struct nc_qmp_msg m;
    int rc;

    *out = NULL;
    if (strlen(sock_path) >= sizeof(sa.sun_path))
        return oc_err_set(err, OC_EINVAL, "QMP socket path too long: %s", sock_path);
    strcpy(sa.sun_path, sock_path);
    q = calloc(1, sizeof(*q));
    if (!q || !(q->events = json_array())) {
        free(q);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    for (;;) {
        q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (q->fd < 0) {
            rc = oc_err_set(err, OC_EIO, "socket: %s", strerror(errno));
            goto fail;
        }
        if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        rc = errno;
        close(q->fd);
        q->fd = -1;
        if ((rc != ENOENT && rc != ECONNREFUSED) || now_ms() >= deadline) {
            rc = oc_err_set(err, OC_EIO, "QMP: cannot connect to %s: %s", sock_path,
                            strerror(rc));
            goto fail;
        }
        usleep(2000);
    }
    if ((rc = next_msg(q, deadline, &m, err)))
        goto fail;
    if (m.kind != NC_QMP_GREETING) {
        nc_qmp_msg_free(&m);
        rc = oc_err_set(err, OC_EIO, "QMP: %s did not greet", sock_path);
        goto fail;
    }
    nc_qmp_msg_free(&m);
    if ((rc = nc_qmp_call(q, "qmp_capabilities", NULL, -1, NULL, timeout_ms, err)))
        goto fail;
    *out = q;
    return OC_OK;
fail:
    nc_qmp_close(q);
    return rc;
}

void nc_qmp_close(struct nc_qmp *q)
{
    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    json_decref(q->events);
    free(q->buf);
    free(q);
}
