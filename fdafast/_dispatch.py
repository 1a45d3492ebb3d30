"""Which kernel runs: the one place that decides (private).

Crossbar emulation (:func:`crossbar_kernel`): for a configuration, an ADC step
and a column count, one of

* ``EXACT``: ideal devices and an ADC that can neither clip nor round: the
  emulation equals ``x @ w``, computed exactly in float64 BLAS;
* ``C_IDEAL``: the C popcount kernel over bit planes (ideal devices, when the
  ADC table has an exact integer multiply-shift and the kernel's limits
  hold);
* ``C_FLOAT``: the C kernel for device non-idealities (float64 conductances);
* ``NUMBA_PACKED`` / ``NUMBA_FLOAT``: the Numba kernels, for what the C
  kernels do not take (column sums past :data:`LUT_MAX`, more column groups
  or input bits than the C limits).

Every kernel gives the same results bit for bit (the tests check each one
against the loop reference); :func:`forced` pins the kernel family for a
block of code, to compare them.
"""
import contextlib
import enum
import functools

from . import _native, _xbar
from .crossbar_config import PE

__all__ = ["Kernel", "crossbar_kernel", "exact_rows_apply", "forced", "LUT_MAX"]

#: Integer column sums up to this size use the packed kernels and an ADC table.
LUT_MAX = 1 << 20


class Kernel(enum.Enum):
    """The crossbar kernels."""

    EXACT = "exact"
    C_IDEAL = "c-ideal"
    C_FLOAT = "c-float"
    NUMBA_PACKED = "numba-packed"
    NUMBA_FLOAT = "numba-float"


_FAMILIES = ("c", "numba")
_forced = None


@contextlib.contextmanager
def forced(family):
    """Within the block, run every crossbar emulation on the ``'c'`` or ``'numba'``
    kernels (never the exact shortcut); where the C kernels cannot take a case,
    the Numba kernels still run it.  For tests and comparisons."""
    global _forced
    if family not in _FAMILIES:
        raise ValueError(f"family must be one of {_FAMILIES}, got {family!r}")
    previous, _forced = _forced, family
    try:
        yield
    finally:
        _forced = previous


def crossbar_kernel(config, step, allow_exact=True, real=False):
    """The :class:`Kernel` for ``config`` at ADC ``step``.

    ``allow_exact=False`` (a calibrated or explicit ADC range, or forced
    emulation) never takes the exact shortcut.  Real products (``real``, one
    cycle per input chunk) run on the Numba kernels: the C kernels take
    complex products, in two cycles.
    """
    if allow_exact and _forced is None and config.exact:
        return Kernel.EXACT
    if real:
        return Kernel.NUMBA_PACKED if config.ideal_devices and config.s_max <= LUT_MAX \
            else Kernel.NUMBA_FLOAT
    ngroups = config.sets * config.slices * (1 if config.pe is PE.ROWPAIR else 2)
    c_ok = (_forced != "numba" and ngroups <= _native.XBAR_MAX_GROUPS
            and config.input_bits <= _native.XBAR_MAX_BITS)
    if config.ideal_devices:
        nw = -(-(2 * config.channels_per_block if config.pe is PE.ROWPAIR
                 else config.channels_per_block) // 64)
        if c_ok and nw <= _native.XBAR_MAX_NW and ideal_adc(config, step) is not None:
            return Kernel.C_IDEAL
        return Kernel.NUMBA_PACKED if config.s_max <= LUT_MAX else Kernel.NUMBA_FLOAT
    return Kernel.C_FLOAT if c_ok else Kernel.NUMBA_FLOAT


def exact_rows_apply(kernel, config, step):
    """Whether rows that provably never round or clip (an ADC step of 1, ideal devices)
    take the exact product while the other rows run on ``kernel``: bit-exact by
    construction (:func:`fdafast._kernels.crossbar.provably_exact`), and skipped
    while a kernel family is forced, so that the kernels are tested on every row."""
    return (_forced is None and step == 1.0 and config.ideal_devices
            and kernel in (Kernel.C_IDEAL, Kernel.NUMBA_PACKED))


@functools.lru_cache(maxsize=64)
def ideal_adc(config, step):
    """The C kernel's exact ADC multiply-shift for ``config`` at ``step``, or None."""
    if config.s_max > LUT_MAX:
        return None
    return _xbar.adc_multiply_shift(config.adc_table(step), config.adc_max)
