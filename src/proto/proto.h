/* The intakes, by mode: which struct proto a worker gives its sessions. A
 * new intake is a new file and a row here (and its config). */
#ifndef WARPD_PROTO_H
#define WARPD_PROTO_H

#include "config.h"
#include "session.h"

/* The intake of a configuration's mode (forward with socks on: HTTP or
 * SOCKS by the first byte); never NULL for a mode config.c accepts. */
const struct proto *proto_for_config(const struct config *cfg);

#endif
