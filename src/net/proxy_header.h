/* The PROXY protocol header (v1 text line, v2 binary header) that an L4
 * balancer puts before a client's bytes to say who the client is, read and
 * written as bytes: no sockets, no event loop, no allocation. The intake on
 * a proxy_protocol listener feeds it what has arrived so far. */
#ifndef WARPD_PROXY_HEADER_H
#define WARPD_PROXY_HEADER_H

#include <stddef.h>
#include <sys/socket.h>

/* The longest header taken. v1: 107 bytes with the CRLF (the spec's own
 * bound). v2: the 16 fixed bytes and at most 1024 of addresses and TLVs.
 * The spec allows 65535, but no sender needs that many: HAProxy with every
 * proxy-v2-option on (IPv6 addresses 36, SSL with version, cipher, signature
 * and key algorithms and a 64-byte CN about 160, a 253-byte authority 256,
 * a 128-byte unique id 131, CRC32C 7, ALPN about 11) is about 600, and the
 * cloud balancers' TLVs (AWS VPC endpoint id, GCP PSC id, Azure link id)
 * are a few dozen. 1024 takes all of that with room to spare, stays a small
 * part of one 16 KiB session buffer, and bounds what a peer can make the
 * intake wait for. A longer v2 header is PROXY_E_MALFORMED. */
#define PROXY_HEADER_MAX (16 + 1024)
#define PROXY_V1_MAX     107 /* a v1 line, "PROXY" to LF */
#define PROXY_E_SIGNATURE                                                                          \
    (-1) /* neither "PROXY " nor the v2 12-byte signature: no PROXY header                         \
          */
#define PROXY_E_MALFORMED                                                                          \
    (-2) /* a broken line, bad version/command nibble, bad length, bad addresses */
#define PROXY_E_FAMILY (-3) /* a v2 PROXY header for AF_UNIX, UDP or AF_UNSPEC */

struct proxy_header {
    int version; /* 1 or 2 */
    int local;   /* no addresses carried: v2 LOCAL command, or v1 "PROXY UNKNOWN" */
    struct sockaddr_storage src, dst; /* the client and the address it connected to, with ports */
    socklen_t srclen, dstlen;         /* 0 when local */
};

/* Reads a header at the start of b[0..len). Returns > 0: a complete header
 * of that many bytes (what follows is the client's data, not consumed);
 * 0: need more bytes (every proper prefix of a valid header, and any prefix
 * that could still become one); < 0: PROXY_E_*. A result < 0 or > 0 does not
 * change when more bytes are appended. Never reads past len; writes h only
 * when the result is > 0.
 * v1: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" with single spaces, strict
 * addresses of the named family, ports 0-65535 written without leading zeros
 * ("0" itself is taken, as the spec's range says); "PROXY UNKNOWN", then
 * anything up to the CRLF, is local. A bare LF or a CR not followed by LF is
 * malformed.
 * v2: version 2; LOCAL (any defined family byte, addresses and TLVs
 * ignored) or PROXY with TCP over IPv4 or IPv6 (other defined families and
 * transports: PROXY_E_FAMILY; undefined nibbles: PROXY_E_MALFORMED); the
 * length covers the family's addresses, and the TLVs after them must be
 * whole (they are skipped, not read). */
long proxy_header_parse(const unsigned char *b, size_t len, struct proxy_header *h);

/* Writes a header announcing src -> dst in version 1 or 2 (v2: the PROXY
 * command, TCP, no TLVs). When one address is IPv4 and the other IPv6, the
 * IPv4 one is written IPv4-mapped (::ffff:a.b.c.d) and the header is TCP6 /
 * AF_INET6. When either is not an IP address (or NULL), v1 writes
 * "PROXY UNKNOWN\r\n" and v2 the PROXY command with AF_UNSPEC and no
 * addresses, as the spec says for unsupported families. Returns the bytes
 * written, or 0 if cap is too small (nothing useful is written) or the
 * version is neither 1 nor 2. */
size_t proxy_header_build(unsigned char *out, size_t cap, int version, const struct sockaddr *src,
                          const struct sockaddr *dst);

#endif
