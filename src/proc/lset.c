/* The listener sets of the supervisor: opening the sockets of a
 * configuration (one per address and slot, SO_REUSEPORT), keeping those of
 * the previous set that did not change across a reload, closing what the
 * next set does not share. */
#include "lset.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"

#define LSET_BACKLOG 511

int
lset_has_fd(const struct lset *s, int fd)
{
    for (int i = 0; i < s->n; i++)
        for (int j = 0; j < CFG_MAX_WORKERS; j++)
            if (s->ls[i].fds[j] == fd)
                return 1;
    return 0;
}

void
lset_close(struct lset *a, const struct lset *other)
{
    for (int i = 0; i < a->n; i++)
        for (int j = 0; j < CFG_MAX_WORKERS; j++) {
            int fd = a->ls[i].fds[j];
            if (fd >= 0 && (other == NULL || !lset_has_fd(other, fd)))
                close(fd);
            a->ls[i].fds[j] = -1;
        }
    a->n = 0;
}

void
lset_unseal(const struct lset *s)
{
    for (int i = 0; i < s->n; i++)
        for (int j = 0; j < CFG_MAX_WORKERS; j++)
            if (s->ls[i].fds[j] >= 0 && listener_unseal(s->ls[i].fds[j]) < 0)
                log_warn("listen %s: cannot unseal a listening socket", s->ls[i].text);
}

static const struct lsock *
lset_find(const struct lset *s, const struct sockaddr *sa)
{
    for (int i = 0; i < s->n; i++)
        if (addr_equal((const struct sockaddr *)&s->ls[i].addr, sa))
            return &s->ls[i];
    return NULL;
}

int
lset_open(struct lset *s, const struct config *cfg, const struct lset *prev, char *err,
          size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->nslots = cfg->workers;
    for (int i = 0; i < cfg->nlisten; i++) {
        struct lsock *l = &s->ls[i];
        const struct lsock *p = NULL;

        for (int j = 0; j < CFG_MAX_WORKERS; j++)
            l->fds[j] = -1;
        s->n = i + 1;
        memcpy(&l->addr, &cfg->listen[i].addr, cfg->listen[i].addrlen);
        l->len = cfg->listen[i].addrlen;
        if (prev != NULL)
            p = lset_find(prev, (struct sockaddr *)&l->addr);
        if (p == NULL && listener_probe((struct sockaddr *)&l->addr, l->len) < 0) {
            snprintf(err, errlen, "listen %s: %s", cfg->listen[i].text, strerror(errno));
            goto fail;
        }
        for (int j = 0; j < cfg->workers; j++) {
            if (p != NULL && p->fds[j] >= 0) {
                l->fds[j] = p->fds[j];
                continue;
            }
            /* With port 0 the first bind writes the chosen port back into
             * l->addr, so the other slots join that port. */
            l->fds[j] = listener_open((struct sockaddr *)&l->addr, l->len, LSET_BACKLOG);
            if (l->fds[j] < 0) {
                snprintf(err, errlen, "listen %s: %s", cfg->listen[i].text, strerror(errno));
                goto fail;
            }
            /* Transparent mode: TPROXY hands over connections for addresses
             * that are not the machine's own; a redirect needs nothing. */
            if (cfg->mode == MODE_TRANSPARENT &&
                listener_transparent(l->fds[j], l->addr.ss_family) < 0 && j == 0)
                log_warn("listen %s: IP_TRANSPARENT (for TPROXY; a redirect works without it)",
                         cfg->listen[i].text);
        }
        addr_format((struct sockaddr *)&l->addr, l->text, sizeof(l->text));
    }
    return 0;
fail:
    lset_close(s, prev);
    return -1;
}

void
lset_text(const struct lset *s, char *b, size_t len)
{
    size_t off = 0;

    b[0] = '\0';
    for (int i = 0; i < s->n && off < len; i++)
        off += (size_t)snprintf(b + off, len - off, "%s%s", i ? " " : "", s->ls[i].text);
}
