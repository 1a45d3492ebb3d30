"""Tiled FFT convolution: :class:`ConvPlan`, :func:`conv2d`, :func:`conv3d`.

The semantics are those of ``torch.nn.functional.conv2d`` / ``conv3d``
(cross-correlation, zero padding, stride, dilation, groups); arrays are numpy.

Algorithm (overlap-save)
------------------------
The padded input is cut into overlapping tiles of ``T`` samples per axis,
``L = T - k + 1`` apart for a dilated kernel extent ``k``.  Each tile of each
input channel goes through a real FFT that keeps the Hermitian half spectrum
(``T0 * T1 * (T2/2 + 1)`` bins).  Per bin, a complex multiply-accumulate over
the input channels (a complex GEMM: tiles x Cin times Cin x Cout) applies the
weight spectra ``conj(FFT(w)) / (T0 T1 T2)``; the inverse real FFT of each
result holds ``L`` valid outputs per axis, which are cropped, subsampled by
the stride, biased and written out.  The weight spectra are computed once
per plan and reused by every call.
"""
import math
import threading

import numpy as np

from . import _dispatch, _native, _tiling
from ._args import (check_finite, conv_shapes, float_array, int_tuple, padding_arg,
                    threads_arg)
from .errors import InvalidArgumentError, ShapeError

__all__ = ["ConvPlan", "conv2d", "conv3d", "kernel_spectra", "plan_spectra"]

#: Default cap on the tile spectra held at once (bytes); larger problems run in chunks.
DEFAULT_WORKSPACE_BYTES = 256 * 2 ** 20


def _to3(t, fill):
    """A per-axis tuple of a 2D problem extended with a leading depth entry."""
    return (fill,) + tuple(t) if len(t) == 2 else tuple(t)


def kernel_spectra(w, tile, dilation, threads=None):
    """Half spectra of dilated kernels: ``conj(rfftn(w_dilated, tile)) / prod(tile)``.

    Parameters
    ----------
    w : ndarray, shape (C0, C1, k0, k1, k2)
    tile, dilation : tuples of 3 ints
    threads : int, optional

    Returns
    -------
    re, im : float64 ndarrays, shape (C0, C1, nbins)
        Bins in ``numpy.fft.rfftn`` order over the last three axes, computed
        with the C tile FFT in float64.
    """
    kext = [d * (k - 1) + 1 for d, k in zip(dilation, w.shape[2:])]
    nb, vol = _tiling.bins(tile), math.prod(tile)
    blk = np.zeros(w.shape[:2] + tuple(tile), np.float64)
    blk[:, :, :kext[0]:dilation[0], :kext[1]:dilation[1], :kext[2]:dilation[2]] = w
    re = np.empty(w.shape[:2] + (nb,))
    im = np.empty(w.shape[:2] + (nb,))
    _native.tile_rfft(blk.reshape(-1, *tile), re.reshape(-1, nb), im.reshape(-1, nb),
                      threads_arg(threads))
    re /= vol
    im /= -vol
    return re, im


def plan_spectra(w, tile, dilation, groups, dtype, width, threads=None):
    """Weight spectra in the packed panel layout the C micro-kernel streams.

    Parameters
    ----------
    w : ndarray, shape (Cout, Cin/groups, k0, k1, k2)
    tile, dilation : tuples of 3 ints
    groups : int
    dtype : float32 or float64
    width : int
        Columns per panel (:func:`fdafast._native.panel_width`).

    Returns
    -------
    ndarray, shape (nbins, 2 * Cin/groups * Cout), dtype ``dtype``
        Per bin: for depthwise layers (one channel in and out per group) the
        real parts of all channels then the imaginary parts; otherwise, per
        group and per panel of ``pw = min(width, Cout/groups - j0)`` output
        columns starting at ``j0``, for each input channel ``pw`` real parts
        then ``pw`` imaginary parts (``csrc/conv.inc`` documents the same).
        The spectra are those of :func:`kernel_spectra`, rounded once.
    """
    cout, cig = w.shape[:2]
    cog = cout // groups
    nb = _tiling.bins(tile)
    out = np.empty((nb, 2 * cig * cout), dtype)
    if cig == 1 and cog == 1:
        re, im = kernel_spectra(w, tile, dilation, threads)
        out[:, :cout] = re[:, 0, :].T
        out[:, cout:] = im[:, 0, :].T
        return out
    for g in range(groups):
        for j0 in range(0, cog, width):
            pw, col = min(width, cog - j0), g * cog + j0
            re, im = kernel_spectra(w[col:col + pw], tile, dilation, threads)
            blk = out[:, 2 * cig * col:2 * cig * (col + pw)].reshape(nb, cig, 2, pw)
            # (j, k, b) -> (b, k, j) in two cache-friendly steps
            blk[:, :, 0, :] = np.ascontiguousarray(re.transpose(1, 2, 0)).transpose(1, 0, 2)
            blk[:, :, 1, :] = np.ascontiguousarray(im.transpose(1, 2, 0)).transpose(1, 0, 2)
    return out


class ConvPlan:
    """A planned convolution: weight spectra computed once, applied many times.

    Parameters
    ----------
    w : array_like, shape (Cout, Cin/groups, kH, kW) or (Cout, Cin/groups, kD, kH, kW)
        float32 or float64 weights; the rank selects 2D or 3D.
    input_shape : tuple
        ``(N, C, H, W)`` / ``(N, C, D, H, W)``; ``N`` may be ``None`` (any
        batch), or the batch may be left out altogether.
    bias : array_like, shape (Cout,), optional
    stride, padding, dilation, groups
        As in ``torch.nn.functional.conv2d``/``conv3d``: ints or per-axis
        tuples; padding may also be ``'same'`` (stride 1) or ``'valid'``.
    tile : int or tuple, optional
        FFT tile size per spatial axis (powers of two, 2..64; 1 along an
        axis whose kernel extent is 1).  ``None`` picks the tile with the
        least estimated cost (see :func:`fdafast._tiling.tile_cost`).
    max_workspace_bytes : int, optional
        Cap on the tile spectra held at once; larger problems run in chunks
        of tiles (default 256 MiB).
    threads : int, optional
        Threads the plan is tuned for (the tile choice) and runs with when a
        call does not say (default: ``FDAFAST_NUM_THREADS`` or all usable CPUs).
    engine : None or fdafast.ReRAM
        None (default): the float engine.  :class:`fdafast.ReRAM`: the
        per-bin MACs run through the emulated crossbars (float64 output; see
        :mod:`fdafast.reram`); :meth:`calibrate` sets calibrated ranges and
        :attr:`last_counts` holds the crossbar events of the last call.

    Attributes
    ----------
    tile : tuple
        The FFT tile per spatial axis.
    out_spatial : tuple
        The output's spatial shape.
    nd : int
        2 or 3.

    Notes
    -----
    Caching: the plan keeps the weight spectra for each dtype it has been
    called with (``nbins * Cin/groups * Cout`` complex values, see
    :attr:`spectrum_nbytes`) and one workspace buffer that grows to the
    largest batch seen.  A plan serialises concurrent calls with a lock.
    Strided convolutions are computed on the stride-1 grid and subsampled
    (up to ``prod(stride)`` times the arithmetic of the strided output).
    """

    def __init__(self, w, input_shape, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                 tile=None, max_workspace_bytes=DEFAULT_WORKSPACE_BYTES, threads=None,
                 engine=None):
        w = float_array(w, "weight")
        nd = w.ndim - 2
        if nd not in (2, 3):
            raise ShapeError(f"weight must have 4 (conv2d) or 5 (conv3d) dimensions, "
                             f"got shape {w.shape}")
        shape = self._input_shape(input_shape, nd)
        batch, cin, cout = conv_shapes((shape[0] or 1,) + shape[1:], w.shape, groups, nd)
        check_finite(w, "weight")
        self.threads = threads_arg(threads)
        self.nd, self.groups, self.cin, self.cout = nd, int(groups), cin, cout
        self.batch = shape[0]
        self.in_spatial = tuple(shape[2:])
        self.stride = int_tuple(stride, nd, "stride", 1)
        self.dilation = int_tuple(dilation, nd, "dilation", 1)
        self.kernel = tuple(w.shape[2:])
        kext = tuple(d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel))
        lo, hi = padding_arg(padding, nd, kext, self.stride)
        self.padding = tuple(zip(lo, hi))
        self.out_spatial = self._out_spatial(kext, lo, hi)
        self._kext3 = _to3(kext, 1)
        # copies: the plan is a snapshot, later changes to the caller's arrays
        # do not leak into it
        self.bias = None if bias is None else self._bias_arg(bias, cout).copy()
        self.tile = self._tile_arg(tile, w.dtype)
        self._w = _to3_weight(w).copy()
        self._spectra = {}
        self._work = {}
        self._lock = threading.Lock()
        self.max_workspace_bytes = int(max_workspace_bytes)
        self.dtype = w.dtype
        self.engine = _engine_arg(engine)
        self.calibration = None
        self.last_counts = None
        if self.engine is None:
            self._spectrum(w.dtype)

    # -- argument handling -------------------------------------------------
    @staticmethod
    def _input_shape(input_shape, nd):
        try:
            shape = tuple(None if s is None else int(s) for s in input_shape)
        except (TypeError, ValueError):
            raise ShapeError(f"input_shape must be a tuple of ints (batch may be None), "
                             f"got {input_shape!r}") from None
        if len(shape) == nd + 1:
            shape = (None,) + shape
        if len(shape) != nd + 2 or any(s is not None and s < 1 for s in shape) \
                or any(s is None for s in shape[1:]):
            layout = "(N, C, D, H, W)" if nd == 3 else "(N, C, H, W)"
            raise ShapeError(f"input_shape must be {layout} with positive sizes (N may be "
                             f"None or omitted), got {input_shape!r}")
        return shape

    def _out_spatial(self, kext, lo, hi):
        out = []
        for a, (n, k, l, h, s) in enumerate(zip(self.in_spatial, kext, lo, hi, self.stride)):
            if k > n + l + h:
                raise ShapeError(f"kernel extent {k} along spatial axis {a} is larger than "
                                 f"the padded input ({n} + {l} + {h} = {n + l + h})")
            out.append(_tiling.output_size(n, k, l, h, s))
        return tuple(out)

    @staticmethod
    def _bias_arg(bias, cout):
        b = float_array(bias, "bias")
        if b.shape != (cout,):
            raise ShapeError(f"bias must have shape ({cout},), got {b.shape}")
        check_finite(b, "bias")
        return b

    def _tile_arg(self, tile, dtype):
        if tile is None:
            t3 = _tiling.choose_tile(
                batch=self.batch or 1, cin=self.cin, cout=self.cout, groups=self.groups,
                out=_to3(self.out_spatial, 1), stride=_to3(self.stride, 1), kext=self._kext3,
                itemsize=np.dtype(dtype).itemsize, lanes=_native.lanes(dtype),
                threads=self.threads, nd=self.nd, params=_tiling.cost_params(_dispatch.isa()))
        else:
            t3 = _to3(int_tuple(tile, self.nd, "tile", 1), 1)
            _tiling.check_tile(t3, self._kext3, self.nd)
        return t3[3 - self.nd:]

    # -- cached state ------------------------------------------------------
    @property
    def _tile3(self):
        return _to3(self.tile, 1)

    @property
    def workspace_nbytes(self):
        """Bytes of workspace the plan holds now (grows to the largest call seen)."""
        return sum(b.nbytes for b in self._work.values())

    @property
    def spectrum_nbytes(self):
        """Bytes of one dtype's weight spectra (real and imaginary planes)."""
        return 2 * _tiling.bins(self._tile3) * self.cin // self.groups * self.cout \
            * np.dtype(self.dtype).itemsize

    def _spectrum(self, dtype):
        if dtype not in self._spectra:
            self._spectra[dtype] = plan_spectra(self._w, self._tile3, _to3(self.dilation, 1),
                                                self.groups, dtype, _native.panel_width(dtype),
                                                self.threads)
        return self._spectra[dtype]

    def _geom(self, batch, dtype, threads):
        t3 = self._tile3
        ntiles = [_tiling.tiles_needed(o, s, k, t) for o, s, k, t in
                  zip(_to3(self.out_spatial, 1), _to3(self.stride, 1), self._kext3, t3)]
        lanes = _native.lanes(dtype)
        chunk = _tiling.rows_per_chunk(
            rows=batch * math.prod(ntiles), nbins=_tiling.bins(t3),
            cin_p=-(-self.cin // lanes) * lanes, cout_p=-(-self.cout // lanes) * lanes,
            itemsize=np.dtype(dtype).itemsize, threads=threads,
            budget_bytes=self.max_workspace_bytes)
        return _native.make_geom(
            batch=batch, cin=self.cin, cout=self.cout, groups=self.groups,
            rows_per_chunk=chunk, nthreads=threads, **{"in": _to3(self.in_spatial, 1)},
            out=_to3(self.out_spatial, 1), kext=self._kext3,
            pad=_to3([p[0] for p in self.padding], 0), stride=_to3(self.stride, 1),
            tile=t3, ntiles=ntiles)

    def _workspace(self, geom, dtype):
        n = _native.conv_workspace(geom, dtype)
        buf = self._work.get(dtype)
        if buf is None or buf.size < n:
            buf = self._work[dtype] = _native.aligned_zeros(n, dtype)
        return buf

    # -- geometry of the tiling, per internal axis (D, H, W) ---------------------
    @property
    def _in3(self):
        return _to3(self.in_spatial, 1)

    @property
    def _out3(self):
        return _to3(self.out_spatial, 1)

    @property
    def _stride3(self):
        return _to3(self.stride, 1)

    @property
    def _pad3(self):
        return _to3([p[0] for p in self.padding], 0)

    @property
    def _valid3(self):
        return tuple(t - k + 1 for t, k in zip(self._tile3, self._kext3))

    @property
    def _ntiles3(self):
        return tuple(_tiling.tiles_needed(o, s, k, t) for o, s, k, t in
                     zip(self._out3, self._stride3, self._kext3, self._tile3))

    @property
    def _padded3(self):
        return tuple(n * v + k - 1 for n, v, k in zip(self._ntiles3, self._valid3, self._kext3))

    @property
    def _bias64(self):
        return None if self.bias is None else self.bias.astype(np.float64)

    def calibrate(self, x):
        """Set the calibrated ranges of a ReRAM engine from the batch ``x``.

        With ``input_scale='calibrated'`` the input scale maps the engine's
        ``percentile`` of the spectral magnitudes to the top input code; with
        ``adc_full_scale='calibrate'`` the ADC full scale is that percentile
        of the column sums of an ideal emulation.  Returns the values (also
        kept in :attr:`calibration`).
        """
        if self.engine is None:
            raise InvalidArgumentError("calibrate() needs a plan with engine=fdafast.ReRAM(...)")
        from . import reram
        x = self._input_arg(x)
        self.calibration = reram.calibrate(self, x)
        return dict(self.calibration)

    def output_shape(self, batch):
        """Shape of the output for ``batch`` images."""
        return (batch, self.cout) + self.out_spatial

    # -- the call ------------------------------------------------------------
    def __call__(self, x, *, threads=None):
        """Convolve ``x`` (float32 or float64); the output has x's dtype."""
        return self._run(x, threads, None)

    def profile(self, x, *, threads=None):
        """Convolve ``x`` and return ``(y, phases)``.

        ``phases`` maps 'forward' (tile gather + forward FFTs), 'mac' (the
        per-bin complex multiply-accumulate) and 'inverse' (inverse FFTs,
        crop, bias, scatter) to wall seconds.
        """
        ph = np.zeros(3)
        y = self._run(x, threads, ph)
        return y, dict(zip(("forward", "mac", "inverse"), ph.tolist()))

    def _input_arg(self, x):
        x = float_array(x, "input")
        expect = (self.batch, self.cin) + self.in_spatial
        if x.ndim != self.nd + 2 or x.shape[1:] != expect[1:] or \
                (self.batch is not None and x.shape[0] != self.batch):
            shown = tuple("N" if s is None else s for s in expect)
            raise ShapeError(f"input has shape {x.shape} but this plan expects {shown}")
        if x.shape[0] < 1:
            raise ShapeError(f"input has an empty batch (shape {x.shape})")
        check_finite(x, "input")
        return x

    def _run(self, x, threads, phases):
        x = self._input_arg(x)
        if self.engine is not None:
            from . import reram
            y, self.last_counts = reram.run(self, x, self.calibration)
            return y
        threads = self.threads if threads is None else threads_arg(threads)
        x = np.ascontiguousarray(x)
        dtype = x.dtype
        wpk = self._spectrum(dtype)
        bias = None if self.bias is None else np.ascontiguousarray(self.bias, dtype)
        y = np.empty(self.output_shape(x.shape[0]), dtype)
        geom = self._geom(x.shape[0], dtype, threads)
        with self._lock:
            work = self._workspace(geom, dtype)
            _native.conv(geom, x, wpk, bias, y, work, phases)
        return y

    def __repr__(self):
        return (f"ConvPlan(conv{self.nd}d, cin={self.cin}, cout={self.cout}, "
                f"kernel={self.kernel}, input={self.in_spatial}, out={self.out_spatial}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, tile={self.tile})")


def _engine_arg(engine):
    from .reram import ReRAM
    if engine is None or isinstance(engine, ReRAM):
        return engine
    raise InvalidArgumentError(f"engine must be None (float) or fdafast.ReRAM(...), got "
                               f"{engine!r}")


def _to3_weight(w):
    """Weights as (Cout, Cin/groups, k0, k1, k2), a depth of 1 added for 2D."""
    return w[:, :, None] if w.ndim == 4 else w


def _conv(nd, x, w, bias, stride, padding, dilation, groups, tile, threads, engine=None):
    x = float_array(x, "input")
    w = float_array(w, "weight")
    if w.ndim != nd + 2:
        raise ShapeError(f"conv{nd}d needs a {nd + 2}-D weight, got shape {w.shape}")
    if x.ndim != nd + 2:
        layout = "(N, C, D, H, W)" if nd == 3 else "(N, C, H, W)"
        raise ShapeError(f"conv{nd}d needs a {nd + 2}-D input {layout}, got shape {x.shape}")
    plan = ConvPlan(w, x.shape, bias, stride, padding, dilation, groups, tile=tile,
                    threads=threads, engine=engine)
    if plan.engine is not None and plan.engine.needs_calibration:
        plan.calibrate(x)            # one-shot call: the input is its own calibration batch
    return plan(x)


def conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, *, tile=None,
           threads=None, engine=None):
    """2D convolution through tiled FFTs, with ``torch.nn.functional.conv2d`` semantics.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W), float32 or float64
    w : array_like, shape (Cout, C/groups, kH, kW)
    bias : array_like, shape (Cout,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), 'same' or 'valid'
    groups : int
    tile : int or (int, int), optional
        FFT tile size; ``None`` chooses one per layer (see :class:`ConvPlan`).
    threads : int, optional
        Threads of the C kernels (default: ``FDAFAST_NUM_THREADS`` or all usable CPUs).
    engine : None or fdafast.ReRAM, optional
        Run the per-bin MACs on emulated ReRAM crossbars (see
        :mod:`fdafast.reram`); calibrated ranges then come from ``x`` itself.

    Returns
    -------
    ndarray, shape (N, Cout, Hout, Wout), the dtype of ``x``.

    Notes
    -----
    Builds a :class:`ConvPlan` per call; reuse a plan to amortise the
    weight spectra over many inputs.
    """
    return _conv(2, x, w, bias, stride, padding, dilation, groups, tile, threads, engine)


def conv3d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, *, tile=None,
           threads=None, engine=None):
    """3D convolution through tiled FFTs, with ``torch.nn.functional.conv3d`` semantics.

    Parameters are those of :func:`conv2d` with a depth axis added:
    ``x`` is (N, C, D, H, W), ``w`` is (Cout, C/groups, kD, kH, kW) and
    per-axis tuples have three entries.
    """
    return _conv(3, x, w, bias, stride, padding, dilation, groups, tile, threads, engine)
