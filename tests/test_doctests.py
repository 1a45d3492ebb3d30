"""The examples in the package's docstrings run and give what they show."""
import doctest
import importlib

import pytest

import fdafast
import fdafast.arch
import fdafast.cost
import fdafast.metrics
import fdafast.reram
import fdafast.workloads


@pytest.mark.parametrize("module", [fdafast, fdafast.arch, fdafast.cost, fdafast.nn,
                                    importlib.import_module("fdafast.nn.datasets"),
                                    importlib.import_module("fdafast.nn.load"), fdafast.metrics,
                                    importlib.import_module("fdafast.nn.simulate"),
                                    fdafast.reram, fdafast.video, fdafast.workloads],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
