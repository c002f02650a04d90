/* Fake first pieces (an HTTP request, a TLS ClientHello). Being written. */
#include "shape.h"
