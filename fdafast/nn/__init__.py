"""Whole networks: a layer graph, a zoo, importers, and execution on the simulated hardware.

>>> import numpy as np, fdafast
>>> net = fdafast.nn.zoo.tiny3d(num_classes=4)
>>> x = np.random.default_rng(0).random((1,) + net.input_shape, dtype=np.float32)
>>> net.run(x, mode="fft").shape
(1, 4)
"""
from . import datasets, functional, zoo
from .execute import MODES, run
from .from_onnx import from_onnx
from .from_torch import from_torch
from .to_torch import to_torch
from .graph import GraphError, Network, Node, WeightsError
from .simulate import (LayerError, SimulationResult, VideoResult, simulate, simulate_video,
                       sliding_clips)

__all__ = ["Network", "Node", "GraphError", "WeightsError", "MODES", "run", "zoo",
           "functional", "datasets", "from_torch", "from_onnx", "to_torch", "simulate", "simulate_video",
           "sliding_clips", "SimulationResult", "LayerError", "VideoResult"]
