"""`autoresearch report`: the session's runs as plain data, as progress.png, and as the HTML dashboard.

matplotlib is optional and imported only when the PNG is drawn; the dashboard needs nothing beyond
the standard library.
"""

from __future__ import annotations

import datetime
import os
import time
from typing import Optional

from . import decide, experiment, holdout, jsonlog, records, report_html, stats
from . import session as session_module
from .atomicfile import write_atomic
from .display import STATUS_COLOURS, number, short
from .errors import EngineError
from .sessionfiles import HTML_NAME, PNG_NAME

MATPLOTLIB_HINT = "pip install matplotlib"


# ---- data -------------------------------------------------------------------------------------

def build(loaded: session_module.Session, source: str, now: Optional[float] = None) -> dict:
    """Everything the PNG and the dashboard show, as JSON-ready values."""
    now = time.time() if now is None else now
    segments = [_segment(seg) for seg in loaded.segments if seg.experiments or seg.config is not None]
    current = loaded.current
    return {
        "name": (current.config or {}).get("name") or "autoresearch session",
        "state": loaded.state,
        "source": source,
        "generated": datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "generated_epoch": int(now),
        "current_segment": current.index,
        "total_runs": sum(len(seg["runs"]) for seg in segments),
        "segments": segments,
        "warnings": list(loaded.warnings),
    }


def _segment(seg: session_module.Segment) -> dict:
    best = seg.best
    reference = seg.best_reference
    running = None
    runs = []
    for position, entry in enumerate(seg.experiments):
        metric = entry.get("metric") if records.is_finite_number(entry.get("metric")) else None
        status = str(entry.get("status"))
        if status == "keep" and metric is not None:
            running = metric if running is None or stats.is_better(metric, running, seg.direction) else running
        delta = None if metric is None or reference is None else metric - reference
        run = entry.get("run")
        asi = entry.get("asi")
        measured = [v for key in ("samples", "reference_samples") if isinstance(entry.get(key), list)
                    for v in entry[key] if records.is_finite_number(v)]
        kept_at = None
        if status == "keep" and metric is not None:
            again = session_module.reference_samples(entry)
            kept_at = stats.mean(again)
        runs.append({
            "run": run if isinstance(run, int) and not isinstance(run, bool) else None,
            "commit": str(entry.get("commit") or ""),
            "status": status,
            "metric": metric,
            "description": str(entry.get("description") or ""),
            "timestamp": entry.get("timestamp") if records.is_finite_number(entry.get("timestamp")) else None,
            "confidence": records.shown_confidence(entry),
            "asi": asi if isinstance(asi, dict) and asi else None,
            "delta": delta,
            "delta_pct": stats.change_pct(metric, reference),
            "running_best": running,
            "samples": measured,  # every measurement of this run's code, re-measurements of a keep included
            "reference": kept_at,  # a keep: the mean later candidates are compared with
            "is_best": metric is not None and status == "keep" and metric == best,
            "position": position,
        })
    return {
        "index": seg.index,
        "name": (seg.config or {}).get("name") or f"segment {seg.index}",
        "metric_name": seg.metric_name or "metric",
        "unit": seg.metric_unit,
        "direction": seg.direction,
        "baseline": seg.baseline,
        "best": best,
        "improvement_pct": stats.improvement_pct(seg.baseline, best, seg.direction),
        "confidence": seg.confidence(),
        "noise_sigma": decide.noise_model(experiment.segment_sample_groups(seg)).sigma,
        "counts": {status: seg.count(status) for status in records.STATUSES},
        "refused": len(seg.refusals),
        "holdout": holdout.gap(seg),
        "runs": runs,
    }


# ---- writing ----------------------------------------------------------------------------------

def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def write_png(data: dict, path: str) -> bool:
    """Draw the progress chart; False (and nothing written) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import patheffects
    except ImportError:
        return False
    figure = _draw(plt, patheffects.withStroke(linewidth=2.5, foreground="white"), data)
    temp = f"{path}.tmp-{os.getpid()}"
    try:
        figure.savefig(temp, format="png", dpi=120)
        os.replace(temp, path)
    except BaseException:
        _remove(temp)
        raise
    finally:
        plt.close(figure)
    return True


def _draw(plt, halo, data: dict):
    figure, axes = plt.subplots(figsize=(14, 7))
    segments = [seg for seg in data["segments"] if seg["runs"]]
    metrics = [run["metric"] for seg in segments for run in seg["runs"] if run["metric"] is not None]
    low, high = (min(metrics), max(metrics)) if metrics else (0.0, 1.0)
    span = (high - low) or abs(high) or 1.0
    floor = low - 0.08 * span  # where crashes (runs without a metric) are drawn
    seen = set()
    points, labelled = [], []  # every run's marker; the kept runs' labels

    def label_once(name):
        if name in seen:
            return None
        seen.add(name)
        return name

    for number_in_plot, seg in enumerate(segments):
        xs = [_x(run) for run in seg["runs"]]
        if number_in_plot:
            edge = xs[0] - 0.5
            axes.axvline(edge, color="#555555", linestyle=":", linewidth=1)
            axes.text(edge, 1.0, f" segment {seg['index']}", transform=axes.get_xaxis_transform(),
                      va="top", ha="left", fontsize=8, color="#555555")
        if seg["baseline"] is not None:
            axes.hlines(seg["baseline"], xs[0] - 0.4, xs[-1] + 0.4, colors="#4575b4", linestyles=(0, (6, 3)),
                        linewidth=1.6, label=label_once("baseline"))
        keeps = [(x, run) for x, run in zip(xs, seg["runs"]) if run["reference"] is not None]
        if seg["noise_sigma"]:
            for k, (x, run) in enumerate(keeps):  # where a run of the best's code lands, until the next keep
                until = keeps[k + 1][0] if k + 1 < len(keeps) else xs[-1] + 0.4
                axes.fill_between([x, until], run["reference"] - 2 * seg["noise_sigma"],
                                  run["reference"] + 2 * seg["noise_sigma"], color="#1a9850", alpha=0.12, linewidth=0,
                                  zorder=1, label=label_once("noise of the best (±2σ)"))
        repeated = [(x, v) for x, run in zip(xs, seg["runs"]) if len(run["samples"]) > 1 for v in run["samples"]]
        if repeated:
            axes.scatter([p[0] for p in repeated], [p[1] for p in repeated], s=9, color="#7a8194", alpha=0.5,
                         linewidths=0, zorder=2, label=label_once("samples"))
        steps = [(x, run["running_best"]) for x, run in zip(xs, seg["runs"]) if run["running_best"] is not None]
        if steps:
            axes.step([p[0] for p in steps] + [xs[-1]], [p[1] for p in steps] + [steps[-1][1]], where="post",
                      color="#1a9850", linewidth=1.6, alpha=0.8, label=label_once("running best"))
        for status in ("discard", "checks_failed", "keep"):
            chosen = [(x, run["metric"]) for x, run in zip(xs, seg["runs"])
                      if run["status"] == status and run["metric"] is not None]
            if chosen:
                axes.scatter([p[0] for p in chosen], [p[1] for p in chosen], s=46 if status == "keep" else 22,
                             color=STATUS_COLOURS[status], zorder=3, edgecolors="white", linewidths=0.5,
                             label=label_once(status))
        others = [x for x, run in zip(xs, seg["runs"]) if run["metric"] is None or run["status"] not in STATUS_COLOURS]
        if others:
            axes.scatter(others, [floor] * len(others), marker="x", s=30, color=STATUS_COLOURS["crash"], zorder=3,
                         label=label_once("crash / no metric"))
        points += [(x, run["metric"] if run["metric"] is not None and run["status"] in STATUS_COLOURS else floor)
                   for x, run in zip(xs, seg["runs"])]
        labelled += [((x, run["metric"]), short(run["description"], 34)) for x, run in zip(xs, seg["runs"])
                     if run["status"] == "keep" and run["metric"] is not None]
    last = segments[-1] if segments else data["segments"][-1]
    unit = f" ({last['unit']})" if last["unit"] else ""
    axes.set_ylabel(f"{last['metric_name']}{unit} — {last['direction']} is better")
    axes.set_xlabel("run")
    runs = data["total_runs"]
    kept = sum(seg["counts"]["keep"] for seg in data["segments"])
    title = f"{data['name']}: {runs} runs, {kept} kept"
    if last["best"] is not None:
        title += f"; best {number(last['best'])}{' ' + last['unit'] if last['unit'] else ''}"
    if last["improvement_pct"] is not None:
        title += f" ({last['improvement_pct']:+.2f}% vs baseline)"
    axes.set_title(title)
    axes.grid(True, color="#e6e6e6", linewidth=0.6)
    axes.set_axisbelow(True)
    if seen:
        axes.legend(loc="best", fontsize=8, framealpha=0.9)
    figure.tight_layout()
    _place_labels(figure, axes, halo, points, labelled)
    return figure


# offsets (points) tried in turn for a kept run's label: beside the point first, then further out
LABEL_OFFSETS = [(dx * side, dy * up) for dx, dy in ((6, 6), (6, 16), (14, 28), (24, 44)) for up in (1, -1)
                 for side in (1, -1)]


def _place_labels(figure, axes, halo, points, labelled):
    """Label each kept run where the text covers no run's marker, no other label and stays inside the plot; a label
    with no such place is left out (the dashboard lists every run)."""
    axes.set_xlim(axes.get_xlim())  # the limits are final: display positions must not move after placement
    axes.set_ylim(axes.get_ylim())
    renderer = figure.canvas.get_renderer()
    markers = [axes.transData.transform(p) for p in points]
    frame = axes.bbox
    taken = []
    for (x, y), text in labelled:
        own = axes.transData.transform((x, y))
        for dx, dy in LABEL_OFFSETS:
            note = axes.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7,
                                 ha="left" if dx > 0 else "right", va="bottom" if dy > 0 else "top",
                                 color="#1f4d2c", path_effects=[halo], zorder=4,
                                 arrowprops=None if abs(dy) < 10 else dict(arrowstyle="-", color="#1f4d2c", lw=0.5))
            box = note.get_window_extent(renderer).padded(2)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            covers = any(box.x0 - 4 <= mx <= box.x1 + 4 and box.y0 - 4 <= my <= box.y1 + 4
                         for mx, my in markers if abs(mx - own[0]) > 0.5 or abs(my - own[1]) > 0.5)
            if inside and not covers and not any(box.overlaps(other) for other in taken):
                taken.append(box)
                break
            note.remove()


def _x(run: dict):
    return run["run"] if run["run"] is not None else run["position"] + 1


def write_reports(ws, out_dir: str, want_png: bool, refresh: int, watching: bool) -> dict:
    """Write the dashboard (and the PNG); returns what was written."""
    loaded = session_module.load(jsonlog.read_log(ws.log_path))
    if not loaded.exists:
        raise EngineError(f"{ws.log_path} holds no session yet, so there is nothing to report; "
                          "start one with 'autoresearch init'.")
    data = build(loaded, ws.log_path)
    html_path = os.path.join(out_dir, HTML_NAME)
    write_atomic(html_path, report_html.render(data, refresh=refresh, watching=watching))
    png_path = os.path.join(out_dir, PNG_NAME)
    png = write_png(data, png_path) if want_png else None
    return {"html": html_path, "png": png_path if png else None, "png_missing": png is False,
            "runs": data["total_runs"], "warnings": data["warnings"], "integrity": integrity_lines(data)}


def integrity_lines(data: dict) -> list:
    """What `report` says in words: per segment, the held-out gap and the refused candidates."""
    lines = []
    for seg in data["segments"]:
        if seg["holdout"]:
            lines.append(holdout.sentence(seg["index"], seg["holdout"]))
        if seg["refused"]:
            lines.append(f"segment {seg['index']}: {seg['refused']} candidate{'' if seg['refused'] == 1 else 's'} "
                         "refused, unmeasured, for changing a protected file.")
    return lines
