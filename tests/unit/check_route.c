/* Unit tests for src/http/http_route.c, routing as a pure function: a table of
 * request heads under forward and reverse configurations, each with the
 * route it must get (the upstream host and port, or the status and text of
 * warpd's own answer), in the order a client sees them: a bad target first,
 * then credentials, a Via loop, Max-Forwards: 0, then the mode's rules. */
#include <check.h>
#include <string.h>

#include "config.h"
#include "http_route.h"
#include "tutil.h"

struct route_case {
    int mode;         /* MODE_FORWARD or MODE_REVERSE */
    int auth;         /* with auth_user alice:secret */
    const char *head; /* the request */
    int kind;         /* the expected route */
    int status;       /* ROUTE_ANSWER's status */
    const char *host; /* ROUTE_UPSTREAM's host, or the start of why */
    uint16_t port;
    int connect;
};

#define FWD MODE_FORWARD
#define REV MODE_REVERSE
/* "alice:secret" in base64 */
#define ALICE "Proxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n"

static const struct route_case cases[] = {
    {FWD, 0, "GET http://example.org:8080/a HTTP/1.1\r\nHost: example.org:8080\r\n\r\n",
     ROUTE_UPSTREAM, 0, "example.org", 8080, 0},
    {FWD, 0, "GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n", ROUTE_UPSTREAM, 0,
     "example.org", 80, 0},
    {FWD, 0, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n", ROUTE_UPSTREAM, 0,
     "example.org", 443, 1},
    {FWD, 0, "CONNECT example.org:25 HTTP/1.1\r\nHost: example.org:25\r\n\r\n", ROUTE_ANSWER, 403,
     "CONNECT to this port", 0, 0},
    {FWD, 0, "GET /a HTTP/1.1\r\nHost: example.org\r\n\r\n", ROUTE_ANSWER, 400,
     "a forward proxy needs", 0, 0},
    {FWD, 0, "OPTIONS * HTTP/1.1\r\nHost: example.org\r\n\r\n", ROUTE_ANSWER, 400,
     "a forward proxy needs", 0, 0},
    {FWD, 0, "GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\nVia: 1.1 warpd\r\n\r\n",
     ROUTE_ANSWER, 508, "the request already passed", 0, 0},
    {FWD, 0, "TRACE http://example.org/ HTTP/1.1\r\nHost: example.org\r\nMax-Forwards: 0\r\n\r\n",
     ROUTE_FINAL, 0, NULL, 0, 0},
    {FWD, 0, "GET ftp://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n", ROUTE_ANSWER, 501,
     "invalid request target", 0, 0},
    /* credentials come before everything about the destination */
    {FWD, 1, "GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n", ROUTE_AUTH, 407,
     "credentials required", 0, 0},
    {FWD, 1, "CONNECT example.org:25 HTTP/1.1\r\nHost: example.org:25\r\n\r\n", ROUTE_AUTH, 407,
     "credentials required", 0, 0},
    {FWD, 1,
     "GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n"
     "Proxy-Authorization: Basic YWxpY2U6d3Jvbmc=\r\n\r\n",
     ROUTE_AUTH, 407, "invalid credentials", 0, 0},
    {FWD, 1,
     "GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n"
     "Proxy-Authorization: Digest x\r\n\r\n",
     ROUTE_AUTH, 407, "only Basic", 0, 0},
    {FWD, 1, "GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n" ALICE ALICE "\r\n",
     ROUTE_ANSWER, 400, "more than one Proxy-Authorization", 0, 0},
    {FWD, 1, "GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n" ALICE "\r\n",
     ROUTE_UPSTREAM, 0, "example.org", 80, 0},
    {FWD, 1, "GET /a HTTP/1.1\r\nHost: example.org\r\n\r\n", ROUTE_ANSWER, 400,
     "a forward proxy needs", 0, 0},
    /* reverse mode: the one upstream, whatever the target says */
    {REV, 0, "GET /a HTTP/1.1\r\nHost: example.org\r\n\r\n", ROUTE_UPSTREAM, 0, "backend", 8080, 0},
    {REV, 0, "GET http://other.example/ HTTP/1.1\r\nHost: other.example\r\n\r\n", ROUTE_UPSTREAM, 0,
     "backend", 8080, 0},
    {REV, 0, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n", ROUTE_ANSWER, 405,
     "CONNECT is not served", 0, 0},
    {REV, 1, "GET /a HTTP/1.1\r\nHost: example.org\r\n\r\n", ROUTE_UPSTREAM, 0, "backend", 8080, 0},
};

START_TEST(test_route)
{
    const struct route_case *c = &cases[_i];
    static struct config cfg;
    static struct http_head h;
    struct http_target t;
    struct route r;
    char err[256];

    config_init(&cfg);
    ck_assert_int_eq(
        config_set(&cfg, "mode", c->mode == FWD ? "forward" : "reverse", err, sizeof(err)), 0);
    if (c->mode == REV)
        ck_assert_int_eq(config_set(&cfg, "upstream", "backend:8080", err, sizeof(err)), 0);
    if (c->auth)
        ck_assert_msg(config_set(&cfg, "auth_user", "alice secret", err, sizeof(err)) == 0, "%s",
                      err);
    ck_assert_msg(http_parse_request(c->head, strlen(c->head), &h) == 0, "refused: %s", c->head);
    http_route(&cfg, &h, &t, &r);
    ck_assert_int_eq(r.kind, c->kind);
    if (c->kind == ROUTE_UPSTREAM) {
        ck_assert_str_eq(r.host, c->host);
        ck_assert_uint_eq(r.port, c->port);
        ck_assert_int_eq(r.connect, c->connect);
        int user = c->auth && c->mode == FWD ? 0 : -1; /* no credentials in reverse mode */

        ck_assert_int_eq(r.user, user);
    } else if (c->kind == ROUTE_ANSWER || c->kind == ROUTE_AUTH) {
        if (c->kind == ROUTE_ANSWER)
            ck_assert_int_eq(r.status, c->status);
        ck_assert_msg(strncmp(r.why, c->host, strlen(c->host)) == 0, "why: %s", r.why);
        ck_assert_int_eq(r.user, -1);
    }
    if (c->status == 405)
        ck_assert_str_eq(r.extra, "Allow: " ROUTE_ALLOW_REVERSE "\r\n");
    else
        ck_assert_str_eq(r.extra, "");
}
END_TEST

static Suite *
route_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("route");

    tcase_add_loop_test(tc, test_route, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(route_suite());
}
