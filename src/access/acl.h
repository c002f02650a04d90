/* Client access rules, the allow and deny directives: one address word parsed
 * into a rule, and a client address matched against a list of rules in order.
 * Pure: no I/O and no allocation, so the configuration keeps the rules as
 * plain data and a worker matches at accept for the cost of a short loop. */
#ifndef WARPD_ACL_H
#define WARPD_ACL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What a matching rule decides. */
#define ACL_DENY  0
#define ACL_ALLOW 1

/* Which addresses a rule is about. */
#define ACL_ALL 0 /* "all": every client, IPv4 and IPv6 (and anything else) */
#define ACL_V4  4
#define ACL_V6  6

/* Longest acl_format text: "allow " + an IPv6 address + "/128", with the NUL. */
#define ACL_TEXTLEN 64

/* One address of an allow or deny line. The network is stored with its host
 * bits clear; an IPv4 network uses net[0..3] and leaves the rest zero, so
 * that two equal rules are equal byte for byte. */
struct acl_rule {
    uint8_t action; /* ACL_ALLOW or ACL_DENY */
    uint8_t family; /* ACL_ALL, ACL_V4 or ACL_V6 */
    uint8_t prefix; /* leading bits of the address that must match: 0-32 or 0-128 */
    uint8_t net[16];
};

/* "what, got 'word'" (word quoted for the log) into err; returns -1. */
int acl_fail(char *err, size_t errlen, const char *what, const char *word);

/* Parses one word: "all", or an IPv4 or IPv6 address with an optional
 * "/prefix" (none means the single address: /32 or /128). An IPv4-mapped
 * IPv6 network with a prefix of 96 or more (::ffff:10.0.0.0/104) is stored
 * as the IPv4 network it stands for (10.0.0.0/8), since clients are matched
 * that way. Host bits set beyond the prefix (10.0.0.1/8) are refused, not
 * masked. Returns 0, or -1 with a one-line message in err quoting the word. */
int acl_parse(const char *word, int action, struct acl_rule *r, char *err, size_t errlen);

/* The index of the first rule matching peer, or -1 when none does. An IPv4
 * client reached through an IPv6 socket (::ffff:a.b.c.d) is matched as the
 * IPv4 address; IPv6 rules never match IPv4 clients, and the reverse. */
int acl_find(const struct acl_rule *rules, int n, const struct sockaddr *peer);

/* Whether peer may connect: with no rules, always; otherwise the first
 * matching rule decides, and a client no rule matches is denied. *rule
 * (when not NULL) receives the deciding rule's index, or -1. */
int acl_allows(const struct acl_rule *rules, int n, const struct sockaddr *peer, int *rule);

/* Whether every address b matches is also matched by a, so that b, placed
 * after a, could never decide anything. */
int acl_covers(const struct acl_rule *a, const struct acl_rule *b);

/* "allow 10.0.0.0/8", "deny 2001:db8::/32", "deny all" into buf
 * (ACL_TEXTLEN bytes is always enough). Returns buf. */
char *acl_format(const struct acl_rule *r, char *buf, size_t buflen);

#endif
