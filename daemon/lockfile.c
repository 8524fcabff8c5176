/* lockfile.c - see lockfile.h. */
#include "lockfile.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A removal raced with our open this many times in a row: give up. */
#define LOCK_ATTEMPTS 16

char *lockfile_path(const char *socket_path)
{
    size_t n = strlen(socket_path) + sizeof(".lock");
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s.lock", socket_path);
    return p;
}

static int make_parent_dir(const char *path, char *err, size_t err_len)
{
    char *dir = strdup(path);
    if (dir == NULL)
        return -ENOMEM;
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) == 0) {
            chmod(dir, 0755); /* the umask must not lock clients out */
            log_msg("created directory %s", dir);
        } else if (errno != EEXIST) {
            rc = -errno;
            snprintf(err, err_len, "cannot create %s: %s", dir, strerror(errno));
        }
    }
    free(dir);
    return rc;
}

/* The pid the holder wrote, or 0. */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long pid = strtol(buf, NULL, 10);
    return pid > 0 ? pid : 0;
}

int lockfile_acquire(const char *socket_path, bool make_dir, struct lockfile *lf, char *err,
                     size_t err_len)
{
    int rc;
    lf->fd = -1;
    lf->dev = 0;
    lf->ino = 0;
    if ((lf->path = lockfile_path(socket_path)) == NULL) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    if (make_dir && (rc = make_parent_dir(socket_path, err, err_len)) < 0)
        goto err_free_path;
    for (int attempt = 0;; attempt++) {
        if (attempt == LOCK_ATTEMPTS) {
            snprintf(err, err_len, "cannot take the lock %s: it keeps being removed",
                     lf->path);
            rc = -EAGAIN;
            goto err_free_path;
        }
        int fd = open(lf->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
        if (fd < 0) {
            rc = -errno;
            snprintf(err, err_len, "cannot open the lock file %s for socket %s: %s", lf->path,
                     socket_path, strerror(errno));
            goto err_free_path;
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
            rc = -errno;
            snprintf(err, err_len, "cannot stat %s: %s", lf->path, strerror(errno));
            close(fd);
            goto err_free_path;
        }
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
            snprintf(err, err_len, "lock file %s is not a regular file of uid %u (uid %u "
                     "owns it): remove it if no daemon runs on %s", lf->path,
                     (unsigned)geteuid(), (unsigned)st.st_uid, socket_path);
            close(fd);
            rc = -EPERM;
            goto err_free_path;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            if (e == EWOULDBLOCK) {
                long pid = holder_pid(fd);
                char who[32] = "";
                if (pid > 0)
                    snprintf(who, sizeof(who), "pid %ld ", pid);
                snprintf(err, err_len, "socket %s in use by a running daemon (%sholds %s)",
                         socket_path, who, lf->path);
                rc = -EADDRINUSE;
            } else {
                snprintf(err, err_len, "cannot lock %s: %s", lf->path, strerror(e));
                rc = -e;
            }
            close(fd);
            goto err_free_path;
        }
        /* Locked; but is it still the file the path names? Its owner may
         * have removed it between our open and our flock. */
        struct stat now;
        if (stat(lf->path, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino) {
            lf->fd = fd;
            lf->dev = st.st_dev;
            lf->ino = st.st_ino;
            break;
        }
        close(fd);
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(lf->fd, 0) < 0 || pwrite(lf->fd, pid, (size_t)n, 0) != n)
        log_msg("warning: cannot write the pid into %s: %s", lf->path, strerror(errno));
    return 0;

err_free_path:
    free(lf->path);
    lf->path = NULL;
    return rc;
}

void lockfile_release(struct lockfile *lf)
{
    if (lf->fd >= 0) {
        struct stat st;
        if (lf->path != NULL && stat(lf->path, &st) == 0 && st.st_dev == lf->dev &&
            st.st_ino == lf->ino)
            unlink(lf->path);
        close(lf->fd);
    }
    free(lf->path);
    lf->path = NULL;
    lf->fd = -1;
}
