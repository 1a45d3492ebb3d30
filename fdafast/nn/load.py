"""A network and its input batch from what a user names: a zoo model or an .onnx file;
a .npy batch, a shape, or nothing (random inputs).

The command line and the sweeps both load through these two functions.

>>> from fdafast.nn.load import load_input, load_model
>>> net = load_model("tiny3d", num_classes=4)
>>> load_input(net, "5,3,8,32,32").shape, load_input(net, batch=2).dtype.name
((5, 3, 8, 32, 32), 'float32')
"""
import pathlib
import pickle
import zipfile

import numpy as np

from .._args import check_memory, nbytes_of, positive_int
from ..errors import InvalidArgumentError, ShapeError
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
        if not pathlib.Path(source).is_file():
            raise GraphError(f"no ONNX file at {source!r}")
        return from_onnx(source)
    if num_classes is not None:
        num_classes = positive_int(num_classes, "num_classes")
    if source not in zoo.names():
        raise GraphError(f"unknown model {source!r}; zoo models: {', '.join(zoo.names())} "
                         f"(or give a .onnx file)")
    return zoo.get(source, **({} if num_classes is None else {"num_classes": num_classes}))


def _parse_shape(net, text, batch, name):
    like = ",".join(map(str, net.input_shape))
    try:
        given = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise InvalidArgumentError(f"{name} must be a .npy file or a shape like "
                                   f"{like} (integers), got {text!r}") from None
    shape = given if len(given) == len(net.input_shape) + 1 else (batch,) + given
    if shape[1:] != tuple(net.input_shape) or shape[0] < 1:
        raise ShapeError(f"network {net.name!r} expects inputs of shape (N,) + "
                         f"{tuple(net.input_shape)} with N >= 1 (e.g. {like}); {name} "
                         f"{text!r} gives {shape}")
    return shape


def _read_npy(net, source, name):
    """A real-valued batch from a .npy file, checked before it is used."""
    path = pathlib.Path(source)
    if not path.is_file():
        raise InvalidArgumentError(f"no input file at {source!r}" if not path.exists()
                                   else f"{name} {source!r} is not a file")
    try:
        x = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise InvalidArgumentError(f"cannot read {name} {source!r} as a .npy array: "
                                   f"{exc}") from None
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu":
        raise InvalidArgumentError(f"{name} {source!r} holds {getattr(x, 'dtype', type(x))} "
                                   f"values; a real (float or integer) array is needed")
    if x.ndim == len(net.input_shape):
        x = x[None]
    if x.shape[1:] != tuple(net.input_shape) or x.shape[0] < 1:
        raise ShapeError(f"network {net.name!r} expects inputs of shape (N,) + "
                         f"{tuple(net.input_shape)} with N >= 1; {name} {source!r} holds "
                         f"{x.shape}")
    return np.array(x)


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
        No file at a ``.npy`` path, a file that is not a real-valued .npy array,
        text that is neither a path nor a shape, a batch below 1, or more
        memory than is available.
    ShapeError
        A file or shape whose items are not the network's input shape.
    """
    source = None if source is None else str(source)
    if source and source.endswith(".npy"):
        return _read_npy(net, source, name)
    batch = positive_int(batch, "batch")
    shape = (batch,) + net.input_shape
    if source:
        shape = _parse_shape(net, source, batch, name)
    check_memory(nbytes_of(shape, np.float32), f"a random input of shape {shape}",
                 "use a smaller batch")
    return np.random.default_rng(seed).random(shape, dtype=np.float32)
