/* Transparent mode: connections the kernel redirected to warpd, relayed to
 * where they were going (see proto_transparent.c). */
#ifndef WARPD_PROTO_TRANSPARENT_H
#define WARPD_PROTO_TRANSPARENT_H

#include "session.h"

extern const struct proto proto_transparent;

#endif
