/*
 * common.c -- status messages, build facts, dispatch on dtype.
 */
#include "fdafast.h"
#include "simd.h"

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

int fda_lanes(int dtype)
{
    if (dtype == FDA_F32) return FDA_VBYTES / (int)sizeof(float);
    if (dtype == FDA_F64) return FDA_VBYTES / (int)sizeof(double);
    return -FDA_ERR_DTYPE;
}

int fda_panel_width_f32(void);
int fda_panel_width_f64(void);

int fda_panel_width(int dtype)
{
    if (dtype == FDA_F32) return fda_panel_width_f32();
    if (dtype == FDA_F64) return fda_panel_width_f64();
    return -FDA_ERR_DTYPE;
}

int fda_check_tile(const int64_t tile[3])
{
    int64_t vol = 1;
    for (int a = 0; a < 3; a++) {
        if (!fda_is_pow2(tile[a]) || tile[a] > FDA_TMAX) return FDA_ERR_TILE;
        vol *= tile[a];
    }
    if (vol > FDA_TVOL_MAX || tile[2] < 2) return FDA_ERR_TILE;
    return FDA_OK;
}

int fda_conv_workspace_f32(const fda_conv_geom *g, int64_t *n_scalars);
int fda_conv_workspace_f64(const fda_conv_geom *g, int64_t *n_scalars);

int fda_conv_workspace(const fda_conv_geom *g, int dtype, int64_t *n_scalars)
{
    if (dtype == FDA_F32) return fda_conv_workspace_f32(g, n_scalars);
    if (dtype == FDA_F64) return fda_conv_workspace_f64(g, n_scalars);
    return FDA_ERR_DTYPE;
}
