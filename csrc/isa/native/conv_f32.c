/* conv_f32.c compiled for the native variant (FDAFAST_NATIVE=1: -march=native,
   at the level the build machine reaches); see ../../isa.h. */
#define FDA_VARIANT FDA_NATIVE_ISA
#define FDA_VARIANT_NATIVE 1
#include "../../isa.h"
#include "../../conv_f32.c"
