/* conv_f64.c -- the double-precision instantiation of the kernel templates
   (compiled once per instruction-set variant: csrc/isa/<variant>/). */
#include <stdlib.h>
#include <string.h>

#include "fdafast.h"
#include "simd.h"
#include "twiddle.h"

#define REAL double
#define VL (FDA_VBYTES / 8)
#define SFX(name) name##_f64
typedef double V __attribute__((vector_size(FDA_VBYTES)));
typedef double UV __attribute__((vector_size(FDA_VBYTES), aligned(sizeof(double))));
typedef int64_t VI __attribute__((vector_size(FDA_VBYTES)));

#define STREAM(p, v) FDA_STREAM_F64(p, v)
#define STORE_N(p, v, n) FDA_STORE_N_F64(p, v, n)

#include "tile_fft.inc"
#include "conv.inc"
