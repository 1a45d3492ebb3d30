"""Validation and normalisation of convolution arguments (torch semantics).

Every function here raises a subclass of :class:`fdafast.FdafastError`
whose message names the bad value and what is accepted.
"""
import math
import os

import numpy as np
import psutil

from .errors import DTypeError, InvalidArgumentError, NonFiniteError, ShapeError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: Thread counts are capped at this many times the usable CPUs (more only adds overhead,
#: and OpenMP runtimes abort or crash on absurd team sizes).
MAX_THREADS_PER_CPU = 4


class MemoryLimitError(InvalidArgumentError, MemoryError):
    """A request would need more memory than the machine has available."""


def usable_cpus():
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def max_threads():
    """The largest thread count accepted: :data:`MAX_THREADS_PER_CPU` x the usable CPUs."""
    return MAX_THREADS_PER_CPU * usable_cpus()
#: The input layout of a convolution with 1, 2 or 3 spatial axes.
CONV_LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
#: The kernel axes of a convolution weight with 1, 2 or 3 spatial axes.
CONV_KERNELS = {1: "kL", 2: "kH, kW", 3: "kD, kH, kW"}


def default_threads():
    """Threads used when ``threads=None``: ``FDAFAST_NUM_THREADS`` or the usable CPUs."""
    env = os.environ.get("FDAFAST_NUM_THREADS")
    if env:
        return threads_arg(int(env) if env.strip().lstrip("-").isdigit() else env,
                           "FDAFAST_NUM_THREADS")
    return usable_cpus()


def read_key_arg(key):
    """A read-noise key: an int in [0, 2^64)."""
    if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
        raise InvalidArgumentError(f"read_key must be an int, got {key!r}")
    if not 0 <= int(key) < 1 << 64:
        raise InvalidArgumentError(f"read_key must be in [0, 2**64), got {key}")
    return int(key)


def threads_arg(threads, name="threads"):
    """A thread count in [1, :func:`max_threads`], or the default for None."""
    if threads is None:
        return default_threads()
    if isinstance(threads, (bool, np.bool_)) or not isinstance(threads, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be a positive int or None, got {threads!r}")
    if threads < 1:
        raise InvalidArgumentError(f"{name} must be >= 1, got {threads}")
    if threads > max_threads():
        raise InvalidArgumentError(f"{name}={threads} is more than {MAX_THREADS_PER_CPU} x the "
                                   f"{usable_cpus()} usable CPUs; use at most {max_threads()}")
    return int(threads)


def positive_int(value, name, maximum=None):
    """``value`` as a Python int >= 1 (and <= ``maximum``); floats such as 1.5, bools and
    numpy floats are refused rather than truncated."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be a positive int, got {value!r}")
    if value < 1 or (maximum is not None and value > maximum):
        bound = "" if maximum is None else f" and <= {maximum}"
        raise InvalidArgumentError(f"{name} must be >= 1{bound}, got {value}")
    return int(value)


#: Allocations up to this size are not checked against the available memory: asking
#: the system costs a fraction of a millisecond, more than a small layer's run.
UNCHECKED_BYTES = 64 * 2 ** 20


def check_memory(nbytes, what, fix):
    """Refuse to allocate ``nbytes`` for ``what`` when the machine has less available
    memory (psutil): a :class:`MemoryLimitError` naming the size and ``fix``, the
    setting that makes it smaller.  Sizes past int64 are refused too; sizes up to
    :data:`UNCHECKED_BYTES` are let through unasked."""
    nbytes = int(nbytes)
    if nbytes <= UNCHECKED_BYTES:
        return
    available = psutil.virtual_memory().available
    if nbytes > min(available, np.iinfo(np.int64).max):
        raise MemoryLimitError(f"{what} needs {_size(nbytes)}, more than the "
                               f"{_size(available)} of memory available; {fix}")


def _size(nbytes):
    for unit, scale in (("PiB", 2 ** 50), ("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} bytes"


def nbytes_of(shape, dtype):
    """Bytes of an array of ``shape`` and ``dtype`` (exact Python integers: no overflow)."""
    return math.prod(int(s) for s in shape) * np.dtype(dtype).itemsize


def float_array(a, name):
    """``a`` as an ndarray of float32 or float64 (no copy where possible)."""
    if not isinstance(a, np.ndarray):
        if hasattr(a, "detach") and hasattr(a, "numpy"):   # a torch tensor
            a = a.detach().cpu().numpy()
        else:
            a = np.asarray(a)
    if a.dtype.kind == "f" and not a.dtype.isnative and a.dtype.newbyteorder("=") in FLOAT_DTYPES:
        a = a.astype(a.dtype.newbyteorder("="))          # byte-swapped float32/64
    if a.dtype not in FLOAT_DTYPES:
        raise DTypeError(f"{name} has dtype {a.dtype}; fdafast accepts float32 and float64 "
                         f"(cast with .astype(np.float32))")
    return a


#: Elements checked at once by :func:`check_finite` (bounds its temporary masks).
FINITE_CHUNK = 1 << 22


def _chunks(a):
    """Views of ``a`` along its leading axes, each of at most about FINITE_CHUNK elements."""
    if a.ndim == 0 or a.size <= FINITE_CHUNK:
        yield a
        return
    per = a.size // a.shape[0]                     # elements per index of axis 0
    if per > FINITE_CHUNK:
        for i in range(a.shape[0]):
            yield from _chunks(a[i])
        return
    step = FINITE_CHUNK // per
    for i in range(0, a.shape[0], step):
        yield a[i:i + step]


def check_finite(a, name):
    """Raise :class:`NonFiniteError` if ``a`` holds NaN or infinity.  Checked in chunks,
    so that a broadcast or huge array never needs a mask of its full size."""
    if a.dtype.kind not in "fc" or all(np.isfinite(c).all() for c in _chunks(a)):
        return
    n_nan = sum(int(np.isnan(c).sum()) for c in _chunks(a))
    n_inf = sum(int(np.isinf(c).sum()) for c in _chunks(a))
    raise NonFiniteError(f"{name} contains {n_nan} NaN and {n_inf} infinite values; "
                         f"only finite values are accepted")


def int_tuple(value, nd, name, minimum):
    """An int or a sequence of ``nd`` ints, each >= ``minimum``, as a tuple."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be an int or a tuple of {nd} ints, "
                                   f"got {value!r}")
    if isinstance(value, (int, np.integer)):
        vals = (int(value),) * nd
    else:
        try:
            vals = tuple(value)
        except TypeError:
            raise InvalidArgumentError(f"{name} must be an int or a tuple of {nd} ints, "
                                       f"got {value!r}") from None
        if len(vals) != nd or not all(isinstance(v, (int, np.integer))
                                      and not isinstance(v, (bool, np.bool_)) for v in vals):
            raise InvalidArgumentError(f"{name} must be an int or a tuple of {nd} ints, "
                                       f"got {value!r}")
        vals = tuple(int(v) for v in vals)
    for v in vals:
        if v < minimum:
            raise InvalidArgumentError(f"{name} must be >= {minimum} along every axis, "
                                       f"got {value!r}")
    return vals


def padding_arg(padding, nd, kext, stride):
    """Per-axis (low, high) zero padding from an int, a tuple, 'same' or 'valid'.

    'same' follows torch: stride 1 only; total padding ``kext - 1`` per axis,
    ``total // 2`` before and the rest after (so even kernels pad one more
    sample at the end).  Beyond torch, a tuple of ``nd`` ``(low, high)``
    pairs pads each axis asymmetrically (ONNX's ``pads``).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * nd, (0,) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise InvalidArgumentError(
                    f"padding='same' needs stride 1 (as in torch), got stride {stride}")
            return tuple((k - 1) // 2 for k in kext), tuple(k - 1 - (k - 1) // 2 for k in kext)
        raise InvalidArgumentError(f"padding must be an int, a tuple of {nd} ints or of {nd} "
                                   f"(low, high) pairs, 'same' or 'valid', got {padding!r}")
    if isinstance(padding, (tuple, list)) and padding and all(
            isinstance(p, (tuple, list)) for p in padding):
        if len(padding) != nd or any(len(p) != 2 for p in padding):
            raise InvalidArgumentError(f"padding as (low, high) pairs needs {nd} pairs, got "
                                       f"{padding!r}")
        lo = int_tuple(tuple(p[0] for p in padding), nd, "padding", 0)
        hi = int_tuple(tuple(p[1] for p in padding), nd, "padding", 0)
        return lo, hi
    lo = int_tuple(padding, nd, "padding", 0)
    return lo, lo


def conv_shapes(x_shape, w_shape, groups, nd, input_name="input"):
    """Check ranks and channel counts; return (batch, cin, cout)."""
    if len(w_shape) != nd + 2:
        raise ShapeError(f"weight must have {nd + 2} dimensions (Cout, Cin/groups, "
                         f"{CONV_KERNELS[nd]}) for conv{nd}d, "
                         f"got shape {tuple(w_shape)}")
    if len(x_shape) != nd + 2:
        layout = CONV_LAYOUTS[nd]
        raise ShapeError(f"{input_name} must have {nd + 2} dimensions {layout} for "
                         f"conv{nd}d, got shape {tuple(x_shape)}")
    if isinstance(groups, (bool, np.bool_)) or not isinstance(groups, (int, np.integer)) \
            or groups < 1:
        raise InvalidArgumentError(f"groups must be a positive int, got {groups!r}")
    cout, cin_g = w_shape[0], w_shape[1]
    cin = x_shape[1]
    if min(w_shape) < 1:
        raise ShapeError(f"weight shape {tuple(w_shape)} has an empty dimension")
    if cout % groups:
        raise InvalidArgumentError(f"groups={groups} does not divide the {cout} output "
                                   f"channels of the weight")
    if cin % groups:
        raise InvalidArgumentError(f"groups={groups} does not divide the {cin} input channels")
    if cin_g * groups != cin:
        raise ShapeError(f"channel mismatch: {input_name} has {cin} channels but the weight "
                         f"expects {cin_g} x groups={groups} = {cin_g * groups}")
    return x_shape[0], cin, cout
