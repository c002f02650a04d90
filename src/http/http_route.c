/* Routing an HTTP request: the checks that decide, before any lookup or
 * connection, whether a request goes upstream and where, in the order a
 * client sees their answers: the request-target, proxy credentials (forward
 * mode with auth_user), a Via loop, Max-Forwards: 0, then the mode's own
 * rules (absolute URL or CONNECT in forward mode, connect_ports; the one
 * upstream in reverse mode). */
#include "http_route.h"

#include <http_parser.h>
#include <stddef.h>

#include "auth.h"

static void
route_answer(struct route *r, int status, const char *why)
{
    r->kind = ROUTE_ANSWER;
    r->status = status;
    r->why = why;
}

/* Proxy authentication. Returns 1 when the request may go on (r->user
 * set), 0 when r holds the answer. */
static int
route_auth(const struct config *cfg, const struct http_head *h, struct route *r)
{
    const struct http_field *f = NULL;
    int n = 0;

    for (int i = 0; i < h->nfields; i++)
        if (h->fields[i].id == HF_PROXY_AUTHORIZATION) {
            f = &h->fields[i];
            n++;
        }
    /* The field is not a list (credentials may hold commas): two of them
     * are not one client's credentials, and no guess is made. */
    if (n > 1) {
        route_answer(r, 400, "more than one Proxy-Authorization field");
        return 0;
    }
    r->kind = ROUTE_AUTH;
    r->status = 407;
    if (f == NULL) {
        r->why = "credentials required";
        return 0;
    }
    switch (auth_check(cfg->auth_users, cfg->nauth_users, f->value.p, f->value.len, &r->user)) {
    case AUTH_OK:
        r->kind = ROUTE_UPSTREAM;
        return 1;
    case AUTH_SCHEME:
        r->why = "only Basic proxy authentication is supported";
        break;
    case AUTH_MALFORMED:
        r->why = "malformed Basic credentials";
        break;
    default:
        r->why = "invalid credentials";
        break;
    }
    return 0;
}

void
http_route(const struct config *cfg, const struct http_head *h, struct http_target *t,
           struct route *r)
{
    int st;

    r->kind = ROUTE_UPSTREAM;
    r->extra = "";
    r->user = -1;
    r->host = NULL;
    r->port = 0;
    r->connect = h->method == HTTP_CONNECT;
    if ((st = http_parse_target(h, t)) != 0) {
        route_answer(r, st, "invalid request target");
        return;
    }
    /* Whatever would be sent on or answered about a destination needs
     * credentials first; a request no forward proxy serves (origin-form)
     * still gets its 400 below. */
    if (cfg->mode == MODE_FORWARD && cfg->nauth_users > 0 &&
        (t->form == HTTP_FORM_ABSOLUTE || t->form == HTTP_FORM_AUTHORITY) && !route_auth(cfg, h, r))
        return;
    if (http_via_names(h, ROUTE_VIA_NAME)) {
        route_answer(r, 508, "the request already passed through warpd (Via)");
        return;
    }
    if (h->mf_idx >= 0 && h->max_forwards == 0) {
        r->kind = ROUTE_FINAL;
        return;
    }
    if (cfg->mode == MODE_FORWARD) {
        if (t->form == HTTP_FORM_ORIGIN || t->form == HTTP_FORM_ASTERISK) {
            route_answer(r, 400, "a forward proxy needs an absolute URL (http://host/path)");
            return;
        }
        if (t->form == HTTP_FORM_AUTHORITY && !config_port_allowed(cfg, t->port)) {
            route_answer(r, 403, "CONNECT to this port is not allowed (connect_ports)");
            return;
        }
        r->host = t->host;
        r->port = t->port;
        return;
    }
    if (t->form == HTTP_FORM_AUTHORITY) {
        route_answer(r, 405, "CONNECT is not served in reverse mode");
        r->extra = "Allow: " ROUTE_ALLOW_REVERSE "\r\n";
        return;
    }
    r->host = cfg->upstream_host;
    r->port = cfg->upstream_port;
}
