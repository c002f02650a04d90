/* Routing an HTTP request, as a pure function: from the configuration and a
 * validated request head to where the request goes (a host and a port), or
 * to the answer warpd gives itself (a status, its text, extra fields). No
 * session, no socket, no allocation: check_route.c tests it directly. */
#ifndef WARPD_HTTP_ROUTE_H
#define WARPD_HTTP_ROUTE_H

#include <stdint.h>

#include "config.h"
#include "http.h"

/* The token warpd adds to Via, and looks for to find loops. */
#define ROUTE_VIA_NAME "warpd"
/* What each mode forwards, for Allow. */
#define ROUTE_ALLOW_REVERSE "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH"
#define ROUTE_ALLOW_FORWARD ROUTE_ALLOW_REVERSE ", CONNECT"

enum route_kind {
    ROUTE_UPSTREAM, /* forward it to host:port */
    ROUTE_ANSWER,   /* warpd answers status itself, and closes */
    ROUTE_AUTH,     /* 407: credentials missing or wrong (why says which) */
    ROUTE_FINAL,    /* Max-Forwards: 0 on OPTIONS or TRACE: warpd is the final recipient */
};

struct route {
    enum route_kind kind;
    int status;        /* ROUTE_ANSWER */
    const char *why;   /* ROUTE_ANSWER, ROUTE_AUTH: the text of the answer and the log */
    const char *extra; /* ROUTE_ANSWER: extra header lines ("" for none) */
    int user;          /* the authenticated auth_user, or -1 */
    const char *host;  /* ROUTE_UPSTREAM: in t (forward) or in cfg (reverse) */
    uint16_t port;
    int connect; /* ROUTE_UPSTREAM: a CONNECT tunnel, not a request to forward */
};

/* Routes h; t receives the parsed request-target (host points into it). */
void http_route(const struct config *cfg, const struct http_head *h, struct http_target *t,
                struct route *r);

#endif
