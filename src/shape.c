/* Request shaping, the planning half (see shape.h): turns a request head or a
 * TLS ClientHello into segments and pauses. Work in progress: the real
 * planner follows; until then every call declines to shape. */
#include "shape.h"

uint64_t
shape_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

size_t
shape_plan_size(size_t head_len, const struct shape_policy *pol)
{
    (void)pol;
    return head_len + 64;
}

int
shape_plan_request(const char *head, size_t len, const struct shape_policy *pol, uint64_t *rng,
                   struct shape_plan *plan)
{
    (void)head, (void)len, (void)pol, (void)rng, (void)plan;
    return -1;
}

int
shape_plan_tls(const char *data, size_t len, const struct shape_policy *pol,
               struct shape_plan *plan)
{
    (void)data, (void)len, (void)pol, (void)plan;
    return 1;
}
