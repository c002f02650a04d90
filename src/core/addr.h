/* Socket address parsing and printing: listen addresses ("8800", "127.0.0.1:8800",
 * "[::1]:8800", "*:8800"), upstream "host:port" pairs, and the one port parser
 * and the one IP-literal parser the whole program uses. Pure functions. */
#ifndef WARPD_ADDR_H
#define WARPD_ADDR_H

#include <stdint.h>
#include <sys/socket.h>

#include "common.h"

#define ADDR_HOSTMAX   256 /* longest host name kept, with the NUL */
#define ADDR_QUOTE_MAX 64  /* bytes of offending text an error message repeats */
#define ADDR_QUOTELEN  (ADDR_QUOTE_MAX * 4 + 4) /* room for addr_quote's output */

/* What addr_parse_port returns besides 0, so callers can word their messages. */
#define ADDR_PORT_EMPTY  (-1) /* no characters at all */
#define ADDR_PORT_SYNTAX (-2) /* a byte that is not a decimal digit (signs, spaces, hex) */
#define ADDR_PORT_RANGE  (-3) /* all digits, but above 65535, or 0 where 0 is not allowed */

/* The port parser: s[0..len) as a decimal port, digits only, any number of
 * them (leading zeros are harmless). allow_zero: whether 0 (a port the kernel
 * chooses, for listening) is accepted. Returns 0 or one of ADDR_PORT_*. */
int addr_parse_port(const char *s, size_t len, int allow_zero, uint16_t *port);
/* The IP-literal parser: s[0..len) (no brackets, no NUL needed) as a numeric
 * IPv4 dotted quad or IPv6 address. family: AF_INET or AF_INET6 to accept only
 * that one, AF_UNSPEC for either. Writes 4 or 16 bytes in network order to out
 * (which must hold 16) and returns the family found, or -1. */
int addr_parse_ip(const char *s, size_t len, int family, void *out);

/* Parses a numeric listen address. A bare port means 127.0.0.1; "*" means
 * 0.0.0.0 and "[::]" all IPv6 addresses. Returns 0, or -1 with a message. */
int addr_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err,
                      size_t errlen);
/* Splits "host:port" or "[v6]:port" into its parts; the host may be a name.
 * The port is required and must be 1-65535. Returns 0, or -1 with a message. */
int addr_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port, char *err,
                        size_t errlen);
/* The reverse of addr_format: "a.b.c.d:port" or "[v6]:port" back into ss.
 * Returns 0, or -1 (a name, or no port). */
int addr_from_text(const char *text, struct sockaddr_storage *ss, socklen_t *len);
/* Fills ss with an IPv4 (4 bytes at ip) or IPv6 (16 bytes) address and a
 * port; returns the length of the sockaddr. */
socklen_t addr_set(struct sockaddr_storage *ss, int family, const void *ip, uint16_t port);
/* Parses a numeric IPv4/IPv6 literal (no brackets) into ss with the port. */
int addr_from_literal(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);
/* "1.2.3.4:80" or "[::1]:80" into buf (WD_ADDRSTRLEN bytes). Returns buf. */
char *addr_format(const struct sockaddr *sa, char *buf, size_t buflen);
int addr_equal(const struct sockaddr *a, const struct sockaddr *b);
int addr_is_loopback(const struct sockaddr *sa);
/* Whether a connection to sa would reach a socket listening on listener
 * (the same address and port, or loopback for a wildcard listener). */
int addr_reaches(const struct sockaddr *listener, const struct sockaddr *sa);
/* Copies s for an error message: at most ADDR_QUOTE_MAX bytes, anything not
 * printable ASCII (and the backslash) as \xNN, "..." when cut. out should
 * hold ADDR_QUOTELEN bytes. Shared by the config parser. */
void addr_quote(const char *s, char *out, size_t outlen);
uint16_t addr_port(const struct sockaddr *sa);
void addr_set_port(struct sockaddr *sa, uint16_t port);

#endif
