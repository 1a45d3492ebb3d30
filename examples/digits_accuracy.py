"""Top-1 accuracy of a small 2D CNN on scikit-learn's 8x8 digits, in float and
on simulated FDA crossbars (needs scikit-learn: pip install scikit-learn).

    python examples/digits_accuracy.py [--quick]
"""
import argparse

import numpy as np
import torch
import torch.nn as nn

import fdafast


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(x))
    x, y = x[perm], y[perm]
    xtr, ytr, xte, yte = x[:1400], y[:1400], x[1400:], y[1400:]
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Flatten(),
                      nn.Linear(32 * 16, 10))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    X, Y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for _ in range(5 if args.quick else 20):
        for i in range(0, len(X), 64):
            opt.zero_grad()
            nn.functional.cross_entropy(m(X[i:i + 64]), Y[i:i + 64]).backward()
            opt.step()
    net = fdafast.from_torch(m.eval(), xte[:1])
    top1 = lambda out: float(np.mean(out.argmax(1) == yte))
    print(f"float top-1: {top1(net.run(xte, mode='fft')):.3f}")
    print(f"{'ADC bits':>8} {'cell bits':>9} {'reram top-1':>12}")
    for adc, cell in ([(6, 2)] if args.quick else [(a, c) for c in (1, 2) for a in (4, 6, 8)]):
        out = net.run(xte, mode="reram", crossbar=dict(weight_bits=8, input_bits=8,
                                                       adc_bits=adc, cell_bits=cell))
        print(f"{adc:8d} {cell:9d} {top1(out):12.3f}")
    return 0


if __name__ == "__main__":
    main()
