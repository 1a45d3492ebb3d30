"""Workload layer lists: shapes, MAC counts against published totals, validation."""
import numpy as np
import pytest

from fdafast import FdafastError, workloads
from fdafast._tiling import output_size
from fdafast.workloads import Layer


def test_c3d_shapes_and_macs():
    layers = workloads.c3d()
    assert [l.name for l in layers] == ["conv1a", "conv2a", "conv3a", "conv3b", "conv4a",
                                        "conv4b", "conv5a", "conv5b", "fc6", "fc7", "fc8"]
    # pools between blocks: (1,2,2) after conv1a, then (2,2,2)
    convs = [l for l in layers if l.kind == "conv3d"]
    assert all(l.output_spatial == l.spatial for l in convs)          # 3x3x3, padding 1
    assert convs[1].spatial == (16, 56, 56) and convs[2].spatial == (8, 28, 28)
    # pool5 (2,2,2) with padding (0,1,1): 512 x 1 x 4 x 4 = 8192 features
    assert layers[8].cin == 512 * 1 * 4 * 4
    # "38.5 GFLOPs" of C3D (Tran et al.) counts multiply-accumulates
    assert sum(l.macs for l in layers) == pytest.approx(38.5e9, rel=0.005)


def test_vgg16_shapes_and_macs():
    layers = workloads.vgg16()
    convs = [l for l in layers if l.kind == "conv2d"]
    assert len(convs) == 13 and layers[13].cin == 512 * 7 * 7
    assert sum(l.macs for l in layers) == pytest.approx(15.47e9, rel=0.005)
    # 2x2 pools between blocks
    for a, b in zip(convs, convs[1:]):
        assert a.output_shape[0] == b.cin
        assert b.spatial in (a.output_spatial, tuple(s // 2 for s in a.output_spatial))


def test_batch_and_classes():
    one, four = workloads.c3d(), workloads.c3d(num_classes=101, batch=4)
    assert four[-1].cout == 101
    assert [4 * l.macs for l in one[:-1]] == [l.macs for l in four[:-1]]


@pytest.mark.parametrize("seed", range(20))
def test_output_size_matches_the_conv_formula(seed):
    rng = np.random.default_rng(seed)
    nd = int(rng.integers(2, 4))
    k = tuple(int(v) for v in rng.integers(1, 4, nd))
    d = tuple(int(v) for v in rng.integers(1, 3, nd))
    p = tuple(int(v) for v in rng.integers(0, 3, nd))
    s = tuple(int(v) for v in rng.integers(1, 4, nd))
    n = tuple(int(v) for v in rng.integers(8, 20, nd))
    layer = Layer("l", f"conv{nd}d", 4, 6, n, k, s, p, d, groups=2)
    assert layer.output_spatial == tuple(
        output_size(ni, di * (ki - 1) + 1, pi, pi, si)
        for ni, ki, si, pi, di in zip(n, k, s, p, d))
    assert layer.macs == 6 * np.prod(layer.output_spatial) * 2 * np.prod(k)


@pytest.mark.parametrize("kw, match", [
    (dict(kind="conv4d"), "kind"),
    (dict(kernel=(3,)), "kernel"),
    (dict(cin=6, groups=4), "groups"),
    (dict(cout=0), "cout"),
    (dict(kernel=(9, 9), spatial=(4, 4)), "does not fit"),
])
def test_bad_layers(kw, match):
    args = dict(name="bad", kind="conv2d", cin=4, cout=8, spatial=(8, 8), kernel=(3, 3))
    args.update(kw)
    with pytest.raises(FdafastError, match=match):
        Layer(**args)


def test_pooling_after_a_layer():
    c3d = workloads.c3d()
    assert [l.pool for l in c3d[:4]] == [(1, 2, 2), (2, 2, 2), (), (2, 2, 2)]
    for a, b in zip(c3d, c3d[1:8]):
        assert a.pooled_spatial == b.spatial                    # the next layer's input
    assert c3d[7].pooled_spatial == (1, 4, 4)                   # pool5, padded (0, 1, 1)
    assert c3d[7].cout * 16 == c3d[8].cin
    vgg = workloads.vgg16()
    assert vgg[12].pooled_spatial == (7, 7) and vgg[0].pooled_spatial == (224, 224)
    assert Layer("l", "conv2d", 4, 8, (8, 8), (3, 3)).pool is None        # not stated
    with pytest.raises(FdafastError, match="pool"):
        Layer("l", "conv2d", 4, 8, (8, 8), (3, 3), pool=(2,))
    with pytest.raises(FdafastError, match="pool"):
        Layer("l", "conv2d", 4, 8, (8, 8), (3, 3), pool=(2, 0))
