/* conv_f32.c -- the single-precision instantiation of the kernel templates
   (compiled once per instruction-set variant: csrc/isa/<variant>/). */
#include <stdlib.h>
#include <string.h>

#include "fdafast.h"
#include "simd.h"
#include "twiddle.h"

#define REAL float
#define VL (FDA_VBYTES / 4)
#define SFX(name) name##_f32
typedef float V __attribute__((vector_size(FDA_VBYTES)));
typedef float UV __attribute__((vector_size(FDA_VBYTES), aligned(sizeof(float))));
typedef int32_t VI __attribute__((vector_size(FDA_VBYTES)));

#define STREAM(p, v) FDA_STREAM_F32(p, v)
#define STORE_N(p, v, n) FDA_STORE_N_F32(p, v, n)

#include "tile_fft.inc"
#include "conv.inc"

/* Bytes per kernel vector of this variant (fda_lanes). */
int FDA_FN(fda_vbytes)(void) { return FDA_VBYTES; }
