"""Spatial (direct) convolution through im2col and BLAS GEMMs: :class:`FloatDirect`.

Where the overlap-save FFT saves little arithmetic, a convolution is cheaper
computed where it is defined.  At batch 1 on a small feature map (C3D's
conv5 layers: 512 channels on 2x7x7) FFT tiles of 4 samples per axis keep
only 2 valid outputs each, so the per-bin products do about as many real
multiply-adds as the direct sum (24 against 27 per output and channel pair)
while the weight spectra (100 MB) outweigh the spatial weights (28 MB) they
stream on every call.  :class:`FloatDirect` computes such layers as one GEMM
per group::

    y[n, g*cog + o, p] = sum_{c, k} W[g*cog + o, c, k] * x_pad[n, g*cig + c, p*s + k*d]

the ``cog x (cig * taps)`` weight matrix times the gathered input columns
(``im2col``).  The columns are gathered in one of two layouts
(:func:`choose_layout`), whichever copies the longer runs:

- 'channels-first': a row per input channel and tap, a column per output
  position, from the input as given; the copies run along output rows (W);
- 'channels-last': a row per output position, a column per tap and input
  channel, from a channels-last copy of the input; the copies run along the
  input channels.  The GEMM reads this matrix transposed.

Strided layers compute only the strided outputs.  :class:`fdafast.ConvPlan`
chooses it over :class:`fdafast.conv.FloatFFT` where the cost model says so
(:func:`fdafast._tiling.direct_cost`); ``nn`` runs its float64 'direct'
reference through :func:`conv_direct` too.

The GEMMs run on numpy's BLAS, one thread per call, over a grid of blocks of
output channels and positions that depends on the shapes alone, shared out
over the caller's threads (:func:`fdafast._blas.share_out`): the results do
not depend on the thread count.
"""
import math
import time

import numpy as np

from . import _blas, _kernels
from ._checks import integer
from ._kernels.im2col import gather_columns, gather_rows
from ._tiling import to3
from .engine import Engine, Prepared, Workspace
from .errors import InvalidArgumentError

__all__ = ["FloatDirect", "conv_direct", "choose_layout", "LAYOUTS", "DEFAULT_COLUMN_BYTES"]

#: Default cap on the gathered input columns held at once (bytes).
DEFAULT_COLUMN_BYTES = 64 * 2 ** 20
#: Columns gathered per thread at least (bytes); smaller gathers run on fewer threads.
GATHER_BYTES_PER_THREAD = 4 * 2 ** 20
#: Output channels and positions of one GEMM (:func:`product_blocks`): big enough for
#: BLAS to run near its peak, small enough to share a layer's product out over threads.
GEMM_ROWS, GEMM_POSITIONS = 256, 4096
#: The layouts of the gathered columns (see the module docstring).
LAYOUTS = ("channels-first", "channels-last")


def choose_layout(cig, ow):
    """The layout whose gather copies the longer runs: 'channels-last' (runs of the
    ``cig`` input channels of a group) where ``cig > ow`` (the outputs along W),
    else 'channels-first'.  Both gather the same values; the GEMMs then add them
    in a different order."""
    return "channels-last" if cig > ow else "channels-first"


def _blocks(batch, out3, per_position, budget):
    """Blocks ``(n0, n1, d0, d1, h0, h1)`` of images and output rows whose columns fit
    ``budget`` bytes, in order (a generator): whole images where one fits (as many
    as fit), else runs of depth planes, else runs of rows of one plane (at least
    one row: a row's columns are the least the GEMM can take).  The first block is
    the largest (:func:`_largest_block`)."""
    o0, o1, o2 = out3
    plane = o1 * o2 * per_position
    if o0 * plane <= budget:
        step = max(1, budget // (o0 * plane))
        for n in range(0, batch, step):
            yield n, min(batch, n + step), 0, o0, 0, o1
    elif plane <= budget:
        step = max(1, budget // plane)
        for n in range(batch):
            for d in range(0, o0, step):
                yield n, n + 1, d, min(o0, d + step), 0, o1
    else:
        step = max(1, budget // (o2 * per_position))
        for n in range(batch):
            for d in range(o0):
                for h in range(0, o1, step):
                    yield n, n + 1, d, d + 1, h, min(o1, h + step)


def _largest_block(batch, out3, per_position, budget):
    """Output positions of :func:`_blocks`' largest (first) block, without listing
    the blocks (``batch`` >= 1)."""
    n0, n1, d0, d1, h0, h1 = next(_blocks(batch, out3, per_position, budget))
    return (n1 - n0) * (d1 - d0) * (h1 - h0) * out3[2]


def _layout_arg(layout, none_ok=False):
    if (layout is None and none_ok) or layout in LAYOUTS:
        return layout
    raise InvalidArgumentError(f"layout must be {'None or ' if none_ok else ''}one of "
                               f"{LAYOUTS}, got {layout!r}")


def conv_direct(x, wmat, bias, out, *, kernel3, pad3, stride3, dilation3, threads,
                layout="channels-first", column_bytes=DEFAULT_COLUMN_BYTES, workspace=None,
                phases=None):
    """Direct convolution of a batch into ``out``; the private kernel under the engine.

    Parameters
    ----------
    x : ndarray, shape (N, C, D, H, W)
        The input in the computation's dtype (1D and 2D problems with leading
        unit axes).
    wmat : ndarray, shape (groups, Cout/groups, C/groups * k0 * k1 * k2)
        The weights as GEMM matrices in ``layout``'s order
        (:func:`weight_matrix`).
    bias : ndarray, shape (Cout,), or None
    out : ndarray, shape (N, Cout, o0, o1, o2)
        Written in full.
    kernel3, pad3, stride3, dilation3 : tuples of 3 ints
        Kernel taps, low zero padding, stride and dilation per axis (D, H, W).
    threads : int
    layout : {'channels-first', 'channels-last'}
        How the columns are gathered (module docstring); ``wmat`` must be in
        this layout's order.
    column_bytes : int
        Cap on the gathered columns held at once (:func:`_blocks`).
    workspace : fdafast.engine.Workspace, optional
        Where the columns and the GEMM results are kept between calls.
    phases : dict, optional
        Wall seconds added: 'forward' (gathering the columns, zero padding included),
        'mac' (the GEMMs), 'inverse' (bias and writing the outputs).  The
        channels-last copy of a block's images counts in 'forward'.
    """
    clock = time.perf_counter
    x = np.ascontiguousarray(x)                  # the gathers index flat, C-ordered views
    n, cin = x.shape[:2]
    groups, cog, k = wmat.shape
    cout, taps = groups * cog, math.prod(kernel3)
    out3 = out.shape[2:]
    workspace = Workspace() if workspace is None else workspace
    seconds = dict.fromkeys(("forward", "mac", "inverse"), 0.0)
    geometry = [np.asarray(v, np.int64) for v in (kernel3, pad3, stride3, dilation3)]
    last = _layout_arg(layout) == "channels-last"
    held = None                  # the images whose channels-last copy is in ``xcl``
    for blk in _blocks(n, out3, cin * taps * x.dtype.itemsize, column_bytes):
        n0, n1, d0, d1, h0, h1 = blk
        t0 = clock()
        shape = (n1 - n0, d1 - d0, h1 - h0, out3[2])
        npos = math.prod(shape)
        buf = workspace.get("direct-columns", (npos, cin * taps) if last else (cin * taps, npos),
                            x.dtype)
        # a parallel gather pays off only on a few MiB per thread: below that,
        # waking the threads costs more than the copy (and much more on a busy
        # machine), and the OpenMP threads then spin on past the gather, slowing the
        # GEMMs that follow (measured: conv5a's 5.4 MB of columns on 2 threads
        # instead of 1 took the whole call from 10.5 ms to 19 ms)
        _kernels.set_threads(max(1, min(threads, buf.nbytes // GATHER_BYTES_PER_THREAD)))
        blk_arr = np.asarray(blk, np.int64)
        if last:
            if held != (n0, n1):             # the block's images, channels last
                xcl = workspace.get("direct-input", (n1 - n0,) + x.shape[2:] + (cin,),
                                    x.dtype)
                np.copyto(xcl, x[n0:n1].transpose(0, 2, 3, 4, 1))
                held = (n0, n1)
            blk_arr[:2] -= n0
            gather_rows(xcl, buf, blk_arr, *geometry, out3[2], groups)
            cols = buf.reshape(npos, groups, k).transpose(1, 2, 0)   # a transposed view
        else:
            gather_columns(x, buf, blk_arr, *geometry, out3[2])
            cols = buf.reshape(groups, k, npos)
        t1 = clock()
        whole = n1 - n0 == 1 and npos == math.prod(out3)   # one whole image: in place
        res = out[n0].reshape(groups, cog, npos) if whole else \
            workspace.get("direct-result", (groups, cog, npos), x.dtype)
        _products(wmat, cols, res, threads)
        t2 = clock()
        dst = out[n0:n1, :, d0:d1, h0:h1].transpose(1, 0, 2, 3, 4)   # (cout, nb, bd, bh, o2)
        b5 = None if bias is None else bias.reshape(cout, 1, 1, 1, 1)
        if whole:
            if b5 is not None:
                dst += b5
        elif b5 is None:
            np.copyto(dst, res.reshape((cout,) + shape))
        else:
            np.add(res.reshape((cout,) + shape), b5, out=dst)
        seconds["forward"] += t1 - t0
        seconds["mac"] += t2 - t1
        seconds["inverse"] += clock() - t2
    if phases is not None:
        for name, t in seconds.items():
            phases[name] += t
    return out


def _products(wmat, cols, res, threads):
    """``res[g] = wmat[g] @ cols[g]`` for every group, in GEMMs over a fixed grid of
    :func:`product_blocks` shared out over the threads: each output is computed by
    the same BLAS call whatever the thread count."""
    items = product_blocks(*wmat.shape[:2], cols.shape[2])

    def work(share):
        for g0, g1, c0, c1, p0, p1 in share:
            np.matmul(wmat[g0:g1, c0:c1], cols[g0:g1, :, p0:p1], out=res[g0:g1, c0:c1, p0:p1])
    _blas.share_out(work, items, threads)


def product_blocks(groups, cog, npos):
    """The GEMMs of one block of columns: ``(g0, g1, c0, c1, p0, p1)``, groups by output
    channels by positions, :data:`GEMM_ROWS` output channels (of one group, or of as
    many whole groups as fit) by :data:`GEMM_POSITIONS` positions each.  The grid
    depends on the shapes only, never on the thread count."""
    gstep = max(1, GEMM_ROWS // cog)
    cstep = min(cog, GEMM_ROWS)
    return [(g, min(groups, g + gstep), c, min(cog, c + cstep), p, min(npos, p + GEMM_POSITIONS))
            for g in range(0, groups, gstep) for c in range(0, cog, cstep)
            for p in range(0, npos, GEMM_POSITIONS)]


def weight_matrix(w, groups, dtype, layout="channels-first"):
    """Weights (Cout, Cin/groups, k0, k1, k2) as the GEMM matrices :func:`conv_direct`
    takes for ``layout``: (groups, Cout/groups, Cin/groups * k0 * k1 * k2) in ``dtype``,
    columns ordered (input channel, k0, k1, k2) for 'channels-first' and
    (k0, k1, k2, input channel) for 'channels-last'."""
    _layout_arg(layout)
    cout, cig = w.shape[:2]
    m = w.reshape(groups, cout // groups, cig, -1)
    if layout == "channels-last":
        m = m.transpose(0, 1, 3, 2)
    return np.ascontiguousarray(m, dtype).reshape(groups, cout // groups, -1)


class FloatDirect(Engine):
    """The spatial float engine: im2col and BLAS GEMMs in the input's dtype.

    Chosen by :class:`fdafast.ConvPlan` for the layers where the cost model
    expects it to beat the tiled FFTs (see the module docstring), or given
    as ``engine=FloatDirect()``.  The plan's ``tile`` is then unused.

    Parameters
    ----------
    column_bytes : int
        Cap on the gathered input columns held at once; larger problems run
        in blocks of images or output rows (default 64 MiB).
    layout : {None, 'channels-first', 'channels-last'}
        How the input columns are gathered (module docstring); None (default)
        chooses per layer (:func:`choose_layout`).  The layouts give the same
        result up to rounding: the GEMMs add the products in another order.
    """

    def __init__(self, column_bytes=DEFAULT_COLUMN_BYTES, layout=None):
        self.column_bytes = integer("column_bytes", column_bytes, 1, error=InvalidArgumentError)
        self.layout = _layout_arg(layout, none_ok=True)

    def __repr__(self):
        return f"FloatDirect(column_bytes={self.column_bytes}, layout={self.layout!r})"

    def prepare(self, geometry, weight, bias, threads, workspace):
        prepared = _DirectPrepared(self, geometry, weight, bias, workspace)
        prepared.matrix(weight.dtype)            # the weights' own dtype, up front
        return prepared


class _DirectPrepared(Prepared):
    """GEMM weight matrices per dtype, and the calls of :func:`conv_direct`."""

    def __init__(self, engine, geometry, weight, bias, workspace):
        self.engine, self.geometry = engine, geometry
        self.weight, self.bias, self.workspace = weight, bias, workspace
        self.layout = engine.layout or choose_layout(geometry.cin // geometry.groups,
                                                     geometry.out3[2])
        self._matrices = {}

    def matrix(self, dtype):
        if dtype not in self._matrices:
            self._matrices[dtype] = weight_matrix(self.weight, self.geometry.groups, dtype,
                                                  self.layout)
        return self._matrices[dtype]

    def nbytes_needed(self, batch, dtype):
        """The output, the gathered columns of the largest block and, channels last, the
        copy of the block's images (the work arrays a first run adds to the workspace)."""
        g = self.geometry
        item = np.dtype(dtype).itemsize
        per_position = g.cin * math.prod(self.weight.shape[2:]) * item
        cols = per_position * _largest_block(batch, g.out3, per_position,
                                             self.engine.column_bytes)
        images = batch * g.cin * math.prod(g.in3) * item if self.layout == "channels-last" \
            else 0
        return super().nbytes_needed(batch, dtype) + cols + images

    def run(self, x, threads, phases=None, read_key=0):      # no read noise: key unused
        g = self.geometry
        dtype = x.dtype
        x3 = np.ascontiguousarray(x).reshape(x.shape[:2] + g.in3)
        y = np.empty((x.shape[0], g.cout) + g.out_spatial, dtype)
        bias = None if self.bias is None else np.ascontiguousarray(self.bias, dtype)
        conv_direct(x3, self.matrix(dtype), bias, y.reshape(y.shape[:2] + g.out3),
                    kernel3=self.weight.shape[2:], pad3=g.pad3, stride3=g.stride3,
                    dilation3=g.dilation3, threads=threads, layout=self.layout,
                    column_bytes=self.engine.column_bytes, workspace=self.workspace,
                    phases=phases)
        return y


def as3(x, w, pads, stride, dilation):
    """A 1D/2D problem's arrays and per-axis values as 3D ones with leading unit axes
    (``pads``: per-axis ``(low, high)`` pairs; the low ones are returned)."""
    nd = w.ndim - 2
    x3 = x.reshape(x.shape[:2] + (1,) * (3 - nd) + x.shape[2:])
    w3 = w.reshape(w.shape[:2] + (1,) * (3 - nd) + w.shape[2:])
    return (x3, w3, to3(tuple(lo for lo, _ in pads), 0), to3(tuple(stride), 1),
            to3(tuple(dilation), 1))
