"""Shared test configuration: the float tolerances (defined only here) and fixtures.

Tolerances
----------
Floating-point results are compared with :func:`naive.rel_l2`, the L2 norm
of the error relative to the L2 norm of the float64 reference:

* float32 results: ``rel_l2 <= 1e-5``;
* float64 results: ``rel_l2 <= 1e-12``.

Results that must agree exactly (thread counts, repeated plan calls) are
compared with ``numpy.testing.assert_array_equal`` instead.

Outcome counts
--------------
Suites that run other projects' test cases (torch's OpInfo samples, ONNX's
backend node tests) record each case as passed or refused (a
:class:`fdafast.FdafastError`, by reason) in the session-wide
:data:`OUTCOMES` through the ``outcomes`` fixture; the terminal summary
prints the counts.  A wrong result or a crash fails the test itself.
"""
import collections
import re
import zlib

import numpy as np
import pytest

from naive import rel_l2

#: Largest accepted relative L2 error per result dtype.
REL_L2_TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def tol_for(dtype):
    """The relative L2 tolerance of results in ``dtype``."""
    return REL_L2_TOL[np.dtype(dtype)]


def _assert_close(actual, expected, dtype=None, what="", floor=0.0):
    """Assert ``rel_l2(actual, expected) <= tol`` for ``dtype`` (default: actual's).

    ``floor`` is a lower bound for the norm of ``expected`` used as the
    denominator: a reference that is (nearly) all zero, such as a
    convolution whose outputs only see padding, is then compared against a
    natural scale of the problem instead of against zero.
    """
    dtype = np.dtype(actual.dtype if dtype is None else dtype)
    assert np.shape(actual) == np.shape(expected), (np.shape(actual), np.shape(expected))
    err = rel_l2(actual, expected)
    ref = float(np.linalg.norm(np.asarray(expected).ravel()))
    if floor > ref:
        err = err * ref / floor if ref > 0 else err / floor
    assert err <= tol_for(dtype), f"{what}: rel L2 error {err:.3g} > {tol_for(dtype):g} ({dtype})"


@pytest.fixture(scope="session")
def assert_close():
    """``assert_close(actual, expected, dtype=None, what='', floor=0)``, tolerance of the dtype.

    Session-scoped so that hypothesis tests may use it.
    """
    return _assert_close


#: suite -> Counter of (case group, outcome) -> count; outcome is 'passed' or 'refused: why'.
OUTCOMES = collections.defaultdict(collections.Counter)


def refusal_reason(exc):
    """A short, value-free label of a refusal: the error class and the message's gist."""
    msg = re.sub(r"'[^']*'|\"[^\"]*\"|\([^()]*\)|\[[^\[\]]*\]|\b-?\d+(\.\d+)?(e-?\d+)?\b", "_",
                 str(exc))
    return f"{type(exc).__name__}: {' '.join(msg.split())[:90]}"


@pytest.fixture(scope="session")
def outcomes():
    """``outcomes(suite, group, exc=None)`` records one case: passed (``exc`` None) or
    refused with the :class:`fdafast.FdafastError` ``exc``."""
    def record(suite, group, exc=None):
        key = "passed" if exc is None else "refused: " + refusal_reason(exc)
        OUTCOMES[suite][(group, key)] += 1
    return record


def pytest_terminal_summary(terminalreporter):
    for suite, counts in sorted(OUTCOMES.items()):
        tr = terminalreporter
        tr.section(f"{suite}: outcomes")
        passed = sum(n for (g, k), n in counts.items() if k == "passed")
        refused = collections.Counter()
        for (g, k), n in counts.items():
            if k != "passed":
                refused[k] += n
        tr.write_line(f"passed {passed}, refused {sum(refused.values())}")
        for reason, n in refused.most_common():
            tr.write_line(f"  {n:5d}  {reason}")
        by_group = collections.defaultdict(collections.Counter)
        for (g, k), n in counts.items():
            by_group[g]["passed" if k == "passed" else "refused"] += n
        tr.write_line("per group (passed/refused): " + ", ".join(
            f"{g} {c['passed']}/{c['refused']}" for g, c in sorted(by_group.items())))


@pytest.fixture
def rng(request):
    """A numpy Generator seeded from the test's name (stable across runs)."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)
