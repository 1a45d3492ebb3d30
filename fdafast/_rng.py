"""Counter-based random numbers shared by the fast kernels and the references.

Every random quantity of the crossbar emulation is a pure function of
``(seed, stream, index)``: the same numbers come out whatever the thread
count, the order of evaluation or the implementation (numpy here, Numba in
the kernels, which compile these very functions), so results are
reproducible from the seed alone.

The integer hashing functions are ``register_jitable``: the Numba kernels
call the very same code.

* ``uniform``: splitmix64 hashing of (seed, stream, index); the top 53 bits
  scaled to [0, 1).
* ``normal``: the Irwin-Hall approximation, ``sum of 12 uniforms - 6``:
  mean 0, variance 1, bounded at +-6.  It needs no transcendental
  functions, so numpy and Numba give bit-identical values.

Streams used by fdafast: 1 programming variation, 2 stuck cells, 3 read
noise, 4 the read-noise seed of a read key (``hash64(seed, 4, key)``, see
:meth:`fdafast.crossbar.PreparedWeights.read_seed`), 5 the read keys of the
parts of a run (:func:`part_key`), 6 the device seeds of a network's layers
(:func:`fdafast.nn.execute.layer_seed`).
"""
import hashlib

import numpy as np
from numba.extending import register_jitable

__all__ = ["uniform", "normal", "mix64", "hash64", "hash_int", "text_key", "part_key"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0            # 2**-53
_TWELVE = np.uint64(12)


@register_jitable
def mix64(z):
    """The splitmix64 finaliser (a bijection of uint64, wrapping arithmetic)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@register_jitable
def hash64(seed, stream, index):
    """uint64 hash of (seed, stream, index); numpy arrays or Numba scalars."""
    return mix64(mix64(mix64(seed + _GOLDEN) ^ stream) + index * _GOLDEN)


@register_jitable
def uniform_core(seed, stream, index):
    """:func:`uniform` on prepared uint64 operands (compiled as is by Numba)."""
    return np.float64(hash64(seed, stream, index) >> _S11) * _INV53


def _u64(value):
    # 1-d arrays: numpy warns about wrapping on scalars, never on arrays
    return np.atleast_1d(np.asarray(value).astype(np.uint64))


def uniform(seed, stream, index):
    """Uniform float64 in [0, 1) for integer ``seed``, ``stream`` and ``index`` (arrays)."""
    h = hash64(_u64(seed), _u64(stream), _u64(index))
    return (h >> _S11).astype(np.float64) * _INV53


def normal(seed, stream, index):
    """Approximately standard normal float64: the sum of 12 uniforms, minus 6.

    The uniforms are those of indices ``12*index + t``, t = 0..11, added in
    that order.
    """
    base = _u64(index) * _TWELVE
    acc = np.zeros(base.shape)
    for t in range(12):
        acc = acc + uniform(seed, stream, base + np.uint64(t))
    return acc - 6.0


def hash_int(seed, stream, index):
    """:func:`hash64` of one ``(seed, stream, index)`` of Python ints (taken modulo
    2^64), as an int."""
    return int(hash64(*(_u64(int(v) & 0xFFFFFFFFFFFFFFFF) for v in (seed, stream, index)))[0])


def text_key(text):
    """64 bits of the BLAKE2b hash of ``text``, as an int: the same in every process
    (unlike ``hash`` of a str)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def part_key(key, index):
    """The read key of part ``index`` (a batch's first item, a clip's first frame) of a
    run read under ``key``: ``key`` itself for part 0, else ``hash64(key, 5, index)``,
    so that no two parts of a run share read-noise draws."""
    return int(key) if index == 0 else hash_int(key, 5, index)
