/*
 * isa.h -- the instruction-set variants of the kernels (private).
 *
 * Every kernel file (conv_f32.c, conv_f64.c, crossbar.c) is compiled once
 * per variant, through a two-line wrapper in csrc/isa/<variant>/ that
 * defines FDA_VARIANT and includes this header before the kernel file.
 * The build passes the same flags to every file (cffi compiles one
 * extension), so this header switches the variant's instructions on for
 * the rest of its translation unit with #pragma GCC target, as Highway's
 * foreach_target does, and sets:
 *
 *   FDA_TAG          the variant's name, pasted onto its exported symbols by
 *                    FDA_FN (fda_conv_f32 -> fda_conv_f32_avx2); dispatch.c
 *                    calls them through a table, never a vector type across
 *   FDA_VBYTES       bytes per kernel vector (16 SSE2/NEON, 32 AVX2, 64 AVX-512)
 *   FDA_MR, FDA_NV   the complex GEMM micro-kernel: FDA_MR rows x FDA_NV
 *                    vectors of columns, sized to the register file (conv.inc)
 *   FDA_GEMM_SPLIT   1: the three real products of the 3-multiply form one
 *                    after another (FDA_MR x FDA_NV accumulators); 0: fused
 *                    (3 x FDA_MR x FDA_NV accumulators, for 32 registers)
 *   FDA_KC           the GEMM's block of K (input channels) whose weights
 *                    stay in L1 while every row passes; 0: all of K
 *   FDA_X86_AVX2, FDA_X86_AVX512, FDA_ARM_NEON
 *                    which intrinsics the kernels may use (our own macros, so
 *                    that nothing depends on the compiler updating __AVX2__)
 *
 * A native build (FDAFAST_NATIVE=1) compiles one variant with -march=native
 * and no pragma: the level the build machine reaches (FDA_NATIVE_ISA).
 */
#ifndef FDAFAST_ISA_H
#define FDAFAST_ISA_H

#include "fdafast.h"

/* Bytes per column panel of the packed weight spectra (fda_panel_width): the
   same for every variant, so that packed spectra run on any of them. */
#define FDA_PANEL_BYTES 128

/* The highest level the compiler's own target flags reach (-march=native). */
#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && \
    defined(__AVX512DQ__) && defined(__AVX512VL__) && defined(__AVX512VPOPCNTDQ__)
#define FDA_NATIVE_ISA FDA_ISA_AVX512
#elif defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__BMI2__) && \
    defined(__POPCNT__)
#define FDA_NATIVE_ISA FDA_ISA_AVX2
#elif defined(__aarch64__)
#define FDA_NATIVE_ISA FDA_ISA_NEON
#else
#define FDA_NATIVE_ISA FDA_ISA_BASELINE
#endif

/* The target options of each variant, as the pragma spells them and as the
   equivalent command-line flags (reported by fda_isa_flags). */
#define FDA_TARGET_AVX2 "arch=x86-64-v3"
#define FDA_FLAGS_AVX2 " -march=x86-64-v3"
#define FDA_TARGET_AVX512 "arch=x86-64-v4,avx512vpopcntdq"
#define FDA_FLAGS_AVX512 " -march=x86-64-v4 -mavx512vpopcntdq"
#define FDA_FLAGS_BASELINE ""
#define FDA_FLAGS_NEON ""

#ifdef FDA_VARIANT   /* the rest only in the kernel files' wrappers */

#if defined(__clang__)
#define FDA_TARGET_BEGIN(t) \
    _Pragma(FDA_STR(clang attribute push(__attribute__((target(t))), apply_to = function)))
#else
#define FDA_TARGET_BEGIN(t) _Pragma(FDA_STR(GCC target(t)))
#endif
#define FDA_STR(x) #x

#if defined(FDA_VARIANT_NATIVE)
/* -march=native already on the command line */
#elif FDA_VARIANT == FDA_ISA_AVX2
FDA_TARGET_BEGIN(FDA_TARGET_AVX2)
#elif FDA_VARIANT == FDA_ISA_AVX512
FDA_TARGET_BEGIN(FDA_TARGET_AVX512)
#endif

#if FDA_VARIANT == FDA_ISA_BASELINE
#define FDA_TAG baseline
#define FDA_VBYTES 16
#define FDA_MR 4             /* 16 xmm, no FMA: 8 accumulators, 2 weights, 1 broadcast, */
#define FDA_NV 2             /* 1 product */
#define FDA_GEMM_SPLIT 1
#define FDA_KC 128
#elif FDA_VARIANT == FDA_ISA_AVX2
#define FDA_TAG avx2
#define FDA_VBYTES 32
#define FDA_X86_AVX2 1
#define FDA_MR 6             /* 16 ymm: 12 accumulators, 2 weights, 1 broadcast */
#define FDA_NV 2
#define FDA_GEMM_SPLIT 1
#define FDA_KC 128           /* 128 x 2 x 64 bytes of weights: half of L1 */
#elif FDA_VARIANT == FDA_ISA_AVX512
#define FDA_TAG avx512
#define FDA_VBYTES 64
#define FDA_X86_AVX2 1
#define FDA_X86_AVX512 1
#define FDA_MR 4             /* 32 zmm: 24 accumulators, 6 weights */
#define FDA_NV 2
#define FDA_GEMM_SPLIT 0
#define FDA_KC 0
#elif FDA_VARIANT == FDA_ISA_NEON
#define FDA_TAG neon
#define FDA_VBYTES 16
#define FDA_ARM_NEON 1
#define FDA_MR 4             /* 32 v-registers: 24 accumulators, 6 weights */
#define FDA_NV 2
#define FDA_GEMM_SPLIT 0
#define FDA_KC 128
#else
#error "FDA_VARIANT names no known instruction-set variant"
#endif

#define FDA_CAT2(a, b) a##_##b
#define FDA_CAT(a, b) FDA_CAT2(a, b)
/* The exported name of a kernel in this variant: FDA_FN(fda_xbar_pack). */
#define FDA_FN(name) FDA_CAT(name, FDA_TAG)

#endif /* FDA_VARIANT */
#endif /* FDAFAST_ISA_H */
