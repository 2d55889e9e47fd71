"""The dashboard: one self-contained HTML file (inline SVG, CSS and JS; nothing from the network).

Every piece of user text (descriptions, ASI, names) goes through html.escape; the data block is JSON
with <, > and & written as \\u escapes, so no string in it can close the script element.
"""

from __future__ import annotations

import html
import json
import math
from typing import List

from . import holdout
from .display import OTHER_COLOUR, STATUS_COLOURS, number, short

WIDTH, HEIGHT = 1100, 430
LEFT, RIGHT, TOP, BOTTOM = 72, 18, 46, 40


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def script_json(value) -> str:
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for raw, safe in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                      ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, safe)
    return text


# ---- the chart --------------------------------------------------------------------------------

def _ticks(low: float, high: float, count: int = 6) -> List[float]:
    span = high - low
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    values, value = [], first
    while value <= high + step * 1e-9:
        values.append(round(value, 12))
        value += step
    return values


def chart(segments: List[dict], view: str) -> str:
    runs = [(seg, run) for seg in segments for run in seg["runs"]]
    if not runs:
        return f'<div class="chartbox" data-view="{esc(view)}"><p class="empty">No runs yet.</p></div>'
    metrics = [run["metric"] for _, run in runs if run["metric"] is not None]
    metrics += [seg["baseline"] for seg in segments if seg["baseline"] is not None]
    metrics += [v for _, run in runs for v in run["samples"]]
    metrics += [run["reference"] + side * 2 * seg["noise_sigma"] for seg, run in runs
                if run["reference"] is not None and seg["noise_sigma"] for side in (-1, 1)]
    low, high = (min(metrics), max(metrics)) if metrics else (0.0, 1.0)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    low, high = low - pad, high + pad
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step_x = inner_w / max(len(runs), 1)

    def px(i: int) -> float:
        return LEFT + step_x * (i + 0.5)

    def py(value: float) -> float:
        return TOP + inner_h * (1 - (value - low) / (high - low))

    out = [f'<div class="chartbox" data-view="{esc(view)}"><svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="metric of every run">',
           f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{inner_w}" height="{inner_h}"/>']
    for tick in _ticks(low, high):
        y = py(tick)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                   f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(number(tick, 5))}</text>')
    every = max(1, math.ceil(len(runs) / 20))
    for i, (_, run) in enumerate(runs):
        if i % every == 0:
            label = run["run"] if run["run"] is not None else i + 1
            out.append(f'<text class="tick" x="{px(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{label}</text>')
    out.append(f'<text class="axis" x="{LEFT + inner_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle">run</text>')
    last = segments[-1]
    out.append(f'<text class="axis" x="14" y="{TOP + inner_h / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 14 {TOP + inner_h / 2:.0f})">{esc(last["metric_name"])}'
               f'{" (" + esc(last["unit"]) + ")" if last["unit"] else ""}, {esc(last["direction"])} is better</text>')

    points, labels, markers, keeps = [], [], [], []
    i = 0
    for number_in_view, seg in enumerate(segments):
        start = i
        end = i + len(seg["runs"]) - 1
        if not seg["runs"]:
            continue
        if number_in_view:
            x = px(start) - step_x / 2
            out.append(f'<line class="boundary" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + inner_h}"/>'
                       f'<text class="seglabel" x="{x + 4:.1f}" y="{TOP + 12}">segment {seg["index"]}</text>')
        if seg["baseline"] is not None:
            y = py(seg["baseline"])
            out.append(f'<line class="baseline" x1="{px(start) - step_x / 2:.1f}" x2="{px(end) + step_x / 2:.1f}" '
                       f'y1="{y:.1f}" y2="{y:.1f}"><title>baseline {esc(number(seg["baseline"]))}</title></line>')
        path = []
        for j, run in enumerate(seg["runs"]):
            if run["running_best"] is None:
                continue
            x, y = px(start + j), py(run["running_best"])
            path.append(f"M{x:.1f},{y:.1f}" if not path else f"H{x:.1f}V{y:.1f}")
        if path:
            path.append(f"H{px(end) + step_x / 2:.1f}")
            out.append(f'<path class="best" d="{"".join(path)}"><title>running best</title></path>')
        kept = [(start + j, run) for j, run in enumerate(seg["runs"]) if run["reference"] is not None]
        sigma = seg["noise_sigma"]
        for k, (position, run) in enumerate(kept if sigma else []):  # where a run of the best's code lands
            x0 = px(position)
            x1 = px(kept[k + 1][0]) if k + 1 < len(kept) else px(end) + step_x / 2
            top, bottom = py(run["reference"] + 2 * sigma), py(run["reference"] - 2 * sigma)
            out.append(f'<rect class="band" x="{x0:.1f}" y="{min(top, bottom):.1f}" width="{x1 - x0:.1f}" '
                       f'height="{abs(bottom - top):.1f}"><title>noise of the best: {esc(number(run["reference"]))} '
                       f'± 2σ ({esc(number(2 * sigma, 3))})</title></rect>')
        for j, run in enumerate(seg["runs"]):
            if len(run["samples"]) > 1:
                out.extend(f'<circle class="smp" cx="{px(start + j):.1f}" cy="{py(v):.1f}" r="1.8"/>'
                           for v in run["samples"])
        for j, run in enumerate(seg["runs"]):
            x = px(start + j)
            tip = (f'#{run["run"]} {run["status"]} {number(run["metric"])}: {short(run["description"], 200)}')
            status_class = run["status"] if run["status"] in STATUS_COLOURS else "other"
            if run["metric"] is None:
                y = TOP + inner_h - 8
                points.append(f'<path class="pt crash" d="M{x - 4:.1f},{y - 4:.1f}l8,8m0,-8l-8,8">'
                              f'<title>{esc(tip)}</title></path>')
                markers.append((x, y))
                continue
            y = py(run["metric"])
            radius = 5 if run["status"] == "keep" else 3.5
            points.append(f'<circle class="pt {status_class}" cx="{x:.1f}" cy="{y:.1f}" r="{radius}">'
                          f'<title>{esc(tip)}</title></circle>')
            markers.append((x, y))
            if run["status"] == "keep":
                keeps.append((x, y, short(run["description"], 30)))
        i = end + 1
    for x, y, text in keeps:
        placed = _place_label(x, y, len(text), markers, labels, (LEFT, TOP, WIDTH - RIGHT, TOP + inner_h))
        if placed:
            lx, ly, anchor, box = placed
            labels.append(box)
            points.append(f'<text class="klabel" x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}">{esc(text)}</text>')
    out.extend(points)
    out.append("</svg></div>")
    return "".join(out)


LABEL_SIZE = 10  # px, .klabel's font-size
GLYPH = 0.62 * LABEL_SIZE  # a generous average advance of a proportional font's glyph
LABEL_OFFSETS = [(dx * side, dy * up) for dx, dy in ((7, 7), (7, 18), (14, 30)) for up in (-1, 1) for side in (1, -1)]


def _place_label(x, y, chars, markers, taken, plot):
    """(x, y, anchor, box) for a kept run's label beside its point, its box inside the plot and clear of every
    other run's marker and of the labels already placed; None when no offset fits (the point's tooltip remains)."""
    width, height = chars * GLYPH, LABEL_SIZE * 1.2
    for dx, dy in LABEL_OFFSETS:
        left = x + dx if dx > 0 else x + dx - width
        bottom = y + dy  # SVG text sits on its baseline
        box = (left - 2, bottom - height, left + width + 2, bottom + 3)
        inside = plot[0] <= box[0] and box[2] <= plot[2] and plot[1] <= box[1] and box[3] <= plot[3]
        covers = any(box[0] - 5 <= mx <= box[2] + 5 and box[1] - 5 <= my <= box[3] + 5
                     for mx, my in markers if (mx, my) != (x, y))
        overlaps = any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in taken)
        if inside and not covers and not overlaps:
            return (x + dx, bottom, "start" if dx > 0 else "end", box)
    return None


# ---- the table --------------------------------------------------------------------------------

def _delta(run: dict, seg: dict) -> str:
    if run["is_best"]:
        return '<span class="bestmark">best</span>'
    if run["delta"] is None:
        return "—"
    pct = f" ({run['delta_pct']:+.2f}%)" if run["delta_pct"] is not None else ""
    return esc(f"{run['delta']:+.6g}{pct}")


def table(segments: List[dict]) -> str:
    rows = []
    for seg in segments:
        for run in seg["runs"]:
            asi = "—"
            if run["asi"]:
                body = json.dumps(run["asi"], ensure_ascii=False, indent=2, allow_nan=False)
                asi = (f'<details><summary>{len(run["asi"])} key{"s" if len(run["asi"]) != 1 else ""}</summary>'
                       f'<pre>{esc(body)}</pre></details>')
            confidence = "—" if run["confidence"] is None else f'{run["confidence"]:.2f}'
            status_class = run["status"] if run["status"] in STATUS_COLOURS else "other"
            rows.append(
                f'<tr class="run st-{esc(status_class)}" data-segment="{seg["index"]}">'
                f'<td class="num">{esc(run["run"] if run["run"] is not None else "?")}</td>'
                f'<td>{seg["index"]}</td>'
                f'<td><span class="badge {esc(status_class)}">{esc(run["status"])}</span></td>'
                f'<td class="num">{esc(number(run["metric"]))}</td>'
                f'<td class="num">{_delta(run, seg)}</td>'
                f'<td class="num">{confidence}</td>'
                f'<td><code>{esc(run["commit"][:10])}</code></td>'
                f'<td class="desc">{esc(run["description"])}</td>'
                f'<td class="asi">{asi}</td></tr>')
    return ('<table id="runs"><thead><tr><th>run</th><th>seg</th><th>status</th><th>metric</th>'
            '<th title="the metric minus the best kept result (the mean of its re-measurements, what the keep rule '
            'compares with), and that in % of it: negative is lower, whichever direction is better">'
            'Δ best (− is lower)</th><th title="the segment\'s confidence after a keep; other runs leave it as it was">'
            'confidence</th>'
            '<th>commit</th><th>description</th><th>ASI</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def summary(seg: dict) -> str:
    unit = f" {seg['unit']}" if seg["unit"] else ""
    counts = seg["counts"]
    improvement = "—" if seg["improvement_pct"] is None else f"{seg['improvement_pct']:+.2f}%"
    confidence = "—" if seg["confidence"] is None else f"{seg['confidence']:.2f}"
    cells = [("runs", str(len(seg["runs"]))), ("kept", str(counts["keep"])), ("discarded", str(counts["discard"])),
             ("crashed", str(counts["crash"])), ("checks failed", str(counts["checks_failed"])),
             ("baseline", number(seg["baseline"]) + unit), ("best", number(seg["best"]) + unit),
             ("improvement", improvement), ("confidence", confidence)]
    if seg["refused"]:
        cells.append(("refused (protected)", str(seg["refused"])))
    items = "".join(f'<div class="stat"><span>{esc(k)}</span><b>{esc(v)}</b></div>' for k, v in cells)
    return (f'<section class="summary" data-segment="{seg["index"]}"><h2>segment {seg["index"]}: '
            f'{esc(seg["name"])} <small>{esc(seg["metric_name"])}, {esc(seg["direction"])} is better</small></h2>'
            f'<div class="stats">{items}</div>{held_out(seg)}</section>')


def held_out(seg: dict) -> str:
    """The held-out gap: the baseline and the best kept run on the decided-on and the held-out metric."""
    data = seg["holdout"]
    if not data:
        return ""
    held = "—" if data["held_pct"] is None else f"{data['held_pct']:.0f}%"
    cells = [(f"baseline {data['metric_name']}", number(data["baseline_val"])),
             (f"baseline {data['name']}", number(data["baseline_test"])),
             (f"best {data['metric_name']}", number(data["best_val"])),
             (f"best {data['name']}", number(data["best_test"])),
             ("improvement held on unseen data", held)]
    items = "".join(f'<div class="stat"><span>{esc(k)}</span><b>{esc(v)}</b></div>' for k, v in cells)
    return (f'<div class="heldout"><h3>held out: {esc(data["name"])} <small>never decided on</small></h3>'
            f'<div class="stats">{items}</div><p class="note">{esc(holdout.sentence(seg["index"], data))}</p></div>')


# ---- the page ---------------------------------------------------------------------------------

CSS = """
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2433;background:#f6f7f9}
body{margin:0 auto;max-width:1180px;padding:18px 22px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}h2 small{color:#687083;font-weight:400}
.meta{color:#687083;font-size:13px;margin-bottom:14px}
.controls{display:flex;gap:18px;align-items:center;margin:10px 0 14px;font-size:14px}
.summary{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:12px 14px;margin-bottom:10px}
.stats{display:flex;flex-wrap:wrap;gap:8px 22px}.stat span{display:block;color:#687083;font-size:12px}
.stat b{font-size:16px}
.heldout{margin-top:10px;border-top:1px solid #eceef2;padding-top:8px}.heldout h3{font-size:14px;margin:0 0 6px}
.heldout h3 small{color:#687083;font-weight:400}.note{color:#434a5a;font-size:13px;margin:6px 0 0}
.chart{width:100%;height:auto;background:#fff;border:1px solid #e1e4ea;border-radius:8px;margin-bottom:14px}
.plot{fill:#fff}.grid{stroke:#eceef2}.tick{font-size:11px;fill:#687083}.axis{font-size:12px;fill:#434a5a}
.boundary{stroke:#7a8194;stroke-dasharray:3 4}.seglabel{font-size:11px;fill:#434a5a}
.baseline{stroke:#4575b4;stroke-dasharray:6 4;stroke-width:1.4}
.best{fill:none;stroke:#1a9850;stroke-width:2;opacity:.75}
.pt{stroke:#fff;stroke-width:1}.pt.crash{stroke:@crash@;stroke-width:2}
.pt.keep{fill:@keep@}.pt.discard{fill:@discard@}.pt.checks_failed{fill:@checks_failed@}.pt.other{fill:@other@}
.band{fill:#1a9850;opacity:.12}.smp{fill:#7a8194;opacity:.55}
.klabel{font-size:10px;fill:#1f4d2c;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px;border:1px solid #e1e4ea}
th,td{padding:5px 8px;border-bottom:1px solid #eceef2;text-align:left;vertical-align:top}
th{background:#eef0f4;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.desc{max-width:420px;overflow-wrap:anywhere}pre{margin:4px 0;white-space:pre-wrap;max-width:360px;font-size:12px}
.badge{border-radius:10px;padding:1px 8px;color:#fff;font-size:12px}
.badge.keep{background:@keep@}.badge.discard{background:@discard@}.badge.crash{background:@crash@}
.badge.checks_failed{background:@checks_failed@}.badge.other{background:@other@}
.bestmark{color:#1a9850;font-weight:600}.warn{color:#a14a00}[hidden]{display:none!important}
"""
for _name, _colour in dict(STATUS_COLOURS, other=OTHER_COLOUR).items():
    CSS = CSS.replace(f"@{_name}@", _colour)

JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var select = document.getElementById("segment");
  var box = document.getElementById("refresh");
  var timer = null;
  function readHash() {
    var found = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var pair = part.split("=");
      if (pair[0]) { found[pair[0]] = pair[1] || ""; }
    });
    return found;
  }
  function writeHash() {
    var value = "segment=" + select.value + "&refresh=" + (box.checked ? "1" : "0");
    if (history.replaceState) { history.replaceState(null, "", "#" + value); } else { location.hash = value; }
  }
  function show() {
    var chosen = select.value;
    var charts = document.querySelectorAll("[data-view]");
    for (var i = 0; i < charts.length; i++) {
      charts[i].hidden = charts[i].getAttribute("data-view") !== (charts.length > 1 ? chosen : "all");
    }
    var parts = document.querySelectorAll("[data-segment]");
    for (var j = 0; j < parts.length; j++) {
      parts[j].hidden = chosen !== "all" && parts[j].getAttribute("data-segment") !== chosen;
    }
    var shown = document.querySelectorAll("tr.run:not([hidden])").length;
    document.getElementById("shown").textContent = shown + " of " + data.total_runs + " runs";
  }
  function schedule() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (box.checked) { timer = setTimeout(function () { location.reload(); }, data.refresh * 1000); }
  }
  var state = readHash();
  if (state.segment && select.querySelector('option[value="' + state.segment + '"]')) { select.value = state.segment; }
  box.checked = state.refresh ? state.refresh === "1" : data.watching;
  select.addEventListener("change", function () { writeHash(); show(); });
  box.addEventListener("change", function () { writeHash(); schedule(); });
  function age() {
    var seconds = Math.max(0, Math.round(Date.now() / 1000 - data.generated_epoch));
    document.getElementById("age").textContent = seconds < 90 ? seconds + " s ago" : Math.round(seconds / 60) + " min ago";
  }
  show(); schedule(); age(); setInterval(age, 5000);
})();
"""


def render(data: dict, refresh: int = 10, watching: bool = False) -> str:
    segments = [seg for seg in data["segments"]]
    payload = dict(data, refresh=refresh, watching=watching)
    charts = [chart(segments, "all")]
    options = ['<option value="all">all segments</option>']
    if len(segments) > 1:
        for seg in segments:
            charts.append(chart([seg], str(seg["index"])))
            options.append(f'<option value="{seg["index"]}">segment {seg["index"]}: {esc(short(seg["name"], 40))}</option>')
    warnings = "".join(f'<p class="warn">{esc(w)}</p>' for w in data["warnings"])
    live = "rewritten by 'autoresearch report --watch'" if watching else "a snapshot; run 'autoresearch report --watch' for a live page"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'none'">
<title>autoresearch: {esc(data["name"])}</title>
<style>{CSS}</style></head>
<body>
<h1>{esc(data["name"])}</h1>
<div class="meta">{data["total_runs"]} runs · state: {esc(data["state"])} · generated {esc(data["generated"])}
(<span id="age">now</span>) · {esc(live)} · log: <code>{esc(data["source"])}</code></div>
{warnings}
<div class="controls">
<label>segment <select id="segment">{"".join(options)}</select></label>
<label><input type="checkbox" id="refresh"> auto-refresh every {refresh} s</label>
<span id="shown"></span>
</div>
{"".join(summary(seg) for seg in segments)}
{"".join(charts)}
{table(segments)}
<script type="application/json" id="report-data">{script_json(payload)}</script>
<script>{JS}</script>
</body></html>
"""
