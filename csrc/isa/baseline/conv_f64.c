/* conv_f64.c compiled for the baseline variant; see ../../isa.h. */
#define FDA_VARIANT FDA_ISA_BASELINE
#include "../../isa.h"
#include "../../conv_f64.c"
