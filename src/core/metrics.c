/* The workers' counters in shared memory (see metrics.h for the rules): one
 * mapping holding the supervisor's counters and METRICS_SLOTS worker slots,
 * made before the first fork so that every worker of every generation
 * writes into the same pages. The hot path is METRIC_INC on metrics_self;
 * the few helpers here only pick which field. */
#include "metrics.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

struct metrics_map {
    struct metrics_sup sup;
    struct metrics_slot slot[METRICS_SLOTS];
};

static struct metrics_slot own;    /* counts here until attached */
static struct metrics_sup own_sup; /* the supervisor's, without a mapping */
static struct metrics_map *map;    /* NULL: no shared mapping */
struct metrics_slot *metrics_self = &own;

int
metrics_create(void)
{
    void *p;

    if (map != NULL)
        return 0;
    p = mmap(NULL, sizeof(*map), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    map = p; /* anonymous pages come zeroed */
    return 0;
}

int
metrics_shared(void)
{
    return map != NULL;
}

void
metrics_attach(int idx)
{
    if (map == NULL || idx < 0 || idx >= METRICS_SLOTS)
        return;
    metrics_self = &map->slot[idx];
    /* The previous owner was reaped; its gauges were zeroed then, but a
     * slot is only ever trusted from its owner's side. */
    memset(metrics_self->active, 0, sizeof(metrics_self->active));
}

void
metrics_retire(int idx)
{
    if (map == NULL || idx < 0 || idx >= METRICS_SLOTS)
        return;
    memset(map->slot[idx].active, 0, sizeof(map->slot[idx].active));
}

void
metrics_intake(unsigned char *cur, int intake)
{
    if (*cur == intake || intake < 0 || intake >= METRICS_NINTAKES)
        return;
    if (*cur != METRICS_INTAKE_NONE)
        metrics_self->active[*cur]--;
    if (intake != METRICS_INTAKE_NONE) {
        metrics_self->active[intake]++;
        metrics_self->sessions[intake]++;
    }
    *cur = (unsigned char)intake;
}

void
metrics_request(int status, uint64_t in, uint64_t out)
{
    int c = status / 100;

    metrics_self->requests[c >= 1 && c <= 5 ? c : 0]++;
    metrics_self->bytes_from_client += in;
    metrics_self->bytes_to_client += out;
}

void
metrics_bytes(uint64_t in, uint64_t out)
{
    metrics_self->bytes_from_client += in;
    metrics_self->bytes_to_client += out;
}

void
metrics_connect_failed(int err)
{
    if (err == ECONNREFUSED)
        metrics_self->up_fail_refused++;
    else if (err == ETIMEDOUT)
        metrics_self->up_fail_timeout++;
    else
        metrics_self->up_fail_other++;
}

void
metrics_shape(int strategy)
{
    if (strategy >= 0 && strategy < METRICS_STRATEGIES)
        metrics_self->shape_uses[strategy]++;
}

void
metrics_auto_try(int strategy)
{
    if (strategy >= 0 && strategy < METRICS_STRATEGIES)
        metrics_self->auto_tries[strategy]++;
}

void
metrics_auto_win(int strategy)
{
    if (strategy >= 0 && strategy < METRICS_STRATEGIES)
        metrics_self->auto_wins[strategy]++;
}

/* Adds every counter of a slot to out: the struct is 64-bit words only, so
 * it is summed as an array of them. The source is read through a volatile
 * pointer so that each word is loaded once, whole, from the shared page. */
static void
slot_add(struct metrics_slot *out, const struct metrics_slot *in)
{
    const volatile uint64_t *src = (const volatile uint64_t *)in;
    uint64_t *dst = (uint64_t *)out;

    for (size_t i = 0; i < sizeof(*in) / sizeof(uint64_t); i++)
        dst[i] += src[i];
}

void
metrics_sum(struct metrics_slot *out)
{
    memset(out, 0, sizeof(*out));
    if (map == NULL) {
        slot_add(out, &own);
        return;
    }
    for (int i = 0; i < METRICS_SLOTS; i++)
        slot_add(out, &map->slot[i]);
}

void
metrics_read(int idx, struct metrics_slot *out)
{
    memset(out, 0, sizeof(*out));
    if (map != NULL && idx >= 0 && idx < METRICS_SLOTS)
        slot_add(out, &map->slot[idx]);
}

struct metrics_sup *
metrics_sup(void)
{
    return map != NULL ? &map->sup : &own_sup;
}
