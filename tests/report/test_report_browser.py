"""The dashboard in a real headless Chromium: every run shown, no console error, no network request."""

import json
import os
import pytest

from chromium_cdp import CHROMIUM, Browser
from report_helpers import HOSTILE, engine

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"the dashboard tests drive a headless Chromium, and there is none at {CHROMIUM}: to run "
                                       "them, install it (Debian/Ubuntu: sudo apt-get install chromium, as .ci/run does)")


def png_colours(path):
    from matplotlib import image

    pixels = image.imread(str(path))
    return len({tuple(p) for p in pixels[::4, ::4, :3].reshape(-1, 3).round(3).tolist()})


@pytest.fixture
def dashboard(logged_session):
    folder, descriptions = logged_session
    engine(folder, "report", "--no-png")
    return folder / "autoresearch.html", descriptions


def test_dashboard_shows_every_run_without_errors_or_network(dashboard, tmp_path):
    page, descriptions = dashboard
    url = page.as_uri()
    with Browser() as browser:
        browser.open(url)
        rows = browser.evaluate("Array.from(document.querySelectorAll('#runs tbody tr')).map("
                                "r => [r.cells[0].textContent, r.cells[7].textContent, !r.hidden])")
        title = browser.evaluate("document.title")
        points = browser.evaluate("document.querySelectorAll('[data-view=all] .pt').length")
        shot = tmp_path / "dashboard.png"
        browser.screenshot(str(shot))
        errors, requests = browser.console_errors(), browser.requests()
    assert [int(run) for run, _, _ in rows] == list(range(1, len(descriptions) + 1))
    assert [text for _, text, _ in rows] == descriptions  # the hostile text is shown as text, not run
    assert all(visible for _, _, visible in rows)
    assert title == "autoresearch: make it fast, bigger input"
    assert points == len(descriptions)
    assert errors == []
    assert [u for u in requests if u != url] == []
    assert png_colours(shot) > 20  # a real rendering, not a blank page


def test_segment_selector_and_auto_refresh(logged_session):
    folder, descriptions = logged_session
    engine(folder, "report", "--no-png", "--refresh", "2")
    page = folder / "autoresearch.html"
    with Browser() as browser:
        browser.open(page.as_uri())
        options = browser.evaluate("Array.from(document.querySelectorAll('#segment option')).map(o => o.value)")
        assert options == ["all", "0", "1"]
        browser.evaluate("var s = document.getElementById('segment'); s.value = '1';"
                         "s.dispatchEvent(new Event('change'))")
        segments = browser.evaluate("Array.from(document.querySelectorAll('#runs tbody tr:not([hidden])'))"
                                    ".map(r => r.getAttribute('data-segment'))")
        charts = browser.evaluate("Array.from(document.querySelectorAll('.chartbox:not([hidden])'))"
                                  ".map(c => c.getAttribute('data-view'))")
        assert segments == ["1"] * (len(descriptions) // 2)
        assert charts == ["1"]
        assert browser.evaluate("location.hash") == "#segment=1&refresh=0"

        browser.evaluate("var b = document.getElementById('refresh'); b.checked = true;"
                         "b.dispatchEvent(new Event('change'))")
        assert browser.evaluate("location.hash") == "#segment=1&refresh=1"
        loads = browser.count("Page.loadEventFired")
        browser.wait_for("Page.loadEventFired", loads + 1, timeout=15)  # it reloads itself after 2 s
        browser.settle()
        assert browser.evaluate("document.getElementById('segment').value") == "1"  # the choice survives
        assert browser.evaluate("document.getElementById('refresh').checked") is True
        browser.evaluate("var b = document.getElementById('refresh'); b.checked = false;"
                         "b.dispatchEvent(new Event('change'))")
        loads = browser.count("Page.loadEventFired")
        browser.settle(4)
        assert browser.count("Page.loadEventFired") == loads  # unticked, it stays put
        assert browser.console_errors() == []


def test_the_detector_sees_console_errors_and_requests(tmp_path):
    """The checks above would pass vacuously if the harness could not see errors or requests."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                    '<script>console.error("boom")</script></body></html>')
    with Browser() as browser:
        browser.open(page.as_uri())
        browser.settle(1.0)
        errors, requests = browser.console_errors(), browser.requests()
    assert any("boom" in e for e in errors)
    assert "http://127.0.0.1:9/x.png" in requests


def test_the_detector_sees_loads_the_dashboard_policy_blocks(tmp_path):
    """The dashboard forbids loads by policy; a load it tried would still be seen."""
    page = tmp_path / "blocked.html"
    page.write_text('<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                    'content="default-src \'none\'; script-src \'unsafe-inline\'"></head><body>'
                    '<img src="http://127.0.0.1:9/x.png"><script>fetch("http://127.0.0.1:9/y")'
                    '.catch(function () {})</script></body></html>')
    with Browser() as browser:
        browser.open(page.as_uri())
        browser.settle(1.0)
        errors, requests = browser.console_errors(), browser.requests()
    assert any("127.0.0.1:9/x.png" in e for e in errors) and any("127.0.0.1:9/y" in e for e in errors)
    assert "http://127.0.0.1:9/x.png" in requests


def test_hostile_text_never_runs(dashboard):
    page, _ = dashboard
    html = page.read_text()
    assert HOSTILE not in html
    assert html.count("<script") == 2  # the data block and the page's own script, nothing injected
    with Browser() as browser:
        browser.open(page.as_uri())
        asi = browser.evaluate("document.querySelector('#runs details pre').textContent")
        assert json.loads(asi)["hypothesis"] == HOSTILE
        assert browser.evaluate("document.querySelectorAll('img').length") == 0
        assert browser.console_errors() == []


def test_the_docs_figures_can_be_made_again(tmp_path):
    import subprocess
    import sys

    from report_helpers import REPO
    from matplotlib import image

    script = os.path.join(REPO, "scripts", "make_docs_screenshots.py")
    result = subprocess.run([sys.executable, script, "--out", str(tmp_path), "--chromium", CHROMIUM],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(os.listdir(tmp_path)) == ["dashboard.png", "progress.png"]
    assert image.imread(str(tmp_path / "dashboard.png")).shape[:2] == (1400, 1400)
    assert png_colours(tmp_path / "progress.png") > 20 and png_colours(tmp_path / "dashboard.png") > 20


def test_kept_labels_are_drawn_inside_the_chart_and_off_other_points(tmp_path):
    from test_dashboard_chart import crowded

    page = tmp_path / "p" / "autoresearch.html"
    crowded(tmp_path / "p")
    with Browser() as browser:
        browser.open(page.as_uri())
        found = browser.evaluate("""(() => {
            const svg = document.querySelector('[data-view=all] svg.chart'), view = svg.viewBox.baseVal;
            const points = Array.from(svg.querySelectorAll('circle.pt')).map(c => [c.cx.baseVal.value, c.cy.baseVal.value]);
            return Array.from(svg.querySelectorAll('text.klabel')).map(t => {
                const b = t.getBBox();
                const inside = b.x >= view.x && b.y >= view.y && b.x + b.width <= view.x + view.width
                               && b.y + b.height <= view.y + view.height;
                const covered = points.filter(([x, y]) => x > b.x && x < b.x + b.width && y > b.y && y < b.y + b.height);
                return [t.textContent, inside, covered.length];
            });
        })()""")
    assert len(found) >= 5
    assert [f for f in found if not f[1] or f[2]] == []
