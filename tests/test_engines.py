"""The plan-engine protocol, the kernel choice, shared workspaces and executors."""
import math

import numpy as np
import pytest

import fdafast
from fdafast import CrossbarConfig, ReRAM, _dispatch
from fdafast._dispatch import Kernel
from fdafast.conv import FloatDirect, FloatFFT
from fdafast.crossbar_config import ConfigError
from fdafast.engine import PHASES, Workspace


@pytest.fixture
def rng():
    return np.random.default_rng(5)


@pytest.mark.parametrize("engine", [None, ReRAM(CrossbarConfig(rows=8, adc_bits=5,
                                                               read_sigma=0.2))])
def test_profile_honours_threads_and_times_every_phase(engine, rng):
    x, w = rng.random((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    plan = fdafast.ConvPlan(w, x.shape, padding=1, engine=engine, threads=2)
    y = plan(x)
    y1, phases = plan.profile(x, threads=1)
    np.testing.assert_array_equal(y, y1)
    assert set(phases) == set(PHASES)
    assert all(t >= 0 for t in phases.values()) and sum(phases.values()) > 0


def test_float_engine_is_the_default_and_can_be_given(rng):
    x, w = rng.random((1, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    a = fdafast.ConvPlan(w, x.shape, padding=1)
    b = fdafast.ConvPlan(w, x.shape, padding=1, engine=FloatFFT())
    assert isinstance(a.engine, (FloatFFT, FloatDirect))      # the cost model's choice
    assert isinstance(b.engine, FloatFFT)
    np.testing.assert_allclose(a(x), b(x), rtol=1e-10, atol=1e-12)
    with pytest.raises(fdafast.InvalidArgumentError, match="ReRAM"):
        a.calibrate(x)
    with pytest.raises(fdafast.InvalidArgumentError, match="engine"):
        fdafast.ConvPlan(w, x.shape, engine="reram")
    with pytest.raises(fdafast.InvalidArgumentError, match="max_workspace_bytes"):
        FloatFFT(0)


@pytest.mark.parametrize("engine", [None, ReRAM(CrossbarConfig(rows=8, adc_bits=6))])
def test_plans_sharing_a_workspace_give_their_own_results(engine, rng):
    """Layers of a network share one workspace; each plan's output is unaffected."""
    x1, w1 = rng.random((1, 3, 10, 10)), rng.standard_normal((5, 3, 3, 3))
    x2, w2 = rng.random((2, 5, 6, 7)), rng.standard_normal((2, 5, 2, 2))
    alone = [fdafast.ConvPlan(w, x.shape, engine=engine)(x) for w, x in ((w1, x1), (w2, x2))]
    ws = Workspace()
    p1 = fdafast.ConvPlan(w1, x1.shape, engine=engine, workspace=ws)
    p2 = fdafast.ConvPlan(w2, x2.shape, engine=engine, workspace=ws)
    for _ in range(2):
        np.testing.assert_array_equal(p1(x1), alone[0])
        np.testing.assert_array_equal(p2(x2), alone[1])
    assert p1.workspace_nbytes == p2.workspace_nbytes == ws.nbytes > 0
    with pytest.raises(fdafast.InvalidArgumentError, match="Workspace"):
        fdafast.ConvPlan(w1, x1.shape, workspace={})


def test_workspace_grows_and_never_shrinks():
    ws = Workspace()
    a = ws.get("a", (4, 5))
    assert a.shape == (4, 5) and ws.nbytes == 160
    ws.get("a", (2,))
    assert ws.nbytes == 160
    b = ws.get("a", (100,), aligned=True)
    assert b.ctypes.data % 64 == 0 and not b.any() and ws.nbytes >= 800
    ws.clear()
    assert ws.nbytes == 0


# -- the kernel choice -------------------------------------------------------------------------
@pytest.mark.parametrize("cfg, step, allow_exact, expect", [
    (CrossbarConfig(rows=6, cols=5, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                    adc_bits=12), 1.0, True, Kernel.EXACT),
    (CrossbarConfig(rows=6, cols=5, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                    adc_bits=12), 1.0, False, Kernel.C_IDEAL),
    (CrossbarConfig(adc_bits=6), 12.0, True, Kernel.C_IDEAL),
    (CrossbarConfig(adc_bits=6, read_sigma=0.1), 12.0, True, Kernel.C_FLOAT),
    (CrossbarConfig(rows=65536, cell_bits=8, weight_bits=8, dac_bits=7, input_bits=8),
     1.0, True, Kernel.NUMBA_FLOAT),
])
def test_one_place_chooses_the_crossbar_kernel(cfg, step, allow_exact, expect):
    assert _dispatch.crossbar_kernel(cfg, step, allow_exact) is expect


def test_forcing_a_kernel_family():
    ideal, noisy = CrossbarConfig(adc_bits=6), CrossbarConfig(adc_bits=6, program_sigma=0.1)
    with _dispatch.forced("numba"):
        assert _dispatch.crossbar_kernel(ideal, 12.0) is Kernel.NUMBA_PACKED
        assert _dispatch.crossbar_kernel(noisy, 12.0) is Kernel.NUMBA_FLOAT
    with _dispatch.forced("c"):
        exact = CrossbarConfig(rows=4, cell_bits=1, weight_bits=4, input_bits=4, adc_bits=8)
        assert exact.exact and _dispatch.crossbar_kernel(exact, 1.0) is Kernel.C_IDEAL
    assert _dispatch.crossbar_kernel(ideal, 12.0) is Kernel.C_IDEAL
    with pytest.raises(ValueError, match="family"):
        with _dispatch.forced("fortran"):
            pass


# -- values are normalised once, where they are checked ---------------------------------------------
def test_numpy_scalars_are_normalised_not_overflowed():
    cfg = CrossbarConfig(rows=np.int8(100), cell_bits=np.int16(2), adc_bits=np.uint8(8))
    assert type(cfg.rows) is int and cfg.s_max == 100 * 1 * 3
    assert not cfg.exact                  # 300 > 255: in int8, 100 * 3 would wrap to 44


@pytest.mark.parametrize("kw", [dict(adc_full_scale=math.inf), dict(on_off_ratio=math.inf),
                                dict(read_sigma=math.nan), dict(rows=True)])
def test_non_finite_and_boolean_values_are_refused(kw):
    with pytest.raises(ConfigError, match=next(iter(kw))):
        CrossbarConfig(**kw)


def test_ideal_view_drops_device_effects_and_the_adc_range():
    cfg = CrossbarConfig(adc_bits=5, adc_full_scale=40.0, read_sigma=0.3, stuck_on_rate=0.1,
                         on_off_ratio=20.0)
    ideal = cfg.ideal()
    assert ideal.ideal_devices and ideal.adc_full_scale is None
    assert ideal.replace(adc_full_scale=40.0, read_sigma=0.3, stuck_on_rate=0.1,
                         on_off_ratio=20.0) == cfg


def test_the_accelerator_embeds_the_crossbar_config():
    acc = fdafast.Accelerator.from_preset("fda", crossbar__adc_bits=6,
                                          **{"crossbar.program_sigma": 0.05})
    cfg = acc.crossbar.config
    assert isinstance(cfg, CrossbarConfig) and cfg.adc_bits == 6 and cfg.program_sigma == 0.05
    assert fdafast.Accelerator.from_dict(acc.as_dict()) == acc


# -- executors ----------------------------------------------------------------------------------
def test_executor_keeps_plans_and_rebuilds_when_weights_change():
    net = fdafast.nn.zoo.tiny2d()
    x = np.random.default_rng(0).random((1,) + net.input_shape).astype(np.float32)
    y0 = net.run(x)
    ex = fdafast.nn.execute.executor(net)
    assert ex.plans and fdafast.nn.execute.executor(net) is ex
    state = {k: v * 2 if k.endswith("fc.weight") else v for k, v in net.state_dict().items()}
    net.load_weights(state)
    assert fdafast.nn.execute.executor(net) is not ex
    assert not np.allclose(net.run(x), y0)
    fdafast.nn.execute.release(net, "fft")
    assert not fdafast.nn.execute.executor(net).plans


# -- rows that provably never round or clip take the exact product ---------------------------------
@pytest.mark.parametrize("pe", ["rowpair", "colpair"])
@pytest.mark.parametrize("enc", ["differential", "offset"])
def test_provably_exact_rows_equal_the_full_emulation(pe, enc):
    """An ADC step of 1 whose top code is below S_max: rows with few set input bits are
    exact by the bound, rows of large values clip; both must equal emulating every row."""
    from fdafast.crossbar import PreparedWeights, emulate
    from naive_crossbar import cmatmul_reference
    cfg = CrossbarConfig(rows=8, cols=16, cell_bits=2, weight_bits=6, input_bits=6,
                         dac_bits=1, adc_bits=4, adc_full_scale=15.0, pe=pe,
                         weight_encoding=enc)
    assert cfg.adc_step == 1.0 and not cfg.exact
    rng = np.random.default_rng(3)
    B, M, K, N = 3, 12, 9, 4
    x = rng.integers(-31, 32, (B, M, K)) + 1j * rng.integers(-31, 32, (B, M, K))
    x[:, ::3] = rng.integers(-1, 2, (B, 4, K))            # small rows: exact by the bound
    w = rng.integers(-31, 32, (B, K, N)) + 1j * rng.integers(-31, 32, (B, K, N))
    xr, xi = (np.ascontiguousarray(p, np.int32) for p in (x.real, x.imag))
    weights = PreparedWeights(w.real.astype(np.int32), w.imag.astype(np.int32), cfg, 0)
    ok = fdafast._kernels.crossbar.provably_exact(
        xr, xi, 0 if pe == "rowpair" else 1, cfg.channels_per_block,
        *fdafast.crossbar_config.input_chunking(cfg)[:2], cfg.adc_max // cfg.levels)
    assert ok.any() and not ok.all()
    split = emulate(xr, xi, weights, 2)
    for family in ("c", "numba"):
        with _dispatch.forced(family):
            np.testing.assert_array_equal(emulate(xr, xi, weights, 2), split)
    for b in range(B):
        np.testing.assert_array_equal(split[b], cmatmul_reference(x[b], w[b], cfg)[0])


@pytest.mark.parametrize("options", [dict(), dict(input_scale="calibrated")])
def test_calibrating_call_equals_calibrate_then_call(options, rng):
    """plan(x, calibrate=True) shares the input spectra; values and output are those of
    plan.calibrate(x) followed by plan(x)."""
    x, w = rng.random((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    cfg = CrossbarConfig(rows=8, adc_bits=5, adc_full_scale="calibrate")
    a = fdafast.ConvPlan(w, x.shape, padding=1, engine=ReRAM(cfg, seed=3, **options))
    b = fdafast.ConvPlan(w, x.shape, padding=1, engine=ReRAM(cfg, seed=3, **options))
    ya = a(x, calibrate=True)
    cal = b.calibrate(x)
    np.testing.assert_array_equal(ya, b(x))
    assert a.calibration.keys() == cal.keys()
    for k in cal:
        np.testing.assert_array_equal(a.calibration[k], cal[k])
    assert a.last_counts == b.last_counts
    with pytest.raises(fdafast.InvalidArgumentError, match="ReRAM"):
        fdafast.ConvPlan(w, x.shape, padding=1)(x, calibrate=True)
