/* The forward port with SOCKS on: a session starts by looking at the first
 * byte its client sends, then runs the HTTP proxy or SOCKS. */
#ifndef WARPD_PROTO_FORWARD_H
#define WARPD_PROTO_FORWARD_H

#include "session.h"

/* The intake; its size covers both intakes it may hand the session to. */
const struct proto *proto_forward(void);

#endif
