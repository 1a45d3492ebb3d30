/*
 * fdafast.h -- the whole C API of fdafast's kernel layer.
 *
 * This header is the single source of the C interface: the .c files include
 * it and build.py hands the part between the cdef markers to cffi.  Every
 * exported symbol starts with fda_, every function returns an int status
 * (FDA_OK on success) and never writes outside the buffers it is given.
 *
 * Conventions
 * -----------
 * A convolution is described by fda_conv_geom.  2D convolutions are 3D ones
 * with depth 1 (in[0] == 1, tile[0] == 1, kernel extent 1 along depth).
 * Spatial axes are ordered (D, H, W), W fastest.
 *
 * The frequency-domain data live in "bin-major" split planes:
 *   X[bin][row][ci]  (real plane, then imaginary plane), row = (n, tile)
 *   W[bin][...]      the weight spectra, packed in column panels (conv.inc)
 *   Y[bin][row][co]
 * where bin runs over the Hermitian half spectrum (T0, T1, T2/2+1) in
 * row-major order, exactly the layout of numpy.fft.rfftn over the last
 * three axes.
 */
#ifndef FDAFAST_H
#define FDAFAST_H

#include <stdint.h>

/* cdef-begin */
#define FDA_OK 0
#define FDA_ERR_NULL 1
#define FDA_ERR_GEOMETRY 2
#define FDA_ERR_TILE 3
#define FDA_ERR_WORKSPACE 4
#define FDA_ERR_NOMEM 5
#define FDA_ERR_DTYPE 6
#define FDA_ERR_THREADS 7
#define FDA_ERR_ISA 8

/* Most stages fda_pipeline takes. */
#define FDA_MAX_STAGES 16

#define FDA_F32 0
#define FDA_F64 1

/* Geometry of one (possibly grouped, strided, padded) convolution. */
typedef struct {
    int64_t batch;       /* N */
    int64_t cin;         /* input channels (all groups) */
    int64_t cout;        /* output channels (all groups) */
    int64_t groups;      /* cin % groups == 0 and cout % groups == 0 */
    int64_t in[3];       /* input spatial size (D, H, W) */
    int64_t out[3];      /* output spatial size after stride */
    int64_t kext[3];     /* dilated kernel extent d*(k-1)+1 */
    int64_t pad[3];      /* zeros before the input (left/top/front) */
    int64_t stride[3];   /* output subsampling of the stride-1 result */
    int64_t tile[3];     /* FFT tile size T per axis, powers of two */
    int64_t ntiles[3];   /* tiles per axis; each yields T-kext+1 outputs */
    int64_t rows_per_chunk; /* (n, tile) rows processed together */
    int64_t nthreads;    /* >= 1 */
} fda_conv_geom;

/* Message for a status code; never NULL. */
const char *fda_strerror(int status);

/* Whether the library was built with OpenMP (1) or not (0). */
int fda_has_openmp(void);

/*
 * Instruction-set variants.  The kernels are compiled once per variant into
 * the same library; every fda_ kernel below runs the selected one.  Until
 * fda_isa_select is called the best variant this CPU and OS support is
 * selected (CPUID and XGETBV on x86-64, AT_HWCAP on Linux aarch64).
 * Selecting is meant to happen once, before kernels run (fdafast does it at
 * import); a kernel already running finishes in the variant it started in.
 */
#define FDA_ISA_BASELINE 0   /* x86-64 SSE2, or plain aarch64 */
#define FDA_ISA_AVX2 1       /* x86-64-v3: AVX2, FMA, BMI1/2, POPCNT, LZCNT, MOVBE, F16C */
#define FDA_ISA_AVX512 2     /* x86-64-v4 (AVX-512 F/BW/DQ/VL/CD) and AVX512-VPOPCNTDQ */
#define FDA_ISA_NEON 3       /* aarch64 Advanced SIMD */
#define FDA_ISA_COUNT 4

/* Name of a variant ("baseline", "avx2", "avx512", "neon"); "" if unknown. */
const char *fda_isa_name(int isa);
/* Whether the variant was compiled into this library (1) or not (0). */
int fda_isa_compiled(int isa);
/* Whether this CPU and OS can run the variant (1) or not (0), compiled in
   or not. */
int fda_isa_supported(int isa);
/* Select a variant: FDA_OK, or FDA_ERR_ISA (nothing changes) when it is not
   compiled in or this CPU and OS cannot run it. */
int fda_isa_select(int isa);
/* The selected variant. */
int fda_isa_current(void);
/* The compiler flags a compiled variant was built with; "" if not compiled. */
const char *fda_isa_flags(int isa);

/* SIMD lanes per kernel vector of the selected variant for a dtype
   (f32: 4 baseline/neon, 8 avx2, 16 avx512; f64 half as many). */
int fda_lanes(int dtype);

/* Columns per weight panel of the packed weight layout for a dtype (32 for
   f32, 16 for f64: 128 bytes, the same for every variant, so that packed
   spectra stay valid whichever variant runs them). */
int fda_panel_width(int dtype);

/* Number of scalars of workspace fda_conv_* needs for this geometry. */
int fda_conv_workspace(const fda_conv_geom *g, int dtype, int64_t *n_scalars);

/*
 * y = conv(x, w) + bias through tiled FFTs.
 *   x     (batch, cin, in[0], in[1], in[2]), C-contiguous
 *   wpk   the weight half-spectra, conjugated and scaled by 1/(T0*T1*T2),
 *         2*nbins*(cin/groups)*cout scalars packed per bin as described in
 *         conv.inc ("packed" layout; fdafast.conv.plan_spectra writes it)
 *   bias  (cout) or NULL
 *   y     (batch, cout, out[0], out[1], out[2]), C-contiguous
 *   work  at least fda_conv_workspace() scalars, 64-byte aligned
 *   phase_s  NULL, or 3 doubles that receive the wall seconds of the phases
 *         (gather + forward FFT, per-bin MAC, inverse FFT + scatter)
 * Lengths are passed so that the kernel can check them before writing.
 */
int fda_conv_f32(const fda_conv_geom *g, const float *x, int64_t x_len,
                 const float *wpk, int64_t w_len,
                 const float *bias, float *y, int64_t y_len,
                 float *work, int64_t work_len, double *phase_s);
int fda_conv_f64(const fda_conv_geom *g, const double *x, int64_t x_len,
                 const double *wpk, int64_t w_len,
                 const double *bias, double *y, int64_t y_len,
                 double *work, int64_t work_len, double *phase_s);

/*
 * The tile transforms alone, on a batch of tiles (for tests and benchmarks).
 * Forward: tiles (count, T0, T1, T2) real -> spectra (count, T0, T1, T2/2+1)
 * as split planes re, im (same layout as numpy.fft.rfftn over the last three
 * axes).  Inverse: the unnormalised inverse (numpy's irfftn times T0*T1*T2).
 */
int fda_tile_rfft_f32(const int64_t tile[3], int64_t count, const float *tiles,
                      float *re, float *im, int64_t nthreads);
int fda_tile_irfft_f32(const int64_t tile[3], int64_t count, const float *re,
                       const float *im, float *tiles, int64_t nthreads);
int fda_tile_rfft_f64(const int64_t tile[3], int64_t count, const double *tiles,
                      double *re, double *im, int64_t nthreads);
int fda_tile_irfft_f64(const int64_t tile[3], int64_t count, const double *re,
                       const double *im, double *tiles, int64_t nthreads);
/*
 * Crossbar emulation, ideal devices.  See fdafast/crossbar.py for the
 * semantics.  Cell levels are given as bit planes P (B, nblocks, cb, nw, ncols)
 * uint64: bit i of word w of plane p of column j is bit p of the level of
 * physical row 64*w + i of the block in column j.  Inputs are the integer
 * operands xr, xi (B, M, K); the kernel forms the rows' driven values
 * (rowpair: (Re x, -Im x) then (Im x, Re x); colpair: Re x then Im x) and
 * their two's complement bit planes.  Columns come in ngroups groups of N
 * (column j = g*N + n); group g feeds output route[q][g] with weight
 * (-1)^wneg[q][g] 2^wshift[q][g] in cycle q.  The ADC is the exact
 * multiply-shift code = min((S*adc_mul + adc_add) >> 32, adc_max).
 *
 * Real products (real = 1, fdafast.crossbar.matmul): one cycle (q = 0 only)
 * per input chunk, input channel k drives row k of its block with xr (the
 * colpair row layout: rowpair must be 0, cpb is the block's rows), columns
 * (set, slice) in ngroups = sets*slices groups, one output plane yre; xi and
 * yim are not read or written and may be NULL, route[1], wshift[1] and
 * wneg[1] are ignored, and the offset correction is D = -offset * sum_k xr.
 */
/* Limits of the crossbar kernels (fdafast/_native.py reads them from here). */
#define FDA_XBAR_MAX_GROUPS 128   /* column groups (set, slice[, part]) per weight */
#define FDA_XBAR_MAX_NW 64        /* 64-row words per row block: 4096 rows */
#define FDA_XBAR_MAX_BITS 16      /* input (and weight) bits */
typedef struct {
    int64_t B, M, K, N;       /* batch, input rows, channels, outputs */
    int64_t rowpair;          /* 1: rowpair PE, 0: colpair */
    int64_t real;             /* 1: real product (one cycle, see above), 0: complex */
    int64_t cpb;              /* channels per row block */
    int64_t nblocks, planes, nw, ngroups;
    int64_t input_bits, dac_bits;
    int64_t route[2][FDA_XBAR_MAX_GROUPS], wshift[2][FDA_XBAR_MAX_GROUPS];
    int64_t wneg[2][FDA_XBAR_MAX_GROUPS];
    int64_t adc_max, adc_mul, adc_add;
    int64_t offset;           /* 2^(weight_bits-1) for offset encoding, else 0 */
    int64_t n_out;            /* outputs written per row (<= N, which may be padded) */
    double step;              /* ADC step */
    /* where output (b, m, n) goes: element b*ys[0] + m*ys[1] + n*ys[2] of
       yre and yim, scaled by bs[b] * rs[m] * cs[n] (NULL: 1), in that order */
    int64_t ys[3];
    /* optional fast path (fda_xbar_has_fast32): P32 (B, nblocks, planes, nw32,
       ngroups*N) uint32 bit planes of 32-row words, N a multiple of 16, with
       code = min(trunc(fma_f32(S, adc_a, adc_b)), adc_max) exact for every
       column sum (checked by the caller), when adc_bits + input_bits <= 30 */
    float adc_a, adc_b;
    int64_t nw32;
    /* optional, fda_xbar_table only: the same ADC in 16-bit integer lanes,
       code = min((((S << k) * m >> 16) + c) >> j, adc_max) with adc16 =
       {k, m, c, j} (m = 0: not given), exact for every column sum (checked
       by the caller); the kernel takes it when no lane can wrap */
    int64_t adc16[4];
    int64_t nthreads;
} fda_xbar_desc;

/* y = (step*C + D) * rs * cs * bs, with C the exact integer code sums and D
   the offset correction, into the planes yre, yim of y_len elements each
   (yre only for a real product); every index is checked against y_len.
   P or P32 may be NULL (not both); with both, the variant takes the one it
   runs fastest. */
int fda_xbar_ideal(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                   int64_t x_len, const uint64_t *P, int64_t p_len, const uint32_t *P32,
                   int64_t p32_len, const double *rs, const double *cs, const double *bs,
                   double *yre, double *yim, int64_t y_len);

/*
 * The same products as fda_xbar_ideal through tables of level subset sums
 * (csrc/xbar_table.inc): weights as byte planes P8 (B, nblocks, planes, nw8,
 * ngroups*N) uint8 (fda_xbar_pack with word 8; nw8 = ceil(rows per block /
 * 8)), N a multiple of 32, planes <= 4, every column sum below 2^16,
 * adc_max 2^input_bits < 2^31, and the float32 ADC of the descriptor, code =
 * min(trunc(fma_f32(S, adc_a, adc_b)), adc_max), exact for every column sum
 * (checked by the caller, as for P32), or the 16-bit form adc16 where it is
 * given.  Gives fda_xbar_ideal's results bit for bit on every variant.
 */
int fda_xbar_table(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                   int64_t x_len, const uint8_t *P8, int64_t p8_len, const double *rs,
                   const double *cs, const double *bs, double *yre, double *yim,
                   int64_t y_len);

/*
 * Device non-idealities: conductances G (B, R, ngroups*N) float64 in
 * physical row order (rows_per_block per block; R = 2K rowpair, K colpair
 * and real), column sums added row by row in that order (multiply, then
 * add: no FMA), read noise read_sigma * normal(seed, 3, id) per conversion
 * (fdafast._rng; id = ((((b*M + m)*nblocks + block)*Q + q)*chunks + chunk)*
 * ngroups*N + column, Q = 2 cycles complex, 1 real),
 * code = clamp(floor(S/step + 1/2), 0, adc_max).  Uses d's B, M, K, N
 * (= n_out, unpadded), rowpair, real, cpb, ngroups, input_bits, dac_bits, route,
 * wshift, wneg, adc_max, offset, step, ys, nthreads; C's output as in
 * fda_xbar_ideal.
 */
int fda_xbar_float(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                   int64_t x_len, const double *G, int64_t g_len, double read_sigma,
                   uint64_t seed, const double *rs, const double *cs, const double *bs,
                   double *yre, double *yim, int64_t y_len);

/*
 * Bit planes of the cell levels of integer weights wr, wi (B, K, N) for
 * fda_xbar_ideal: out (B, nblocks, cell_bits, nw, ngroups*np) words of
 * `word` (8, 32 or 64) bits, zeroed by the caller; see
 * fdafast/_xbar.py (level_planes) for the layout.  sets is 2
 * (differential) or 1 (offset), slices the cells per magnitude.  wi NULL:
 * real weights (fda_xbar_desc.real), row k, groups (set, slice), ngroups =
 * sets*slices; rowpair must then be 0.
 */
int fda_xbar_pack(const int32_t *wr, const int32_t *wi, int64_t B, int64_t K, int64_t N,
                  int64_t rowpair, int64_t sets, int64_t slices, int64_t cell_bits,
                  int64_t weight_bits, int64_t rows_per_block, int64_t np, int64_t word,
                  void *out, int64_t out_words, int64_t nthreads);

/*
 * Split n float64 values (interleaved re, im when stride is 2) into int32
 * planes re, im (im written only when stride is 2), checking that every
 * value is an integer within [-limit, limit].  Returns FDA_OK, or
 * FDA_ERR_GEOMETRY with *bad set to the index of the first offending value
 * (in the interleaved array).
 */
int fda_split_int(const double *v, int64_t n, int64_t stride, int64_t limit, int32_t *re,
                  int32_t *im, int64_t *bad);

/* Whether the selected variant has the 32-bit fast path of fda_xbar_ideal
   (P32 planes and the float32 ADC: avx512).  Every variant accepts both P
   and P32; the others run P fastest (vector popcounts, the exact
   multiply-shift ADC in 32x32->64-bit products). */
int fda_xbar_has_fast32(void);
/*
 * Makespan (cycles) of nitems identical items through nstages pipeline
 * stages (1..FDA_MAX_STAGES): servers[s] units of service[s] cycles each,
 * capacity[s] buffered items after stage s (see schedule.c for the rules).
 * start: NULL, or nitems*nstages int64 (item-major) that receive every
 * start cycle; start_len its length.
 */
int fda_pipeline(int64_t nitems, int64_t nstages, const int64_t *service,
                 const int64_t *servers, const int64_t *capacity, int64_t *start,
                 int64_t start_len, int64_t *makespan);
/* cdef-end */

#endif /* FDAFAST_H */
