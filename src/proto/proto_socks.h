/* SOCKS5 and SOCKS4/4a clients on the forward port (see proto_socks.c). */
#ifndef WARPD_PROTO_SOCKS_H
#define WARPD_PROTO_SOCKS_H

#include "session.h"

extern const struct proto proto_socks;

#endif
