/* Destination rules, the deny_dest and allow_dest directives: one
 * "CIDR[:PORTS]" word parsed into a rule, and an address warpd is about to
 * connect to matched against a list of rules in order. Pure, as acl.c is: no
 * I/O and no allocation, so the configuration keeps the rules as plain data. */
#ifndef WARPD_DEST_H
#define WARPD_DEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "acl.h"

#define DEST_MAX_PORTS 8   /* port ranges of one rule */
#define DEST_TEXTLEN   160 /* longest dest_format text, with the NUL */

/* An inclusive range of ports; a single port has lo == hi. */
struct dest_ports {
    uint16_t lo, hi;
};

/* One word of a deny_dest or allow_dest line. Unused slots are zero, so that
 * two equal rules are equal byte for byte. */
struct dest_rule {
    struct acl_rule net; /* action (ACL_ALLOW, ACL_DENY), family (ACL_ALL: "all"), network */
    uint8_t nports;      /* ranges in ports; 0: every port */
    struct dest_ports ports[DEST_MAX_PORTS];
};

/* Parses one word: "all", an IPv4 address or network ("10.0.0.0/8"), an
 * IPv6 one bare ("fd00::/8", no ports then) or in brackets ("[fd00::]/8",
 * "[fd00::/8]"), each optionally followed by ":PORTS", a comma-separated list
 * of ports and ranges ("22,25,8000-8999"). IPv4-mapped IPv6 networks are
 * stored as IPv4 ones (acl_parse's rules). Returns 0, or -1 with a one-line
 * message in err quoting the word. */
int dest_parse(const char *word, int action, struct dest_rule *r, char *err, size_t errlen);

/* Whether r matches sa (an AF_INET or AF_INET6 address with its port); an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as the IPv4 one. */
int dest_match(const struct dest_rule *r, const struct sockaddr *sa);

/* The index of the first of the n rules matching sa, or -1. */
int dest_find(const struct dest_rule *rules, int n, const struct sockaddr *sa);

/* Whether every destination b matches is also matched by a, so that b,
 * placed after a, could never decide anything. */
int dest_covers(const struct dest_rule *a, const struct dest_rule *b);

/* "deny_dest 10.0.0.0/8", "allow_dest [fd00::]/8:22,25", "deny_dest all:25"
 * into buf (DEST_TEXTLEN bytes is always enough). Returns buf. */
char *dest_format(const struct dest_rule *r, char *buf, size_t buflen);

#endif
