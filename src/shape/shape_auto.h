/* auto shaping. Being written. */
#ifndef WARPD_SHAPE_AUTO_H
#define WARPD_SHAPE_AUTO_H
#endif
