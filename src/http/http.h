/* HTTP/1.x message heads: finding the end of a head and strict validation
 * into an order-preserving field vector that points into the caller's
 * buffer (http.c: one pass per head, nothing else reads it in the daemon),
 * field semantics (http_fields.c), request-targets (http_target.c), and
 * regenerating a rewritten head as iovec slices (http_out.c). http_check.c
 * holds the tests' differential oracle, http-parser reading the same head.
 * Pure code: no sockets, no allocation. */
#ifndef WARPD_HTTP_H
#define WARPD_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "addr.h"
#include "body.h"

#define HTTP_MAX_FIELDS     100  /* more fields: 431 (request) / 502 (response) */
#define HTTP_MAX_FIELD_LINE 8192 /* one field line: 431 / 502 */
#define HTTP_MAX_TARGET     8192 /* request-target: 414 */
#define HTTP_OUT_IOV        (4 * HTTP_MAX_FIELDS + 24)
#define HTTP_OUT_SCRATCH    512

struct http_slice {
    const char *p;
    uint32_t len;
};

/* Field names warpd acts on, matched case-insensitively. */
enum http_field_id {
    HF_OTHER = 0,
    HF_HOST,
    HF_CONNECTION,
    HF_PROXY_CONNECTION,
    HF_KEEP_ALIVE,
    HF_TE,
    HF_TRAILER,
    HF_TRANSFER_ENCODING,
    HF_CONTENT_LENGTH,
    HF_UPGRADE,
    HF_PROXY_AUTHORIZATION,
    HF_PROXY_AUTHENTICATE,
    HF_PROXY_AUTHENTICATION_INFO,
    HF_VIA,
    HF_EXPECT,
    HF_HTTP2_SETTINGS,
    HF_MAX_FORWARDS,
};

struct http_field {
    struct http_slice name;  /* as received (validated token) */
    struct http_slice value; /* without leading/trailing whitespace */
    uint8_t id;              /* enum http_field_id */
    uint8_t hop;             /* 1: not forwarded (hop-by-hop, or named in Connection) */
};

struct http_head {
    /* request line */
    int method;                 /* enum http_method of http_parser.h */
    struct http_slice method_s; /* as received */
    struct http_slice target;   /* request-target as received */
    /* status line */
    int status;
    struct http_slice reason;
    int major, minor; /* HTTP version */

    struct http_field fields[HTTP_MAX_FIELDS]; /* in received order */
    int nfields;
    size_t head_len; /* bytes of the head, final empty line included */

    enum body_framing body;       /* message framing (RFC 9112 section 6.3) */
    uint64_t content_length;      /* for BODY_LENGTH; a response keeps a received value
                                   * also when it has no body (HEAD, 304), else 0 */
    unsigned close : 1;           /* the sender wants the connection closed after this message */
    unsigned upgrade : 1;         /* request: Upgrade + Connection: upgrade present (HTTP/1.1) */
    unsigned expect_continue : 1; /* request: Expect: 100-continue (HTTP/1.1) */
    unsigned te_coded : 1;        /* response: Transfer-Encoding named a coding besides chunked
                                   * (gzip...): the body bytes stay coded, and the regenerated
                                   * head no longer says so; the session may prefer a 502 */
    int host_idx;                 /* index of the Host field, -1 when none */
    int via_idx;                  /* index of the last Via field, -1 when none */
    int mf_idx;                   /* TRACE and OPTIONS: the Max-Forwards field, -1 when none
                                   * (other methods forward it untouched, RFC 9110 7.6.2) */
    uint64_t max_forwards;        /* its value, when mf_idx >= 0 */
};

enum http_target_form {
    HTTP_FORM_ORIGIN = 0, /* /path?query */
    HTTP_FORM_ABSOLUTE,   /* http://host[:port]/path?query */
    HTTP_FORM_AUTHORITY,  /* host:port (CONNECT) */
    HTTP_FORM_ASTERISK,   /* * (OPTIONS) */
};

struct http_target {
    enum http_target_form form;
    char host[ADDR_HOSTMAX];     /* name or IP literal, IPv6 without brackets */
    uint16_t port;               /* 80 when absent from an http:// URL */
    struct http_slice authority; /* host[:port] as written, for a Host field */
    struct http_slice path;      /* path and query for origin-form; len 0 means "/" */
};

/* Looks for the end of a head in buf[0..len). *scanned carries where the
 * previous call stopped (start at 0) so a head arriving in pieces is scanned
 * once. Returns the head length, 0 when incomplete, or a negative HTTP status
 * (-431 head larger than max, -414 request line longer than HTTP_MAX_TARGET
 * with no end yet, -400 a byte that cannot start a head). Leading empty lines
 * before a request line are part of the head (and skipped by the parser). */
long http_head_end(const char *buf, size_t len, size_t max, int is_request, size_t *scanned);

/* Parses and validates a complete request head buf[0..len), len from
 * http_head_end. Returns 0, or the status to answer: 400, 414, 431, 501
 * (unknown method or transfer coding), 505 (version not 1.x). */
int http_parse_request(const char *buf, size_t len, struct http_head *h);
/* Parses and validates a complete response head to a request with method
 * req_method. Returns 0, or 502 when the response is invalid. */
int http_parse_response(const char *buf, size_t len, int req_method, struct http_head *h);
/* Decomposes the request-target. Returns 0, or 400 (bad form for the method,
 * userinfo, fragment, bad host, bad or missing port for CONNECT, port 0),
 * or 501 for a scheme other than http in absolute-form. */
int http_parse_target(const struct http_head *h, struct http_target *t);

/* The regenerated head: iovec slices of the received buffer and of scratch. */
struct http_out {
    struct iovec iov[HTTP_OUT_IOV];
    int n;
    size_t bytes;
    char scratch[HTTP_OUT_SCRATCH];
    size_t used;
};

struct http_req_opts {
    const struct http_target *target; /* absolute-form: origin-form path and Host from it */
    const char *host_override;        /* reverse mode upstream_host, or NULL */
    enum body_framing body_out;       /* BODY_LENGTH: Content-Length; BODY_CHUNKED: TE chunked */
    uint64_t content_length;
    int via;     /* add "Via: 1.x warpd" (appended to the last Via) */
    int upgrade; /* keep Upgrade and send Connection: upgrade */
    int close;   /* send Connection: close upstream */
};

struct http_resp_opts {

    enum body_framing body_out; /* BODY_LENGTH / BODY_CHUNKED / BODY_CLOSE / BODY_NONE */
    uint64_t content_length;
    int keep_length; /* HEAD/304: pass the received Content-Length on, no body follows */
    int via;
    int upgrade;    /* 101: keep Upgrade, send Connection: upgrade */
    int close;      /* send Connection: close */
    int keep_alive; /* HTTP/1.0 client that asked for keep-alive: send Connection: keep-alive */
};

/* Request line "METHOD SP target SP HTTP/1.1", every field that is not
 * hop-by-hop in received order and spelling ("name:value" when received
 * without whitespace after the colon, else "name: value": a line is never
 * written longer than it came), Host from the target for
 * absolute-form (replacing the received one in its position), framing
 * fields generated from body_out, Via, Connection as asked, empty line. */
void http_request_out(const struct http_head *h, const struct http_req_opts *o,
                      struct http_out *out);
/* Status line "HTTP/1.1 code reason" (HTTP/1.0 towards 1.0 clients is not
 * needed: 1.1 is sent, as RFC 9112 allows), fields, framing, Via, empty line. */
void http_response_out(const struct http_head *h, const struct http_resp_opts *o,
                       struct http_out *out);

/* Whether a regenerated head of a received one with nfields fields stays
 * within the limits warpd applies to what it receives: at most max_head
 * bytes, HTTP_MAX_FIELDS fields, no field line over HTTP_MAX_FIELD_LINE.
 * Received lines never grow, but the lines warpd adds (Via, framing,
 * Connection, Host) can take a head that arrived just within the limits
 * over them, and the next hop with the same limits would refuse it. */
int http_out_fits(const struct http_out *out, int nfields, size_t max_head);
/* Case-insensitive comparison of a slice with a NUL-terminated lowercase word. */
int http_slice_eq(struct http_slice s, const char *lower);
/* Whether a Via field of h names `name` as a whole word, ignoring case. */
int http_via_names(const struct http_head *h, const char *name);
/* The request as a TRACE reflects it (RFC 9110 9.3.8) when warpd is its final
 * recipient: request line and fields as received, without the credentials
 * and cookies (Authorization, Proxy-Authorization, Cookie), and the empty
 * line. Writes at most cap bytes to dst (head_len + nfields + 2 always fit);
 * returns the length, or 0 when it does not fit. */
size_t http_trace_body(const struct http_head *h, char *dst, size_t cap);
/* Reason phrase for the statuses warpd generates. */
const char *http_reason(int status);
/* The differential oracle of the tests and fuzzers, never called by the
 * daemon: whether http-parser reads a head the strict pass accepted into h
 * from buf the same way -- the same method, target or status and reason, the
 * same version, the same fields at the same offsets, and the same framing
 * (Content-Length and its value, chunked or not). type is HTTP_REQUEST or
 * HTTP_RESPONSE of http_parser.h; req_method, for a response, the method
 * answered. Returns 1, or 0 with *why (when why is not NULL) saying what
 * differed. */
int http_check_agrees(const char *buf, const struct http_head *h, int type, int req_method,
                      const char **why);

#endif
