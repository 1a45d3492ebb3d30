/*
 * common.c -- status messages and build facts (one copy, no vector code).
 */
#include "fdafast.h"

const char *fda_strerror(int status)
{
    switch (status) {
    case FDA_OK: return "success";
    case FDA_ERR_NULL: return "a required pointer was NULL";
    case FDA_ERR_GEOMETRY: return "inconsistent convolution geometry "
                                  "(sizes, padding, stride or buffer lengths)";
    case FDA_ERR_TILE: return "unsupported FFT tile (each side must be a power "
                              "of two <= 64, volume <= 32768)";
    case FDA_ERR_WORKSPACE: return "workspace too small or not 64-byte aligned";
    case FDA_ERR_NOMEM: return "out of memory";
    case FDA_ERR_DTYPE: return "unknown dtype code";
    case FDA_ERR_THREADS: return "thread count must be >= 1";
    case FDA_ERR_ISA: return "instruction-set variant not compiled in or not supported "
                             "by this CPU";
    default: return "unknown fdafast status code";
    }
}

int fda_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}
