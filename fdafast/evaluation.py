"""Accuracy of a network on a whole data set under the simulated hardware, on Dask.

:func:`evaluate` runs every clip of a data set (:mod:`fdafast.data`, clips
cut and transformed by :mod:`fdafast.video`) in float and on the simulated
accelerator under one or several hardware configurations, and reports per
clip and per video the prediction, top-1 and top-5 hits, the output's SNR
and relative error against float and the agreement with float; per
configuration top-1 and top-5 with Wilson 95 % intervals, the accuracy drop
against float with a paired 95 % interval (Agresti and Min), per-class accuracy,
and the cost of one clip (:func:`fdafast.estimate`).

How the work is done:

1. **One pass.**  A task is a batch of whole videos: its worker decodes them,
   runs the float reference (the float32 FFT path) once on each clip, then
   each configuration on each clip.  A clip runs alone (as the accelerator
   takes it), so its results do not depend on which batch it fell in; the
   float path's last bits depend on the thread count (``threads``, 1 on
   Dask workers).
2. **Worker-local caches.**  A worker loads the network once and keeps it;
   the network keeps its plans (weight spectra, quantized weights on
   crossbars) per configuration (:mod:`fdafast.nn.execute`).  Before a
   configuration's first clip, a worker calibrates its ADC ranges on the
   *calibration batch*, the first ``calibration`` clips of the data set,
   the same on every worker, so that results do not depend on which worker
   ran what.  Memory per worker: the network, the prepared weights of every
   configuration, and one batch.
3. **Dask.**  An embedded ``LocalCluster`` (one single-threaded process per
   core) by default, an existing scheduler with ``scheduler='tcp://...'``,
   or ``scheduler='inline'`` to run in this process.  At most two tasks per
   worker are in flight, so an iterable data set is consumed as the work
   goes and the driver holds no more than that.
4. **The store.**  With ``out``, rows go to ``out/evaluation.csv``
   (:class:`fdafast.store.ResultStore`: identity, lock, checksums) as tasks
   finish; ``resume=True`` keeps the videos finished before and computes
   the rest (a video is finished when every configuration has its video
   row), so an interrupted evaluation loses and repeats nothing.
5. **Failures.**  A video that cannot be decoded or is too short becomes an
   error row with its reason and the others go on (``on_error='record'``);
   ``on_error='raise'`` stops at the first with an :class:`EvaluationError`,
   the rows already written kept.

Video predictions average the softmax of their clips' scores (as C3D and
torchvision's video references report video accuracy).
"""
import collections
import dataclasses
import hashlib
import json
import math
import pathlib
import time

import numpy as np

from . import _cluster, data as datasets, metrics
from ._args import positive_int, threads_arg
from .arch import Accelerator
from .cost import estimate
from .errors import FdafastError, InvalidArgumentError
from ._eval_task import FIELDS, FLOAT, TOPK, evaluate_batch, evaluate_batch_safely, failed_rows
from .nn.graph import Network
from .nn.load import load_model
from .store import ResultStore, read_rows
from .sweep import check_params, overrides, point_id
from .video import Sampling, SamplingError

__all__ = ["evaluate", "EvaluationResult", "EvaluationError", "Config", "make_configs",
           "evaluate_batch", "summarise", "read_results", "FIELDS", "FLOAT", "MODES", "TOPK"]

#: 'float' evaluates the float reference alone.
MODES = ("reram", "quant", "float")
_INTS = ("clip", "start", "label", "pred", "top1", "top5", "agree")
_FLOATS = ("snr_db", "rel_err")
#: Tasks in flight per worker (bounds the driver's memory and what an iterable yields ahead).
IN_FLIGHT_PER_WORKER = 2
#: Items tried, at most, to find the calibration clips.
CALIBRATION_TRIES = 16


class EvaluationError(InvalidArgumentError):
    """An evaluation that cannot be set up, or (``on_error='raise'``) a failed video."""


# -- configurations ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Config:
    """A hardware configuration: its name, the accelerator, the device effects."""

    name: str
    acc: object
    device: tuple = ()           # ((field, value), ...) of device effects

    @property
    def crossbar(self):
        return dict(self.device) or None


def make_configs(configs, acc, mode):
    """:class:`Config` s from ``configs``: dicts of sweep parameters (``adc_bits``,
    ``program_sigma``, dotted paths...; :mod:`fdafast.sweep`).  None or ``[]``: the
    accelerator as it is (named ``'base'``).  'float' mode takes none."""
    if mode == "float":
        if configs:
            raise EvaluationError("mode 'float' evaluates the float reference alone; give "
                                  "configurations with mode 'reram' or 'quant'")
        return []
    configs = [{}] if not configs else list(configs)
    out, names = [], set()
    for c in configs:
        if not isinstance(c, dict):
            raise EvaluationError(f"a configuration is a dict of parameters such as "
                                  f"{{'adc_bits': 6}}, got {c!r}")
        check_params(list(c), acc)
        name = point_id(c) or "base"
        if name in names:
            raise EvaluationError(f"configuration {name!r} is given twice")
        names.add(name)
        arch_ov, device = overrides(c, acc)
        out.append(Config(name, acc.replace(**arch_ov) if arch_ov else acc,
                          tuple(sorted(device.items()))))
    return out


# -- totals ------------------------------------------------------------------------------------
def _accuracy(hits):
    n, k = len(hits), int(np.sum(hits))
    lo, hi = metrics.wilson_interval(k, n)
    return (k / n if n else math.nan), lo, hi


def _level_totals(rows, names, level):
    ok = [r for r in rows if r["level"] == level and r["status"] == "ok"]
    by = {n: {(r["video"], r["clip"]): r for r in ok if r["config"] == n} for n in names}
    out = {}
    for name in names:
        mine = [r for r in by[name].values() if r["label"] is not None]
        t = {"n": len(by[name]), "labelled": len(mine)}
        for k in ("top1", "top5"):
            t[k], t[f"{k}_lo"], t[f"{k}_hi"] = _accuracy([r[k] for r in mine])
        pairs = [(by[FLOAT][key]["top1"], r["top1"]) for key, r in by[name].items()
                 if r["label"] is not None and key in by[FLOAT]]
        a, b = (np.array([p[i] for p in pairs], bool) for i in (0, 1))
        t["drop"], t["drop_lo"], t["drop_hi"] = metrics.paired_difference_interval(a, b)
        snrs = [r["snr_db"] for r in by[name].values()]
        t["agree"] = float(np.mean([r["agree"] for r in by[name].values()])) if snrs \
            else math.nan
        t["snr_db"] = float(np.median(snrs)) if snrs else math.nan
        t["rel_err"] = float(np.mean([r["rel_err"] for r in by[name].values()])) if snrs \
            else math.nan
        per = collections.defaultdict(lambda: [0, 0])
        for r in mine:
            per[r["label"]][0] += r["top1"]
            per[r["label"]][1] += 1
        t["per_class"] = {c: (h / n, n) for c, (h, n) in sorted(per.items())}
        out[name] = t
    return out


def summarise(rows, names, costs=None):
    """Totals per configuration and level from result rows.

    Returns ``{level: {config: totals}}`` for the levels 'video' and 'clip';
    totals hold ``n``, ``labelled``, ``top1`` and ``top5`` with their Wilson
    95 % bounds (``top1_lo``, ``top1_hi``...), the top-1 ``drop`` against
    float (float minus the configuration, on the items both ran) with its
    paired 95 % bounds, the mean agreement with float, the median SNR (dB),
    the mean relative error, ``per_class`` ``{label: (top-1, count)}``,
    ``failed`` (videos with an error row) and, from ``costs``, the energy
    (J) and latency (s) of one clip.
    """
    out = {level: _level_totals(rows, names, level) for level in ("video", "clip")}
    failed = {n: len({r["video"] for r in rows if r["status"] == "error"
                      and r["config"] in (n, "")}) for n in names}
    for level in out:
        for n, t in out[level].items():
            cost = (costs or {}).get(n) or {}
            t.update(failed=failed[n], energy_j=cost.get("energy_j", math.nan),
                     latency_s=cost.get("latency_s", math.nan))
    return out


# -- results -----------------------------------------------------------------------------------
def _parse(name, text):
    if name in _INTS:
        return None if text == "" else int(text)
    if name in _FLOATS:
        return math.nan if text == "" else float(text)
    return text


def read_results(path):
    """The rows of an evaluation's store (``evaluation.csv``), values typed and every
    checksum verified (:func:`fdafast.store.read_rows`)."""
    return read_rows(path, _parse)


@dataclasses.dataclass
class EvaluationResult:
    """What :func:`evaluate` returns.

    Attributes
    ----------
    rows : list of dict
        Clip and video rows of every configuration (resumed ones included);
        columns :data:`FIELDS`.
    totals : dict
        :func:`summarise`'s ``{level: {config: totals}}``.
    configs : list of str
        'float' first, then the hardware configurations.
    costs : dict
        Configuration -> :func:`fdafast.estimate` totals of one clip.
    classes : list of str or None
    num_classes : int
        The network's outputs.
    computed, skipped, failed : int
        Videos computed by this run, found finished, failed.
    """

    rows: list
    totals: dict
    configs: list
    costs: dict
    classes: object
    num_classes: int
    computed: int
    skipped: int
    failed: int

    def confusion(self, config=FLOAT, level="video"):
        """The confusion matrix (:func:`fdafast.metrics.confusion_matrix`) of a
        configuration's labelled, successful rows."""
        if config not in self.configs:
            raise EvaluationError(f"no configuration {config!r}; configurations: "
                                  f"{', '.join(self.configs)}")
        rs = [r for r in self.rows if r["config"] == config and r["level"] == level
              and r["status"] == "ok" and r["label"] is not None]
        return metrics.confusion_matrix([r["label"] for r in rs], [r["pred"] for r in rs],
                                        self.num_classes)

    def errors(self):
        """``{video: reason}`` of the failed videos."""
        return {r["video"]: r["error"] for r in self.rows if r["status"] == "error"}


# -- setting up --------------------------------------------------------------------------------
def _model(net, num_classes, weights):
    """(network on the driver, what a task carries to load it)."""
    if isinstance(net, Network):
        if weights is not None or num_classes is not None:
            raise EvaluationError("weights and num_classes apply to a model named by text; "
                                  "load weights into a Network with net.load_weights")
        return net, net
    if not isinstance(net, (str, pathlib.Path)):
        raise EvaluationError(f"net must be a fdafast.nn.Network, a zoo name or an .onnx "
                              f"file, got {type(net).__name__}")
    weights = None if weights is None else str(pathlib.Path(weights).resolve())
    if weights is not None and not pathlib.Path(weights).is_file():
        raise EvaluationError(f"no weights file at {weights!r}")
    loaded = load_model(net, num_classes)
    if weights is None:
        return loaded, (str(net), num_classes, None, None)
    loaded.load_weights(weights)                 # a WeightsError before any work
    return loaded, (str(net), num_classes, weights, pathlib.Path(weights).stat().st_mtime_ns)


def _sampling(sampling, net):
    if isinstance(sampling, Sampling):
        s = sampling
    elif sampling is None or isinstance(sampling, dict):
        s = Sampling.for_network(net.input_shape, **(sampling or {}))
    else:
        raise SamplingError(f"sampling must be a fdafast.video.Sampling or a dict of its "
                            f"settings, got {type(sampling).__name__}")
    want = tuple(net.input_shape)
    got = (s.channels, s.frames) + s.crop
    if got != want:
        raise SamplingError(f"the clips would be {got} (channels, frames, crop) but network "
                            f"{net.name!r} takes {want}")
    return s


def _calibration(dataset, sampling, n):
    """The first ``n`` clips of the data set (the items that fail to load are skipped),
    and the data set with its items intact."""
    head, dataset = datasets.peek(dataset, CALIBRATION_TRIES)
    clips, reasons = [], []
    for item in head:
        try:
            clips.append(datasets.load_clips(item, sampling)[1])
        except FdafastError as exc:
            reasons.append(f"{item.id}: {exc}")
        if sum(len(c) for c in clips) >= n:
            return np.concatenate(clips)[:n], dataset
    if clips:
        return np.concatenate(clips), dataset
    raise EvaluationError(f"none of the first {len(head)} videos gives a clip to calibrate "
                          f"the ADCs on ({'; '.join(reasons[:2])})")


def _digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _identity(net, spec, acc, mode, configs, dataset, sampling, seed, calibration, digest):
    weights = None
    if isinstance(spec, tuple) and spec[2]:
        st = pathlib.Path(spec[2]).stat()
        weights = {"path": spec[2], "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    elif isinstance(spec, Network):
        weights = _digest(*net.state_dict().values())
    arch_digest = hashlib.sha256(json.dumps(acc.as_dict(), sort_keys=True, default=str)
                                 .encode()).hexdigest()[:16]
    return {"study": "evaluate", "model": spec[0] if isinstance(spec, tuple) else net.name,
            "num_classes": spec[1] if isinstance(spec, tuple) else None, "weights": weights,
            "mode": mode, "arch": acc.meta.name, "arch_digest": arch_digest,
            "configs": [c.name for c in configs], "data": dataset.description,
            "sampling": sampling.as_dict(), "seed": seed, "calibration": calibration,
            "calibration_digest": digest}


def _finished(rows, names):
    """Videos whose every configuration has an ok video row."""
    have = collections.defaultdict(set)
    for r in rows:
        if r["level"] == "video" and r["status"] == "ok":
            have[r["video"]].add(r["config"])
    return {v for v, got in have.items() if set(names) <= got}


def _tasks(items, done, per_task, base):
    batch = []
    for item in items:
        if item.id in done:
            continue
        batch.append(item)
        if len(batch) == per_task:
            yield {**base, "items": batch}
            batch = []
    if batch:
        yield {**base, "items": batch}


class _Progress:
    """Clips done, clips per second and the time left, for the ``progress`` callback."""

    def __init__(self, callback, total, clips):
        self.callback, self.total, self.clips = callback, total, clips
        self.done, self.t0 = 0, time.perf_counter()
        if callback is not None:
            callback(0, total, 0.0, math.nan)

    def __call__(self, videos):
        self.done += videos * self.clips
        rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if self.total is not None and rate else math.nan
        if self.callback is not None:
            self.callback(self.done, self.total, rate, eta)


# -- running -----------------------------------------------------------------------------------
def _check_options(mode, batch, calibration, on_error, scheduler, workers, timeout, threads,
                   resume, out):
    if mode not in MODES:
        raise EvaluationError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if resume and out is None:
        raise EvaluationError("resume=True needs out, the directory of the results to resume")
    if on_error not in ("record", "raise"):
        raise EvaluationError(f"on_error must be 'record' or 'raise', got {on_error!r}")
    positive_int(batch, "batch")
    positive_int(calibration, "calibration")
    if threads is not None:
        threads_arg(threads)
    if scheduler == "inline":
        return None
    return _cluster.check_run_options(workers, timeout, scheduler, error=EvaluationError)


def evaluate(net, data, arch="fda", mode="reram", configs=None, *, sampling=None, classes=None,
             weights=None, num_classes=None, batch=8, seed=0, calibration=4, threads=None,
             out=None, resume=False, scheduler=None, workers=None, timeout=10.0,
             on_error="record", progress=None):
    """Top-1/top-5 of ``net`` on the data set ``data``, in float and on the simulated
    hardware under each configuration, in one pass on Dask (module docstring).

    Parameters
    ----------
    net : Network, or str
        A network, or a zoo name / ``.onnx`` path (then ``num_classes`` and a
        ``weights`` file apply, and workers load it themselves).
    data : path, Dataset or iterable
        A folder of videos or ``.npy`` clips, a ``.csv`` manifest, or
        ``(clip, label)`` pairs (:func:`fdafast.data.as_dataset`).
    arch : str or Accelerator
    mode : {'reram', 'quant', 'float'}
    configs : list of dict, optional
        Hardware configurations as sweep parameters, e.g. ``[{'adc_bits': 6},
        {'adc_bits': 6, 'program_sigma': 0.05}]``; default: ``arch`` as it is.
    sampling : Sampling or dict, optional
        Clip sampling and transforms; a dict overrides
        :meth:`fdafast.video.Sampling.for_network` (``clips``, ``stride``,
        ``resize``, ``mean``, ``std``).
    classes : list of str or path, optional
        The model's class names in output order (checked against class folders).
    batch : int
        Clips per task (whole videos; at least one video).
    seed : int
        Device randomness (:mod:`fdafast._rng`).
    calibration : int
        Clips of the calibration batch ('reram').
    threads : int, optional
        Threads per run: default 1 on Dask workers, all usable CPUs inline.
    out : path, optional
        A directory for the store ``evaluation.csv`` (resume, lock, identity).
    resume : bool
    scheduler : str, optional
        None (an embedded LocalCluster), a scheduler address, or 'inline'.
    workers : int, optional
        LocalCluster processes (default the usable CPUs).
    timeout : float
        Seconds to reach the scheduler.
    on_error : {'record', 'raise'}
    progress : callable, optional
        ``progress(clips_done, clips_total or None, clips_per_s, eta_s)``.

    Returns
    -------
    EvaluationResult
    """
    timeout = _check_options(mode, batch, calibration, on_error, scheduler, workers, timeout,
                             threads, resume, out)
    net, spec = _model(net, num_classes, weights)
    acc = Accelerator.resolve(arch)
    sampling = _sampling(sampling, net)
    dataset = datasets.as_dataset(data, classes)
    n_out = int(np.prod(net.output_shape))
    if dataset.sized:
        datasets.check_labels(dataset.items, n_out, dataset.classes)
    elif dataset.classes is not None:
        datasets.check_labels([], n_out, dataset.classes)
    cfgs = make_configs(configs, acc, mode)
    costs = {c.name: estimate(net.layers(batch=1), c.acc).totals for c in cfgs}
    calib = None
    if mode == "reram":
        calib, dataset = _calibration(dataset, sampling, calibration)
    digest = None if calib is None else _digest(calib)
    names = [FLOAT] + [c.name for c in cfgs]
    base = {"model": spec, "sampling": sampling, "configs": cfgs, "mode": mode, "seed": seed,
            "calibration": calib, "calibration_digest": digest,
            "threads": threads if threads is not None or scheduler == "inline" else 1}
    run_args = (scheduler, workers, timeout, on_error, progress, n_out)
    per_task = max(1, batch // sampling.clips)
    if out is None:
        skipped = 0
        rows, computed, failed = _execute(dataset, set(), per_task, base, None, [], run_args)
    else:
        ident = _identity(net, spec, acc, mode, cfgs, dataset, sampling, seed, calibration,
                          digest)
        with ResultStore(_store_path(out), ident, FIELDS, resume) as store:
            previous = store.rows(_parse)
            done = _finished(previous, names)
            kept = [r for r in previous if r["video"] in done]
            if len(kept) != len(previous):        # unfinished and failed videos: again
                store.rewrite(kept)
            rows, skipped = kept, len(done)
            rows, computed, failed = _execute(dataset, done, per_task, base, store, rows,
                                              run_args)
    totals = summarise(rows, names, costs)
    return EvaluationResult(rows, totals, names, costs, dataset.classes, n_out, computed,
                            skipped, failed)


def _store_path(out):
    out = pathlib.Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvaluationError(f"cannot make the output directory {str(out)!r}: "
                              f"{exc.strerror or exc}") from None
    return out / "evaluation.csv"


def _execute(dataset, done, per_task, base, store, rows, run_args):
    """Run the tasks (inline or on Dask); rows go to the store as they arrive."""
    scheduler, workers, timeout, on_error, progress, n_out = run_args
    total = None
    if dataset.sized:
        total = sum(1 for it in dataset.items if it.id not in done) * base["sampling"].clips
    tracker = _Progress(progress, total, base["sampling"].clips)
    tasks = _tasks(_checked(dataset, n_out), done, per_task, base)
    state = {"computed": 0, "failed": 0}

    def accept(new):
        for r in new:
            if store is not None:
                store.append(r)
            rows.append(r)
        videos = {r["video"] for r in new}
        bad = {r["video"]: r["error"] for r in new if r["status"] == "error"}
        state["computed"] += len(videos)
        state["failed"] += len(bad)
        tracker(len(videos))
        if bad and on_error == "raise":
            video, reason = next(iter(bad.items()))
            kept = f"; the results computed so far are kept in {str(store.path)!r}" \
                if store is not None else ""
            raise EvaluationError(f"video {video} failed: {reason}{kept}")

    if scheduler == "inline":
        for task in tasks:
            accept(evaluate_batch_safely(task))
    else:
        _on_dask(tasks, base, scheduler, workers, timeout, accept)
    return rows, state["computed"], state["failed"]


def _checked(dataset, n_out):
    """The items, each iterable item's label checked as it comes."""
    for item in dataset.items:
        if not dataset.sized:
            datasets.check_labels([item], n_out, None)
        yield item


def _on_dask(tasks, base, scheduler, workers, timeout, accept):
    # dask.distributed is slow to import and only a running evaluation on Dask needs it
    from dask.distributed import as_completed
    client, cluster = _cluster.client(scheduler, workers, timeout, error=EvaluationError)
    try:
        shared = dict(base)
        if isinstance(base["model"], Network):          # sent to each worker once
            shared["model"] = client.scatter(base["model"], broadcast=True)
        if base["calibration"] is not None:
            shared["calibration"] = client.scatter(base["calibration"], broadcast=True)
        limit = IN_FLIGHT_PER_WORKER * max(1, sum(client.nthreads().values()))
        pending = as_completed()
        futures = {}

        def submit(task):
            fut = client.submit(evaluate_batch_safely, {**task, **{k: shared[k] for k in
                                                     ("model", "calibration")}}, pure=False)
            futures[fut] = task["items"]
            pending.add(fut)

        for task in tasks:
            submit(task)
            if pending.count() >= limit:
                break
        for fut in pending:
            try:
                new = fut.result()
            except Exception as exc:                 # a worker died or could not run it
                new = failed_rows(futures[fut], exc)
            del futures[fut]
            nxt = next(tasks, None)
            if nxt is not None:
                submit(nxt)
            accept(new)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
