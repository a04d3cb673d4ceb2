#include "common/fsutil.h"
#include "common/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int oc_write_all(int fd, const void *data, size_t len, struct oc_err *err)
{
    const char *p = data;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return oc_err_set(err, OC_EIO, "write: %s", strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return OC_OK;
}

int oc_fsync_dir(const char *dir, struct oc_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return oc_err_set(err, OC_EIO, "open %s: %s", dir, strerror(errno));
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return oc_err_set(err, OC_EIO, "fsync %s: %s", dir, strerror(e));
    }
    close(fd);
    return OC_OK;
}

int oc_mkdirs(const char *path, mode_t mode, struct oc_err *err)
{
    char *p = strdup(path);

    if (!p)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;

            *s = '\0';
            if (mkdir(p, mode) != 0 && errno != EEXIST) {
                int e = errno;
                oc_err_set(err, OC_EIO, "mkdir %s: %s", p, strerror(e));
                free(p);
                return OC_EIO;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return OC_OK;
}

int oc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct oc_err *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16), *dir;
    int fd, rc;

    if (!tmp)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = oc_err_set(err, OC_EIO, "open %s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    rc = oc_write_all(fd, data, len, err);
    if (rc == OC_OK && fsync(fd) != 0)
        rc = oc_err_set(err, OC_EIO, "fsync %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == OC_OK)
        rc = oc_err_set(err, OC_EIO, "close %s: %s", tmp, strerror(errno));
    if (rc == OC_OK && rename(tmp, path) != 0)
        rc = oc_err_set(err, OC_EIO, "rename %s: %s", path, strerror(errno));
    if (rc != OC_OK) {
        unlink(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    dir = strdup(path);
    if (!dir)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        rc = oc_fsync_dir(slash == dir ? "/" : dir, err);
    }
    free(dir);
    return rc;
}

int oc_read_file(const char *path, size_t max, char **out, size_t *len, struct oc_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct oc_buf b = { 0 };
    char chunk[8192];

    if (fd < 0)
        return oc_err_set(err, errno == ENOENT ? OC_ENOTFOUND : OC_EIO, "open %s: %s", path,
                          strerror(errno));
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            oc_buf_free(&b);
            return oc_err_set(err, OC_EIO, "read %s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > max) {
            close(fd);
            oc_buf_free(&b);
            return oc_err_set(err, OC_ETOOBIG, "%s is larger than %zu bytes", path, max);
        }
        if (oc_buf_append(&b, chunk, (size_t)n) != OC_OK) {
            close(fd);
            oc_buf_free(&b);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
    }
    close(fd);
    *len = b.len;
    *out = oc_buf_steal(&b);
    return OC_OK;
}
