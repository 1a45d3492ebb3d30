"""fdafast.nn.load: the model and input loaders the command line and the sweeps share."""
import numpy as np
import pytest

import fdafast
from fdafast.nn.load import load_input, load_model


def test_load_model_by_name_and_errors(tmp_path):
    net = load_model("tiny2d", num_classes=3)
    assert net.name == "tiny2d" and net.run(load_input(net), mode="fft").shape == (1, 3)
    with pytest.raises(fdafast.FdafastError, match="unknown model 'lenet'; zoo models: c3d"):
        load_model("lenet")
    with pytest.raises(fdafast.FdafastError, match="no ONNX file at"):
        load_model(tmp_path / "missing.onnx")


def test_load_input_random_shape_and_file(tmp_path):
    net = load_model("tiny2d")
    x = load_input(net, batch=2, seed=5)
    assert x.shape == (2,) + net.input_shape and x.dtype == np.float32
    assert np.array_equal(x, np.random.default_rng(5).random(x.shape, dtype=np.float32))
    item = ",".join(map(str, net.input_shape))
    assert load_input(net, item, batch=3).shape == (3,) + net.input_shape
    assert load_input(net, "4," + item).shape == (4,) + net.input_shape
    np.save(tmp_path / "one.npy", x[0])
    assert np.array_equal(load_input(net, tmp_path / "one.npy"), x[:1])   # gains a batch axis


def test_load_input_errors_name_the_argument(tmp_path):
    net = load_model("tiny2d")
    with pytest.raises(fdafast.InvalidArgumentError, match="no input file at"):
        load_input(net, str(tmp_path / "missing.npy"))
    with pytest.raises(fdafast.InvalidArgumentError,
                       match=r"^--input must be a \.npy file or a shape like"):
        load_input(net, "1,x", name="--input")
