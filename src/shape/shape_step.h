/* Strategies as data: the position language (where to cut) and the steps of
 * a strategy (what to do there), parsed from the configuration's words and
 * read by the planner (shape.c). Plain data with no pointers: struct config
 * holds these, and is copied whole.
 *
 * Positions: "N" (byte N of the flight; "-N": N bytes before its end), or a
 * marker with an optional "+N"/"-N" offset:
 *   host     start of the name: the Host value in an HTTP head, the SNI name
 *            in a TLS ClientHello ("sni" is the same marker, so one strategy
 *            serves both);
 *   endhost  just after the name;
 *   sld      start of the second-level label of the name ("example" in
 *            "www.example.com"; the only label of a one-label name);
 *   midsld   middle of that label (its start + length / 2);
 *   method   start of the request method (HTTP only);
 *   eoh      end of the HTTP head (after the blank line); end of the first
 *            record of a ClientHello.
 * A position whose marker the bytes do not have (sni in something that is not
 * TLS, method in a ClientHello), or that lands outside [1, len-1], is dropped:
 * that cut alone is not made, the step's other cuts still are.
 *
 * Steps, "KIND" or "KIND:ARG":
 *   split:P[,P...]    cut into TCP segments at each position (multisplit)
 *   disorder:P[,P...] cut; the piece before each cut goes with IP TTL
 *                     shape_disorder_ttl (1) and dies at the first router
 *   fake:P[,P...]     cut; before the piece ending at each cut, a fake piece
 *                     of the same length goes with TTL shape_fake_ttl
 *   oob:P[,P...]      cut; one urgent (MSG_OOB) byte ends the piece before it
 *   disoob:P[,P...]   oob and disorder on the same piece
 *   tlsrec:P[,P...]   re-frame the ClientHello's first record into several
 *                     records at those positions (TLS only)
 *   tlsminor:N        the record layer's version minor byte (0-255) (TLS only)
 *   hostcase          "host:" instead of "Host:" (HTTP only)
 *   domcase           random letter case in the Host value (HTTP only)
 *   hostdot           a trailing dot after the Host value (HTTP only)
 *   hosttab           a tab instead of the space after "Host:" (HTTP only)
 *   nospace           no space after "Host:" (HTTP only)
 *   methodspace       a second space after the method (HTTP only)
 *   pad:N             about N bytes of dummy header lines after the request
 *                     line (HTTP only)
 *   warp              WARP's dribble, with the shape_* warp settings (HTTP;
 *                     on TLS it is the split of tls_split)
 * A step that does not apply to the bytes at hand does nothing. */
#ifndef WARPD_SHAPE_STEP_H
#define WARPD_SHAPE_STEP_H

#include <stddef.h>
#include <stdint.h>

#define SHAPE_STEP_POS       8  /* positions in one step */
#define SHAPE_MAX_STEPS      16 /* steps in one strategy */
#define SHAPE_NAME_MAX       32 /* bytes of a strategy name, with the NUL */
#define SHAPE_PAD_MAX        16384
#define SHAPE_POS_OFFSET_MAX 65535

enum shape_mark {
    SHAPE_MARK_ABS = 0,
    SHAPE_MARK_HOST, /* also spelled "sni" */
    SHAPE_MARK_ENDHOST,
    SHAPE_MARK_SLD,
    SHAPE_MARK_MIDSLD,
    SHAPE_MARK_METHOD,
    SHAPE_MARK_EOH,
};

struct shape_pos {
    int8_t mark; /* enum shape_mark */
    int32_t off; /* added to the marker; for ABS, negative counts from the end */
};

enum shape_step_kind {
    STEP_SPLIT = 1,
    STEP_DISORDER,
    STEP_FAKE,
    STEP_OOB,
    STEP_DISOOB,
    STEP_TLSREC,
    STEP_TLSMINOR,
    STEP_HOSTCASE,
    STEP_DOMCASE,
    STEP_HOSTDOT,
    STEP_HOSTTAB,
    STEP_NOSPACE,
    STEP_METHODSPACE,
    STEP_PAD,
    STEP_WARP,
};

struct shape_step {
    uint8_t kind; /* enum shape_step_kind */
    uint8_t npos; /* positions used in pos[] */
    int32_t arg;  /* tlsminor: the byte; pad: bytes */
    struct shape_pos pos[SHAPE_STEP_POS];
};

struct shape_strategy {
    char name[SHAPE_NAME_MAX];
    int nstep;
    struct shape_step step[SHAPE_MAX_STEPS];
};

/* One position from text ("host+1", "-1", "midsld", "5"). Returns 0, or -1
 * with a short reason in err. */
int shape_pos_parse(const char *text, size_t len, struct shape_pos *pos, char *err, size_t errlen);
/* A position as the configuration spells it, into out[cap]. */
void shape_pos_format(const struct shape_pos *pos, char *out, size_t cap);
/* One step from one word ("disorder:sni+1", "hostdot", "pad:4096").
 * Returns 0, or -1 with a short reason in err naming what is wrong. */
int shape_step_parse(const char *word, struct shape_step *step, char *err, size_t errlen);
/* A step as the configuration spells it, into out[cap]. */
void shape_step_format(const struct shape_step *step, char *out, size_t cap);

/* The markers of one flight, found by shape_pos_marks. A flight is an HTTP
 * head (a request line "METHOD SP ... SP HTTP/1.x" CRLF, fields, the blank
 * line; bytes after it are a body) or a TLS handshake record (0x16 0x03,
 * complete); anything else has no marker and only absolute positions. */
enum shape_flight {
    SHAPE_FLIGHT_OTHER = 0,
    SHAPE_FLIGHT_HTTP,
    SHAPE_FLIGHT_TLS,
};

#define SHAPE_NOMARK SIZE_MAX /* a marker the flight does not have */

struct shape_marks {
    int kind;   /* enum shape_flight */
    size_t len; /* the flight's length */
    /* Offset of each marker (index enum shape_mark; at[ABS] is 0), or
     * SHAPE_NOMARK. host/endhost/sld/midsld are there only when the head has
     * exactly one Host field with a non-empty value, or the hello a
     * server_name; "the name" is the Host value without its ":port" (an
     * IPv6 literal keeps its brackets), sld and midsld ignore one trailing
     * dot of the name. */
    size_t at[SHAPE_MARK_EOH + 1];
    /* HTTP only (else 0): */
    size_t method_end; /* the SP after the method */
    size_t rl_end;     /* just after the request line's CRLF */
    size_t field_off;  /* the Host field's name; SHAPE_NOMARK when at[HOST] is */
    size_t colon;      /* the Host field's colon */
    size_t value_end;  /* the end of the Host value, port included */
};

/* Finds the markers of data[0..len) (see struct shape_marks). Returns m->kind. */
int shape_pos_marks(const char *data, size_t len, struct shape_marks *m);
/* Resolves a position against a flight's markers: 0 with the byte offset in
 * *at, or -1 when the marker is absent or the offset falls outside
 * [1, len - 1] (that cut is dropped). "N" counts from the start, "-N" back
 * from the end; a marker adds its offset. */
int shape_pos_resolve(const struct shape_pos *pos, const struct shape_marks *m, size_t *at);

#endif
