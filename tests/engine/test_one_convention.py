"""One sign convention and one reference for "vs best" in `run` and the dashboard, and the confidence shown only
beside the runs it says something about."""

import re

SEQUENCE = """#!/usr/bin/env bash
# each call prints the next value of values.txt: lucky first draws and their re-measurements, scripted
set -e
value=$(head -n 1 values.txt)
tail -n +2 values.txt > values.next && mv values.next values.txt
echo "METRIC score=$value"
"""


def scripted(session, *values):
    session.write("values.txt", "".join(f"{v}\n" for v in values))


def run_and_log(session, description):
    line = session.engine("run").stdout.strip().splitlines()[-1]
    logged = session.engine("log", "--description", description).stdout
    return line, logged


def dashboard_cells(session, run):
    session.engine("report", "--no-png")
    html = session.read("autoresearch.html")
    row = re.search(rf'<tr class="run[^"]*"[^>]*><td class="num">{run}</td>(.*?)</tr>', html).group(1)
    return re.findall(r'<td class="num">(.*?)</td>', row)  # metric, Δ best, confidence


def test_run_and_dashboard_give_the_same_signed_change_against_the_re_measured_best(session):
    # the scripted values are the samples in order: the unpaired rule takes a first draw, then re-measures
    session.write(".claude/autoresearch.local.md", "---\nkeep_rule: unpaired\n---\n")
    session.write("autoresearch.sh", SEQUENCE)
    with open(f"{session.path}/.git/info/exclude", "a") as handle:
        handle.write("values.txt\nvalues.next\n")
    session.commit("scripted benchmark")
    scripted(session, 100, 101, 99, 100, 100)
    run_and_log(session, "baseline")
    scripted(session, 50, 55, 55, 55, 55)  # a lucky first draw, then four re-measurements of the kept code
    session.commit("better")
    line, _ = run_and_log(session, "better")
    assert "keep" in line and "(-50.00% vs best 100 pt, lower is better)" in line
    scripted(session, 60)
    session.commit("worse")
    line, _ = run_and_log(session, "worse")
    # against the kept run's re-measured mean (55), as the keep rule compared it, not its first draw (50)
    assert "discard" in line and "(+9.09% vs best 55 pt, lower is better)" in line
    metric, delta, _ = dashboard_cells(session, 3)
    assert metric == "60" and delta == "+5 (+9.09%)"


def test_confidence_is_shown_beside_keeps_only(session):
    session.set_value(100)
    run_and_log(session, "baseline")
    for value, description in ((90, "better"), (120, "worse")):
        session.set_value(value)
        session.commit(description)
        run_and_log(session, description)
    session.engine("revert")
    session.set_value("not-a-number")
    session.commit("broken")
    _, crash_logged = run_and_log(session, "broken")
    session.engine("revert")
    session.set_value(80)
    session.commit("better again")
    _, keep_logged = run_and_log(session, "better again")
    by_run = {r["run"]: r for r in session.records()}
    assert by_run[4]["status"] == "crash" and by_run[4]["confidence"] is not None  # stored, as the seed's format
    assert "confidence=" not in crash_logged and "confidence=" in keep_logged
    assert dashboard_cells(session, 3)[2] == "—" and dashboard_cells(session, 4)[2] == "—"
    assert dashboard_cells(session, 5)[2] == f"{by_run[5]['confidence']:.2f}"
