/* The SOCKS wire format (RFC 1928 SOCKS5, RFC 1929 username/password,
 * SOCKS4 and SOCKS4a): parsers of the client's messages and writers of the
 * server's replies. Pure code: no socket, no event loop, no allocation, so
 * the intake (the session's state machine) and the unit tests and fuzzer
 * drive it the same way. */
#ifndef WARPD_SOCKS_H
#define WARPD_SOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What the parsers return: > 0 the bytes the message took (it is complete;
 * bytes after it are the client's next message or early data and are not
 * touched), 0 the bytes so far are a proper prefix of a message that may
 * still be valid, < 0 one of these. An error is given as soon as the bytes
 * show it and more bytes never change it. */
#define SOCKS_E_MALFORMED (-1) /* bad version, RSV, length, NUL or control byte, ... */
#define SOCKS_E_ATYP      (-2) /* SOCKS5 address type not 1/3/4: reply 0x08 */
#define SOCKS_E_COMMAND   (-3) /* unknown command, in an otherwise valid request: reply 0x07 */

#define SOCKS_MAX_NAME 255

/* Commands (SOCKS4 has only the first two). */
#define SOCKS_CMD_CONNECT 1
#define SOCKS_CMD_BIND    2
#define SOCKS_CMD_UDP     3

/* SOCKS5 authentication methods (the method-selection reply). */
#define SOCKS5_METHOD_NONE     0x00
#define SOCKS5_METHOD_USERPASS 0x02
#define SOCKS5_METHOD_REFUSED  0xff /* no acceptable method: the client must close */

/* SOCKS5 reply codes (RFC 1928 section 6). */
#define SOCKS5_REP_OK           0x00
#define SOCKS5_REP_FAILURE      0x01 /* general SOCKS server failure */
#define SOCKS5_REP_NOT_ALLOWED  0x02 /* connection not allowed by ruleset */
#define SOCKS5_REP_NET_UNREACH  0x03
#define SOCKS5_REP_HOST_UNREACH 0x04 /* also: name not found */
#define SOCKS5_REP_REFUSED      0x05
#define SOCKS5_REP_TTL_EXPIRED  0x06 /* used for connect timeouts */
#define SOCKS5_REP_COMMAND      0x07 /* command not supported */
#define SOCKS5_REP_ATYP         0x08 /* address type not supported */

/* The longest reply socks5_reply writes (IPv6 bound address). */
#define SOCKS5_REPLY_MAX 22
/* The length of every SOCKS4 reply. */
#define SOCKS4_REPLY_LEN 8

/* The methods a SOCKS5 greeting offered; others are ignored. */
struct socks5_greeting {
    unsigned no_auth : 1;  /* 0x00, no authentication */
    unsigned userpass : 1; /* 0x02, username/password (RFC 1929) */
};

/* An RFC 1929 username/password request. Neither may contain a NUL byte (so
 * each is also a C string); the user name, which gets logged, no control
 * byte either. The user name is 1..255 bytes, the password 0..255. */
struct socks_userpass {
    char user[SOCKS_MAX_NAME + 1];
    char pass[SOCKS_MAX_NAME + 1];
    size_t ulen, plen; /* their lengths, without the NUL */
};

/* A SOCKS5 or SOCKS4/4a request. */
struct socks_request {
    int version; /* 4 or 5 */
    int command; /* SOCKS_CMD_* */
    int is_name; /* the target is a domain name (SOCKS5 ATYP 3, SOCKS4a) */
    char host[SOCKS_MAX_NAME +
              1];           /* the name, or the address as text ("192.0.2.1", "2001:db8::1") */
    int family;             /* AF_INET or AF_INET6 when !is_name, else AF_UNSPEC */
    unsigned char addr[16]; /* the address in network order (4 or 16 bytes), zeros for a name */
    uint16_t port;          /* in host order */
    char user[SOCKS_MAX_NAME + 1]; /* SOCKS4/4a userid (may be empty; always empty for SOCKS5) */
};

/* VER 5, NMETHODS >= 1, the methods. */
long socks5_parse_greeting(const unsigned char *b, size_t len, struct socks5_greeting *g);
/* VER 1, ULEN, UNAME, PLEN, PASSWD. */
long socks5_parse_userpass(const unsigned char *b, size_t len, struct socks_userpass *u);
/* VER 5, CMD, RSV 0, ATYP, DST.ADDR, DST.PORT. An unknown ATYP is
 * SOCKS_E_ATYP whatever the command (the length of the rest is unknown). */
long socks5_parse_request(const unsigned char *b, size_t len, struct socks_request *r);
/* VN 4, CD, DSTPORT, DSTIP, USERID NUL, and for SOCKS4a (DSTIP 0.0.0.x,
 * x != 0) the domain name NUL. The userid is at most 255 bytes and has no
 * control byte. */
long socks4_parse_request(const unsigned char *b, size_t len, struct socks_request *r);

/* The SOCKS5 reply VER REP RSV ATYP BND.ADDR BND.PORT with bound's address
 * (IPv4 or IPv6; NULL or another family: 0.0.0.0:0). out holds
 * SOCKS5_REPLY_MAX bytes; returns the bytes written (10 or 22). */
size_t socks5_reply(unsigned char *out, int rep, const struct sockaddr *bound);
/* The SOCKS4 reply: 0x00, 0x5A granted or 0x5B rejected, bound's port and
 * IPv4 address (an IPv4-mapped IPv6 address gives its IPv4 address, another
 * IPv6 address 0.0.0.0; NULL: zeros). Returns SOCKS4_REPLY_LEN. */
size_t socks4_reply(unsigned char *out, int granted, const struct sockaddr *bound);
/* The method-selection reply (0x05, method): 2 bytes. */
size_t socks5_method_reply(unsigned char *out, int method);
/* The RFC 1929 status reply (0x01, 0x00 success or 0x01 failure): 2 bytes. */
size_t socks5_auth_reply(unsigned char *out, int ok);

#endif
