/* crossbar.c compiled for the neon variant; see ../../isa.h. */
#define FDA_VARIANT FDA_ISA_NEON
#include "../../isa.h"
#include "../../crossbar.c"
