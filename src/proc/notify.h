/* The systemd notify protocol written by hand: one datagram of "KEY=value"
 * lines to $NOTIFY_SOCKET. A no-op when the variable is not set. */
#ifndef WARPD_NOTIFY_H
#define WARPD_NOTIFY_H

/* Sends fmt as one datagram; returns 0, or -1 (errors are not fatal). */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
