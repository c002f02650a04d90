/* The shared auto-shaping table. Being written. */
#ifndef WARPD_AUTO_CACHE_H
#define WARPD_AUTO_CACHE_H
#endif
