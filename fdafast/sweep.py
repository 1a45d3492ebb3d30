"""Design-space sweeps: accuracy and cost at every point of a parameter grid, on Dask.

A sweep is a model, a base accelerator and a grid of parameters (the
product of each parameter's values).  Every point is an independent task
(:func:`evaluate_point`): it builds the accelerator with the point's
overrides, estimates the network's cost, and (unless ``mode='none'``) runs a
batch through the simulated hardware and compares the output with the float
path.  :func:`run_sweep` runs the tasks on an embedded Dask ``LocalCluster``
(worker processes, one thread each) or on an existing scheduler, writes each
result to a CSV file as it arrives (a failed point is written with its error
and the others go on), and with ``resume=True`` skips the points already in
the file, so an interrupted sweep loses nothing it finished.

Parameters (``name=values``):

* short names: ``adc_bits``, ``cell_bits``, ``dac_bits``, ``weight_bits``,
  ``input_bits``, ``rows``, ``cols``, ``crossbar`` (square arrays: rows and
  cols), ``tile`` (FFT tile side: ``tile_2d = [t, t]``, ``tile_3d = [d, t, t]``
  keeping the preset's depth), ``tile_depth``, ``hermitian``, ``tiles``
  (accelerator tiles);
* any dotted path of the accelerator description (``crossbar.read_latency_ns``);
* device effects, which change what is computed and not the hardware:
  ``read_sigma``, ``program_sigma``, ``stuck_on_rate``, ``stuck_off_rate``,
  ``on_off_ratio``.

Values: ``a:b`` (integers a..b), ``a:b:s`` (step s), or a comma list
(``8,16``; ``0.0,0.1``; ``half,none``).
"""
import dataclasses
import functools
import hashlib
import itertools
import json
import math
import pathlib
import time

from . import _cluster
from .arch import Accelerator
from .cost import estimate
from .crossbar_config import DEVICE_FIELDS
from .errors import InvalidArgumentError
from .metrics import layer_error, top1_agreement
from .nn.load import load_input, load_model
from .store import ResultStore, read_rows

__all__ = ["SweepError", "parse_param", "parse_value", "grid_points", "point_id", "evaluate_point",
           "run_sweep", "pareto_front", "read_results", "SHORT_PARAMS", "DEVICE_PARAMS",
           "METRICS"]

SHORT_PARAMS = {
    "adc_bits": ("crossbar.adc_bits",), "cell_bits": ("crossbar.cell_bits",),
    "dac_bits": ("crossbar.dac_bits",), "weight_bits": ("crossbar.weight_bits",),
    "input_bits": ("crossbar.input_bits",), "rows": ("crossbar.rows",),
    "cols": ("crossbar.cols",), "crossbar": ("crossbar.rows", "crossbar.cols"),
    "tile": (), "tile_depth": (), "hermitian": ("frequency.hermitian",),
    "tiles": ("organisation.tiles",),
}
DEVICE_PARAMS = DEVICE_FIELDS
#: Columns every result row has after the parameters.
METRICS = ("latency_s", "energy_j", "frames_per_s", "gops_per_w", "gops_per_mm2",
           "chip_area_mm2", "chip_power_w", "snr_db", "rel_err", "top1_agreement", "seconds")


#: Most points one sweep takes (a grid is built in memory and its rows kept).
MAX_POINTS = 1_000_000


class SweepError(InvalidArgumentError):
    """A sweep that cannot be set up or run (bad parameters, files, scheduler)."""


# -- the grid -----------------------------------------------------------------------------
def parse_value(text):
    """``'8'`` -> 8, ``'0.1'`` -> 0.1, anything else stays text (``'half'``)."""
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_param(text):
    """``'adc_bits=4:10'`` -> ``('adc_bits', [4, 5, ..., 10])`` (see the module docstring)."""
    name, sep, values = str(text).partition("=")
    name, values = name.strip(), values.strip()
    if not sep or not name or not values:
        raise SweepError(f"bad --param {text!r}: write NAME=VALUES, e.g. adc_bits=4:10, "
                         f"tile=8,16 or hermitian=half,none")
    if ":" in values:
        parts = values.split(":")
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            raise SweepError(f"bad range in --param {text!r}: a:b or a:b:step of integers") \
                from None
        if len(nums) not in (2, 3) or (len(nums) == 3 and nums[2] < 1) or nums[1] < nums[0]:
            raise SweepError(f"bad range in --param {text!r}: a:b or a:b:step with a <= b, "
                             f"step >= 1")
        values = range(nums[0], nums[1] + 1, nums[2] if len(nums) == 3 else 1)
        if len(values) > MAX_POINTS:
            raise SweepError(f"--param {text!r} has {len(values):,} values; a sweep takes at "
                             f"most {MAX_POINTS:,} points")
        return name, list(values)
    items = [v.strip() for v in values.split(",")]
    if any(not v for v in items):
        raise SweepError(f"bad list in --param {text!r}: values separated by commas")
    return name, [parse_value(v) for v in items]


def known_params(acc):
    """Every parameter name a sweep over ``acc`` accepts."""
    paths = []

    def walk(d, prefix):
        for k, v in d.items():
            if isinstance(v, dict) and k not in ("components", "actions"):
                walk(v, f"{prefix}{k}.")
            elif not isinstance(v, dict):
                paths.append(f"{prefix}{k}")
    walk(acc.as_dict(), "")
    return sorted(SHORT_PARAMS) + list(DEVICE_PARAMS) + paths


def check_params(names, acc):
    known = known_params(acc)
    bad = [n for n in names if n not in known]
    if bad:
        raise SweepError(f"unknown sweep parameter(s) {', '.join(bad)}; valid: "
                         f"{', '.join(sorted(SHORT_PARAMS))}, {', '.join(DEVICE_PARAMS)}, or a "
                         f"dotted path of the accelerator such as crossbar.read_latency_ns")


def grid_points(params):
    """The product of the parameters' values, as dicts in a stable order.

    Raises :class:`SweepError` for a parameter named twice (the grid would
    silently collapse) or one without values.
    """
    names = [n for n, _ in params]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SweepError(f"parameter(s) {', '.join(twice)} given more than once; give each "
                         f"--param once with all its values (e.g. adc_bits=4,5,6)")
    empty = [n for n, v in params if not list(v)]
    if empty:
        raise SweepError(f"parameter(s) {', '.join(empty)} have no values")
    total = math.prod(len(list(v)) for _, v in params)
    if total > MAX_POINTS:
        raise SweepError(f"the grid has {total:,} points; a sweep takes at most "
                         f"{MAX_POINTS:,} (fewer values per --param)")
    return [dict(zip(names, combo)) for combo in itertools.product(*[v for _, v in params])]


def point_id(point):
    """The canonical text id of a point: its parameters sorted by name, so that the
    order in which they were given does not matter."""
    return ",".join(f"{k}={point[k]}" for k in sorted(point))


def overrides(point, acc):
    """(accelerator overrides, crossbar device overrides) of a point."""
    arch, device = {}, {}
    for name, value in point.items():
        if name in DEVICE_PARAMS:
            device[name] = value
        elif name == "tile":
            if acc.frequency is None:
                raise SweepError(f"'tile' needs a frequency-domain accelerator, not "
                                 f"{acc.meta.kind!r}")
            arch["frequency.tile_2d"] = [value, value]
            depth = point.get("tile_depth", acc.frequency.tile_3d[0])
            arch["frequency.tile_3d"] = [depth, value, value]
        elif name == "tile_depth":
            if "tile" not in point:
                arch["frequency.tile_3d"] = [value] + list(acc.frequency.tile_3d[1:])
        elif name in SHORT_PARAMS:
            for path in SHORT_PARAMS[name]:
                arch[path] = value
        else:
            arch[name] = value
    return arch, device


# -- one point -------------------------------------------------------------------------------
# A worker evaluates many points of one model: the network (VGG16's weights take seconds to
# build) and its float reference are kept for the next point.
_network = functools.lru_cache(maxsize=4)(load_model)


@functools.lru_cache(maxsize=4)
def _reference(model, num_classes, batch, seed, path):
    net = _network(model, num_classes)
    return net.run(load_input(net, path, batch, seed), mode="fft", threads=1)


def evaluate_point(spec):
    """Accuracy and cost of one point; ``spec`` holds model, arch, point, mode, batch,
    seed, input (optional .npy), num_classes, threads.  Returns a result row."""
    t0 = time.perf_counter()
    net = _network(spec["model"], spec.get("num_classes"))
    base = Accelerator.resolve(spec["arch"])
    arch_ov, device = overrides(spec["point"], base)
    acc = base.replace(**arch_ov) if arch_ov else base
    totals = estimate(net.layers(batch=spec["batch"]), acc).totals
    summary = acc.summary()
    row = {"id": point_id(spec["point"]), "status": "ok", **spec["point"]}
    row.update({k: totals[k] for k in METRICS[:5]})
    row.update(chip_area_mm2=summary["chip_area_mm2"], chip_power_w=summary["chip_power_w"])
    snr = rel = agree = math.nan
    if spec["mode"] != "none":
        ref = _reference(spec["model"], spec.get("num_classes"), spec["batch"], spec["seed"],
                         spec.get("input"))
        x = load_input(net, spec.get("input"), spec["batch"], spec["seed"])
        y = net.run(x, mode=spec["mode"], arch=acc, crossbar=device or None,
                    seed=spec["seed"], threads=spec.get("threads", 1))
        err = layer_error(y, ref)
        snr, rel, agree = err.snr_db, err.rel_l2, top1_agreement(y, ref)
    row.update(snr_db=snr, rel_err=rel, top1_agreement=agree,
               seconds=time.perf_counter() - t0, error="")
    return row


# -- results on disk ---------------------------------------------------------------------------
def columns(param_names):
    return ["id", "status"] + list(param_names) + list(METRICS) + ["error"]


def _parse(name, text):
    return text if name in ("id", "status", "error") else parse_value(text)


def read_results(path):
    """Rows of a sweep's results CSV, every line's checksum verified (a last line cut by
    an interruption is skipped); see :mod:`fdafast.store`."""
    return [r for r in read_rows(path, _parse) if r.get("status") in ("ok", "error")]


def identity(spec, names):
    """What a sweep's results are results of (see :class:`fdafast.store.ResultStore`)."""
    acc = Accelerator.resolve(spec["arch"])
    digest = hashlib.sha256(json.dumps(acc.as_dict(), sort_keys=True, default=str).encode())
    source = spec.get("input")
    if source:
        st = pathlib.Path(source).stat()
        source = {"path": str(source), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    return {"study": "sweep", "model": str(spec["model"]), "mode": spec["mode"],
            "arch": str(spec["arch"]), "arch_digest": digest.hexdigest()[:16],
            "input": source, "seed": spec["seed"], "batch": spec["batch"],
            "num_classes": spec.get("num_classes"), "params": list(names)}


# -- the runner -------------------------------------------------------------------------------------
@dataclasses.dataclass
class SweepResult:
    rows: list            #: every result (earlier runs' included when resuming)
    computed: int         #: points computed by this run
    skipped: int          #: points found finished and skipped
    failed: int           #: points that raised (their rows have status 'error')


def _client(scheduler, workers, timeout):
    return _cluster.client(scheduler, workers, timeout, error=SweepError)


def check_run_options(workers, timeout, scheduler):
    """Validate the runner's options (before anything starts)."""
    return _cluster.check_run_options(workers, timeout, scheduler, error=SweepError)


def run_sweep(spec, params, out, *, scheduler=None, workers=None, resume=False, timeout=10,
              progress=None):
    """Evaluate every point of ``params`` (a list of ``(name, values)``) on Dask.

    ``spec``: model, arch, mode ('reram', 'quant' or 'none' for cost only),
    batch, seed, input, num_classes.  Results go to the store ``out`` (a CSV
    file, :class:`fdafast.store.ResultStore`) as they arrive; an existing
    store needs ``resume=True`` and the same study (model, mode, accelerator,
    input, seed, batch, parameter names); its finished points are skipped and
    its failed ones tried again.  ``progress(row)`` is called for every result.
    """
    timeout = check_run_options(workers, timeout, scheduler)
    names = [n for n, _ in params]
    points = grid_points(params)
    check_params(names, Accelerator.resolve(spec["arch"]))
    with ResultStore(out, identity(spec, names), columns(names), resume) as store:
        previous = [r for r in store.rows(_parse) if r.get("status") in ("ok", "error")]
        kept = [r for r in previous if r["status"] == "ok"]
        if len(kept) != len(previous):                     # failed points are tried again
            store.rewrite(kept)
        done = {r["id"] for r in kept}
        todo = [p for p in points if point_id(p) not in done]
        rows, failed = list(kept), 0
        if todo:
            client, cluster = _client(scheduler, workers, timeout)
            try:
                failed = _collect(client, spec, todo, store, rows, progress)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
    return SweepResult(rows, len(todo), len(points) - len(todo), failed)


def _error_row(point, exc):
    return {"id": point_id(point), "status": "error", **point,
            "error": f"{type(exc).__name__}: {exc}".replace("\n", " ")}


def evaluate_point_safely(spec):
    """:func:`evaluate_point`, with a failure returned as the point's error row (so that
    workers log no traceback and the failure lands in the store with its reason)."""
    try:
        return evaluate_point(spec)
    except Exception as exc:                       # the point failed; the others go on
        return _error_row(spec["point"], exc)


def _collect(client, spec, todo, store, rows, progress):
    from dask.distributed import as_completed       # lazy, as in _client
    futures = {client.submit(evaluate_point_safely, {**spec, "point": p}, pure=False): p
               for p in todo}
    failed = 0
    for fut in as_completed(futures):
        try:
            row = fut.result()
        except Exception as exc:                   # a worker died or could not run it
            row = _error_row(futures[fut], exc)
        failed += row["status"] == "error"
        store.append(row)
        rows.append(row)
        if progress is not None:
            progress(row)
    return failed


# -- the front -----------------------------------------------------------------------------------------
def pareto_front(rows, objectives):
    """Rows not dominated under ``objectives`` (``[(key, 'min' | 'max'), ...]``)."""
    ok = [r for r in rows if r.get("status") == "ok"
          and all(isinstance(r.get(k), (int, float)) and not math.isnan(r[k])
                  for k, _ in objectives)]

    def better_or_equal(a, b):
        return all((a[k] <= b[k]) if d == "min" else (a[k] >= b[k]) for k, d in objectives)

    front = []
    for r in ok:
        dominated = any(better_or_equal(q, r) and any(q[k] != r[k] for k, _ in objectives)
                        for q in ok)
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: r[objectives[0][0]])
