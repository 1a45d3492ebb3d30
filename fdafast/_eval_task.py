"""The worker's side of :mod:`fdafast.evaluation`: one task, a batch of whole videos.

A task decodes its videos, runs the float reference once on each of their
clips, then every hardware configuration on each clip, each clip alone (so
that no result depends on the batch it fell in), and returns
result rows (:data:`FIELDS`).  Each clip is read with its own read-noise
draw (:func:`clip_read_key`: the same cells, independent noise per clip, as
successive inferences on one chip), whichever task or worker runs it.

What a worker process keeps between tasks: the network, loaded once from its
spec (or the object Dask delivers), with its plans per configuration
(:mod:`fdafast.nn.execute`), and which configurations it has calibrated on
the calibration batch.
"""
import functools
import weakref

import numpy as np

from . import _rng, data as datasets, metrics
from .nn.execute import release, run
from .nn.graph import Network
from .nn.load import load_model

__all__ = ["evaluate_batch", "evaluate_batch_safely", "failed_rows", "clip_read_key", "FIELDS",
           "FLOAT", "TOPK"]

#: The float reference's configuration name.
FLOAT = "float"
#: The k of top-k accuracy.
TOPK = 5
#: Columns of the rows (and of the store).
FIELDS = ("key", "level", "video", "clip", "start", "config", "status", "label", "pred",
          "top1", "top5", "agree", "snr_db", "rel_err", "error")


@functools.lru_cache(maxsize=2)
def _load(model, num_classes, weights, weights_mtime_ns):
    """A network from its spec (the weights file's mtime keys the cache: a rewritten
    file is loaded again)."""
    net = load_model(model, num_classes)
    return net.load_weights(weights) if weights else net


#: network -> (what its hardware plans were calibrated for, configurations prepared);
#: worker-local.
_prepared = weakref.WeakKeyDictionary()


def _network(model):
    """The task's network: the object itself, or loaded once per worker from its spec."""
    return model if isinstance(model, Network) else _load(*model)


def _run_config(net, x, cfg, task, read_key=0):
    return run(net, x, task["mode"], arch=cfg.acc, crossbar=cfg.crossbar, seed=task["seed"],
               threads=task["threads"], read_key=read_key)


def clip_read_key(video, clip):
    """The read-noise key of clip ``clip`` of video ``video`` (its id): 64 bits of a
    BLAKE2b hash of both (:func:`fdafast._rng.text_key`), the same in every process."""
    return _rng.text_key(f"{video}|{clip}")


def _prepare(net, cfg, task):
    """Calibrate ``cfg`` on the calibration batch, once per worker and network.

    A network's plans keep the calibration of the first batch they saw; when a
    task brings another calibration batch (another evaluation of the same network
    object), the network's hardware plans are dropped first.
    """
    basis = (task["calibration_digest"], net.version)
    seen, done = _prepared.get(net, (None, set()))
    if seen != basis:
        for mode in ("quant", "reram"):
            release(net, mode)
        done = set()
        _prepared[net] = (basis, done)
    key = (cfg, task["mode"], task["seed"])
    if key not in done:
        if task["calibration"] is not None:
            _run_config(net, task["calibration"], cfg, task)
        done.add(key)


def _softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _row(level, item, clip, start, config, status="ok", **values):
    key = f"{level}|{item.id}|{'' if clip is None else clip}|{config}"
    return {"key": key, "level": level, "video": item.id, "clip": clip, "start": start,
            "config": config, "status": status, "label": item.label, **values}


def _scored(level, item, clip, start, config, y, ref, scores=None, ref_scores=None):
    """An ok row: the prediction of ``y`` (scores: ``scores``, default ``y``) against
    the label and the float reference ``ref``."""
    scores = y if scores is None else scores
    ref_scores = ref if ref_scores is None else ref_scores
    pred = int(np.argmax(scores))
    err = metrics.layer_error(y, ref)
    hits = {}
    if item.label is not None:
        hits = {"top1": int(pred == item.label),
                "top5": int(metrics.topk_hits(scores[None], [item.label], TOPK)[0])}
    return _row(level, item, clip, start, config, pred=pred, **hits,
                agree=int(pred == int(np.argmax(ref_scores))), snr_db=err.snr_db,
                rel_err=err.rel_l2, error="")


def _reason(exc):
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


def _item_rows(item, starts, outs, failures):
    """Clip and video rows of one video for every configuration."""
    rows, ref = [], outs[FLOAT]
    for name, y in outs.items():
        if name in failures:
            rows += [_row("clip", item, j, s, name, "error", error=failures[name])
                     for j, s in enumerate(starts)]
            rows.append(_row("video", item, None, None, name, "error", error=failures[name]))
            continue
        rows += [_scored("clip", item, j, s, name, y[j], ref[j]) for j, s in enumerate(starts)]
        rows.append(_scored("video", item, None, None, name, y, ref,
                            _softmax(y).mean(axis=0), _softmax(ref).mean(axis=0)))
    return rows


def evaluate_batch(task):
    """The rows of one batch of videos (a task; see the module docstring).

    ``task``: model (a Network or a ``(name, num_classes, weights)`` spec),
    items, sampling, configs, mode, seed, threads, calibration (array or
    None), calibration_digest.  A video that fails to load gives one error
    row; a configuration that fails gives error rows for its clips.
    """
    net = _network(task["model"])
    rows, loaded = [], []
    for item in task["items"]:
        try:
            starts, clips = datasets.load_clips(item, task["sampling"])
            loaded.append((item, starts, clips))
        except Exception as exc:                # recorded with its reason; the rest go on
            rows.append(_row("video", item, None, None, "", "error", error=_reason(exc)))
    if not loaded:
        return rows
    x = np.concatenate([c for _, _, c in loaded])
    keys = [clip_read_key(item.id, j) for item, _, clips in loaded for j in range(len(clips))]
    # the reference, once per clip; each clip alone (the float32 path's last bits depend on
    # the batch), so that no result depends on the batch a clip fell in
    outs = {FLOAT: np.concatenate([run(net, clip[None], "fft", threads=task["threads"])
                                   for clip in x])}
    failures = {}
    for cfg in task["configs"]:
        try:
            _prepare(net, cfg, task)
            outs[cfg.name] = np.concatenate([_run_config(net, clip[None], cfg, task, key)
                                             for clip, key in zip(x, keys)])
        except Exception as exc:                # this configuration failed; the others go on
            failures[cfg.name] = _reason(exc)
            outs[cfg.name] = None
    offset = 0
    for item, starts, clips in loaded:
        k = len(clips)
        rows += _item_rows(item, starts, {n: None if y is None else y[offset:offset + k]
                                          for n, y in outs.items()}, failures)
        offset += k
    return rows


def evaluate_batch_safely(task):
    """:func:`evaluate_batch`, with anything else that fails recorded as error rows of
    the task's videos (so that workers log no traceback)."""
    try:
        return evaluate_batch(task)
    except Exception as exc:                    # the batch failed; the others go on
        return failed_rows(task["items"], exc)


def failed_rows(items, exc):
    return [_row("video", it, None, None, "", "error", error=_reason(exc)) for it in items]
