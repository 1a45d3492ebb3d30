"""numpy's BLAS inside fdafast's own parallel loops (private).

fdafast runs many small matrix products (the weight spectra block by block,
the exact product bin by bin) and spreads them over its own threads.  A
multi-threaded BLAS under each of them oversubscribes the cores, and
OpenBLAS's spinning threads then slow every call many times over when the
machine has other work (measured: 16x on a loaded 2-core machine).  Inside
:func:`single_threaded` every BLAS numpy uses runs one thread per call
(threadpoolctl); the results are those of the single-threaded BLAS, the same
for any thread count of fdafast's.

Concurrent users (threads of one process) share one limit: the first to
enter sets it, the last to leave restores the original thread counts.  The
libraries are found on first use (numpy's BLAS is loaded by then: fdafast
imports numpy before anything else).
"""
import concurrent.futures
import contextlib
import threading

from threadpoolctl import ThreadpoolController

__all__ = ["single_threaded", "share_out"]

_lock = threading.Lock()
_state = {"controller": None, "limiter": None, "depth": 0}


@contextlib.contextmanager
def single_threaded():
    """Run the block with one BLAS thread per call."""
    with _lock:
        if _state["depth"] == 0:
            if _state["controller"] is None:
                _state["controller"] = ThreadpoolController()
            _state["limiter"] = _state["controller"].limit(limits=1, user_api="blas")
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                _state["limiter"].restore_original_limits()
                _state["limiter"] = None


def share_out(work, items, threads):
    """``work(share)`` on up to ``threads`` threads, item i going to share i % threads,
    with one BLAS thread per call (:func:`single_threaded`); exceptions propagate."""
    nt = max(1, min(int(threads), len(items)))
    with single_threaded():
        if nt == 1:
            work(items)
            return
        with concurrent.futures.ThreadPoolExecutor(nt) as pool:
            for f in [pool.submit(work, items[t::nt]) for t in range(nt)]:
                f.result()
