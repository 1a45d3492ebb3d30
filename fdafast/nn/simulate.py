"""One call for what a network computes on the simulated accelerator and what it costs.

>>> import numpy as np, fdafast
>>> net = fdafast.nn.zoo.tiny3d(num_classes=4)
>>> x = np.random.default_rng(0).random((2,) + net.input_shape)
>>> r = fdafast.simulate(net, x, arch="fda", mode="quant")
>>> r.output.shape, sorted(r.errors)[:1], r.report.totals["layers"]
((2, 4), ['conv1'], 3)
"""
import collections
import dataclasses

import numpy as np

from .. import metrics
from .._args import positive_int, read_key_arg
from .._rng import part_key
from ..arch import Accelerator
from ..cost import estimate
from ..errors import InvalidArgumentError, ShapeError
from ..metrics import LayerError
from .execute import release, run
from .graph import Network

__all__ = ["simulate", "SimulationResult", "LayerError", "sliding_clips", "simulate_video",
           "VideoResult"]


@dataclasses.dataclass
class SimulationResult:
    """What :func:`simulate` returns.

    Attributes
    ----------
    output, reference : ndarray
        The network's output in the simulated mode and on the float32 path ('fft').
    errors : dict
        Conv/linear node name -> :class:`LayerError` of its output (errors of
        earlier layers included, as the hardware would propagate them).
    report : fdafast.cost.Report
        The cost of the whole batch (:func:`fdafast.estimate` on ``net.layers``).
    mode, arch : str
    """

    output: np.ndarray
    reference: np.ndarray
    errors: dict
    report: object
    mode: str
    arch: str

    @property
    def output_error(self):
        """:class:`LayerError` of the network's output (:func:`fdafast.metrics.layer_error`)."""
        return metrics.layer_error(self.output, self.reference)

    def top1_agreement(self):
        """Fraction of batch items whose arg-max class equals the reference's
        (:func:`fdafast.metrics.top1_agreement`)."""
        return metrics.top1_agreement(self.output, self.reference)


def _batches(x, batch_size):
    n = len(x)
    if n < 1:
        raise ShapeError(f"the input batch is empty (shape {x.shape})")
    step = n if batch_size is None else positive_int(batch_size, "batch_size")
    for i in range(0, n, step):
        yield x[i:i + step]


def _hardware(acc, options):
    """Move crossbar overrides that describe hardware (``adc_bits``, ``cell_bits``...)
    into the accelerator, so that what is computed and what is costed agree; device
    effects (``read_sigma``...) stay with the emulation."""
    xb = options.get("crossbar")
    if not isinstance(xb, dict) or acc.crossbar is None:
        return acc, options
    fields = set(type(acc.crossbar).HARDWARE)
    hw = {k: v for k, v in xb.items() if k in fields}
    if hw:
        acc = acc.replace(**{f"crossbar.{k}": v for k, v in hw.items()})
    rest = {k: v for k, v in xb.items() if k not in fields}
    return acc, {**options, "crossbar": rest or None}


def _tagged(progress, stage):
    return None if progress is None else (lambda layer: progress(stage, layer))


def simulate(net, x, arch="fda", mode="reram", *, batch_size=None, progress=None, **options):
    """Run ``net`` on ``x`` on the simulated accelerator and cost it.

    Parameters
    ----------
    net : Network
    x : array_like
        A batch ``(N,) + net.input_shape`` (clips or images).
    arch : str or Accelerator
        The accelerator (default the ``fda`` preset); its crossbars and FFT
        tiles drive 'quant' and 'reram', and it is what the cost report
        describes.
    mode : {'direct', 'fft', 'quant', 'reram'}
        See :mod:`fdafast.nn.execute`.
    batch_size : int, optional
        Items run together (bounds memory); all of ``x`` by default.  The
        float reference runs first over all batches (its per-layer outputs are
        kept for the errors) and its plans are released before the simulated
        mode runs, so the two never hold their plans at once.
    progress : callable, optional
        ``progress(stage, layer)`` after every conv/linear layer of each pass,
        ``stage`` being 'reference' or the mode.
    options
        For :func:`fdafast.nn.run`: ``crossbar`` (overrides, e.g.
        ``dict(adc_bits=6, read_sigma=0.3)``; fields of the accelerator's
        crossbars, like ``adc_bits``, change the accelerator too, so the cost
        report describes the same hardware), ``seed``, ``threads``,
        ``read_key`` (the batch from item i on reads its crossbars with
        the read noise of ``fdafast._rng.part_key(read_key, i)``: batches
        never share read-noise draws) and :class:`fdafast.ReRAM` options.

    Returns
    -------
    SimulationResult
    """
    if not isinstance(net, Network):
        raise InvalidArgumentError(f"net must be a fdafast.nn.Network, got {type(net).__name__}")
    acc, options = _hardware(Accelerator.resolve(arch), options)
    key = read_key_arg(options.pop("read_key", 0))
    x = np.asarray(x)
    if x.ndim != len(net.input_shape) + 1:
        raise ShapeError(f"network {net.name!r} expects a batch of shape (N,) + "
                         f"{net.input_shape}, got {x.shape}")
    # the float reference first, for every batch; its plans are then dropped so that
    # they never sit beside the emulation's (together they would double the memory)
    refs, ref_caps = [], collections.defaultdict(list)
    for xb in _batches(x, batch_size):
        ref, rc = run(net, np.asarray(xb, np.float32), "fft", capture=True,
                      threads=options.get("threads"), progress=_tagged(progress, "reference"))
        refs.append(ref)
        for k, v in rc.items():
            ref_caps[k].append(v)
    if mode != "fft":
        release(net, "fft")
    outs, caps, first = [], collections.defaultdict(list), 0
    for xb in _batches(x, batch_size):
        y, yc = run(net, xb, mode, capture=True, arch=acc, progress=_tagged(progress, mode),
                    read_key=part_key(key, first), **options)
        first += len(xb)
        outs.append(y)
        for k, v in yc.items():
            caps[k].append(v)
    errors = {k: metrics.layer_error(_joined(caps[k]), _joined(ref_caps[k])) for k in ref_caps}
    report = estimate(net.layers(batch=len(x)), acc)
    return SimulationResult(np.concatenate(outs), np.concatenate(refs), errors, report, mode,
                            acc.meta.name)


def _joined(parts):
    """The batches' arrays as one (no copy for a single batch)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# -- videos longer than a clip ----------------------------------------------------------------------
def sliding_clips(frames, clip_len, stride=None):
    """Yield ``(start, clip)`` windows of ``clip_len`` frames every ``stride`` frames.

    ``frames`` is an iterable of (C, H, W) frames or an array (C, T, H, W);
    only one window of frames is held at a time, so memory does not grow
    with the video.  ``clip`` is (C, clip_len, H, W).
    """
    stride = clip_len if stride is None else stride
    for name, v in (("clip_len", clip_len), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InvalidArgumentError(f"{name} must be a positive int, got {v!r}")
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ShapeError(f"a video array must be (C, T, H, W), got shape {frames.shape}")
        video = frames
        frames = (video[:, t] for t in range(video.shape[1]))
    window = collections.deque(maxlen=clip_len)
    next_start = 0
    for t, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.ndim != 3:
            raise ShapeError(f"frame {t} must be (C, H, W), got shape {frame.shape}")
        window.append(frame)
        start = t - clip_len + 1
        if start == next_start:
            yield start, np.stack(window, axis=1)
            next_start += stride


@dataclasses.dataclass
class VideoResult:
    """What :func:`simulate_video` returns: per-clip outputs and the cost of one clip."""

    starts: list
    outputs: np.ndarray
    report_per_clip: object

    @property
    def clips(self):
        return len(self.starts)


def simulate_video(net, frames, arch="fda", mode="reram", *, stride=None, **options):
    """Run ``net`` over a long video clip by clip (see :func:`sliding_clips`).

    The clip length is the network's input depth (``net.input_shape[1]``);
    frames must match its channels and size.  The clip from frame ``s`` reads
    the crossbars with the read noise of ``fdafast._rng.part_key(read_key, s)``
    (``read_key`` among ``options``, default 0): clips never share read-noise
    draws.  Returns :class:`VideoResult`; the cost of the whole video is
    ``clips`` times ``report_per_clip``.
    """
    if len(net.input_shape) != 4:
        raise ShapeError(f"simulate_video needs a 3D network with (C, T, H, W) inputs; "
                         f"{net.name!r} takes {net.input_shape}")
    acc, options = _hardware(Accelerator.resolve(arch), options)
    key = read_key_arg(options.pop("read_key", 0))
    starts, outs = [], []
    for start, clip in sliding_clips(frames, net.input_shape[1], stride):
        outs.append(run(net, clip[None], mode, arch=acc, read_key=part_key(key, start),
                        **options)[0])
        starts.append(start)
    if not starts:
        raise ShapeError(f"the video has fewer frames than one clip ({net.input_shape[1]})")
    return VideoResult(starts, np.stack(outs), estimate(net.layers(batch=1), acc))
