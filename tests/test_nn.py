"""Networks: ops against torch, the zoo, importers, weights, run modes, simulate."""
import warnings

import numpy as np
import pytest

import fdafast
from fdafast import cost
from fdafast.nn import (GraphError, Network, Node, WeightsError, datasets, from_torch,
                        functional as F, sliding_clips, to_torch, zoo)

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


def _rand_bn(net, seed=1):
    """Give every batch norm non-trivial statistics (so folding is exercised)."""
    rng = np.random.default_rng(seed)
    for n in net.nodes:
        if n.op == "batchnorm":
            c = n.params["running_mean"].shape[0]
            n.params.update(running_mean=rng.uniform(-.2, .2, c).astype(np.float32),
                            running_var=rng.uniform(.5, 2, c).astype(np.float32),
                            weight=rng.uniform(.5, 1.5, c).astype(np.float32),
                            bias=rng.uniform(-.2, .2, c).astype(np.float32))
    return net


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b))


# -- numpy ops against torch ---------------------------------------------------------------
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_pooling_matches_torch(nd, seed):
    rng = np.random.default_rng(seed * 10 + nd)
    k = tuple(int(v) for v in rng.integers(1, 4, nd))
    s = tuple(int(v) for v in rng.integers(1, 4, nd))
    p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    d = tuple(int(v) for v in rng.integers(1, 3, nd))
    ceil, cip = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    size = tuple(int(rng.integers(max(kk * dd, 3), 10)) for kk, dd in zip(k, d))
    x = rng.standard_normal((2, 3) + size)
    tx = torch.from_numpy(x)
    want = getattr(TF, f"max_pool{nd}d")(tx, k, s, p, d, ceil_mode=ceil).numpy()
    np.testing.assert_allclose(F.max_pool(x, k, s, p, d, ceil), want)
    want = getattr(TF, f"avg_pool{nd}d")(tx, k, s, p, ceil_mode=ceil,
                                         count_include_pad=cip).numpy()
    np.testing.assert_allclose(F.avg_pool(x, k, s, p, ceil, cip), want, rtol=1e-12)
    o = tuple(int(v) for v in rng.integers(1, 6, nd))
    want = getattr(TF, f"adaptive_avg_pool{nd}d")(tx, o).numpy()
    np.testing.assert_allclose(F.adaptive_avg_pool(x, o), want, rtol=1e-12)


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("seed", range(6))
def test_direct_conv_matches_torch(nd, seed):
    rng = np.random.default_rng(seed)
    g = int(rng.choice([1, 2]))
    w = rng.standard_normal((4, 6 // g) + tuple(int(v) for v in rng.integers(1, 4, nd)))
    x = rng.standard_normal((2, 6) + (7,) * nd)
    s, p, d = (tuple(int(v) for v in rng.integers(lo, hi, nd)) for lo, hi in
               ((1, 3), (0, 2), (1, 3)))
    b = rng.standard_normal(4)
    want = getattr(TF, f"conv{nd}d")(*map(torch.from_numpy, (x, w, b)), s, p, d, g).numpy()
    np.testing.assert_allclose(F.direct_conv(x, w, b, s, p, d, g, chunk_bytes=2000), want,
                               rtol=1e-10, atol=1e-12)


def test_activations_match_torch():
    x = np.linspace(-8, 8, 101)
    tx = torch.from_numpy(x)
    pairs = {"relu": TF.relu, "relu6": TF.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
             "hardswish": TF.hardswish, "elu": TF.elu, "leaky_relu": TF.leaky_relu,
             "hardtanh": TF.hardtanh}
    for name, fn in pairs.items():
        np.testing.assert_allclose(F.activation(name, x), fn(tx).numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(F.softmax(x.reshape(1, -1)), TF.softmax(tx.reshape(1, -1), 1),
                               rtol=1e-12)


# -- the zoo --------------------------------------------------------------------------------------
#: Parameters and multiply-accumulates torchvision publishes (GFLOPS there are MACs).
PUBLISHED = {"r3d_18": (33_371_472, 40.70), "mc3_18": (11_695_440, 43.34),
             "r2plus1d_18": (31_505_325, 40.52), "alexnet": (61_100_840, 0.71),
             "vgg16": (138_357_544, 15.47), "resnet18": (11_689_512, 1.81),
             "resnet50": (25_557_032, 4.09), "c3d": (None, 38.55)}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_zoo_matches_published_sizes(name):
    net = zoo.get(name)
    params, gmacs = PUBLISHED[name]
    n = sum(v.size for k, v in net.state_dict().items() if "running_" not in k)
    if params is not None:
        assert n == params
    assert sum(l.macs for l in net.layers()) / 1e9 == pytest.approx(gmacs, abs=0.006)


def test_zoo_c3d_layers_are_the_workload():
    mine = zoo.c3d().layers()
    ref = fdafast.workloads.c3d()
    strip = lambda l: (l.kind, l.cin, l.cout, l.spatial, l.kernel, l.stride, l.padding)
    assert [strip(l) for l in mine] == [strip(l) for l in ref]


def test_zoo_is_deterministic_and_seeded():
    a, b, c = zoo.tiny3d(seed=3), zoo.tiny3d(seed=3), zoo.tiny3d(seed=4)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])
    assert not np.array_equal(a.state_dict()["conv1.weight"], c.state_dict()["conv1.weight"])
    w = zoo.get("resnet18").state_dict()["layer3.0.conv1.weight"]
    assert w.std() == pytest.approx(np.sqrt(2 / (128 * 9)), rel=0.05)     # He
    with pytest.raises(GraphError, match="the zoo has"):
        zoo.get("lenet")


@pytest.mark.parametrize("name", ["resnet18", "r2plus1d_18", "alexnet", "tiny2d", "tiny3d"])
def test_fft_mode_matches_torch_on_the_same_graph(name):
    net = _rand_bn(zoo.get(name, num_classes=10))
    x = np.random.default_rng(0).random((1,) + net.input_shape, dtype=np.float32)
    with torch.no_grad():
        ref = to_torch(net)(torch.from_numpy(x)).numpy()
    assert rel(net.run(x, mode="fft"), ref) <= 1e-4


def test_torchvision_weights_and_outputs():
    tv = pytest.importorskip("torchvision")
    for name, ctor in (("resnet18", tv.models.resnet18),
                       ("r3d_18", tv.models.video.r3d_18)):
        model = ctor(weights=None).eval()
        net = zoo.get(name).load_weights(model.state_dict())
        x = np.random.default_rng(0).random((1,) + net.input_shape, dtype=np.float32)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        assert rel(net.run(x, mode="fft"), ref) <= 1e-4


# -- importers ------------------------------------------------------------------------------------
class _Mixed(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = tnn.BatchNorm2d(8)
        self.conv2 = tnn.Conv2d(8, 8, 3, padding="same", groups=2, bias=False)
        self.pool = tnn.MaxPool2d(3, 2, 1, ceil_mode=True)
        self.avg = tnn.AvgPool2d(2, count_include_pad=False)
        self.act = tnn.LeakyReLU(0.1)
        self.fc = tnn.Linear(16 * 2 * 2, 5)

    def forward(self, x):
        y = TF.relu(self.bn1(self.conv1(x)))
        y = self.act(self.conv2(y)) + y
        y = torch.cat([self.pool(y), self.pool(torch.tanh(y))], dim=1)
        y = self.avg(torch.sigmoid(y))
        return self.fc(torch.flatten(y, 1))


def _mixed():
    torch.manual_seed(0)
    m = _Mixed()
    for mod in m.modules():
        if isinstance(mod, tnn.BatchNorm2d):
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
    return m.eval()


def test_from_torch_matches_torch():
    m = _mixed()
    x = torch.randn(2, 3, 9, 9)
    net = from_torch(m, x)
    with torch.no_grad():
        ref = m(x).numpy()
    assert rel(net.run(x.numpy(), mode="fft"), ref) <= 1e-4
    assert rel(net.run(x.numpy(), mode="direct"), ref) <= 1e-5
    assert set(net.state_dict()) == {k for k in m.state_dict() if "num_batches" not in k}


def test_from_onnx_matches_torch(tmp_path):
    pytest.importorskip("onnx")
    m = _mixed()
    x = torch.randn(1, 3, 9, 9)
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, x, str(path), dynamo=False)
    net = fdafast.from_onnx(path)
    with torch.no_grad():
        ref = m(x).numpy()
    assert rel(net.run(x.numpy(), mode="fft"), ref) <= 1e-4
    assert "conv1.weight" in net.state_dict()


def test_unsupported_operations_are_named(tmp_path):
    class Bad(tnn.Module):
        def forward(self, x):
            return torch.sin(x)

    with pytest.raises(GraphError, match="sin"):
        from_torch(Bad(), torch.randn(1, 3, 4, 4))
    with pytest.raises(GraphError, match="LocalResponseNorm"):
        from_torch(tnn.Sequential(tnn.Conv2d(3, 3, 1), tnn.LocalResponseNorm(2)),
                   torch.randn(1, 3, 4, 4))
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Sin", ["x"], ["y"], name="the_sine")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    with pytest.raises(GraphError, match="the_sine.*Sin"):
        fdafast.from_onnx(helper.make_model(g))


# -- weights ------------------------------------------------------------------------------------------
def test_weights_round_trip_and_mismatches(tmp_path):
    net = zoo.tiny3d()
    other = zoo.tiny3d(seed=9)
    other.save_weights(tmp_path / "w.npz")
    net.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(net.state_dict()["fc.weight"], other.state_dict()["fc.weight"])
    torch.save({"fc.weight": torch.zeros(3, 3), "extra.bias": torch.zeros(1),
                **{k: torch.from_numpy(v) for k, v in net.state_dict().items()
                   if k not in ("fc.weight", "conv1.bias")}}, tmp_path / "w.pt")
    before = {k: v.copy() for k, v in net.state_dict().items()}
    with pytest.raises(WeightsError) as err:
        net.load_weights(tmp_path / "w.pt")
    msg = str(err.value)
    assert "missing: conv1.bias" in msg and "unexpected: extra.bias" in msg
    assert "fc.weight: expected (8, 16), got (3, 3)" in msg and "nothing was loaded" in msg
    for k, v in net.state_dict().items():                  # nothing half-loaded
        np.testing.assert_array_equal(v, before[k])
    bad = dict(net.state_dict())
    bad["conv1.weight"] = bad["conv1.weight"] * np.nan
    with pytest.raises(WeightsError, match="not finite: conv1.weight"):
        net.load_weights(bad)
    with pytest.raises(WeightsError, match="no weights file"):
        net.load_weights(tmp_path / "none.npz")


# -- modes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tiny2d", "tiny3d"])
def test_quant_equals_reram_bit_for_bit_when_exact(name):
    net = _rand_bn(zoo.get(name))
    x = np.random.default_rng(2).random((2,) + net.input_shape)
    exact = dict(adc_bits=10)                 # 128 rows x 3 levels x 1 DAC code < 2^10
    q = net.run(x, mode="quant")
    r = net.run(x, mode="reram", crossbar=exact, calibrate=False, force_emulation=True)
    np.testing.assert_array_equal(q, r)
    y, caps = net.run(x, mode="quant", capture=True)
    ref = net.run(x, mode="direct")
    assert rel(y, ref) < 1e-3 and set(caps) == {l.name for l in net.layers()}


def test_reram_mode_is_lossy_and_seeded():
    net = zoo.tiny3d()
    x = np.random.default_rng(2).random((2,) + net.input_shape)
    noisy = dict(read_sigma=0.5, adc_bits=6)
    a = net.run(x, mode="reram", crossbar=noisy, seed=1)
    b = net.run(x, mode="reram", crossbar=noisy, seed=1)
    c = net.run(x, mode="reram", crossbar=noisy, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # noise that flips codes of high significance: the output moves well off float
    assert np.all(np.isfinite(a)) and rel(a, net.run(x, mode="direct")) > 1e-2
    quiet = net.run(x, mode="reram", crossbar=dict(read_sigma=0.05), seed=1)
    assert rel(quiet, net.run(x, mode="direct")) < 1e-3    # rounded away by the ADC


def test_read_keys_read_the_same_programmed_network_with_fresh_noise():
    from fdafast.nn import execute
    net = zoo.tiny3d()
    x = np.random.default_rng(2).random((1,) + net.input_shape)
    noisy = dict(read_sigma=0.5, adc_bits=6)
    a = net.run(x, mode="reram", crossbar=noisy, seed=1)
    plans = len(execute.executor(net).plans)
    b = net.run(x, mode="reram", crossbar=noisy, seed=1, read_key=0)
    k1 = net.run(x, mode="reram", crossbar=noisy, seed=1, read_key=1)
    k2 = net.run(x, mode="reram", crossbar=noisy, seed=1, read_key=2)
    assert len(execute.executor(net).plans) == plans          # no layer planned again
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, k1) and not np.array_equal(k1, k2)
    np.testing.assert_array_equal(k1, net.run(x, mode="reram", crossbar=noisy, seed=1,
                                              read_key=1))
    # without read noise the key changes nothing (the cells are the seed's)
    faulty = dict(stuck_off_rate=0.05, adc_bits=6)
    np.testing.assert_array_equal(net.run(x, mode="reram", crossbar=faulty, seed=1),
                                  net.run(x, mode="reram", crossbar=faulty, seed=1, read_key=9))
    for bad in (-1, 2 ** 64, 1.5, True):
        with pytest.raises(fdafast.InvalidArgumentError, match="read_key"):
            net.run(x, mode="reram", crossbar=noisy, read_key=bad)


def test_run_rejects_bad_input():
    net = zoo.tiny3d()
    good = np.zeros((1,) + net.input_shape)
    with pytest.raises(fdafast.ShapeError, match=r"expects inputs of shape \(N,\) \+ \(3, 8, 32, 32\)"):
        net.run(np.zeros((1, 3, 8, 32)))
    bad = good.copy()
    bad[0, 0, 0, 0, 0] = np.nan
    with pytest.raises(fdafast.NonFiniteError):
        net.run(bad)
    with pytest.raises(fdafast.FdafastError, match="mode must be one of"):
        net.run(good, mode="analog")
    with pytest.raises(fdafast.FdafastError, match="known presets"):
        net.run(good, mode="reram", arch="fdx")
    with pytest.raises(fdafast.FdafastError, match="frequency-domain ReRAM"):
        net.run(good, mode="reram", arch="isaac")
    with pytest.raises(fdafast.FdafastError, match="tile"):
        zoo.alexnet().run(np.zeros((1, 3, 224, 224)), mode="quant")


def test_graph_errors():
    inp = Node("input", "input", attrs={"shape": (3, 8, 8)})
    with pytest.raises(GraphError, match="unsupported operation 'lstm'"):
        Network([inp, Node("x", "lstm", ("input",))])
    with pytest.raises(GraphError, match="do not come before"):
        Network([inp, Node("x", "act", ("y",), {"kind": "relu"})])
    with pytest.raises(fdafast.ShapeError, match="expects 4 input channels"):
        Network([inp, Node("c", "conv", ("input",), {"stride": (1, 1), "padding": (0, 0),
                                                      "dilation": (1, 1), "groups": 1},
                           {"weight": np.zeros((2, 4, 3, 3), np.float32)})])


# -- simulate ----------------------------------------------------------------------------------------
def test_simulate_costs_equal_estimate_and_batches_agree():
    net = zoo.tiny3d()
    x = np.random.default_rng(0).random((3,) + net.input_shape)
    r = fdafast.simulate(net, x, arch="fda", mode="quant")
    est = cost.estimate(net.layers(batch=3), "fda")
    assert r.report.as_dict() == est.as_dict()
    assert set(r.errors) == {"conv1", "conv2", "fc"}
    assert all(e.snr_db > 40 for e in r.errors.values())
    r2 = fdafast.simulate(net, x, arch="fda", mode="quant", batch_size=2)
    np.testing.assert_array_equal(r.output, r2.output)
    assert r.top1_agreement() == 1.0


def test_simulate_costs_the_hardware_it_computes_with():
    net = zoo.tiny2d()
    x = np.random.default_rng(0).random((1,) + net.input_shape)
    r = fdafast.simulate(net, x, mode="reram", crossbar=dict(adc_bits=6, read_sigma=0.01))
    six = fdafast.Accelerator.from_preset("fda", crossbar__adc_bits=6)
    assert r.report.as_dict() == cost.estimate(net.layers(), six).as_dict()


def test_each_layer_draws_from_a_seed_of_its_own():
    from fdafast.nn import execute
    net = zoo.tiny3d()
    x = np.random.default_rng(2).random((1,) + net.input_shape)
    net.run(x, mode="reram", crossbar=dict(stuck_off_rate=0.01), seed=4)
    plans = [(k[1], p) for k, p in execute.executor(net).plans.items()
             if k[0].mode == "reram" and hasattr(p, "engine")]
    assert plans
    for name, p in plans:
        assert p.engine.seed == execute.layer_seed(4, name)
    seeds = {execute.layer_seed(s, n) for s in (0, 4) for n in ("conv1", "conv2", "fc")}
    assert len(seeds) == 6
    assert execute.layer_seed(4, "conv1") == 9487429406472047888      # the same everywhere


def test_simulated_batches_and_clips_never_share_read_noise():
    from fdafast._rng import part_key
    net = zoo.tiny3d(num_classes=3)
    one = np.random.default_rng(0).random((1,) + net.input_shape)
    x = np.concatenate([one, one])
    noisy = dict(read_sigma=0.5, adc_bits=6)
    r = fdafast.simulate(net, x, mode="reram", crossbar=noisy, batch_size=1, seed=3,
                         read_key=7)
    assert not np.array_equal(r.output[0], r.output[1])          # batches read afresh
    np.testing.assert_array_equal(r.output[1], net.run(one, mode="reram", crossbar=noisy, seed=3,
                                                       read_key=part_key(7, 1))[0])
    video = np.repeat(one[0][:, :1], 16, axis=1)                 # every frame alike
    v = fdafast.simulate_video(net, video, mode="reram", stride=8, crossbar=noisy, seed=3)
    assert v.starts == [0, 8] and not np.array_equal(v.outputs[0], v.outputs[1])
    np.testing.assert_array_equal(v.outputs[0], net.run(video[None, :, :8], mode="reram",
                                                        crossbar=noisy, seed=3)[0])
    with pytest.raises(fdafast.InvalidArgumentError, match="read_key"):
        fdafast.simulate(net, x, mode="reram", read_key=-2)


def test_sliding_clips_bounded_and_complete():
    frames_made = []

    def frames():
        for t in range(20):
            frames_made.append(t)
            yield np.full((3, 4, 4), t, np.float32)

    it = sliding_clips(frames(), clip_len=8, stride=4)
    start, clip = next(it)
    assert start == 0 and clip.shape == (3, 8, 4, 4) and len(frames_made) == 8
    rest = list(it)
    assert [s for s, _ in rest] == [4, 8, 12]
    np.testing.assert_array_equal(rest[-1][1][0, :, 0, 0], np.arange(12, 20))
    net = zoo.tiny3d(num_classes=3)
    video = np.random.default_rng(0).random((3, 20, 32, 32))
    v = fdafast.simulate_video(net, video, mode="fft", stride=4)
    assert v.starts == [0, 4, 8, 12] and v.outputs.shape == (4, 3)
    np.testing.assert_allclose(v.outputs[1], net.run(video[None, :, 4:12], mode="fft")[0],
                               rtol=1e-6)


def test_reram_keeps_top1_on_a_held_out_set():
    """8-bit weights and inputs, an ADC that never clips: top-1 within 2 points of float."""
    torch.manual_seed(0)
    xtr, ytr = datasets.moving_shapes(384, directions=4, seed=1)
    xte, yte = datasets.moving_shapes(100, directions=4, seed=2)
    m = tnn.Sequential(tnn.Conv3d(1, 8, 3, padding=1), tnn.ReLU(), tnn.MaxPool3d((1, 2, 2)),
                       tnn.Conv3d(8, 16, 3, padding=1), tnn.ReLU(), tnn.AdaptiveAvgPool3d(1),
                       tnn.Flatten(), tnn.Linear(16, 4))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    X, Y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for _ in range(12):
        for i in range(0, len(X), 64):
            opt.zero_grad()
            TF.cross_entropy(m(X[i:i + 64]), Y[i:i + 64]).backward()
            opt.step()
    net = from_torch(m, xte[:1])
    top1 = lambda y: float(np.mean(y.argmax(1) == yte))
    float_acc = top1(net.run(xte, mode="fft"))
    reram_acc = top1(net.run(xte, mode="reram", calibrate=False,
                             crossbar=dict(weight_bits=8, input_bits=8, adc_bits=9)))
    assert float_acc > 0.8
    assert reram_acc >= float_acc - 0.02
