"""Plots (matplotlib, PNG) and terminal tables (rich) of fdafast's results.

Every plot function takes plain data (reports, dicts, rows), writes one PNG
of :data:`FIGSIZE` inches at :data:`DPI` and returns its path; nothing opens
a window (the Agg backend).  Table functions return ``rich.table.Table``
objects for a ``rich.console.Console`` to print, or for :func:`to_text`.

matplotlib and rich are imported inside the functions that use them: both
are slow to import, and ``import fdafast`` should not pay for them.
"""
import io
import math
import pathlib

import numpy as np

from .cost import ENERGY_COMPONENTS

__all__ = ["energy_breakdown_plot", "latency_plot", "comparison_plot", "pareto_plot",
           "layer_table", "comparison_table", "pareto_table", "to_text", "FIGSIZE", "DPI",
           "COMPARISON_COLUMNS", "evaluation_table", "accuracy_energy_plot", "confusion_plot"]

#: Figure size (inches) and resolution of every PNG: 1000 x 600 pixels.
FIGSIZE = (10, 6)
DPI = 100


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    path = pathlib.Path(path)
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return path


def energy_breakdown_plot(report, path):
    """Stacked bars: each layer's energy (uJ) by component."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    names = [l.name for l in report.layers]
    x = np.arange(len(names))
    bottom = np.zeros(len(names))
    for comp in ENERGY_COMPONENTS:
        vals = np.array([l.energy_pj[comp] for l in report.layers]) * 1e-6
        if vals.any():
            ax.bar(x, vals, bottom=bottom, label=comp)
            bottom += vals
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("energy per layer (uJ)")
    ax.set_title(f"{report.accelerator.meta.name}: energy by component")
    ax.legend(fontsize=8, ncols=2)
    fig.tight_layout()
    return _save(fig, path)


def latency_plot(report, path):
    """Bars: each layer's latency (us)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    names = [l.name for l in report.layers]
    ax.bar(np.arange(len(names)), [l.latency_s * 1e6 for l in report.layers])
    ax.set_xticks(np.arange(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("latency (us)")
    ax.set_title(f"{report.accelerator.meta.name}: latency per layer "
                 f"(total {report.totals['latency_s'] * 1e3:.3f} ms)")
    fig.tight_layout()
    return _save(fig, path)


COMPARED = (("latency_s", "latency (ms)", 1e3), ("energy_j", "energy (mJ)", 1e3),
            ("frames_per_s", "frames/s", 1.0), ("gops_per_w", "GOPS/W", 1.0),
            ("chips", "chips", 1.0), ("area_mm2_total", "area (mm2)", 1.0),
            ("reprogram_energy_j", "reprogramming (mJ)", 1e3),
            ("endurance_lifetime_h", "lifetime (h; none: unlimited)", 1.0))


def comparison_plot(results, path):
    """Eight panels of bars, one bar per accelerator: latency, energy, frames/s, GOPS/W,
    chips, total area, reprogramming energy per batch and endurance lifetime (no bar
    where the weights are never rewritten)."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, len(COMPARED) // 2, figsize=FIGSIZE)
    names = list(results)
    for ax, (key, label, scale) in zip(axes.flat, COMPARED):
        vals = [results[n][key] for n in names]
        ax.bar(names, [0.0 if v is None else v * scale for v in vals],
               color=[f"C{i}" for i in range(len(names))])
        for i, v in enumerate(vals):
            if v is None:
                ax.text(i, 0, "none", ha="center", va="bottom", fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle("accelerators compared")
    fig.tight_layout()
    return _save(fig, path)


def pareto_plot(rows, front, x_key, y_key, path, x_label=None, y_label=None):
    """Scatter of every sweep point with the Pareto front highlighted."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    xs = [r[x_key] for r in rows]
    ys = [r[y_key] for r in rows]
    ax.scatter(xs, ys, color="C0", alpha=0.6, label="points")
    if front:
        f = sorted(front, key=lambda r: r[x_key])
        ax.plot([r[x_key] for r in f], [r[y_key] for r in f], "o-", color="C3",
                label="Pareto front")
    if xs and min(xs) > 0 and max(xs) / min(xs) > 100:
        ax.set_xscale("log")
    ax.set_xlabel(x_label or x_key)
    ax.set_ylabel(y_label or y_key)
    ax.legend()
    ax.set_title("design sweep")
    fig.tight_layout()
    return _save(fig, path)


# -- tables ----------------------------------------------------------------------------------
def _fmt(v, digits=3):
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        return f"{v:.{digits}g}" if abs(v) < 1e-2 or abs(v) >= 1e5 else f"{v:.{digits}f}"
    return str(v)


def layer_table(report, errors=None, title=None):
    """Per-layer latency, energy, utilisation, mapping (and SNR when ``errors`` given)."""
    from rich.table import Table
    t = Table(title=title or f"{report.accelerator.meta.name}: per layer")
    cols = ["layer", "kind", "mapping", "tile", "latency us", "energy uJ", "PE util",
            "crossbars", "repl", "folds", "rewritten", "ADC bits"]
    if errors is not None:
        cols += ["rel err", "SNR dB"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("layer", "kind") else "right")
    for l in report.layers:
        u = l.utilisation.get("pe_arrays", l.utilisation.get("mac_units", 0.0))
        row = [l.name, l.kind, l.mapping, "" if l.tile is None else "x".join(map(str, l.tile)),
               f"{l.latency_s * 1e6:.2f}", f"{l.energy_total_pj * 1e-6:.3f}", f"{u:.1%}",
               str(l.crossbars), str(l.replication), str(l.folds), f"{l.fold_fraction:.0%}",
               "" if l.required_adc_bits is None else str(l.required_adc_bits)]
        if errors is not None:
            e = errors.get(l.name)
            row += ["" if e is None else f"{e.rel_l2:.2e}", "" if e is None else _fmt(e.snr_db, 1)]
        t.add_row(*row)
    tot = report.totals
    life = tot["endurance_lifetime_h"]
    t.caption = (f"total ({tot['residency']}, {tot['chips']} chip(s), "
                 f"{tot['area_mm2_total']:.1f} mm2, {tot['power_w']:.1f} W): "
                 f"{tot['latency_s'] * 1e3:.3f} ms, {tot['energy_j'] * 1e3:.3f} mJ, "
                 f"{tot['frames_per_s']:.1f} frames/s, {tot['gops_per_w']:.1f} GOPS/W, "
                 f"{tot['gops_per_mm2']:.1f} GOPS/s/mm2, reprogramming "
                 f"{tot['reprogram_energy_j'] * 1e3:.3f} mJ, lifetime "
                 f"{'unlimited' if life is None else f'{life:.3g} h'}")
    return t


#: Columns of :func:`comparison_table`: (key of :func:`fdafast.compare`'s totals,
#: header, compact header, scale, format).
COMPARISON_COLUMNS = (
    ("residency", "residency", "resid.", None, ""),
    ("chips", "chips", "chips", None, ""),
    ("area_mm2_total", "area mm2", "mm2", 1.0, ".0f"),
    ("power_w", "power W", "W", 1.0, ".0f"),
    ("latency_s", "latency ms", "latency ms", 1e3, ".3f"),
    ("energy_j", "energy mJ", "energy mJ", 1e3, ".3f"),
    ("frames_per_s", "frames/s", "frames/s", 1.0, ".1f"),
    ("gops_per_w", "GOPS/W", "GOPS/W", 1.0, ".1f"),
    ("gops_per_mm2", "GOPS/s/mm2", "GOPS/s/mm2", 1.0, ".1f"),
    ("reprogram_energy_j", "rewrite mJ", "rewr mJ", 1e3, ".3f"),
    ("endurance_lifetime_h", "lifetime h", "life h", 1.0, ".3g"),
    ("latency_ratio", "lat/1st", "lat/1st", 1.0, ".2f"),
    ("energy_ratio", "E/1st", "E/1st", 1.0, ".2f"),
)
_CAPTION = ("lat/1st, E/1st: latency / first and energy / first accelerator's; rewrite: "
            "energy to program and load weights per batch; lifetime: cell endurance at this "
            "frame rate (-: weights never rewritten)")


def _cell(value, scale, fmt):
    if value is None:
        return "-"
    if scale is None:
        return str(value)
    return f"{value * scale:{fmt}}"


def comparison_table(results, title="accelerators compared", *, compact=False):
    """Latency, energy, frames/s and efficiency side by side, with ratios to the first.

    Parameters
    ----------
    results : dict
        :func:`fdafast.compare`'s ``{accelerator: totals}``.
    title : str or None
    compact : bool
        Short headers and plain rules without the caption that explains the
        columns, for plain-text output such as the benchmarks' (:func:`to_text`).

    Returns
    -------
    rich.table.Table
        One row per accelerator, the columns of :data:`COMPARISON_COLUMNS` (a
        lifetime of ``-``: the weights are never rewritten).
    """
    from rich import box
    from rich.table import Table
    t = Table(title=title, box=box.SIMPLE if compact else box.HEAVY_HEAD, show_edge=not compact,
              caption=None if compact else _CAPTION)
    t.add_column("accelerator", justify="left")
    for _, header, short, _, _ in COMPARISON_COLUMNS:
        t.add_column(short if compact else header, justify="right")
    for name, r in results.items():
        t.add_row(name, *[_cell(r.get(key), scale, fmt)
                          for key, _, _, scale, fmt in COMPARISON_COLUMNS])
    return t


def pareto_table(front, params, metrics, title="Pareto front"):
    """The front's points: their parameters and metrics."""
    from rich.table import Table
    t = Table(title=title)
    for c in list(params) + list(metrics):
        t.add_column(c, justify="right")
    for r in front:
        t.add_row(*[_fmt(r[c]) for c in list(params) + list(metrics)])
    return t


def to_text(renderable, width=160):
    """Plain text (no colour or markup codes) of a rich table or other renderable.

    Parameters
    ----------
    renderable : rich renderable
        E.g. :func:`comparison_table`'s table.
    width : int
        Columns of the text; the table wraps cells that do not fit.

    Returns
    -------
    str
        The lines, trailing spaces removed.
    """
    from rich.console import Console
    con = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    con.print(renderable)
    return "\n".join(line.rstrip() for line in con.file.getvalue().splitlines()) + "\n"


# -- data-set evaluations (fdafast.evaluate) ---------------------------------------------------
def _pct(v):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def evaluation_table(totals, level="video", title=None):
    """One row per configuration of :func:`fdafast.evaluate`'s totals at ``level``:
    top-1 and top-5 (%) with their Wilson 95 % intervals, the top-1 drop against
    float (percentage points) with its paired 95 % interval, agreement with float,
    median SNR, energy and latency of one clip, failed videos."""
    from rich.table import Table
    t = Table(title=title or f"accuracy per {level}")
    cols = ("configuration", level + "s", "top-1 %", "95% CI", "top-5 %", "drop pp", "95% CI ",
            "agree %", "SNR dB", "uJ/clip", "us/clip", "failed")
    for c in cols:
        t.add_column(c, justify="left" if c == "configuration" else "right")
    for name, r in totals[level].items():
        hw = not math.isnan(r["energy_j"])
        t.add_row(name, str(r["n"]), _pct(r["top1"]),
                  f"{_pct(r['top1_lo'])}-{_pct(r['top1_hi'])}" if r["labelled"] else "",
                  _pct(r["top5"]), _pct(r["drop"]) if hw else "",
                  f"{_pct(r['drop_lo'])} to {_pct(r['drop_hi'])}" if hw and r["labelled"]
                  else "", _pct(r["agree"]), _fmt(r["snr_db"], 1),
                  f"{r['energy_j'] * 1e6:.2f}" if hw else "",
                  f"{r['latency_s'] * 1e6:.2f}" if hw else "", str(r["failed"]))
    return t


def accuracy_energy_plot(totals, path, level="video"):
    """Top-1 (with its Wilson 95 % interval) against the energy of one clip, one point
    per hardware configuration, the front (least energy for the accuracy) joined, and
    float's top-1 as a dashed line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    rows = [(n, r) for n, r in totals[level].items()
            if not math.isnan(r["energy_j"]) and not math.isnan(r["top1"])]
    for i, (name, r) in enumerate(rows):
        x, y = r["energy_j"] * 1e6, 100 * r["top1"]
        ax.errorbar([x], [y], yerr=[[y - 100 * r["top1_lo"]], [100 * r["top1_hi"] - y]],
                    fmt="o", color=f"C{i % 10}", capsize=4, label=name)
    front, best = [], -1.0
    for name, r in sorted(rows, key=lambda nr: (nr[1]["energy_j"], -nr[1]["top1"])):
        if r["top1"] > best:
            front.append(r)
            best = r["top1"]
    if len(front) > 1:
        ax.plot([r["energy_j"] * 1e6 for r in front], [100 * r["top1"] for r in front], "-",
                color="grey", alpha=0.6, label="front")
    ref = totals[level].get("float")
    if ref is not None and not math.isnan(ref["top1"]):
        ax.axhline(100 * ref["top1"], color="black", ls="--", label="float")
    ax.set_xlabel("energy per clip (uJ)")
    ax.set_ylabel(f"top-1 per {level} (%)")
    ax.set_title("accuracy against energy")
    if rows:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def confusion_plot(matrix, path, classes=None, title="confusion matrix"):
    """The confusion matrix (rows: true class, columns: predicted), counts shaded
    and written where there are few classes."""
    plt = _pyplot()
    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=FIGSIZE)
    im = ax.imshow(m, cmap="Blues", aspect="auto", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="items")
    k = len(m)
    if k <= 30:
        names = list(classes) if classes is not None and len(classes) == k else \
            [str(i) for i in range(k)]
        ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(k), names, fontsize=8)
        if k <= 12:
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)
