/* conv_f64.c -- the double-precision instantiation of the kernel templates. */
#include <stdlib.h>
#include <string.h>

#include "fdafast.h"
#include "simd.h"
#include "twiddle.h"

#define REAL double
#define VL 8
#define SFX(name) name##_f64
typedef double V __attribute__((vector_size(FDA_VBYTES)));
typedef double UV __attribute__((vector_size(FDA_VBYTES), aligned(sizeof(double))));
typedef int64_t VI __attribute__((vector_size(FDA_VBYTES)));

/* Shuffle masks of the in-register VL x VL transpose (conv.inc), stage s
   swapping the off-diagonal blocks of size VL >> (s+1). */
#define LOGVL 3
static const VI tr_lo[LOGVL] = {{0, 1, 2, 3, 8, 9, 10, 11}, {0, 1, 8, 9, 4, 5, 12, 13}, {0, 8, 2, 10, 4, 12, 6, 14}};
static const VI tr_hi[LOGVL] = {{4, 5, 6, 7, 12, 13, 14, 15}, {2, 3, 10, 11, 6, 7, 14, 15}, {1, 9, 3, 11, 5, 13, 7, 15}};

#define STREAM(p, v) FDA_STREAM_F64(p, v)
#define STORE_N(p, v, n) FDA_STORE_N_F64(p, v, n)

#include "tile_fft.inc"
#include "conv.inc"
