/* Request shaping, the planning half: a pure function from the bytes of a
 * request head (as warpd is about to send it upstream), a policy and a seeded
 * random generator to a list of segments, each to be sent as its own TCP
 * segment followed by a pause. Also the TLS ClientHello split for CONNECT
 * tunnels. No I/O, no clock, no allocation: the executor (shape_exec.c) sends
 * the plan from the worker's loop. */
#ifndef WARPD_SHAPE_H
#define WARPD_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "shape_step.h"

#define SHAPE_MAX_SEGS   64 /* segments in one plan; fragments beyond are merged */
#define SHAPE_TLS_GROWTH 5  /* a TLS plan needs len + this many bytes (a second record header) */

/* How the planner shapes; built from the configuration for one destination. */
struct shape_policy {
    int strategy; /* enum cfg_shape, or SHAPE_USER + i for the configuration's strategy i */
    /* The steps, for every strategy but the legacy off, split and warp
     * (shape_policy_init builds them for disorder, fake, oob and tlsrec). */
    struct shape_strategy strat;
    int fake_ttl;        /* TTL of fake pieces (shape_fake_ttl, 8) */
    int disorder_ttl;    /* TTL of disordered pieces (shape_disorder_ttl, 1) */
    char fake_host[256]; /* the Host of a fake HTTP request (shape_fake_host) */
    char fake_sni[256];  /* the SNI of a fake ClientHello (shape_fake_sni) */
    /* split (split_pos also places the TLS split inside the SNI name) */
    int split_pos;    /* split inside the Host value after this many bytes (>= 1) */
    int split_method; /* also split the request line after "METHOD " */
    int split_path;   /* also split inside the path after this many bytes (0 = no) */
    /* warp */
    int delay_ms;           /* pause after the request line (200) */
    int dummy_headers;      /* dummy header lines after the request line (32) */
    int dummy_name_len;     /* "X-" + this many random A-Z (16) */
    int dummy_value_len;    /* value of this many random [A-Za-z0-9] (128) */
    int frag_first;         /* first host fragment length (1) */
    int frag_min, frag_max; /* following fragment lengths, random in [min, max] (2-4) */
    int frag_delays[4]; /* pause before each fragment, chosen at random among these (200, 300) */
    int nfrag_delays;
    /* knobs for both split and warp */
    char host_name[16]; /* spelling of the Host field name to send ("" = as regenerated) */
    int mixed_case;     /* randomise the case of the host value's letters */
    /* TLS (CONNECT) */
    int tls_mode; /* 0 off, 1 two TCP segments, 2 two TLS records */
};

#define SHAPE_SEG_OOB                                                                              \
    0x01 /* sent with MSG_OOB: its last byte is urgent, and the receiving                          \
          * kernel takes it out of the stream */
#define SHAPE_SEG_FAKE                                                                             \
    0x02 /* first buf[fake_off, +len) goes out with TTL ttl; then the real                         \
          * bytes take its place for the kernel's retransmission */

struct shape_seg {
    uint32_t off, len; /* slice of the plan's byte buffer, as sent (with an OOB byte) */
    uint32_t delay_ms; /* pause after this segment has left the socket */
    uint32_t fake_off; /* SHAPE_SEG_FAKE: where the fake bytes are in buf */
    uint8_t ttl;       /* 0: the socket's own; else IP TTL / hop limit of this segment only
                        * (with SHAPE_SEG_FAKE: of the fake) */
    uint8_t flags;     /* SHAPE_SEG_* */
};

struct shape_plan {
    char *buf;  /* the bytes to send (may differ from the input: dummy headers, case) */
    size_t cap; /* capacity of buf, given by the caller */
    size_t len; /* bytes used */
    struct shape_seg seg[SHAPE_MAX_SEGS];
    int nseg;
};

/* The first CRLF in p[0..n), or NULL. */
const char *shape_find_crlf(const char *p, size_t n);

/* Fills pol from the configuration's shaping directives, with strategy (the
 * one config_shape_for chose for the destination): the steps of disorder,
 * fake, oob and tlsrec are one step at host + shape_split_pos
 * ("disorder:host+P" ...), a user strategy's are copied from
 * cfg->strategies[strategy - SHAPE_USER]; off, split, warp and auto have none. */
void shape_policy_init(const struct config *cfg, int strategy, struct shape_policy *pol);
/* A small, fast, seedable generator (xorshift64*): same seed, same plan. */
uint64_t shape_rand(uint64_t *state);

/* Plans the first flight of a connection, data[0..len): an HTTP/1.x head
 * (with any body bytes after it) or a TLS handshake record, by what the bytes
 * are. off and auto plan nothing; split and warp plan as shape_plan_request
 * and shape_plan_tls do; every other strategy follows pol->strat's steps (see
 * shape_plan.c for the order of the edits and of *rng's draws).
 * plan->buf/cap must be set by the caller (shape_plan_size(len, pol) bytes
 * are always enough). Returns 0 when planned; 1 when the strategy does
 * nothing to these bytes (the caller sends them as they are): off, auto, a
 * step that does not apply (tlsrec on HTTP), no marker found, bytes that are
 * neither a complete HTTP head nor a complete TLS record; -1 when the plan
 * does not fit plan->cap. The segments concatenated are plan->buf[0..len);
 * fake bytes (SHAPE_SEG_FAKE) lie after plan->len, within cap. */
int shape_plan_flight(const char *data, size_t len, const struct shape_policy *pol, uint64_t *rng,
                      struct shape_plan *plan);
/* Bytes the plan buffer needs for a flight of head_len bytes under pol. */
size_t shape_plan_size(size_t head_len, const struct shape_policy *pol);
/* Bytes warp's dummy lines add under pol's warp knobs. */
size_t shape_warp_growth(const struct shape_policy *pol);
/* Plans a request head (head[0..len), ending with the blank line, as
 * generated by http_request_out). plan->buf/cap must be set by the caller
 * (at least shape_plan_size bytes). Returns 0, or -1 when split or warp find
 * no Host field, two, or an empty one, when the head has no blank line, or
 * when it does not fit (the caller then sends it unshaped). Segments
 * concatenated always equal plan->buf[0..len). The order in which *rng is
 * drawn is documented in shape.c; the unit tests pin it byte for byte. */
int shape_plan_request(const char *head, size_t len, const struct shape_policy *pol, uint64_t *rng,
                       struct shape_plan *plan);
/* The server_name of a complete TLS ClientHello record at data (the name's
 * bytes, NUL-terminated, in name[cap]). Returns its length, or -1 when there
 * is none or it does not fit. */
int shape_tls_sni(const char *data, size_t len, char *name, size_t cap);
/* Where the server_name of a complete TLS handshake record at data is: 0
 * with the name's offset in data and its length (> 0), or -1 when there is
 * none. */
int shape_tls_name(const char *data, size_t len, size_t *off, size_t *name_len);
/* Plans the first bytes a client sent through a CONNECT tunnel. When they
 * start with a complete TLS ClientHello carrying a server_name, splits inside
 * the host name (pol->tls_mode 1: two TCP segments of the same bytes; 2: the
 * record rewritten as two TLS records split there) and returns 0. Returns 1
 * when there is nothing to do (not TLS, no SNI, a one-letter name, incomplete:
 * send as is), -1 when plan->cap is below len + SHAPE_TLS_GROWTH. */
int shape_plan_tls(const char *data, size_t len, const struct shape_policy *pol,
                   struct shape_plan *plan);

/* Fake templates (shape_fake.c) of len bytes, of which the first keep (at
 * most len) are written at out: a request for host ("GET / HTTP/1.1", Host,
 * an "X-Pad" line filling up to the blank line), or a ClientHello record for
 * sni padded to len with the padding extension; cut at len when len is
 * shorter. An empty name is www.example.com. No random draws. */
void shape_fake_http(char *out, size_t len, size_t keep, const char *host);
void shape_fake_tls(char *out, size_t len, size_t keep, const char *sni);

#endif
