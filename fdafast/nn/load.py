"""A network and its input batch from what a user names: a zoo model or an .onnx file;
a .npy batch, a shape, or nothing (random inputs).

The command line and the sweeps both load through these two functions.

>>> from fdafast.nn.load import load_input, load_model
>>> net = load_model("tiny3d", num_classes=4)
>>> load_input(net, "3,1,4,8,8").shape, load_input(net, batch=2).dtype.name
((3, 1, 4, 8, 8), 'float32')
"""
import pathlib

import numpy as np

from ..errors import InvalidArgumentError
from . import zoo
from .from_onnx import from_onnx
from .graph import GraphError

__all__ = ["load_model", "load_input"]


def load_model(source, num_classes=None):
    """The network ``source`` names.

    Parameters
    ----------
    source : str or path-like
        A zoo model's name (:func:`fdafast.nn.zoo.names`) or the path of an
        ``.onnx`` file.
    num_classes : int, optional
        The zoo model's classes (its default when None; ignored for ONNX).

    Returns
    -------
    Network

    Raises
    ------
    GraphError
        No ONNX file at ``source``, or an unknown zoo name (the message lists the zoo).
    """
    source = str(source)
    if source.endswith(".onnx"):
        if not pathlib.Path(source).exists():
            raise GraphError(f"no ONNX file at {source!r}")
        return from_onnx(source)
    if source not in zoo.names():
        raise GraphError(f"unknown model {source!r}; zoo models: {', '.join(zoo.names())} "
                         f"(or give a .onnx file)")
    return zoo.get(source, **({} if num_classes is None else {"num_classes": num_classes}))


def _parse_shape(net, text, batch, name):
    try:
        given = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise InvalidArgumentError(f"{name} must be a .npy file or a shape like "
                                   f"{','.join(map(str, net.input_shape))}, got {text!r}") \
            from None
    return given if len(given) == len(net.input_shape) + 1 else (batch,) + given


def load_input(net, source=None, batch=1, seed=0, *, name="input"):
    """An input batch for ``net``.

    Parameters
    ----------
    net : Network
    source : str or path-like, optional
        A ``.npy`` file (a single item gains a batch axis), a shape written
        ``"C,H,W"`` (``batch`` items of it) or ``"N,C,H,W"``, or None for
        ``(batch,) + net.input_shape``.  Shapes are filled with uniform
        [0, 1) float32 values drawn from ``seed``.
    batch : int
        Items when ``source`` gives none.
    seed : int
        Seed of the random values (:func:`numpy.random.default_rng`).
    name : str
        What the caller calls ``source`` in error messages (the command line: ``--input``).

    Returns
    -------
    ndarray
        ``(N,) + item shape``.

    Raises
    ------
    InvalidArgumentError
        No file at a ``.npy`` path, or text that is neither a path nor a shape.
    """
    source = None if source is None else str(source)
    if source and source.endswith(".npy"):
        if not pathlib.Path(source).exists():
            raise InvalidArgumentError(f"no input file at {source!r}")
        x = np.load(source)
        return x if x.ndim == len(net.input_shape) + 1 else x[None]
    shape = (batch,) + net.input_shape
    if source:
        shape = _parse_shape(net, source, batch, name)
    return np.random.default_rng(seed).random(shape, dtype=np.float32)
