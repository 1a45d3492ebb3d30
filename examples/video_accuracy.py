"""Top-1 accuracy of a small 3D CNN in float and on simulated FDA crossbars.

Trains a three-layer 3D CNN with torch on clips that fdafast generates
(a square moving in one of 8 directions, :func:`fdafast.nn.datasets.moving_shapes`),
imports it (through ONNX when the onnx package is installed, else
torch.fx), and prints top-1 on a held-out set in float ('fft' mode) and in
'reram' mode for several ADC and cell resolutions (8-bit weights and inputs,
the fda preset's crossbars otherwise, ADC ranges calibrated on the first
batch).  Also prints what one clip costs on the fda preset.

    python examples/video_accuracy.py [--quick]
"""
import argparse
import io
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

import fdafast
from fdafast.nn import datasets


def model(directions):
    return nn.Sequential(
        nn.Conv3d(1, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU(), nn.MaxPool3d((1, 2, 2)),
        nn.Conv3d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
        nn.Conv3d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
        nn.Linear(32, directions))


def train(m, x, y, epochs, seed=0):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(m(X[idx]), Y[idx]).backward()
            opt.step()
    return m.eval()


def import_model(m, example):
    """Through ONNX when available (the path a user with an .onnx file takes)."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        return fdafast.from_torch(m, example), "torch.fx"
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, torch.from_numpy(example), buf, dynamo=False)
    import onnx
    return fdafast.from_onnx(onnx.load_from_string(buf.getvalue())), "ONNX"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer clips, epochs and settings")
    args = ap.parse_args(argv)
    n_train, n_test, epochs = (768, 128, 12) if args.quick else (2048, 512, 15)
    settings = ([(6, 2), (8, 2)] if args.quick else
                [(a, c) for c in (1, 2, 4) for a in (4, 5, 6, 8)])
    t0 = time.perf_counter()
    xtr, ytr = datasets.moving_shapes(n_train, directions=8, seed=1)
    xte, yte = datasets.moving_shapes(n_test, directions=8, seed=2)
    torch.manual_seed(0)                       # the initial weights too
    m = train(model(8), xtr, ytr, epochs)
    net, how = import_model(m, xte[:1])
    print(f"trained in {time.perf_counter() - t0:.1f} s; imported through {how}: {net}")
    top1 = lambda y: float(np.mean(y.argmax(1) == yte))
    print(f"float top-1: {top1(net.run(xte, mode='fft')):.3f}")
    print(f"{'ADC bits':>8} {'cell bits':>9} {'reram top-1':>12}")
    for adc, cell in settings:
        y = net.run(xte, mode="reram", crossbar=dict(weight_bits=8, input_bits=8,
                                                     adc_bits=adc, cell_bits=cell))
        print(f"{adc:8d} {cell:9d} {top1(y):12.3f}")
    t = fdafast.estimate(net.layers(batch=1), "fda").totals
    print(f"one clip on fda: {t['latency_s'] * 1e6:.1f} us, {t['energy_j'] * 1e6:.2f} uJ")
    return 0


if __name__ == "__main__":
    main()
