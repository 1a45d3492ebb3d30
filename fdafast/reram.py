"""Convolution through emulated ReRAM crossbars: the ``engine=ReRAM(...)`` of fdafast.

The tiles' spectra and the weight spectra are quantized to fixed point, every
per-bin complex MAC runs through :mod:`fdafast.crossbar`'s emulation, and the
results are dequantized and transformed back.  What is quantized, and how:

* Weight spectra ``W[bin, ci, co]`` (already ``conj(FFT(w)) / T^3``): real
  and imaginary parts rounded to ``weight_bits`` signed integers with one
  scale per output channel (``weight_scale='channel'``, default), per bin
  (``'bin'``) or per layer (``'layer'``); the scale maps the largest
  magnitude of its group to ``2^(weight_bits-1) - 1``.
* Input spectra ``X[bin, tile, ci]``: rounded to ``input_bits`` signed
  integers with one scale per tile (``input_scale='tile'``, default: the
  tile's largest spectral magnitude, the digital FFT unit's block floating
  point), per layer and call (``'layer'``), or fixed per frequency bin by a
  calibration batch (``'calibrated'``: a high percentile of each bin's
  magnitudes over tiles and channels, values beyond it saturate; per bin
  because the spectra of natural inputs span decades between the DC bin
  and the high frequencies).
* Each bin's product is ``s_x[tile] * s_w * cmatmul(Xq, Wq)``; the scales
  factor out of the sum over input channels, so the crossbar sees integers.
* ADC range: ``CrossbarConfig.adc_full_scale`` as configured, or with
  ``'calibrate'`` a percentile of the column sums an ideal emulation of the
  calibration batch produces (:meth:`fdafast.ConvPlan.calibrate`), taken
  over an evenly spaced sample of at most 8 bins, 16 tile rows and 64
  output columns per batch of bins (:func:`calibration_sample`).

The spectra are computed in float64 (fdafast's tile FFTs); only the
crossbar is emulated, the digital FFT/IFFT units are taken as exact.
"""
import dataclasses
import functools
import math
import threading
import time

import numpy as np

from . import fft, quant
from ._checks import integer, number
from ._kernels import spectra as _spectra
from .crossbar import (CrossbarCounts, PreparedWeights, column_sum_histogram, crossbar_counts,
                       emulate)
from .crossbar_config import ConfigError, CrossbarConfig
from .engine import PHASES, Engine, Prepared
from .errors import InvalidArgumentError

__all__ = ["ReRAM", "ReRAMLayer", "WEIGHT_SCALES", "INPUT_SCALES"]

WEIGHT_SCALES = ("channel", "bin", "layer")
INPUT_SCALES = ("tile", "layer", "calibrated")


@dataclasses.dataclass(frozen=True)
class ReRAM(Engine):
    """Run convolutions' per-bin complex MACs on emulated ReRAM crossbars.

    Parameters
    ----------
    config : CrossbarConfig
    seed : int
        Fixes every random draw of the device models (default 0).
    weight_scale : {'channel', 'bin', 'layer'}
    input_scale : {'tile', 'layer', 'calibrated'}
    percentile : float
        Percentile (0 < p <= 100) used by calibration, for the input scale
        and for the ADC full scale.
    bins_per_batch : int
        Frequency bins emulated together (bounds the emulation's memory).
    force_emulation : bool
        Run the bit-sliced kernel even where the configuration is exact (ideal
        devices, an ADC that cannot clip or round), instead of the equivalent
        exact integer product; for checking one against the other.

    Examples
    --------
    >>> import numpy as np, fdafast
    >>> x = np.random.default_rng(0).random((1, 4, 8, 8))
    >>> w = np.random.default_rng(1).standard_normal((2, 4, 3, 3))
    >>> eng = fdafast.ReRAM(fdafast.CrossbarConfig(adc_bits=12))
    >>> y = fdafast.conv2d(x, w, padding=1, engine=eng)
    >>> y.shape
    (1, 2, 8, 8)
    """

    config: CrossbarConfig = dataclasses.field(default_factory=CrossbarConfig)
    seed: int = 0
    weight_scale: str = "channel"
    input_scale: str = "tile"
    percentile: float = 99.9
    bins_per_batch: int = 64
    force_emulation: bool = False

    def __post_init__(self):
        if not isinstance(self.config, CrossbarConfig):
            raise ConfigError(f"config must be a CrossbarConfig, got "
                              f"{type(self.config).__name__}")
        if self.weight_scale not in WEIGHT_SCALES:
            raise ConfigError(f"weight_scale must be one of {WEIGHT_SCALES}, got "
                              f"{self.weight_scale!r}")
        if self.input_scale not in INPUT_SCALES:
            raise ConfigError(f"input_scale must be one of {INPUT_SCALES}, got "
                              f"{self.input_scale!r}")
        put = functools.partial(object.__setattr__, self)
        put("seed", integer("seed", self.seed, error=ConfigError))
        put("percentile", number("percentile", self.percentile, 0.0, 100.0, lo_open=True,
                                 error=ConfigError))
        put("bins_per_batch", integer("bins_per_batch", self.bins_per_batch, 1,
                                      error=ConfigError))

    @property
    def needs_calibration(self):
        """True when the input scale or the ADC range come from a calibration batch."""
        return self.input_scale == "calibrated" or self.config.adc_full_scale == "calibrate"

    def prepare(self, geometry, weight, bias, threads, workspace):
        """This engine's state for one layer (see :mod:`fdafast.engine`)."""
        return ReRAMLayer(self, geometry, weight, bias, threads, workspace)


# -- tiles and spectra ------------------------------------------------------------
class Split:
    """A complex array kept as separate real and imaginary float64 planes."""

    def __init__(self, real, imag):
        self.real, self.imag = real, imag

    @property
    def shape(self):
        return self.real.shape


def input_spectra(g, x, threads, ws):
    """Spectra of all input tiles of ``x`` under the geometry ``g`` as :class:`Split`
    planes (nbins, rows, Cin), rows = (image, tile), and the tiles per axis."""
    t3, L, P = g.tile3, g.valid3, g.padded3
    n = x.shape[0]
    x5 = x.reshape((n, g.cin) + g.in3).astype(np.float64)
    xp = ws.get("padded", (n, g.cin) + P)
    xp.fill(0.0)
    lo = g.pad3
    hi = [min(P[a], lo[a] + g.in3[a]) for a in range(3)]
    xp[:, :, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = \
        x5[:, :, :hi[0] - lo[0], :hi[1] - lo[1], :hi[2] - lo[2]]
    win = np.lib.stride_tricks.sliding_window_view(xp, t3, axis=(2, 3, 4))
    win = win[:, :, ::L[0], ::L[1], ::L[2]]                 # (n, C, nt0, nt1, nt2, T...)
    nt = win.shape[2:5]
    rows = n * math.prod(nt)
    tiles = ws.get("tiles", (n,) + tuple(nt) + (g.cin,) + t3)
    tiles[...] = win.transpose(0, 2, 3, 4, 1, 5, 6, 7)
    spec_shape = (rows * g.cin,) + fft.spectrum_shape(t3)
    re, im = fft.rfft_tiles(tiles.reshape((rows * g.cin,) + t3), threads=threads,
                            out=(ws.get("spec-re", spec_shape), ws.get("spec-im", spec_shape)))
    planes = []
    for name, p in (("x-re", re), ("x-im", im)):
        buf = ws.get(name, (g.nbins, rows, g.cin))
        buf[...] = p.reshape(rows, g.cin, -1).transpose(2, 0, 1)
        planes.append(buf)
    return Split(*planes), nt


#: Bytes of inverse-transformed tiles held at once (output_from_spectra works in chunks).
INVERSE_CHUNK_BYTES = 64 << 20


def output_from_spectra(g, yre, yim, n, nt, bias, threads, ws):
    """Inverse of the tiles' output spectra (planes (rows, Cout, nbins)) into the output,
    in chunks of tile rows of at most :data:`INVERSE_CHUNK_BYTES`."""
    t3, L = g.tile3, g.valid3
    rows, cout = yre.shape[:2]
    spec = fft.spectrum_shape(t3)
    full = ws.get("out-full", (n, cout, nt[0] * L[0], nt[1] * L[1], nt[2] * L[2]))
    # the tile view of full: (image, nt0, nt1, nt2, cout, L0, L1, L2), rows = (image, nt..)
    view = full.reshape(n, cout, nt[0], L[0], nt[1], L[1], nt[2], L[2]).transpose(
        0, 2, 4, 6, 1, 3, 5, 7)
    plane = nt[1] * nt[2]                                    # rows per (image, nt0)
    step = max(1, INVERSE_CHUNK_BYTES // (plane * cout * math.prod(t3) * 8))
    for i in range(n):
        for a in range(0, nt[0], step):
            b = min(nt[0], a + step)
            r0, r1 = (i * nt[0] + a) * plane, (i * nt[0] + b) * plane
            m = (r1 - r0) * cout
            tiles = fft.irfft_tiles(yre[r0:r1].reshape((m,) + spec),
                                    yim[r0:r1].reshape((m,) + spec), t3, threads=threads,
                                    normalize=False, out=ws.get("out-tiles", (m,) + tuple(t3)))
            view[i, a:b] = tiles.reshape((b - a, nt[1], nt[2], cout) + tuple(t3))[
                ..., :L[0], :L[1], :L[2]]
    s3, o3 = g.stride3, g.out3
    y = full[:, :, ::s3[0], ::s3[1], ::s3[2]][:, :, :o3[0], :o3[1], :o3[2]]
    y = np.array(y) if bias is None else y + bias[None, :, None, None, None]
    return y.reshape((n, cout) + g.out_spatial)


# -- quantization -------------------------------------------------------------------
#: Output channels per block of the weight spectra while they are quantized.
QUANTIZE_OUT_BLOCK = 64


def quantized_weights(g, w, mode, bits, threads):
    """The weight spectra ``conj(FFT(w)) / T^3`` quantized to ``bits``-bit integers.

    Returns ``(s_w, planes)``: the scales, shaped to broadcast against the
    (nbins, Cin_g, Cout) products as (1, 1, Cout), (nbins, 1, 1) or (1, 1, 1)
    for ``mode`` 'channel', 'bin' or 'layer' (the largest magnitude of the real
    and imaginary parts of each group maps to the top integer), and per group
    the int16 (re, im) of shape (nbins, Cin_g, Cout_g).

    Two passes over cache-sized blocks of the spectra
    (:func:`fdafast.fft.kernel_spectra_map`), the first for the peaks, the
    second, computing the same values again, to round them: the float64
    spectra of a layer are never held whole.
    """
    cout, cig = w.shape[:2]
    groups = g.groups
    cog = cout // groups
    peak = np.zeros({"channel": cout, "bin": g.nbins, "layer": 1}[mode])

    lock = threading.Lock()

    def peaks(grp):
        def fn(o0, o1, k0, k1, re, im):
            m = _spectra.block_peaks(re, im)             # (bins, columns) of the block
            if mode == "channel":
                m, sl = m.max(axis=0), slice(grp * cog + o0, grp * cog + o1)
            elif mode == "bin":
                m, sl = m.max(axis=1), slice(None)
            else:
                m, sl = m.max(), slice(0, 1)
            with lock:                                   # max: the same in any order
                peak[sl] = np.maximum(peak[sl], m)
        return fn

    spectra = functools.partial(fft.kernel_spectra_map, tile=g.tile3, dilation=g.dilation3,
                                out_block=QUANTIZE_OUT_BLOCK, threads=threads)
    for grp in range(groups):
        spectra(w[grp * cog:(grp + 1) * cog], fn=peaks(grp))
    s = quant.scale(peak, bits)
    s_w = {"channel": lambda: s[None, None, :], "bin": lambda: s[:, None, None],
           "layer": lambda: s.reshape(1, 1, 1)}[mode]()
    top = float((1 << (bits - 1)) - 1)
    planes = []
    for grp in range(groups):
        wr, wi = (np.empty((g.nbins, cig, cog), np.int16) for _ in range(2))

        def rounded(o0, o1, k0, k1, re, im, wr=wr, wi=wi, grp=grp):
            sc = (s_w[0, :, grp * cog + o0:grp * cog + o1] if mode == "channel"
                  else s_w[:, :, 0])                     # (1, columns), (bins, 1) or (1, 1)
            _spectra.round_block(re, im, np.ascontiguousarray(sc), top, wr, wi, k0, o0)
        spectra(w[grp * cog:(grp + 1) * cog], fn=rounded)
        planes.append((wr, wi))
    return s_w, planes


def input_scales(X, mode, bits, calibrated):
    """Scales of the input spectra X (nbins, rows, Cin): (1, rows, 1), (1, 1, 1) or
    (nbins, 1, 1) for 'tile', 'layer' and 'calibrated'."""
    if mode == "tile":
        return quant.scale(quant.max_abs_parts(X, (0, 2)), bits)[None, :, None]
    if mode == "layer":
        return quant.scale(quant.max_abs_parts(X, None), bits)[None, None, None]
    if calibrated is None:
        raise InvalidArgumentError("input_scale='calibrated' needs a calibration batch: "
                                   "call plan.calibrate(x) first")
    return np.asarray(calibrated, np.float64).reshape(-1, 1, 1)


#: Most (bins, rows, output columns) per batch that calibration histograms.
CALIBRATION_SAMPLE = (8, 16, 64)


def calibration_sample(nbins, rows, cols, sample=CALIBRATION_SAMPLE):
    """Evenly spaced indices of the bins, input rows and output columns whose column
    sums calibrate the ADC (all of them when there are few).

    The ADC range is a high percentile of the column sums; a deterministic,
    evenly spread sample of them estimates it at a small fraction of the cost
    of emulating every conversion (C3D's conv4b has 1.5e9).
    """
    return tuple(np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(np.int64))
                 for n, k in zip((nbins, rows, cols), sample))


def conv_counts(g, config, rows):
    """Crossbar events of one call with ``rows`` (image, tile) rows: every bin and group."""
    per = crossbar_counts(rows, g.cin // g.groups, g.cout // g.groups, config)
    k = g.nbins * g.groups
    return CrossbarCounts(*(k * v for v in dataclasses.astuple(per)))


# -- the engine's state for one layer -------------------------------------------------------
class ReRAMLayer(Prepared):
    """A layer on emulated crossbars: quantized weight spectra laid out on crossbars
    (built on first use, kept), calibration values, and the calls.

    Work arrays live in the plan's :class:`fdafast.engine.Workspace`.
    """

    def __init__(self, engine, geometry, weight, bias, threads, workspace):
        self.engine, self.geometry, self.threads = engine, geometry, threads
        self.weight, self.workspace = weight, workspace
        self.bias = None if bias is None else bias.astype(np.float64)
        self._weights = None

    def nbytes_needed(self, batch, dtype):
        """The float64 input, tiles and spectra, and the output spectra and tiles of a run."""
        g = self.geometry
        rows = batch * math.prod(g.ntiles3)
        tiles = rows * g.cin * (math.prod(g.tile3) + 4 * g.nbins)   # tiles, spectra, planes
        out = rows * g.cout * 2 * g.nbins + batch * g.cout * math.prod(
            n * v for n, v in zip(g.ntiles3, g.valid3))
        return 8 * (batch * g.cin * math.prod(g.padded3) + tiles + out) + \
            super().nbytes_needed(batch, np.float64)

    def _batches(self):
        """(input-channel slice, output slice, bin slice, index) of every emulated batch."""
        g = self.geometry
        cig, cog = g.cin // g.groups, g.cout // g.groups
        step = int(self.engine.bins_per_batch)
        i = 0
        for grp in range(g.groups):
            for b0 in range(0, g.nbins, step):
                yield (slice(grp * cig, (grp + 1) * cig), slice(grp * cog, (grp + 1) * cog),
                       slice(b0, min(g.nbins, b0 + step)), i)
                i += 1

    def prepared_weights(self):
        """Weight scales and, per batch of bins and group, the quantized weights laid
        out on crossbars; computed once.

        Batch i's device randomness uses seed ``engine.seed + i * golden`` so
        that no two batches share random numbers.
        """
        if self._weights is None:
            cfg = self.engine.config
            s_w, planes = quantized_weights(self.geometry, self.weight, self.engine.weight_scale,
                                            cfg.weight_bits, self.threads)
            cog = self.geometry.cout // self.geometry.groups
            out = []
            for _, co, bs, i in self._batches():
                seed = (int(self.engine.seed) + 0x9E3779B97F4A7C15 * i) & (2 ** 64 - 1)
                wr, wi = planes[co.start // cog]
                out.append(PreparedWeights(wr[bs], wi[bs], cfg, seed))
            self._weights = (s_w, out)
        return self._weights

    def _products(self, Xq, s_x, full_scale, threads, read_key=0):
        """Dequantized per-bin products as (re, im) float64 planes of shape (rows, Cout,
        nbins): the layout the inverse tile FFTs read, written by the emulation
        straight from its accumulators, scaled by the input and weight scales."""
        s_w, weights = self.prepared_weights()
        xr, xi = Xq
        nb, rows, _ = xr.shape
        cout = self.geometry.cout
        yre = self.workspace.get("y-re", (rows, cout, nb))
        yim = self.workspace.get("y-im", (rows, cout, nb))
        flat_re, flat_im = yre.reshape(-1), yim.reshape(-1)
        # scale of product (bin b, row m, column n) = rs[m] * cs[n] * bin_scale[b]
        rs = np.ascontiguousarray(np.broadcast_to(s_x[0, :, 0] if s_x.shape[1] > 1
                                                  else np.ones(1), (rows,)), np.float64)
        bin_scale = np.ones(nb)
        if s_x.shape[0] > 1:                           # calibrated input scale, per bin
            bin_scale = bin_scale * s_x[:, 0, 0]
        elif s_x.shape[1] == 1:                        # one input scale for the layer
            bin_scale = bin_scale * s_x.reshape(-1)[0]
        if s_w.shape[0] > 1:                           # weight scale per bin
            bin_scale = bin_scale * s_w[:, 0, 0]
        for ci, co, bs, i in self._batches():
            w = weights[i]
            cs = np.ones(w.N) if s_w.shape[0] > 1 else np.ascontiguousarray(np.broadcast_to(
                s_w[0, 0, co] if s_w.shape[2] > 1 else s_w[0, 0, :1], (w.N,)), np.float64)
            off = bs.start + co.start * nb
            emulate(xr[bs, :, ci], xi[bs, :, ci], w, threads, full_scale,
                    force=self.engine.force_emulation, out=(flat_re[off:], flat_im[off:]),
                    strides=(1, cout * nb, nb),
                    scales=(rs, cs, np.ascontiguousarray(bin_scale[bs])), read_key=read_key)
        return yre, yim

    def _full_scale(self):
        if self.engine.config.adc_full_scale != "calibrate":
            return None
        if self.calibration is None or "adc_full_scale" not in self.calibration:
            raise InvalidArgumentError("adc_full_scale='calibrate' needs a calibration batch: "
                                       "call plan.calibrate(x) first")
        return self.calibration["adc_full_scale"]

    def run(self, x, threads, phases=None, read_key=0):
        """y = conv(x) through the emulated crossbars (float64), with the read noise of
        ``read_key``; sets :attr:`counts`."""
        t0 = time.perf_counter()
        X, nt = input_spectra(self.geometry, x, threads, self.workspace)
        return self._run_spectra(X, nt, x.shape[0], threads, phases, t0, read_key)

    def calibrate_and_run(self, x, threads, phases=None, read_key=0):
        """:meth:`calibrate` then :meth:`run` on ``x``, its tile spectra computed once."""
        t0 = time.perf_counter()
        X, nt = input_spectra(self.geometry, x, threads, self.workspace)
        tc = time.perf_counter()
        self._calibrate_spectra(X, threads)
        t0 += time.perf_counter() - tc           # the phases time the convolution only
        return self._run_spectra(X, nt, x.shape[0], threads, phases, t0, read_key)

    def _run_spectra(self, X, nt, n, threads, phases, t0, read_key=0):
        engine, cfg = self.engine, self.engine.config
        full_scale = self._full_scale()
        s_x = input_scales(X, engine.input_scale, cfg.input_bits,
                           None if self.calibration is None
                           else self.calibration.get("input_scale"))
        Xq = quant.quantize(X, s_x, cfg.input_bits)
        t1 = time.perf_counter()
        yre, yim = self._products(Xq, s_x, full_scale, threads, read_key)
        t2 = time.perf_counter()
        y = output_from_spectra(self.geometry, yre, yim, n, nt, self.bias, threads,
                                self.workspace)
        if phases is not None:
            for name, t in zip(PHASES, (t1 - t0, t2 - t1, time.perf_counter() - t2)):
                phases[name] += t
        self.counts = conv_counts(self.geometry, cfg, X.shape[1])
        return y

    def calibrate(self, x, threads):
        """Calibration values (input scale and/or ADC full scale) from the batch ``x``;
        kept in :attr:`calibration` and returned."""
        X, _ = input_spectra(self.geometry, x, threads, self.workspace)
        return self._calibrate_spectra(X, threads)

    def _calibrate_spectra(self, X, threads):
        engine, cfg = self.engine, self.engine.config
        out = {}
        if engine.input_scale == "calibrated":
            nb = X.shape[0]
            mags = np.concatenate([np.abs(X.real).reshape(nb, -1),
                                   np.abs(X.imag).reshape(nb, -1)], axis=1)
            out["input_scale"] = quant.scale(np.percentile(mags, engine.percentile, axis=1),
                                             cfg.input_bits)
        if cfg.adc_full_scale == "calibrate":
            _, weights = self.prepared_weights()
            # only the sampled rows (the same for every batch) are quantized; a per-row
            # ('tile') scale needs only them, the others all of X
            m = calibration_sample(1, X.shape[1], 1)[1]
            Xs = Split(X.real[:, m], X.imag[:, m])
            s_x = input_scales(Xs if engine.input_scale == "tile" else X, engine.input_scale,
                               cfg.input_bits, out.get("input_scale"))
            hist = np.zeros(cfg.s_max + 1, np.int64)
            xr, xi = quant.quantize(Xs, s_x, cfg.input_bits)
            for ci, _, bs, i in self._batches():
                w = weights[i]
                b, _, n = calibration_sample(bs.stop - bs.start, X.shape[1], w.N)
                hist += column_sum_histogram(xr[bs, :, ci][b], xi[bs, :, ci][b],
                                             *w.sample(b, n), cfg, threads)
            out["adc_full_scale"] = quant.percentile_level(hist, engine.percentile, cfg.s_max)
        self.calibration = out
        return out
