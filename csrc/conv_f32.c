/* conv_f32.c -- the single-precision instantiation of the kernel templates. */
#include <stdlib.h>
#include <string.h>

#include "fdafast.h"
#include "simd.h"
#include "twiddle.h"

#define REAL float
#define VL 16
#define SFX(name) name##_f32
typedef float V __attribute__((vector_size(FDA_VBYTES)));
typedef float UV __attribute__((vector_size(FDA_VBYTES), aligned(sizeof(float))));
typedef int32_t VI __attribute__((vector_size(FDA_VBYTES)));

/* Shuffle masks of the in-register VL x VL transpose (conv.inc), stage s
   swapping the off-diagonal blocks of size VL >> (s+1). */
#define LOGVL 4
static const VI tr_lo[LOGVL] = {{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23}, {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27}, {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29}, {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30}};
static const VI tr_hi[LOGVL] = {{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31}, {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31}, {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31}, {1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31}};

#define STREAM(p, v) FDA_STREAM_F32(p, v)
#define STORE_N(p, v, n) FDA_STORE_N_F32(p, v, n)

#include "tile_fft.inc"
#include "conv.inc"
