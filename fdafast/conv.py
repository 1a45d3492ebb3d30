"""Tiled FFT convolution: :class:`ConvPlan`, :func:`conv1d`, :func:`conv2d`, :func:`conv3d`.

The semantics are those of ``torch.nn.functional.conv1d`` / ``conv2d`` /
``conv3d`` (cross-correlation, zero padding, stride, dilation, groups;
unbatched inputs too); arrays are numpy.  A 1D convolution is a 3D one of
depth and height 1, a 2D one a 3D one of depth 1.

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

Where the FFT saves too little arithmetic for what its weight spectra cost
(small feature maps at batch 1), a plan with the default engine computes the
layer spatially instead (:mod:`fdafast.direct`), as the cost model of
:mod:`fdafast._tiling` decides; ``engine=FloatFFT()`` always uses the FFTs.
"""
import math

import numpy as np

from . import _dispatch, _native, _tiling
from ._args import (CONV_LAYOUTS, check_finite, check_memory, conv_shapes, float_array,
                    int_tuple, nbytes_of, padding_arg, read_key_arg, threads_arg)
from ._checks import integer
from ._kernels.spectra import place_panel
from ._tiling import to3
from .direct import DEFAULT_COLUMN_BYTES, FloatDirect
from .engine import PHASES, Engine, Prepared, Workspace
from .errors import InvalidArgumentError, ShapeError, TileError
from .fft import kernel_spectra, kernel_spectra_map

__all__ = ["ConvPlan", "FloatFFT", "FloatDirect", "conv1d", "conv2d", "conv3d",
           "plan_spectra"]

#: Default cap on the tile spectra held at once (bytes); larger problems run in chunks.
DEFAULT_WORKSPACE_BYTES = 256 * 2 ** 20


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
        re, im = kernel_spectra(w, tile, dilation, threads, bins_first=True)
        out[:, :cout] = re[:, 0, :]
        out[:, cout:] = im[:, 0, :]
        return out
    for g in range(groups):
        def place(j0, j1, k0, k1, re, im, col0=g * cog):
            col = col0 + j0                           # a panel of j1 - j0 columns
            place_panel(out, re, im, 2 * cig * col + 2 * k0 * (j1 - j0))
        kernel_spectra_map(w[g * cog:(g + 1) * cog], tile, dilation, width, place, threads)
    return out


class ConvPlan:
    """A planned convolution: weight spectra computed once, applied many times.

    Parameters
    ----------
    w : array_like, shape (Cout, Cin/groups, *kernel)
        float32 or float64 weights with 1, 2 or 3 kernel axes; the rank
        selects 1D, 2D or 3D.
    input_shape : tuple
        ``(N, C, L)`` / ``(N, C, H, W)`` / ``(N, C, D, H, W)``; ``N`` may be
        ``None`` (any batch), or the batch may be left out altogether.
    bias : array_like, shape (Cout,), optional
    stride, padding, dilation, groups
        As in ``torch.nn.functional.conv2d``/``conv3d``: ints or per-axis
        tuples; padding may also be ``'same'`` (stride 1), ``'valid'`` or
        per-axis ``(low, high)`` pairs (asymmetric, as ONNX's ``pads``).
    tile : int or tuple, optional
        FFT tile size per spatial axis (powers of two, 2..64; 1 along an
        axis whose kernel extent is 1).  ``None`` picks the tile with the
        least estimated cost (see :func:`fdafast._tiling.tile_cost`).  A
        tile given here makes the default float engine use the FFTs.
    max_workspace_bytes : int, optional
        Cap on the tile spectra held at once; larger problems run in chunks
        of tiles (default 256 MiB).
    threads : int, optional
        Threads the plan is tuned for (the tile choice) and runs with when a
        call does not say (default: ``FDAFAST_NUM_THREADS`` or all usable CPUs).
    engine : None, FloatFFT, FloatDirect or fdafast.ReRAM
        None (default): the float engine, :class:`FloatFFT`, or
        :class:`FloatDirect` (im2col and BLAS GEMMs) when ``tile`` is None and
        the cost model expects the spatial product to be faster
        (:func:`fdafast._tiling.choose_algorithm`: small outputs at small
        batches, where the FFT tiles keep few valid outputs and the weight
        spectra outweigh the spatial weights).  :class:`FloatFFT` or
        :class:`FloatDirect`: that float engine.
        :class:`fdafast.ReRAM`: the per-bin MACs run through the emulated
        crossbars (float64 output; see :mod:`fdafast.reram`); :meth:`calibrate`
        sets calibrated ranges and :attr:`last_counts` holds the crossbar
        events of the last call.  Any :class:`fdafast.engine.Engine` works.
    workspace : fdafast.engine.Workspace, optional
        Where the plan keeps its work arrays; plans that never run at the
        same time may share one (a network's layers do).  Default: its own.

    Attributes
    ----------
    tile : tuple or None
        The FFT tile per spatial axis (unused by :class:`FloatDirect`; None when
        the kernel is wider than every supported tile, which only the spatial
        engine computes).
    engine : fdafast.engine.Engine
        The engine the plan runs.
    out_spatial : tuple
        The output's spatial shape.
    nd : int
        1, 2 or 3.
    geometry : fdafast._tiling.TileGeometry
        The tiling per internal axis (D, H, W), what the engine computes on.

    Notes
    -----
    Caching: the plan keeps the weight spectra for each dtype it has been
    called with (``nbins * Cin/groups * Cout`` complex values, see
    :attr:`spectrum_nbytes`) and one workspace buffer that grows to the
    largest batch seen.  A plan serialises concurrent calls with its
    workspace's lock.
    The FFT engines compute strided convolutions on the stride-1 grid and
    subsample (up to ``prod(stride)`` times the arithmetic of the strided
    output); :class:`FloatDirect` computes the strided outputs only.
    """

    def __init__(self, w, input_shape, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                 tile=None, max_workspace_bytes=DEFAULT_WORKSPACE_BYTES, threads=None,
                 engine=None, workspace=None):
        w = float_array(w, "weight")
        nd = w.ndim - 2
        if nd not in (1, 2, 3):
            raise ShapeError(f"weight must have 3 (conv1d), 4 (conv2d) or 5 (conv3d) "
                             f"dimensions, got shape {w.shape}")
        shape = self._input_shape(input_shape, nd)
        batch, cin, cout = conv_shapes((shape[0] or 1,) + shape[1:], w.shape, groups, nd)
        check_finite(w, "weight")
        chosen = engine
        engine = _engine_arg(engine, max_workspace_bytes)
        if workspace is not None and not isinstance(workspace, Workspace):
            raise InvalidArgumentError(f"workspace must be a fdafast.engine.Workspace, got "
                                       f"{type(workspace).__name__}")
        self.threads = threads_arg(threads)
        self.nd, self.groups, self.cin, self.cout = nd, int(groups), cin, cout
        self.batch = shape[0]
        self.in_spatial = tuple(shape[2:])
        self.stride = int_tuple(stride, nd, "stride", 1)
        self.dilation = int_tuple(dilation, nd, "dilation", 1)
        self.kernel = tuple(w.shape[2:])
        kext = tuple(_tiling.dilated_extent(k, d) for d, k in zip(self.dilation, self.kernel))
        lo, hi = padding_arg(padding, nd, kext, self.stride)
        self.padding = tuple(zip(lo, hi))
        self.out_spatial = self._out_spatial(kext, lo, hi)
        # copies: the plan is a snapshot, later changes to the caller's arrays
        # do not leak into it
        self.bias = None if bias is None else self._bias_arg(bias, cout).copy()
        spatial_ok = chosen is None or isinstance(chosen, FloatDirect)
        try:
            self.tile = self._tile_arg(tile, w.dtype, to3(kext, 1))
        except TileError as exc:
            if tile is not None:
                raise
            if not spatial_ok:
                raise TileError(f"{exc}; the spatial engine computes such kernels "
                                f"(engine=None or fdafast.conv.FloatDirect())") from None
            self.tile = None            # a kernel wider than any FFT tile: spatial only
        self.geometry = _tiling.TileGeometry(
            nd=nd, cin=cin, cout=cout, groups=self.groups, in3=to3(self.in_spatial, 1),
            out3=to3(self.out_spatial, 1), kext3=to3(kext, 1),
            dilation3=to3(self.dilation, 1), stride3=to3(self.stride, 1), pad3=to3(lo, 0),
            tile3=to3(self.tile or (1,) * nd, 1))
        self.dtype = w.dtype
        if chosen is None and (self.tile is None or
                               (tile is None and self._spatial_is_cheaper())):
            engine = FloatDirect(min(DEFAULT_COLUMN_BYTES, int(max_workspace_bytes)))
        self.engine = engine
        check_memory(self.weight_nbytes, f"the weights {self!r} keeps",
                     "choose a smaller tile= (or split the layer's output channels)")
        self.workspace = Workspace() if workspace is None else workspace
        self.last_counts = None
        self._prepared = engine.prepare(self.geometry, _to3_weight(w).copy(), self.bias,
                                        self.threads, self.workspace)

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
            raise ShapeError(f"input_shape must be {CONV_LAYOUTS[nd]} with positive sizes (N "
                             f"may be None or omitted), got {input_shape!r}")
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

    def _tile_arg(self, tile, dtype, kext3):
        if tile is None:
            t3 = _tiling.choose_tile(
                batch=self.batch or 1, cin=self.cin, cout=self.cout, groups=self.groups,
                out=to3(self.out_spatial, 1), stride=to3(self.stride, 1), kext=kext3,
                itemsize=np.dtype(dtype).itemsize, lanes=_native.lanes(dtype),
                threads=self.threads, nd=self.nd, params=_tiling.cost_params(_dispatch.isa()))
        else:
            t3 = to3(int_tuple(tile, self.nd, "tile", 1), 1)
            _tiling.check_tile(t3, kext3, self.nd)
        return t3[3 - self.nd:]

    def _spatial_is_cheaper(self):
        g = self.geometry
        return _tiling.choose_algorithm(
            tile=g.tile3, batch=self.batch or 1, cin=self.cin, cout=self.cout,
            groups=self.groups, out=g.out3, stride=g.stride3, kext=g.kext3,
            taps=math.prod(self.kernel), itemsize=np.dtype(self.dtype).itemsize,
            lanes=_native.lanes(self.dtype), threads=self.threads,
            params=_tiling.cost_params(_dispatch.isa())) == "direct"

    # -- cached state ------------------------------------------------------
    @property
    def workspace_nbytes(self):
        """Bytes of workspace the plan holds now (grows to the largest call seen)."""
        return self.workspace.nbytes

    @property
    def spectrum_nbytes(self):
        """Bytes of one dtype's weight spectra (real and imaginary planes); 0 for
        :class:`FloatDirect`, which keeps none."""
        if isinstance(self.engine, FloatDirect):
            return 0
        return 2 * self.geometry.nbins * self.cin // self.groups * self.cout \
            * np.dtype(self.dtype).itemsize

    @property
    def weight_nbytes(self):
        """Bytes of the weights the engine keeps for one dtype: the spectra, or
        :class:`FloatDirect`'s weight matrix."""
        if isinstance(self.engine, FloatDirect):
            return self.cin // self.groups * self.cout * math.prod(self.kernel) \
                * np.dtype(self.dtype).itemsize
        return self.spectrum_nbytes

    @property
    def calibration(self):
        """The values of the last :meth:`calibrate` (None before)."""
        return self._prepared.calibration

    def calibrate(self, x):
        """Set the calibrated ranges of a ReRAM engine from the batch ``x``.

        With ``input_scale='calibrated'`` the input scale maps the engine's
        ``percentile`` of the spectral magnitudes to the top input code; with
        ``adc_full_scale='calibrate'`` the ADC full scale is that percentile
        of the column sums of an ideal emulation.  Returns the values (also
        kept in :attr:`calibration`).
        """
        x = self._input_arg(x)
        with self.workspace.lock:
            return dict(self._prepared.calibrate(x, self.threads))

    def output_shape(self, batch):
        """Shape of the output for ``batch`` images."""
        return (batch, self.cout) + self.out_spatial

    # -- the call ------------------------------------------------------------
    def __call__(self, x, *, threads=None, calibrate=False, read_key=0):
        """Convolve ``x`` (float32 or float64); the output has x's dtype (float64 for the
        ReRAM engine).  An unbatched ``x`` (C, *spatial) gives an unbatched output.

        ``calibrate=True`` first sets the calibrated ranges from ``x`` itself, as
        :meth:`calibrate` does (a ReRAM engine only), computing the input's tile
        spectra once for both.  ``read_key`` (an int) picks the ReRAM engine's
        read-noise draw: calls with different keys read the same programmed cells
        with independent noise (:meth:`fdafast.crossbar.PreparedWeights.read_seed`);
        the float engines have no read noise and ignore it.
        """
        return self._run(x, threads, None, bool(calibrate), read_key_arg(read_key))

    def profile(self, x, *, threads=None, read_key=0):
        """Convolve ``x`` (as :meth:`__call__`, ``read_key`` included) and return
        ``(y, phases)``.

        ``phases`` maps 'forward' (tile gather + forward FFTs), 'mac' (the
        per-bin complex multiply-accumulate, emulated crossbars included) and
        'inverse' (inverse FFTs, crop, bias, scatter) to wall seconds.
        """
        key = read_key_arg(read_key)
        phases = dict.fromkeys(PHASES, 0.0)
        y = self._run(x, threads, phases, read_key=key)
        return y, phases

    def _input_arg(self, x):
        x = float_array(x, "input")
        if x.ndim == self.nd + 1 and self.batch in (None, 1):
            x = x[None]                                  # unbatched, as torch accepts
        expect = (self.batch, self.cin) + self.in_spatial
        if x.ndim != self.nd + 2 or x.shape[1:] != expect[1:] or \
                (self.batch is not None and x.shape[0] != self.batch):
            shown = tuple("N" if s is None else s for s in expect)
            raise ShapeError(f"input has shape {x.shape} but this plan expects {shown}")
        if x.shape[0] < 1:
            raise ShapeError(f"input has an empty batch (shape {x.shape})")
        copy = 0 if x.flags.c_contiguous else nbytes_of(x.shape, x.dtype)
        check_memory(copy + self._prepared.nbytes_needed(x.shape[0], x.dtype),
                     f"convolving a batch of {x.shape[0]} into outputs of "
                     f"{self.output_shape(x.shape[0])}",
                     "pass a smaller batch (or split it), or less padding")
        check_finite(x, "input")
        return x

    def _run(self, x, threads, phases, calibrate=False, read_key=0):
        unbatched = np.ndim(x) == self.nd + 1
        x = self._input_arg(x)
        threads = self.threads if threads is None else threads_arg(threads)
        # the key only when it is not 0: engines of the protocol's first form take none
        key = {"read_key": read_key} if read_key else {}
        with self.workspace.lock:
            if calibrate:
                y = self._prepared.calibrate_and_run(x, threads, phases, **key)
            else:
                y = self._prepared.run(x, threads, phases, **key)
            self.last_counts = self._prepared.counts
        return y[0] if unbatched else y

    def __repr__(self):
        return (f"ConvPlan(conv{self.nd}d, cin={self.cin}, cout={self.cout}, "
                f"kernel={self.kernel}, input={self.in_spatial}, out={self.out_spatial}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, "
                + ("spatial" if isinstance(self.engine, FloatDirect) else f"tile={self.tile}")
                + ")")


class FloatFFT(Engine):
    """The float engine: tiled FFTs and per-bin complex GEMMs in C, in the input's dtype.

    Parameters
    ----------
    max_workspace_bytes : int
        Cap on the tile spectra held at once; larger problems run in chunks
        of tiles (default 256 MiB).
    """

    def __init__(self, max_workspace_bytes=DEFAULT_WORKSPACE_BYTES):
        self.max_workspace_bytes = integer("max_workspace_bytes", max_workspace_bytes, 1,
                                           error=InvalidArgumentError)

    def __repr__(self):
        return f"FloatFFT(max_workspace_bytes={self.max_workspace_bytes})"

    def prepare(self, geometry, weight, bias, threads, workspace):
        prepared = _FloatPrepared(self, geometry, weight, bias, threads, workspace)
        prepared.spectrum(weight.dtype)          # the weights' own dtype, up front
        return prepared


class _FloatPrepared(Prepared):
    """Weight spectra per dtype (packed for the C micro-kernel) and the C calls."""

    def __init__(self, engine, geometry, weight, bias, threads, workspace):
        self.engine, self.geometry, self.threads = engine, geometry, threads
        self.weight, self.bias, self.workspace = weight, bias, workspace
        self._spectra = {}

    def spectrum(self, dtype):
        if dtype not in self._spectra:
            g = self.geometry
            self._spectra[dtype] = plan_spectra(self.weight, g.tile3, g.dilation3, g.groups,
                                                dtype, _native.panel_width(dtype),
                                                self.threads)
        return self._spectra[dtype]

    def _geom(self, batch, dtype, threads):
        g = self.geometry
        ntiles = g.ntiles3
        lanes = _native.lanes(dtype)
        chunk = _tiling.rows_per_chunk(
            rows=batch * math.prod(ntiles), nbins=g.nbins,
            cin_p=-(-g.cin // lanes) * lanes, cout_p=-(-g.cout // lanes) * lanes,
            itemsize=np.dtype(dtype).itemsize, threads=threads,
            budget_bytes=self.engine.max_workspace_bytes)
        return _native.make_geom(
            batch=batch, cin=g.cin, cout=g.cout, groups=g.groups, rows_per_chunk=chunk,
            nthreads=threads, **{"in": g.in3}, out=g.out3, kext=g.kext3, pad=g.pad3,
            stride=g.stride3, tile=g.tile3, ntiles=ntiles)

    def run(self, x, threads, phases=None, read_key=0):      # no read noise: key unused
        x = np.ascontiguousarray(x)
        dtype = x.dtype
        wpk = self.spectrum(dtype)
        bias = None if self.bias is None else np.ascontiguousarray(self.bias, dtype)
        y = np.empty((x.shape[0], self.geometry.cout) + self.geometry.out_spatial, dtype)
        geom = self._geom(x.shape[0], dtype, threads)
        work = self.workspace.get(f"conv-{np.dtype(dtype).name}",
                                  (_native.conv_workspace(geom, dtype),), dtype, aligned=True)
        seconds = None if phases is None else np.zeros(3)
        _native.conv(geom, x, wpk, bias, y, work, seconds)
        if phases is not None:
            for name, t in zip(PHASES, seconds.tolist()):
                phases[name] += t
        return y


def _engine_arg(engine, max_workspace_bytes):
    if engine is None:
        return FloatFFT(max_workspace_bytes)
    if isinstance(engine, Engine):
        return engine
    raise InvalidArgumentError(f"engine must be None (float), fdafast.conv.FloatFFT(), "
                               f"fdafast.conv.FloatDirect() or fdafast.ReRAM(...), got "
                               f"{engine!r}")


def _to3_weight(w):
    """Weights as (Cout, Cin/groups, k0, k1, k2): unit depth (and height, for 1D) added."""
    return w.reshape(w.shape[:2] + (1,) * (5 - w.ndim) + w.shape[2:])


def _conv(nd, x, w, bias, stride, padding, dilation, groups, tile, threads, engine=None):
    x = float_array(x, "input")
    w = float_array(w, "weight")
    if w.ndim != nd + 2:
        raise ShapeError(f"conv{nd}d needs a {nd + 2}-D weight, got shape {w.shape}")
    if x.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"conv{nd}d needs a {nd + 2}-D input {CONV_LAYOUTS[nd]} or an "
                         f"unbatched {nd + 1}-D one, got shape {x.shape}")
    unbatched = x.ndim == nd + 1
    xb = x[None] if unbatched else x
    plan = ConvPlan(w, (None,) + xb.shape[1:] if xb.shape[0] == 0 else xb.shape, bias, stride,
                    padding, dilation, groups, tile=tile, threads=threads, engine=engine)
    if xb.shape[0] == 0:                  # an empty batch, as torch allows: nothing to run
        return np.empty(plan.output_shape(0), xb.dtype)
    # one-shot call: the input is its own calibration batch
    y = plan(xb, calibrate=plan.engine.needs_calibration)
    return y[0] if unbatched else y


def conv1d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, *, tile=None,
           threads=None, engine=None):
    """1D convolution through tiled FFTs, with ``torch.nn.functional.conv1d`` semantics.

    Parameters are those of :func:`conv2d` with one spatial axis: ``x`` is
    (N, C, L) or unbatched (C, L), ``w`` is (Cout, C/groups, kL).  It runs as
    a 3D convolution of depth and height 1 (tiles (1, 1, T)).
    """
    return _conv(1, x, w, bias, stride, padding, dilation, groups, tile, threads, engine)


def conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, *, tile=None,
           threads=None, engine=None):
    """2D convolution through tiled FFTs, with ``torch.nn.functional.conv2d`` semantics.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or unbatched (C, H, W), float32 or float64
    w : array_like, shape (Cout, C/groups, kH, kW)
    bias : array_like, shape (Cout,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), ((int, int), (int, int)), 'same' or 'valid'
        ``((top, bottom), (left, right))`` pads asymmetrically (beyond torch).
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
    ndarray, shape (N, Cout, Hout, Wout) (unbatched: (Cout, Hout, Wout)), the dtype of ``x``.

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
    ``x`` is (N, C, D, H, W) or unbatched (C, D, H, W), ``w`` is
    (Cout, C/groups, kD, kH, kW) and per-axis tuples have three entries.
    """
    return _conv(3, x, w, bias, stride, padding, dilation, groups, tile, threads, engine)
