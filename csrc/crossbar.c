/*
 * crossbar.c -- bit-sliced crossbar emulation: the ideal-device kernel
 * (fda_xbar_ideal, popcounts over bit planes), the float kernel for device
 * non-idealities (fda_xbar_float), the bit-plane packing (fda_xbar_pack)
 * and the operand split (fda_split_int).  Compiled once per instruction-set
 * variant.
 *
 * With ideal devices a column sum is an integer:
 *   S = sum_rows u_r L_r = sum_{input bit i} sum_{plane p} 2^(i + p) popcount(in_i & lev_p)
 * where in_i is the row mask of bit i of the driven values (two's
 * complement) and lev_p the row mask of bit p of the column's cell levels.
 * The columns of a block go through the vector unit together (their level
 * planes are contiguous) with the variant's popcount (xbar_cols.inc), the
 * ADC is an exact multiply-shift (fda_xbar_desc), and the codes of a cycle
 * are shifted by their chunk significance and summed in registers before
 * the shift-and-add into the int64 accumulators.  Results are exact
 * integers, identical for any variant, any thread count and to the Numba
 * and loop references.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fdafast.h"
#include "simd.h"

/* Functions whose float results must match the references exactly opt out
   of the build's -ffp-contract=fast (no FMA contraction): GCC through the
   optimize attribute, Clang through its pragma. */
#if defined(__clang__)
#define FDA_NO_CONTRACT _Pragma("clang fp contract(off)")
#else
#define FDA_NO_CONTRACT
#endif

#define MAX_NW FDA_XBAR_MAX_NW
#define MAX_BITS FDA_XBAR_MAX_BITS

/* Cycles per input chunk: two for a complex product, one for a real one. */
static inline int xb_cycles(const fda_xbar_desc *d) { return d->real ? 1 : 2; }

/* The routing tables (of the cycles that run) and the output indexing every
   kernel relies on. */
/* Routes are 0 or 1; a weight shift is below the weight's bits (at most
   FDA_XBAR_MAX_BITS); and no int64 accumulator can overflow: every chunk's code,
   below adc_max + 1 <= 2^FDA_XBAR_MAX_BITS, shifted by its input bits and its
   group's shift, summed over the groups, cycles and row blocks (both outputs
   counted: an upper bound) stays below 2^62. */
static int check_routes(const fda_xbar_desc *d, int64_t nblocks)
{
    if (d->adc_max >= (1 << FDA_XBAR_MAX_BITS)) return FDA_ERR_GEOMETRY;
    double bound = 0.0;
    for (int q = 0; q < xb_cycles(d); q++)
        for (int64_t g = 0; g < d->ngroups; g++) {
            if (d->route[q][g] < 0 || d->route[q][g] > 1 || d->wshift[q][g] < 0 ||
                d->wshift[q][g] >= FDA_XBAR_MAX_BITS)
                return FDA_ERR_GEOMETRY;
            bound += ldexp((double)d->adc_max + 1.0, (int)(d->input_bits + d->wshift[q][g]));
        }
    return bound * (double)nblocks < 0x1p62 ? FDA_OK : FDA_ERR_GEOMETRY;
}

/* The largest output index (b, m, n < n_out) must fall inside y_len. */
static int check_output(const fda_xbar_desc *d, int64_t y_len)
{
    if (y_len < 1) return FDA_ERR_GEOMETRY;
    int64_t last = 0;
    const int64_t ext[3] = {d->B, d->M, d->n_out};
    for (int a = 0; a < 3; a++) {
        if (d->ys[a] < 0) return FDA_ERR_GEOMETRY;
        last += (ext[a] - 1) * d->ys[a];
    }
    return last < y_len ? FDA_OK : FDA_ERR_GEOMETRY;
}

static int xbar_check(const fda_xbar_desc *d, int64_t x_len, int64_t p_len, int64_t y_len)
{
    if (d->B < 1 || d->M < 1 || d->K < 1 || d->N < 1 || d->cpb < 1 || d->nblocks < 1 ||
        d->planes < 1 || d->planes > 8 || d->nw < 1 || d->nw > MAX_NW || d->ngroups < 1 ||
        d->ngroups > FDA_XBAR_MAX_GROUPS || d->input_bits < 2 ||
        d->input_bits > MAX_BITS || d->dac_bits < 1 || d->dac_bits >= d->input_bits ||
        d->adc_max < 0 || d->N % 8 || d->n_out < 1 || d->n_out > d->N || d->offset < 0 ||
        !(d->step >= 1.0) || (d->real != 0 && d->real != 1) || (d->real && d->rowpair))
        return FDA_ERR_GEOMETRY;
    if (d->nthreads < 1) return FDA_ERR_THREADS;
    const int64_t rows_pb = (d->rowpair ? 2 : 1) * d->cpb;
    if (d->nblocks != (d->K + d->cpb - 1) / d->cpb || d->nw != (rows_pb + 63) / 64)
        return FDA_ERR_GEOMETRY;
    const int64_t ncols = d->ngroups * d->N;
    if (x_len != d->B * d->M * d->K || p_len != d->B * d->nblocks * d->planes * d->nw * ncols)
        return FDA_ERR_GEOMETRY;
    const int st = check_output(d, y_len);
    return st ? st : check_routes(d, d->nblocks);
}

/* Row masks of the input bit planes of one input row and block:
   in[q][i][w], bit r%64 of word r/64 set when bit i of row r's value is
   (two's complement); cycle 0 only for a real product (xi not read).  With
   AVX-512BW (AVX2) and inputs of at most 8 bits, the rows' low bytes go
   through vpmovb2m (vpmovmskb): the sign bits of 64 (32) bytes at once, then
   bytes doubled (shifted left) for the next bit. */
static void input_planes(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                         int64_t k0, int64_t k1, uint64_t in[2][MAX_BITS][MAX_NW])
{
    const int ib = (int)d->input_bits, nq = xb_cycles(d);
    const int64_t nrows = (d->rowpair ? 2 : 1) * (k1 - k0);
#if defined(FDA_X86_AVX2)
    if (ib <= 8) {
        uint8_t vals[2][MAX_NW * 64] __attribute__((aligned(64)));
        const int64_t nw = (nrows + 63) / 64;
        for (int q = 0; q < nq; q++) memset(vals[q], 0, (size_t)(64 * nw));
        if (d->real)
            for (int64_t k = k0; k < k1; k++) vals[0][k - k0] = (uint8_t)xr[k];
        for (int64_t k = k0; k < k1 && !d->real; k++) {
            const int32_t re = xr[k], im = xi[k];
            if (d->rowpair) {
                const int64_t r = 2 * (k - k0);
                vals[0][r] = (uint8_t)re, vals[0][r + 1] = (uint8_t)-im;
                vals[1][r] = (uint8_t)im, vals[1][r + 1] = (uint8_t)re;
            } else {
                vals[0][k - k0] = (uint8_t)re, vals[1][k - k0] = (uint8_t)im;
            }
        }
        for (int q = 0; q < nq; q++)
            for (int64_t w = 0; w < d->nw; w++) {
                if (w >= nw) {
                    for (int i = 0; i < ib; i++) in[q][i][w] = 0;
                    continue;
                }
#if defined(FDA_X86_AVX512)
                __m512i v = _mm512_load_si512((const void *)(vals[q] + 64 * w));
                for (int i = 7; i >= 0; i--) {
                    if (i < ib) in[q][i][w] = (uint64_t)_mm512_movepi8_mask(v);
                    v = _mm512_add_epi8(v, v);
                }
#else
                __m256i v0 = _mm256_load_si256((const __m256i *)(vals[q] + 64 * w)),
                        v1 = _mm256_load_si256((const __m256i *)(vals[q] + 64 * w + 32));
                for (int i = 7; i >= 0; i--) {
                    if (i < ib)
                        in[q][i][w] = (uint64_t)(uint32_t)_mm256_movemask_epi8(v0) |
                                      (uint64_t)(uint32_t)_mm256_movemask_epi8(v1) << 32;
                    v0 = _mm256_add_epi8(v0, v0);
                    v1 = _mm256_add_epi8(v1, v1);
                }
#endif
            }
        return;
    }
#endif
    const uint64_t tc = (1ull << ib) - 1;
    for (int q = 0; q < nq; q++)
        for (int i = 0; i < ib; i++)
            for (int64_t w = 0; w < d->nw; w++) in[q][i][w] = 0;
    (void)nrows;
    if (d->real) {
        for (int64_t k = k0; k < k1; k++) {
            const uint64_t t = (uint64_t)(int64_t)xr[k] & tc;
            const int64_t r = k - k0, w = r >> 6;
            const uint64_t bit = 1ull << (r & 63);
            for (int i = 0; i < ib; i++) in[0][i][w] |= ((t >> i) & 1) ? bit : 0;
        }
        return;
    }
    for (int64_t k = k0; k < k1; k++) {
        const int64_t re = xr[k], im = xi[k];
        /* physical rows and their driven values in cycles 0 and 1 */
        int64_t r[2], v0[2], v1[2];
        int nr;
        if (d->rowpair) {
            nr = 2;
            r[0] = 2 * (k - k0), r[1] = r[0] + 1;
            v0[0] = re, v0[1] = -im;
            v1[0] = im, v1[1] = re;
        } else {
            nr = 1;
            r[0] = k - k0;
            v0[0] = re, v1[0] = im;
        }
        for (int j = 0; j < nr; j++) {
            const uint64_t t0 = (uint64_t)v0[j] & tc, t1 = (uint64_t)v1[j] & tc;
            const int64_t w = r[j] >> 6;
            const uint64_t bit = 1ull << (r[j] & 63);
            for (int i = 0; i < ib; i++) {
                in[0][i][w] |= ((t0 >> i) & 1) ? bit : 0;
                in[1][i][w] |= ((t1 >> i) & 1) ? bit : 0;
            }
        }
    }
}

#include "xbar_cols.inc"

/* One input row's outputs: y = (step*C + D) * rs * cs * bs, each product
   and sum rounded on its own (no FMA: this function opts out of the build's
   -ffp-contract=fast), so the C, Numba and reference paths agree bit for bit. */
__attribute__((optimize("fp-contract=off")))
static void write_row(const fda_xbar_desc *d, const int64_t *acc, int64_t N, int64_t n_out,
                      int64_t dre, int64_t dim, double sbm, double sb, const double *cs,
                      double *yre, double *yim, int64_t base)
{
    FDA_NO_CONTRACT
    const double step = d->step, fre = (double)dre, fim = (double)dim;
    const int64_t sn = d->ys[2];
    if (!cs && sbm == 1.0 && sb == 1.0) {
        /* no scales: the products by 1 change nothing (x * 1.0 == x exactly) */
        for (int64_t n = 0; n < n_out; n++) {
            yre[base + n * sn] = step * (double)acc[n] + fre;
            if (!d->real) yim[base + n * sn] = step * (double)acc[N + n] + fim;
        }
        return;
    }
    if (d->real) {                 /* one output plane */
        (void)N, (void)fim, (void)yim;
        for (int64_t n = 0; n < n_out; n++) {
            const double sc = cs ? cs[n] : 1.0;
            const double vr = step * (double)acc[n] + fre;
            yre[base + n * sn] = vr * sbm * sc * sb;
        }
        return;
    }
    for (int64_t n = 0; n < n_out; n++) {
        const double sc = cs ? cs[n] : 1.0;
        const double vr = step * (double)acc[n] + fre, vi = step * (double)acc[N + n] + fim;
        yre[base + n * sn] = vr * sbm * sc * sb;
        yim[base + n * sn] = vi * sbm * sc * sb;
    }
}

/* Exact digital offset correction of one input row (see crossbar.py). */
static void offset_terms(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                         int64_t *dre, int64_t *dim)
{
    int64_t sr = 0, si = 0;
    const int64_t off = d->offset;
    if (d->real) {
        for (int64_t k = 0; k < d->K; k++) sr += xr[k];
        *dre = -off * sr, *dim = 0;
        return;
    }
    for (int64_t k = 0; k < d->K; k++) {
        sr += xr[k];
        si += xi[k];
    }
    if (d->rowpair) {
        *dre = -off * (sr - si);
        *dim = -off * (si + sr);
    } else {
        *dre = -off * sr + off * si;
        *dim = -off * sr - off * si;
    }
}

int FDA_FN(fda_xbar_ideal)(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                   int64_t x_len, const uint64_t *P, int64_t p_len, const uint32_t *P32,
                   int64_t p32_len, const double *rs, const double *cs, const double *bs,
                   double *yre, double *yim, int64_t y_len)
{
    if (!d || !xr || (!xi && !d->real) || (!P && !P32) || !yre || (!yim && !d->real))
        return FDA_ERR_NULL;
    int st = xbar_check(d, x_len, P ? p_len : d->B * d->nblocks * d->planes * d->nw *
                                               d->ngroups * d->N, y_len);
    if (st) return st;
    /* the planes this variant runs: P32 where it prefers them (avx512), else P */
    const int use32 = P32 && (XB_PREFER32 || !P);
    if (use32 && (d->N % 16 || d->nw32 < 1 || 2 * d->nw < d->nw32 ||
                  d->nw32 != ((d->rowpair ? 2 : 1) * d->cpb + 31) / 32 ||
                  p32_len != d->B * d->nblocks * d->planes * d->nw32 * d->ngroups * d->N))
        return FDA_ERR_GEOMETRY;
    const int64_t M = d->M, K = d->K, N = d->N, ncols = d->ngroups * N;
    const int64_t blk = d->planes * (use32 ? d->nw32 : d->nw) * ncols;
    const size_t scratch_bytes = fda_round_up((int64_t)xb_scratch_bytes(d) + 1, FDA_ALIGN);
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads((int)d->nthreads) reduction(| : failed)
#endif
    {
        uint64_t(*in)[MAX_BITS][MAX_NW] = aligned_alloc(
            FDA_ALIGN, fda_round_up(sizeof(uint64_t) * 2 * MAX_BITS * MAX_NW, FDA_ALIGN));
        int64_t *acc = aligned_alloc(FDA_ALIGN, fda_round_up(sizeof(int64_t) * 2 * N, FDA_ALIGN));
        void *scratch = aligned_alloc(FDA_ALIGN, scratch_bytes);
        if (!in || !acc || !scratch) failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 32)
#endif
        for (int64_t bm = 0; bm < d->B * M; bm++) {
            if (!in || !acc || !scratch) continue;
            const int64_t bb = bm / M, m = bm % M;
            memset(acc, 0, sizeof(int64_t) * (size_t)(2 * N));
            for (int64_t b = 0; b < d->nblocks; b++) {
                const int64_t k0 = b * d->cpb, k1 = k0 + d->cpb < K ? k0 + d->cpb : K;
                const int64_t off = (bb * d->nblocks + b) * blk;
                input_planes(d, xr + bm * K, d->real ? NULL : xi + bm * K, k0, k1, in);
                xb_block(d, (const uint64_t(*)[MAX_BITS][MAX_NW])in, use32 ? NULL : P + off,
                         use32 ? P32 + off : NULL, ncols, acc, scratch);
            }
            int64_t dre, dim;
            offset_terms(d, xr + bm * K, d->real ? NULL : xi + bm * K, &dre, &dim);
            const double sbm = rs ? rs[m] : 1.0, sb = bs ? bs[bb] : 1.0;
            write_row(d, acc, N, d->n_out, dre, dim, sbm, sb, cs, yre, yim,
                      bb * d->ys[0] + m * d->ys[1]);
        }
        free(in);
        free(acc);
        free(scratch);
    }
    return failed ? FDA_ERR_NOMEM : FDA_OK;
}

/* ---- device non-idealities: float conductances --------------------------- */

/* fdafast._rng, bit for bit: splitmix64 hashing, Irwin-Hall normal. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline double rng_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
    const uint64_t g = 0x9E3779B97F4A7C15ull;
    const uint64_t h = mix64(mix64(mix64(seed + g) ^ stream) + index * g);
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

__attribute__((optimize("fp-contract=off")))
static double rng_normal(uint64_t seed, uint64_t stream, uint64_t index)
{
    FDA_NO_CONTRACT
    const uint64_t base = index * 12u;
    double acc = 0.0;
    for (uint64_t t = 0; t < 12; t++) acc = acc + rng_uniform(seed, stream, base + t);
    return acc - 6.0;
}

/* Driven integer of physical row r (of a block starting at channel k0) in cycle q
   (real products: q == 0, rowpair 0, row r = channel k0 + r). */
static inline int64_t row_value(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                                int64_t k0, int64_t r, int q)
{
    if (!d->rowpair) return q ? xi[k0 + r] : xr[k0 + r];
    const int64_t k = k0 + r / 2;
    if (q == 0) return (r & 1) ? -(int64_t)xi[k] : xr[k];
    return (r & 1) ? xr[k] : xi[k];
}

/* Column sums of one (block, cycle, chunk), in physical row order. */
__attribute__((optimize("fp-contract=off")))
static void float_column_sums(const double *G, int64_t ncols, const int64_t *u, int64_t nrows,
                              double *S)
{
    FDA_NO_CONTRACT
    for (int64_t j = 0; j < ncols; j++) S[j] = 0.0;
    for (int64_t r = 0; r < nrows; r++) {
        if (!u[r]) continue;                 /* adds an exact +0.0 */
        const double uf = (double)u[r];
        const double *g = G + r * ncols;
        for (int64_t j = 0; j < ncols; j++) S[j] = S[j] + uf * g[j];
    }
}

/* Read noise (if any) and the ADC of a row of column sums, into codes. */
__attribute__((optimize("fp-contract=off")))
static void float_codes(double *S, int64_t ncols, double read_sigma, uint64_t seed,
                        uint64_t conv0, double step, int64_t adc_max, int64_t *code)
{
    FDA_NO_CONTRACT
    if (read_sigma != 0.0)
        for (int64_t j = 0; j < ncols; j++) {
            const double noise = read_sigma * rng_normal(seed, 3, conv0 + (uint64_t)j);
            S[j] = S[j] + noise;
        }
    const double top = (double)adc_max;
    for (int64_t j = 0; j < ncols; j++) {
        double c = floor(S[j] / step + 0.5);
        c = c < 0.0 ? 0.0 : c;
        c = c > top ? top : c;
        code[j] = (int64_t)c;
    }
}

int FDA_FN(fda_xbar_float)(const fda_xbar_desc *d, const int32_t *xr, const int32_t *xi,
                   int64_t x_len, const double *G, int64_t g_len, double read_sigma,
                   uint64_t seed, const double *rs, const double *cs, const double *bs,
                   double *yre, double *yim, int64_t y_len)
{
    if (!d || !xr || (!xi && !d->real) || !G || !yre || (!yim && !d->real))
        return FDA_ERR_NULL;
    const int64_t M = d->M, K = d->K, N = d->N, ncols = d->ngroups * N;
    const int64_t rows_pb = (d->rowpair ? 2 : 1) * d->cpb;
    const int64_t R = (d->rowpair ? 2 : 1) * K;
    const int64_t nblocks = (K + d->cpb - 1) / d->cpb;
    if (d->B < 1 || M < 1 || K < 1 || N < 1 || d->cpb < 1 || d->ngroups < 1 ||
        d->ngroups > FDA_XBAR_MAX_GROUPS || d->input_bits < 2 || d->input_bits > MAX_BITS ||
        d->dac_bits < 1 || d->dac_bits >= d->input_bits || d->adc_max < 0 ||
        d->n_out != N || !(d->step >= 1.0) || !(read_sigma >= 0.0) || d->offset < 0 ||
        (d->real != 0 && d->real != 1) || (d->real && d->rowpair))
        return FDA_ERR_GEOMETRY;
    if (d->nthreads < 1) return FDA_ERR_THREADS;
    if (x_len != d->B * M * K || g_len != d->B * R * ncols) return FDA_ERR_GEOMETRY;
    int st = check_output(d, y_len);
    if (st || (st = check_routes(d, nblocks))) return st;
    const int ib = (int)d->input_bits, db = (int)d->dac_bits;
    const int nmag = (ib - 1 + db - 1) / db, chunks = nmag + 1, nq = xb_cycles(d);
    const uint64_t tc = (1ull << ib) - 1;
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads((int)d->nthreads) reduction(| : failed)
#endif
    {
        double *S = malloc(sizeof(double) * (size_t)ncols);
        int64_t *code = malloc(sizeof(int64_t) * (size_t)ncols);
        int64_t *acc = malloc(sizeof(int64_t) * (size_t)(2 * N));
        int64_t *u = malloc(sizeof(int64_t) * (size_t)rows_pb);
        if (!S || !code || !acc || !u) failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 4)
#endif
        for (int64_t bm = 0; bm < d->B * M; bm++) {
            if (!S || !code || !acc || !u) continue;
            const int64_t bb = bm / M, m = bm % M;
            const int32_t *a_r = xr + bm * K, *a_i = d->real ? NULL : xi + bm * K;
            memset(acc, 0, sizeof(int64_t) * (size_t)(2 * N));
            for (int64_t b = 0; b < nblocks; b++) {
                const int64_t k0 = b * d->cpb, k1 = k0 + d->cpb < K ? k0 + d->cpb : K;
                const int64_t nrows = (d->rowpair ? 2 : 1) * (k1 - k0);
                const double *Gb = G + (bb * R + (d->rowpair ? 2 : 1) * k0) * ncols;
                for (int q = 0; q < nq; q++)
                    for (int c = 0; c < chunks; c++) {
                        const int sign = c == nmag;
                        const int lo = sign ? ib - 1 : c * db;
                        const int hi = sign ? ib : (lo + db < ib - 1 ? lo + db : ib - 1);
                        const uint64_t mask = (1ull << (hi - lo)) - 1;
                        for (int64_t r = 0; r < nrows; r++)
                            u[r] = (int64_t)((((uint64_t)row_value(d, a_r, a_i, k0, r, q)) & tc)
                                             >> lo & mask);
                        float_column_sums(Gb, ncols, u, nrows, S);
                        const uint64_t conv0 =
                            (uint64_t)((((bm * nblocks + b) * nq + q) * chunks + c) * ncols);
                        float_codes(S, ncols, read_sigma, seed, conv0, d->step, d->adc_max,
                                    code);
                        for (int64_t g = 0; g < d->ngroups; g++) {
                            const int64_t sh = lo + d->wshift[q][g];
                            const int neg = sign ^ (int)d->wneg[q][g];
                            int64_t *dst = acc + d->route[q][g] * N;
                            const int64_t *cg = code + g * N;
                            if (neg)
                                for (int64_t n = 0; n < N; n++) dst[n] -= cg[n] << sh;
                            else
                                for (int64_t n = 0; n < N; n++) dst[n] += cg[n] << sh;
                        }
                    }
            }
            int64_t dre, dim;
            offset_terms(d, a_r, a_i, &dre, &dim);
            const double sbm = rs ? rs[m] : 1.0, sb = bs ? bs[bb] : 1.0;
            write_row(d, acc, N, N, dre, dim, sbm, sb, cs, yre, yim,
                      bb * d->ys[0] + m * d->ys[1]);
        }
        free(S);
        free(code);
        free(acc);
        free(u);
    }
    return failed ? FDA_ERR_NOMEM : FDA_OK;
}

/* ---- ideal devices through tables of level subset sums ------------------ */

#include "xbar_table.inc"

/* ---- weight bit planes --------------------------------------------------- */

int FDA_FN(fda_xbar_pack)(const int32_t *wr, const int32_t *wi, int64_t B, int64_t K, int64_t N,
                  int64_t rowpair, int64_t sets, int64_t slices, int64_t cell_bits,
                  int64_t weight_bits, int64_t rows_per_block, int64_t np, int64_t word,
                  void *out, int64_t out_words, int64_t nthreads)
{
    if (!wr || !out) return FDA_ERR_NULL;
    const int real = !wi;           /* real weights: one part, row k, groups (set, slice) */
    if (B < 1 || K < 1 || N < 1 || (sets != 1 && sets != 2) || slices < 1 || cell_bits < 1 ||
        cell_bits > 8 || weight_bits < 2 || weight_bits > 16 || rows_per_block < 1 ||
        np < N || (word != 8 && word != 32 && word != 64) || (real && rowpair))
        return FDA_ERR_GEOMETRY;
    if (nthreads < 1) return FDA_ERR_THREADS;
    const int64_t R = (rowpair ? 2 : 1) * K;
    const int64_t nblocks = (R + rows_per_block - 1) / rows_per_block;
    const int64_t nw = (rows_per_block + word - 1) / word;
    const int64_t ngroups = (rowpair || real ? 1 : 2) * sets * slices;
    const int nparts = real ? 1 : 2;
    const int64_t ncolsp = ngroups * np;
    if (out_words != B * nblocks * cell_bits * nw * ncolsp) return FDA_ERR_GEOMETRY;
    const int64_t lmax = (1 << cell_bits) - 1, off = (int64_t)1 << (weight_bits - 1);
    int failed = 0;
    /* threads over the batch only: more threads than items just wait */
    const int nt = (int)(nthreads < B ? nthreads : B);
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : failed)
#endif
    for (int64_t b = 0; b < B; b++) {
        uint8_t *lev = malloc((size_t)N);
        if (!lev) {
            failed = 1;
            continue;
        }
        for (int64_t k = 0; k < K; k++)
            for (int part = 0; part < nparts; part++) {
                const int32_t *w = (part ? wi : wr) + (b * K + k) * N;
                const int64_t r = rowpair ? 2 * k + part : k;
                const int64_t blk = r / rows_per_block, local = r % rows_per_block;
                const int64_t wd = local / word, bit = local % word;
                for (int64_t st = 0; st < sets; st++)
                    for (int64_t s = 0; s < slices; s++) {
                        const int64_t g = rowpair ? st * slices + s
                                                  : ((int64_t)part * sets + st) * slices + s;
                        for (int64_t n = 0; n < N; n++) {
                            const int64_t v = w[n];
                            const int64_t mag = sets == 1 ? v + off : (st == 0 ? (v > 0 ? v : 0)
                                                                               : (v < 0 ? -v : 0));
                            lev[n] = (uint8_t)((mag >> (s * cell_bits)) & lmax);
                        }
                        for (int64_t p = 0; p < cell_bits; p++) {
                            const int64_t base =
                                (((b * nblocks + blk) * cell_bits + p) * nw + wd) * ncolsp + g * np;
                            if (word == 64) {
                                uint64_t *o = (uint64_t *)out + base;
                                for (int64_t n = 0; n < N; n++)
                                    o[n] |= (uint64_t)((lev[n] >> p) & 1) << bit;
                            } else if (word == 8) {
                                uint8_t *o = (uint8_t *)out + base;
                                for (int64_t n = 0; n < N; n++)
                                    o[n] |= (uint8_t)(((lev[n] >> p) & 1) << bit);
                            } else {
                                uint32_t *o = (uint32_t *)out + base;
                                for (int64_t n = 0; n < N; n++)
                                    o[n] |= (uint32_t)((lev[n] >> p) & 1) << bit;
                            }
                        }
                    }
            }
        free(lev);
    }
    if (failed) return FDA_ERR_NOMEM;
    return FDA_OK;
}

/* ---- operands ------------------------------------------------------------ */

int FDA_FN(fda_split_int)(const double *v, int64_t n, int64_t stride, int64_t limit, int32_t *re,
                  int32_t *im, int64_t *bad)
{
    if (!v || !re || !bad || (stride == 2 && !im)) return FDA_ERR_NULL;
    if (n < 0 || (stride != 1 && stride != 2) || limit < 0 || limit > INT32_MAX)
        return FDA_ERR_GEOMETRY;
    const double lim = (double)limit;
    /* one branch-free pass (vectorized: a loop per stride); the rare offender
       is located afterwards */
    int ok = 1;
#define FDA_SPLIT_ONE(x, q)                                                                \
    do {                                                                                   \
        const double l_ = (x) > -lim ? (x) : -lim;   /* NaN: -lim (and ok = 0) */        \
        q = (int32_t)(l_ < lim ? l_ : lim);                                                \
        ok &= ((x) >= -lim) & ((x) <= lim) & ((double)q == (x));                           \
    } while (0)
    if (stride == 1) {
        for (int64_t i = 0; i < n; i++) {
            const double x = v[i];
            int32_t q;
            FDA_SPLIT_ONE(x, q);
            re[i] = q;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            const double x0 = v[2 * i], x1 = v[2 * i + 1];
            int32_t q0, q1;
            FDA_SPLIT_ONE(x0, q0);
            FDA_SPLIT_ONE(x1, q1);
            re[i] = q0;
            im[i] = q1;
        }
    }
#undef FDA_SPLIT_ONE
    if (ok) return FDA_OK;
    for (int64_t i = 0; i < n * stride; i++) {
        const double x = v[i];
        if (!(x >= -lim && x <= lim) || (double)(int32_t)x != x) {
            *bad = i;
            return FDA_ERR_GEOMETRY;
        }
    }
    return FDA_ERR_GEOMETRY;   /* unreachable */
}
