/*
 * crossbar.c -- bit-sliced crossbar emulation for ideal devices.
 *
 * Every column sum of a (row block, cycle, input chunk) is an integer below
 * 2^bits, so the sums of F = 64/bits columns share one uint64 word as bit
 * fields: adding a row's packed levels (times its DAC value) never carries
 * from one field into the next.  Eight words form a vector whose field p
 * holds eight consecutive columns, so the ADC (an exact multiply-shift, see
 * fda_xbar_desc) and the shift-and-add into the int64 accumulators run on
 * whole vectors.  Results are exact integers: identical for any thread
 * count, and identical to the Numba and loop references.
 */
#include <stdlib.h>
#include <string.h>

#include "fdafast.h"
#include "simd.h"

typedef uint64_t U8 __attribute__((vector_size(64)));
typedef int64_t I8 __attribute__((vector_size(64)));

static int xbar_check(const fda_xbar_desc *d, int64_t a_len, int64_t g_len,
                      int64_t c_len)
{
    if (d->B < 1 || d->M < 1 || d->R < 1 || d->N < 1 || d->np < d->N || d->np % 8 ||
        d->ngroups < 1 || d->ngroups > FDA_XBAR_MAX_GROUPS || d->bits < 1 ||
        d->bits > 64 || d->rows_per_block < 1 || d->chunks < 1 ||
        d->chunks > FDA_XBAR_MAX_CHUNKS || d->adc_max < 0)
        return FDA_ERR_GEOMETRY;
    if (d->nthreads < 1) return FDA_ERR_THREADS;
    const int64_t F = 64 / d->bits, ncols = d->ngroups * d->np;
    if (d->nwords != (ncols + 8 * F - 1) / (8 * F) * 8) return FDA_ERR_GEOMETRY;
    if (a_len != d->B * 2 * d->M * d->R || g_len != d->B * d->R * d->nwords ||
        c_len != d->B * d->M * 2 * d->N)
        return FDA_ERR_GEOMETRY;
    for (int q = 0; q < 2; q++)
        for (int64_t g = 0; g < d->ngroups; g++)
            if (d->route[q][g] < 0 || d->route[q][g] > 1 || d->wshift[q][g] < 0 ||
                d->wshift[q][g] > 62)
                return FDA_ERR_GEOMETRY;
    return FDA_OK;
}

/* Vectors of packed words handled together: their rows stay in L1 while all
   the cycles and chunks of an input row run over them. */
#define VT 4

/* Column sums of one (row block, cycle, chunk) for the vectors [v0, v0+nvt).
   Branch-free over the rows: DAC values are data, and a mispredicted
   branch per row costs more than the adds it would skip. */
static inline __attribute__((always_inline))
void column_sums(const fda_xbar_desc *d, const int32_t *a, const uint64_t *G,
                 int64_t r0, int64_t r1, int64_t c, int64_t v0, int nvt, U8 sp[VT])
{
    const uint64_t mask = (uint64_t)d->in_mask[c];
    const int64_t sh = d->in_shift[c];
    for (int t = 0; t < VT; t++) sp[t] = (U8){0};
    if (mask == 1) {                       /* one-bit chunks: add or not */
        for (int64_t r = r0; r < r1; r++) {
            const uint64_t sel = 0 - (((uint64_t)(int64_t)a[r] >> sh) & 1);
            const U8 *g = (const U8 *)(G + r * d->nwords) + v0;
#pragma GCC unroll 4
            for (int t = 0; t < VT; t++)
                if (t < nvt) sp[t] += g[t] & sel;
        }
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        const uint64_t u = ((uint64_t)(int64_t)a[r] >> sh) & mask;
        const U8 *g = (const U8 *)(G + r * d->nwords) + v0;
#pragma GCC unroll 4
        for (int t = 0; t < VT; t++)
            if (t < nvt) sp[t] += g[t] * u;
    }
}

/* ADC the packed column sums of vectors [v0, v0+nvt) and add the codes into
   acc[2][np]. */
static inline __attribute__((always_inline))
void convert_add(const fda_xbar_desc *d, const U8 sp[VT], int64_t v0, int nvt, int q,
                 int64_t c, int64_t *acc)
{
    const int64_t F = 64 / d->bits, ncols = d->ngroups * d->np;
    const uint64_t fmask = d->bits == 64 ? ~0ull : ((1ull << d->bits) - 1);
    const I8 amax = (I8){0} + d->adc_max;
    for (int t = 0; t < nvt; t++) {
        for (int64_t p = 0; p < F; p++) {
            const int64_t col = ((v0 + t) * F + p) * 8;
            if (col >= ncols) break;
            const int64_t g = col / d->np, n0 = col % d->np;
            const I8 s = (I8)((sp[t] >> (uint64_t)(d->bits * p)) & fmask);
            I8 code = (s * d->adc_mul + d->adc_add) >> 32;
            const I8 lt = code < amax;                 /* lane-wise min: -1 where below */
            code = (code & lt) | (amax & ~lt);
            const int64_t sh = d->sig_shift[c] + d->wshift[q][g];
            const int neg = (int)((d->sig_neg[c] + d->wneg[q][g]) & 1);
            I8 *dst = (I8 *)(acc + d->route[q][g] * d->np + n0);
            const I8 add = code << sh;
            /* acc rows are 64-byte aligned and n0 is a multiple of 8 */
            if (neg) *dst -= add;
            else *dst += add;
        }
    }
}

int fda_xbar_ideal(const fda_xbar_desc *d, const int32_t *A, int64_t a_len,
                   const uint64_t *Gp, int64_t g_len, int64_t *C, int64_t c_len)
{
    if (!d || !A || !Gp || !C) return FDA_ERR_NULL;
    int st = xbar_check(d, a_len, g_len, c_len);
    if (st) return st;
    const int64_t M = d->M, R = d->R, N = d->N, np = d->np;
    const int64_t nblocks = (R + d->rows_per_block - 1) / d->rows_per_block;
    const int64_t nv = d->nwords / 8;
    const size_t bytes = sizeof(uint64_t) * (size_t)(2 * np);
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads((int)d->nthreads) reduction(| : failed)
#endif
    {
        int64_t *acc = aligned_alloc(FDA_ALIGN, fda_round_up((int64_t)bytes, FDA_ALIGN));
        if (!acc) failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 16)
#endif
        for (int64_t bm = 0; bm < d->B * M; bm++) {
            if (!acc) continue;
            const int64_t bb = bm / M, m = bm % M;
            const uint64_t *G = Gp + bb * R * d->nwords;
            memset(acc, 0, sizeof(int64_t) * (size_t)(2 * np));
            for (int64_t b = 0; b < nblocks; b++) {
                const int64_t r0 = b * d->rows_per_block;
                const int64_t r1 = r0 + d->rows_per_block < R ? r0 + d->rows_per_block : R;
                for (int64_t v0 = 0; v0 < nv; v0 += VT) {
                    const int nvt = nv - v0 < VT ? (int)(nv - v0) : VT;
                    for (int q = 0; q < 2; q++) {
                        const int32_t *a = A + ((bb * 2 + q) * M + m) * R;
                        for (int64_t c = 0; c < d->chunks; c++) {
                            U8 sp[VT];
                            column_sums(d, a, G, r0, r1, c, v0, nvt, sp);
                            convert_add(d, sp, v0, nvt, q, c, acc);
                        }
                    }
                }
            }
            int64_t *out = C + bm * 2 * N;
            for (int t = 0; t < 2; t++)
                memcpy(out + t * N, acc + t * np, sizeof(int64_t) * (size_t)N);
        }
        free(acc);
    }
    return failed ? FDA_ERR_NOMEM : FDA_OK;
}
