/* The intakes, by mode: the one table that ties a configured mode to the
 * struct proto its sessions run (http/http_session.c, proto/proto_tcp.c). */
#include "proto.h"

#include <stddef.h>

#include "common.h"
#include "http_session.h"
#include "proto_tcp.h"

static const struct {
    enum cfg_mode mode;
    const struct proto *proto;
} intakes[] = {
    {MODE_FORWARD, &proto_http},
    {MODE_REVERSE, &proto_http},
    {MODE_TCP, &proto_tcp},
};

const struct proto *
proto_for_mode(enum cfg_mode mode)
{
    for (size_t i = 0; i < WD_ARRAY_SIZE(intakes); i++)
        if (intakes[i].mode == mode)
            return intakes[i].proto;
    return NULL;
}
