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
#include "shape.h"
#include "shape_exec.h"
#include "xbuf.h"

void
px_shape_free(struct px *p)
{
    if (p->shp == NULL)
        return;
    shape_exec_cancel(&p->shp->x);
    free(p->shp);
    p->shp = NULL;
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
    px_then_cb then = p->shp->then;

    px_shape_free(p);
    then(p, err);
}

/* Sends a regenerated head shaped as the destination's strategy says.
 * Returns 1 when the executor took over, 0 to send it plainly. */
int
px_shape_head(struct px *p, const struct http_out *out, px_then_cb then)
{
    const struct config *cfg = p->s.env->cfg;
    int strategy = config_shape_for(cfg, p->host);
    struct shape_policy pol;
    struct px_shape *sh;
    size_t cap, off = 0;

    if (strategy == SHAPE_OFF || (p->reused && !cfg->shape_reused))
        return 0;
    shape_policy_init(cfg, strategy, &pol);
    cap = shape_plan_size(out->bytes, &pol);
    sh = malloc(sizeof(*sh) + out->bytes + cap);
    if (sh == NULL)
        return 0;
    for (int i = 0; i < out->n; i++) {
        memcpy(sh->bytes + off, out->iov[i].iov_base, out->iov[i].iov_len);
        off += out->iov[i].iov_len;
    }
    sh->plan.buf = sh->bytes + out->bytes;
    sh->plan.cap = cap;
    if (shape_plan_request(sh->bytes, out->bytes, &pol, px_rng_state(cfg), &sh->plan) != 0) {
        free(sh);
        return 0;
    }
    sh->then = then;
    p->shp = sh;
    shape_exec_start(&sh->x, &p->s.up, &sh->plan, px_shape_done, p);
    return 1;
}

/* CONNECT to a TLS port: once the ClientHello record is complete, send it
 * split inside the SNI name, then relay. Anything else goes through as is. */
void
px_hello_try(struct px *p, px_then_cb then)
{
    const struct config *cfg = p->s.env->cfg;
    const unsigned char *d = (const unsigned char *)p->cin.data + p->cin.start;
    size_t len = xbuf_len(&p->cin), need;
    struct shape_policy pol;
    struct px_shape *sh;

    if (len == 0)
        return;
    if (d[0] != 0x16)
        goto plain; /* not a TLS handshake record */
    if (len < 5)
        return;
    need = 5 + ((size_t)d[3] << 8 | d[4]);
    if (need > p->cin.cap)
        goto plain; /* larger than we hold: let it through unshaped */
    if (len < need)
        return; /* the rest of the record is coming */
    shape_policy_init(cfg, config_shape_for(cfg, p->host), &pol);
    sh = malloc(sizeof(*sh) + len + 64);
    if (sh == NULL)
        goto plain;
    sh->plan.buf = sh->bytes;
    sh->plan.cap = len + 64;
    if (shape_plan_tls(p->cin.data + p->cin.start, len, &pol, &sh->plan) != 0) {
        free(sh);
        goto plain;
    }
    p->cin.start += (uint32_t)len;
    p->bytes_in += len;
    sh->then = then;
    p->shp = sh;
    conn_want_read(&p->s.client, 0);
    session_stop_timer(&p->s);
    shape_exec_start(&sh->x, &p->s.up, &sh->plan, px_shape_done, p);
    return;
plain:
    then(p, 0);
}
