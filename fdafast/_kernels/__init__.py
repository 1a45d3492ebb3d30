"""Numba kernels (private).  JIT options live here, in one place.

``JIT`` compiles serial kernels, ``JIT_PARALLEL`` the ones with ``prange``.
No fastmath: the kernels must give bit-identical results to the loop
references in tests/ (no reassociation, no contraction into FMAs).  Kernels
are cached on disk after the first compilation.
"""
import numba

JIT = dict(nogil=True, cache=True, fastmath=False)
JIT_PARALLEL = dict(JIT, parallel=True)


def set_threads(threads):
    """Run the following parallel kernels on ``threads`` threads (clamped to Numba's pool)."""
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
