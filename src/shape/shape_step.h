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

#endif
