/* Test support shared by the Check suites in tests/unit/: loopback sockets,
 * running a libev loop for a bounded time, a private temporary directory, and
 * the fork-mode runner every suite's main() uses. Helpers assert with Check,
 * so a failed setup fails the test that called it. */
#ifndef WD_TUTIL_H
#define WD_TUTIL_H

#include <check.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

/* Runs every test of s in its own forked process; returns main()'s exit status. */
int tu_run_suite(Suite *s);

/* One loop iteration, waiting at most secs for an event. */
void tu_run_once(struct ev_loop *loop, double secs);
/* Runs the loop until a callback breaks it or secs pass. */
void tu_run_for(struct ev_loop *loop, double secs);
/* Runs loop iterations until *count reaches want or max seconds pass. */
void tu_run_until(struct ev_loop *loop, const int *count, int want, double max);

/* 127.0.0.1:port as a sockaddr_in. */
struct sockaddr_in tu_loopback4(uint16_t port);
/* Loopback TCP socket on an ephemeral port, listening unless backlog < 0; -1 if bind fails. */
int tu_tcp_listener(int family, int backlog, struct sockaddr_storage *ss, socklen_t *len);
/* A blocking TCP client connected to sa (through the backlog: no accept needed). */
int tu_connect(const struct sockaddr *sa, socklen_t len);
/* A connected loopback TCP pair, both ends blocking: *client and the accepted *server. */
void tu_tcp_pair(int *client, int *server);
/* A non-blocking AF_UNIX stream socketpair. */
void tu_unix_pair(int sv[2]);
/* Adds O_NONBLOCK to fd. */
void tu_set_nonblock(int fd);
/* 1 while fd is an open descriptor. */
int tu_fd_is_open(int fd);
/* poll() for POLLIN on fd for at most ms: 1 readable, 0 timed out, -1 error. */
int tu_wait_readable(int fd, int ms);

/* Unchecked fixture: makes the private directory (in the runner, before the forks). */
void tu_tmpdir_setup(void);
/* Unchecked fixture: removes that directory and everything in it. */
void tu_tmpdir_teardown(void);
/* The private directory's path. */
const char *tu_tmpdir(void);

#endif
