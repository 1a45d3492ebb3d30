"""Dask for the studies (sweeps, evaluations): checking the run options, the client.

Shared by :mod:`fdafast.sweep` and :mod:`fdafast.evaluate`; each passes its own
error class (``error=``), so that its users catch what they always caught.
"""
import logging

from . import _checks
from ._args import max_threads, positive_int, usable_cpus

__all__ = ["check_scheduler", "check_run_options", "client"]


def check_scheduler(scheduler, *, error):
    """Refuse a scheduler address that is not ``[scheme://]host:port``."""
    text = str(scheduler)
    scheme, sep, rest = text.rpartition("://")
    host, colon, port = (rest if sep else text).rpartition(":")
    if (sep and scheme not in ("tcp", "tls", "inproc", "ucx", "ws", "wss")) or not colon \
            or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise error(f"--scheduler must be an address like tcp://host:8786, got "
                    f"{scheduler!r}")


def check_run_options(workers, timeout, scheduler, *, error):
    """Validate the runner's options (before anything starts); returns the timeout."""
    if workers is not None:
        positive_int(workers, "workers", maximum=max_threads())
    timeout = _checks.number("timeout", timeout, 0.0, 86400.0, lo_open=True, error=error)
    if scheduler:
        check_scheduler(scheduler, error=error)
    return timeout


def client(scheduler, workers, timeout, *, error):
    """``(Client, LocalCluster or None)``: the scheduler's client, or an embedded
    LocalCluster of ``workers`` single-threaded processes (default: the usable CPUs)."""
    # dask.distributed is slow to import (half a second) and only a running study needs it
    from dask.distributed import Client, LocalCluster
    if scheduler:
        try:
            return Client(scheduler, timeout=f"{timeout}s"), None
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise error(f"cannot reach the Dask scheduler at {scheduler!r} within "
                        f"{timeout} s ({type(exc).__name__}); is it running?") from None
    cluster = LocalCluster(n_workers=workers or usable_cpus(), threads_per_worker=1,
                           processes=True, dashboard_address=None, host="127.0.0.1",
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster
