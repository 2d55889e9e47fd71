"""The seed's own example invocations through the compatibility scripts, and the MAD confidence."""

import json
import os
import subprocess

import pytest

from autoresearch_engine import stats
from engine_helpers import SCRIPTS

LOG = os.path.join(SCRIPTS, "log-experiment.sh")
PARSE = os.path.join(SCRIPTS, "parse-metrics.sh")


def sh(cwd, *args, input=None):
    return subprocess.run(["bash", *args], cwd=cwd, input=input, capture_output=True, text=True)


def test_seed_examples_through_log_experiment(tmp_path):
    config = sh(tmp_path, LOG, "--config", "--name", "Optimize tests", "--metric-name", "total_ms",
                "--metric-unit", "ms", "--direction", "lower")
    assert config.returncode == 0, config.stderr
    result = sh(tmp_path, LOG, "--run", "5", "--commit", "abc1234", "--metric", "4230", "--status", "keep",
                "--description", "parallelized test suites", "--metrics", '{"compile_ms":1200,"memory_mb":512}',
                "--segment", "0", "--confidence", "2.3", "--asi", '{"hypothesis":"parallel tests reduce wall time"}')
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Logged: #5 keep | metric=4230")
    lines = [json.loads(l) for l in (tmp_path / "autoresearch.jsonl").read_text().splitlines()]
    assert lines[0] == {"type": "config", "name": "Optimize tests", "metricName": "total_ms", "metricUnit": "ms",
                        "bestDirection": "lower", "timestamp": lines[0]["timestamp"], "segment": 0}
    record = lines[-1]
    assert {k: record[k] for k in ("run", "commit", "metric", "status", "segment", "confidence")} == {
        "run": 5, "commit": "abc1234", "metric": 4230, "status": "keep", "segment": 0, "confidence": 2.3}
    assert record["metrics"] == {"compile_ms": 1200, "memory_mb": 512}
    assert record["asi"] == {"hypothesis": "parallel tests reduce wall time"}


def test_seed_script_inherits_validation(tmp_path):
    sh(tmp_path, LOG, "--config", "--name", "n", "--metric-name", "m", "--metric-unit", "ms", "--direction", "lower")
    before = (tmp_path / "autoresearch.jsonl").read_bytes()
    for args in (["--metric", "abc"], ["--metric", "1", "--asi", "{broken"], ["--metric", "1", "--metrics", '{"a": "x"}'],
                 ["--metric", "nan"]):
        result = sh(tmp_path, LOG, "--run", "1", "--commit", "abc", "--status", "keep", "--description", 'say "hi"', *args)
        assert result.returncode != 0 and "error" in result.stderr
    assert (tmp_path / "autoresearch.jsonl").read_bytes() == before
    bad = sh(tmp_path, LOG, "--config", "--name", "n", "--metric-name", "m", "--metric-unit", "ms", "--direction", "up")
    assert bad.returncode != 0 and (tmp_path / "autoresearch.jsonl").read_bytes() == before


def test_seed_file_option_and_new_segment(tmp_path):
    for _ in range(2):
        sh(tmp_path, LOG, "--config", "--name", "n", "--metric-name", "m", "--metric-unit", "", "--direction", "higher",
           "--file", "other.jsonl")
    result = sh(tmp_path, LOG, "--run", "1", "--commit", "c0ffee1", "--metric", "3", "--status", "keep",
                "--description", "d", "--file", "other.jsonl")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(l) for l in (tmp_path / "other.jsonl").read_text().splitlines()]
    assert [l.get("segment") for l in lines if l.get("type") == "config"] == [0, 1]
    assert lines[-1]["segment"] == 1


def test_parse_metrics_like_the_seed(tmp_path):
    output = "building\nMETRIC total_ms=4230\nMETRIC memory_mb=512  # secondary\nnot METRIC x=1\nMETRIC total_ms=4100\n"
    all_lines = sh(tmp_path, PARSE, input=output)
    assert all_lines.returncode == 0 and all_lines.stdout == "total_ms=4230\nmemory_mb=512\ntotal_ms=4100\n"
    one = sh(tmp_path, PARSE, "memory_mb", input=output)
    assert one.returncode == 0 and one.stdout == "512\n"
    missing = sh(tmp_path, PARSE, "nope", input=output)
    assert missing.returncode == 1 and "METRIC nope is missing" in missing.stderr
    nan = sh(tmp_path, PARSE, "loss", input="METRIC loss=nan\n")
    assert nan.returncode == 1 and nan.stdout == ""


def test_mad_confidence():
    assert stats.mad_confidence([10, 9], 10, 9) is None  # under 3 runs
    assert stats.mad_confidence([10, 10, 10, 9], 10, 9) is None  # MAD 0: no division
    # metrics 10, 9, 11, 8 -> median 9.5, deviations .5 .5 1.5 1.5 -> MAD 1.0; |8 - 10| / 1 = 2
    assert stats.mad_confidence([10, 9, 11, 8], 10, 8) == pytest.approx(2.0)
    assert stats.mad_confidence([1.0, float("nan"), 2.0, 4.0], 1.0, 4.0) == pytest.approx(3.0)


def test_confidence_command_and_recorded_confidence(session):
    values = [100, 96, 104, 90]
    for i, value in enumerate(values):
        session.set_value(value)
        session.commit(f"v{value}")
        session.engine("run")
        session.engine("log", "--description", f"value {value}")
        if session.records()[-1]["status"] != "keep":
            session.engine("revert")
    records = session.records()
    assert [r["confidence"] for r in records[:2]] == [None, None]
    # after 4 runs: metrics 100 96 104 90 -> median 98, |dev| 2 2 6 8 -> MAD 4; |90 - 100| / 4 = 2.5
    assert records[-1]["confidence"] == pytest.approx(2.5)
    assert session.engine("confidence").stdout.strip() == "2.5"
    data = json.loads(session.engine("confidence", "--json").stdout)
    assert data == {"confidence": 2.5, "segment": 0, "baseline": 100, "best": 90, "samples": 4}
