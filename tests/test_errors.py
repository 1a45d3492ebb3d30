"""Bad arguments raise a :class:`fdafast.FdafastError` subclass naming the bad value.

Each case states the exception class, the built-in exception it must also
be (``ValueError`` or ``TypeError``) and a regular expression the message
must match; the expression contains the offending value.
"""
import re

import numpy as np
import pytest

import fdafast
from fdafast import (ConvPlan, DTypeError, FdafastError, InvalidArgumentError,
                     NonFiniteError, ShapeError, TileError, conv2d, conv3d)
from fdafast.conv import FloatFFT


def arrays(xshape=(1, 3, 8, 8), wshape=(2, 3, 3, 3), dtype=np.float64):
    """Deterministic small x and w."""
    x = np.linspace(-1, 1, int(np.prod(xshape)), dtype=dtype).reshape(xshape)
    w = np.linspace(-1, 1, int(np.prod(wshape)), dtype=dtype).reshape(wshape)
    return x, w


X2, W2 = arrays()
X3, W3 = arrays((1, 2, 5, 6, 7), (2, 2, 3, 3, 3))


def with_value(a, index, value):
    a = a.copy()
    a[index] = value
    return a


def plan2(**kw):
    return ConvPlan(W2, X2.shape, **kw)


def plan_free_batch():
    return ConvPlan(W2, (None, 3, 8, 8))


def err(id, call, exc, builtin, match):
    return pytest.param(call, exc, builtin, match, id=id)


CASES = [
    # ranks
    err("x-2d-for-conv2d", lambda: conv2d(X2[0, 0], W2), ShapeError, ValueError,
        r"conv2d needs a 4-D input \(N, C, H, W\) or an unbatched 3-D one, got shape \(8, 8\)"),
    err("x-5d-for-conv2d", lambda: conv2d(X2[None], W2), ShapeError, ValueError,
        r"got shape \(1, 1, 3, 8, 8\)"),
    err("x-3d-for-conv3d", lambda: conv3d(X3[0, 0], W3), ShapeError, ValueError,
        r"conv3d needs a 5-D input \(N, C, D, H, W\) or an unbatched 4-D one, got shape "
        r"\(5, 6, 7\)"),
    err("w-5d-for-conv2d", lambda: conv2d(X2, W2[:, :, None]), ShapeError, ValueError,
        r"conv2d needs a 4-D weight, got shape \(2, 3, 1, 3, 3\)"),
    err("w-4d-for-conv3d", lambda: conv3d(X3, W3[:, :, 0]), ShapeError, ValueError,
        r"conv3d needs a 5-D weight, got shape \(2, 2, 3, 3\)"),
    err("plan-w-2d", lambda: ConvPlan(W2[0, 0], X2.shape), ShapeError, ValueError,
        r"weight must have 3 \(conv1d\), 4 \(conv2d\) or 5 \(conv3d\) dimensions, got shape "
        r"\(3, 3\)"),
    err("w-empty-dim", lambda: conv2d(X2, np.zeros((0, 3, 3, 3))), ShapeError, ValueError,
        r"weight shape \(0, 3, 3, 3\) has an empty dimension"),
    err("x-empty-spatial", lambda: conv2d(np.zeros((1, 3, 0, 8)), W2), ShapeError, ValueError,
        r"positive sizes.*\(1, 3, 0, 8\)"),
    # channels and groups
    err("channel-mismatch", lambda: conv2d(X2, np.zeros((2, 2, 3, 3))), ShapeError, ValueError,
        r"channel mismatch: input has 3 channels but the weight expects 2 x groups=1 = 2"),
    err("channel-mismatch-groups", lambda: conv2d(arrays((1, 4, 6, 6))[0], np.zeros((2, 1, 3, 3)),
                                                  groups=2),
        ShapeError, ValueError, r"input has 4 channels but the weight expects 1 x groups=2"),
    err("groups-not-dividing-cout", lambda: conv2d(arrays((1, 4, 6, 6))[0],
                                                   np.zeros((3, 2, 3, 3)), groups=2),
        InvalidArgumentError, ValueError, r"groups=2 does not divide the 3 output channels"),
    err("groups-not-dividing-cin", lambda: conv2d(X2, np.zeros((4, 1, 3, 3)), groups=2),
        InvalidArgumentError, ValueError, r"groups=2 does not divide the 3 input channels"),
    err("groups-zero", lambda: conv2d(X2, W2, groups=0), InvalidArgumentError, ValueError,
        r"groups must be a positive int, got 0"),
    err("groups-float", lambda: conv2d(X2, W2, groups=1.5), InvalidArgumentError, ValueError,
        r"groups must be a positive int, got 1\.5"),
    # kernel against the padded input
    err("kernel-larger-than-input", lambda: conv2d(arrays((1, 3, 4, 9))[0], np.zeros((2, 3, 5, 3))),
        ShapeError, ValueError,
        r"kernel extent 5 along spatial axis 0 is larger than the padded input \(4 \+ 0 \+ 0 = 4\)"),
    err("dilated-kernel-larger-than-padded-input",
        lambda: conv2d(arrays((1, 3, 6, 6))[0], W2, dilation=(1, 3), padding=(0, 0)),
        ShapeError, ValueError, r"kernel extent 7 along spatial axis 1 .*\(6 \+ 0 \+ 0 = 6\)"),
    err("conv3d-kernel-larger-than-depth",
        lambda: conv3d(arrays((1, 2, 2, 6, 7))[0], W3), ShapeError, ValueError,
        r"kernel extent 3 along spatial axis 0 .*\(2 \+ 0 \+ 0 = 2\)"),
    # stride, dilation, padding
    err("stride-zero", lambda: conv2d(X2, W2, stride=0), InvalidArgumentError, ValueError,
        r"stride must be >= 1 along every axis, got 0"),
    err("stride-negative-tuple", lambda: conv2d(X2, W2, stride=(1, -2)), InvalidArgumentError,
        ValueError, r"stride must be >= 1 along every axis, got \(1, -2\)"),
    err("stride-wrong-length", lambda: conv2d(X2, W2, stride=(1, 1, 1)), InvalidArgumentError,
        ValueError, r"stride must be an int or a tuple of 2 ints, got \(1, 1, 1\)"),
    err("stride-float", lambda: conv2d(X2, W2, stride=1.0), InvalidArgumentError, ValueError,
        r"stride must be an int or a tuple of 2 ints, got 1\.0"),
    err("stride-bool", lambda: conv2d(X2, W2, stride=True), InvalidArgumentError, ValueError,
        r"stride must be an int or a tuple of 2 ints, got True"),
    err("dilation-zero", lambda: conv2d(X2, W2, dilation=0), InvalidArgumentError, ValueError,
        r"dilation must be >= 1 along every axis, got 0"),
    err("dilation-negative-3d", lambda: conv3d(X3, W3, dilation=(1, 1, -1)), InvalidArgumentError,
        ValueError, r"dilation must be >= 1 along every axis, got \(1, 1, -1\)"),
    err("padding-negative", lambda: conv2d(X2, W2, padding=-1), InvalidArgumentError, ValueError,
        r"padding must be >= 0 along every axis, got -1"),
    err("padding-negative-tuple", lambda: conv3d(X3, W3, padding=(0, -2, 0)),
        InvalidArgumentError, ValueError, r"padding must be >= 0 along every axis, got \(0, -2, 0\)"),
    err("padding-bad-string", lambda: conv2d(X2, W2, padding="full"), InvalidArgumentError,
        ValueError, r"padding must be an int, a tuple of 2 ints or of 2 \(low, high\) pairs, "
        r"'same' or 'valid', got 'full'"),
    err("padding-string-case", lambda: conv2d(X2, W2, padding="SAME"), InvalidArgumentError,
        ValueError, r"got 'SAME'"),
    err("same-with-stride2", lambda: conv2d(X2, W2, padding="same", stride=2),
        InvalidArgumentError, ValueError,
        r"padding='same' needs stride 1 \(as in torch\), got stride \(2, 2\)"),
    err("same-with-stride-tuple-3d", lambda: conv3d(X3, W3, padding="same", stride=(1, 2, 1)),
        InvalidArgumentError, ValueError, r"got stride \(1, 2, 1\)"),
    # non-finite values
    err("nan-in-weight", lambda: conv2d(X2, with_value(W2, (0, 1, 2, 2), np.nan)),
        NonFiniteError, ValueError, r"weight contains 1 NaN and 0 infinite values"),
    err("inf-in-input", lambda: conv2d(with_value(X2, (0, 0, 3, 3), np.inf), W2),
        NonFiniteError, ValueError, r"input contains 0 NaN and 1 infinite values"),
    err("neg-inf-in-input-f32", lambda: conv3d(with_value(X3.astype(np.float32), (0, 1, 2, 3, 4),
                                                          -np.inf), W3.astype(np.float32)),
        NonFiniteError, ValueError, r"input contains 0 NaN and 1 infinite values"),
    err("nan-in-bias", lambda: conv2d(X2, W2, np.array([0.0, np.nan])), NonFiniteError,
        ValueError, r"bias contains 1 NaN"),
    err("nan-in-plan-input", lambda: plan2()(with_value(X2, (0, 2, 0, 0), np.nan)),
        NonFiniteError, ValueError, r"input contains 1 NaN"),
    # dtypes
    err("int-input", lambda: conv2d(X2.astype(np.int64), W2), DTypeError, TypeError,
        r"input has dtype int64; fdafast accepts float32 and float64"),
    err("int32-weight", lambda: conv2d(X2, W2.astype(np.int32)), DTypeError, TypeError,
        r"weight has dtype int32"),
    err("complex-input", lambda: conv2d(X2.astype(np.complex128), W2), DTypeError, TypeError,
        r"input has dtype complex128"),
    err("complex-weight", lambda: conv3d(X3, W3.astype(np.complex64)), DTypeError, TypeError,
        r"weight has dtype complex64"),
    err("bool-input", lambda: conv2d(X2 > 0, W2), DTypeError, TypeError, r"input has dtype bool"),
    err("float16-weight", lambda: conv2d(X2, W2.astype(np.float16)), DTypeError, TypeError,
        r"weight has dtype float16"),
    err("int-bias", lambda: conv2d(X2, W2, np.array([1, 2])), DTypeError, TypeError,
        r"bias has dtype int64"),
    err("int-plan-input", lambda: plan2()(X2.astype(np.int16)), DTypeError, TypeError,
        r"input has dtype int16"),
    # tiles
    err("tile-smaller-than-kernel", lambda: conv2d(X2, np.zeros((2, 3, 5, 5)), tile=4),
        TileError, ValueError, r"tile size 4 .* smaller than the dilated kernel extent 5"),
    err("tile-smaller-than-dilated-kernel", lambda: conv3d(X3, W3, tile=(4, 4, 4),
                                                           dilation=(1, 1, 2)),
        TileError, ValueError, r"tile size 4 .* smaller than the dilated kernel extent 5"),
    err("tile-3", lambda: conv2d(X2, W2, tile=3), TileError, ValueError,
        r"tile size 3 along axis \d \([DHW]\) is not supported; accepted sizes are"),
    err("tile-128", lambda: conv2d(X2, W2, tile=(8, 128)), TileError, ValueError,
        r"tile size 128 along axis \d \([DHW]\) is not supported"),
    err("tile-12-3d", lambda: conv3d(X3, W3, tile=(4, 12, 4)), TileError, ValueError,
        r"tile size 12 along axis \d \([DHW]\) is not supported"),
    err("tile-1-along-w", lambda: conv2d(X2, np.zeros((2, 3, 3, 1)), tile=(4, 1)), TileError,
        ValueError, r"tile size 1 along axis \d \([DHW]\) is not supported; accepted sizes are \(2, 4"),
    err("tile-volume", lambda: conv3d(X3, W3, tile=64), TileError, ValueError,
        r"tile \(64, 64, 64\) has 262144 samples; at most 32768"),
    err("tile-zero", lambda: conv2d(X2, W2, tile=0), InvalidArgumentError, ValueError,
        r"tile must be >= 1 along every axis, got 0"),
    err("tile-wrong-length", lambda: conv2d(X2, W2, tile=(8, 8, 8)), InvalidArgumentError,
        ValueError, r"tile must be an int or a tuple of 2 ints, got \(8, 8, 8\)"),
    err("kernel-wider-than-any-tile", lambda: conv2d(arrays((1, 3, 70, 8))[0], W2,
                                                     dilation=(33, 1), engine=FloatFFT()),
        TileError, ValueError, r"dilated kernel extent 67 along axis \d \([DHW]\) exceeds the largest "
                               r"supported tile 64; the spatial engine computes such kernels"),
    # bias
    err("bias-too-long", lambda: conv2d(X2, W2, np.zeros(3)), ShapeError, ValueError,
        r"bias must have shape \(2,\), got \(3,\)"),
    err("bias-2d", lambda: conv2d(X2, W2, np.zeros((1, 2))), ShapeError, ValueError,
        r"bias must have shape \(2,\), got \(1, 2\)"),
    err("bias-scalar", lambda: conv3d(X3, W3, np.float64(1.0)), ShapeError, ValueError,
        r"bias must have shape \(2,\), got \(\)"),
    # plans called with the wrong input
    err("plan-wrong-spatial", lambda: plan2()(np.zeros((1, 3, 8, 9))), ShapeError, ValueError,
        r"input has shape \(1, 3, 8, 9\) but this plan expects \(1, 3, 8, 8\)"),
    err("plan-wrong-batch", lambda: plan2()(np.zeros((2, 3, 8, 8))), ShapeError, ValueError,
        r"input has shape \(2, 3, 8, 8\) but this plan expects \(1, 3, 8, 8\)"),
    err("plan-wrong-channels", lambda: plan_free_batch()(np.zeros((2, 2, 8, 8))), ShapeError,
        ValueError, r"input has shape \(2, 2, 8, 8\) but this plan expects \('N', 3, 8, 8\)"),
    err("plan-wrong-rank", lambda: plan_free_batch()(np.zeros((8, 8))), ShapeError,
        ValueError, r"input has shape \(8, 8\) but this plan expects"),
    err("plan-unbatched-for-batch-of-2", lambda: ConvPlan(W2, (2, 3, 8, 8))(np.zeros((3, 8, 8))),
        ShapeError, ValueError, r"input has shape \(3, 8, 8\) but this plan expects"),
    err("plan-empty-batch", lambda: plan_free_batch()(np.zeros((0, 3, 8, 8))), ShapeError,
        ValueError, r"input has an empty batch \(shape \(0, 3, 8, 8\)\)"),
    err("plan-input-shape-not-ints", lambda: ConvPlan(W2, ("a", 3, 8, 8)), ShapeError,
        ValueError, r"input_shape must be a tuple of ints .* got \('a', 3, 8, 8\)"),
    err("plan-input-shape-wrong-length", lambda: ConvPlan(W2, (1, 1, 3, 8, 8)), ShapeError,
        ValueError, r"input_shape must be \(N, C, H, W\) .* got \(1, 1, 3, 8, 8\)"),
    err("plan-input-shape-none-channels", lambda: ConvPlan(W2, (1, None, 8, 8)), ShapeError,
        ValueError, r"got \(1, None, 8, 8\)"),
    err("plan-input-shape-zero", lambda: ConvPlan(W2, (0, 3, 8, 8)), ShapeError, ValueError,
        r"positive sizes .* got \(0, 3, 8, 8\)"),
    # threads
    err("threads-zero", lambda: conv2d(X2, W2, threads=0), InvalidArgumentError, ValueError,
        r"threads must be >= 1, got 0"),
    err("threads-negative-plan", lambda: plan2()(X2, threads=-3), InvalidArgumentError,
        ValueError, r"threads must be >= 1, got -3"),
    err("threads-float", lambda: conv2d(X2, W2, threads=2.0), InvalidArgumentError, ValueError,
        r"threads must be a positive int or None, got 2\.0"),
    err("threads-bool", lambda: conv2d(X2, W2, threads=True), InvalidArgumentError, ValueError,
        r"threads must be a positive int or None, got True"),
]


@pytest.mark.parametrize("call, exc, builtin, match", CASES)
def test_bad_input_raises(call, exc, builtin, match):
    with pytest.raises(exc, match=match) as info:
        call()
    assert isinstance(info.value, FdafastError)
    assert isinstance(info.value, builtin)


@pytest.mark.parametrize("value, match", [
    ("abc", r"FDAFAST_NUM_THREADS must be a positive int or None, got 'abc'"),
    ("0", r"FDAFAST_NUM_THREADS must be >= 1, got 0"),
    ("-2", r"FDAFAST_NUM_THREADS must be >= 1, got -2"),
])
def test_bad_thread_environment_variable(monkeypatch, value, match):
    monkeypatch.setenv("FDAFAST_NUM_THREADS", value)
    with pytest.raises(InvalidArgumentError, match=match):
        conv2d(X2, W2)


def test_errors_are_catchable_by_builtin_class():
    """The hierarchy lets callers catch ValueError / TypeError as well."""
    assert issubclass(fdafast.ShapeError, fdafast.InvalidArgumentError)
    assert issubclass(fdafast.TileError, ValueError)
    assert issubclass(fdafast.NonFiniteError, ValueError)
    assert issubclass(fdafast.DTypeError, TypeError)
    assert issubclass(fdafast.NativeError, RuntimeError)
    for cls in (ShapeError, TileError, NonFiniteError, DTypeError, fdafast.NativeError):
        assert issubclass(cls, FdafastError)


def test_error_does_not_modify_arguments():
    """A rejected call leaves its input arrays untouched."""
    x = with_value(X2, (0, 0, 0, 0), np.inf)
    before = x.copy()
    with pytest.raises(NonFiniteError):
        conv2d(x, W2)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("tile, wshape, dilation, axis", [
    pytest.param((8, 1), (2, 3, 3, 1), 1, 1, id="w-tile-1-unsupported"),
    pytest.param((3, 8), (2, 3, 3, 3), 1, 0, id="h-tile-3-unsupported"),
    pytest.param((2, 8), (2, 3, 3, 3), 1, 0, id="h-tile-below-kernel"),
    pytest.param(None, (2, 3, 3, 3), (33, 1), 0, id="h-kernel-wider-than-64"),
])
def test_conv2d_tile_error_names_the_users_axis(tile, wshape, dilation, axis):
    x = arrays((1, 3, 70, 8))[0]
    with pytest.raises(TileError) as info:
        conv2d(x, np.zeros(wshape), tile=tile, dilation=dilation, engine=FloatFFT())
    assert re.search(rf"along axis {axis}\b", str(info.value)), str(info.value)
