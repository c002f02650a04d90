/* TCP mode: every client is relayed, bytes as they are, to the one
 * configured upstream. */
#ifndef WARPD_PROTO_TCP_H
#define WARPD_PROTO_TCP_H

#include "session.h"

extern const struct proto proto_tcp;

#endif
