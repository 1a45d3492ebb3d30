"""Agreement with ``torch.nn.functional.conv2d`` / ``conv3d`` (float64 torch as reference).

Covers a few random layer configurations, including C3D-like 3D layers at a
small spatial size, in float32 and float64.  Skipped when torch is absent.
"""
import numpy as np
import pytest

import fdafast

torch = pytest.importorskip("torch")
F = torch.nn.functional

# torch warns that 'same' with an even kernel pads a copy of the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def torch_ref(x, w, b, **kw):
    """The float64 torch result for numpy x, w, b."""
    t = lambda a: None if a is None else torch.from_numpy(np.asarray(a, np.float64))
    fn = F.conv2d if x.ndim == 4 else F.conv3d
    with torch.no_grad():
        return fn(t(x), t(w), t(b), **kw).numpy()


CONFIGS = [
    # xshape, wshape, kwargs
    pytest.param((2, 16, 28, 28), (32, 16, 3, 3), dict(padding=1), id="2d-resnet-3x3"),
    pytest.param((1, 16, 29, 31), (24, 16, 3, 3), dict(stride=2, padding=1), id="2d-stride2"),
    pytest.param((2, 3, 35, 33), (8, 3, 7, 7), dict(stride=3, padding=3), id="2d-7x7-stride3"),
    pytest.param((1, 24, 20, 18), (24, 1, 5, 5), dict(groups=24, padding="same"),
                 id="2d-depthwise-5x5-same"),
    pytest.param((1, 8, 19, 17), (12, 4, 4, 2), dict(groups=2, padding="same"),
                 id="2d-groups2-even-same"),
    pytest.param((1, 6, 25, 22), (10, 6, 3, 3), dict(dilation=2, padding=(2, 1)),
                 id="2d-dilation2"),
    pytest.param((2, 3, 8, 28, 28), (16, 3, 3, 3, 3), dict(padding=1), id="3d-c3d-conv1"),
    pytest.param((1, 32, 8, 14, 14), (64, 32, 3, 3, 3), dict(padding=1), id="3d-c3d-conv2"),
    pytest.param((1, 16, 4, 7, 7), (32, 16, 3, 3, 3), dict(padding=1), id="3d-c3d-conv5"),
    pytest.param((1, 4, 9, 12, 11), (6, 2, 2, 3, 4), dict(groups=2, stride=(1, 2, 3),
                                                          padding=(0, 1, 2)),
                 id="3d-grouped-strided"),
    pytest.param((1, 3, 10, 9, 8), (4, 3, 3, 3, 3), dict(dilation=(2, 1, 2), padding="valid"),
                 id="3d-dilated-valid"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("xshape, wshape, kw", CONFIGS)
def test_matches_torch(assert_close, rng, xshape, wshape, kw, dtype):
    x = rng.standard_normal(xshape).astype(dtype)
    w = (rng.standard_normal(wshape) / np.sqrt(np.prod(wshape[1:]))).astype(dtype)
    b = rng.standard_normal(wshape[0]).astype(dtype)
    conv = fdafast.conv2d if x.ndim == 4 else fdafast.conv3d
    y = conv(x, w, b, **kw)
    ref = torch_ref(x, w, b, **kw)
    assert y.dtype == np.dtype(dtype)
    assert_close(y, ref, what=f"{xshape} {wshape} {kw}")


@pytest.mark.parametrize("xshape, wshape, kw", [
    ((2, 4, 9, 11), (6, 2, 3, 4), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)),
    ((1, 3, 8, 7), (6, 1, 4, 2), dict(padding="same", groups=3)),
    ((2, 4, 5, 6, 7), (8, 1, 3, 2, 3), dict(stride=(1, 2, 3), padding=1, dilation=(2, 1, 1),
                                            groups=4)),
    ((1, 2, 4, 5, 6), (3, 2, 2, 3, 2), dict(padding="same", dilation=(1, 2, 1))),
], ids=["2d-grouped", "2d-depthwise-same-even", "3d-depthwise-mult", "3d-same-even"])
def test_naive_reference_matches_torch(rng, xshape, wshape, kw):
    """The loop-level reference itself agrees with torch to float64 rounding."""
    from naive import conv_direct, rel_l2
    x = rng.standard_normal(xshape)
    w = rng.standard_normal(wshape)
    b = rng.standard_normal(wshape[0])
    assert rel_l2(conv_direct(x, w, b, **kw), torch_ref(x, w, b, **kw)) <= 1e-14


def test_plan_matches_torch_for_several_batches(assert_close, rng):
    w = rng.standard_normal((8, 3, 3, 3, 3)) / 9
    plan = fdafast.ConvPlan(w, (None, 3, 6, 10, 10), padding=1, stride=(1, 2, 2))
    for n in (1, 3):
        x = rng.standard_normal((n, 3, 6, 10, 10))
        assert_close(plan(x), torch_ref(x, w, None, padding=1, stride=(1, 2, 2)))


def test_accepts_torch_tensors(assert_close, rng):
    """torch tensors (also ones requiring grad) are read as numpy arrays."""
    x = torch.from_numpy(rng.standard_normal((1, 3, 9, 9)).astype(np.float32))
    w = torch.from_numpy(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    w.requires_grad_(True)
    y = fdafast.conv2d(x, w, padding=1)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    assert_close(y, torch_ref(x.numpy(), w.detach().numpy(), None, padding=1))
