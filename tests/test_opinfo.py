"""torch's own OpInfo samples through fdafast's equivalents, in float32 and float64.

For every entry of ``torch.testing._internal.common_methods_invocations.op_db``
that fdafast has an equivalent of (convolutions, pooling, batch norm,
activations, softmax), every sample input goes through the fdafast function
(for convolutions both the direct reference and the FFT engine).  Each
sample must either give torch's result, same shape and dtype, values within
the dtype's tolerance of torch's float64 result (the norm of the error
relative to the norm of the result; NaN and infinities in the same places),
or be refused with a :class:`fdafast.FdafastError`.  Counts per op and the
reasons of the refusals are printed at the end of the session.

Max pooling's ``return_indices`` samples compare the indices exactly.
Every sample is run; the max-pooling entries have thousands of samples
(every combination of kernel, stride, padding, dilation, ceil mode and
return_indices), so they are taken every 7th (deterministically: torch's
generator is seeded and the order is torch's; 7 is prime to the 2 and 3
values of the innermost arguments, so all their combinations are taken).
"""
import numpy as np
import pytest

import fdafast
from fdafast.nn import functional as F

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")          # torch's internal testing module needs it
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

#: Largest norm-relative error accepted per dtype.
TOL = {torch.float32: 2e-5, torch.float64: 1e-11}
#: Every n-th sample of the entries with thousands of samples.
EVERY = {"nn.functional.max_pool1d": 7, "nn.functional.max_pool2d": 7,
         "nn.functional.max_pool3d": 7}


def _fdafast_ops():
    """op_db name -> [(label, fdafast callable)]."""
    ops = {}
    for nd in (1, 2, 3):
        ops[f"nn.functional.conv{nd}d"] = [("direct", getattr(F, f"conv{nd}d")),
                                           ("fft", getattr(fdafast, f"conv{nd}d"))]
        for kind in ("max_pool", "avg_pool", "adaptive_avg_pool"):
            ops[f"nn.functional.{kind}{nd}d"] = [("", getattr(F, f"{kind}{nd}d"))]
    for name in ("relu", "relu6", "leaky_relu", "hardtanh", "hardswish", "hardsigmoid", "elu",
                 "selu", "celu", "silu", "mish", "gelu", "softplus", "softsign", "prelu",
                 "batch_norm"):
        ops[f"nn.functional.{name}"] = [("", getattr(F, name))]
    for name in ("sigmoid", "tanh", "softmax", "log_softmax"):
        ops[name] = [("", getattr(F, name))]
    return ops


OPS = _fdafast_ops()
ENTRIES = [op for op in op_db if op.name in OPS]


def _np(v):
    if isinstance(v, torch.Tensor):
        return v.detach().numpy().copy()
    if isinstance(v, torch.dtype):
        return {torch.float32: np.float32, torch.float64: np.float64}.get(v, v)
    if isinstance(v, (list, tuple)):
        return type(v)(_np(a) for a in v)
    if isinstance(v, dict):
        return {k: _np(a) for k, a in v.items()}
    return v


def _f64(v):
    if isinstance(v, torch.Tensor) and v.is_floating_point():
        return v.detach().to(torch.float64)
    if isinstance(v, (list, tuple)):
        return type(v)(_f64(a) for a in v)
    if isinstance(v, dict):
        return {k: _f64(a) for k, a in v.items()}
    return v


def _mismatch(actual, expected, want_dtype, tol):
    """None if ``actual`` is torch's result, else what differs."""
    actual = np.asarray(actual)
    if actual.shape != expected.shape:
        return f"shape {actual.shape} != torch's {expected.shape}"
    if actual.dtype != want_dtype:
        return f"dtype {actual.dtype} != torch's {want_dtype}"
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    special = ~np.isfinite(e)
    if not np.array_equal(special, ~np.isfinite(a)) or not np.array_equal(
            np.nan_to_num(e[special]), np.nan_to_num(a[special])):
        return "NaN or infinities differ"
    a, e = a[~special], e[~special]
    err = np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-30 if a.size else 1.0)
    if err > tol and np.abs(a - e).max() > 1e-30:
        return f"norm-relative error {err:.3g} > {tol:g}"
    return None


def _samples(op, dtype):
    torch.manual_seed(0)
    samples = list(op.sample_inputs("cpu", dtype, requires_grad=False))
    return samples[::EVERY.get(op.name, 1)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op", ENTRIES, ids=lambda op: f"{op.name}-{op.variant_test_name}"
                         .strip("-"))
def test_opinfo_samples(op, dtype, outcomes):
    wrong = []
    for i, sample in enumerate(_samples(op, dtype)):
        want_dtype = np.dtype(_np(sample.kwargs.get("dtype", dtype)))
        ref = idx = None
        for label, fn in OPS[op.name]:
            group = f"{op.name.replace('nn.functional.', '')}{'/' + label if label else ''}"
            try:
                got = fn(_np(sample.input), *_np(sample.args), **_np(sample.kwargs))
            except fdafast.FdafastError as exc:
                outcomes("OpInfo samples", group, exc)
                continue
            if ref is None:                       # torch's result, in float64
                with torch.no_grad():
                    ref = op.op(_f64(sample.input), *_f64(sample.args), **_f64(sample.kwargs))
                # max pooling's return_indices: (values, indices), the indices exact
                ref, idx = (ref[0].numpy(), ref[1].numpy()) if isinstance(ref, (tuple, list)) \
                    else (ref.numpy(), None)
            if idx is not None:
                got, got_idx = got
                if not np.array_equal(got_idx, idx):
                    wrong.append(f"sample {i}: indices differ from torch's")
                    continue
            bad = _mismatch(got, ref, want_dtype, TOL[dtype])
            if bad:
                wrong.append(f"sample {i} ({label or 'fdafast'}): input "
                             f"{tuple(sample.input.shape)}, args {sample.args}, kwargs "
                             f"{sample.kwargs}: {bad}")
            else:
                outcomes("OpInfo samples", group)
    assert not wrong, "\n".join(wrong[:20])
