"""Small synthetic data sets that fdafast generates itself (no downloads).

>>> from fdafast.nn import datasets
>>> x, y = datasets.moving_shapes(6, directions=4, seed=1)
>>> x.shape, y.tolist()
((6, 1, 8, 16, 16), [1, 2, 3, 3, 0, 0])
"""
import math

import numpy as np

from ..errors import InvalidArgumentError

__all__ = ["moving_shapes"]


def moving_shapes(n, directions=4, frames=8, size=16, noise=0.1, seed=0):
    """Clips of a bright square moving in one of ``directions`` directions.

    Each clip (1 channel, ``frames`` x ``size`` x ``size``, float32 in about
    [0, 1]) shows a 3x3 or 4x4 square, of random brightness in [0.6, 1], that
    starts at a random place and moves one pixel per frame along the angle
    ``2 pi k / directions`` (rounded to whole pixels per frame, wrapping at
    the borders), over Gaussian noise of standard deviation ``noise``.  The
    label is ``k``.  Deterministic for a given ``seed``.

    Returns
    -------
    x : ndarray, (n, 1, frames, size, size) float32
    y : ndarray, (n,) int64
    """
    for name, v, lo in (("n", n, 1), ("directions", directions, 2), ("frames", frames, 2),
                        ("size", size, 6)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise InvalidArgumentError(f"{name} must be an int >= {lo}, got {v!r}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, directions, n)
    x = (rng.standard_normal((n, 1, frames, size, size)) * noise).astype(np.float32)
    for i in range(n):
        angle = 2 * math.pi * y[i] / directions
        step = (math.sin(angle), math.cos(angle))
        side = int(rng.integers(3, 5))
        r0, c0 = rng.integers(0, size, 2)
        value = np.float32(rng.uniform(0.6, 1.0))
        for t in range(frames):
            r = (r0 + round(step[0] * t)) % size
            c = (c0 + round(step[1] * t)) % size
            rows = (np.arange(side) + r) % size
            cols = (np.arange(side) + c) % size
            x[i, 0, t, rows[:, None], cols[None, :]] += value
    return x, y.astype(np.int64)
