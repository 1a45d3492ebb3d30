/*
 * xvariant.c -- the C kernels of every instruction-set variant this CPU runs,
 * against the baseline variant and against loop references, on random
 * inputs (tests/test_isa.py builds it natively and, cross-compiled for
 * aarch64, runs it under qemu-user; it links the library's own sources).
 *
 *   crossbar: fda_xbar_pack, fda_xbar_ideal (64- and 32-bit planes, exact and
 *             quantizing ADCs, rowpair, colpair and real products, 1- and
 *             2-bit DACs), fda_xbar_table (byte planes; float32 and 16-bit
 *             ADCs) against fda_xbar_ideal,
 *             fda_xbar_float and fda_split_int: bit for bit; with an ADC
 *             that cannot clip, fda_xbar_ideal equals the integer product;
 *   floats:   fda_tile_rfft/irfft and fda_conv (f32, f64) within tolerance,
 *             and fda_conv against a direct convolution.
 *
 * Prints one line per check and "xvariant: ok" at the end; exit status 0
 * when every check passed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdafast.h"

static int failures;
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t rnd_int(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }
static double rnd_unit(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0) - 0.5; }

static void check(int ok, const char *what, const char *isa)
{
    printf("%-6s %-9s %s\n", ok ? "ok" : "FAILED", isa, what);
    if (!ok) failures++;
}

static void *zalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memset(p, 0, n);
    return p;
}

static int select_isa(int isa)
{
    if (fda_isa_select(isa) != FDA_OK) {
        fprintf(stderr, "cannot select %s\n", fda_isa_name(isa));
        exit(2);
    }
    return isa;
}

/* ---- crossbar ---------------------------------------------------------------- */

typedef struct {
    int64_t M, K, N, rowpair, cpb, cell_bits, weight_bits, input_bits, dac_bits;
    double step;             /* 1: an ADC that cannot clip (exact) */
    int word;                /* 64, or 32 for the P32 layout */
    int real;                /* 1: a real product (xi, wi, yim unused: NULL) */
} xcase;

/* The descriptor of a differential (2-set) layout, as fdafast/crossbar.py fills it. */
static void xbar_desc(const xcase *c, fda_xbar_desc *d, int64_t *np_out, int64_t *slices_out)
{
    const int64_t slices = (c->weight_bits - 1 + c->cell_bits - 1) / c->cell_bits;
    const int64_t sets = 2, ngroups = (c->rowpair || c->real ? 1 : 2) * sets * slices;
    const int64_t rows = (c->rowpair ? 2 : 1) * c->cpb, np = (c->N + 15) / 16 * 16;
    memset(d, 0, sizeof *d);
    d->B = 1, d->M = c->M, d->K = c->K, d->N = np, d->rowpair = c->rowpair, d->cpb = c->cpb;
    d->real = c->real;
    d->nblocks = (c->K + c->cpb - 1) / c->cpb, d->planes = c->cell_bits, d->nw = (rows + 63) / 64;
    d->nw32 = (rows + 31) / 32, d->ngroups = ngroups;
    d->input_bits = c->input_bits, d->dac_bits = c->dac_bits;
    for (int64_t g = 0; g < ngroups; g++) {
        const int64_t part = g / (sets * slices), set = (g / slices) % sets, s = g % slices;
        d->wshift[0][g] = d->wshift[1][g] = s * c->cell_bits;
        if (c->real) {                  /* one cycle; row 1 of the tables is ignored */
            d->route[0][g] = 0, d->wneg[0][g] = set;
            d->route[1][g] = -7, d->wshift[1][g] = -7;
        } else if (c->rowpair) {
            d->route[0][g] = 0, d->route[1][g] = 1;
            d->wneg[0][g] = d->wneg[1][g] = set;
        } else {
            d->route[0][g] = part, d->route[1][g] = 1 - part;
            d->wneg[0][g] = set, d->wneg[1][g] = set ^ part;
        }
    }
    const int64_t smax = rows * ((1 << c->dac_bits) - 1) * ((1 << c->cell_bits) - 1);
    if (c->step == 1.0) {
        d->adc_max = smax, d->adc_mul = INT64_C(1) << 32;
    } else {
        d->adc_max = 63, d->adc_mul = (int64_t)llround(4294967296.0 / c->step);
    }
    d->adc_add = INT64_C(1) << 31, d->step = c->step, d->n_out = c->N;
    d->ys[0] = c->M * c->N, d->ys[1] = c->N, d->ys[2] = 1, d->nthreads = 2;
    /* the float32 ADC of the P32 path (avx512): trunc(S/4 + 1/2) equals the
       multiply-shift exactly for the P32 case's step of 4 */
    d->adc_a = (float)(1.0 / c->step), d->adc_b = 0.5f;
    *np_out = np, *slices_out = slices;
}

static void crossbar_case(const xcase *c, const char *name)
{
    fda_xbar_desc d;
    int64_t np, slices;
    xbar_desc(c, &d, &np, &slices);
    const int64_t M = c->M, K = c->K, N = c->N, ncols = d.ngroups * np;
    const int64_t wmax = (INT64_C(1) << (c->weight_bits - 1)) - 1;
    const int64_t xmax = (INT64_C(1) << (c->input_bits - 1)) - 1;
    int32_t *wr = zalloc(4 * K * N), *wi = zalloc(4 * K * N);
    int32_t *xr = zalloc(4 * M * K), *xi = zalloc(4 * M * K);
    for (int64_t i = 0; i < K * N; i++) wr[i] = (int32_t)rnd_int(-wmax, wmax), wi[i] = (int32_t)rnd_int(-wmax, wmax);
    for (int64_t i = 0; i < M * K; i++) xr[i] = (int32_t)rnd_int(-xmax, xmax), xi[i] = (int32_t)rnd_int(-xmax, xmax);
    const int64_t rows = (c->rowpair ? 2 : 1) * c->cpb;
    const int64_t nw = c->word == 64 ? d.nw : d.nw32;
    const int64_t plen = d.nblocks * d.planes * nw * ncols;
    double *ref_re = NULL, *ref_im = NULL;
    void *ref_p = NULL;
    for (int isa = 0; isa < FDA_ISA_COUNT; isa++) {
        if (!fda_isa_compiled(isa) || !fda_isa_supported(isa)) continue;
        select_isa(isa);
        void *P = zalloc((size_t)plen * (size_t)(c->word / 8));
        double *yre = zalloc(8 * M * N), *yim = zalloc(8 * M * N);
        int st = fda_xbar_pack(wr, c->real ? NULL : wi, 1, K, N, c->rowpair, 2, slices,
                               c->cell_bits, c->weight_bits, rows, np, c->word, P, plen, 2);
        st = st ? st : fda_xbar_ideal(&d, xr, c->real ? NULL : xi, M * K,
                                      c->word == 64 ? P : NULL, plen, c->word == 32 ? P : NULL,
                                      plen, NULL, NULL, NULL, yre, c->real ? NULL : yim, M * N);
        char what[160];
        snprintf(what, sizeof what, "crossbar %s: status %d", name, st);
        check(st == FDA_OK, what, fda_isa_name(isa));
        if (!ref_re) {
            ref_re = yre, ref_im = yim, ref_p = P;
            if (c->step == 1.0) {       /* an ADC that cannot clip: the exact product */
                int ok = 1;
                for (int64_t m = 0; m < M; m++)
                    for (int64_t n = 0; n < N; n++) {
                        int64_t sr = 0, si = 0;
                        for (int64_t k = 0; k < K; k++) {
                            const int64_t a = xr[m * K + k], b = c->real ? 0 : xi[m * K + k];
                            sr += a * wr[k * N + n] - b * wi[k * N + n];
                            si += a * wi[k * N + n] + b * wr[k * N + n];
                        }
                        ok &= yre[m * N + n] == (double)sr &&
                              (c->real || yim[m * N + n] == (double)si);
                    }
                snprintf(what, sizeof what, "crossbar %s equals the integer product", name);
                check(ok, what, fda_isa_name(isa));
            }
            continue;
        }
        snprintf(what, sizeof what, "crossbar %s: planes and outputs bit for bit", name);
        check(!memcmp(P, ref_p, (size_t)plen * (size_t)(c->word / 8)) &&
                  !memcmp(yre, ref_re, 8 * (size_t)(M * N)) &&
                  !memcmp(yim, ref_im, 8 * (size_t)(M * N)),
              what, fda_isa_name(isa));
        free(P), free(yre), free(yim);
    }
    free(ref_re), free(ref_im), free(ref_p), free(wr), free(wi), free(xr), free(xi);
}

/* layout: 1 rowpair, 0 colpair, 2 real */
/* fda_xbar_table on byte planes against fda_xbar_ideal on 64-bit planes, in
   every variant, and across variants (power-of-two steps, whose float32 ADC
   is exact), with its float32 ADC and with its 16-bit one: S << 1 times 2^15
   gives t = S, and (S + step/2) >> log2(step) = floor(S/step + 1/2). */
static void crossbar_table_case(const xcase *c, const char *name)
{
    fda_xbar_desc d;
    int64_t np, slices;
    xbar_desc(c, &d, &np, &slices);
    np = (c->N + 31) / 32 * 32;
    d.N = np;
    const int64_t M = c->M, K = c->K, N = c->N, ncols = d.ngroups * np;
    const int64_t wmax = (INT64_C(1) << (c->weight_bits - 1)) - 1;
    const int64_t xmax = (INT64_C(1) << (c->input_bits - 1)) - 1;
    int32_t *wr = zalloc(4 * K * N), *wi = zalloc(4 * K * N);
    int32_t *xr = zalloc(4 * M * K), *xi = zalloc(4 * M * K);
    for (int64_t i = 0; i < K * N; i++) wr[i] = (int32_t)rnd_int(-wmax, wmax), wi[i] = (int32_t)rnd_int(-wmax, wmax);
    for (int64_t i = 0; i < M * K; i++) xr[i] = (int32_t)rnd_int(-xmax, xmax), xi[i] = (int32_t)rnd_int(-xmax, xmax);
    const int64_t rows = (c->rowpair ? 2 : 1) * c->cpb;
    const int64_t plen = d.nblocks * d.planes * d.nw * ncols;
    const int64_t p8len = d.nblocks * d.planes * ((rows + 7) / 8) * ncols;
    const int32_t *xin = c->real ? NULL : xi, *win = c->real ? NULL : wi;
    double *ref = NULL;
    for (int isa = 0; isa < FDA_ISA_COUNT; isa++) {
        if (!fda_isa_compiled(isa) || !fda_isa_supported(isa)) continue;
        select_isa(isa);
        uint64_t *P = zalloc(8 * (size_t)plen);
        uint8_t *P8 = zalloc((size_t)p8len);
        double *y = zalloc(48 * M * N), *y8 = y + 2 * M * N, *y16 = y + 4 * M * N;
        int st = fda_xbar_pack(wr, win, 1, K, N, c->rowpair, 2, slices, c->cell_bits,
                               c->weight_bits, rows, np, 64, P, plen, 2);
        st = st ? st : fda_xbar_pack(wr, win, 1, K, N, c->rowpair, 2, slices, c->cell_bits,
                                     c->weight_bits, rows, np, 8, P8, p8len, 2);
        st = st ? st : fda_xbar_ideal(&d, xr, xin, M * K, P, plen, NULL, 0, NULL, NULL, NULL, y,
                                      c->real ? NULL : y + M * N, M * N);
        st = st ? st : fda_xbar_table(&d, xr, xin, M * K, P8, p8len, NULL, NULL, NULL, y8,
                                      c->real ? NULL : y8 + M * N, M * N);
        fda_xbar_desc d16 = d;
        const int64_t j = c->step == 4.0 ? 2 : c->step == 2.0 ? 1 : 0;
        d16.adc16[0] = 1, d16.adc16[1] = 1 << 15, d16.adc16[2] = (1 << j) / 2, d16.adc16[3] = j;
        st = st ? st : fda_xbar_table(&d16, xr, xin, M * K, P8, p8len, NULL, NULL, NULL, y16,
                                      c->real ? NULL : y16 + M * N, M * N);
        char what[160];
        snprintf(what, sizeof what, "crossbar table %s equals the popcount kernel", name);
        check(st == FDA_OK && !memcmp(y, y8, 8 * (size_t)(2 * M * N)) &&
                  (!ref || !memcmp(y8, ref, 8 * (size_t)(2 * M * N))),
              what, fda_isa_name(isa));
        snprintf(what, sizeof what, "crossbar table %s, 16-bit ADC, equals the popcount kernel",
                 name);
        check(st == FDA_OK && !memcmp(y, y16, 8 * (size_t)(2 * M * N)), what,
              fda_isa_name(isa));
        free(P), free(P8);
        if (!ref) ref = y;
        else free(y);
    }
    free(ref), free(wr), free(wi), free(xr), free(xi);
}

static void crossbar_float_case(int layout)
{
    const int rowpair = layout == 1, real = layout == 2;
    xcase c = {29, 70, 13, rowpair, 24, 2, 6, 6, 1, 2.5, 64, real};
    fda_xbar_desc d;
    int64_t np, slices;
    xbar_desc(&c, &d, &np, &slices);
    d.N = d.n_out = c.N;                 /* the float kernel takes N unpadded */
    const int64_t ncols = d.ngroups * c.N, R = (rowpair ? 2 : 1) * c.K;
    double *G = zalloc(8 * R * ncols);
    int32_t *xr = zalloc(4 * c.M * c.K), *xi = zalloc(4 * c.M * c.K);
    for (int64_t i = 0; i < R * ncols; i++) G[i] = (double)rnd_int(0, 3) + 0.05 * rnd_unit();
    for (int64_t i = 0; i < c.M * c.K; i++) xr[i] = (int32_t)rnd_int(-31, 31), xi[i] = (int32_t)rnd_int(-31, 31);
    double *ref = NULL;
    for (int isa = 0; isa < FDA_ISA_COUNT; isa++) {
        if (!fda_isa_compiled(isa) || !fda_isa_supported(isa)) continue;
        select_isa(isa);
        double *y = zalloc(16 * c.M * c.N);
        const int st = fda_xbar_float(&d, xr, real ? NULL : xi, c.M * c.K, G, R * ncols, 0.3,
                                      12345, NULL, NULL, NULL, y, real ? NULL : y + c.M * c.N,
                                      c.M * c.N);
        check(st == FDA_OK && (!ref || !memcmp(y, ref, 16 * (size_t)(c.M * c.N))),
              real ? "crossbar float real bit for bit"
                   : rowpair ? "crossbar float rowpair bit for bit"
                             : "crossbar float colpair bit for bit",
              fda_isa_name(isa));
        if (!ref) ref = y;
        else free(y);
    }
    free(ref), free(G), free(xr), free(xi);
}

static void split_int_case(void)
{
    const int64_t n = 1001;
    double *v = zalloc(16 * n);
    for (int64_t i = 0; i < 2 * n; i++) v[i] = (double)rnd_int(-1000, 1000);
    int32_t *ref = NULL;
    for (int isa = 0; isa < FDA_ISA_COUNT; isa++) {
        if (!fda_isa_compiled(isa) || !fda_isa_supported(isa)) continue;
        select_isa(isa);
        int32_t *out = zalloc(8 * n);
        int64_t bad = -1;
        int st = fda_split_int(v, n, 2, 1000, out, out + n, &bad);
        v[777] = 0.5;
        const int st_bad = fda_split_int(v, n, 2, 1000, out + 2 * 0, out + n, &bad);
        v[777] = 7.0;
        st = st ? st : fda_split_int(v, n, 2, 1000, out, out + n, &bad);
        check(st == FDA_OK && st_bad == FDA_ERR_GEOMETRY && bad == 777 &&
                  (!ref || !memcmp(out, ref, 8 * (size_t)n)),
              "split_int", fda_isa_name(isa));
        if (!ref) ref = out;
        else free(out);
    }
    free(ref), free(v);
}

/* ---- tile FFTs and convolutions ------------------------------------------------ */

static double max_abs(const double *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* Largest |a - b| relative to the largest |b|. */
static double rel_err(const double *a, const double *b, int64_t n)
{
    double e = 0;
    for (int64_t i = 0; i < n; i++) e = fabs(a[i] - b[i]) > e ? fabs(a[i] - b[i]) : e;
    const double s = max_abs(b, n);
    return s > 0 ? e / s : e;
}

static void tile_fft_case(const int64_t tile[3], int64_t count)
{
    const int64_t vol = tile[0] * tile[1] * tile[2], nb = tile[0] * tile[1] * (tile[2] / 2 + 1);
    double *x = zalloc(8 * count * vol), *dft = zalloc(16 * count * nb);
    for (int64_t i = 0; i < count * vol; i++) x[i] = rnd_unit();
    /* the DFT taken literally, forward exp(-2 pi i jk/N) over the three axes */
    const double tau = 6.283185307179586476925;
    for (int64_t t = 0; t < count; t++)
        for (int64_t b = 0; b < nb; b++) {
            const int64_t k2 = b % (tile[2] / 2 + 1), k1 = (b / (tile[2] / 2 + 1)) % tile[1],
                          k0 = b / ((tile[2] / 2 + 1) * tile[1]);
            double re = 0, im = 0;
            for (int64_t j = 0; j < vol; j++) {
                const int64_t j2 = j % tile[2], j1 = (j / tile[2]) % tile[1], j0 = j / (tile[2] * tile[1]);
                const double ph = -tau * ((double)(k0 * j0) / tile[0] + (double)(k1 * j1) / tile[1] +
                                          (double)(k2 * j2) / tile[2]);
                re += x[t * vol + j] * cos(ph), im += x[t * vol + j] * sin(ph);
            }
            dft[t * nb + b] = re, dft[count * nb + t * nb + b] = im;
        }
    for (int isa = 0; isa < FDA_ISA_COUNT; isa++) {
        if (!fda_isa_compiled(isa) || !fda_isa_supported(isa)) continue;
        select_isa(isa);
        float *xf = zalloc(4 * count * vol), *sf = zalloc(8 * count * nb), *bf = zalloc(4 * count * vol);
        double *s64 = zalloc(16 * count * nb), *b64 = zalloc(8 * count * vol), *sd = zalloc(16 * count * nb);
        for (int64_t i = 0; i < count * vol; i++) xf[i] = (float)x[i];
        int st = fda_tile_rfft_f32(tile, count, xf, sf, sf + count * nb, 2);
        st = st ? st : fda_tile_irfft_f32(tile, count, sf, sf + count * nb, bf, 2);
        st = st ? st : fda_tile_rfft_f64(tile, count, x, s64, s64 + count * nb, 2);
        st = st ? st : fda_tile_irfft_f64(tile, count, s64, s64 + count * nb, b64, 2);
        for (int64_t i = 0; i < 2 * count * nb; i++) sd[i] = sf[i];
        double *back32 = zalloc(8 * count * vol);
        for (int64_t i = 0; i < count * vol; i++) back32[i] = bf[i] / (double)vol, b64[i] /= (double)vol;
        char what[96];
        snprintf(what, sizeof what, "tile fft %lldx%lldx%lld x%lld (f32, f64, round trips)",
                 (long long)tile[0], (long long)tile[1], (long long)tile[2], (long long)count);
        check(st == FDA_OK && rel_err(sd, dft, 2 * count * nb) < 2e-6 &&
                  rel_err(s64, dft, 2 * count * nb) < 1e-12 &&
                  rel_err(back32, x, count * vol) < 2e-6 && rel_err(b64, x, count * vol) < 1e-12,
              what, fda_isa_name(isa));
        free(xf), free(sf), free(bf), free(s64), free(b64), free(sd), free(back32);
    }
    free(x), free(dft);
}

typedef struct {
    int64_t batch, cin, cout, groups, in[3], k[3], pad[3], stride[3], tile[3], chunk;
} ccase;

static void conv_geom(const ccase *c, fda_conv_geom *g)
{
    memset(g, 0, sizeof *g);
    g->batch = c->batch, g->cin = c->cin, g->cout = c->cout, g->groups = c->groups;
    g->rows_per_chunk = c->chunk, g->nthreads = 2;
    for (int a = 0; a < 3; a++) {
        g->in[a] = c->in[a], g->kext[a] = c->k[a], g->pad[a] = c->pad[a];
        g->stride[a] = c->stride[a], g->tile[a] = c->tile[a];
        g->out[a] = (c->in[a] + 2 * c->pad[a] - c->k[a]) / c->stride[a] + 1;
        const int64_t L = c->tile[a] - c->k[a] + 1, need = (g->out[a] - 1) * c->stride[a] + 1;
        g->ntiles[a] = (need + L - 1) / L;
    }
}

/* Packed weight spectra (conv.inc's layout, panels of pwmax columns) from the
   f64 tile transform. */
static double *pack_weights(const ccase *c, const double *w, int64_t pwmax, int64_t *len)
{
    const int64_t cig = c->cin / c->groups, cog = c->cout / c->groups;
    const int64_t vol = c->tile[0] * c->tile[1] * c->tile[2];
    const int64_t nb = c->tile[0] * c->tile[1] * (c->tile[2] / 2 + 1), nk = c->cout * cig;
    const int64_t kvol = c->k[0] * c->k[1] * c->k[2];
    double *blk = zalloc(8 * nk * vol), *re = zalloc(8 * nk * nb), *im = zalloc(8 * nk * nb);
    for (int64_t j = 0; j < nk; j++)
        for (int64_t t = 0; t < kvol; t++) {
            const int64_t t2 = t % c->k[2], t1 = (t / c->k[2]) % c->k[1], t0 = t / (c->k[2] * c->k[1]);
            blk[j * vol + (t0 * c->tile[1] + t1) * c->tile[2] + t2] = w[j * kvol + t];
        }
    fda_tile_rfft_f64(c->tile, nk, blk, re, im, 2);
    *len = 2 * nb * cig * c->cout;
    double *out = zalloc(8 * *len);
    for (int64_t b = 0; b < nb; b++) {
        double *ob = out + b * 2 * cig * c->cout;
        for (int64_t g = 0; g < c->groups; g++)
            for (int64_t j0 = 0; j0 < cog; j0 += pwmax) {
                const int64_t pw = cog - j0 < pwmax ? cog - j0 : pwmax, col = g * cog + j0;
                double *p = ob + col * cig * 2;
                for (int64_t k = 0; k < cig; k++)
                    for (int64_t j = 0; j < pw; j++) {
                        const int64_t src = ((col + j) * cig + k) * nb + b;
                        p[k * 2 * pw + j] = re[src] / (double)vol;
                        p[k * 2 * pw + pw + j] = -im[src] / (double)vol;
                    }
            }
    }
    free(blk), free(re), free(im);
    return out;
}

static void conv_case(const ccase *c, const char *name)
{
    fda_conv_geom g;
    conv_geom(c, &g);
    const int64_t cig = c->cin / c->groups, cog = c->cout / c->groups;
    const int64_t kvol = c->k[0] * c->k[1] * c->k[2];
    const int64_t xlen = c->batch * c->cin * c->in[0] * c->in[1] * c->in[2];
    const int64_t ovol = g.out[0] * g.out[1] * g.out[2], ylen = c->batch * c->cout * ovol;
    double *x = zalloc(8 * xlen), *w = zalloc(8 * c->cout * cig * kvol), *bias = zalloc(8 * c->cout);
    double *ref = zalloc(8 * ylen);
    for (int64_t i = 0; i < xlen; i++) x[i] = rnd_unit();
    for (int64_t i = 0; i < c->cout * cig * kvol; i++) w[i] = rnd_unit();
    for (int64_t i = 0; i < c->cout; i++) bias[i] = rnd_unit();
    for (int64_t n = 0; n < c->batch; n++)           /* the direct convolution */
        for (int64_t co = 0; co < c->cout; co++)
            for (int64_t o = 0; o < ovol; o++) {
                const int64_t o2 = o % g.out[2], o1 = (o / g.out[2]) % g.out[1], o0 = o / (g.out[2] * g.out[1]);
                double s = bias[co];
                for (int64_t ci = 0; ci < cig; ci++)
                    for (int64_t t = 0; t < kvol; t++) {
                        const int64_t t2 = t % c->k[2], t1 = (t / c->k[2]) % c->k[1], t0 = t / (c->k[2] * c->k[1]);
                        const int64_t i0 = o0 * c->stride[0] - c->pad[0] + t0, i1 = o1 * c->stride[1] - c->pad[1] + t1,
                                      i2 = o2 * c->stride[2] - c->pad[2] + t2;
                        if (i0 < 0 || i0 >= c->in[0] || i1 < 0 || i1 >= c->in[1] || i2 < 0 || i2 >= c->in[2]) continue;
                        const int64_t cin_abs = co / cog * cig + ci;
                        s += x[(((n * c->cin + cin_abs) * c->in[0] + i0) * c->in[1] + i1) * c->in[2] + i2] *
                             w[(co * cig + ci) * kvol + t];
                    }
                ref[(n * c->cout + co) * ovol + o] = s;
            }
    select_isa(FDA_ISA_BASELINE);
    int64_t wlen;
    double *w64 = pack_weights(c, w, fda_panel_width(FDA_F64), &wlen);
    double *w32d = pack_weights(c, w, fda_panel_width(FDA_F32), &wlen);
    float *w32 = zalloc(4 * wlen), *x32 = zalloc(4 * xlen), *b32 = zalloc(4 * c->cout);
    for (int64_t i = 0; i < wlen; i++) w32[i] = (float)w32d[i];
    free(w32d);
    for (int64_t i = 0; i < xlen; i++) x32[i] = (float)x[i];
    for (int64_t i = 0; i < c->cout; i++) b32[i] = (float)bias[i];
    double *first32 = NULL;
    for (int isa = 0; isa < FDA_ISA_COUNT; isa++) {
        if (!fda_isa_compiled(isa) || !fda_isa_supported(isa)) continue;
        select_isa(isa);
        int64_t n32, n64;
        int st = fda_conv_workspace(&g, FDA_F32, &n32);
        st = st ? st : fda_conv_workspace(&g, FDA_F64, &n64);
        if (st) {
            check(0, "conv workspace", fda_isa_name(isa));
            continue;
        }
        float *work32 = zalloc(4 * n32), *y32 = zalloc(4 * ylen);
        double *work64 = zalloc(8 * n64), *y64 = zalloc(8 * ylen), *y32d = zalloc(8 * ylen);
        st = fda_conv_f32(&g, x32, xlen, w32, wlen, b32, y32, ylen, work32, n32, NULL);
        st = st ? st : fda_conv_f64(&g, x, xlen, w64, wlen, bias, y64, ylen, work64, n64, NULL);
        for (int64_t i = 0; i < ylen; i++) y32d[i] = y32[i];
        char what[96];
        snprintf(what, sizeof what, "conv %s (f32, f64) against the direct one", name);
        check(st == FDA_OK && rel_err(y32d, ref, ylen) < 2e-5 && rel_err(y64, ref, ylen) < 1e-12,
              what, fda_isa_name(isa));
        if (first32) {
            snprintf(what, sizeof what, "conv %s f32 against the baseline variant", name);
            check(rel_err(y32d, first32, ylen) < 2e-5, what, fda_isa_name(isa));
            free(y32d);
        } else {
            first32 = y32d;
        }
        free(work32), free(y32), free(work64), free(y64);
    }
    free(x), free(w), free(bias), free(ref), free(w64), free(w32), free(x32), free(b32), free(first32);
}

int main(void)
{
    printf("variants: compiled");
    for (int isa = 0; isa < FDA_ISA_COUNT; isa++)
        if (fda_isa_compiled(isa)) printf(" %s%s", fda_isa_name(isa), fda_isa_supported(isa) ? "" : "(unsupported)");
    printf("; selected by default: %s\n", fda_isa_name(fda_isa_current()));
    check(fda_isa_select(FDA_ISA_COUNT) == FDA_ERR_ISA, "an unknown variant is refused", "-");
    for (int isa = 0; isa < FDA_ISA_COUNT; isa++)
        if (fda_isa_compiled(isa) && !fda_isa_supported(isa))
            check(fda_isa_select(isa) == FDA_ERR_ISA, "an unsupported variant is refused",
                  fda_isa_name(isa));
    /* M, K, N, rowpair, cpb, cell bits, weight bits, input bits, DAC bits, step, word */
    const xcase xc[] = {
        {37, 64, 24, 1, 64, 2, 8, 8, 1, 6.1, 64},      /* the bench's shape, 1-bit DACs */
        {37, 64, 24, 1, 64, 2, 8, 8, 1, 1.0, 64},      /* exact ADC: the integer product */
        {23, 100, 13, 0, 40, 1, 6, 7, 2, 2.7, 64},     /* colpair, 2-bit DACs, blocks */
        {19, 300, 9, 1, 150, 4, 8, 8, 1, 9.3, 64},     /* 4-bit cells, 5 words a block */
        {11, 90, 33, 0, 90, 2, 7, 8, 3, 1.0, 64},      /* exact, colpair, 3-bit DACs */
        {29, 64, 17, 1, 64, 2, 8, 8, 1, 4.0, 32},      /* 32-bit planes (P32) */
        {37, 128, 24, 0, 128, 2, 8, 8, 1, 6.1, 64, 1}, /* real: the bench's settings */
        {23, 150, 13, 0, 64, 2, 8, 8, 1, 1.0, 64, 1},  /* real, exact: the integer product */
        {19, 100, 9, 0, 70, 3, 7, 7, 2, 2.7, 64, 1},   /* real, 2-bit DACs, partial words */
        {29, 128, 17, 0, 128, 2, 8, 8, 1, 4.0, 32, 1}, /* real, 32-bit planes */
    };
    const char *xn[] = {"rowpair 8/8/2b", "rowpair exact", "colpair dac2", "rowpair cells4",
                        "colpair exact dac3", "rowpair P32", "real 8/8/2b", "real exact",
                        "real dac2", "real P32"};
    for (size_t i = 0; i < sizeof xc / sizeof xc[0]; i++) crossbar_case(&xc[i], xn[i]);
    /* the table kernel: steps with an exact float32 ADC (a = 1/step, b = 1/2) */
    const xcase tc[] = {
        {37, 64, 24, 1, 64, 2, 8, 8, 1, 4.0, 8},        /* the bench's settings, rowpair */
        {23, 100, 45, 0, 40, 1, 6, 7, 2, 2.0, 8},       /* colpair, 2-bit DACs, blocks */
        {19, 300, 9, 0, 150, 4, 8, 8, 1, 1.0, 8, 1},    /* real, 4-bit cells, exact */
        {31, 128, 70, 0, 128, 2, 8, 8, 1, 4.0, 8, 1},   /* real, the bench's settings */
        {9, 20, 33, 0, 3, 3, 7, 6, 3, 2.0, 8, 1},       /* real, 3-row blocks, 3-bit DACs */
    };
    const char *tn[] = {"rowpair 8/8/2b", "colpair dac2", "real cells4 exact", "real 8/8/2b",
                        "real rows3 dac3"};
    for (size_t i = 0; i < sizeof tc / sizeof tc[0]; i++) crossbar_table_case(&tc[i], tn[i]);
    crossbar_float_case(1);
    crossbar_float_case(0);
    crossbar_float_case(2);
    split_int_case();
    const int64_t tiles[][3] = {{1, 1, 2}, {1, 4, 8}, {2, 8, 4}, {4, 4, 16}, {1, 2, 64}};
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) tile_fft_case(tiles[i], 19);
    /* batch, cin, cout, groups, in, kernel, pad, stride, tile, rows per chunk */
    const ccase cc[] = {
        {2, 5, 37, 1, {3, 9, 11}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {4, 8, 8}, 5},
        {1, 6, 42, 2, {1, 13, 10}, {1, 3, 3}, {0, 1, 1}, {1, 2, 2}, {1, 8, 8}, 64},
        {1, 19, 70, 1, {2, 6, 7}, {1, 3, 3}, {0, 1, 1}, {1, 1, 1}, {1, 4, 8}, 3},
    };
    const char *cn[] = {"3d", "2d grouped strided", "2d wide"};
    for (size_t i = 0; i < sizeof cc / sizeof cc[0]; i++) conv_case(&cc[i], cn[i]);
    printf(failures ? "xvariant: %d FAILED\n" : "xvariant: ok\n", failures);
    return failures ? 1 : 0;
}
