/* conv_f32.c compiled for the avx512 variant; see ../../isa.h. */
#define FDA_VARIANT FDA_ISA_AVX512
#include "../../isa.h"
#include "../../conv_f32.c"
