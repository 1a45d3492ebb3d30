"""fdafast: fast simulation of frequency-domain ReRAM CNN accelerators.

The first layer is a tiled FFT convolution engine with the semantics of
``torch.nn.functional.conv1d``/``conv2d``/``conv3d`` on numpy arrays:

>>> import numpy as np, fdafast
>>> x = np.ones((1, 2, 8, 8), np.float32)
>>> w = np.ones((3, 2, 3, 3), np.float32)
>>> fdafast.conv2d(x, w, padding=1).shape
(1, 3, 8, 8)

See :class:`fdafast.ConvPlan` to plan a layer once and run it many times.
"""
from ._dispatch import show_config
from . import arch, cost, crossbar, data, dataflow, fft, nn, video, workloads
from .arch import Accelerator, presets
from .conv import ConvPlan, conv1d, conv2d, conv3d
from .cost import compare, estimate
from .evaluation import evaluate
from .nn import Network, from_onnx, from_torch, simulate, simulate_video
from .crossbar import CrossbarConfig, CrossbarCounts
from .reram import ReRAM
from .errors import (DTypeError, FdafastError, InvalidArgumentError, NativeError,
                     NonFiniteError, ShapeError, TileError)

__version__ = "0.1.0"

__all__ = [
    "ConvPlan", "conv1d", "conv2d", "conv3d", "fft", "crossbar", "CrossbarConfig",
    "CrossbarCounts", "ReRAM", "arch", "data", "video", "Accelerator", "presets", "workloads",
    "dataflow", "cost", "estimate", "compare", "evaluate", "nn", "Network", "simulate",
    "simulate_video", "from_torch", "from_onnx",
    "FdafastError", "InvalidArgumentError", "ShapeError", "DTypeError", "NonFiniteError",
    "TileError", "NativeError", "show_config", "__version__",
]
