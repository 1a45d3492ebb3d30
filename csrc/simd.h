/*
 * simd.h -- private helpers shared by the kernel files (not part of the API).
 *
 * The kernels are written once over a vector type V of VL lanes (GCC/Clang
 * vector extensions, FDA_VBYTES wide: one register of the variant being
 * compiled, see isa.h, which every kernel file includes first).  Lanes
 * always hold independent transforms (channels or tiles), never
 * neighbouring samples of one transform.
 */
#ifndef FDAFAST_SIMD_H
#define FDAFAST_SIMD_H

#include <stddef.h>
#include <stdint.h>

#include "isa.h"

#ifndef FDA_VBYTES
#error "include simd.h through a variant wrapper (csrc/isa/<variant>/*.c)"
#endif

#if defined(__SSE2__)
#include <immintrin.h>
#endif
#if defined(FDA_ARM_NEON)
#include <arm_neon.h>
#endif

#define FDA_INLINE static inline __attribute__((always_inline))
#define FDA_ALIGN 64
/* Output spectra larger than this (bytes) are written with streaming stores;
   smaller ones stay in the cache for the inverse FFTs that read them. */
#define FDA_STREAM_MIN_BYTES (8.0 * 1024 * 1024)
/* How far ahead the GEMM prefetches its weight stream (into L2). */
#ifndef FDA_PREFETCH_BYTES
#define FDA_PREFETCH_BYTES 131072
#endif
/* Largest FFT length along one axis, and largest tile volume. */
#define FDA_TMAX 64
#define FDA_TVOL_MAX 32768

/* Non-temporal (streaming) stores of whole 64-byte lines, for data that is
   written once and read back only after the rest of a phase: no
   read-for-ownership, no cache pollution.  Only where one vector is a whole
   line (AVX-512): narrower streaming stores of the same line come from
   different loop iterations, and partial lines leave the write-combining
   buffers as slow partial writes.  Plain stores elsewhere. */
#if defined(FDA_X86_AVX512)
#define FDA_STREAMS 1
#define FDA_STREAM_F32(p, v) _mm512_stream_ps((float *)(p), (__m512)(v))
#define FDA_STREAM_F64(p, v) _mm512_stream_pd((double *)(p), (__m512d)(v))
#define FDA_SFENCE() _mm_sfence()
/* store the first n (1..lanes) elements of a vector */
#define FDA_STORE_N_F32(p, v, n) \
    _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (__m512)(v))
#define FDA_STORE_N_F64(p, v, n) \
    _mm512_mask_storeu_pd((p), (__mmask8)((1u << (n)) - 1u), (__m512d)(v))
#else
#define FDA_STREAMS 0
#define FDA_STORE_N_F32(p, v, n) FDA_STORE_N_SCALAR(p, v, n)
#define FDA_STORE_N_F64(p, v, n) FDA_STORE_N_SCALAR(p, v, n)
#define FDA_STREAM_F32(p, v) (*(p) = (v))
#define FDA_STREAM_F64(p, v) (*(p) = (v))
#define FDA_SFENCE() __sync_synchronize()
#endif
#define FDA_STORE_N_SCALAR(p, v, n)                                   \
    do {                                                              \
        for (int64_t i_ = 0; i_ < (n); i_++) (p)[i_] = (v)[i_];       \
    } while (0)

/* Threads: OpenMP when the build found it, else a serial loop. */
#ifdef _OPENMP
#include <omp.h>
#define FDA_THREAD_ID() omp_get_thread_num()
#else
#define FDA_THREAD_ID() 0
#endif

/* Wall-clock seconds (for the optional phase timings). */
#ifdef _OPENMP
#define FDA_NOW() omp_get_wtime()
#else
#include <time.h>
FDA_INLINE double fda_now_serial(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
#define FDA_NOW() fda_now_serial()
#endif

FDA_INLINE int fda_is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

FDA_INLINE int fda_log2i(int64_t n)
{
    int l = 0;
    while ((INT64_C(1) << l) < n) l++;
    return l;
}

FDA_INLINE int64_t fda_round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

/* Multiplication that reports overflow instead of wrapping. */
FDA_INLINE int fda_mul_ok(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Status of an FFT tile: powers of two up to FDA_TMAX, volume up to
   FDA_TVOL_MAX, at least 2 along the last axis. */
static inline int fda_check_tile(const int64_t tile[3])
{
    int64_t vol = 1;
    for (int a = 0; a < 3; a++) {
        if (!fda_is_pow2(tile[a]) || tile[a] > FDA_TMAX) return FDA_ERR_TILE;
        vol *= tile[a];
    }
    if (vol > FDA_TVOL_MAX || tile[2] < 2) return FDA_ERR_TILE;
    return FDA_OK;
}

#endif /* FDAFAST_SIMD_H */
