/* systemd's readiness protocol by hand (as HAProxy does): a single datagram of
 * newline-separated KEY=value assignments sent to the AF_UNIX socket named
 * by $NOTIFY_SOCKET; a leading '@' names an abstract socket. */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
notify_send(const char *fmt, ...)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    char msg[512];
    socklen_t len;
    va_list ap;
    size_t plen;
    ssize_t n;
    int fd, m;

    if (path == NULL || path[0] == '\0')
        return 0;
    plen = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path))
        return -1;
    va_start(ap, fmt);
    m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)m >= sizeof(msg))
        return -1;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, plen);
    if (path[0] == '@')
        sun.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    do {
        n = sendto(fd, msg, (size_t)m, MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
    } while (n < 0 && errno == EINTR);
    close(fd);
    return n == m ? 0 : -1;
}
