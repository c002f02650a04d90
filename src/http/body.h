/* Message body framing: decodes a body as it arrives (Content-Length,
 * chunked, or delimited by close) and re-encodes it for the next hop, never
 * passing raw chunk framing through. Pure code: input and output are memory;
 * output data slices point into the input so body bytes are not copied. */
#ifndef WARPD_BODY_H
#define WARPD_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum body_framing {
    BODY_NONE = 0, /* no body */
    BODY_LENGTH,   /* exactly content_length bytes */
    BODY_CHUNKED,  /* chunked transfer coding */
    BODY_CLOSE,    /* until the connection closes (responses only) */
};

#define BODY_MAX_IOV      32   /* output pieces per body_transcode call */
#define BODY_SCRATCH      512  /* generated framing bytes per call */
#define BODY_MAX_LINE     4096 /* chunk-size line (with extensions) or trailer line */
#define BODY_MAX_TRAILERS 8192 /* whole trailer section */

/* Output of one body_transcode call: slices of the input and of scratch. */
struct body_out {
    struct iovec iov[BODY_MAX_IOV];
    int n;
    size_t bytes;               /* total of iov lengths */
    char scratch[BODY_SCRATCH]; /* chunk headers, CRLFs, final chunk */
    size_t used;
};

struct body_codec {
    enum body_framing in;  /* how the body arrives */
    enum body_framing out; /* how it is sent on */
    uint64_t left;         /* LENGTH: bytes still to come; CHUNKED: bytes left in this chunk */
    int state;             /* chunked decoder state (private) */
    size_t line;           /* bytes seen of the current size/trailer line */
    size_t trailer_bytes;  /* bytes of trailer section so far */
    uint64_t total;        /* body data bytes decoded so far */
    unsigned done : 1;     /* the body is complete; nothing more is consumed */
};

void body_out_reset(struct body_out *o);
/* in: the received framing with its length for BODY_LENGTH. out: BODY_LENGTH
 * (data passed as is; the caller already sent Content-Length; only with
 * BODY_LENGTH input), BODY_CHUNKED (re-chunked, trailers kept), BODY_CLOSE
 * (data only; trailers dropped), BODY_NONE (decoded and checked, nothing
 * emitted: a body to discard). c->done is set at once for BODY_NONE input
 * and for an empty BODY_LENGTH body, except when out is BODY_CHUNKED: then
 * the next body_transcode call (even with len 0) or body_eof sends
 * "0\r\n\r\n" and sets it. */
void body_init(struct body_codec *c, enum body_framing in, uint64_t len, enum body_framing out);
/* Consumes from in[0..len) and appends the re-encoded output to o. Returns
 * the bytes consumed: fewer than len when o is full, when the body ended (the
 * rest belongs to the next message), or when a chunk-size or trailer line is
 * incomplete (call again with more bytes; the unconsumed tail must be kept).
 * Returns -1 on malformed framing (the message must be rejected: 400 for a
 * request, 502 for a response).
 * Data slices in o point into in[]: write them before those bytes are moved
 * or overwritten. When fewer than len bytes are consumed and the body is not
 * done, send o and call again with a reset o; a call that consumes nothing
 * and emits nothing needs more input. A reset o always has room to progress;
 * body_transcode always leaves o room for body_eof's final framing. */
ssize_t body_transcode(struct body_codec *c, const char *in, size_t len, struct body_out *o);
/* The source reached EOF. Returns 0 when that ends the body properly
 * (BODY_CLOSE input, an empty BODY_LENGTH body, or already done), appending
 * the final framing to o ("0\r\n\r\n" when out is chunked and it was not
 * sent yet); -1 when the body is truncated. */
int body_eof(struct body_codec *c, struct body_out *o);

#endif
