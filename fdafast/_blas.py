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
import os
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
    with one BLAS thread per call (:func:`single_threaded`); exceptions propagate
    once every share has finished.

    The caller runs share 0 itself and the others go to a pool of threads kept
    between calls (starting threads costs more than a small layer's GEMMs).
    A ``work`` that calls :func:`share_out` again, on any of these threads, runs
    its shares serially, so the pool never waits on itself.
    """
    nt = max(1, min(int(threads), len(items)))
    with single_threaded():
        if nt == 1 or getattr(_local, "sharing", False):
            work(items)
            return
        futures = []
        try:
            pool = _pool(nt - 1)
            for t in range(1, nt):
                futures.append(pool.submit(_share, work, items[t::nt]))
            _share(work, items[0::nt])
        finally:
            # every share finishes before the limit is lifted or an error propagates
            concurrent.futures.wait(futures)
        for f in futures:
            f.result()


_local = threading.local()
_pools = {"executor": None, "size": 0}


def _share(work, share):
    """``work(share)`` marked as a share (a nested :func:`share_out` runs serially)."""
    before = getattr(_local, "sharing", False)
    _local.sharing = True
    try:
        work(share)
    finally:
        _local.sharing = before


def _pool(size):
    """The shared pool, with at least ``size`` threads.  A pool that grows is dropped,
    not shut down (another caller may still be handing it work); its idle threads
    end when it is collected."""
    with _lock:
        if _pools["size"] < size:
            _pools.update(executor=concurrent.futures.ThreadPoolExecutor(
                size, thread_name_prefix="fdafast-blas"), size=size)
        return _pools["executor"]


def _after_fork_in_child():
    """A forked child has none of the parent's threads: a fresh lock, no limit held
    (the BLAS keeps the thread count it had at the fork), no pool."""
    global _lock
    _lock = threading.Lock()
    _state.update(limiter=None, depth=0)
    _pools.update(executor=None, size=0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
