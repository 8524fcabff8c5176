/* fdpass.c - receiving bytes with SCM_RIGHTS descriptors. */
#include "fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Descriptors one recvmsg() can take in; the protocol passes one. */
#define FDPASS_CTL_FDS 16

ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *n_fds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * FDPASS_CTL_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
    };
    ssize_t r;
    do
        r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(cm);
        for (size_t i = 0; i < k; i++) {
            int passed;
            memcpy(&passed, data + i * sizeof(int), sizeof(int));
            if (*n_fds < max_fds)
                fds[*n_fds] = passed;
            else
                close(passed);
            (*n_fds)++;
        }
    }
    if (mh.msg_flags & MSG_CTRUNC)
        return -EPROTO;
    return r;
}
