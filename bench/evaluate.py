"""Data-set evaluation throughput (:func:`fdafast.evaluate`) in 'reram' mode on Dask.

Run from the repository root (numpy is slower with these variables set)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.evaluate \
        [--models r3d_18,c3d] [--videos 4] [--workers 1,2] [--mode reram|quant]

For each model, on ``--videos`` short H.264 videos (320x240, 24 frames, made
here with PyAV; one 3x16x112x112 clip each, resized to a short side of 128
and centre-cropped as torchvision's preset does) and the fda preset's
crossbars (ADC ranges calibrated on the first clip; ``--mode quant``: exact
crossbars, ``--mode float``: the float path alone (the bare call is then
``net.run`` in 'fft' mode), for machines too slow, busy or small for the
emulation), prints:

1. a bare :func:`fdafast.simulate` call on one clip in a fresh process with
   a Dask worker's thread settings, one thread, after a warm-up call (plans and calibration made), and the runs
   an evaluation task makes per clip (the float reference and the mode,
   plans kept: ``simulate`` also captures every layer, and drops and
   rebuilds the float plans), without decoding or distribution; and the
   decoding and transforms of one clip;
2. for 1 and 2 local workers (a LocalCluster of single-threaded processes,
   one thread per run): the wall time of the whole evaluation (cluster
   start, network loading and calibration on each worker included), the
   steady clips/s (between the first and the last finished clip), the ratio
   of 2 workers' steady throughput to 1's (target >= 1.7), and the overhead
   of distribution and decoding per clip against the bare runs (1 worker's
   steady seconds per clip over the task's bare runs, minus 1; target <= 5 %);
3. each worker's resident memory after the run and its peak (VmHWM): the
   network, the prepared crossbar weights and one batch.

The machine's other load makes these numbers noisy; run on an idle machine
with at least 2 cores for the ratio to mean anything.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

#: 320x240 H.264 videos of 24 frames: one 16-frame clip each.
WIDTH, HEIGHT, FRAMES = 320, 240, 24


def make_videos(folder, n, seed=0):
    import av
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"v{i}.mp4"
        base = rng.integers(0, 256, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            for t in range(FRAMES):
                frame = np.roll(np.kron(base, np.ones((8, 8, 1), np.uint8)), 2 * t, axis=1)
                for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        paths.append(path)
    return paths


def bare(model, path, mode):
    """Seconds per clip without decoding or distribution, in a fresh process with the
    thread settings of a Dask worker (OMP/OpenBLAS/MKL threads 1), one thread, warm
    (plans and calibration made): (a fdafast.simulate call, the runs a task makes per
    clip: the float reference and the mode, plans kept), and seconds to decode it."""
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).resolve().parents[1])}
    env.update({k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                 "MKL_NUM_THREADS")})     # as distributed sets its workers'
    out = subprocess.run([sys.executable, "-c", _BARE, model, str(path), mode], env=env,
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return r["simulate"], r["runs"], r["decode"]


_BARE = r"""
import json, sys, time
import fdafast
from fdafast import data, video
model, path, mode = sys.argv[1:4]
net = fdafast.nn.zoo.get(model)
s = video.Sampling.for_network(net.input_shape)
t0 = time.perf_counter()
_, clip = data.load_clips(data.Item("v", None, path), s)
decode = time.perf_counter() - t0
runs = [lambda: net.run(clip, mode="fft", threads=1)]
if mode != "float":
    runs.append(lambda: net.run(clip, mode=mode, threads=1))
calls = {"runs": lambda: [r() for r in runs]}
if mode != "float":
    calls["simulate"] = lambda: fdafast.simulate(net, clip, mode=mode, threads=1)
out = {"decode": decode, "simulate": float("nan")}
for name, call in calls.items():
    call()                                                         # plans, calibration
    t0 = time.perf_counter()
    call()
    out[name] = time.perf_counter() - t0
print(json.dumps(out))
"""


def _memory():
    status = open("/proc/self/status").read().splitlines()
    get = lambda key: int([l for l in status if l.startswith(key)][0].split()[1]) * 1024  # noqa
    return get("VmRSS"), get("VmHWM")


def on_dask(model, folder, workers, mode):
    """(wall s, steady clips/s, steady s per clip, [(rss, peak) per worker])."""
    import logging

    from dask.distributed import Client, LocalCluster

    import fdafast
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, host="127.0.0.1", silence_logs=logging.ERROR)
    client = Client(cluster)
    stamps = []
    try:
        t0 = time.perf_counter()
        fdafast.evaluate(model, folder, mode=mode, scheduler=cluster.scheduler_address,
                         batch=1, calibration=1,
                         progress=lambda done, *_: stamps.append((done, time.perf_counter())))
        wall = time.perf_counter() - t0
        mem = list(client.run(_memory).values())
    finally:
        client.close()
        cluster.close()
    # steady: the clips finished after each worker's first (set-up) clip, over the time since
    # (the progress callback's first call, at 0 clips, is the start: not a result)
    stamps = [s for s in stamps if s[0] > 0]
    (d0, t_first), (d1, t_last) = stamps[min(workers, len(stamps)) - 1], stamps[-1]
    rate = (d1 - d0) / (t_last - t_first) if d1 > d0 else float("nan")
    return wall, rate, 1 / rate, mem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="r3d_18,c3d")
    ap.add_argument("--videos", type=int, default=4, help="videos (one clip each; at least "
                    "twice the most workers)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--mode", default="reram", choices=("reram", "quant", "float"),
                    help="'quant' (exact crossbars) or 'float' (distribution and decoding "
                    "alone) where the emulation takes too long or too much memory")
    args = ap.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        paths = make_videos(folder, args.videos)
        for model in args.models.split(","):
            t_sim, t_bare, t_decode = bare(model, paths[0], args.mode)
            print(f"\n{model}, {args.mode} mode, fda preset, {args.videos} videos of one clip")
            print(f"  bare, one clip: the task's runs {t_bare:.2f} s, a simulate call "
                  f"{t_sim:.2f} s; decoding and transforms: {t_decode * 1e3:.1f} ms")
            print(f"  {'workers':>7} {'wall s':>8} {'clips/s':>9} {'s/clip':>8} {'vs 1':>6} "
                  f"{'overhead':>9} {'RSS GB per worker':>18} {'peak GB':>10}")
            first = None
            for w in counts:
                wall, rate, per_clip, mem = on_dask(model, folder, w, args.mode)
                first = first or rate
                overhead = per_clip * w / t_bare - 1
                rss = ", ".join(f"{r / 1e9:.2f}" for r, _ in mem)
                peak = ", ".join(f"{p / 1e9:.2f}" for _, p in mem)
                print(f"  {w:>7} {wall:>8.1f} {rate:>9.4f} {per_clip:>8.2f} {rate / first:>6.2f} "
                      f"{overhead:>8.1%} {rss:>18} {peak:>10}", flush=True)
    return 0


if __name__ == "__main__":
    main()
