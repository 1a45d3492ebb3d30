"""The ReRAM convolution engine: geometry, quantization, calibration, counts."""
import dataclasses

import numpy as np
import pytest

import fdafast
from fdafast import CrossbarConfig, ReRAM, _dispatch, reram
from fdafast.crossbar import crossbar_counts
from naive import conv_direct


def snr_db(y, ref):
    return 10 * np.log10(np.sum(ref ** 2) / max(np.sum((y - ref) ** 2), 1e-300))


FINE = CrossbarConfig(rows=16, weight_bits=16, input_bits=16, cell_bits=4, dac_bits=4,
                      adc_bits=16)       # exact crossbar, 16-bit spectra


@pytest.mark.parametrize("nd, xs, ws, kw", [
    (2, (2, 3, 9, 10), (4, 3, 3, 3), dict(padding=1)),
    (2, (1, 4, 11, 7), (6, 2, 2, 3), dict(padding="same", groups=2)),
    (2, (1, 3, 13, 12), (5, 3, 3, 3), dict(stride=2, dilation=2, padding=2)),
    (3, (1, 3, 5, 7, 6), (4, 3, 3, 3, 3), dict(padding=1)),
    (3, (2, 2, 4, 5, 5), (2, 1, 1, 3, 3), dict(padding=(0, 1, 1), groups=2)),
])
def test_fine_quantization_matches_float(nd, xs, ws, kw, rng):
    assert FINE.exact
    x, w = rng.random(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0])
    conv = fdafast.conv2d if nd == 2 else fdafast.conv3d
    y = conv(x, w, b, engine=ReRAM(FINE), **kw)
    ref = conv_direct(x, w, b, **kw)
    assert y.shape == ref.shape and y.dtype == np.float64
    assert snr_db(y, ref) > 70


@pytest.mark.parametrize("weight_scale", reram.WEIGHT_SCALES)
@pytest.mark.parametrize("input_scale", ["tile", "layer"])
def test_scalings_give_sensible_accuracy(weight_scale, input_scale, rng):
    x, w = rng.random((1, 8, 12, 12)), rng.standard_normal((8, 8, 3, 3))
    cfg = CrossbarConfig(rows=32, adc_bits=12)
    assert cfg.exact
    y = fdafast.conv2d(x, w, padding=1, engine=ReRAM(cfg, weight_scale=weight_scale,
                                                     input_scale=input_scale))
    assert snr_db(y, conv_direct(x, w, None, padding=1)) > 25


def test_plan_reuse_threads_and_counts(rng):
    x, w = rng.random((2, 4, 10, 9)), rng.standard_normal((6, 4, 3, 3))
    cfg = CrossbarConfig(rows=8, adc_bits=5, program_sigma=0.05, read_sigma=0.3)
    plan = fdafast.ConvPlan(w, (None, 4, 10, 9), padding=1, engine=ReRAM(cfg, seed=3))
    y1 = plan(x)
    y2 = plan(x, threads=1)
    np.testing.assert_array_equal(y1, y2)
    y3 = fdafast.ConvPlan(w, x.shape, padding=1, engine=ReRAM(cfg, seed=4))(x)
    assert not np.array_equal(y1, y3)
    rows = 2 * np.prod([len(range(0, n, plan.geometry.valid3[a]))
                        for a, n in enumerate((1, 10, 9))])
    per = crossbar_counts(int(rows), 4, 6, cfg)
    t3 = plan.geometry.tile3
    nb = t3[0] * t3[1] * (t3[2] // 2 + 1)
    expect = {k: v * nb for k, v in dataclasses.asdict(per).items()}
    assert dataclasses.asdict(plan.last_counts) == expect


def test_calibration(rng):
    x, w = rng.random((1, 6, 12, 12)), rng.standard_normal((6, 6, 3, 3))
    cfg = CrossbarConfig(adc_bits=6, adc_full_scale="calibrate")
    eng = ReRAM(cfg, input_scale="calibrated", percentile=99.5)
    plan = fdafast.ConvPlan(w, x.shape, padding=1, engine=eng)
    with pytest.raises(fdafast.FdafastError, match="calibrate"):
        plan(x)
    cal = plan.calibrate(x)
    assert set(cal) == {"input_scale", "adc_full_scale"}
    assert 1 <= cal["adc_full_scale"] <= cfg.s_max
    ref = conv_direct(x, w, None, padding=1)
    calibrated = snr_db(plan(x), ref)
    uncalibrated = snr_db(fdafast.conv2d(x, w, padding=1,
                                         engine=ReRAM(cfg.replace(adc_full_scale=None))), ref)
    assert calibrated > uncalibrated + 10


def test_read_keys_on_one_plan(rng):
    """read_key draws fresh read noise on the same programmed weights; calibrating
    with a key equals calibrating, then calling with it; float plans ignore keys."""
    x, w = rng.random((1, 6, 8, 8)), rng.standard_normal((4, 6, 3, 3))
    eng = ReRAM(CrossbarConfig(read_sigma=0.15, adc_bits=7, adc_full_scale="calibrate"))
    plan = fdafast.ConvPlan(w, x.shape, padding=1, engine=eng)
    y1 = plan(x, calibrate=True, read_key=1)
    other = fdafast.ConvPlan(w, x.shape, padding=1, engine=eng)
    other.calibrate(x)
    np.testing.assert_array_equal(other(x, read_key=1), y1)
    y0, y2 = plan(x), plan(x, read_key=2)
    assert not np.array_equal(y0, y1) and not np.array_equal(y1, y2)
    np.testing.assert_array_equal(plan(x, read_key=0), y0)
    ref = conv_direct(x, w, None, padding=1)
    for y in (y0, y1, y2):                        # each a noisy estimate of the same layer
        assert np.linalg.norm(y - ref) < 0.5 * np.linalg.norm(ref)
    flt = fdafast.ConvPlan(w, x.shape, padding=1)
    np.testing.assert_array_equal(flt(x, read_key=5), flt(x))
    for bad in (-1, 2 ** 64, 2.0, "1"):
        with pytest.raises(fdafast.InvalidArgumentError, match="read_key"):
            plan(x, read_key=bad)


def test_bad_engine_arguments():
    w = np.ones((2, 2, 3, 3))
    with pytest.raises(fdafast.FdafastError, match="engine"):
        fdafast.ConvPlan(w, (1, 2, 8, 8), engine="reram")
    with pytest.raises(fdafast.FdafastError, match="weight_scale"):
        ReRAM(weight_scale="row")
    with pytest.raises(fdafast.FdafastError, match="input_scale"):
        ReRAM(input_scale="bin")
    with pytest.raises(fdafast.FdafastError, match="percentile"):
        ReRAM(percentile=0)
    with pytest.raises(fdafast.FdafastError, match="calibrate"):
        fdafast.ConvPlan(w, (1, 2, 8, 8)).calibrate(np.ones((1, 2, 8, 8)))


@pytest.mark.parametrize("weight_scale, input_scale", [("channel", "tile"), ("bin", "layer"),
                                                       ("layer", "calibrated")])
@pytest.mark.parametrize("devices", [{}, dict(program_sigma=0.1, read_sigma=0.4,
                                               stuck_off_rate=0.02, on_off_ratio=50.0)])
def test_native_and_numba_paths_agree(weight_scale, input_scale, devices, rng):
    """The C kernels' direct, scaled output equals the Numba path bit for bit."""
    x, w = rng.random((1, 5, 9, 10)), rng.standard_normal((6, 5, 3, 3))
    cfg = CrossbarConfig(rows=8, adc_bits=5, **devices)
    eng = ReRAM(cfg, weight_scale=weight_scale, input_scale=input_scale)

    def run():
        plan = fdafast.ConvPlan(w, x.shape, padding=1, engine=eng)
        if eng.needs_calibration:
            plan.calibrate(x)
        return plan(x)
    fast = run()
    with _dispatch.forced("numba"):
        slow = run()
    np.testing.assert_array_equal(fast, slow)
