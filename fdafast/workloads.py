"""Workloads: the layer shapes a cost model evaluates.

A workload is a list of :class:`Layer` objects, the layers whose arithmetic
runs on crossbars: convolutions (2D, 3D; stride, padding, dilation, groups)
and fully connected layers.  Pooling and activations are not layers here,
but they shape the inputs of the layers that follow.

>>> from fdafast import workloads
>>> [l.name for l in workloads.c3d()][:3]
['conv1a', 'conv2a', 'conv3a']
>>> workloads.vgg16()[1].input_shape
(64, 224, 224)
"""
import dataclasses
import functools
import math

from . import _tiling
from .crossbar_config import ConfigError

__all__ = ["Layer", "conv_layer", "c3d", "vgg16"]

KINDS = ("conv2d", "conv3d", "linear")


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer's shape.

    Parameters
    ----------
    name : str
    kind : {'conv2d', 'conv3d', 'linear'}
    cin, cout : int
        Input and output channels (features, for ``linear``).
    spatial : tuple of int
        Input spatial size, (H, W) or (D, H, W); ``()`` for ``linear``.
    kernel, stride, padding, dilation : tuple of int
        Per spatial axis (symmetric zero padding, as torch's int padding).
    groups : int
    batch : int
    pool : tuple of int, () or None
        Pooling applied to the output before the next layer reads it, as a factor
        per spatial axis (window = stride; the pooled size is ``ceil(out /
        pool)``, C3D's padded pool5 included); ``()``: none; None: not stated
        (the cost model infers it from the next layer's input,
        :func:`fdafast.cost.estimate`).
    """

    name: str
    kind: str
    cin: int
    cout: int
    spatial: tuple = ()
    kernel: tuple = ()
    stride: tuple = ()
    padding: tuple = ()
    dilation: tuple = ()
    groups: int = 1
    batch: int = 1
    pool: tuple = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"layer {self.name!r}: kind must be one of {KINDS}, "
                              f"got {self.kind!r}")
        nd = {"conv2d": 2, "conv3d": 3, "linear": 0}[self.kind]
        for f in ("spatial", "kernel", "stride", "padding", "dilation"):
            v = tuple(getattr(self, f))
            if not v and nd and f in ("stride", "padding", "dilation"):
                v = (0 if f == "padding" else 1,) * nd
            if len(v) != nd:
                raise ConfigError(f"layer {self.name!r}: {f} needs {nd} entries for a "
                                  f"{self.kind}, got {v}")
            object.__setattr__(self, f, v)
        for f in ("cin", "cout", "groups", "batch"):
            if not isinstance(getattr(self, f), int) or getattr(self, f) < 1:
                raise ConfigError(f"layer {self.name!r}: {f} must be a positive int, "
                                  f"got {getattr(self, f)!r}")
        if self.cin % self.groups or self.cout % self.groups:
            raise ConfigError(f"layer {self.name!r}: groups={self.groups} must divide "
                              f"cin={self.cin} and cout={self.cout}")
        if any(o < 1 for o in self.output_spatial):
            raise ConfigError(f"layer {self.name!r}: the kernel {self.kernel} does not fit "
                              f"the padded input {self.spatial} + 2*{self.padding}")
        if self.pool is not None:
            pool = tuple(self.pool)
            if pool and (len(pool) != nd or not all(isinstance(p, int) and p >= 1
                                                    for p in pool)):
                raise ConfigError(f"layer {self.name!r}: pool must be () or {nd} positive "
                                  f"ints, got {self.pool!r}")
            object.__setattr__(self, "pool", pool)

    @functools.cached_property
    def output_spatial(self):
        """Output spatial size (torch's formula; computed once, the layer is frozen)."""
        return tuple(_tiling.output_size(n, _tiling.dilated_extent(k, d), p, p, s)
                     for n, k, s, p, d in zip(self.spatial, self.kernel, self.stride,
                                              self.padding, self.dilation))

    @property
    def pooled_spatial(self):
        """Output spatial size after :attr:`pool` (the output size when there is none)."""
        if not self.pool:
            return self.output_spatial
        return tuple(-(-o // p) for o, p in zip(self.output_spatial, self.pool))

    @property
    def input_shape(self):
        """(C,) + spatial."""
        return (self.cin,) + self.spatial

    @property
    def output_shape(self):
        """(Cout,) + output spatial."""
        return (self.cout,) + self.output_spatial

    @property
    def macs(self):
        """Multiply-accumulates of the direct computation, for the whole batch."""
        per_out = (self.cin // self.groups) * math.prod(self.kernel)
        return self.batch * self.cout * math.prod(self.output_spatial) * per_out


def conv_layer(name, in_shape, weight_shape, stride, padding, dilation, groups, batch=1):
    """The :class:`Layer` of a convolution of weights ``weight_shape`` (Cout, Cin/groups,
    *kernel) on inputs ``in_shape`` (C, *spatial; no batch), torch's arguments per axis.

    A 1D convolution is costed as a 2D one of height 1 (the accelerator runs it
    on its 2D tiles, so :func:`fdafast.mapping.layer_tile` picks them).  An
    axis padded asymmetrically (``padding`` entry a ``(low, high)`` pair, as
    ONNX allows) is costed with ``min(low, high)`` padding on both sides and
    ``|high - low|`` more input samples: the same output size and
    multiply-accumulates, the extra zeros counted as input traffic.
    """
    nd = len(weight_shape) - 2
    if nd not in (1, 2, 3):
        raise ConfigError(f"layer {name!r}: {nd}D convolutions are not supported by the cost "
                          f"model (1D, 2D and 3D are)")
    spatial, pads = list(in_shape[1:]), []
    for a, p in enumerate(padding):
        lo, hi = (int(p[0]), int(p[1])) if isinstance(p, (tuple, list)) else (int(p), int(p))
        spatial[a] += abs(hi - lo)
        pads.append(min(lo, hi))
    unit = ((1,), (1,), (0,), (1,)) if nd == 1 else ((), (), (), ())
    return Layer(name, f"conv{max(nd, 2)}d", in_shape[0], weight_shape[0],
                 unit[0] + tuple(spatial), unit[1] + tuple(weight_shape[2:]),
                 unit[0] + tuple(stride), unit[2] + tuple(pads), unit[3] + tuple(dilation),
                 groups, batch)


def _conv3(name, cin, cout, dhw):
    return Layer(name, "conv3d", cin, cout, dhw, (3, 3, 3), (1, 1, 1), (1, 1, 1))


def _conv2(name, cin, cout, hw):
    return Layer(name, "conv2d", cin, cout, hw, (3, 3), (1, 1), (1, 1))


def c3d(num_classes=487, batch=1):
    """C3D (Tran et al., ICCV 2015) on one 3x16x112x112 clip.

    Eight 3x3x3 convolutions (padding 1) between max pools of (1,2,2), then
    (2,2,2) four times, the last with padding (0,1,1); then fc6 (8192 ->
    4096), fc7 (4096 -> 4096) and fc8 (4096 -> ``num_classes``; 487 for
    Sports-1M).
    """
    convs = [("conv1a", 3, 64, (16, 112, 112), (1, 2, 2)), ("conv2a", 64, 128, (16, 56, 56),
                                                                    (2, 2, 2)),
             ("conv3a", 128, 256, (8, 28, 28), ()), ("conv3b", 256, 256, (8, 28, 28), (2, 2, 2)),
             ("conv4a", 256, 512, (4, 14, 14), ()), ("conv4b", 512, 512, (4, 14, 14), (2, 2, 2)),
             ("conv5a", 512, 512, (2, 7, 7), ()), ("conv5b", 512, 512, (2, 7, 7), (2, 2, 2))]
    layers = [dataclasses.replace(_conv3(*c[:4]), batch=batch, pool=c[4]) for c in convs]
    layers += [Layer("fc6", "linear", 8192, 4096, batch=batch, pool=()),
               Layer("fc7", "linear", 4096, 4096, batch=batch, pool=()),
               Layer("fc8", "linear", 4096, num_classes, batch=batch, pool=())]
    return layers


def vgg16(num_classes=1000, batch=1):
    """VGG16 (Simonyan and Zisserman, ICLR 2015) on one 3x224x224 image.

    Thirteen 3x3 convolutions (padding 1) in five blocks separated by 2x2
    max pools, then fc6 (25088 -> 4096), fc7 and fc8.
    """
    cfg = [(3, 64, 224), (64, 64, 224), (64, 128, 112), (128, 128, 112), (128, 256, 56),
           (256, 256, 56), (256, 256, 56), (256, 512, 28), (512, 512, 28), (512, 512, 28),
           (512, 512, 14), (512, 512, 14), (512, 512, 14)]
    names = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
             "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]
    pooled = {"conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3"}
    layers = [dataclasses.replace(_conv2(n, ci, co, (s, s)), batch=batch,
                                  pool=(2, 2) if n in pooled else ())
              for n, (ci, co, s) in zip(names, cfg)]
    layers += [Layer("fc6", "linear", 25088, 4096, batch=batch, pool=()),
               Layer("fc7", "linear", 4096, 4096, batch=batch, pool=()),
               Layer("fc8", "linear", 4096, num_classes, batch=batch, pool=())]
    return layers
