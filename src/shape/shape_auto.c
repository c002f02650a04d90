/* auto shaping. Being written. */
#include "shape_auto.h"
