"""The model zoo, defined in fdafast itself (no torch needed).

Parameter names follow torchvision's modules (``features.0.weight``,
``layer1.0.conv1.weight``, ``stem.0.weight``...; C3D follows the common
PyTorch port's ``conv1 ... fc8``), so official weights load with
:meth:`fdafast.nn.Network.load_weights`.  Default weights are deterministic
He initialisation: each parameter is drawn from its own generator seeded by
``(seed, crc32(name))``, normal with standard deviation ``sqrt(2 / fan_in)``
for conv and linear weights; biases 0; batch norms the identity.  The
networks return logits (no softmax).

=================  ===================  ===========================================
name               input                architecture
=================  ===================  ===========================================
``c3d``            3 x 16 x 112 x 112   Tran et al., ICCV 2015 (487 classes)
``r3d_18``         3 x 16 x 112 x 112   torchvision.models.video.r3d_18 (400)
``mc3_18``         3 x 16 x 112 x 112   torchvision.models.video.mc3_18
``r2plus1d_18``    3 x 16 x 112 x 112   torchvision.models.video.r2plus1d_18
``alexnet``        3 x 224 x 224        torchvision.models.alexnet (1000)
``vgg16``          3 x 224 x 224        torchvision.models.vgg16
``resnet18``       3 x 224 x 224        torchvision.models.resnet18
``resnet50``       3 x 224 x 224        torchvision.models.resnet50
``tiny2d``         1 x 8 x 8            a small 2D CNN (examples, tests)
``tiny3d``         3 x 8 x 32 x 32      a small 3D CNN (examples, tests)
=================  ===================  ===========================================
"""
import concurrent.futures
import math
import zlib

import numpy as np

from .._args import default_threads
from .graph import GraphError, Network, Node

__all__ = ["c3d", "r3d_18", "mc3_18", "r2plus1d_18", "alexnet", "vgg16", "resnet18",
           "resnet50", "tiny2d", "tiny3d", "get", "names"]


def _tup(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


class Builder:
    """Appends nodes with He-initialised parameters; each method returns the node name."""

    def __init__(self, name, input_shape, seed=0):
        self.name, self.seed = name, seed
        self._pending = []
        self.nodes = [Node("input", "input", attrs={"shape": tuple(input_shape)})]
        self.last = "input"
        self.nd = len(input_shape) - 1

    def _param(self, name, shape, fan_in=None):
        """A parameter's array; He-initialised ones are filled by :meth:`build`."""
        if fan_in is None:
            return np.zeros(shape, np.float32)
        w = np.empty(shape, np.float32)
        self._pending.append((name, w, fan_in))
        return w

    def _fill(self, item):
        name, w, fan_in = item
        rng = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        rng.standard_normal(out=w, dtype=np.float32)
        w *= np.float32(math.sqrt(2.0 / fan_in))

    def add_node(self, name, op, inputs=None, attrs=None, params=None):
        inputs = (self.last,) if inputs is None else tuple(inputs)
        self.nodes.append(Node(name, op, inputs, attrs or {}, params or {}))
        self.last = name
        return name

    def conv(self, name, cin, cout, kernel, stride=1, padding=0, bias=True, groups=1,
             src=None):
        k = _tup(kernel, self.nd)
        params = {"weight": self._param(f"{name}.weight", (cout, cin // groups) + k,
                                        cin // groups * math.prod(k))}
        if bias:
            params["bias"] = self._param(f"{name}.bias", (cout,))
        attrs = {"stride": _tup(stride, self.nd), "padding": _tup(padding, self.nd),
                 "dilation": (1,) * self.nd, "groups": groups}
        return self.add_node(name, "conv", None if src is None else [src], attrs, params)

    def bn(self, name, c, src=None):
        params = {"weight": np.ones(c, np.float32), "bias": np.zeros(c, np.float32),
                  "running_mean": np.zeros(c, np.float32), "running_var": np.ones(c, np.float32)}
        return self.add_node(name, "batchnorm", None if src is None else [src], {"eps": 1e-5},
                             params)

    def relu(self, name, src=None):
        return self.add_node(name, "act", None if src is None else [src], {"kind": "relu"})

    def maxpool(self, name, kernel, stride=None, padding=0, ceil_mode=False):
        k = _tup(kernel, self.nd)
        return self.add_node(name, "maxpool", attrs={
            "kernel": k, "stride": _tup(stride or kernel, self.nd),
            "padding": _tup(padding, self.nd), "dilation": (1,) * self.nd,
            "ceil_mode": ceil_mode})

    def adaptive_avgpool(self, name, size):
        return self.add_node(name, "adaptive_avgpool", attrs={"output_size": _tup(size, self.nd)})

    def flatten(self, name):
        return self.add_node(name, "flatten", attrs={"start": 1})

    def dropout(self, name):
        return self.add_node(name, "dropout")

    def linear(self, name, fin, fout, bias=True):
        if isinstance(fout, bool) or not isinstance(fout, (int, np.integer)) or fout < 1:
            raise GraphError(f"{self.name}: layer {name!r} needs a positive int of outputs "
                             f"(num_classes), got {fout!r}")
        params = {"weight": self._param(f"{name}.weight", (fout, fin), fin)}
        if bias:
            params["bias"] = self._param(f"{name}.bias", (fout,))
        return self.add_node(name, "linear", params=params)

    def add(self, name, a, b):
        return self.add_node(name, "add", [a, b])

    def build(self):
        """The network, its He-initialised parameters drawn on up to two threads (numpy's
        generators release the GIL; each parameter has its own, seeded by its name)."""
        with concurrent.futures.ThreadPoolExecutor(min(2, default_threads())) as pool:
            list(pool.map(self._fill, self._pending))
        self._pending = []
        return Network(self.nodes, name=self.name)


# -- video ---------------------------------------------------------------------------------
def c3d(num_classes=487, seed=0):
    """C3D (Tran et al., ICCV 2015): eight 3x3x3 convolutions, five max pools, three
    fully connected layers, on a 3x16x112x112 clip."""
    b = Builder("c3d", (3, 16, 112, 112), seed)
    plan = [("conv1", 3, 64, "pool1", (1, 2, 2)), ("conv2", 64, 128, "pool2", 2),
            ("conv3a", 128, 256, None, None), ("conv3b", 256, 256, "pool3", 2),
            ("conv4a", 256, 512, None, None), ("conv4b", 512, 512, "pool4", 2),
            ("conv5a", 512, 512, None, None), ("conv5b", 512, 512, "pool5", 2)]
    for name, cin, cout, pool, k in plan:
        b.conv(name, cin, cout, 3, padding=1)
        b.relu(f"{name}.relu")
        if pool:
            b.maxpool(pool, k, padding=(0, 1, 1) if pool == "pool5" else 0)
    b.flatten("flatten")
    for name, fin, fout in (("fc6", 8192, 4096), ("fc7", 4096, 4096)):
        b.linear(name, fin, fout)
        b.relu(f"{name}.relu")
        b.dropout(f"{name}.dropout")
    b.linear("fc8", 4096, num_classes)
    return b.build()


def _conv_simple(b, name, cin, cout, mid, stride):
    return b.conv(name, cin, cout, 3, stride, 1, bias=False)


def _conv_no_temporal(b, name, cin, cout, mid, stride):
    return b.conv(name, cin, cout, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False)


def _conv_2plus1d(b, name, cin, cout, mid, stride):
    b.conv(f"{name}.0", cin, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False)
    b.bn(f"{name}.1", mid)
    b.relu(f"{name}.2")
    return b.conv(f"{name}.3", mid, cout, (3, 1, 1), (stride, 1, 1), (1, 0, 0), bias=False)


def _downsample_stride(maker, stride):
    return (1, stride, stride) if maker is _conv_no_temporal else (stride,) * 3


def _video_block(b, name, cin, planes, stride, maker):
    """torchvision's video BasicBlock: conv1 (conv, bn, relu), conv2 (conv, bn), add, relu."""
    src = b.last
    mid = (cin * planes * 27) // (cin * 9 + 3 * planes)
    maker(b, f"{name}.conv1.0", cin, planes, mid, stride)
    b.bn(f"{name}.conv1.1", planes)
    b.relu(f"{name}.conv1.2")
    maker(b, f"{name}.conv2.0", planes, planes, mid, 1)
    main = b.bn(f"{name}.conv2.1", planes)
    skip = src
    if stride != 1 or cin != planes:
        b.conv(f"{name}.downsample.0", cin, planes, 1, _downsample_stride(maker, stride),
               bias=False, src=src)
        skip = b.bn(f"{name}.downsample.1", planes)
    b.add(f"{name}.add", main, skip)
    return b.relu(f"{name}.relu")


def _video_resnet(name, makers, stem, num_classes, seed, input_shape):
    b = Builder(name, input_shape or (3, 16, 112, 112), seed)
    if stem == "basic":
        b.conv("stem.0", 3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False)
        b.bn("stem.1", 64)
        b.relu("stem.2")
    else:                                          # R(2+1)D stem
        b.conv("stem.0", 3, 45, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False)
        b.bn("stem.1", 45)
        b.relu("stem.2")
        b.conv("stem.3", 45, 64, (3, 1, 1), 1, (1, 0, 0), bias=False)
        b.bn("stem.4", 64)
        b.relu("stem.5")
    cin = 64
    for i, (planes, maker) in enumerate(zip((64, 128, 256, 512), makers)):
        for j in range(2):
            stride = 2 if i > 0 and j == 0 else 1
            _video_block(b, f"layer{i + 1}.{j}", cin, planes, stride, maker)
            cin = planes
    b.adaptive_avgpool("avgpool", 1)
    b.flatten("flatten")
    b.linear("fc", 512, num_classes)
    return b.build()


def r3d_18(num_classes=400, seed=0, input_shape=None):
    """ResNet3D-18 (Tran et al., CVPR 2018), as torchvision.models.video.r3d_18
    (``input_shape`` default (3, 16, 112, 112); global pooling takes any clip size)."""
    return _video_resnet("r3d_18", [_conv_simple] * 4, "basic", num_classes, seed,
                         input_shape)


def mc3_18(num_classes=400, seed=0, input_shape=None):
    """Mixed convolutions MC3-18, as torchvision.models.video.mc3_18."""
    return _video_resnet("mc3_18", [_conv_simple] + [_conv_no_temporal] * 3, "basic",
                         num_classes, seed, input_shape)


def r2plus1d_18(num_classes=400, seed=0, input_shape=None):
    """R(2+1)D-18, as torchvision.models.video.r2plus1d_18."""
    return _video_resnet("r2plus1d_18", [_conv_2plus1d] * 4, "r2plus1d", num_classes, seed,
                         input_shape)


# -- images ------------------------------------------------------------------------------------
def alexnet(num_classes=1000, seed=0, input_shape=None):
    """AlexNet, as torchvision.models.alexnet (``input_shape`` default (3, 224, 224);
    adaptive pooling takes any image of at least 63 x 63)."""
    b = Builder("alexnet", input_shape or (3, 224, 224), seed)
    convs = {0: (3, 64, 11, 4, 2), 3: (64, 192, 5, 1, 2), 6: (192, 384, 3, 1, 1),
             8: (384, 256, 3, 1, 1), 10: (256, 256, 3, 1, 1)}
    for i in range(13):
        if i in convs:
            cin, cout, k, s, p = convs[i]
            b.conv(f"features.{i}", cin, cout, k, s, p)
        elif i in (2, 5, 12):
            b.maxpool(f"features.{i}", 3, 2)
        else:
            b.relu(f"features.{i}")
    b.adaptive_avgpool("avgpool", 6)
    b.flatten("flatten")
    _classifier(b, ["drop", (9216, 4096), "relu", "drop", (4096, 4096), "relu",
                    (4096, num_classes)])
    return b.build()


def _classifier(b, layers):
    """torchvision's ``classifier`` Sequential: 'drop', 'relu' or (in, out) linear per index."""
    for i, layer in enumerate(layers):
        if layer == "drop":
            b.dropout(f"classifier.{i}")
        elif layer == "relu":
            b.relu(f"classifier.{i}")
        else:
            b.linear(f"classifier.{i}", *layer)


def vgg16(num_classes=1000, seed=0, input_shape=None):
    """VGG16, as torchvision.models.vgg16 (no batch norm; ``input_shape`` default
    (3, 224, 224), at least 32 x 32)."""
    b = Builder("vgg16", input_shape or (3, 224, 224), seed)
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
           512, 512, 512, "M"]
    i, cin = 0, 3
    for v in cfg:
        if v == "M":
            b.maxpool(f"features.{i}", 2, 2)
            i += 1
        else:
            b.conv(f"features.{i}", cin, v, 3, 1, 1)
            b.relu(f"features.{i + 1}")
            i, cin = i + 2, v
    b.adaptive_avgpool("avgpool", 7)
    b.flatten("flatten")
    _classifier(b, [(25088, 4096), "relu", "drop", (4096, 4096), "relu", "drop",
                    (4096, num_classes)])
    return b.build()


def _basic_block(b, name, cin, planes, stride):
    src = b.last
    b.conv(f"{name}.conv1", cin, planes, 3, stride, 1, bias=False)
    b.bn(f"{name}.bn1", planes)
    b.relu(f"{name}.relu1")
    b.conv(f"{name}.conv2", planes, planes, 3, 1, 1, bias=False)
    main = b.bn(f"{name}.bn2", planes)
    return _residual(b, name, src, main, cin, planes, stride)


def _bottleneck(b, name, cin, planes, stride):
    src = b.last
    b.conv(f"{name}.conv1", cin, planes, 1, bias=False)
    b.bn(f"{name}.bn1", planes)
    b.relu(f"{name}.relu1")
    b.conv(f"{name}.conv2", planes, planes, 3, stride, 1, bias=False)
    b.bn(f"{name}.bn2", planes)
    b.relu(f"{name}.relu2")
    b.conv(f"{name}.conv3", planes, 4 * planes, 1, bias=False)
    main = b.bn(f"{name}.bn3", 4 * planes)
    return _residual(b, name, src, main, cin, 4 * planes, stride)


def _residual(b, name, src, main, cin, cout, stride):
    skip = src
    if stride != 1 or cin != cout:
        b.conv(f"{name}.downsample.0", cin, cout, 1, stride, bias=False, src=src)
        skip = b.bn(f"{name}.downsample.1", cout)
    b.add(f"{name}.add", main, skip)
    return b.relu(f"{name}.relu")


def _resnet(name, block, counts, expansion, num_classes, seed, input_shape):
    b = Builder(name, input_shape or (3, 224, 224), seed)
    b.conv("conv1", 3, 64, 7, 2, 3, bias=False)
    b.bn("bn1", 64)
    b.relu("relu")
    b.maxpool("maxpool", 3, 2, 1)
    cin = 64
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), counts)):
        for j in range(n):
            block(b, f"layer{i + 1}.{j}", cin, planes, 2 if i > 0 and j == 0 else 1)
            cin = planes * expansion
    b.adaptive_avgpool("avgpool", 1)
    b.flatten("flatten")
    b.linear("fc", 512 * expansion, num_classes)
    return b.build()


def resnet18(num_classes=1000, seed=0, input_shape=None):
    """ResNet-18, as torchvision.models.resnet18 (``input_shape`` default (3, 224, 224);
    global pooling takes any image)."""
    return _resnet("resnet18", _basic_block, (2, 2, 2, 2), 1, num_classes, seed, input_shape)


def resnet50(num_classes=1000, seed=0, input_shape=None):
    """ResNet-50 (v1.5: stride in the 3x3 conv), as torchvision.models.resnet50."""
    return _resnet("resnet50", _bottleneck, (3, 4, 6, 3), 4, num_classes, seed, input_shape)


# -- small networks ------------------------------------------------------------------------------
def tiny2d(num_classes=10, seed=0, input_shape=(1, 8, 8)):
    """Two 3x3 convolutions (8, 16 channels) with ReLU and a 2x2 max pool, global
    average pooling and a linear classifier (e.g. scikit-learn's 8x8 digits)."""
    b = Builder("tiny2d", input_shape, seed)
    b.conv("conv1", input_shape[0], 8, 3, padding=1)
    b.relu("relu1")
    b.maxpool("pool1", 2)
    b.conv("conv2", 8, 16, 3, padding=1)
    b.relu("relu2")
    b.adaptive_avgpool("avgpool", 1)
    b.flatten("flatten")
    b.linear("fc", 16, num_classes)
    return b.build()


def tiny3d(num_classes=8, seed=0, input_shape=(3, 8, 32, 32)):
    """Two 3x3x3 convolutions (8, 16 channels; the second with batch norm), max
    pools, global average pooling and a linear classifier."""
    b = Builder("tiny3d", input_shape, seed)
    b.conv("conv1", input_shape[0], 8, 3, padding=1)
    b.relu("relu1")
    b.maxpool("pool1", (1, 2, 2))
    b.conv("conv2", 8, 16, 3, padding=1, bias=False)
    b.bn("bn2", 16)
    b.relu("relu2")
    b.maxpool("pool2", 2)
    b.adaptive_avgpool("avgpool", 1)
    b.flatten("flatten")
    b.linear("fc", 16, num_classes)
    return b.build()


_MODELS = {f.__name__: f for f in (c3d, r3d_18, mc3_18, r2plus1d_18, alexnet, vgg16, resnet18,
                                   resnet50, tiny2d, tiny3d)}


def names():
    """Names of the zoo's networks."""
    return tuple(_MODELS)


def get(name, **kwargs):
    """The zoo network ``name`` (keywords: ``num_classes``, ``seed``, and ``input_shape``
    for all but ``c3d``)."""
    if name not in _MODELS:
        raise GraphError(f"unknown model {name!r}; the zoo has {', '.join(_MODELS)}")
    return _MODELS[name](**kwargs)
