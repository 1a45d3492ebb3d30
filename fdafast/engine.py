"""The protocol between a :class:`fdafast.ConvPlan` and the engine that computes it.

A plan owns the frozen tile geometry (:class:`fdafast._tiling.TileGeometry`)
and runs an engine through four steps:

``prepare(geometry, weight, bias, threads, workspace)``
    once per plan: returns the engine's own state for this layer (a
    :class:`Prepared`), which precomputes what depends on the weights only
    (weight spectra, quantized weights on crossbars), now or on first use;
``Prepared.run(x, threads, phases, read_key=0)``
    the convolution of a validated batch, its wall seconds per phase
    ('forward', 'mac', 'inverse') added to ``phases`` when given; ``read_key``
    picks the read-noise draw of engines with read noise
    (:meth:`fdafast.crossbar.PreparedWeights.read_seed`), the others ignore it
    (a plan passes it only when it is not 0);
``Prepared.calibrate(x, threads)``
    ranges set from a calibration batch (engines with nothing to calibrate
    refuse);
``Prepared.calibrate_and_run(x, threads, phases, read_key=0)``
    both on the same batch, sharing what they share (the ReRAM engine's
    input spectra);
``Prepared.counts``
    the hardware events of the last run (None where an engine has none).

The float engine (:class:`fdafast.conv.FloatFFT`) and the ReRAM engine
(:class:`fdafast.reram.ReRAM`) implement it; each keeps its state in its
:class:`Prepared`, and nobody reads another's private attributes.
"""
import math
import threading

import numpy as np

from . import _native
from ._args import nbytes_of
from .errors import InvalidArgumentError

__all__ = ["Engine", "Prepared", "Workspace", "PHASES"]

#: The phases :meth:`Prepared.run` times.
PHASES = ("forward", "mac", "inverse")


class Workspace:
    """Named work arrays that grow to the largest size asked for (never shrink).

    Fresh large arrays cost page faults on every call, so plans keep their
    work arrays here between calls; contents are not preserved.  Arrays are
    flat buffers handed out as views, so plans that share one workspace (the
    layers of a network) hold the largest layer's worth, not the sum.  The
    workspace's :attr:`lock` serialises the plans that share it.
    """

    def __init__(self):
        self._buffers = {}
        self.lock = threading.Lock()

    def get(self, name, shape, dtype=np.float64, aligned=False):
        """A view of shape ``shape`` of buffer ``name`` (grown if too small).

        ``aligned``: the data start on a 64-byte boundary and a new buffer is
        zeroed (what the C convolution kernel's workspace needs).
        """
        dtype = np.dtype(dtype)
        n = math.prod(shape)
        flat = self._buffers.get(name)
        if flat is None or flat.size < n or flat.dtype != dtype:
            flat = _native.aligned_zeros(n, dtype) if aligned else np.empty(n, dtype)
            self._buffers[name] = flat
        return flat[:n].reshape(shape)

    @property
    def nbytes(self):
        """Bytes held now."""
        return sum(b.nbytes for b in self._buffers.values())

    def clear(self):
        """Drop every buffer."""
        self._buffers.clear()


class Engine:
    """Base of the convolution engines (see the module docstring)."""

    #: True when :meth:`Prepared.calibrate` must run before the first call.
    needs_calibration = False

    def prepare(self, geometry, weight, bias, threads, workspace):
        """The engine's state for one layer: a :class:`Prepared`."""
        raise NotImplementedError


class Prepared:
    """An engine's state for one layer (see the module docstring)."""

    #: Hardware events of the last run, or None.
    counts = None
    #: Values of the last calibration, or None.
    calibration = None

    def run(self, x, threads, phases=None, read_key=0):
        raise NotImplementedError

    def nbytes_needed(self, batch, dtype):
        """Bytes a run on ``batch`` inputs of ``dtype`` allocates beyond the workspace it
        keeps (checked against the available memory before the run)."""
        g = self.geometry
        return nbytes_of((batch, g.cout) + g.out_spatial, dtype)

    def calibrate(self, x, threads):
        raise InvalidArgumentError("calibrate() needs a plan with engine=fdafast.ReRAM(...)")

    def calibrate_and_run(self, x, threads, phases=None, read_key=0):
        """:meth:`calibrate` on ``x``, then :meth:`run` on it; engines override it to
        share work between the two."""
        self.calibrate(x, threads)
        if read_key:
            return self.run(x, threads, phases, read_key=read_key)
        return self.run(x, threads, phases)
