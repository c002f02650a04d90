/* HTTP sessions, the glue to request shaping: a regenerated request head, or
 * the TLS ClientHello after a CONNECT, is planned by shape.c as the
 * destination's strategy says and sent by shape_exec.c; when it is all out,
 * the caller's then() goes on (with the request body, or the tunnel). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "http_int.h"
#include "metrics.h"
#include "shape.h"
#include "shape_exec.h"
#include "xbuf.h"

void
px_shape_free(struct px *p)
{
    if (p->r->shp == NULL)
        return;
    shape_exec_cancel(&p->r->shp->x);
    free(p->r->shp);
    p->r->shp = NULL;
}

static uint64_t px_rng; /* the worker's shaping generator; 0 until seeded */

static uint64_t *
px_rng_state(const struct config *cfg)
{
    if (px_rng == 0) {
        uint64_t seed = cfg->shape_seed;
        if (seed == 0 && getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
            seed = ((uint64_t)getpid() << 32) ^ (uint64_t)(ev_time() * 1e6);
        px_rng = seed != 0 ? seed : 1;
    }
    return &px_rng;
}

/* The shaped bytes are all out (or the socket failed). */
static void
px_shape_done(struct shape_exec *x, int err)
{
    struct px *p = x->data;
    px_then_cb then = p->r->shp->then;

    px_shape_free(p);
    then(p, err);
}

/* auto: the tries of this request, kept from its first try to its access
 * line (allocated only for requests whose destination's strategy is auto). */
void
px_auto_prepare(struct px *p)
{
    const struct config *cfg = p->s.env->cfg;

    if (p->r->au != NULL || config_shape_for(cfg, p->r->host) != SHAPE_AUTO)
        return;
    p->r->au = malloc(sizeof(*p->r->au));
    if (p->r->au != NULL)
        shape_auto_begin(p->r->au, cfg, p->r->host);
}

void
px_auto_free(struct px *p)
{
    free(p->r->au);
    p->r->au = NULL;
}

void
px_auto_lost(struct px *p)
{
    if (p->r->au != NULL && !p->r->resp_head && !shape_auto_more(p->r->au))
        shape_auto_failed(p->r->au, p->s.env->cfg);
}

double
px_response_wait(const struct px *p)
{
    const struct config *cfg = p->s.env->cfg;

    if (p->r->au != NULL && p->r->head_kept && shape_auto_more(p->r->au))
        return cfg->shape_auto_timeout;
    return cfg->response_timeout;
}

/* Plans the head flat[0..len) under pol: 0 planned, 1 nothing to do, -1
 * not possible (then sent as it is). */
static int
px_plan(struct px_shape *sh, const char *flat, size_t len, const struct config *cfg,
        const struct shape_policy *pol, size_t cap)
{
    if (shape_plan_size(len, pol) > cap)
        return -1;
    sh->plan.buf = sh->bytes + len;
    sh->plan.cap = cap;
    return shape_plan_flight(flat, len, pol, px_rng_state(cfg), &sh->plan);
}

/* The largest plan buffer the request may need: pol's, and with auto that
 * of every strategy it may go on to try. */
static size_t
px_plan_cap(const struct config *cfg, const struct px *p, const struct shape_policy *pol,
            size_t len)
{
    struct shape_policy other;
    size_t cap = shape_plan_size(len, pol), c;

    for (int i = 0; p->r->au != NULL && i < p->r->au->n; i++) {
        shape_policy_init(cfg, p->r->au->order[i], &other);
        if ((c = shape_plan_size(len, &other)) > cap)
            cap = c;
    }
    return cap;
}

/* Sends a regenerated head shaped as the destination's strategy says (for
 * auto: the try under way, skipping strategies that do nothing to it).
 * Returns 1 when the executor took over, 0 to send it plainly. */
int
px_shape_head(struct px *p, const struct http_out *out, px_then_cb then)
{
    const struct config *cfg = p->s.env->cfg;
    int st = p->r->au != NULL ? shape_auto_current(p->r->au) : config_shape_for(cfg, p->r->host),
        r = -1;
    struct shape_policy pol;
    struct px_shape *sh;
    size_t cap, off = 0;

    if (st == SHAPE_OFF && p->r->au == NULL)
        return 0;
    p->s.shape = (unsigned char)st;
    p->s.shape_tries++;
    metrics_shape(st);
    if (st == SHAPE_OFF || st == SHAPE_AUTO || (p->r->reused && !cfg->shape_reused))
        return 0;
    shape_policy_init(cfg, st, &pol); /* once per try: the default split pays it per request */
    cap = px_plan_cap(cfg, p, &pol, out->bytes);
    sh = malloc(sizeof(*sh) + out->bytes + cap);
    if (sh == NULL)
        return 0;
    for (int i = 0; i < out->n; i++) {
        memcpy(sh->bytes + off, out->iov[i].iov_base, out->iov[i].iov_len);
        off += out->iov[i].iov_len;
    }
    while ((r = px_plan(sh, sh->bytes, out->bytes, cfg, &pol, cap)) == 1 && p->r->au != NULL &&
           shape_auto_more(p->r->au)) {
        p->s.shape = (unsigned char)(st = shape_auto_next(p->r->au));
        shape_policy_init(cfg, st, &pol);
    }
    if (r != 0) {
        free(sh);
        return 0;
    }
    sh->then = then;
    p->r->shp = sh;
    r = shape_exec_start_now(&sh->x, &p->s.up->conn, &sh->plan, px_shape_done, p);
    if (r == 0)
        return 1;
    px_shape_free(p); /* it went out here (or failed): no then */
    return r > 0 ? 2 : -1;
}
