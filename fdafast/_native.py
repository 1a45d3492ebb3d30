"""The only importer of the compiled cffi module.

Checks arrays (dtype, contiguity, length, alignment) before taking pointers,
and maps C status codes to exceptions.  Public modules call these functions,
never ``fdafast._fdafast_cffi`` directly.
"""
import dataclasses

import numpy as np

from .errors import FdafastError, NativeError

try:
    from ._fdafast_cffi import ffi, lib
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise FdafastError(
        "fdafast's C extension is not built; install the package with "
        "'pip install -e .' (needs a C compiler and cffi)") from exc

F32, F64 = lib.FDA_F32, lib.FDA_F64
ALIGN = 64
_CTYPES = {np.dtype(np.float32): ("float *", F32), np.dtype(np.float64): ("double *", F64),
           np.dtype(np.int64): ("int64_t *", None)}

GEOM_FIELDS_3 = ("in", "out", "kext", "pad", "stride", "tile", "ntiles")
GEOM_FIELDS_1 = ("batch", "cin", "cout", "groups", "rows_per_chunk", "nthreads")


def has_openmp():
    """True when the C layer was built with OpenMP."""
    return bool(lib.fda_has_openmp())


# -- instruction-set variants (fdafast._dispatch chooses; see csrc/isa.h) ------
ISA_NAMES = tuple(ffi.string(lib.fda_isa_name(i)).decode() for i in range(lib.FDA_ISA_COUNT))


def isa_compiled():
    """Names of the instruction-set variants compiled into the C layer, lowest first."""
    return tuple(n for i, n in enumerate(ISA_NAMES) if lib.fda_isa_compiled(i))


def isa_supported():
    """Names of the variants this CPU and OS can run (compiled in or not)."""
    return tuple(n for i, n in enumerate(ISA_NAMES) if lib.fda_isa_supported(i))


def isa_select(name):
    """Make variant ``name`` run every kernel; NativeError when it is not compiled
    in or this CPU cannot run it."""
    _check(lib.fda_isa_select(ISA_NAMES.index(name)))


def isa_current():
    """Name of the variant that runs the kernels."""
    return ISA_NAMES[lib.fda_isa_current()]


def isa_flags(name):
    """The compiler flags of a compiled variant ("" when it is not compiled in)."""
    return ffi.string(lib.fda_isa_flags(ISA_NAMES.index(name))).decode()


def lanes(dtype):
    """SIMD lanes per kernel vector of the selected variant for ``dtype`` (float32:
    4 baseline/neon, 8 avx2, 16 avx512; float64 half as many)."""
    return int(lib.fda_lanes(_CTYPES[np.dtype(dtype)][1]))


def panel_width(dtype):
    """Columns per panel of the packed weight-spectrum layout for ``dtype``."""
    return int(lib.fda_panel_width(_CTYPES[np.dtype(dtype)][1]))


def _check(status):
    if status != lib.FDA_OK:
        raise NativeError(int(status), ffi.string(lib.fda_strerror(status)).decode())


def _ptr(a, dtype, name):
    """A C pointer to the data of ``a`` after checking what C relies on."""
    dtype = np.dtype(dtype)
    if not isinstance(a, np.ndarray) or a.dtype != dtype:
        raise FdafastError(f"internal: {name} must be a {dtype} ndarray")
    if not a.flags.c_contiguous:
        raise FdafastError(f"internal: {name} must be C-contiguous")
    return ffi.cast(_CTYPES[dtype][0], a.ctypes.data)


def _null_or_ptr(a, dtype, name):
    return ffi.NULL if a is None else _ptr(a, dtype, name)


def make_geom(**fields):
    """Build an ``fda_conv_geom`` from keyword fields (3-tuples for spatial ones)."""
    g = ffi.new("fda_conv_geom *")
    for key in GEOM_FIELDS_1:
        setattr(g, key, int(fields[key]))
    for key in GEOM_FIELDS_3:
        vals = fields[key]
        arr = getattr(g, key)
        for i in range(3):
            arr[i] = int(vals[i])
    return g


def conv_workspace(geom, dtype):
    """Scalars of workspace ``conv`` needs for ``geom`` in ``dtype``."""
    n = ffi.new("int64_t *")
    _check(lib.fda_conv_workspace(geom, _CTYPES[np.dtype(dtype)][1], n))
    return int(n[0])


def aligned_empty(n, dtype):
    """An uninitialised 1-D array of ``n`` scalars starting on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    raw = np.empty(n * dtype.itemsize + ALIGN, dtype=np.uint8)
    off = (-raw.ctypes.data) % ALIGN
    return raw[off:off + n * dtype.itemsize].view(dtype)


def aligned_zeros(n, dtype):
    """A zeroed 1-D array of ``n`` scalars whose data start on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    raw = np.zeros(n * dtype.itemsize + ALIGN, dtype=np.uint8)
    off = (-raw.ctypes.data) % ALIGN
    return raw[off:off + n * dtype.itemsize].view(dtype)


def conv(geom, x, wpk, bias, y, work, phases=None):
    """Run the tiled FFT convolution kernel; all arrays C-contiguous, one dtype.

    ``phases``, if given, is a float64 array of 3 that receives the seconds of
    (gather + forward FFT, per-bin MAC, inverse FFT + scatter).
    """
    dt = x.dtype
    fn = lib.fda_conv_f32 if dt == np.float32 else lib.fda_conv_f64
    ph = ffi.NULL if phases is None else _ptr(phases, np.float64, "phases")
    _check(fn(geom, _ptr(x, dt, "x"), x.size, _ptr(wpk, dt, "wpk"), wpk.size,
              _null_or_ptr(bias, dt, "bias"), _ptr(y, dt, "y"), y.size,
              _ptr(work, dt, "work"), work.size, ph))
    return y


def _check_tile_buffers(tiles, re, im):
    if tiles.ndim != 4:
        raise FdafastError(f"internal: tiles must be (count, T0, T1, T2), got {tiles.shape}")
    count, t0, t1, t2 = tiles.shape
    need = count * t0 * t1 * (t2 // 2 + 1)
    for name, a in (("re", re), ("im", im)):
        if a.size != need:
            raise FdafastError(f"internal: {name} has {a.size} elements, the spectra of "
                               f"{tiles.shape} tiles need {need}")


def tile_rfft(tiles, re, im, nthreads):
    """Forward real FFT of a batch of tiles (count, T0, T1, T2) into split planes."""
    _check_tile_buffers(tiles, re, im)
    dt = tiles.dtype
    fn = lib.fda_tile_rfft_f32 if dt == np.float32 else lib.fda_tile_rfft_f64
    tile = ffi.new("int64_t[3]", list(tiles.shape[1:]))
    _check(fn(tile, tiles.shape[0], _ptr(tiles, dt, "tiles"), _ptr(re, dt, "re"),
              _ptr(im, dt, "im"), nthreads))


def tile_irfft(re, im, tiles, nthreads):
    """Unnormalised inverse of :func:`tile_rfft`."""
    _check_tile_buffers(tiles, re, im)
    dt = tiles.dtype
    fn = lib.fda_tile_irfft_f32 if dt == np.float32 else lib.fda_tile_irfft_f64
    tile = ffi.new("int64_t[3]", list(tiles.shape[1:]))
    _check(fn(tile, tiles.shape[0], _ptr(re, dt, "re"), _ptr(im, dt, "im"),
              _ptr(tiles, dt, "tiles"), nthreads))


def xbar_has_fast32():
    """Whether the selected variant runs the crossbar kernel fastest from 32-bit
    planes with the float32 ADC (P32: avx512); the others take the 64-bit planes."""
    return bool(lib.fda_xbar_has_fast32())


#: Limits of the crossbar kernels, from csrc/fdafast.h.
XBAR_MAX_GROUPS = int(lib.FDA_XBAR_MAX_GROUPS)
XBAR_MAX_NW = int(lib.FDA_XBAR_MAX_NW)
XBAR_MAX_BITS = int(lib.FDA_XBAR_MAX_BITS)


@dataclasses.dataclass(frozen=True)
class XbarDesc:
    """The Python twin of ``fda_xbar_desc`` (csrc/fdafast.h documents every field),
    less the per-call fields (B, M, K, ys, nthreads) that :func:`xbar_ideal` and
    :func:`xbar_float` take.  ``route``, ``wshift`` and ``wneg`` are (2, ngroups)
    integer tables (a real product, ``real``, reads row 0 only); fields only the
    ideal kernel reads default to 0."""

    rowpair: bool
    cpb: int
    ngroups: int
    input_bits: int
    dac_bits: int
    route: np.ndarray
    wshift: np.ndarray
    wneg: np.ndarray
    adc_max: int
    offset: int
    n_out: int
    step: float
    N: int
    nblocks: int = 0
    planes: int = 0
    nw: int = 0
    adc_mul: int = 0
    adc_add: int = 0
    adc_a: float = 0.0
    adc_b: float = 0.0
    nw32: int = 0
    real: bool = False
    adc16: tuple = (0, 0, 0, 0)

    def __post_init__(self):
        tables = [np.asarray(getattr(self, k)) for k in ("route", "wshift", "wneg")]
        if not 1 <= self.ngroups <= XBAR_MAX_GROUPS or any(
                t.shape != (2, self.ngroups) for t in tables):
            raise FdafastError(f"internal: {self.ngroups} column groups (at most "
                               f"{XBAR_MAX_GROUPS}) with route tables of shapes "
                               f"{[t.shape for t in tables]}")
        if self.real and self.rowpair:
            raise FdafastError("internal: a real product has no rowpair layout")
        if self.nw > XBAR_MAX_NW or self.input_bits > XBAR_MAX_BITS:
            raise FdafastError(f"internal: nw={self.nw} (at most {XBAR_MAX_NW}) or "
                               f"input_bits={self.input_bits} (at most {XBAR_MAX_BITS})")


_XBAR_SCALARS = ("cpb", "ngroups", "input_bits", "dac_bits", "adc_max", "offset", "n_out",
                 "N", "nblocks", "planes", "nw", "adc_mul", "adc_add", "nw32")


def _xbar_struct(desc, B, M, K, strides, nthreads):
    """An ``fda_xbar_desc`` from ``desc`` and the call's sizes."""
    d = ffi.new("fda_xbar_desc *")
    d.B, d.M, d.K, d.nthreads = int(B), int(M), int(K), int(nthreads)
    d.rowpair, d.real = int(bool(desc.rowpair)), int(bool(desc.real))
    for key in _XBAR_SCALARS:
        setattr(d, key, int(getattr(desc, key)))
    d.step, d.adc_a, d.adc_b = float(desc.step), float(desc.adc_a), float(desc.adc_b)
    for key in ("route", "wshift", "wneg"):
        table, target = np.asarray(getattr(desc, key)), getattr(d, key)
        for q in range(2):
            for g in range(desc.ngroups):
                target[q][g] = int(table[q, g])
    for i in range(3):
        d.ys[i] = int(strides[i])
    for i in range(4):
        d.adc16[i] = int(desc.adc16[i])
    return d


def _xbar_scales(d, rs, cs, bs):
    """Pointers to the optional per-row, per-column and per-batch output scales."""
    sizes = {"rs": d.M, "cs": d.n_out, "bs": d.B}
    out = []
    for name, a in (("rs", rs), ("cs", cs), ("bs", bs)):
        if a is None:
            out.append(ffi.NULL)
            continue
        if a.dtype != np.float64 or not a.flags.c_contiguous or a.size != sizes[name]:
            raise FdafastError(f"internal: {name} must be {sizes[name]} contiguous float64")
        out.append(ffi.cast("double *", a.ctypes.data))
    return out


def _check_xbar_operands(desc, xr, xi, yre, yim, extra):
    """Dtypes and contiguity of the operands; a real product (``desc.real``) takes
    ``xi`` and ``yim`` None, a complex one needs them."""
    if desc.real != (xi is None) or desc.real != (yim is None):
        raise FdafastError("internal: xi and yim must be None for a real product and "
                           "arrays for a complex one")
    for name, a, dt in (("xr", xr, np.int32), ("xi", xi, np.int32), ("yre", yre, np.float64),
                        ("yim", yim, np.float64)) + extra:
        if a is None:
            continue
        if not isinstance(a, np.ndarray) or a.dtype != dt or not a.flags.c_contiguous:
            raise FdafastError(f"internal: {name} must be a C-contiguous {np.dtype(dt)} array")
    if xr.ndim != 3 or (xi is not None and xr.shape != xi.shape):
        raise FdafastError(f"internal: xr and xi must be (B, M, K) alike, got {xr.shape} "
                           f"and {None if xi is None else xi.shape}")


def _int32p(a):
    return ffi.NULL if a is None else ffi.cast("int32_t *", a.ctypes.data)


def _doublep(a):
    return ffi.NULL if a is None else ffi.cast("double *", a.ctypes.data)


def _ylen(yre, yim):
    return yre.size if yim is None else min(yre.size, yim.size)


def xbar_ideal(desc, xr, xi, P, P32, yre, yim, strides, nthreads, rs=None, cs=None, bs=None):
    """Run the ideal-device crossbar kernel on inputs (B, M, K).

    Outputs go to the float64 planes ``yre``/``yim`` at the element ``strides``
    (b, m, n); the kernel checks every index against their size.  A real
    product (``desc.real``) takes ``xi`` and ``yim`` None.
    """
    _check_xbar_operands(desc, xr, xi, yre, yim,
                         (("P", np.empty(0, np.uint64) if P is None else P, np.uint64),))
    if P32 is not None and (P32.dtype != np.uint32 or not P32.flags.c_contiguous):
        raise FdafastError("internal: P32 must be a C-contiguous uint32 array")
    d = _xbar_struct(desc, *xr.shape, strides, nthreads)
    scales = _xbar_scales(d, rs, cs, bs)
    _check(lib.fda_xbar_ideal(d, _int32p(xr), _int32p(xi), xr.size,
                              ffi.NULL if P is None else ffi.cast("uint64_t *", P.ctypes.data),
                              0 if P is None else P.size,
                              ffi.NULL if P32 is None else ffi.cast("uint32_t *", P32.ctypes.data),
                              0 if P32 is None else P32.size, *scales,
                              _doublep(yre), _doublep(yim), _ylen(yre, yim)))


def xbar_table(desc, xr, xi, P8, yre, yim, strides, nthreads, rs=None, cs=None, bs=None):
    """Run the ideal-device crossbar kernel through tables of level subset sums on
    the byte planes ``P8`` (``desc.adc_a``/``adc_b`` an exact float32 ADC); see
    :func:`xbar_ideal`."""
    _check_xbar_operands(desc, xr, xi, yre, yim, (("P8", P8, np.uint8),))
    d = _xbar_struct(desc, *xr.shape, strides, nthreads)
    scales = _xbar_scales(d, rs, cs, bs)
    _check(lib.fda_xbar_table(d, _int32p(xr), _int32p(xi), xr.size,
                              ffi.cast("uint8_t *", P8.ctypes.data), P8.size, *scales,
                              _doublep(yre), _doublep(yim), _ylen(yre, yim)))


def xbar_float(desc, xr, xi, G, read_sigma, seed, yre, yim, strides, nthreads, rs=None,
               cs=None, bs=None):
    """Run the float (device non-ideality) crossbar kernel; see :func:`xbar_ideal`."""
    _check_xbar_operands(desc, xr, xi, yre, yim, (("G", G, np.float64),))
    d = _xbar_struct(desc, *xr.shape, strides, nthreads)
    scales = _xbar_scales(d, rs, cs, bs)
    _check(lib.fda_xbar_float(d, _int32p(xr), _int32p(xi), xr.size, _doublep(G), G.size,
                              float(read_sigma), int(seed) & (2 ** 64 - 1), *scales,
                              _doublep(yre), _doublep(yim), _ylen(yre, yim)))


def xbar_pack(wr, wi, rowpair, sets, slices, cell_bits, weight_bits, rows_per_block, np_,
              out, nthreads):
    """Fill ``out`` (zeroed uint8/uint32/uint64 planes) with the weights' level bit planes
    (real weights: ``wi`` None, one part, ``rowpair`` False)."""
    for name, a in (("wr", wr), ("wi", wi)):
        if a is None and name == "wi":
            continue
        if a.dtype != np.int32 or not a.flags.c_contiguous or a.ndim != 3:
            raise FdafastError(f"internal: {name} must be a C-contiguous (B, K, N) int32 array")
    if (wi is not None and wr.shape != wi.shape) or \
            out.dtype not in (np.uint8, np.uint32, np.uint64) or not out.flags.c_contiguous:
        raise FdafastError("internal: bad weight or plane arrays for xbar_pack")
    B, K, N = wr.shape
    _check(lib.fda_xbar_pack(_int32p(wr), _int32p(wi), B, K, N, int(rowpair),
                             sets, slices, cell_bits, weight_bits, rows_per_block, np_,
                             8 * out.dtype.itemsize, ffi.cast("void *", out.ctypes.data),
                             out.size, nthreads))
    return out


def split_int(values, limit, imag=True):
    """Check float64 ``values`` (real, or complex128) are integers within +-limit and
    return int32 (re, im) (for real ``values``, im zeros, or None without
    ``imag``); returns ``(None, None, index)`` of the first offender in
    ``values.ravel()`` order (interleaved for complex) when they are not."""
    cplx = values.dtype == np.complex128
    flat = np.ascontiguousarray(values).view(np.float64).reshape(-1)
    n = flat.size // (2 if cplx else 1)
    re = np.empty(values.shape, np.int32)
    im = np.empty(values.shape, np.int32) if cplx else \
        (np.zeros(values.shape, np.int32) if imag else None)
    bad = ffi.new("int64_t *")
    st = lib.fda_split_int(ffi.cast("double *", flat.ctypes.data), n, 2 if cplx else 1, limit,
                           ffi.cast("int32_t *", re.ctypes.data),
                           ffi.cast("int32_t *", im.ctypes.data) if cplx else ffi.NULL, bad)
    if st == lib.FDA_ERR_GEOMETRY:
        return None, None, int(bad[0])
    _check(st)
    return re, im, None


def pipeline(nitems, service, servers, capacity, starts=False):
    """Makespan in cycles of ``nitems`` items through the stages (csrc/schedule.c);
    with ``starts`` also the (nitems, nstages) start cycles."""
    arrs = [np.ascontiguousarray(a, np.int64) for a in (service, servers, capacity)]
    ns = arrs[0].size
    out = np.empty((nitems, ns), np.int64) if starts else None
    span = ffi.new("int64_t *")
    _check(lib.fda_pipeline(nitems, ns, *(_ptr(a, np.int64, n) for a, n in
                                          zip(arrs, ("service", "servers", "capacity"))),
                            _null_or_ptr(out, np.int64, "starts"),
                            0 if out is None else out.size, span))
    return (int(span[0]), out) if starts else int(span[0])
