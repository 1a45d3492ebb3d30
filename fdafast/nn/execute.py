"""Running a :class:`~fdafast.nn.graph.Network` in one of four modes.

=========  ===========================================================================
mode       convolutions and linear layers
=========  ===========================================================================
'direct'   float64 direct convolution and matmul (the reference)
'fft'      fdafast's float engine in the input's dtype (float32 or float64): tiled
           FFTs, and spatial GEMMs for the layers where the cost model expects them
           to be faster (:class:`fdafast.conv.FloatDirect`; small maps at batch 1)
'quant'    fixed-point spectra through ideal crossbars that never clip: weights and
           spectra quantized as in :mod:`fdafast.reram`, the integer products exact
'reram'    the bit-sliced crossbar emulation with the architecture's crossbars
           (ADC, cells, DACs) and any device non-idealities given
=========  ===========================================================================

In 'quant' and 'reram' modes convolutions run in the frequency domain on the
FFT tile the cost model assigns each layer (:func:`fdafast.mapping.layer_tile`:
the architecture's ``frequency.tile_2d`` / ``tile_3d``, or with
``tile_policy = 'per-layer'`` the cheapest tile up to them), and linear
layers on the same crossbars as real products (:func:`fdafast.crossbar.matmul`:
one row per input, one column set per weight, one cycle per input chunk, the
work the cost model costs).  Linear
layers quantize inputs per row and weights per output column.  Everything
else (pooling, activations, batch norm, residual adds) is digital and exact,
in float64 outside 'fft' mode.  Batch norms that follow a convolution are
folded into it first.

Device randomness: each layer's crossbars draw from their own seed,
:func:`layer_seed` of the run's ``seed`` and the node's name, so that no two
layers of the same shape share fault maps, programming variation or
read-noise draws (as distinct crossbars on a chip would not).

The execution state of a network lives here, not in the network (which is
plain data): an :class:`Executor` per network holds its batch-norm-folded
copy, the plans (weight spectra, quantized weights, crossbar bit planes)
built on a layer's first call and kept for later calls with the same mode,
settings and input shape, the work arrays all layers share, and a lock (one
run at a time).  :func:`executor` finds a network's executor and rebuilds it
when the network's weights change.
"""
import dataclasses
import threading
import weakref

import numpy as np

from .. import _rng, quant
from .._args import read_key_arg, threads_arg
from ..arch.spec import Accelerator, ArchError
from ..conv import ConvPlan
from ..crossbar import CrossbarConfig, PreparedWeights, column_sum_histogram, emulate
from ..engine import Workspace
from ..mapping import layer_tile
from ..errors import InvalidArgumentError, NonFiniteError, ShapeError
from ..reram import ReRAM, calibration_sample
from ..workloads import conv_layer
from . import functional as F

__all__ = ["run", "release", "executor", "Executor", "MODES", "Settings"]

MODES = ("direct", "fft", "quant", "reram")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a run depends on besides the input: mode, crossbars, tiles, seed, and the
    read-noise key (not part of a plan's identity: the plans programmed for one
    key read their cells under any other)."""

    mode: str
    engine: object = None          # ReRAM for 'quant' and 'reram'
    acc: object = None             # the Accelerator whose FFT tiles they use
    threads: object = None
    read_key: int = dataclasses.field(default=0, compare=False)


def exact_config(config):
    """``config`` with ideal devices and an ADC wide enough never to clip or round."""
    ideal = config.ideal()
    return ideal.replace(adc_bits=max(config.adc_bits, ideal.s_max.bit_length()))


def settings(mode, arch="fda", crossbar=None, seed=0, threads=None, force_emulation=False,
             calibrate=True, read_key=0, **engine_options):
    """Normalise run options into :class:`Settings`.

    ``crossbar``: a :class:`fdafast.CrossbarConfig`, or a dict of fields
    replacing those of the architecture's crossbars (e.g. ``adc_bits=6``,
    ``read_sigma=0.5``).  ``calibrate`` ('reram' only, default True): set each
    layer's ADC full scale from the first batch it sees (the engine's
    ``percentile`` of its column sums; :meth:`fdafast.ConvPlan.calibrate`)
    instead of the largest possible column sum, which with the presets' 8-bit
    ADCs rounds every small sum.  ``engine_options`` go to
    :class:`fdafast.ReRAM` (``weight_scale``, ``input_scale``,
    ``percentile``, ``bins_per_batch``).  ``read_key`` ('reram' only, default 0):
    which read-noise draw the crossbars make (:meth:`fdafast.ConvPlan.__call__`):
    runs with different keys read the same programmed cells with independent
    noise, as successive inferences on one chip do.
    """
    if mode not in MODES:
        raise InvalidArgumentError(f"mode must be one of {MODES}, got {mode!r}")
    threads = threads_arg(threads)
    read_key = read_key_arg(read_key)
    if mode in ("direct", "fft"):
        return Settings(mode, threads=threads)
    acc = Accelerator.resolve(arch)
    if acc.crossbar is None or acc.frequency is None:
        raise ArchError(f"mode {mode!r} needs a frequency-domain ReRAM accelerator; "
                        f"{acc.meta.name!r} is {acc.meta.kind!r}")
    if isinstance(crossbar, CrossbarConfig):
        cfg = crossbar
    else:
        cfg = acc.crossbar.config.replace(**dict(crossbar or {}))
    if mode == "quant":
        cfg = exact_config(cfg)
    elif calibrate and cfg.adc_full_scale is None and not cfg.exact:
        cfg = cfg.replace(adc_full_scale="calibrate")
    engine = ReRAM(cfg, seed=seed, force_emulation=force_emulation, **engine_options)
    return Settings(mode, engine, acc, threads, read_key)


def layer_seed(seed, name):
    """The device seed of the layer (node) ``name`` in a run seeded with ``seed``:
    ``hash64(seed, 6, h)`` with ``h`` the first 8 bytes of the BLAKE2b hash of the
    name (:func:`fdafast._rng.text_key`, the same in every process)."""
    return _rng.hash_int(seed, 6, _rng.text_key(name))


# -- the execution state of a network ---------------------------------------------------
class Executor:
    """What running one network keeps between calls (see the module docstring)."""

    def __init__(self, net):
        self.version = net.version
        self.graph = net.fold_batchnorm()
        self.plans = {}
        self.workspaces = {"float": Workspace(), "reram": Workspace()}
        self.lock = threading.Lock()

    def release(self, mode):
        """Drop the plans (and work arrays) kept for ``mode``."""
        for key in [k for k in self.plans if k[0].mode == mode]:
            del self.plans[key]
        self.workspaces["float" if mode in ("direct", "fft") else "reram"].clear()

    def conv_plan(self, node, shape, st, dtype):
        """The node's :class:`ConvPlan` for rows of ``shape`` (made on first use).

        In 'quant' and 'reram' the plan uses the tile the cost model assigns
        the layer; a 1D convolution, which the cost model runs on the 2D
        tiles (:func:`fdafast.workloads.conv_layer`), runs as a 2D one of
        height 1 on them (:func:`_as_2d`).
        """
        key = (st, node.name, shape, np.dtype(dtype).str)
        if key not in self.plans:
            w, a, b = node.params["weight"], node.attrs, node.params.get("bias")
            pads = F.pad_pairs(a["padding"], w.ndim - 2)
            stride, dilation, tile = a["stride"], a["dilation"], None
            if st.engine is not None:         # the tile the cost model assumes for the layer
                layer = conv_layer(node.name, shape, w.shape, stride, pads, dilation,
                                   a["groups"])
                if w.ndim == 3:
                    w, shape, stride, pads, dilation = _as_2d(w, shape, stride, pads, dilation)
                tile = layer_tile(layer, st.acc)[3 - (w.ndim - 2):]
            # the layers run one at a time (run() holds the lock): one workspace per
            # engine, grown to the largest layer's, serves them all
            # the ReRAM engine transforms its weights in float64 block by block: a
            # float64 copy of them would only add a layer-sized conversion
            engine = None if st.engine is None else dataclasses.replace(
                st.engine, seed=layer_seed(st.engine.seed, node.name))
            self.plans[key] = ConvPlan(
                np.asarray(w, dtype if st.engine is None else None), (None,) + tuple(shape),
                None if b is None else np.asarray(b, dtype), stride, pads, dilation,
                a["groups"], tile=tile, threads=st.threads, engine=engine,
                workspace=self.workspaces["float" if st.engine is None else "reram"])
        return self.plans[key]

    def linear_weights(self, node, st):
        """[weight scales, PreparedWeights, calibrated ADC full scale] of a linear layer."""
        key = (st, node.name, "linear")
        if key not in self.plans:
            cfg = st.engine.config
            w = np.asarray(node.params["weight"])                          # (N, K)
            peak = np.maximum(w.max(axis=1), -w.min(axis=1)).astype(np.float64)
            s_w = quant.scale(peak, cfg.weight_bits)
            # quantized straight into the crossbars' (K, N) layout: no transposed copy
            wq, _ = quant.quantize(w.T, s_w[None, :], cfg.weight_bits, np.int16)
            self.plans[key] = [s_w[None, :], PreparedWeights(
                wq[None], None, cfg, layer_seed(st.engine.seed, node.name)), None]
        return self.plans[key]


_executors = {}
_executors_lock = threading.Lock()


def executor(net):
    """The :class:`Executor` of ``net`` (made on first use; remade when its weights change)."""
    with _executors_lock:
        ex = _executors.get(id(net))
        if ex is None:
            # keyed by id: forget the executor when the network is collected
            weakref.finalize(net, _executors.pop, id(net), None)
        if ex is None or ex.version != net.version:
            ex = _executors[id(net)] = Executor(net)
        return ex


def _as_2d(w, shape, stride, pads, dilation):
    """A 1D convolution's arguments as those of a 2D one of height 1."""
    return (w[:, :, None], (shape[0], 1) + tuple(shape[1:]), (1,) + tuple(stride),
            ((0, 0),) + tuple(pads), (1,) + tuple(dilation))


def _conv(ex, node, xs, st, owned):
    a, x = node.attrs, xs[0]
    if st.mode == "direct":
        return F.direct_conv(x, node.params["weight"], node.params.get("bias"), a["stride"],
                             a["padding"], a["dilation"], a["groups"], threads=st.threads)
    dtype = x.dtype if st.mode == "fft" else np.float64
    plan = ex.conv_plan(node, x.shape[1:], st, dtype)
    x = x.astype(dtype, copy=False)
    if plan.nd == x.ndim - 1:                          # a 1D conv run as 2D (see conv_plan)
        x = x[:, :, None]
    # calibrated on the first batch it sees
    y = plan(x, calibrate=plan.engine.needs_calibration and plan.calibration is None,
             read_key=st.read_key)
    return y[:, :, 0] if y.ndim > xs[0].ndim else y


def _linear_full_scale(entry, xq, engine, threads):
    """The calibrated ADC full scale of a linear layer (set on its first batch)."""
    if entry[2] is None:
        w = entry[1]
        _, m, n = calibration_sample(1, xq.shape[0], w.N)
        hist = column_sum_histogram(xq[None][:, m], None, *w.sample([0], n), w.config,
                                    threads)
        entry[2] = quant.percentile_level(hist, engine.percentile, w.config.s_max)
    return entry[2]


def _linear(ex, node, xs, st, owned):
    x = xs[0]
    w, b = node.params["weight"], node.params.get("bias")
    if st.mode in ("direct", "fft"):
        dtype = np.float64 if st.mode == "direct" else x.dtype
        y = x.astype(dtype, copy=False) @ np.asarray(w, dtype).T
        return y if b is None else y + np.asarray(b, dtype)
    entry = ex.linear_weights(node, st)
    s_w, prepared = entry[0], entry[1]
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1]).astype(np.float64)
    s_x = quant.scale(np.abs(x2).max(axis=1), prepared.config.input_bits)[:, None]
    xq, _ = quant.quantize(x2, s_x, prepared.config.input_bits)
    full_scale = None
    if prepared.config.adc_full_scale == "calibrate":
        full_scale = _linear_full_scale(entry, xq, st.engine, st.threads)
    y = emulate(xq[None], None, prepared, st.threads, full_scale,
                force=st.engine.force_emulation, read_key=st.read_key)[0]
    y = y * s_x * s_w
    if b is not None:
        y = y + np.asarray(b, np.float64)
    return y.reshape(lead + (y.shape[-1],))


def _maxpool(ex, node, xs, st, owned):
    a = node.attrs
    return F.max_pool(xs[0], a["kernel"], a["stride"], a["padding"],
                      a.get("dilation") or (1,) * len(a["kernel"]), a["ceil_mode"])


def _avgpool(ex, node, xs, st, owned):
    a = node.attrs
    return F.avg_pool(xs[0], a["kernel"], a["stride"], a["padding"], a["ceil_mode"],
                      a.get("count_include_pad", True), a.get("divisor_override"),
                      a.get("dilation"))


def _adaptive_avgpool(ex, node, xs, st, owned):
    return F.adaptive_avg_pool(xs[0], F.adaptive_output_size(node.attrs["output_size"],
                                                             xs[0].shape[2:]))


def _act(ex, node, xs, st, owned):
    kw = {k: v for k, v in node.attrs.items() if k != "kind"}
    return F.activation(node.attrs["kind"], xs[0], in_place=owned, **kw)


def _batchnorm(ex, node, xs, st, owned):
    p = node.params
    return F.batch_norm(xs[0], p["running_mean"], p["running_var"], p["weight"], p["bias"],
                        eps=node.attrs["eps"])


def _const(node, name, x):
    """Parameter ``name`` of ``node`` in the dtype of ``x``."""
    return np.asarray(node.params[name], x.dtype)


def _layernorm(ex, node, xs, st, owned):
    x = xs[0]
    w = _const(node, "weight", x) if "weight" in node.params else None
    b = _const(node, "bias", x) if "bias" in node.params else None
    return F.layer_norm(x, node.attrs["axis"] % x.ndim, w, b, node.attrs.get("eps", 1e-5))


def _prelu(ex, node, xs, st, owned):
    return F.prelu(xs[0], _const(node, "weight", xs[0]), node.attrs.get("axis", 1))


def _binary(ex, node, xs, st, owned):
    a = xs[0]
    if len(xs) == 2:
        b = xs[1]
    else:
        b = _const(node, "other", a) if "other" in node.params else \
            a.dtype.type(node.attrs["value"])
    if node.attrs.get("swap"):
        a, b = b, a
    return np.asarray(F.BINARY[node.attrs["kind"]](a, b), xs[0].dtype)


def _flatten(ex, node, xs, st, owned):
    x = xs[0]
    start = node.attrs.get("start", 1) % x.ndim
    end = node.attrs.get("end", -1) % x.ndim
    return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])


def _reshape(ex, node, xs, st, owned):
    x, shape = xs[0], tuple(node.attrs["shape"])
    return x.reshape(((x.shape[0],) if -1 in shape else (-1,)) + shape)


def _pad(ex, node, xs, st, owned):
    x, a = xs[0], node.attrs
    pads = [(0, 0)] + [tuple(p) for p in a["pads"]]
    x = x[tuple(slice(max(0, -lo), x.shape[i] - max(0, -hi)) for i, (lo, hi) in
                enumerate(pads))]                                  # negative pads crop
    pads = [(max(0, lo), max(0, hi)) for lo, hi in pads]
    mode = a.get("mode", "constant")
    if mode == "constant":
        return np.pad(x, pads, constant_values=x.dtype.type(a.get("value", 0.0)))
    return np.pad(x, pads, mode=mode)


def _concat(ex, node, xs, st, owned):
    parts = node.attrs.get("parts")
    if parts is None:
        return np.concatenate(xs, axis=node.attrs["axis"])
    arrays = []
    for p in parts:                       # an input's index, or a constant's param name
        if isinstance(p, int):
            arrays.append(xs[p])
            continue
        c = np.asarray(node.params[p], xs[0].dtype)
        c = c[0] if c.ndim == xs[0].ndim else c           # its batch axis has size 1
        arrays.append(np.broadcast_to(c, (xs[0].shape[0],) + c.shape))
    return np.concatenate(arrays, axis=node.attrs["axis"])


def _reduce(ex, node, xs, st, owned):
    x, a = xs[0], node.attrs
    axes = tuple(sorted({ax % x.ndim for ax in a["axes"]}))
    return np.asarray(F.REDUCE[a["kind"]](x, axis=axes, keepdims=bool(a.get("keepdims", True))),
                      x.dtype)


def _softmax(ex, node, xs, st, owned):
    x, a = xs[0], node.attrs
    axis = a.get("axis", 1) % x.ndim
    fn = F.log_softmax if a.get("log") else F.softmax
    if a.get("flatten"):                     # ONNX before opset 13: over axis.. jointly
        return fn(x.reshape(x.shape[:axis] + (-1,)), axis).reshape(x.shape)
    return fn(x, axis)


#: How each operation runs: handler(executor, node, inputs, settings, owned) -> output;
#: ``owned``: the single input may be overwritten.
HANDLERS = {
    "conv": _conv, "linear": _linear, "maxpool": _maxpool, "avgpool": _avgpool,
    "adaptive_avgpool": _adaptive_avgpool, "act": _act, "batchnorm": _batchnorm,
    "layernorm": _layernorm, "prelu": _prelu, "binary": _binary, "flatten": _flatten,
    "reshape": _reshape, "pad": _pad, "reduce": _reduce, "softmax": _softmax,
    "add": lambda ex, node, xs, st, owned: sum(xs[1:], xs[0]),
    "concat": _concat,
    "transpose": lambda ex, node, xs, st, owned: xs[0].transpose(node.attrs["perm"]),
    "slice": lambda ex, node, xs, st, owned: xs[0][(slice(None),) + tuple(
        slice(*s) for s in node.attrs["slices"])],
    "gather": lambda ex, node, xs, st, owned: np.take(xs[0], node.attrs["indices"],
                                                       axis=node.attrs["axis"]),
    "dropout": lambda ex, node, xs, st, owned: xs[0],
    "identity": lambda ex, node, xs, st, owned: xs[0],
}


def _input(net, x, mode):
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.dtype.kind == "b":
        raise InvalidArgumentError(f"input must be a real array, got dtype {x.dtype}")
    want = net.input_shape
    if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want:
        raise ShapeError(f"network {net.name!r} expects inputs of shape (N,) + {want}, got "
                         f"{x.shape}")
    if not np.all(np.isfinite(x)):
        raise NonFiniteError(f"input to network {net.name!r} contains NaN or Inf")
    if mode == "fft":
        return x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)
    return x.astype(np.float64)


def release(net, mode):
    """Drop the plans (and work arrays) kept for running ``net`` in ``mode``."""
    executor(net).release(mode)


def run(net, x, mode="fft", *, capture=False, progress=None, **options):
    """Run ``net`` on the batch ``x`` in ``mode``.

    Parameters
    ----------
    x : array_like
        ``(N,) + net.input_shape``, finite.
    mode : {'direct', 'fft', 'quant', 'reram'}
        See the module docstring.
    capture : bool
        Also return ``{node: output}`` of every conv and linear node.
    progress : callable, optional
        Called as ``progress(node_name)`` after every conv and linear node
        (e.g. to advance a progress bar).
    options
        ``arch`` (preset name or Accelerator, default 'fda'), ``crossbar``
        (CrossbarConfig or field overrides), ``seed``, ``read_key``, ``threads``,
        ``force_emulation`` and :class:`fdafast.ReRAM` options; see
        :func:`settings`.

    Returns
    -------
    ndarray, or (ndarray, dict) with ``capture``
    """
    st = settings(mode, **options)
    x = _input(net, x, mode)
    ex = executor(net)
    with ex.lock:
        return _run(ex, x, st, capture, progress)


def _run(ex, x, st, capture, progress=None):
    graph = ex.graph
    values = {graph.nodes[0].name: x}
    captured = {}
    readers = {}
    for n in graph.nodes:
        for i in n.inputs:
            readers[i] = readers.get(i, 0) + 1
    mine = set()                                   # arrays this run made (not the caller's)
    for node in graph.nodes[1:]:
        xs = [values[i] for i in node.inputs]
        for i in node.inputs:                      # free what nothing reads again
            readers[i] -= 1
            if readers[i] == 0 and i != graph.output:
                values.pop(i)
        owned = (len(node.inputs) == 1 and node.inputs[0] not in values
                 and node.inputs[0] in mine and node.inputs[0] not in captured)
        values[node.name] = HANDLERS[node.op](ex, node, xs, st, owned)
        mine.add(node.name)
        if node.op in ("conv", "linear"):
            if capture:
                captured[node.name] = values[node.name]
            if progress is not None:
                progress(node.name)
    out = values[graph.output]
    return (out, captured) if capture else out
