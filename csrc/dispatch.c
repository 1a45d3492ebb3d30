/*
 * dispatch.c -- which instruction-set variant runs the kernels.
 *
 * The build compiles the kernels once per variant (isa.h) and defines
 * FDA_HAVE_<VARIANT> for each; FDA_NATIVE marks a -march=native build of one
 * variant.  Here: the table of each compiled variant, what the CPU and OS
 * support, the selection (best supported by default) and the public kernel
 * entry points, which forward to the selected table.
 */
#include <stddef.h>
#include <stdint.h>

#include "dispatch.h"
#include "isa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#ifdef FDA_NATIVE   /* one variant, at the level -march=native reaches */
#if FDA_NATIVE_ISA == FDA_ISA_AVX512
#define FDA_HAVE_AVX512 1
#elif FDA_NATIVE_ISA == FDA_ISA_AVX2
#define FDA_HAVE_AVX2 1
#elif FDA_NATIVE_ISA == FDA_ISA_NEON
#define FDA_HAVE_NEON 1
#else
#define FDA_HAVE_BASELINE 1
#endif
#endif

#ifndef FDA_CFLAGS
#define FDA_CFLAGS ""
#endif

#ifdef FDA_HAVE_BASELINE
FDA_DECLARE_KERNELS(baseline)
#endif
#ifdef FDA_HAVE_AVX2
FDA_DECLARE_KERNELS(avx2)
#endif
#ifdef FDA_HAVE_AVX512
FDA_DECLARE_KERNELS(avx512)
#endif
#ifdef FDA_HAVE_NEON
FDA_DECLARE_KERNELS(neon)
#endif

/* Compiled variants, lowest level first. */
static const fda_kernels variants[] = {
#ifdef FDA_HAVE_BASELINE
    FDA_KERNELS(baseline, FDA_ISA_BASELINE),
#endif
#ifdef FDA_HAVE_AVX2
    FDA_KERNELS(avx2, FDA_ISA_AVX2),
#endif
#ifdef FDA_HAVE_AVX512
    FDA_KERNELS(avx512, FDA_ISA_AVX512),
#endif
#ifdef FDA_HAVE_NEON
    FDA_KERNELS(neon, FDA_ISA_NEON),
#endif
};
#define NVARIANTS ((int)(sizeof variants / sizeof variants[0]))

static const char *const names[FDA_ISA_COUNT] = {"baseline", "avx2", "avx512", "neon"};
#ifdef FDA_NATIVE
static const char *const flags[FDA_ISA_COUNT] = {
    FDA_CFLAGS " -march=native", FDA_CFLAGS " -march=native",
    FDA_CFLAGS " -march=native", FDA_CFLAGS " -march=native"};
#else
static const char *const flags[FDA_ISA_COUNT] = {
    FDA_CFLAGS FDA_FLAGS_BASELINE, FDA_CFLAGS FDA_FLAGS_AVX2,
    FDA_CFLAGS FDA_FLAGS_AVX512, FDA_CFLAGS FDA_FLAGS_NEON};
#endif

static const fda_kernels *find(int isa)
{
    for (int v = 0; v < NVARIANTS; v++)
        if (variants[v].isa == isa) return &variants[v];
    return NULL;
}

/* ---- what this CPU and OS run ------------------------------------------ */

#if defined(__x86_64__)
/* The OS saves the register state an extension needs (XCR0 bits). */
static uint64_t xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int x86_level(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return FDA_ISA_BASELINE;
    const unsigned c1 = c;
    /* FMA 12, MOVBE 22, POPCNT 23, OSXSAVE 27, AVX 28, F16C 29 */
    const unsigned need1 = 1u << 12 | 1u << 22 | 1u << 23 | 1u << 27 | 1u << 28 | 1u << 29;
    if ((c1 & need1) != need1) return FDA_ISA_BASELINE;
    const uint64_t x = xcr0();
    if ((x & 0x6) != 0x6) return FDA_ISA_BASELINE;           /* XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return FDA_ISA_BASELINE;
    const unsigned b7 = b, c7 = c;
    if (!__get_cpuid(0x80000001, &a, &b, &c, &d) || !(c & 1u << 5))   /* LZCNT */
        return FDA_ISA_BASELINE;
    /* BMI1 3, AVX2 5, BMI2 8 */
    const unsigned avx2 = 1u << 3 | 1u << 5 | 1u << 8;
    if ((b7 & avx2) != avx2) return FDA_ISA_BASELINE;
    /* AVX512 F 16, DQ 17, CD 28, BW 30, VL 31; VPOPCNTDQ (ecx) 14;
       the OS saves opmask, ZMM_Hi256 and Hi16_ZMM (XCR0 bits 5-7) */
    const unsigned avx512 = 1u << 16 | 1u << 17 | 1u << 28 | 1u << 30 | 1u << 31;
    if ((b7 & avx512) == avx512 && (c7 & 1u << 14) && (x & 0xe0) == 0xe0)
        return FDA_ISA_AVX512;
    return FDA_ISA_AVX2;
}
#endif

/* Whether this CPU and OS run variant isa (compiled in or not). */
static int cpu_runs(int isa)
{
    if (isa == FDA_ISA_BASELINE) return 1;
#if defined(__x86_64__)
    if (isa == FDA_ISA_AVX2 || isa == FDA_ISA_AVX512) {
        static int level = -1;      /* CPUID is stable: ask once (a benign race) */
        if (level < 0) level = x86_level();
        return isa <= level;
    }
#endif
#if defined(__aarch64__)
    if (isa == FDA_ISA_NEON) {
#if defined(__linux__)
        return (getauxval(AT_HWCAP) & (1ul << 1)) != 0;     /* HWCAP_ASIMD */
#else
        return 1;                   /* Advanced SIMD is part of ARMv8-A */
#endif
    }
#endif
    return 0;
}

/* ---- selection ------------------------------------------------------------ */

static const fda_kernels *selected;   /* read and written atomically */

static const fda_kernels *best(void)
{
    for (int v = NVARIANTS - 1; v >= 0; v--)
        if (cpu_runs(variants[v].isa)) return &variants[v];
    return &variants[0];     /* a native build run elsewhere: all there is */
}

static const fda_kernels *kern(void)
{
    const fda_kernels *k = __atomic_load_n(&selected, __ATOMIC_ACQUIRE);
    if (!k) {
        k = best();
        __atomic_store_n(&selected, k, __ATOMIC_RELEASE);
    }
    return k;
}

const char *fda_isa_name(int isa)
{
    return isa >= 0 && isa < FDA_ISA_COUNT ? names[isa] : "";
}

int fda_isa_compiled(int isa) { return find(isa) != NULL; }

int fda_isa_supported(int isa) { return isa >= 0 && isa < FDA_ISA_COUNT && cpu_runs(isa); }

int fda_isa_select(int isa)
{
    if (!find(isa) || !cpu_runs(isa)) return FDA_ERR_ISA;
    __atomic_store_n(&selected, find(isa), __ATOMIC_RELEASE);
    return FDA_OK;
}

int fda_isa_current(void) { return kern()->isa; }

const char *fda_isa_flags(int isa)
{
    return find(isa) ? flags[isa] : "";
}

/* ---- the public kernels ---------------------------------------------------- */

int fda_lanes(int dtype)
{
    const int vb = kern()->vbytes();
    if (dtype == FDA_F32) return vb / (int)sizeof(float);
    if (dtype == FDA_F64) return vb / (int)sizeof(double);
    return -FDA_ERR_DTYPE;
}

int fda_panel_width(int dtype)
{
    if (dtype == FDA_F32) return FDA_PANEL_BYTES / (int)sizeof(float);
    if (dtype == FDA_F64) return FDA_PANEL_BYTES / (int)sizeof(double);
    return -FDA_ERR_DTYPE;
}

int fda_conv_workspace(const fda_conv_geom *g, int dtype, int64_t *n_scalars)
{
    if (dtype == FDA_F32) return kern()->conv_workspace_f32(g, n_scalars);
    if (dtype == FDA_F64) return kern()->conv_workspace_f64(g, n_scalars);
    return FDA_ERR_DTYPE;
}

int fda_conv_f32(const fda_conv_geom *g, const float *x, int64_t x_len, const float *wpk,
                 int64_t w_len, const float *bias, float *y, int64_t y_len, float *work,
                 int64_t work_len, double *phase_s)
{
    return kern()->conv_f32(g, x, x_len, wpk, w_len, bias, y, y_len, work, work_len, phase_s);
}

int fda_conv_f64(const fda_conv_geom *g, const double *x, int64_t x_len, const double *wpk,
                 int64_t w_len, const double *bias, double *y, int64_t y_len, double *work,
                 int64_t work_len, double *phase_s)
{
    return kern()->conv_f64(g, x, x_len, wpk, w_len, bias, y, y_len, work, work_len, phase_s);
}

int fda_tile_rfft_f32(const int64_t tile[3], int64_t count, const float *tiles, float *re,
                      float *im, int64_t nthreads)
{
    return kern()->tile_rfft_f32(tile, count, tiles, re, im, nthreads);
}

int fda_tile_irfft_f32(const int64_t tile[3], int64_t count, const float *re, const float *im,
                       float *tiles, int64_t nthreads)
{
    return kern()->tile_irfft_f32(tile, count, re, im, tiles, nthreads);
}

int fda_tile_rfft_f64(const int64_t tile[3], int64_t count, const double *tiles, double *re,
                      double *im, int64_t nthreads)
{
    return kern()->tile_rfft_f64(tile, count, tiles, re, im, nthreads);
}

int fda_tile_irfft_f64(const int64_t tile[3], int64_t count, const double *re,
                       const double *im, double *tiles, int64_t nthreads)
{
    return kern()->tile_irfft_f64(tile, count, re, im, tiles, nthreads);
}

int fda_xbar_ideal(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                   int64_t x_len, const uint64_t *P, int64_t p_len, const uint32_t *P32,
                   int64_t p32_len, const double *rs, const double *cs, const double *bs,
                   double *yre, double *yim, int64_t y_len)
{
    return kern()->xbar_ideal(d, xr, xi, x_len, P, p_len, P32, p32_len, rs, cs, bs, yre, yim,
                           y_len);
}

int fda_xbar_table(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                   int64_t x_len, const uint8_t *P8, int64_t p8_len, const double *rs,
                   const double *cs, const double *bs, double *yre, double *yim,
                   int64_t y_len)
{
    return kern()->xbar_table(d, xr, xi, x_len, P8, p8_len, rs, cs, bs, yre, yim, y_len);
}

int fda_xbar_float(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                   int64_t x_len, const double *G, int64_t g_len, double read_sigma,
                   uint64_t seed, const double *rs, const double *cs, const double *bs,
                   double *yre, double *yim, int64_t y_len)
{
    return kern()->xbar_float(d, xr, xi, x_len, G, g_len, read_sigma, seed, rs, cs, bs, yre, yim,
                           y_len);
}

int fda_xbar_pack(const int32_t *wr, const int32_t *wi, int64_t B, int64_t K, int64_t N,
                  int64_t rowpair, int64_t sets, int64_t slices, int64_t cell_bits,
                  int64_t weight_bits, int64_t rows_per_block, int64_t np, int64_t word,
                  void *out, int64_t out_words, int64_t nthreads)
{
    return kern()->xbar_pack(wr, wi, B, K, N, rowpair, sets, slices, cell_bits, weight_bits,
                          rows_per_block, np, word, out, out_words, nthreads);
}

int fda_split_int(const double *v, int64_t n, int64_t stride, int64_t limit, int32_t *re,
                  int32_t *im, int64_t *bad)
{
    return kern()->split_int(v, n, stride, limit, re, im, bad);
}

int fda_xbar_has_fast32(void) { return kern()->xbar_has_fast32(); }
