"""The dashboard's chart: kept runs' labels inside the chart and off other runs' points; samples and the noise band
of the best behind the runs."""

import json
import re

from report_helpers import engine, noisy_project


def crowded(folder):
    folder.mkdir()
    engine(folder, "init", "--name", "crowded", "--metric-name", "ms", "--direction", "lower")
    value = 100.0
    for run in range(45):  # keeps next to discards at nearly the same height, the first at the very top
        status = "keep" if run % 3 == 0 else "discard"
        value = value - 1 if status == "keep" else value
        metric = value + (0.3 if run % 3 == 1 else -0.2 if run % 3 == 2 else 0)
        engine(folder, "log", "--no-pending", "--status", status, "--metric", str(metric),
               "--description", f"a fairly long description of idea {run}")
    engine(folder, "report", "--no-png")
    return (folder / "autoresearch.html").read_text(encoding="utf-8")


def test_kept_labels_stay_in_the_chart_and_off_other_points(tmp_path):
    from autoresearch_engine import report_html as chart

    page = crowded(tmp_path / "p")
    svg = page.split('<svg class="chart"', 1)[1].split("</svg>", 1)[0]
    markers = [(float(x), float(y)) for x, y in re.findall(r'<circle class="pt [^"]*" cx="([\d.]+)" cy="([\d.]+)"', svg)]
    labels = re.findall(r'<text class="klabel" x="([\d.]+)" y="([\d.]+)" text-anchor="(\w+)">([^<]*)</text>', svg)
    assert len(labels) >= 5 and "transform" not in svg.split('class="klabel"', 1)[1].split(">", 1)[0]
    plot = (chart.LEFT, chart.TOP, chart.WIDTH - chart.RIGHT, chart.HEIGHT - chart.BOTTOM)
    boxes = []
    for x, y, anchor, text in labels:
        x, y, width = float(x), float(y), len(text) * chart.GLYPH
        left = x if anchor == "start" else x - width
        box = (left, y - chart.LABEL_SIZE, left + width, y)
        assert plot[0] <= box[0] and box[2] <= plot[2] and plot[1] <= box[1] and box[3] <= plot[3], text
        assert not [m for m in markers if box[0] <= m[0] <= box[2] and box[1] <= m[1] <= box[3]], text
        assert not [b for b in boxes if box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]], text
        boxes.append(box)


def test_samples_and_the_noise_band_of_the_best_are_drawn(tmp_path):
    folder = noisy_project(tmp_path)
    (folder / "values.txt").write_text("100\n102\n98\n101\n99\n")
    assert json.loads(engine(folder, "run", "--json").stdout)["status"] == "keep"
    engine(folder, "log", "--description", "baseline")
    engine(folder, "report", "--no-png")
    svg = (folder / "autoresearch.html").read_text(encoding="utf-8").split('<svg class="chart"', 1)[1]
    assert svg.count('<circle class="smp"') == 5
    band = re.search(r'<rect class="band"[^>]*><title>noise of the best: 100 ± 2σ \(([\d.]+)\)</title>', svg)
    assert band and float(band.group(1)) > 0
