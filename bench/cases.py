"""Benchmark cases as data, shared by ``bench_conv.py`` and ``python -m bench.conv``.

Every convolution is batch 1, float32, stride 1, torch semantics
(cross-correlation, zero padding).  Shapes follow the published networks:

* C3D (Tran et al., "Learning Spatiotemporal Features with 3D Convolutional
  Networks", ICCV 2015): 16-frame 112x112 clips, 3x3x3 kernels, padding 1;
  the spatial sizes are those after each pooling stage.
* VGG16 (Simonyan & Zisserman, ICLR 2015) and ResNet-50 (He et al., CVPR 2016)
  at 224x224 input, 3x3 kernels, padding 1.
* A 7x7 layer (padding 3), where FFT convolution should pay off the most.

Tile FFT cases are batches of tiles in fdafast's ``(count, T0, T1, T2)``
layout; a 2D tile is ``(1, T1, T2)``.
"""
import dataclasses
import math

import numpy as np

__all__ = ["ConvCase", "FftCase", "C3D", "CONV2D", "CONV_CASES", "FFT_CASES", "ALL_CASES",
           "GROUPS", "by_id", "select"]


@dataclasses.dataclass(frozen=True)
class ConvCase:
    """One convolution layer at batch ``batch``."""

    group: str          #: table the case is printed in ("C3D", "2D")
    net: str            #: network the layer comes from
    layer: str          #: layer name in that network
    cin: int
    cout: int
    kernel: int         #: kernel size along every spatial axis
    spatial: tuple      #: input spatial shape, (D, H, W) or (H, W)
    padding: int
    batch: int = 1

    @property
    def id(self):
        """Readable id used by pytest and ``--only``: ``c3d-conv2a``, ``vgg16-conv1_2``."""
        return f"{self.net}-{self.layer}".lower()

    @property
    def nd(self):
        return len(self.spatial)

    @property
    def input_shape(self):
        return (self.batch, self.cin) + tuple(self.spatial)

    @property
    def weight_shape(self):
        return (self.cout, self.cin) + (self.kernel,) * self.nd

    @property
    def shape_text(self):
        """``64->128 @ 16x56x56, k3 p1``."""
        sp = "x".join(map(str, self.spatial))
        return f"{self.cin}->{self.cout} @ {sp}, k{self.kernel} p{self.padding}"

    @property
    def flops(self):
        """Real flops of the direct convolution (2 per multiply-add), stride 1."""
        out = [n + 2 * self.padding - self.kernel + 1 for n in self.spatial]
        return 2 * self.batch * self.cout * self.cin * self.kernel ** self.nd * math.prod(out)

    def make(self, rng, dtype=np.float32):
        """Input ``x`` and weights ``w`` drawn from a standard normal."""
        x = rng.standard_normal(self.input_shape, dtype=np.float64).astype(dtype)
        scale = 1.0 / math.sqrt(self.cin * self.kernel ** self.nd)
        w = (rng.standard_normal(self.weight_shape, dtype=np.float64) * scale).astype(dtype)
        return x, w


@dataclasses.dataclass(frozen=True)
class FftCase:
    """A batch of ``count`` real tiles of shape ``tile`` (always 3 entries)."""

    group: str
    name: str
    tile: tuple         #: (T0, T1, T2); (1, T1, T2) for a 2D tile
    count: int

    @property
    def id(self):
        return f"fft-{self.name}"

    @property
    def shape(self):
        return (self.count,) + tuple(self.tile)

    @property
    def spectrum_shape(self):
        """Half spectrum per tile, as ``numpy.fft.rfftn`` over the last axes."""
        return (self.count,) + tuple(self.tile[:-1]) + (self.tile[-1] // 2 + 1,)

    @property
    def axes(self):
        """The transformed axes: the last three, or the last two for a 2D tile."""
        return (-2, -1) if self.tile[0] == 1 else (-3, -2, -1)

    @property
    def shape_text(self):
        t = "x".join(map(str, self.tile[1:] if self.tile[0] == 1 else self.tile))
        return f"{self.count} x {t}"

    def make(self, rng, dtype=np.float32):
        return rng.standard_normal(self.shape, dtype=np.float64).astype(dtype)


def _c3d(layer, cin, cout, spatial):
    return ConvCase("C3D", "C3D", layer, cin, cout, 3, spatial, 1)


C3D = (
    _c3d("conv1", 3, 64, (16, 112, 112)),
    _c3d("conv2a", 64, 128, (16, 56, 56)),
    _c3d("conv3a", 128, 256, (8, 28, 28)),
    _c3d("conv3b", 256, 256, (8, 28, 28)),
    _c3d("conv4a", 256, 512, (4, 14, 14)),
    _c3d("conv4b", 512, 512, (4, 14, 14)),
    _c3d("conv5a", 512, 512, (2, 7, 7)),
    _c3d("conv5b", 512, 512, (2, 7, 7)),
)

CONV2D = (
    ConvCase("2D", "VGG16", "conv1_2", 64, 64, 3, (224, 224), 1),
    ConvCase("2D", "VGG16", "conv2_1", 64, 128, 3, (112, 112), 1),
    ConvCase("2D", "VGG16", "conv3_1", 128, 256, 3, (56, 56), 1),
    ConvCase("2D", "VGG16", "conv4_1", 256, 512, 3, (28, 28), 1),
    ConvCase("2D", "ResNet50", "conv4_x", 256, 256, 3, (14, 14), 1),
    ConvCase("2D", "k7", "32x64", 32, 32, 7, (64, 64), 3),
)

FFT_CASES = (
    FftCase("tile FFT", "8x8x8", (8, 8, 8), 4096),
    FftCase("tile FFT", "16x16", (1, 16, 16), 4096),
)

CONV_CASES = C3D + CONV2D
ALL_CASES = CONV_CASES + FFT_CASES
#: Table order of the groups.
GROUPS = ("C3D", "2D", "tile FFT")


def by_id(case_id):
    """The case whose :attr:`id` is ``case_id``."""
    for c in ALL_CASES:
        if c.id == case_id:
            return c
    raise KeyError(f"no benchmark case {case_id!r}; known: {[c.id for c in ALL_CASES]}")


def select(cases, only=None):
    """Cases whose id contains ``only`` (case-insensitive); all of them for None."""
    if not only:
        return tuple(cases)
    return tuple(c for c in cases if only.lower() in c.id)
