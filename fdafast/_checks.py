"""Validators of configuration values, shared by every frozen description.

One family for the crossbar configuration, the ReRAM engine and the
accelerator descriptions: each checks one value, raises the error class it is
given with a message that names the field (its dotted path where there is
one), the bad value and what is accepted, and returns the value normalised to
a plain Python type (so that numpy scalars such as ``np.int8(100)`` never
carry their overflow into later arithmetic).
"""
import math

import numpy as np

__all__ = ["integer", "number", "choice"]


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def integer(name, value, lo=None, hi=None, *, error):
    """``value`` as an int in [lo, hi] (either bound may be None)."""
    if not _is_int(value):
        raise error(f"{name} must be an integer{_range(lo, hi)}, got {value!r}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise error(f"{name} must be{_range(lo, hi)}, got {value}")
    return value


def number(name, value, lo=None, hi=None, *, lo_open=False, finite=True, error):
    """``value`` as a float in [lo, hi] (``(lo, hi]`` with ``lo_open``); NaN is refused,
    and infinity too unless ``finite=False`` (and the bounds allow it)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
            or isinstance(value, (complex, np.complexfloating)):
        raise error(f"{name} must be a{' finite' if finite else ''} number"
                    f"{_range(lo, hi, lo_open)}, got {value!r}")
    value = float(value)
    low = lo is not None and (value <= lo if lo_open else value < lo)
    high = hi is not None and value > hi
    if math.isnan(value) or low or high or (finite and math.isinf(value)):
        raise error(f"{name} must be a{' finite' if finite else ''} number"
                    f"{_range(lo, hi, lo_open)}, got {value}")
    return value


def choice(name, cls, value, *, error):
    """The member of the Enum ``cls`` named by ``value`` (or ``value`` if a member)."""
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise error(f"{name} must be one of {allowed}, got {value!r}") from None


def _range(lo, hi, lo_open=False):
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" > {lo}" if lo_open else f" >= {lo}"
    if lo is None:
        return f" <= {hi}"
    return f" in {'(' if lo_open else '['}{lo}, {hi}]"
