"""`autoresearch report`: progress.png, the dashboard's content and safety, errors, and --watch."""

import html.parser
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from report_helpers import ENGINE, HOSTILE, engine


class Page(html.parser.HTMLParser):
    """The parts of the dashboard a test needs: tags seen, table rows, and the data block."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.rows, self.data, self._cell, self._row, self._in = [], [], None, None, None, None
        self.attributes, self.code = set(), ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)
        attrs = dict(attrs)
        if tag == "tr" and "data-segment" in attrs:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""
        elif tag == "script":
            self._in = attrs.get("id")

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "script":
            self._in = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._in == "report-data":
            self.data = json.loads(data)
        elif self.tags and self.tags[-1] in ("style", "script"):
            self.code += data


def test_png_shows_the_runs(logged_session):
    from matplotlib import image

    folder, descriptions = logged_session
    before = set(os.listdir(folder))
    result = engine(folder, "report")
    assert "progress.png" in result.stdout and "autoresearch.html (30 runs)" in result.stdout
    pixels = image.imread(str(folder / "progress.png"))
    assert pixels.shape[0] > 600 and pixels.shape[1] > 1200
    rgb = (pixels[:, :, :3] * 255).round().astype(int)

    def near(colour):
        target = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
        return int((abs(rgb - target).sum(axis=2) < 40).sum())

    assert near("#1a9850") > 200  # kept runs and the running best
    assert near("#9e9e9e") > 50  # discarded runs
    assert near("#d73027") > 20  # crashes
    assert near("#f28e2b") > 10  # checks failed
    assert near("#4575b4") > 50  # the baseline
    written = set(os.listdir(folder)) - before
    assert written == {"autoresearch.html", "progress.png"}  # and no temporary file left behind


def test_without_matplotlib_the_html_is_written_and_the_hint_given(logged_session):
    folder, _ = logged_session
    # -S leaves site-packages (and so matplotlib) out: the engine itself needs only the standard library
    probe = subprocess.run([sys.executable, "-S", "-c", "import matplotlib"], capture_output=True)
    assert probe.returncode != 0
    result = subprocess.run([sys.executable, "-S", ENGINE, "report"], cwd=folder, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install matplotlib" in result.stderr
    assert (folder / "autoresearch.html").exists() and not (folder / "progress.png").exists()
    assert "Traceback" not in result.stderr


def test_dashboard_holds_every_run_with_user_text_escaped(logged_session):
    folder, descriptions = logged_session
    engine(folder, "report", "--no-png")
    text = (folder / "autoresearch.html").read_text(encoding="utf-8")
    page = Page(text)
    assert [row[7] for row in page.rows] == descriptions
    assert [int(row[0]) for row in page.rows] == list(range(1, 31))
    assert [row[2] for row in page.rows][:6] == ["keep", "discard", "crash", "keep", "checks_failed", "discard"]
    assert page.rows[1][4] != "—" and page.rows[2][3] == "—"  # a delta to the best; a crash has no metric
    assert HOSTILE not in text and "img" not in page.tags
    assert page.tags.count("script") == 2
    runs = [run for seg in page.data["segments"] for run in seg["runs"]]
    assert [run["description"] for run in runs] == descriptions
    assert runs[0]["asi"]["hypothesis"] == HOSTILE
    assert not page.attributes & {"src", "href", "xlink:href", "srcset", "action", "data", "poster"}
    assert page.code and not any(token in page.code for token in ("http", "//", "@import", "url(", "fetch", "XMLHttp"))


def test_running_best_and_delta(tmp_path):
    from autoresearch_engine import jsonlog, report, session

    folder = tmp_path / "p"
    folder.mkdir()
    for args in (["init", "--name", "n", "--metric-name", "score", "--direction", "higher"],
                 ["log", "--no-pending", "--status", "keep", "--metric", "10", "--description", "base"],
                 ["log", "--no-pending", "--status", "discard", "--metric", "9", "--description", "worse"],
                 ["log", "--no-pending", "--status", "keep", "--metric", "12", "--description", "better"],
                 ["log", "--no-pending", "--status", "crash", "--description", "broke"],
                 ["log", "--no-pending", "--status", "keep", "--metric", "15", "--description", "best"]):
        engine(folder, *args)
    data = report.build(session.load(jsonlog.read_log(str(folder / "autoresearch.jsonl"))), "log")
    runs = data["segments"][0]["runs"]
    assert [r["running_best"] for r in runs] == [10, 10, 12, 12, 15]
    assert [r["delta"] for r in runs] == [-5, -6, -3, None, 0]
    assert [r["is_best"] for r in runs] == [False, False, False, False, True]


def test_errors_are_one_sentence_and_write_nothing(tmp_path):
    result = engine(tmp_path, "report", check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "nothing to report" in result.stderr
    assert os.listdir(tmp_path) == []
    result = engine(tmp_path, "report", "--out", str(tmp_path / "missing"), check=False)
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_out_folder(logged_session, tmp_path):
    folder, _ = logged_session
    out = tmp_path / "out"
    out.mkdir()
    engine(folder, "report", "--out", str(out))
    assert sorted(os.listdir(out)) == ["autoresearch.html", "progress.png"]
    assert not (folder / "autoresearch.html").exists()


def test_help_explains_the_options():
    out = engine(".", "report", "--help").stdout
    for text in ("--watch", "--out", "--no-png", "--refresh", "--interval", "pip install matplotlib", "auto-refresh"):
        assert text in out


def _wait(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_watch_rewrites_the_dashboard_until_interrupted(logged_session):
    folder, _ = logged_session
    page = folder / "autoresearch.html"
    before = set(os.listdir(folder))
    watcher = subprocess.Popen([sys.executable, ENGINE, "report", "--watch", "--interval", "0.2", "--no-png"],
                               cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait(page.exists)
        first = Page(page.read_text(encoding="utf-8"))
        assert first.data["watching"] is True and len(first.rows) == 30
        engine(folder, "log", "--no-pending", "--status", "discard", "--metric", "500",
               "--description", "a run logged while watching")
        assert _wait(lambda: "a run logged while watching" in page.read_text(encoding="utf-8"))
        assert len(Page(page.read_text(encoding="utf-8")).rows) == 31
    finally:
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    assert "stopped watching" in out and "Traceback" not in err
    assert set(os.listdir(folder)) - before == {"autoresearch.html"}


@pytest.mark.parametrize("runs", [1, 3])
def test_small_sessions(tmp_path, runs):
    """A session with only a baseline, or a few runs, still makes both files."""
    from report_helpers import write_session

    write_session(tmp_path, runs=runs, segments=1)
    engine(tmp_path, "report")
    assert len(Page((tmp_path / "autoresearch.html").read_text(encoding="utf-8")).rows) == runs
    assert (tmp_path / "progress.png").stat().st_size > 10_000
