/*
 * store.c - the Walrus store: opening (schema, crash recovery), the reader
 * connection pool, buckets, and object lookups.  Writes of object bytes and
 * the committer live in store_commit.c, listing in store_list.c, multipart
 * uploads in store_multipart.c, the in-memory row caches in store_cache.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "walrus/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/db.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "walrus/store_priv.h"

/*
 * Migrations, numbered in this one table.  Keys are TEXT compared with the
 * BINARY collation (memcmp), so listing order is byte order whatever the
 * UTF-8 says.  Tables keyed by (bucket, key) are WITHOUT ROWID so a range
 * scan walks the primary key directly.  The id indexes serve recovery,
 * which asks whether a file on disk has a row.
 */
static const struct oc_migration store_migrations[] = {
    { 1,
      "CREATE TABLE buckets ("
      "  name TEXT PRIMARY KEY COLLATE BINARY,"
      "  owner TEXT NOT NULL,"
      "  acl TEXT NOT NULL,"
      "  location TEXT NOT NULL,"
      "  created_ms INTEGER NOT NULL);"
      "CREATE INDEX buckets_owner ON buckets(owner, name);"
      "CREATE TABLE objects ("
      "  bucket TEXT NOT NULL COLLATE BINARY,"
      "  key TEXT NOT NULL COLLATE BINARY,"
      "  id TEXT NOT NULL,"
      "  size INTEGER NOT NULL,"
      "  etag TEXT NOT NULL,"
      "  mtime_ms INTEGER NOT NULL,"
      "  owner TEXT NOT NULL,"
      "  acl TEXT NOT NULL,"
      "  content_type TEXT, content_encoding TEXT, content_disposition TEXT,"
      "  content_language TEXT, cache_control TEXT, expires TEXT, user_meta TEXT,"
      "  PRIMARY KEY (bucket, key)) WITHOUT ROWID;"
      "CREATE UNIQUE INDEX objects_id ON objects(id);"
      "CREATE TABLE uploads ("
      "  id TEXT PRIMARY KEY,"
      "  bucket TEXT NOT NULL COLLATE BINARY,"
      "  key TEXT NOT NULL COLLATE BINARY,"
      "  initiated_ms INTEGER NOT NULL,"
      "  owner TEXT NOT NULL,"
      "  acl TEXT NOT NULL,"
      "  content_type TEXT, content_encoding TEXT, content_disposition TEXT,"
      "  content_language TEXT, cache_control TEXT, expires TEXT, user_meta TEXT);"
      "CREATE INDEX uploads_order ON uploads(bucket, key, initiated_ms, id);"
      "CREATE TABLE parts ("
      "  upload TEXT NOT NULL,"
      "  number INTEGER NOT NULL,"
      "  id TEXT NOT NULL,"
      "  size INTEGER NOT NULL,"
      "  etag TEXT NOT NULL,"
      "  mtime_ms INTEGER NOT NULL,"
      "  PRIMARY KEY (upload, number)) WITHOUT ROWID;"
      "CREATE UNIQUE INDEX parts_id ON parts(id);" },
    /* Bytes of inline objects (ids "i<n in 16 hex>...", see store_priv.h).
     * Keyed by the integer n, which the store hands out in increasing
     * order, so a batch's rows append at the end of the table and no
     * second index is kept; id only serves recovery. */
    { 2,
      "CREATE TABLE blobs ("
      "  n INTEGER PRIMARY KEY,"
      "  id TEXT NOT NULL,"
      "  data BLOB NOT NULL);" },
};

/* ---- small helpers shared by the store files ---- */

int64_t wal_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wal_rel_path(const char *id, char out[WAL_REL_LEN])
{
    out[0] = id[0];
    out[1] = id[1];
    out[2] = '/';
    memcpy(out + 3, id, WAL_ID_LEN);
    out[3 + WAL_ID_LEN] = '\0';
}

int wal_copy_field(char *dst, size_t cap, const char *src, const char *what,
                   struct oc_err *err)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= cap)
        return oc_err_set(err, OC_EINVAL, "%s is too long (%zu bytes, at most %zu)", what, n,
                          cap - 1);
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
    return OC_OK;
}

char *wal_col_dup(struct oc_arena *a, sqlite3_stmt *st, int col)
{
    const unsigned char *t;

    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return NULL;
    t = sqlite3_column_text(st, col);
    return oc_arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, col));
}

void wal_col_copy(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;

    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

void wal_file_unlink(struct wal_store *s, const char *id)
{
    char rel[WAL_REL_LEN];

    wal_rel_path(id, rel);
    if (unlinkat(s->objfd, rel, 0) != 0 && errno != ENOENT)
        oc_warn("walrus: unlink objects/%s: %s", rel, strerror(errno));
}

/*
 * Why recycle: creating a file costs an inode allocation, and on ext4 without
 * a journal (these machines) find_inode_bit() skips every inode freed in the
 * last ~35 s, so under overwrite churn each new file costs ~0.5 ms of CPU.
 * Rewriting a file that already exists costs microseconds.
 *
 * Why it is safe for readers: a reader opens objects/xx/<id> only through
 * that name.  The file is renamed to free/ first; a write lease, which the
 * kernel grants only when no other open file refers to the inode, then
 * proves that no reader opened it before the rename.  Anyone opening after
 * the rename finds no file and looks the row up again.  A reused file gets
 * a fresh id, so a stale row can never name it.
 */
void wal_file_retire(struct wal_store *s, const char *id)
{
    char rel[WAL_REL_LEN];
    struct stat st;
    int fd, keep = 0;

    wal_rel_path(id, rel);
    pthread_mutex_lock(&s->plock);
    keep = s->npool < WAL_RECYCLE_MAX_FILES;
    pthread_mutex_unlock(&s->plock);
    if (!keep) {
        wal_file_unlink(s, id);
        return;
    }
    fd = openat(s->objfd, rel, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            oc_warn("walrus: open objects/%s: %s", rel, strerror(errno));
        return;
    }
    if (fstat(fd, &st) != 0 || st.st_size > WAL_RECYCLE_MAX_SIZE ||
        renameat(s->objfd, rel, s->freefd, id) != 0) {
        close(fd);
        wal_file_unlink(s, id);
        return;
    }
    if (fcntl(fd, F_SETLEASE, F_WRLCK) == 0) {
        if (fcntl(fd, F_SETLEASE, F_UNLCK) != 0)
            oc_warn("walrus: lease release: %s", strerror(errno));
        pthread_mutex_lock(&s->plock);
        if (s->npool < WAL_RECYCLE_MAX_FILES) {
            memcpy(s->pool[s->npool++], id, WAL_ID_LEN + 1);
            keep = 2;
        }
        pthread_mutex_unlock(&s->plock);
    }
    close(fd);
    /* A reader holds it (or the pool filled meanwhile): it keeps its bytes. */
    if (keep != 2 && unlinkat(s->freefd, id, 0) != 0 && errno != ENOENT)
        oc_warn("walrus: unlink free/%s: %s", id, strerror(errno));
}

int wal_pool_take(struct wal_store *s, char src[WAL_ID_LEN + 1], int *fd)
{
    for (;;) {
        int f;

        pthread_mutex_lock(&s->plock);
        if (!s->npool) {
            pthread_mutex_unlock(&s->plock);
            return -1;
        }
        memcpy(src, s->pool[--s->npool], WAL_ID_LEN + 1);
        pthread_mutex_unlock(&s->plock);
        f = openat(s->freefd, src, O_RDWR | O_CLOEXEC);
        if (f >= 0) {
            *fd = f;
            return 0;
        }
        oc_warn("walrus: open free/%s: %s", src, strerror(errno));
    }
}

void wal_pool_return(struct wal_store *s, const char *src)
{
    int kept = 0;

    pthread_mutex_lock(&s->plock);
    if (s->npool < WAL_RECYCLE_MAX_FILES) {
        memcpy(s->pool[s->npool++], src, WAL_ID_LEN + 1);
        kept = 1;
    }
    pthread_mutex_unlock(&s->plock);
    if (!kept && unlinkat(s->freefd, src, 0) != 0 && errno != ENOENT)
        oc_warn("walrus: unlink free/%s: %s", src, strerror(errno));
}

const char *wal_etag_bare(const char *etag, size_t *len)
{
    size_t n = strlen(etag);

    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        *len = n - 2;
        return etag + 1;
    }
    *len = n;
    return etag;
}

/* ---- reader pool ---- */

struct oc_db *wal_reader_get(struct wal_store *s, struct oc_err *err)
{
    struct oc_db *db = NULL;
    char *path;
    size_t plen;

    pthread_mutex_lock(&s->rlock);
    if (s->nidle)
        db = s->ridle[--s->nidle];
    pthread_mutex_unlock(&s->rlock);
    if (db)
        return db;
    plen = strlen(s->dir) + sizeof("/walrus.db");
    path = malloc(plen);
    if (!path) {
        oc_err_set(err, OC_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(path, plen, "%s/walrus.db", s->dir);
    if (oc_db_open(path, NULL, 0, &db, err) != OC_OK)
        db = NULL;
    free(path);
    return db;
}

void wal_reader_put(struct wal_store *s, struct oc_db *db)
{
    if (!db)
        return;
    /* A transaction left open would pin an old snapshot of the WAL. */
    if (!sqlite3_get_autocommit(oc_db_handle(db)))
        oc_db_rollback(db);
    pthread_mutex_lock(&s->rlock);
    if (s->nidle == s->capidle) {
        size_t cap = s->capidle ? 2 * s->capidle : 8;
        struct oc_db **n = realloc(s->ridle, cap * sizeof(*n));

        if (!n) {
            pthread_mutex_unlock(&s->rlock);
            oc_db_close(db);
            return;
        }
        s->ridle = n;
        s->capidle = cap;
    }
    s->ridle[s->nidle++] = db;
    pthread_mutex_unlock(&s->rlock);
}

/* ---- open, recovery, close ---- */

static int store_is_id(const char *name)
{
    size_t n = strlen(name);

    if (n != WAL_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    return 1;
}

/* Empties tmp/ (PUTs that never committed) or free/ (files kept for reuse). */
static int store_clean_dir(int dfd, const char *name, struct oc_err *err)
{
    int fd = dup(dfd);
    DIR *d;
    struct dirent *de;
    int removed = 0;

    if (fd < 0)
        return oc_err_set(err, OC_EIO, "dup: %s", strerror(errno));
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return oc_err_set(err, OC_EIO, "opendir %s: %s", name, strerror(errno));
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dfd, de->d_name, 0) != 0 && errno != ENOENT) {
            int e = errno;
            closedir(d);
            return oc_err_set(err, OC_EIO, "unlink %s/%s: %s", name, de->d_name, strerror(e));
        }
        removed++;
    }
    closedir(d);
    if (removed && strcmp(name, "tmp") == 0)
        oc_info("walrus: removed %d unfinished upload file(s) from tmp/", removed);
    return OC_OK;
}

static int store_has_row(struct oc_db *db, const char *id, int *has, struct oc_err *err)
{
    static const char *const sqls[] = {
        "SELECT 1 FROM objects WHERE id = ?1",
        "SELECT 1 FROM parts WHERE id = ?1",
    };

    *has = 0;
    for (size_t i = 0; i < 2 && !*has; i++) {
        sqlite3_stmt *st = oc_db_prepare(db, sqls[i], err);
        int rc;

        if (!st)
            return OC_EDB;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *has = 1;
        else if (rc != SQLITE_DONE)
            return oc_db_fail(db, err, "recovery lookup");
        sqlite3_reset(st);
    }
    return OC_OK;
}

/*
 * Removes files in objects/ that no row names: a crash after the rename (or
 * link) and before the metadata commit, or after a commit and before the
 * unlink of a replaced file.  Runs before the committer starts, so nothing
 * is in flight.  Also creates the 256 shard directories.
 */
static int store_clean_objects(struct wal_store *s, struct oc_err *err)
{
    int removed = 0, created = 0, rc = OC_OK;

    for (int i = 0; i < 256 && rc == OC_OK; i++) {
        char shard[3];
        int fd;
        DIR *d;
        struct dirent *de;

        snprintf(shard, sizeof(shard), "%02x", i);
        if (mkdirat(s->objfd, shard, 0700) == 0)
            created++;
        else if (errno != EEXIST)
            return oc_err_set(err, OC_EIO, "mkdir objects/%s: %s", shard, strerror(errno));
        fd = openat(s->objfd, shard, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return oc_err_set(err, OC_EIO, "open objects/%s: %s", shard, strerror(errno));
        d = fdopendir(fd);
        if (!d) {
            close(fd);
            return oc_err_set(err, OC_EIO, "opendir objects/%s: %s", shard, strerror(errno));
        }
        while (rc == OC_OK && (de = readdir(d)) != NULL) {
            int has = 0;

            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            /* Only names we create can have rows; anything else is debris too. */
            if (store_is_id(de->d_name)) {
                rc = store_has_row(s->wdb, de->d_name, &has, err);
                if (rc)
                    break;
            }
            if (has)
                continue;
            if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT)
                rc = oc_err_set(err, OC_EIO, "unlink objects/%s/%s: %s", shard, de->d_name,
                                strerror(errno));
            else
                removed++;
        }
        closedir(d);
    }
    if (rc)
        return rc;
    if (created && fsync(s->objfd) != 0)
        return oc_err_set(err, OC_EIO, "fsync objects/: %s", strerror(errno));
    if (removed)
        oc_info("walrus: removed %d orphaned file(s) from objects/", removed);
    return OC_OK;
}

/*
 * Removes blobs that no object row names.  Rows and blobs commit together,
 * so there should be none; this keeps a damaged database from hoarding them.
 */
static int store_clean_blobs(struct wal_store *s, struct oc_err *err)
{
    int rc = oc_db_exec(s->wdb, "DELETE FROM blobs WHERE id NOT IN (SELECT id FROM objects)",
                        err);
    int n = sqlite3_changes(oc_db_handle(s->wdb));
    int64_t last = 0;

    if (rc)
        return rc;
    if (n > 0)
        oc_warn("walrus: removed %d blob(s) with no object row", n);
    /* Row numbers go on from the largest one in use. */
    rc = oc_db_int(s->wdb, "SELECT coalesce(max(n), 0) FROM blobs", &last, err);
    if (rc)
        return rc;
    s->next_blob = (uint64_t)last + 1;
    return OC_OK;
}

/*
 * Freed pages.  walrus.db runs with incremental auto-vacuum, so the pages of
 * deleted blobs go to SQLite's freelist, where later PUTs reuse them first.
 * Once the freelist holds at least WAL_RECLAIM_MIN_PAGES and a quarter of
 * the file, the committer gives the pages back to the filesystem while it
 * is idle, WAL_RECLAIM_STEP pages per transaction, so that a PUT arriving
 * meanwhile waits for one short step at most.  When the freelist is empty a
 * checkpoint copies the moved pages home, truncates walrus.db and empties
 * its WAL (which otherwise keeps its largest size, up to the 64 MiB
 * autocheckpoint).
 *
 * Auto-vacuum has to be chosen before the first table exists or be followed
 * by a VACUUM: stores made without it get that VACUUM once, at open.  If it
 * fails (a full disk), Walrus runs on and freed pages are only reused.
 */
#define WAL_RECLAIM_MIN_PAGES 2048 /* 8 MiB of 4 KiB pages */
#define WAL_RECLAIM_STEP "512"     /* pages per transaction (2 MiB) */
#define WAL_RECLAIM_WAIT_MS 100    /* the final checkpoint's wait for readers */

static int store_auto_vacuum(struct wal_store *s, struct oc_err *err)
{
    struct oc_err verr = { 0 };
    int64_t mode = 0, pages = 0;
    int rc = oc_db_int(s->wdb, "PRAGMA auto_vacuum", &mode, err);

    if (rc == OC_OK && mode != 2) {
        rc = oc_db_int(s->wdb, "PRAGMA page_count", &pages, err);
        if (rc)
            return rc;
        if (pages > WAL_RECLAIM_MIN_PAGES)
            oc_info("walrus: rewriting walrus.db (%lld pages) once, for incremental auto-vacuum",
                    (long long)pages);
        if (oc_db_exec(s->wdb, "PRAGMA auto_vacuum=INCREMENTAL; VACUUM;", &verr) != OC_OK)
            oc_warn("walrus: cannot set auto-vacuum on walrus.db (%s); freed pages will only be"
                    " reused", verr.msg);
        rc = oc_db_int(s->wdb, "PRAGMA auto_vacuum", &mode, err);
    }
    s->reclaim_ok = rc == OC_OK && mode == 2;
    return rc;
}

int wal_store_reclaim(struct wal_store *s, int *more, struct oc_err *err)
{
    int64_t nfree = 0, npages = 0, busy = 0;
    int rc;

    *more = 0;
    if (!s->reclaim_ok)
        return OC_OK;
    pthread_mutex_lock(&s->wlock);
    rc = oc_db_int(s->wdb, "PRAGMA freelist_count", &nfree, err);
    if (rc == OC_OK)
        rc = oc_db_int(s->wdb, "PRAGMA page_count", &npages, err);
    if (rc == OC_OK && !s->reclaiming)
        s->reclaiming = nfree >= WAL_RECLAIM_MIN_PAGES && nfree * 4 >= npages;
    if (rc == OC_OK && s->reclaiming) {
        if (nfree > 0) {
            rc = oc_db_exec(s->wdb, "PRAGMA incremental_vacuum(" WAL_RECLAIM_STEP ")", err);
            *more = rc == OC_OK;
        } else {
            /* Readers rarely hold the WAL for long; waiting past a short
             * while would stall the PUTs queued behind this step. */
            s->reclaiming = 0;
            sqlite3_busy_timeout(oc_db_handle(s->wdb), WAL_RECLAIM_WAIT_MS);
            rc = oc_db_int(s->wdb, "PRAGMA wal_checkpoint(TRUNCATE)", &busy, err);
            sqlite3_busy_timeout(oc_db_handle(s->wdb), OC_DB_BUSY_MS);
            if (rc == OC_OK && busy)
                oc_info("walrus: walrus.db is compacted; its WAL stays until a later checkpoint"
                        " (readers were busy)");
        }
    }
    if (rc)
        s->reclaiming = 0;
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

/* Decides between O_TMPFILE + linkat and named files in tmp/. */
static void store_probe_tmpfile(struct wal_store *s)
{
    char probe[64], proc[64];
    int fd = openat(s->tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    s->use_tmpfile = 0;
    if (fd < 0)
        return;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    snprintf(probe, sizeof(probe), "probe.%d", (int)getpid());
    if (linkat(AT_FDCWD, proc, s->tmpfd, probe, AT_SYMLINK_FOLLOW) == 0) {
        s->use_tmpfile = 1;
        if (unlinkat(s->tmpfd, probe, 0) != 0)
            oc_warn("walrus: unlink tmp/%s: %s", probe, strerror(errno));
    }
    close(fd);
}

static int store_open_dir(const char *path, int *out, struct oc_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return oc_err_set(err, OC_EIO, "open %s: %s", path, strerror(errno));
    *out = fd;
    return OC_OK;
}

static void bucket_from_row(sqlite3_stmt *st, struct wal_bucket *out);

/* Every bucket row into the cache; nothing else writes them meanwhile. */
static int store_load_buckets(struct wal_store *s, struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc, src;

    rc = wal_bcache_new(s, err);
    if (rc)
        return rc;
    st = oc_db_prepare(s->wdb, "SELECT name, owner, acl, location, created_ms FROM buckets",
                       err);
    if (!st)
        return OC_EDB;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct wal_bucket b;
        struct wal_bcache_ent *e;

        bucket_from_row(st, &b);
        e = wal_bcache_ent_new(&b);
        if (!e) {
            sqlite3_reset(st);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
        wal_bcache_insert(s, e);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return oc_db_fail(s->wdb, err, "load buckets");
    return OC_OK;
}

int wal_store_open(const char *dir, struct wal_store **out, struct oc_err *err)
{
    struct wal_store *s = calloc(1, sizeof(*s));
    struct oc_buf path = { 0 };
    int rc;

    if (!s)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    s->objfd = s->tmpfd = s->freefd = s->lockfd = -1;
    s->inline_max = WAL_INLINE_MAX;
    pthread_mutex_init(&s->rlock, NULL);
    pthread_mutex_init(&s->plock, NULL);
    pthread_mutex_init(&s->wlock, NULL);
    pthread_mutex_init(&s->qlock, NULL);
    pthread_cond_init(&s->qcond, NULL);
    s->qtail = &s->qhead;
    s->dir = strdup(dir);
    if (!s->dir) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = oc_mkdirs(dir, 0700, err);
    if (rc == OC_OK && oc_buf_printf(&path, "%s/objects", dir) != OC_OK)
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
    if (rc == OC_OK)
        rc = oc_mkdirs(oc_buf_cstr(&path), 0700, err);
    if (rc == OC_OK)
        rc = store_open_dir(oc_buf_cstr(&path), &s->objfd, err);
    oc_buf_reset(&path);
    if (rc == OC_OK && oc_buf_printf(&path, "%s/tmp", dir) != OC_OK)
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
    if (rc == OC_OK)
        rc = oc_mkdirs(oc_buf_cstr(&path), 0700, err);
    if (rc == OC_OK)
        rc = store_open_dir(oc_buf_cstr(&path), &s->tmpfd, err);
    oc_buf_reset(&path);
    if (rc == OC_OK && oc_buf_printf(&path, "%s/free", dir) != OC_OK)
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
    if (rc == OC_OK)
        rc = oc_mkdirs(oc_buf_cstr(&path), 0700, err);
    if (rc == OC_OK)
        rc = store_open_dir(oc_buf_cstr(&path), &s->freefd, err);
    if (rc == OC_OK) {
        s->pool = calloc(WAL_RECYCLE_MAX_FILES, sizeof(*s->pool));
        if (!s->pool)
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    if (rc)
        goto cleanup;

    /* Two processes on one store would delete each other's files at open. */
    oc_buf_reset(&path);
    if (oc_buf_printf(&path, "%s/lock", dir) != OC_OK) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    s->lockfd = open(oc_buf_cstr(&path), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lockfd < 0) {
        rc = oc_err_set(err, OC_EIO, "open %s: %s", oc_buf_cstr(&path), strerror(errno));
        goto cleanup;
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        rc = oc_err_set(err, errno == EWOULDBLOCK ? OC_ECONFLICT : OC_EIO,
                        "store %s is in use by another process: %s", dir, strerror(errno));
        goto cleanup;
    }

    oc_buf_reset(&path);
    if (oc_buf_printf(&path, "%s/walrus.db", dir) != OC_OK) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = oc_db_open(oc_buf_cstr(&path), store_migrations,
                    sizeof(store_migrations) / sizeof(store_migrations[0]), &s->wdb, err);
    if (rc == OC_OK)
        rc = oc_db_exec(s->wdb, "PRAGMA wal_autocheckpoint=16384; PRAGMA cache_size=-65536;", err);
    if (rc == OC_OK)
        rc = store_auto_vacuum(s, err);
    if (rc)
        goto cleanup;
    rc = store_clean_dir(s->tmpfd, "tmp", err);
    if (rc == OC_OK)
        rc = store_clean_dir(s->freefd, "free", err);
    if (rc == OC_OK)
        rc = store_clean_objects(s, err);
    if (rc == OC_OK)
        rc = store_clean_blobs(s, err);
    if (rc)
        goto cleanup;
    store_probe_tmpfile(s);
    rc = store_load_buckets(s, err);
    if (rc == OC_OK)
        rc = wal_ocache_new(s, WAL_CACHE_DEFAULT_OBJECTS, err);
    if (rc == OC_OK)
        rc = wal_committer_start(s, err);

cleanup:
    oc_buf_free(&path);
    if (rc) {
        wal_store_close(s);
        return rc;
    }
    *out = s;
    return OC_OK;
}

int wal_store_set_inline_max(struct wal_store *s, size_t bytes, struct oc_err *err)
{
    if (bytes > WAL_INLINE_MAX)
        return oc_err_set(err, OC_EINVAL, "inline objects are at most %d bytes", WAL_INLINE_MAX);
    s->inline_max = bytes;
    return OC_OK;
}

int wal_store_set_cache_size(struct wal_store *s, size_t objects, struct oc_err *err)
{
    wal_ocache_free(s);
    return wal_ocache_new(s, objects, err);
}

void wal_store_close(struct wal_store *s)
{
    if (!s)
        return;
    wal_committer_stop(s);
    wal_ocache_free(s);
    wal_bodies_free(s);
    wal_bcache_free(s);
    for (size_t i = 0; i < s->nidle; i++)
        oc_db_close(s->ridle[i]);
    free(s->ridle);
    oc_db_close(s->wdb);
    if (s->objfd >= 0)
        close(s->objfd);
    if (s->tmpfd >= 0)
        close(s->tmpfd);
    if (s->freefd >= 0)
        close(s->freefd);
    free(s->pool);
    if (s->lockfd >= 0)
        close(s->lockfd);
    pthread_mutex_destroy(&s->rlock);
    pthread_mutex_destroy(&s->wlock);
    pthread_mutex_destroy(&s->plock);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->qcond);
    free(s->dir);
    free(s);
}

/* ---- buckets ---- */

int wal_bucket_create(struct wal_store *s, const struct wal_bucket *b, struct oc_err *err)
{
    struct wal_bucket row;
    struct wal_bcache_ent *ent;
    sqlite3_stmt *st;
    int rc = OC_OK, src;

    if (!b->name[0] || !b->owner[0])
        return oc_err_set(err, OC_EINVAL, "bucket name and owner are required");
    /* The row exactly as stored (and as bucket_from_row would load it), for the cache. */
    memset(&row, 0, sizeof(row));
    memcpy(row.name, b->name, strnlen(b->name, sizeof(row.name) - 1));
    memcpy(row.owner, b->owner, strnlen(b->owner, sizeof(row.owner) - 1));
    memcpy(row.acl, b->acl[0] ? b->acl : "private",
           strnlen(b->acl[0] ? b->acl : "private", sizeof(row.acl) - 1));
    memcpy(row.location, b->location, strnlen(b->location, sizeof(row.location) - 1));
    row.created_ms = b->created_ms ? b->created_ms : wal_now_ms();
    ent = wal_bcache_ent_new(&row);
    if (!ent)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_lock(&s->wlock);
    st = oc_db_prepare(s->wdb,
                       "INSERT INTO buckets (name, owner, acl, location, created_ms)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)", err);
    if (!st) {
        rc = OC_EDB;
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, row.name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row.owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row.acl, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, row.location, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, row.created_ms);
    src = sqlite3_step(st);
    if ((src & 0xff) == SQLITE_CONSTRAINT)
        rc = oc_err_set(err, OC_EEXIST, "bucket %s already exists", b->name);
    else if (src != SQLITE_DONE)
        rc = oc_db_fail(s->wdb, err, "create bucket");
    sqlite3_reset(st);
    if (rc == OC_OK) {
        wal_bcache_insert(s, ent);
        ent = NULL;
    }
cleanup:
    pthread_mutex_unlock(&s->wlock);
    free(ent);
    return rc;
}

static void bucket_from_row(sqlite3_stmt *st, struct wal_bucket *out)
{
    memset(out, 0, sizeof(*out));
    wal_col_copy(out->name, sizeof(out->name), st, 0);
    wal_col_copy(out->owner, sizeof(out->owner), st, 1);
    wal_col_copy(out->acl, sizeof(out->acl), st, 2);
    wal_col_copy(out->location, sizeof(out->location), st, 3);
    out->created_ms = sqlite3_column_int64(st, 4);
}

int wal_bucket_get(struct wal_store *s, const char *name, struct wal_bucket *out,
                   struct oc_err *err)
{
    /* Every row is cached (store_cache.c), so the cache's answer is final. */
    if (wal_bcache_get(s, name, out) != OC_OK)
        return oc_err_set(err, OC_ENOTFOUND, "no bucket %s", name);
    return OC_OK;
}

/* Collects the file ids of rows matching a one-parameter query. */
static int collect_ids(struct oc_db *db, const char *sql, const char *param,
                       char (**ids)[WAL_ID_LEN + 1], size_t *n, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, sql, err);
    size_t cap = 0;
    int src;

    *ids = NULL;
    *n = 0;
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char (*nids)[WAL_ID_LEN + 1] = realloc(*ids, ncap * sizeof(**ids));

            if (!nids) {
                sqlite3_reset(st);
                return oc_err_set(err, OC_ENOMEM, "out of memory");
            }
            *ids = nids;
            cap = ncap;
        }
        wal_col_copy((*ids)[*n], WAL_ID_LEN + 1, st, 0);
        (*n)++;
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return oc_db_fail(db, err, "collect ids");
    return OC_OK;
}

int wal_bucket_delete(struct wal_store *s, const char *name, struct oc_err *err)
{
    char (*ids)[WAL_ID_LEN + 1] = NULL;
    size_t nids = 0;
    sqlite3_stmt *st;
    int rc, src;

    pthread_mutex_lock(&s->wlock);
    rc = oc_db_begin(s->wdb, err);
    if (rc)
        goto unlock;
    st = oc_db_prepare(s->wdb, "SELECT 1 FROM buckets WHERE name = ?1", err);
    if (!st) {
        rc = OC_EDB;
        goto rollback;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "no bucket %s", name);
        goto rollback;
    } else if (src != SQLITE_ROW) {
        rc = oc_db_fail(s->wdb, err, "delete bucket");
        goto rollback;
    }
    st = oc_db_prepare(s->wdb, "SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1", err);
    if (!st) {
        rc = OC_EDB;
        goto rollback;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src == SQLITE_ROW) {
        rc = oc_err_set(err, OC_ECONFLICT, "bucket %s is not empty", name);
        goto rollback;
    } else if (src != SQLITE_DONE) {
        rc = oc_db_fail(s->wdb, err, "delete bucket");
        goto rollback;
    }
    /* Pending uploads go with the bucket: their part files are unlinked below. */
    rc = collect_ids(s->wdb, "SELECT p.id FROM parts p JOIN uploads u ON p.upload = u.id"
                             " WHERE u.bucket = ?1", name, &ids, &nids, err);
    if (rc)
        goto rollback;
    static const char *const dels[] = {
        "DELETE FROM parts WHERE upload IN (SELECT id FROM uploads WHERE bucket = ?1)",
        "DELETE FROM uploads WHERE bucket = ?1",
        "DELETE FROM buckets WHERE name = ?1",
    };
    for (size_t i = 0; i < sizeof(dels) / sizeof(dels[0]); i++) {
        st = oc_db_prepare(s->wdb, dels[i], err);
        if (!st) {
            rc = OC_EDB;
            goto rollback;
        }
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        sqlite3_reset(st);
        if (src != SQLITE_DONE) {
            rc = oc_db_fail(s->wdb, err, "delete bucket");
            goto rollback;
        }
    }
    rc = oc_db_commit(s->wdb, err);
    if (rc)
        goto rollback;
    wal_bcache_remove(s, name);
    pthread_mutex_unlock(&s->wlock);
    /* The bucket was empty, so its object entries can only say "absent":
     * still true, but they would sit in memory until evicted. */
    wal_ocache_purge_bucket(s, name);
    for (size_t i = 0; i < nids; i++)
        wal_file_retire(s, ids[i]);
    free(ids);
    return OC_OK;

rollback:
    oc_db_rollback(s->wdb);
unlock:
    pthread_mutex_unlock(&s->wlock);
    free(ids);
    return rc;
}

/* Runs one UPDATE; the caller holds the write lock.  OC_ENOTFOUND when it
 * touched no row. */
static int store_update(struct wal_store *s, const char *sql, const char *a1, const char *a2,
                        const char *a3, const char *what, struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc = OC_OK, src;

    st = oc_db_prepare(s->wdb, sql, err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a2, -1, SQLITE_STATIC);
    if (a3)
        sqlite3_bind_text(st, 3, a3, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = oc_db_fail(s->wdb, err, what);
    else if (sqlite3_changes(oc_db_handle(s->wdb)) == 0)
        rc = oc_err_set(err, OC_ENOTFOUND, "%s: not found", what);
    sqlite3_reset(st);
    return rc;
}

int wal_bucket_set_acl(struct wal_store *s, const char *name, const char *acl,
                       struct oc_err *err)
{
    int rc;

    if (!acl || !*acl || strlen(acl) >= sizeof(((struct wal_bucket *)0)->acl))
        return oc_err_set(err, OC_EINVAL, "bad canned ACL");
    pthread_mutex_lock(&s->wlock);
    rc = store_update(s, "UPDATE buckets SET acl = ?2 WHERE name = ?1", name, acl, NULL,
                      "set bucket acl", err);
    if (rc == OC_OK)
        wal_bcache_set_acl(s, name, acl);
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

int wal_bucket_list(struct wal_store *s, const char *owner,
                    int (*fn)(void *arg, const struct wal_bucket *b), void *arg,
                    struct oc_err *err)
{
    struct oc_db *db = wal_reader_get(s, err);
    sqlite3_stmt *st;
    int rc = OC_OK, src;

    if (!db)
        return OC_EDB;
    st = oc_db_prepare(db, owner ? "SELECT name, owner, acl, location, created_ms FROM buckets"
                                   " WHERE owner = ?1 ORDER BY name"
                                 : "SELECT name, owner, acl, location, created_ms FROM buckets"
                                   " ORDER BY name", err);
    if (!st) {
        wal_reader_put(s, db);
        return OC_EDB;
    }
    if (owner)
        sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct wal_bucket b;

        bucket_from_row(st, &b);
        if (fn(arg, &b))
            break;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = oc_db_fail(db, err, "list buckets");
    sqlite3_reset(st);
    wal_reader_put(s, db);
    return rc;
}

/* ---- object lookups ---- */

#define OBJ_COLS "id, size, etag, mtime_ms, owner, acl, " WAL_HDR_COLS

static void meta_from_row(struct oc_arena *a, sqlite3_stmt *st, struct wal_meta *out)
{
    const char **hdrs[WAL_NHDR] = {
        &out->content_type, &out->content_encoding, &out->content_disposition,
        &out->content_language, &out->cache_control, &out->expires, &out->user_meta,
    };

    wal_col_copy(out->id, sizeof(out->id), st, 0);
    out->size = (uint64_t)sqlite3_column_int64(st, 1);
    wal_col_copy(out->etag, sizeof(out->etag), st, 2);
    out->mtime_ms = sqlite3_column_int64(st, 3);
    wal_col_copy(out->owner, sizeof(out->owner), st, 4);
    wal_col_copy(out->acl, sizeof(out->acl), st, 5);
    for (int i = 0; i < WAL_NHDR; i++)
        *hdrs[i] = wal_col_dup(a, st, 6 + i);
}

static int object_lookup(struct oc_db *db, struct oc_arena *a,
                         const char *bucket, const char *key, struct wal_meta *out,
                         struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT " OBJ_COLS " FROM objects"
                                         " WHERE bucket = ?1 AND key = ?2", err);
    int rc = OC_OK, src;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        meta_from_row(a, st, out);
        out->bucket = oc_arena_strdup(a, bucket);
        out->key = oc_arena_strdup(a, key);
    } else if (src == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "no object %s/%s", bucket, key);
    } else {
        rc = oc_db_fail(db, err, "object lookup");
    }
    sqlite3_reset(st);
    return rc;
}

/* The object's row from the cache, else from SQLite (then offered to the cache). */
static int object_get(struct wal_store *s, struct oc_arena *a, const char *bucket,
                      const char *key, struct wal_meta *out, struct oc_err *err)
{
    struct wal_cache_ticket t;
    struct oc_db *db;
    int rc;

    switch (wal_ocache_get(s, a, bucket, key, out, &t)) {
    case WAL_CACHE_HIT:
        return OC_OK;
    case WAL_CACHE_ABSENT:
        return oc_err_set(err, OC_ENOTFOUND, "no object %s/%s", bucket, key);
    case WAL_CACHE_MISS:
        break;
    }
    db = wal_reader_get(s, err);
    if (!db)
        return OC_EDB;
    rc = object_lookup(db, a, bucket, key, out, err);
    wal_reader_put(s, db);
    if (rc == OC_OK)
        wal_ocache_fill(s, &t, bucket, key, out);
    else if (rc == OC_ENOTFOUND)
        wal_ocache_fill(s, &t, bucket, key, NULL);
    return rc;
}

int wal_object_head(struct wal_store *s, struct oc_arena *a, const char *bucket,
                    const char *key, struct wal_meta *out, struct oc_err *err)
{
    return object_get(s, a, bucket, key, out, err);
}

void wal_inline_id(struct wal_store *s, char id[WAL_ID_LEN + 1])
{
    uint64_t n = __atomic_fetch_add(&s->next_blob, 1, __ATOMIC_RELAXED);
    char rnd[16];

    memcpy(rnd, id, 15);
    rnd[15] = '\0';
    snprintf(id, WAL_ID_LEN + 1, "%c%016llx%s", WAL_INLINE_MARK, (unsigned long long)n, rnd);
}

int64_t wal_inline_n(const char *id)
{
    uint64_t n = 0;

    for (int i = 1; i <= 16; i++) {
        char c = id[i];

        n = n << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return (int64_t)n;
}

int wal_inline_read(struct wal_store *s, const char *id, void *buf, uint64_t size,
                    struct oc_err *err)
{
    struct oc_db *db = wal_reader_get(s, err);
    sqlite3_stmt *st;
    int rc = OC_OK, src;

    if (!db)
        return OC_EDB;
    st = oc_db_prepare(db, "SELECT data FROM blobs WHERE n = ?1", err);
    if (!st) {
        wal_reader_put(s, db);
        return OC_EDB;
    }
    sqlite3_bind_int64(st, 1, wal_inline_n(id));
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const void *d = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);

        if ((uint64_t)n != size)
            rc = oc_err_set(err, OC_EIO, "blob %s has %d bytes, its row says %llu", id, n,
                            (unsigned long long)size);
        else if (n > 0)
            memcpy(buf, d, (size_t)n);
    } else if (src == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "no blob %s", id);
    } else {
        rc = oc_db_fail(db, err, "read blob");
    }
    sqlite3_reset(st);
    wal_reader_put(s, db);
    return rc;
}

/* An inline object's bytes in an anonymous file, for callers that want an fd. */
static int inline_open(struct wal_store *s, const char *id, uint64_t size, int *fd,
                       struct oc_err *err)
{
    unsigned char *buf = malloc(size ? (size_t)size : 1);
    int rc, f;

    if (!buf)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = wal_inline_read(s, id, buf, size, err);
    if (rc) {
        free(buf);
        return rc;
    }
    f = memfd_create("walrus-inline", MFD_CLOEXEC);
    if (f < 0) {
        rc = oc_err_set(err, OC_EIO, "memfd_create: %s", strerror(errno));
    } else {
        rc = oc_write_all(f, buf, (size_t)size, err);
        if (rc == OC_OK && lseek(f, 0, SEEK_SET) != 0)
            rc = oc_err_set(err, OC_EIO, "lseek: %s", strerror(errno));
        if (rc)
            close(f);
        else
            *fd = f;
    }
    free(buf);
    return rc;
}

int wal_object_open(struct wal_store *s, struct oc_arena *a, const char *bucket,
                    const char *key, struct wal_meta *out, int *fd, struct oc_err *err)
{
    int rc = OC_OK;

    /*
     * The row and the file are read without a lock: an overwrite may commit
     * and retire the file between the two.  Then the row has moved on (the
     * committer updates the cache before it retires the file), so look
     * again.  Once open, the fd keeps the old bytes readable.
     */
    for (int attempt = 0;; attempt++) {
        char rel[WAL_REL_LEN];
        int f, e;

        rc = object_get(s, a, bucket, key, out, err);
        if (rc)
            break;
        if (wal_id_inline(out->id)) {
            rc = inline_open(s, out->id, out->size, fd, err);
            if (rc != OC_ENOTFOUND || attempt == 100)
                break;
            wal_ocache_forget(s, bucket, key, out->id);
            continue;
        }
        wal_rel_path(out->id, rel);
        f = openat(s->objfd, rel, O_RDONLY | O_CLOEXEC);
        if (f >= 0) {
            *fd = f;
            break;
        }
        e = errno;
        if (e != ENOENT || attempt == 100) {
            rc = oc_err_set(err, OC_EIO, "open objects/%s for %s/%s: %s", rel, bucket, key,
                            strerror(e));
            break;
        }
        /* Should the cache ever name a vanished file, the retry must reach SQLite. */
        wal_ocache_forget(s, bucket, key, out->id);
    }
    return rc;
}

int wal_object_set_acl(struct wal_store *s, const char *bucket, const char *key,
                       const char *acl, struct oc_err *err)
{
    int rc;

    if (!acl || !*acl || strlen(acl) >= sizeof(((struct wal_meta *)0)->acl))
        return oc_err_set(err, OC_EINVAL, "bad canned ACL");
    pthread_mutex_lock(&s->wlock);
    /* The UPDATE commits on its own; the next lookup reloads the row. */
    wal_ocache_write_begin(s, bucket, key);
    rc = store_update(s, "UPDATE objects SET acl = ?3 WHERE bucket = ?1 AND key = ?2",
                      bucket, key, acl, "set object acl", err);
    wal_ocache_write_end(s, bucket, key, WAL_CACHE_DROP, NULL);
    pthread_mutex_unlock(&s->wlock);
    return rc;
}
