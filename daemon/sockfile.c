/* sockfile.c - the listening socket's file: systemd's descriptors, the
 * parent directory, stale sockets, removal of our own. */
#include "sockfile.h"

#include "log.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

int sockfile_systemd_fds(void)
{
    const char *pid = getenv("LISTEN_PID");
    const char *fds = getenv("LISTEN_FDS");
    if (pid == NULL || fds == NULL)
        return 0;
    char *end;
    long p = strtol(pid, &end, 10);
    if (*end != '\0' || p != (long)getpid())
        return 0;
    long n = strtol(fds, &end, 10);
    if (*end != '\0' || n < 1)
        return 0;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return (int)n;
}

static int make_parent_dir(const char *path, char *err, size_t err_len)
{
    char dir[SUN_PATH_MAX + 1];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0755) < 0) {
        if (errno == EEXIST)
            return 0;
        int e = errno;
        snprintf(err, err_len, "cannot create %s: %s", dir, strerror(e));
        return -e;
    }
    chmod(dir, 0755); /* the umask must not lock clients out of the directory */
    log_msg("created directory %s", dir);
    return 0;
}

/* libuv reports a missing directory as EACCES: say what is wrong. */
static int check_parent_dir(const char *path, char *err, size_t err_len)
{
    char dir[SUN_PATH_MAX + 1];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return 0;
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) < 0) {
        int e = errno;
        snprintf(err, err_len, "cannot use socket %s: directory %s: %s", path, dir, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "cannot use socket %s: %s is not a directory", path, dir);
        return -ENOTDIR;
    }
    if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        snprintf(err, err_len, "cannot use socket %s: directory %s (mode %04o) is writable by "
                 "every user and not sticky, so another user could replace the socket", path,
                 dir, (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

/* A socket file at path: stale (nobody accepts) -> remove; live -> refuse. */
static int clear_stale_socket(const char *path, char *err, size_t err_len)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        snprintf(err, err_len, "cannot use socket %s: %s", path, strerror(e));
        return -e;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, err_len, "%s exists and is not a socket", path);
        return -EEXIST;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_len, "socket: %s", strerror(e));
        return -e;
    }
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    if (rc == 0) {
        snprintf(err, err_len, "socket %s in use by a running daemon", path);
        return -EADDRINUSE;
    }
    if (e == ENOENT)
        return 0; /* removed meanwhile */
    if (e != ECONNREFUSED) {
        snprintf(err, err_len, "cannot probe socket %s: %s", path, strerror(e));
        return -e;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        e = errno;
        snprintf(err, err_len, "cannot remove stale socket %s: %s", path, strerror(e));
        return -e;
    }
    log_msg("removed stale socket %s", path);
    return 0;
}

int sockfile_prepare(const char *path, bool make_dir, char *err, size_t err_len)
{
    int rc;
    if (strlen(path) >= SUN_PATH_MAX) {
        snprintf(err, err_len, "socket path %s is too long (at most %zu bytes)", path,
                 SUN_PATH_MAX - 1);
        return -ENAMETOOLONG;
    }
    if (make_dir && (rc = make_parent_dir(path, err, err_len)) < 0)
        return rc;
    if ((rc = check_parent_dir(path, err, err_len)) < 0)
        return rc;
    return clear_stale_socket(path, err, err_len);
}

int sockfile_bind(const char *path, char *err, size_t err_len)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, err_len, "socket path %s is too long", path);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_len, "cannot create a socket: %s", strerror(e));
        return -e;
    }
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    umask(old);
    if (rc < 0) {
        close(fd);
        snprintf(err, err_len, "cannot bind socket %s: %s", path, strerror(e));
        return -e;
    }
    return fd;
}

int sockfile_group(const char *name, gid_t *gid, char *err, size_t err_len)
{
    errno = 0;
    struct group *gr = getgrnam(name);
    if (gr != NULL) {
        *gid = gr->gr_gid;
        return 0;
    }
    int e = errno;
    if (*name >= '0' && *name <= '9' && name[strspn(name, "0123456789")] == '\0') {
        errno = 0;
        char *end;
        unsigned long v = strtoul(name, &end, 10);
        if (errno == 0 && *end == '\0' && v < (unsigned long)(gid_t)-1) {
            *gid = (gid_t)v; /* a number, as chown(1) takes it */
            return 0;
        }
    }
    if (e != 0 && e != ENOENT && e != ESRCH && e != EBADF && e != EPERM) {
        snprintf(err, err_len, "--socket-group %s: cannot look the group up: %s", name,
                 strerror(e));
        return -e;
    }
    snprintf(err, err_len, "--socket-group %s: no such group (create it with "
             "`groupadd --system %s`)", name, name);
    return -ENOENT;
}

int sockfile_chgrp(const char *path, gid_t gid, const char *name, char *err, size_t err_len)
{
    if (chown(path, (uid_t)-1, gid) == 0)
        return 0;
    int e = errno;
    snprintf(err, err_len, "cannot give socket %s to group %s (gid %lu): %s%s", path, name,
             (unsigned long)gid, strerror(e),
             e == EPERM ? " (without CAP_CHOWN the daemon must be a member of the group: "
                          "SupplementaryGroups= in its unit)" : "");
    return -e;
}

int sockfile_identify(const char *path, struct sockfile_id *id)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return -errno;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->ctime = st.st_ctim;
    return 0;
}

void sockfile_remove(const char *path, const struct sockfile_id *id)
{
    struct stat st;
    if (lstat(path, &st) == 0 && st.st_dev == id->dev && st.st_ino == id->ino &&
        st.st_ctim.tv_sec == id->ctime.tv_sec && st.st_ctim.tv_nsec == id->ctime.tv_nsec)
        unlink(path);
}
