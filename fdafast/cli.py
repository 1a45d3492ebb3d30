"""The ``fdafast`` command.

    fdafast simulate MODEL [--arch fda] [--mode reram] [--input SHAPE|FILE.npy] [--out DIR]
    fdafast compare MODEL [--arch fda,isaac,asic-fft] [--out DIR]
    fdafast sweep MODEL --param adc_bits=4:10 --param tile=8,16 [--out DIR] [--scheduler ADDR]
    fdafast evaluate MODEL --data PATH [--weights FILE] [--param adc_bits=5,6] --out DIR
    fdafast bench [--suite estimate,conv,crossbar,network] [--quick]
    fdafast models | presets | preset show NAME

MODEL is a zoo name (``fdafast models``) or an ``.onnx`` file; ``--arch`` a
preset name (``fdafast presets``) or a TOML file.  Errors in what was asked
(an unknown model, preset or parameter, a bad value, an unwritable output
directory, an unreachable scheduler) print one line on stderr and exit with
status 2.
"""
import argparse
import csv
import functools
import importlib.resources
import json
import math
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np

# The package's own heavier modules (nn, cost, sweep, report) and rich, matplotlib, dask and
# pyarrow are imported inside the commands that use them, so that the command starts fast.
from .errors import FdafastError

__all__ = ["main"]


class CLIError(FdafastError):
    """Something the user asked of the command that cannot be done."""


def _console(stderr=False):
    """A rich console; 160 columns when writing to a file or pipe (rich's 80 squeezes
    the tables), the terminal's width otherwise."""
    from rich.console import Console
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, width=width)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
        TimeElapsedColumn
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=_console(stderr=True), transient=True)


# -- shared helpers ---------------------------------------------------------------------------
def _outdir(path, files=()):
    """The output directory, made and checked writable before any work, with none of
    the ``files`` the command will write standing there as a directory."""
    if path is None:
        return None
    p = pathlib.Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / ".fdafast-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise CLIError(f"cannot write to the output directory {str(p)!r}: "
                       f"{exc.strerror or exc}") from None
    for name in files:
        if (p / name).exists() and not (p / name).is_file():
            raise CLIError(f"{str(p / name)!r} is in the way: it is not a file, and the "
                           f"command writes its {name} there")
    return p


def _write_json(path, data):
    def default(o):
        if isinstance(o, (np.integer, np.floating)):
            return o.item()
        raise TypeError(type(o).__name__)
    path.write_text(json.dumps(data, indent=1, default=default,
                               allow_nan=True) + "\n")


def _json_float(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _crossbar_overrides(items):
    from .sweep import parse_value
    out = {}
    for text in items or ():
        k, sep, v = text.partition("=")
        if not sep:
            raise CLIError(f"--crossbar takes FIELD=VALUE, got {text!r}")
        out[k.strip()] = parse_value(v.strip())
    return out


# -- simulate -------------------------------------------------------------------------------------
def cmd_simulate(args):
    from . import report
    from .arch import Accelerator
    from .nn import simulate
    from ._args import threads_arg
    from .nn.load import load_input, load_model
    out = _outdir(args.out, ("simulation.json", "layers.csv", "energy.png", "latency.png"))
    threads_arg(args.threads, "--threads")                  # FDAFAST_NUM_THREADS too
    net = load_model(args.model, args.num_classes)
    acc = Accelerator.resolve(args.arch)
    x = load_input(net, args.input, args.batch, args.seed, name="--input")
    layers = len(net.layers())
    with _progress() as bar:
        task = bar.add_task(f"{net.name} {args.mode} on {acc.meta.name}", total=2 * layers)
        r = simulate(net, x, arch=acc, mode=args.mode, seed=args.seed, threads=args.threads,
                     crossbar=_crossbar_overrides(args.crossbar) or None,
                     progress=lambda stage, layer: bar.advance(task))
    con = _console()
    con.print(report.layer_table(r.report, r.errors, title=f"{net.name} on {acc.meta.name}, "
                                 f"mode {args.mode}, batch {len(x)}"))
    oe = r.output_error
    con.print(f"output vs float: relative error {oe.rel_l2:.3e}, SNR {oe.snr_db:.1f} dB, "
              f"top-1 agreement {r.top1_agreement():.3f}")
    if out is not None:
        meta = {"model": net.name, "arch": acc.meta.name, "mode": args.mode, "batch": len(x),
                "seed": args.seed, "input_shape": list(x.shape)}
        errors = {k: {"rel_l2": e.rel_l2, "snr_db": _json_float(e.snr_db)}
                  for k, e in r.errors.items()}
        _write_json(out / "simulation.json", {
            "meta": meta, "errors": errors,
            "output_error": {"rel_l2": oe.rel_l2, "snr_db": _json_float(oe.snr_db)},
            "top1_agreement": r.top1_agreement(), "cost": r.report.as_dict()})
        rows = r.report.rows()
        for row in rows:
            e = r.errors.get(row["layer"])
            row["rel_l2"], row["snr_db"] = (e.rel_l2, e.snr_db) if e else ("", "")
        _write_csv(out / "layers.csv", rows)
        report.energy_breakdown_plot(r.report, out / "energy.png")
        report.latency_plot(r.report, out / "latency.png")
        con.print(f"wrote simulation.json, layers.csv, energy.png, latency.png to {out}")
    return 0


def _write_csv(path, rows):
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, restval="")
        w.writeheader()
        w.writerows(rows)


# -- compare ---------------------------------------------------------------------------------------
def cmd_compare(args):
    from . import report
    from .arch import Accelerator
    from .cost import compare
    from .nn.load import load_model
    out = _outdir(args.out, ("compare.csv", "compare.json", "compare.png"))
    net = load_model(args.model, args.num_classes)
    accs = [Accelerator.resolve(a.strip()) for a in args.arch.split(",") if a.strip()]
    if not accs:
        raise CLIError("--arch needs at least one preset or TOML file")
    results = compare(net.layers(batch=args.batch), accs, residency=args.residency)
    _console().print(report.comparison_table(results, title=f"{net.name}, batch {args.batch}"))
    if out is not None:
        rows = [{"accelerator": k, **{f: v for f, v in t.items()
                                      if not isinstance(v, dict)}} for k, t in results.items()]
        _write_csv(out / "compare.csv", rows)
        _write_json(out / "compare.json", {"model": net.name, "batch": args.batch,
                                           "results": results})
        report.comparison_plot(results, out / "compare.png")
        _console().print(f"wrote compare.csv, compare.json, compare.png to {out}")
    return 0


# -- sweep -------------------------------------------------------------------------------------
def _objectives(text, mode):
    if text is None:
        text = "energy_j:min,latency_s:min" if mode == "none" else "energy_j:min,snr_db:max"
    from .sweep import METRICS
    out = []
    for item in text.split(","):
        k, _, d = item.partition(":")
        if k not in METRICS or d not in ("min", "max"):
            raise CLIError(f"bad --objective {item!r}: METRIC:min|max with METRIC one of "
                           f"{', '.join(METRICS)}")
        out.append((k, d))
    twice = sorted({k for k, _ in out if [q for q, _ in out].count(k) > 1})
    if twice:
        raise CLIError(f"--objective names {', '.join(twice)} more than once")
    return out


def cmd_sweep(args):
    from . import report, sweep
    from .arch import Accelerator
    from .nn.load import load_model
    out = _outdir(args.out or "sweep-results", ("sweep.csv", "pareto.csv", "pareto.png",
                                                "sweep.parquet"))
    params = [sweep.parse_param(p) for p in args.param]
    if not params:
        raise CLIError("sweep needs at least one --param NAME=VALUES (e.g. adc_bits=4:10)")
    sweep.grid_points(params)                               # a repeated name fails here
    sweep.check_run_options(args.workers, args.timeout, args.scheduler)
    load_model(args.model, args.num_classes)                # fail early on a bad model
    sweep.check_params([n for n, _ in params], Accelerator.resolve(args.arch))
    objectives = _objectives(args.objective, args.mode)
    if args.format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise CLIError("--format parquet needs pyarrow (pip install pyarrow); "
                           "or use --format csv") from None
    if args.input is not None and not (args.input.endswith(".npy")
                                       and pathlib.Path(args.input).exists()):
        raise CLIError(f"sweep --input takes an existing .npy batch, got {args.input!r} "
                       f"(random inputs come from --batch and --seed)")
    spec = dict(model=args.model, arch=args.arch, mode=args.mode, batch=args.batch,
                seed=args.seed, input=None if args.input is None
                else str(pathlib.Path(args.input).resolve()), num_classes=args.num_classes,
                threads=1)
    total = math.prod(len(v) for _, v in params)
    with _progress() as bar:
        task = bar.add_task(f"sweep {args.model} ({total} points)", total=total)
        result = sweep.run_sweep(spec, params, out / "sweep.csv", scheduler=args.scheduler,
                                 workers=args.workers, resume=args.resume,
                                 timeout=args.timeout, progress=lambda row: bar.advance(task))
    con = _console()
    con.print(f"{result.computed} points computed, {result.skipped} skipped (already done), "
              f"{result.failed} failed")
    for r in result.rows:
        if r["status"] == "error":
            con.print(f"[red]failed[/red] {r['id']}: {r['error']}")
    names = [n for n, _ in params]
    front = sweep.pareto_front(result.rows, objectives)
    metrics = [k for k, _ in objectives] + [m for m in ("latency_s", "top1_agreement")
                                           if m not in dict(objectives)]
    con.print(report.pareto_table(front, names, metrics))
    _write_csv(out / "pareto.csv", front or [{"id": ""}])
    ok = [r for r in result.rows if r["status"] == "ok"]
    # one objective: plot it against the first other metric shown
    y_key = objectives[1][0] if len(objectives) > 1 else next(
        m for m in ("energy_j", "latency_s", "snr_db") if m != objectives[0][0])
    report.pareto_plot(ok, front, objectives[0][0], y_key, out / "pareto.png")
    if args.format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.Table.from_pylist(result.rows), out / "sweep.parquet")
    con.print(f"wrote sweep.csv, pareto.csv, pareto.png"
              f"{', sweep.parquet' if args.format == 'parquet' else ''} to {out}")
    return 0 if not result.failed else 1


# -- evaluate ----------------------------------------------------------------------------------
EVALUATION_FILES = ("evaluation.csv", "totals.csv", "evaluation.json", "accuracy_energy.png",
                    "confusion.png")


def _sampling_args(args):
    out = {"clips": args.clips, "stride": args.stride}
    if args.resize is not None:
        out["resize"] = None if args.resize == 0 else args.resize
    if args.no_normalize:
        out["mean"] = out["std"] = None
    return out


def _configs(args):
    from . import sweep
    params = [sweep.parse_param(p) for p in args.param]
    return sweep.grid_points(params) if params else None


def _totals_rows(result):
    rows = []
    for level, by in result.totals.items():
        for name, t in by.items():
            rows.append({"level": level, "config": name,
                         **{k: v for k, v in t.items() if k != "per_class"}})
    return rows


def _evaluation_json(result, args, sampling):
    per_class = {level: {n: {str(c): {"top1": a, "n": k} for c, (a, k) in t["per_class"].items()}
                         for n, t in by.items()} for level, by in result.totals.items()}
    totals = {level: {n: {k: _json_float(v) for k, v in t.items() if k != "per_class"}
                      for n, t in by.items()} for level, by in result.totals.items()}
    return {"meta": {"model": args.model, "weights": args.weights, "arch": args.arch,
                     "mode": args.mode, "data": args.data, "sampling": sampling,
                     "seed": args.seed, "configs": result.configs, "classes": result.classes},
            "totals": totals, "per_class": per_class, "costs": result.costs,
            "failed": result.errors()}


def _eval_progress(bar):
    state = {}

    def update(done, total, rate, eta):
        if "task" not in state:
            state["task"] = bar.add_task("evaluating", total=total)
        left = "" if not math.isfinite(eta) else f", ETA {int(eta) // 60}:{int(eta) % 60:02d}"
        bar.update(state["task"], completed=done,
                   description=f"evaluating ({rate:.2f} clips/s{left})")
    return update


def cmd_evaluate(args):
    from . import report
    from .evaluation import evaluate
    out = _outdir(args.out, EVALUATION_FILES)
    configs = _configs(args)
    sampling = _sampling_args(args)
    if args.confusion is not None:
        from .sweep import point_id
        names = ["float"] + [point_id(c) or "base" for c in configs or [{}]]
        if args.confusion not in names:
            raise CLIError(f"--confusion {args.confusion!r} is not a configuration of this "
                           f"evaluation; configurations: {', '.join(names)}")
    with _progress() as bar:
        result = evaluate(args.model, args.data, arch=args.arch, mode=args.mode,
                          configs=configs, sampling=sampling, classes=args.classes,
                          weights=args.weights, num_classes=args.num_classes, batch=args.batch,
                          seed=args.seed, calibration=args.calibration, out=out,
                          resume=args.resume, scheduler=args.scheduler, workers=args.workers,
                          timeout=args.timeout, on_error=args.on_error,
                          progress=_eval_progress(bar))
    con = _console()
    con.print(f"{result.computed} videos computed, {result.skipped} skipped (already done), "
              f"{result.failed} failed")
    for video, reason in result.errors().items():
        con.print(f"[red]failed[/red] {video}: {reason}", markup=True, soft_wrap=True)
    con.print(report.evaluation_table(result.totals, "video", title=f"{args.model}: "
                                      f"accuracy per video, mode {args.mode}"))
    con.print(report.evaluation_table(result.totals, "clip", title="per clip"))
    _write_csv(out / "totals.csv", _totals_rows(result))
    _write_json(out / "evaluation.json", _evaluation_json(result, args, sampling))
    report.accuracy_energy_plot(result.totals, out / "accuracy_energy.png")
    chosen = args.confusion or result.configs[-1]
    report.confusion_plot(result.confusion(chosen), out / "confusion.png", result.classes,
                          title=f"confusion matrix per video: {chosen}")
    con.print(f"wrote {', '.join(EVALUATION_FILES)} to {out}")
    return 0 if not result.failed else 1


# -- bench, models, presets --------------------------------------------------------------------
SUITES = ("estimate", "conv", "crossbar", "network")


def cmd_bench(args):
    root = pathlib.Path(__file__).resolve().parents[1]
    if not (root / "bench" / "__init__.py").exists():
        raise CLIError("the benchmark suite ships with the source checkout (bench/ beside "
                       "the fdafast package); run fdafast bench from a clone")
    suites = [s.strip() for s in args.suite.split(",")]
    bad = [s for s in suites if s not in SUITES]
    if bad:
        raise CLIError(f"unknown suite(s) {', '.join(bad)}; suites: {', '.join(SUITES)}")
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    status = 0
    for s in suites:
        cmd = [sys.executable, "-m", f"bench.{s}"] + (["--quick"] if args.quick and s in
                                                       ("conv", "crossbar") else [])
        _console().rule(f"bench.{s}")
        status |= subprocess.call(cmd, cwd=root, env=env)
    return status


def cmd_models(args):
    from rich.table import Table
    from .nn import zoo
    t = Table(title="zoo models")
    for c in ("name", "input", "layers", "GMACs", "parameters"):
        t.add_column(c, justify="left" if c in ("name", "input") else "right")
    with _progress() as bar:                         # building VGG16's weights takes seconds
        task = bar.add_task("building the zoo", total=len(zoo.names()))
        for name in zoo.names():
            net = zoo.get(name)
            layers = net.layers()
            params = sum(v.size for k, v in net.state_dict().items() if "running_" not in k)
            t.add_row(name, "x".join(map(str, net.input_shape)), str(len(layers)),
                      f"{sum(l.macs for l in layers) / 1e9:.2f}", f"{params:,}")
            bar.advance(task)
    _console().print(t)
    return 0


def cmd_info(args):
    from ._dispatch import show_config
    show_config()
    return 0


def cmd_presets(args):
    from rich.table import Table
    from .arch import Accelerator, presets
    t = Table(title="accelerator presets")
    for c in ("name", "kind", "chip W", "chip mm2", "peak TOPS", "description"):
        t.add_column(c, justify="right" if c in ("chip W", "chip mm2", "peak TOPS") else "left",
                     max_width=70 if c == "description" else None)
    for name in presets():
        acc = Accelerator.from_preset(name)
        s = acc.summary()
        t.add_row(name, acc.meta.kind, f"{s['chip_power_w']:.1f}", f"{s['chip_area_mm2']:.1f}",
                  f"{s['peak_ops_per_s'] / 1e12:.1f}", acc.meta.description)
    _console().print(t)
    return 0


def cmd_preset_show(args):
    from .arch import presets
    if args.name.endswith(".toml") and pathlib.Path(args.name).exists():
        try:
            text = pathlib.Path(args.name).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"cannot read {args.name!r} as a TOML text file: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
    elif args.name in presets():
        text = (importlib.resources.files("fdafast.arch") / "presets" /
                f"{args.name}.toml").read_text()
    else:
        raise CLIError(f"unknown preset {args.name!r}; presets: {', '.join(presets())}")
    sys.stdout.write(text)
    return 0


# -- the parser --------------------------------------------------------------------------------
def _number(kind, lo, name):
    """An argparse type: ``kind`` (int or float) >= ``lo`` (> 0 for floats), finite."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{name} takes {what}, got {text!r}") from None
        if (kind is float and not (math.isfinite(value) and value > lo)) or \
                (kind is int and value < lo):
            bound = f">= {lo}" if kind is int else f"> {lo}"
            raise argparse.ArgumentTypeError(f"{name} must be {bound}, got {text}")
        return value
    return parse


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (and status 2, as argparse does)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _common(p, arch_default="fda", batch=(1, "clips or images per run (default 1)")):
    p.add_argument("model", help="a zoo model (fdafast models) or an .onnx file")
    p.add_argument("--arch", default=arch_default,
                   help=f"preset name or TOML file (default {arch_default})")
    p.add_argument("--batch", type=_number(int, 1, "--batch"), default=batch[0], help=batch[1])
    p.add_argument("--num-classes", type=_number(int, 1, "--num-classes"), default=None,
                   help="zoo models' classes")
    p.add_argument("--out", default=None, help="directory for JSON, CSV and PNG files")


def parser():
    ap = _Parser(prog="fdafast", description="Simulate frequency-domain ReRAM "
                                 "CNN accelerators: what they compute and what it costs.")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("simulate", help="run a model on the simulated accelerator")
    _common(p)
    p.add_argument("--mode", default="reram", choices=("direct", "fft", "quant", "reram"))
    p.add_argument("--input", default=None, help="a .npy batch, or a shape (random input)")
    p.add_argument("--seed", type=_number(int, 0, "--seed"), default=0)
    p.add_argument("--threads", type=_number(int, 1, "--threads"), default=None)
    p.add_argument("--crossbar", action="append", metavar="FIELD=VALUE",
                   help="crossbar override, e.g. adc_bits=6 or read_sigma=0.1 (repeatable)")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("compare", help="compare accelerators on a model")
    _common(p, arch_default="fda,isaac,asic-fft")
    p.add_argument("--residency", default=None, choices=("pipelined", "reprogram"),
                   help="weight residency for every accelerator (default: each one's own)")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("sweep", help="accuracy and cost over a parameter grid, on Dask")
    _common(p)
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUES",
                   help="e.g. adc_bits=4:10, tile=8,16, hermitian=half,none (repeatable)")
    p.add_argument("--mode", default="reram", choices=("reram", "quant", "none"),
                   help="how accuracy is measured; 'none': cost only")
    p.add_argument("--input", default=None, help="a .npy batch (default: random, --seed)")
    p.add_argument("--seed", type=_number(int, 0, "--seed"), default=0)
    p.add_argument("--objective", default=None,
                   help="Pareto objectives, e.g. energy_j:min,snr_db:max (the default)")
    p.add_argument("--format", default="csv", choices=("csv", "parquet"))
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:port); "
                   "default: an embedded LocalCluster")
    p.add_argument("--workers", type=_number(int, 1, "--workers"), default=None, help="LocalCluster worker processes")
    p.add_argument("--timeout", type=_number(float, 0, "--timeout"), default=10.0,
                   help="seconds to reach the scheduler (default 10)")
    p.add_argument("--resume", action="store_true", help="skip points already in --out")
    p.set_defaults(func=cmd_sweep)
    p = sub.add_parser("evaluate", help="accuracy on a video data set under the simulated "
                       "hardware, on Dask")
    _common(p, batch=(8, "clips per Dask task, whole videos (default 8)"))
    p.set_defaults(out="evaluate-results")
    p.add_argument("--data", required=True, help="a folder of videos or .npy clips (class "
                   "subfolders give the labels), or a .csv manifest of path,label lines")
    p.add_argument("--weights", default=None, help="weights for the model (.npz, .pt, .pth)")
    p.add_argument("--classes", default=None, help="a text file of the model's class names, "
                   "one a line, in output order")
    p.add_argument("--mode", default="reram", choices=("reram", "quant", "float"))
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUES",
                   help="hardware configurations, as for sweep (repeatable; their product)")
    p.add_argument("--clips", type=_number(int, 1, "--clips"), default=1,
                   help="clips per video, uniformly spaced (default 1)")
    p.add_argument("--stride", type=_number(int, 1, "--stride"), default=1,
                   help="frames between a clip's frames (default 1)")
    p.add_argument("--resize", type=_number(int, 0, "--resize"), default=None,
                   help="short side before the centre crop (default 128/112 of the crop; "
                   "0: none)")
    p.add_argument("--no-normalize", action="store_true",
                   help="no mean/std normalisation (default: Kinetics' for RGB models)")
    p.add_argument("--calibration", type=_number(int, 1, "--calibration"), default=4,
                   help="clips that calibrate the ADC ranges (default 4)")
    p.add_argument("--seed", type=_number(int, 0, "--seed"), default=0)
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:port)"
                   ", 'inline' (this process), default an embedded LocalCluster")
    p.add_argument("--workers", type=_number(int, 1, "--workers"), default=None,
                   help="LocalCluster worker processes")
    p.add_argument("--timeout", type=_number(float, 0, "--timeout"), default=10.0,
                   help="seconds to reach the scheduler (default 10)")
    p.add_argument("--resume", action="store_true", help="keep the videos finished in --out")
    p.add_argument("--on-error", default="record", choices=("record", "raise"),
                   help="a video that fails: recorded with its reason (default), or stop")
    p.add_argument("--confusion", default=None, metavar="CONFIG",
                   help="configuration of the confusion matrix (default the last)")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("bench", help="run the benchmark suite and print its ratio tables")
    p.add_argument("--suite", default=",".join(SUITES))
    p.add_argument("--quick", action="store_true")
    p.set_defaults(func=cmd_bench)
    sub.add_parser("models", help="list the zoo").set_defaults(func=cmd_models)
    sub.add_parser("presets", help="list the accelerator presets").set_defaults(
        func=cmd_presets)
    p = sub.add_parser("info", help="the instruction-set variant, threads, OpenMP and "
                       "compile flags in use (fdafast.show_config)")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("preset", help="preset show NAME: print a preset's TOML")
    psub = p.add_subparsers(dest="preset_command", required=True)
    q = psub.add_parser("show")
    q.add_argument("name")
    q.set_defaults(func=cmd_preset_show)
    return ap


def _say(line):
    """One line on stderr, never wrapped."""
    sys.stderr.write(line.replace("\n", " ") + "\n")
    sys.stderr.flush()


def _show_warning(command, message, category, filename, lineno, file=None, line=None):
    """A warning as one line on stderr (no source location: the user did not write it)."""
    _say(f"fdafast {command}: warning: {' '.join(str(message).split())}")


def main(argv=None):
    """Run the command line; returns the exit status.

    Expected failures (what was asked cannot be done, a file cannot be read or
    written, not enough memory) print one line on stderr and return 2; an
    interruption returns 130; anything else is a bug: its traceback is
    printed, followed by a line that says so, and 1 is returned.  Warnings
    (e.g. :class:`fdafast.cost.AdcResolutionWarning`) print one line each.
    """
    args = parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = functools.partial(_show_warning, args.command)
            return args.func(args)
    except FdafastError as exc:
        _say(f"fdafast {args.command}: error: {exc}")
        return 2
    except OSError as exc:
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        _say(f"fdafast {args.command}: error:{where} {exc.strerror or exc}")
        return 2
    except MemoryError:
        _say(f"fdafast {args.command}: error: out of memory; try a smaller --batch or input")
        return 2
    except KeyboardInterrupt:
        _say(f"fdafast {args.command}: interrupted")
        return 130
    except Exception:                          # a bug: keep the traceback, and say so
        import traceback
        traceback.print_exc()
        _say(f"fdafast {args.command}: internal error (a bug in fdafast; please report it "
             f"with the traceback above)")
        return 1
