/* The intakes, by mode: the one table that ties a configured mode to the
 * struct proto its sessions run (http/http_session.c, proto/proto_tcp.c;
 * forward mode with socks on: proto/proto_forward.c, which hands each
 * session to HTTP or to SOCKS). */
#include "proto.h"

#include <stddef.h>

#include "common.h"
#include "http_session.h"
#include "proto_forward.h"
#include "proto_tcp.h"
#include "proto_transparent.h"

static const struct {
    enum cfg_mode mode;
    const struct proto *proto;
} intakes[] = {
    {MODE_FORWARD, &proto_http},
    {MODE_REVERSE, &proto_http},
    {MODE_TCP, &proto_tcp},
    {MODE_TRANSPARENT, &proto_transparent},
};

const struct proto *
proto_for_config(const struct config *cfg)
{
    if (cfg->mode == MODE_FORWARD && cfg->socks)
        return proto_forward();
    for (size_t i = 0; i < WD_ARRAY_SIZE(intakes); i++)
        if (intakes[i].mode == cfg->mode)
            return intakes[i].proto;
    return NULL;
}
