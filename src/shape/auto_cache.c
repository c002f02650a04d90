/* The shared auto-shaping table. Being written. */
#include "auto_cache.h"
