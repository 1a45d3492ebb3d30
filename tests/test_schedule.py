"""The native pipeline schedule (csrc/schedule.c) against a cycle-by-cycle simulation,
and the closed form of fdafast.cost against the schedule."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fdafast
from fdafast import _native, cost, dataflow, workloads
from fdafast.dataflow import LayerMap, Stage
from fdafast.errors import NativeError

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


def _lmap(nitems, spec, reprogram=0):
    st_ = tuple(Stage(f"s{i}", t, u, c) for i, (t, u, c) in enumerate(spec))
    return LayerMap(None, "spatial", nitems, st_, {}, 0, 1, 1, 0, reprogram, {}, {}, {})


@settings(max_examples=200, deadline=None)
@given(nitems=st.integers(1, 3000), spec=st.lists(
    st.tuples(st.integers(0, 5000), st.integers(1, 64), st.integers(1, 4)),
    min_size=1, max_size=6), reprogram=st.integers(0, 10 ** 6))
def test_closed_form_within_fill_and_drain(nitems, spec, reprogram):
    """|schedule - closed form| <= the sum of the services (one pass of fill and drain)."""
    lm = _lmap(nitems, spec, reprogram)
    sched, closed = cost.schedule_cycles(lm), cost.closed_form_cycles(lm)
    assert abs(sched - closed) <= sum(t for t, _, _ in spec)
    assert sched >= max(-(-nitems // u) * t for t, u, _ in spec) + reprogram


@pytest.mark.parametrize("preset", ["fda", "isaac", "asic-fft"])
@pytest.mark.parametrize("net", ["c3d", "vgg16"])
def test_closed_form_on_the_networks(preset, net):
    acc = fdafast.Accelerator.from_preset(preset)
    for layer in getattr(workloads, net)():
        lm = dataflow.map_layer(layer, acc)
        sched, closed = cost.schedule_cycles(lm), cost.closed_form_cycles(lm)
        assert abs(sched - closed) <= sum(s.service for s in lm.stages), layer.name


@pytest.mark.parametrize("args", [
    (0, [1], [1], [0]), (3, [-1], [1], [0]), (3, [1], [0], [0]), (3, [1], [1], [-1]),
    (3, [1] * 17, [1] * 17, [0] * 17),
])
def test_schedule_rejects_bad_geometry(args):
    with pytest.raises(NativeError):
        _native.pipeline(*args)
