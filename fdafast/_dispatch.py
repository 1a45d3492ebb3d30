"""Which kernels run: the one place that decides (private).

Instruction-set variant
-----------------------
The C layer holds every kernel compiled once per variant (``csrc/isa.h``):

* ``baseline``: x86-64 with SSE2 only, or plain aarch64;
* ``avx2``: x86-64-v3 (AVX2, FMA, BMI1/2, POPCNT, ...);
* ``avx512``: x86-64-v4 (AVX-512 F/BW/DQ/VL/CD) with AVX512-VPOPCNTDQ;
* ``neon``: aarch64 Advanced SIMD.

At import this module selects the best variant that is compiled in and that
the CPU and OS support (CPUID and XGETBV on x86-64, AT_HWCAP on Linux
aarch64), at or below the ceiling ``FDAFAST_ISA`` sets, if it is set.  A
ceiling this CPU cannot run raises :class:`fdafast.errors.InvalidArgumentError`
at import.  :func:`show_config` reports what runs; :func:`use_isa` switches
variant for a block of code (tests compare variants with it).

Results: the crossbar kernels give identical integers on every variant; the
float engine agrees across variants within float tolerances and is
deterministic for a given variant and thread count.

Crossbar kernel
---------------
Crossbar emulation (:func:`crossbar_kernel`): for a configuration, an ADC step
and a column count, one of

* ``EXACT``: ideal devices and an ADC that can neither clip nor round: the
  emulation equals ``x @ w``, computed exactly in float64 BLAS;
* ``C_IDEAL``: the C kernels for ideal devices, when the ADC table has an
  exact integer multiply-shift and the kernels' limits hold: popcounts over
  bit planes, or (:func:`fdafast._xbar.ideal_setup` chooses) tables of level
  subset sums where a float32 FMA reproduces the ADC too;
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
import os
import platform

from . import _native, _xbar
from ._args import default_threads
from .crossbar_config import PE
from .errors import FdafastError, InvalidArgumentError

__all__ = ["isa", "isa_variants", "isa_supported", "set_isa", "use_isa", "show_config",
           "Kernel", "crossbar_kernel", "exact_rows_apply", "forced", "LUT_MAX"]


# -- the instruction-set variant --------------------------------------------------
ENV = "FDAFAST_ISA"
# the variants a ceiling admits, lowest first
_AT_OR_BELOW = {"baseline": ("baseline",), "avx2": ("baseline", "avx2"),
                "avx512": ("baseline", "avx2", "avx512"), "neon": ("baseline", "neon")}


def isa():
    """Name of the variant that runs the kernels now."""
    return _native.isa_current()


def isa_variants():
    """Names of the variants compiled into this build, lowest level first."""
    return _native.isa_compiled()


def isa_supported():
    """Names of the variants this CPU and OS can run (compiled in or not)."""
    return _native.isa_supported()


def _accepted():
    return ", ".join(_AT_OR_BELOW)


def choose(ceiling=None):
    """The variant to run under ``ceiling`` (a name; None or "": no ceiling).

    The best variant compiled in and supported here at or below the ceiling.
    Raises InvalidArgumentError naming the value, what this CPU supports and
    what is accepted, for an unknown name or one this CPU cannot run.
    """
    compiled, supported = isa_variants(), isa_supported()
    runnable = [v for v in compiled if v in supported]
    if not runnable:        # a FDAFAST_NATIVE=1 build copied to an older machine
        raise FdafastError(
            f"this build of fdafast holds only the {', '.join(compiled)} kernels, which this "
            f"CPU cannot run (it supports {', '.join(supported)}); reinstall without "
            f"FDAFAST_NATIVE=1")
    if not ceiling:
        return runnable[-1]
    name = ceiling.strip().lower()
    if name not in _AT_OR_BELOW:
        raise InvalidArgumentError(
            f"{ENV}={ceiling!r} is not an instruction-set level; accepted: {_accepted()}")
    if name not in supported:
        raise InvalidArgumentError(
            f"{ENV}={ceiling!r}: this CPU ({platform.machine()}) does not support {name}; "
            f"it supports {', '.join(supported)} (accepted values: {_accepted()})")
    fits = [v for v in runnable if v in _AT_OR_BELOW[name]]
    if not fits:
        raise InvalidArgumentError(
            f"{ENV}={ceiling!r}: no variant at or below {name} is compiled into this build "
            f"(compiled: {', '.join(compiled)})")
    return fits[-1]


def set_isa(name):
    """Make variant ``name`` run the kernels from now on; returns the previous one.

    Meant for tests and benchmarks: plans keep working across a switch (the
    packed weight layout is the same for every variant).
    """
    if name not in isa_variants() or name not in isa_supported():
        raise InvalidArgumentError(
            f"instruction-set variant {name!r} cannot run here: compiled "
            f"{', '.join(isa_variants())}; this CPU supports {', '.join(isa_supported())}")
    previous = isa()
    _native.isa_select(name)
    return previous


@contextlib.contextmanager
def use_isa(name):
    """Run the kernels with variant ``name`` inside a ``with`` block."""
    previous = set_isa(name)
    try:
        yield name
    finally:
        _native.isa_select(previous)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "cpu model", "hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def show_config(print_=True):
    """Print and return what runs fdafast's C kernels here.

    Returns a dict: ``isa`` (the variant in use), ``isa_ceiling`` (the value
    of FDAFAST_ISA or None), ``isa_variants`` (compiled in),
    ``isa_supported`` (what this CPU and OS run), ``threads`` (the default
    thread count), ``openmp``, ``compile_flags`` (per compiled variant),
    ``machine`` and ``cpu``.
    """
    cfg = {"isa": isa(), "isa_ceiling": os.environ.get(ENV) or None,
           "isa_variants": list(isa_variants()), "isa_supported": list(isa_supported()),
           "threads": default_threads(), "openmp": _native.has_openmp(),
           "compile_flags": {v: _native.isa_flags(v) for v in isa_variants()},
           "machine": platform.machine(), "cpu": _cpu_model()}
    if print_:
        print(format_config(cfg))
    return cfg


def format_config(cfg):
    """The text :func:`show_config` prints for its dict."""
    ceiling = f" (ceiling {ENV}={cfg['isa_ceiling']})" if cfg["isa_ceiling"] else ""
    lines = [f"instruction set:  {cfg['isa']}{ceiling}",
             f"compiled in:      {', '.join(cfg['isa_variants'])}",
             f"CPU supports:     {', '.join(cfg['isa_supported'])}",
             f"CPU:              {cfg['cpu']} ({cfg['machine']})",
             f"threads:          {cfg['threads']}",
             f"OpenMP:           {'yes' if cfg['openmp'] else 'no'}",
             "compile flags:"]
    lines += [f"  {v + ':':<10}{flags}" for v, flags in cfg["compile_flags"].items()]
    return "\n".join(lines)


_native.isa_select(choose(os.environ.get(ENV)))


# -- the crossbar kernel ----------------------------------------------------------
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
    cycle per input chunk, one row per channel, one column set per weight)
    take the same kernels under the same conditions, with their own column
    groups (``sets * slices``) and rows per block (``rows``).
    """
    if allow_exact and _forced is None and config.exact:
        return Kernel.EXACT
    rowpair = config.pe is PE.ROWPAIR and not real
    ngroups = config.sets * config.slices * (1 if rowpair or real else 2)
    c_ok = (_forced != "numba" and ngroups <= _native.XBAR_MAX_GROUPS
            and config.input_bits <= _native.XBAR_MAX_BITS)
    if config.ideal_devices:
        rows = config.rows if real else \
            (2 if rowpair else 1) * config.channels_per_block
        nw = -(-rows // 64)
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
