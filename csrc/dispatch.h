/*
 * dispatch.h -- the table of one variant's kernels (private).
 *
 * Each variant exports its kernels under suffixed names (isa.h's FDA_FN:
 * fda_conv_f32_avx2, ...), with exactly the types of the public functions
 * in fdafast.h; dispatch.c holds a table per compiled variant and forwards
 * every public kernel through the selected one.
 */
#ifndef FDAFAST_DISPATCH_H
#define FDAFAST_DISPATCH_H

#include "fdafast.h"

/* The variant-specific part of fda_conv_workspace (one dtype). */
int fda_conv_workspace_f32(const fda_conv_geom *g, int64_t *n_scalars);
int fda_conv_workspace_f64(const fda_conv_geom *g, int64_t *n_scalars);

typedef struct {
    int isa;                   /* FDA_ISA_* */
    int (*vbytes)(void);       /* bytes per kernel vector */
    __typeof__(fda_conv_f32) *conv_f32;
    __typeof__(fda_conv_f64) *conv_f64;
    __typeof__(fda_conv_workspace_f32) *conv_workspace_f32, *conv_workspace_f64;
    __typeof__(fda_tile_rfft_f32) *tile_rfft_f32;
    __typeof__(fda_tile_irfft_f32) *tile_irfft_f32;
    __typeof__(fda_tile_rfft_f64) *tile_rfft_f64;
    __typeof__(fda_tile_irfft_f64) *tile_irfft_f64;
    __typeof__(fda_xbar_ideal) *xbar_ideal;
    __typeof__(fda_xbar_table) *xbar_table;
    __typeof__(fda_xbar_float) *xbar_float;
    __typeof__(fda_xbar_pack) *xbar_pack;
    __typeof__(fda_split_int) *split_int;
    __typeof__(fda_xbar_has_fast32) *xbar_has_fast32;
} fda_kernels;

/* Declarations of one variant's kernels, and its table's initializer. */
#define FDA_DECLARE_KERNELS(tag)                                             \
    __typeof__(fda_conv_f32) fda_conv_f32_##tag;                             \
    __typeof__(fda_conv_f64) fda_conv_f64_##tag;                             \
    __typeof__(fda_conv_workspace_f32) fda_conv_workspace_f32_##tag,         \
        fda_conv_workspace_f64_##tag;                                        \
    __typeof__(fda_tile_rfft_f32) fda_tile_rfft_f32_##tag;                   \
    __typeof__(fda_tile_irfft_f32) fda_tile_irfft_f32_##tag;                 \
    __typeof__(fda_tile_rfft_f64) fda_tile_rfft_f64_##tag;                   \
    __typeof__(fda_tile_irfft_f64) fda_tile_irfft_f64_##tag;                 \
    __typeof__(fda_xbar_ideal) fda_xbar_ideal_##tag;                         \
    __typeof__(fda_xbar_table) fda_xbar_table_##tag;                         \
    __typeof__(fda_xbar_float) fda_xbar_float_##tag;                         \
    __typeof__(fda_xbar_pack) fda_xbar_pack_##tag;                           \
    __typeof__(fda_split_int) fda_split_int_##tag;                           \
    __typeof__(fda_xbar_has_fast32) fda_xbar_has_fast32_##tag;               \
    int fda_vbytes_##tag(void);

#define FDA_KERNELS(tag, isa)                                                \
    {isa, fda_vbytes_##tag, fda_conv_f32_##tag, fda_conv_f64_##tag,                         \
     fda_conv_workspace_f32_##tag, fda_conv_workspace_f64_##tag,             \
     fda_tile_rfft_f32_##tag, fda_tile_irfft_f32_##tag,                      \
     fda_tile_rfft_f64_##tag, fda_tile_irfft_f64_##tag,                      \
     fda_xbar_ideal_##tag, fda_xbar_table_##tag, fda_xbar_float_##tag,       \
     fda_xbar_pack_##tag,                                                    \
     fda_split_int_##tag, fda_xbar_has_fast32_##tag}

#endif /* FDAFAST_DISPATCH_H */
