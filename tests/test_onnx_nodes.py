"""ONNX's backend node tests for every operator the importer supports.

The onnx wheel has no data folder for the node tests, so they are generated
from ``onnx.backend.test.case.node`` (the modules of the supported
operators only; the function-expanded variants ONNX writes for operators
defined as functions are included when every operator they use is
supported).  Each case runs:

* as written (its extra inputs, if any, are graph inputs: refused, fdafast
  takes one input), and
* with every input but the first turned into an initializer that stays
  listed among the graph inputs (how exporters store weights, older ones
  listing them as inputs too) and every output but the first dropped (so
  operators with optional outputs, such as LayerNormalization's mean, run
  too),

in 'direct' and 'fft' modes.  Every case must match ONNX's expected output
(shape exactly, values within ONNX's own tolerances, rtol 1e-3 and atol
1e-7) or be refused with a :class:`fdafast.FdafastError`; a wrong result or
any other exception fails.  The counts, by reason, print at the end.
"""
import collections
import copy
import importlib
import pkgutil
import warnings

import numpy as np
import pytest

import fdafast
from fdafast.nn import from_onnx
from fdafast.nn.from_onnx import CONVERTERS

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

#: Operators folded at import when their inputs are constant (they appear in cases).
FOLDED = {"Constant", "Shape", "Size", "ConstantOfShape", "Range", "Equal", "Where",
          "Greater", "Less", "Not", "And", "Or", "Expand"}
SUPPORTED = set(CONVERTERS)
MODES = ("direct", "fft")


def _cases():
    """ONNX's node test cases of the supported operators, in ONNX's order."""
    import onnx.backend.test.case.node as node_cases
    wanted = {op.lower() for op in SUPPORTED}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for info in pkgutil.iter_modules(node_cases.__path__):
            if info.name.replace("_", "") in wanted:
                importlib.import_module(f"{node_cases.__name__}.{info.name}")
    out = []
    for case in node_cases._NodeTestCases:
        ops = {n.op_type for n in case.model.graph.node}
        if ops & SUPPORTED and ops <= SUPPORTED | FOLDED:
            out.append(case)
    return out


CASES = _cases()


def _with_initializers(model, inputs):
    """The model with inputs 1.. as initializers (still listed as graph inputs) and
    outputs 1.. dropped."""
    m = copy.deepcopy(model)
    for vi, value in zip(list(m.graph.input)[1:], inputs[1:]):
        m.graph.initializer.append(numpy_helper.from_array(np.asarray(value), vi.name))
    del m.graph.output[1:]
    return m


def _check(model, inputs, expected, group, outcomes, wrong, label):
    try:
        net = from_onnx(model)
    except fdafast.FdafastError as exc:
        for mode in MODES:
            outcomes("ONNX node tests", group, exc)
        return
    for mode in MODES:
        try:
            y = net.run(np.asarray(inputs[0]), mode=mode)
        except fdafast.FdafastError as exc:
            outcomes("ONNX node tests", group, exc)
            continue
        want = np.asarray(expected[0])
        if y.shape != want.shape:
            wrong.append(f"{label} ({mode}): shape {y.shape}, ONNX {want.shape}")
            continue
        try:
            np.testing.assert_allclose(y.astype(np.float64), want.astype(np.float64),
                                       rtol=1e-3, atol=1e-7)
        except AssertionError as err:
            wrong.append(f"{label} ({mode}): {str(err).strip().splitlines()[2:4]}")
            continue
        outcomes("ONNX node tests", group)


def _group(case):
    return collections.Counter(n.op_type for n in case.model.graph.node
                               if n.op_type in SUPPORTED).most_common(1)[0][0]


def _arrays(values):
    return [numpy_helper.to_array(v) if isinstance(v, onnx.TensorProto) else np.asarray(v)
            for v in values]


@pytest.mark.parametrize("op", sorted({_group(c) for c in CASES}))
def test_onnx_node_cases(op, outcomes):
    wrong = []
    for case in [c for c in CASES if _group(c) == op]:
        for inputs, expected in case.data_sets:
            inputs, expected = _arrays(inputs), _arrays(expected)
            _check(case.model, inputs, expected, op, outcomes, wrong, case.name)
            if len(inputs) > 1 or len(case.model.graph.output) > 1:
                _check(_with_initializers(case.model, inputs), inputs, expected,
                       op + " (initializers)", outcomes, wrong, case.name + " (initializers)")
    assert not wrong, "\n".join(wrong)


def test_every_supported_operator_has_node_tests():
    """ONNX's suite covers each converter (or the operator is listed here as uncovered)."""
    covered = {_group(c) for c in CASES} | {
        op for c in CASES for n in c.model.graph.node for op in [n.op_type]}
    assert SUPPORTED - covered == set()
