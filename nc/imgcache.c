/*
 * imgcache.c - the node's image cache (see imgcache.h).
 *
 * One list of entries under one mutex; a node holds tens of images, so
 * lookups walk the list.  An entry being filled is in the list already,
 * so a second get for its key finds it and waits on the entry's condvar
 * instead of fetching again.  The fetch itself (minutes for a large
 * image) runs with the lock released.
 *
 * Files: <dir>/<image id>-<digest>.img, mode 0444 (a base under qcow2
 * overlays must never be written).  Temporaries are
 * <dir>/.tmp-<image id>-<digest>-<random>; any ".tmp-" file found at open
 * is a crash's leftover and is deleted.  An entry's last use is kept in
 * the file's mtime (touched on get and release), so LRU order survives a
 * restart.
 */
#include "nc/imgcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/ids.h"
#include "common/log.h"

#define TMP_PREFIX ".tmp-"
#define SUFFIX ".img"
#define ID_HEX_MIN 8
#define ID_HEX_MAX 17
#define DIGEST_MAX 64
/* ".tmp-" + id (4 + 17) + "-" + digest + "-" + 16 random hex, and "/" */
#define NAME_MAX_LEN (5 + 21 + 1 + DIGEST_MAX + 1 + 16 + 1)

enum entry_state { ENT_FILLING, ENT_READY, ENT_FAILED };

struct entry {
    struct entry *prev, *next;
    char *image_id, *digest;
    char *path;
    char format[8];
    uint64_t size;
    uint64_t last_use;             /* a tick of c->tick: larger is more recent */
    unsigned pins;
    enum entry_state state;
    /* single flight: gets waiting for the fill, and what it gave them */
    pthread_cond_t cond;
    unsigned waiters;
    int fill_rc;
    struct oc_err fill_err;
};

struct nc_imgcache {
    pthread_mutex_t mu;
    char *dir;                     /* absolute */
    uint64_t max_bytes;
    struct nc_img_fetcher f;
    struct entry *head;            /* filling and ready entries */
    uint64_t bytes;                /* of ready entries */
    uint64_t tick;
    unsigned long fetches, hits;
};

/* ------------------------------------------------------------------ */
/* names */

static int is_lower_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

/* Length of the image id at the start of s ("emi-" ... + 8..17 hex), 0
 * when there is none.  The hex run ends at the first non-hex byte. */
static size_t id_prefix_len(const char *s)
{
    static const char *const prefixes[] = { "emi-", "ami-", "eki-", "aki-", "eri-", "ari-" };
    size_t n = 0;
    int ok = 0;

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        ok |= strncmp(s, prefixes[i], 4) == 0;
    if (!ok)
        return 0;
    while (is_lower_hex(s[4 + n]))
        n++;
    return n >= ID_HEX_MIN && n <= ID_HEX_MAX ? 4 + n : 0;
}

static int id_valid(const char *id)
{
    size_t n = id ? id_prefix_len(id) : 0;

    return n && id[n] == '\0';
}

static int digest_valid_n(const char *d, size_t n)
{
    if (n == 0 || n > DIGEST_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_hex(d[i]) && d[i] != '-')
            return 0;
    return 1;
}

static int digest_valid(const char *d)
{
    return d && digest_valid_n(d, strlen(d));
}

/* "<id>-<digest>.img" -> id and digest (malloc'd); 0 when not one of ours. */
static int entry_name_parse(const char *name, char **id, char **digest)
{
    size_t n = strlen(name), idlen = id_prefix_len(name), slen = strlen(SUFFIX);

    if (!idlen || name[idlen] != '-' || n < idlen + 1 + slen ||
        strcmp(name + n - slen, SUFFIX) != 0 ||
        !digest_valid_n(name + idlen + 1, n - slen - idlen - 1))
        return 0;
    *id = strndup(name, idlen);
    *digest = strndup(name + idlen + 1, n - slen - idlen - 1);
    if (!*id || !*digest) {
        free(*id);
        free(*digest);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* entries */

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    pthread_cond_destroy(&e->cond);
    free(e->image_id);
    free(e->digest);
    free(e->path);
    free(e);
}

static struct entry *entry_new(const char *dir, const char *id, const char *digest)
{
    struct entry *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    pthread_cond_init(&e->cond, NULL);
    e->image_id = strdup(id);
    e->digest = strdup(digest);
    if (asprintf(&e->path, "%s/%s-%s%s", dir, id, digest, SUFFIX) < 0)
        e->path = NULL;
    if (!e->image_id || !e->digest || !e->path) {
        entry_free(e);
        return NULL;
    }
    return e;
}

static void list_add(struct nc_imgcache *c, struct entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
}

static void list_del(struct nc_imgcache *c, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

static struct entry *find(struct nc_imgcache *c, const char *id, const char *digest)
{
    for (struct entry *e = c->head; e; e = e->next)
        if (strcmp(e->image_id, id) == 0 && strcmp(e->digest, digest) == 0)
            return e;
    return NULL;
}

/* Marks a use, in memory and in the file's mtime (for the next open). */
static void touch(struct nc_imgcache *c, struct entry *e)
{
    e->last_use = ++c->tick;
    if (utimensat(AT_FDCWD, e->path, NULL, 0) != 0)
        oc_debug("image cache: cannot touch %s: %s", e->path, strerror(errno));
}

/* Drops ready, unpinned entries, least recently used first, until the
 * total fits.  Called with the lock held. */
static void evict(struct nc_imgcache *c)
{
    while (c->bytes > c->max_bytes) {
        struct entry *victim = NULL;

        for (struct entry *e = c->head; e; e = e->next)
            if (e->state == ENT_READY && e->pins == 0 &&
                (!victim || e->last_use < victim->last_use))
                victim = e;
        if (!victim)
            return;
        if (unlink(victim->path) != 0 && errno != ENOENT)
            oc_warn("image cache: cannot delete %s: %s", victim->path, strerror(errno));
        else
            oc_info("image cache: evicted %s (%s, %llu bytes)", victim->image_id,
                    victim->digest, (unsigned long long)victim->size);
        c->bytes -= victim->size;
        list_del(c, victim);
        entry_free(victim);
    }
}

static void fill_out(const struct entry *e, struct nc_cached_image *out)
{
    snprintf(out->path, sizeof(out->path), "%s", e->path);
    snprintf(out->format, sizeof(out->format), "%s", e->format);
    out->size = e->size;
}

/* "qcow2" when the file starts with the qcow2 magic, else "raw". */
static void detect_format(int fd, char format[8])
{
    unsigned char magic[4];
    ssize_t r;

    do {
        r = pread(fd, magic, sizeof(magic), 0);
    } while (r < 0 && errno == EINTR);
    snprintf(format, 8, "%s",
             r == (ssize_t)sizeof(magic) && memcmp(magic, "QFI\xfb", 4) == 0 ? "qcow2" : "raw");
}

/* ------------------------------------------------------------------ */
/* filling */

/* Fetches ref into a temporary, then publishes it under e->path.  Runs
 * without the lock: it touches only the filesystem and e's name. */
static int fill(struct nc_imgcache *c, struct entry *e, const struct nc_image_ref *ref,
                uint64_t *size, char format[8], struct oc_err *err)
{
    char rnd[17], *tmp = NULL;
    struct stat st;
    int fd = -1, rc;

    oc_random_hex(rnd, 8);
    if (asprintf(&tmp, "%s/" TMP_PREFIX "%s-%s-%s", c->dir, e->image_id, e->digest, rnd) < 0)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = oc_err_set(err, OC_EIO, "image cache: cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    oc_err_clear(err);
    rc = c->f.fetch(c->f.ctx, ref, fd, err);
    if (rc != OC_OK) {
        if (rc > 0)
            rc = OC_EINTERNAL;
        if (!err || !err->msg[0])
            oc_err_set(err, rc, "image %s: the fetch failed (%s)", ref->image_id,
                       oc_err_name(rc));
        goto fail;
    }
    if (fstat(fd, &st) != 0) {
        rc = oc_err_set(err, OC_EIO, "image cache: cannot stat %s: %s", tmp, strerror(errno));
        goto fail;
    }
    detect_format(fd, format);
    *size = (uint64_t)st.st_size;
    if (fchmod(fd, 0444) != 0 || fsync(fd) != 0) {
        rc = oc_err_set(err, OC_EIO, "image cache: cannot sync %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = oc_err_set(err, OC_EIO, "image cache: cannot close %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, e->path) != 0) {
        rc = oc_err_set(err, OC_EIO, "image cache: cannot rename %s to %s: %s", tmp, e->path,
                        strerror(errno));
        goto fail;
    }
    free(tmp);
    rc = oc_fsync_dir(c->dir, err);
    if (rc)
        unlink(e->path);
    return rc;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return rc;
}

/* ------------------------------------------------------------------ */

int nc_imgcache_get(struct nc_imgcache *c, const struct nc_image_ref *ref,
                    struct nc_cached_image *out, struct oc_err *err)
{
    struct entry *e;
    struct stat st;
    char format[8] = "raw";
    uint64_t size = 0;
    int rc;

    if (!c || !ref || !out)
        return oc_err_set(err, OC_EINVAL, "nc_imgcache_get: missing argument");
    if (!id_valid(ref->image_id))
        return oc_err_set(err, OC_EINVAL, "image id '%.64s' is malformed",
                          ref->image_id ? ref->image_id : "");
    if (!digest_valid(ref->digest))
        return oc_err_set(err, OC_EINVAL, "image %s: digest '%.80s' is malformed",
                          ref->image_id, ref->digest ? ref->digest : "");
    if (!ref->location || !*ref->location)
        return oc_err_set(err, OC_EINVAL, "image %s has no location", ref->image_id);

    pthread_mutex_lock(&c->mu);
    e = find(c, ref->image_id, ref->digest);
    /* Someone deleted an idle entry's file behind our back: fetch again. */
    if (e && e->state == ENT_READY && e->pins == 0 && stat(e->path, &st) != 0 &&
        errno == ENOENT) {
        oc_warn("image cache: %s vanished; fetching it again", e->path);
        c->bytes -= e->size;
        list_del(c, e);
        entry_free(e);
        e = NULL;
    }
    if (e) {
        if (e->state == ENT_FILLING) {
            e->waiters++;
            while (e->state == ENT_FILLING)
                pthread_cond_wait(&e->cond, &c->mu);
            e->waiters--;
            if (e->state == ENT_FAILED) {
                rc = e->fill_rc;
                if (err)
                    *err = e->fill_err;
                /* The filler left it to the last waiter. */
                if (e->waiters == 0)
                    entry_free(e);
                pthread_mutex_unlock(&c->mu);
                return rc;
            }
        }
        e->pins++;
        c->hits++;
        touch(c, e);
        fill_out(e, out);
        pthread_mutex_unlock(&c->mu);
        return OC_OK;
    }
    e = entry_new(c->dir, ref->image_id, ref->digest);
    if (!e) {
        pthread_mutex_unlock(&c->mu);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    e->state = ENT_FILLING;
    list_add(c, e);
    c->fetches++;
    pthread_mutex_unlock(&c->mu);

    rc = fill(c, e, ref, &size, format, &e->fill_err);

    pthread_mutex_lock(&c->mu);
    if (rc == OC_OK) {
        e->state = ENT_READY;
        e->size = size;
        snprintf(e->format, sizeof(e->format), "%s", format);
        e->pins = 1;
        e->last_use = ++c->tick;
        c->bytes += size;
        fill_out(e, out);
        pthread_cond_broadcast(&e->cond);
        oc_info("image cache: %s (%s) cached, %s, %llu bytes", e->image_id, e->digest,
                e->format, (unsigned long long)size);
        evict(c);
        pthread_mutex_unlock(&c->mu);
        return OC_OK;
    }
    /* Out of the list at once, so the next get fetches anew; the waiters
     * still hold it to read the error. */
    e->state = ENT_FAILED;
    e->fill_rc = rc;
    list_del(c, e);
    pthread_cond_broadcast(&e->cond);
    if (err)
        *err = e->fill_err;
    oc_warn("image cache: %s (%s): %s", e->image_id, e->digest, e->fill_err.msg);
    if (e->waiters == 0)
        entry_free(e);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void nc_imgcache_release(struct nc_imgcache *c, const char *image_id, const char *digest)
{
    struct entry *e;

    if (!c || !image_id || !digest)
        return;
    pthread_mutex_lock(&c->mu);
    e = find(c, image_id, digest);
    if (e && e->state == ENT_READY && e->pins > 0) {
        e->pins--;
        touch(c, e);
        evict(c);
    } else {
        oc_warn("image cache: release of %s (%s), which is not pinned", image_id, digest);
    }
    pthread_mutex_unlock(&c->mu);
}

void nc_imgcache_set_max(struct nc_imgcache *c, uint64_t max_bytes)
{
    pthread_mutex_lock(&c->mu);
    oc_info("image cache: limit %llu -> %llu MiB", (unsigned long long)(c->max_bytes >> 20),
            (unsigned long long)(max_bytes >> 20));
    c->max_bytes = max_bytes;
    evict(c);
    pthread_mutex_unlock(&c->mu);
}

void nc_imgcache_stats(struct nc_imgcache *c, struct nc_imgcache_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&c->mu);
    for (struct entry *e = c->head; e; e = e->next) {
        if (e->state != ENT_READY)
            continue;
        out->entries++;
        out->pinned += e->pins > 0;
    }
    out->bytes = c->bytes;
    out->max_bytes = c->max_bytes;
    out->fetches = c->fetches;
    out->hits = c->hits;
    pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------------ */
/* open and close */

struct found {
    struct entry *e;
    struct timespec mtime;
};

static int by_mtime(const void *x, const void *y)
{
    const struct found *a = x, *b = y;

    if (a->mtime.tv_sec != b->mtime.tv_sec)
        return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
    if (a->mtime.tv_nsec != b->mtime.tv_nsec)
        return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : 1;
    return strcmp(a->e->path, b->e->path);
}

/* Index one directory entry: ours (kept), a temporary (deleted) or
 * something else (left alone). */
static int scan_one(struct nc_imgcache *c, int dfd, const char *name, struct found **v,
                    size_t *n, size_t *cap, struct oc_err *err)
{
    struct stat st;
    struct entry *e;
    char *id = NULL, *digest = NULL;
    int fd;

    if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
        if (unlinkat(dfd, name, 0) != 0)
            return oc_err_set(err, OC_EIO, "image cache: cannot delete the leftover %s/%s: %s",
                              c->dir, name, strerror(errno));
        oc_info("image cache: deleted the leftover %s/%s", c->dir, name);
        return OC_OK;
    }
    if (!entry_name_parse(name, &id, &digest))
        return OC_OK;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
        oc_warn("image cache: %s/%s is not a regular file; ignored", c->dir, name);
        free(id);
        free(digest);
        return OC_OK;
    }
    e = entry_new(c->dir, id, digest);
    free(id);
    free(digest);
    if (!e)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    e->state = ENT_READY;
    e->size = (uint64_t)st.st_size;
    snprintf(e->format, sizeof(e->format), "raw");
    fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        detect_format(fd, e->format);
        close(fd);
    }
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct found *nv = realloc(*v, ncap * sizeof(**v));

        if (!nv) {
            entry_free(e);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
        *v = nv;
        *cap = ncap;
    }
    (*v)[*n].e = e;
    (*v)[(*n)++].mtime = st.st_mtim;
    return OC_OK;
}

static int scan(struct nc_imgcache *c, struct oc_err *err)
{
    DIR *d = opendir(c->dir);
    struct found *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = OC_OK;

    if (!d)
        return oc_err_set(err, OC_EIO, "image cache: cannot open %s: %s", c->dir,
                          strerror(errno));
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno)
                rc = oc_err_set(err, OC_EIO, "image cache: cannot read %s: %s", c->dir,
                                strerror(errno));
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = scan_one(c, dirfd(d), de->d_name, &v, &n, &cap, err);
        if (rc)
            break;
    }
    closedir(d);
    /* Oldest first, so ticks follow the mtimes. */
    if (n)
        qsort(v, n, sizeof(*v), by_mtime);
    for (size_t i = 0; i < n; i++) {
        if (rc) {
            entry_free(v[i].e);
            continue;
        }
        v[i].e->last_use = ++c->tick;
        c->bytes += v[i].e->size;
        list_add(c, v[i].e);
    }
    free(v);
    return rc;
}

void nc_imgcache_close(struct nc_imgcache *c)
{
    if (!c)
        return;
    while (c->head) {
        struct entry *e = c->head;

        list_del(c, e);
        entry_free(e);
    }
    pthread_mutex_destroy(&c->mu);
    free(c->dir);
    free(c);
}

int nc_imgcache_open(const char *dir, uint64_t max_bytes, const struct nc_img_fetcher *f,
                     struct nc_imgcache **out, struct oc_err *err)
{
    struct nc_imgcache *c;
    char *abs;
    unsigned n;
    int rc;

    *out = NULL;
    if (!dir || !*dir || !f || !f->fetch)
        return oc_err_set(err, OC_EINVAL, "nc_imgcache_open: missing argument");
    rc = oc_mkdirs(dir, 0755, err);
    if (rc)
        return rc;
    abs = realpath(dir, NULL);
    if (!abs)
        return oc_err_set(err, OC_EIO, "image cache: %s: %s", dir, strerror(errno));
    if (strlen(abs) + NAME_MAX_LEN >= PATH_MAX) {
        free(abs);
        return oc_err_set(err, OC_EINVAL, "image cache: the path %s is too long", dir);
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        free(abs);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&c->mu, NULL);
    c->dir = abs;
    c->max_bytes = max_bytes;
    c->f = *f;
    rc = scan(c, err);
    if (rc) {
        nc_imgcache_close(c);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    evict(c);
    n = 0;
    for (struct entry *e = c->head; e; e = e->next)
        n++;
    oc_info("image cache: %s holds %u images, %llu bytes (limit %llu)", c->dir, n,
            (unsigned long long)c->bytes, (unsigned long long)c->max_bytes);
    pthread_mutex_unlock(&c->mu);
    *out = c;
    return OC_OK;
}
