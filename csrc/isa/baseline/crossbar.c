/* crossbar.c compiled for the baseline variant; see ../../isa.h. */
#define FDA_VARIANT FDA_ISA_BASELINE
#include "../../isa.h"
#include "../../crossbar.c"
