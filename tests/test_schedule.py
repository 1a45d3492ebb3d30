"""The native pipeline schedule (csrc/schedule.c) against a cycle-by-cycle simulation,
the closed form against the schedule, and the schedule at any batch."""
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fdafast
from fdafast import _native, cost, mapping, placement, residency, workloads
from fdafast.errors import NativeError
from fdafast.placement import Stage
from fdafast.workloads import Layer

import naive_schedule


stages = st.lists(st.tuples(st.integers(0, 7), st.integers(1, 3), st.integers(0, 3)),
                  min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(nitems=st.integers(1, 12), spec=stages)
def test_schedule_matches_cycle_simulation(nitems, spec):
    service, servers, capacity = map(list, zip(*spec))
    span, starts = _native.pipeline(nitems, service, servers, capacity, starts=True)
    ref_span, ref_starts = naive_schedule.pipeline(nitems, service, servers, capacity)
    assert span == ref_span
    np.testing.assert_array_equal(starts, np.array(ref_starts))
    assert _native.pipeline(nitems, service, servers, capacity) == span


def test_schedule_hand_cases():
    # one stage, 2 units of 5 cycles, 5 items: waves at 0, 5, 10 -> 15
    assert _native.pipeline(5, [5], [2], [0]) == 15
    # 3 stages of 2, 5, 1 cycles, unbounded buffers: fill 2, bottleneck 3 x 5, drain 1
    assert _native.pipeline(3, [2, 5, 1], [1, 1, 1], [9, 9, 9]) == 2 + 15 + 1
    # no buffer after a fast stage: it waits for the slow one (blocking)
    span, starts = _native.pipeline(3, [2, 5, 1], [1, 1, 1], [0, 0, 0], starts=True)
    np.testing.assert_array_equal(starts[:, 0], [0, 2, 7])
    assert span == 18


def _stages(spec):
    return tuple(Stage(f"s{i}", t, u, c) for i, (t, u, c) in enumerate(spec))


@settings(max_examples=200, deadline=None)
@given(nitems=st.integers(1, 3000), spec=st.lists(
    st.tuples(st.integers(0, 5000), st.integers(1, 64), st.integers(1, 4)),
    min_size=1, max_size=6))
def test_closed_form_within_fill_and_drain(nitems, spec):
    """|schedule - closed form| <= the sum of the services (one pass of fill and drain)."""
    st_ = _stages(spec)
    sched, closed = cost.schedule_units(nitems, st_), placement.closed_form_units(nitems, st_)
    assert abs(sched - closed) <= sum(t for t, _, _ in spec)
    assert sched >= max(-(-nitems // u) * t for t, u, _ in spec)


@settings(max_examples=100, deadline=None)
@given(extra=st.integers(1, 40000), spec=st.lists(
    st.tuples(st.integers(0, 300), st.sampled_from([1, 1, 2, 3, 8, 16]), st.integers(0, 3)),
    min_size=1, max_size=5))
def test_extrapolation_beyond_the_walk_limit(extra, spec):
    """Beyond WALK_LIMIT items the schedule is extrapolated; against a full walk it is
    exact once periodic, and never off by more than one pass of the services."""
    st_ = _stages(spec)
    n = 512 + extra
    exact = cost._walk(n, st_)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cost, "WALK_LIMIT", 512)
        assert abs(cost.schedule_units(n, st_) - exact) <= sum(t for t, _, _ in spec)


def _network_layers(preset, residency_mode, net):
    acc = fdafast.Accelerator.from_preset(preset, execution__residency=residency_mode)
    layers = residency.infer_pools(net)
    choices = [mapping.choose(l, acc, s) for l, s in zip(layers, residency.spills(layers, acc))]
    nplan = residency.plan([c.lmap for c in choices], acc)
    return acc, [(c.lmap, p) for c, p in zip(choices, nplan.placements)]


@pytest.mark.filterwarnings("ignore::fdafast.cost.AdcResolutionWarning")
@pytest.mark.parametrize("preset", ["fda", "isaac", "asic-fft"])
@pytest.mark.parametrize("mode", ["pipelined", "reprogram"])
@pytest.mark.parametrize("net", ["c3d", "vgg16"])
def test_closed_form_and_extrapolation_on_the_networks(preset, mode, net):
    acc, maps = _network_layers(preset, mode, getattr(workloads, net)())
    for lmap, pl in maps:
        st_ = placement.stages(lmap, pl, acc)
        sched = cost.schedule_units(lmap.items, st_)
        assert abs(sched - placement.closed_form_units(lmap.items, st_)) <= \
            sum(s.service for s in st_), lmap.layer.name
        if lmap.items > cost.WALK_LIMIT:          # extrapolated: exact on these layers
            assert sched == cost._walk(lmap.items, st_), lmap.layer.name


def test_stage_times_are_not_rounded_to_cycles():
    """A pooled stage's per-item time is a fraction of a cycle: rounding it up to a
    whole cycle made ISAAC's VGG conv1_1 bound by its buffer (1.88x too slow)."""
    acc = fdafast.Accelerator.from_preset("isaac", execution__residency="reprogram")
    layer = workloads.vgg16()[0]
    lmap = mapping.choose(layer, acc, (False, False)).lmap
    pl = placement.Placement(copies=4032, tiles=168, resident=lmap.crossbars)
    st_ = {s.name: s for s in placement.stages(lmap, pl, acc)}
    assert 0 < st_["buffer"].service < placement.TIME_UNITS        # under one cycle
    cycles = cost.schedule_cycles(lmap.items, tuple(st_.values()))
    mac_bound = -(-lmap.items // 4032) * 16 * 120                # 13 waves of 16 reads
    assert mac_bound <= cycles <= mac_bound * 1.01


@pytest.mark.filterwarnings("ignore::fdafast.cost.AdcResolutionWarning")
@pytest.mark.parametrize("preset", ["fda", "isaac", "asic-fft"])
def test_an_estimate_at_any_batch_returns_in_milliseconds(preset):
    acc = fdafast.Accelerator.from_preset(preset)
    for batch in (10 ** 10, 10 ** 15):
        t0 = time.perf_counter()
        r = cost.estimate(workloads.c3d(batch=batch), acc)
        assert time.perf_counter() - t0 < 2.0            # milliseconds; slack for loaded CI
        assert r.totals["frames_per_s"] == pytest.approx(
            cost.estimate(workloads.c3d(batch=10 ** 4), acc).totals["frames_per_s"], rel=0.02)
    t0 = time.perf_counter()
    r = cost.estimate(Layer("fc", "linear", 4096, 4096, batch=10 ** 15), acc)
    assert time.perf_counter() - t0 < 2.0 and r.totals["latency_s"] > 0


@pytest.mark.parametrize("args", [
    (0, [1], [1], [0]), (3, [-1], [1], [0]), (3, [1], [0], [0]), (3, [1], [1], [-1]),
    (3, [1] * 17, [1] * 17, [0] * 17),
])
def test_schedule_rejects_bad_geometry(args):
    with pytest.raises(NativeError):
        _native.pipeline(*args)
