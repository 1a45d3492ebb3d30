"""Tests of the planning functions in :mod:`fdafast._tiling`.

Each function returns plain values, so each is checked on its own: output
sizes against torch's formula, tile counts by their covering property,
tile validation errors, the candidate tile sizes, the tile choice (valid,
equal to the brute-force minimum of the cost, larger for larger inputs)
and the chunking bounds.
"""
import itertools
import math

import numpy as np
import pytest

from fdafast import _tiling
from fdafast._tiling import (MAX_TILE_VOLUME, SUPPORTED_TILE_SIZES, CostParams, bins,
                             candidate_sizes, check_tile, choose_tile, output_size,
                             rows_per_chunk, tile_cost, tiles_needed)
from fdafast.errors import TileError


def torch_output_size(n, padding, dilation, kernel, stride):
    """The formula of the torch.nn.Conv2d documentation, written as it stands there."""
    return math.floor((n + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1)


def test_output_size_matches_torch_formula():
    for n, p, d, k, s in itertools.product(range(1, 14), range(0, 4), range(1, 4),
                                           range(1, 6), range(1, 5)):
        kext = d * (k - 1) + 1
        if kext > n + 2 * p:
            continue
        assert output_size(n, kext, p, p, s) == torch_output_size(n, p, d, k, s), (n, p, d, k, s)


def test_output_size_asymmetric_padding():
    # 'same' with an even kernel: 1 zero before, 2 after, stride 1 keeps the size
    assert output_size(10, 4, 1, 2, 1) == 10
    assert output_size(7, 3, 0, 0, 2) == 3
    assert output_size(1, 1, 0, 0, 3) == 1


def test_output_size_matches_torch_shapes():
    torch = pytest.importorskip("torch")
    for n, p, d, k, s in [(7, 0, 1, 3, 1), (13, 2, 2, 3, 3), (8, 1, 1, 4, 2), (1, 1, 1, 3, 3),
                          (20, 0, 3, 5, 4)]:
        x = torch.zeros(1, 1, n)
        w = torch.zeros(1, 1, k)
        y = torch.nn.functional.conv1d(x, w, stride=s, padding=p, dilation=d)
        assert output_size(n, d * (k - 1) + 1, p, p, s) == y.shape[-1]


def test_tiles_needed_covers_exactly():
    """n tiles of L = T - kext + 1 outputs cover need = (out-1)*s + 1, and n-1 do not."""
    for out, s, kext in itertools.product(range(1, 41), range(1, 5), range(1, 10)):
        need = (out - 1) * s + 1
        for t in SUPPORTED_TILE_SIZES:
            if t < kext:
                continue
            n = tiles_needed(out, s, kext, t)
            valid = t - kext + 1
            assert n >= 1
            assert n * valid >= need, (out, s, kext, t, n)
            assert (n - 1) * valid < need, (out, s, kext, t, n)


def test_tiles_needed_rejects_tile_smaller_than_kernel():
    with pytest.raises(TileError, match="tile 4 is smaller than the kernel extent 5"):
        tiles_needed(10, 1, 5, 4)


def test_bins_is_the_half_spectrum_size():
    for tile in [(1, 1, 2), (1, 8, 8), (4, 8, 16), (2, 1, 64)]:
        assert bins(tile) == np.fft.rfftn(np.zeros(tile)).size


@pytest.mark.parametrize("tile, kext", [
    ((1, 8, 8), (1, 3, 3)), ((1, 1, 2), (1, 1, 1)), ((1, 1, 2), (1, 1, 2)),
    ((64, 8, 64), (3, 3, 3)), ((8, 64, 64), (8, 64, 64)), ((2, 4, 8), (1, 1, 1)),
])
def test_check_tile_accepts_valid_tiles(tile, kext):
    assert check_tile(tile, kext) is None


@pytest.mark.parametrize("tile, kext, match", [
    ((1, 3, 8), (1, 3, 3), r"tile size 3 along axis 1 \([DHW]\) is not supported; accepted sizes are "
                           r"\(1, 2, 4, 8, 16, 32, 64\)"),
    ((1, 8, 128), (1, 3, 3), r"tile size 128 along axis 2 \([DHW]\) is not supported"),
    ((1, 8, 1), (1, 1, 1), r"tile size 1 along axis 2 \([DHW]\) is not supported; accepted sizes are "
                           r"\(2, 4, 8, 16, 32, 64\)"),
    ((0, 8, 8), (1, 1, 1), r"tile size 0 along axis 0 \([DHW]\) is not supported"),
    ((1, 4, 8), (1, 5, 3), r"tile size 4 along axis 1 \([DHW]\) is smaller than the dilated kernel "
                           r"extent 5; use a tile of at least 5"),
    ((2, 8, 8), (3, 3, 3), r"tile size 2 along axis 0 \([DHW]\) is smaller .* extent 3"),
    ((16, 64, 64), (1, 1, 1), r"tile \(16, 64, 64\) has 65536 samples; at most 32768"),
    ((64, 64, 64), (3, 3, 3), r"has 262144 samples"),
])
def test_check_tile_errors(tile, kext, match):
    with pytest.raises(TileError, match=match):
        check_tile(tile, kext)


@pytest.mark.parametrize("kext, span, axis, expected", [
    (3, 10, 1, [4, 8, 16]),            # up to the first size covering the span
    (3, 16, 1, [4, 8, 16]),
    (3, 17, 1, [4, 8, 16, 32]),
    (1, 1, 0, [1]),                    # a size-1 axis needs no FFT
    (1, 1, 2, [2]),                    # W is at least 2 (real FFT halves it)
    (1, 5, 2, [2, 4, 8]),
    (5, 5, 1, [8]),                    # kernel extent not a power of two
    (64, 64, 1, [64]),
    (3, 1000, 2, [4, 8, 16, 32, 64]),  # capped at the largest tile
    (65, 100, 1, []),                  # wider than every tile
])
def test_candidate_sizes(kext, span, axis, expected):
    got = candidate_sizes(kext, span, axis)
    assert got == expected
    assert all(t in SUPPORTED_TILE_SIZES and t >= kext for t in got)


LAYERS = [
    # cin, cout, groups, out (D, H, W), stride, kext, itemsize, lanes
    pytest.param(3, 64, 1, (1, 224, 224), (1, 1, 1), (1, 3, 3), 4, 16, id="vgg-first"),
    pytest.param(64, 64, 1, (1, 56, 56), (1, 1, 1), (1, 3, 3), 4, 16, id="resnet-3x3"),
    pytest.param(256, 256, 1, (1, 14, 14), (1, 1, 1), (1, 3, 3), 8, 8, id="deep-f64"),
    pytest.param(32, 32, 32, (1, 112, 112), (1, 1, 1), (1, 3, 3), 4, 16, id="depthwise"),
    pytest.param(64, 128, 1, (1, 28, 28), (1, 2, 2), (1, 3, 3), 4, 16, id="stride2"),
    pytest.param(3, 8, 1, (1, 5, 7), (1, 1, 1), (1, 7, 7), 4, 16, id="large-kernel-small-out"),
    pytest.param(64, 128, 1, (8, 28, 28), (1, 1, 1), (3, 3, 3), 4, 16, id="c3d-conv2"),
    pytest.param(2, 2, 1, (1, 1, 1), (1, 1, 1), (1, 1, 1), 8, 8, id="size1"),
    pytest.param(4, 4, 1, (3, 9, 9), (2, 1, 1), (5, 1, 33), 8, 8, id="wide-w-kernel"),
]


@pytest.mark.parametrize("cin, cout, groups, out, stride, kext, itemsize, lanes", LAYERS)
def test_choose_tile_is_valid_and_minimal(cin, cout, groups, out, stride, kext, itemsize, lanes):
    kw = dict(batch=2, cin=cin, cout=cout, groups=groups, out=out, stride=stride, kext=kext,
              itemsize=itemsize, lanes=lanes, threads=2)
    tile = choose_tile(**kw)
    assert isinstance(tile, tuple) and len(tile) == 3
    check_tile(tile, kext)                         # supported and >= the kernel extents
    assert all(t >= k for t, k in zip(tile, kext))
    # brute force over every supported tile that is at least the kernel extent
    spans = [(o - 1) * s + k for o, s, k in zip(out, stride, kext)]
    axes = [candidate_sizes(k, span, a) for a, (k, span) in enumerate(zip(kext, spans))]
    assert all(t in cands for t, cands in zip(tile, axes))
    costs = {t: tile_cost(t, **kw) for t in itertools.product(*axes)
             if math.prod(t) <= MAX_TILE_VOLUME}
    assert tile_cost(tile, **kw) == min(costs.values())


@pytest.mark.parametrize("cin, cout, groups, kext, itemsize, lanes", [
    pytest.param(3, 64, 1, (1, 3, 3), 4, 16, id="2d-3-to-64"),
    pytest.param(64, 64, 1, (1, 3, 3), 4, 16, id="2d-64-to-64"),
    pytest.param(256, 256, 1, (1, 3, 3), 8, 8, id="2d-256-f64"),
    pytest.param(32, 32, 32, (1, 5, 5), 8, 8, id="2d-depthwise-5x5"),
])
def test_choose_tile_grows_with_the_input_2d(cin, cout, groups, kext, itemsize, lanes):
    """Bigger images never get smaller tiles, and a large image gets a larger tile."""
    vols = []
    for o in (4, 8, 16, 56, 224):
        tile = choose_tile(batch=1, cin=cin, cout=cout, groups=groups, out=(1, o, o),
                           stride=(1, 1, 1), kext=kext, itemsize=itemsize, lanes=lanes,
                           threads=2)
        vols.append(math.prod(tile))
    assert vols == sorted(vols), vols
    assert vols[-1] > vols[0]


def test_choose_tile_grows_with_the_input_3d():
    vols = []
    for o in (2, 8, 16, 56):
        tile = choose_tile(batch=1, cin=64, cout=64, groups=1, out=(o, o, o), stride=(1, 1, 1),
                           kext=(3, 3, 3), itemsize=4, lanes=16, threads=2)
        vols.append(math.prod(tile))
    assert vols == sorted(vols) and vols[-1] > vols[0], vols


def test_choose_tile_small_input_uses_one_covering_tile():
    """A single tile covers a tiny input; no candidate beyond the covering size."""
    tile = choose_tile(batch=1, cin=2, cout=2, groups=1, out=(1, 1, 1), stride=(1, 1, 1),
                       kext=(1, 3, 3), itemsize=8, lanes=8)
    assert tile == (1, 4, 4)


def test_choose_tile_fallback_when_weight_spectra_too_large():
    """With every candidate over the weight budget, the smallest weight spectra win."""
    kw = dict(batch=1, cin=16, cout=16, groups=1, out=(1, 40, 40), stride=(1, 1, 1),
              kext=(1, 3, 3), itemsize=4, lanes=16)
    tile = choose_tile(**kw, params=CostParams(max_weight_bytes=0))
    assert tile == (1, 4, 4)
    # a budget that excludes only the big tiles still returns a tile within it
    budget = 2.0 * bins((1, 16, 16)) * 16 * 16 * 4
    tile = choose_tile(**kw, params=CostParams(max_weight_bytes=budget))
    assert 2.0 * bins(tile) * 16 * 16 * 4 <= budget


def test_choose_tile_rejects_kernels_wider_than_64():
    with pytest.raises(TileError, match=r"dilated kernel extent 65 along axis 2 \([DHW]\) exceeds the "
                                        r"largest supported tile 64"):
        choose_tile(batch=1, cin=1, cout=1, groups=1, out=(1, 4, 4), stride=(1, 1, 1),
                    kext=(1, 3, 65), itemsize=4, lanes=16)


def test_choose_tile_respects_max_volume():
    """Large 3D kernels: the chosen tile stays within MAX_TILE_VOLUME."""
    tile = choose_tile(batch=1, cin=4, cout=4, groups=1, out=(40, 40, 40), stride=(1, 1, 1),
                       kext=(17, 17, 17), itemsize=4, lanes=16)
    check_tile(tile, (17, 17, 17))
    assert math.prod(tile) <= MAX_TILE_VOLUME


def test_tile_cost_behaves():
    kw = dict(batch=1, cin=64, cout=64, groups=1, out=(1, 56, 56), stride=(1, 1, 1),
              kext=(1, 3, 3), itemsize=4, lanes=16)
    one = tile_cost((1, 16, 16), threads=1, **kw)
    assert one > 0
    assert tile_cost((1, 16, 16), threads=2, **kw) < one
    assert tile_cost((1, 16, 16), threads=1, **dict(kw, batch=4)) > one


@pytest.mark.parametrize("rows", [1, 5, 100, 10_000])
@pytest.mark.parametrize("threads", [1, 2, 7])
@pytest.mark.parametrize("budget", [1, 50_000, 2 ** 20, 256 * 2 ** 20])
def test_rows_per_chunk_bounds(rows, threads, budget):
    kw = dict(nbins=40, cin_p=16, cout_p=32, itemsize=4)
    per_row = 2 * kw["nbins"] * (kw["cin_p"] + kw["cout_p"]) * kw["itemsize"]
    r = rows_per_chunk(rows=rows, threads=threads, budget_bytes=budget, **kw)
    assert isinstance(r, int)
    assert 1 <= r <= rows
    assert r >= min(threads, rows)                          # every thread has a row
    assert r * per_row <= budget or r <= threads            # within budget unless forced
    if rows * per_row <= budget:
        assert r == rows                                    # one chunk when all fit


def test_supported_sizes_are_powers_of_two():
    assert SUPPORTED_TILE_SIZES == tuple(2 ** i for i in range(7))
    assert _tiling.MAX_TILE_VOLUME == 32768
