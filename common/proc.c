/*
 * proc.c - fixed-argv helper programs (see proc.h).
 */
#include "common/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROC_MAX_OUT (1u << 20)

extern char **environ;

int oc_run(const char *const argv[], struct oc_buf *out, struct oc_err *err)
{
    posix_spawn_file_actions_t fa;
    int op[2] = { -1, -1 }, ep[2] = { -1, -1 }, status = 0, rc;
    char errtail[400] = "";
    size_t errlen = 0;
    int out_lost = 0;
    pid_t pid;

    if (pipe2(op, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0) {
        rc = errno;
        if (op[0] >= 0) {
            close(op[0]);
            close(op[1]);
        }
        return oc_err_set(err, OC_EIO, "pipe: %s", strerror(rc));
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, op[1], 1);
    posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
    rc = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ)
                              : posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
                                             environ);
    posix_spawn_file_actions_destroy(&fa);
    close(op[1]);
    close(ep[1]);
    if (rc != 0) {
        close(op[0]);
        close(ep[0]);
        return oc_err_set(err, OC_EIO, "cannot run %s: %s", argv[0], strerror(rc));
    }
    /* Drain both pipes until both close, so neither side blocks. */
    for (int open_fds = 2; open_fds > 0;) {
        struct pollfd p[2] = { { op[0], POLLIN, 0 }, { ep[0], POLLIN, 0 } };
        char chunk[4096];

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < 2; k++) {
            ssize_t n;

            if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(p[k].fd, chunk, sizeof(chunk));
            if (n <= 0) {
                close(p[k].fd);
                if (k == 0)
                    op[0] = -1;
                else
                    ep[0] = -1;
                open_fds--;
                continue;
            }
            if (k == 0 && out && out->len + (size_t)n <= PROC_MAX_OUT &&
                oc_buf_append(out, chunk, (size_t)n) != OC_OK)
                out_lost = 1;
            if (k == 1) {
                /* Keep the last bytes: the reason is usually at the end. */
                size_t keep = sizeof(errtail) - 1;

                if ((size_t)n >= keep) {
                    memcpy(errtail, chunk + n - keep, keep);
                    errlen = keep;
                } else {
                    if (errlen + (size_t)n > keep) {
                        size_t drop = errlen + (size_t)n - keep;

                        memmove(errtail, errtail + drop, errlen - drop);
                        errlen -= drop;
                    }
                    memcpy(errtail + errlen, chunk, (size_t)n);
                    errlen += (size_t)n;
                }
                errtail[errlen] = 0;
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    while (errlen && (errtail[errlen - 1] == '\n' || errtail[errlen - 1] == ' '))
        errtail[--errlen] = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return out_lost ? oc_err_set(err, OC_ENOMEM, "out of memory reading %s", argv[0]) : OC_OK;
    if (WIFSIGNALED(status))
        return oc_err_set(err, OC_EIO, "%s killed by signal %d: %s", argv[0], WTERMSIG(status),
                          errtail);
    return oc_err_set(err, OC_EIO, "%s exited with %d: %s", argv[0], WEXITSTATUS(status),
                      errtail);
}
