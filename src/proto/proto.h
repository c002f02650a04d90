/* The intakes, by mode: which struct proto a worker gives its sessions. A
 * new intake is a new file and a row here (and its config). */
#ifndef WARPD_PROTO_H
#define WARPD_PROTO_H

#include "config.h"
#include "session.h"

/* The intake of a mode; never NULL for a mode config.c accepts. */
const struct proto *proto_for_mode(enum cfg_mode mode);

#endif
