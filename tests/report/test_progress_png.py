"""progress.png: a kept run's label never covers another run's point, and the samples and the noise band of the
best are drawn behind the runs."""

import json
import os

import pytest

from report_helpers import engine, git, noisy_project

pytest.importorskip("matplotlib", reason="progress.png needs matplotlib: to run these tests, install it "
                                         "(pip install matplotlib)")


def figure_of(folder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import patheffects
    from autoresearch_engine import jsonlog, report, session

    data = report.build(session.load(jsonlog.read_log(os.path.join(str(folder), "autoresearch.jsonl"))), "log")
    figure = report._draw(plt, patheffects.withStroke(linewidth=2.5, foreground="white"), data)
    return figure, data


def test_kept_labels_cover_no_other_run(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    engine(folder, "init", "--name", "crowded", "--metric-name", "ms", "--direction", "lower")
    value = 100.0
    for run in range(60):  # keeps right next to discards at nearly the same height
        status = "keep" if run % 3 == 0 else "discard"
        value = value - 1 if status == "keep" else value
        metric = value + (0.3 if run % 3 == 1 else -0.2 if run % 3 == 2 else 0)
        engine(folder, "log", "--no-pending", "--status", status, "--metric", str(metric),
               "--description", f"a fairly long description of idea number {run}")
    figure, data = figure_of(folder)
    axes = figure.axes[0]
    renderer = figure.canvas.get_renderer()
    markers = [axes.transData.transform((run["run"], run["metric"])) for run in data["segments"][0]["runs"]]
    labels = [text for text in axes.texts if text.get_text().startswith("a fairly long")]
    assert len(labels) >= 5
    for label in labels:
        box = label.get_window_extent(renderer)
        own = axes.transData.transform(label.xy)
        inside = [m for m in markers if box.x0 <= m[0] <= box.x1 and box.y0 <= m[1] <= box.y1
                  and (abs(m[0] - own[0]) > 0.5 or abs(m[1] - own[1]) > 0.5)]
        assert not inside, f"{label.get_text()!r} covers a run"
        assert axes.bbox.x0 <= box.x0 and box.x1 <= axes.bbox.x1 and axes.bbox.y0 <= box.y0 and box.y1 <= axes.bbox.y1
    for one, other in zip(labels, labels[1:]):
        assert not one.get_window_extent(renderer).overlaps(other.get_window_extent(renderer))


def test_samples_and_the_noise_band_of_the_best_are_drawn(tmp_path):
    folder = noisy_project(tmp_path)
    for description, values in (("baseline", [100, 102, 98, 101, 99]), ("better", [80, 81, 79, 80, 82])):
        (folder / "values.txt").write_text("".join(f"{v}\n" for v in values))
        git(folder, "commit", "-q", "--allow-empty", "-m", description)
        # the scripted values are the samples in order: the unpaired rule takes them all for the run itself
        assert json.loads(engine(folder, "run", "--json", "--rule", "unpaired").stdout)["status"] == "keep"
        engine(folder, "log", "--description", description)
    figure, data = figure_of(folder)
    axes = figure.axes[0]
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert "samples" in legend and "noise of the best (±2σ)" in legend
    sigma = data["segments"][0]["noise_sigma"]
    assert sigma and len(data["segments"][0]["runs"][1]["samples"]) == 5
    bands = [c for c in axes.collections if type(c).__name__ in ("PolyCollection", "FillBetweenPolyCollection")]
    top = max(path.vertices[:, 1].max() for band in bands for path in band.get_paths())
    assert top == pytest.approx(data["segments"][0]["runs"][0]["reference"] + 2 * sigma)
