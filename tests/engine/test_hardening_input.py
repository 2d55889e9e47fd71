"""Hostile input to the engine: absurd numbers, absurd segments, negative counts, deep JSON, seed-script flags."""

import json
import os
import subprocess
import sys

import pytest

from engine_helpers import ENGINE, SCRIPTS

HUGE_INT = "9" * 400
READERS = [("status",), ("status", "--json"), ("resume",), ("confidence", "--json"), ("report", "--json"),
           ("report",)]


def one_sentence(result):
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr.replace("error:", "")
    assert result.returncode in (0, 1, 2), result.stderr
    return result


def append_raw(session, *lines):
    with open(os.path.join(session.path, "autoresearch.jsonl"), "a", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")


def experiment_line(run, metric, segment=0, **extra):
    fields = {"run": run, "commit": "abc1234", "metric": "@", "metrics": {}, "status": "keep",
              "description": f"run {run}", "timestamp": 1700000000, "segment": segment, "confidence": None}
    fields.update(extra)
    return json.dumps(fields).replace('"@"', metric)


# ---- absurd numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [HUGE_INT, "1e300", "-1e300", "1e308", "1e400", "inf"])
def test_an_absurd_metric_from_the_benchmark_is_a_crash_with_a_reason(session, value):
    session.write("autoresearch.sh", f"echo METRIC score={value}\necho METRIC size_kb=12.5\n")
    session.commit("absurd")
    result = one_sentence(session.engine("run", "--json", check=False))
    assert result.returncode == 0
    pending = json.loads(result.stdout)
    assert pending["status"] == "crash" and "score" in pending["reason"]
    one_sentence(session.engine("log", "--description", "absurd", check=False))


@pytest.mark.parametrize("value", [HUGE_INT, "1e300", "1e308"])
def test_an_absurd_secondary_metric_is_left_out(session, value):
    session.write("autoresearch.sh", f"echo METRIC score=5\necho METRIC big={value}\n")
    session.commit("absurd secondary")
    result = one_sentence(session.engine("run", "--json", check=False))
    assert result.returncode == 0
    pending = json.loads(result.stdout)
    assert pending["metric"] == 5 and "big" not in pending["metrics"]


@pytest.mark.parametrize("flag", ["--metric", "--confidence"])
@pytest.mark.parametrize("value", [HUGE_INT, "1e300", "-1e200", "1e400"])
def test_log_refuses_absurd_numbers(session, flag, value):
    before = session.log_bytes()
    args = ["log", "--status", "keep", "--description", "x", "--metric", "5", flag, value]
    result = one_sentence(session.engine(*args, check=False))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and flag in result.stderr
    assert session.log_bytes() == before


def test_log_refuses_absurd_secondary_metrics(session):
    before = session.log_bytes()
    result = one_sentence(session.engine("log", "--status", "keep", "--description", "x", "--metric", "5",
                                         "--metrics", '{"big": %s}' % HUGE_INT, check=False))
    assert result.returncode == 2 and session.log_bytes() == before


@pytest.mark.parametrize("value", [HUGE_INT, "1e300", "1e400", "-1e308"])
def test_metrics_command_refuses_absurd_numbers(value):
    for args in (["metrics"], ["metrics", "score"]):
        result = one_sentence(subprocess.run([sys.executable, ENGINE, *args], input=f"METRIC score={value}\n",
                                             capture_output=True, text=True))
        assert result.returncode in (0, 1)
        assert "score" in result.stderr


@pytest.mark.parametrize("metric", [HUGE_INT, "-" + HUGE_INT, "1e300", "-1e300", "1e308", "1e400", "5e-324"])
def test_readers_survive_absurd_numbers_already_in_the_log(session, metric):
    append_raw(session,
               experiment_line(1, "100", samples=[100, 101, 99]),
               experiment_line(2, metric, samples=[1e300, -1e300], confidence=1e300, metrics={"big": 1e308},
                               timestamp=1e300),
               experiment_line(3, metric, status="discard", samples=["__HUGE__", 1]),
               experiment_line(4, "90", confidence="__HUGE__", reference_samples=[1e-320, 5e-324]),
               experiment_line(5, "80", timestamp="__HUGE__", duration_s=1e308))
    text = session.read("autoresearch.jsonl").replace('"__HUGE__"', HUGE_INT)
    with open(os.path.join(session.path, "autoresearch.jsonl"), "w", encoding="utf-8") as handle:
        handle.write(text)
    for args in READERS:
        one_sentence(session.engine(*args, check=False))
    session.set_value(85)
    session.commit("next")
    one_sentence(session.engine("run", check=False))
    one_sentence(session.engine("log", "--description", "after the absurd ones", check=False))
    for event in ("stop", "session_start"):
        payload = json.dumps({"cwd": session.path, "source": "compact", "stop_hook_active": False})
        hook = subprocess.run(["bash", os.path.join(SCRIPTS, "..", "..", "..", "hooks", "run-hook.sh"), event],
                              input=payload, cwd=session.path, capture_output=True, text=True)
        assert hook.returncode == 0 and "Traceback" not in hook.stderr, hook.stderr


# ---- segments -----------------------------------------------------------------------------------

@pytest.mark.parametrize("segment", ["100000000", "1", "5", HUGE_INT])
def test_log_refuses_a_segment_that_does_not_exist(session, segment):
    before = session.log_bytes()
    result = one_sentence(session.engine("log", "--status", "keep", "--metric", "1", "--description", "x",
                                         "--segment", segment, check=False))
    assert result.returncode == 2 and "--segment" in result.stderr and result.stderr.count("\n") == 1
    assert session.log_bytes() == before
    session.engine("status", timeout=20)


def test_readers_stay_quick_with_a_huge_segment_already_in_the_log(session):
    append_raw(session, experiment_line(1, "100", segment=10 ** 12),
               '{"type":"config","name":"far","metricName":"score","metricUnit":"","bestDirection":"lower",'
               '"segment":100000000000000}')
    for args in READERS + [("log", "--status", "keep", "--metric", "1", "--description", "x")]:
        one_sentence(session.engine(*args, check=False, timeout=20))


# ---- counts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [("status", "--last", "-3"), ("resume", "--last", "-2"), ("status", "--last=-1")])
def test_negative_counts_are_refused(session, args):
    result = one_sentence(session.engine(*args, check=False))
    assert result.returncode == 2 and "--last" in result.stderr


# ---- deep JSON ------------------------------------------------------------------------------------

def test_deeply_nested_json_is_refused_or_skipped_not_a_traceback(session):
    deep = "[" * 20000 + "]" * 20000
    for flag in ("--asi", "--metrics"):
        result = one_sentence(session.engine("log", "--status", "keep", "--metric", "1", "--description", "x",
                                             flag, '{"a": %s}' % deep, check=False))
        assert result.returncode == 2 and flag in result.stderr
    append_raw(session, '{"run": 1, "asi": %s}' % deep)
    for args in READERS:
        one_sentence(session.engine(*args, check=False))
    with open(os.path.join(session.path, "autoresearch.pending.json"), "w") as handle:
        handle.write(deep)
    one_sentence(session.engine("log", "--description", "x", check=False))


# ---- the seed's scripts ---------------------------------------------------------------------------

LOG_EXPERIMENT = os.path.join(SCRIPTS, "log-experiment.sh")
PARSE_METRICS = os.path.join(SCRIPTS, "parse-metrics.sh")


def test_log_experiment_takes_a_flag_like_description_as_the_description(session):
    for description in ("--config", "--new-segment"):
        result = subprocess.run(["bash", LOG_EXPERIMENT, "--status", "discard", "--metric", "3", "--commit",
                                 "abc1234", "--description", description], cwd=session.path, capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stderr
        assert session.records()[-1]["description"] == description
    assert len(session.records("config")) == 1


def test_a_run_number_is_never_written_twice(session):
    args = ["bash", LOG_EXPERIMENT, "--run", "1", "--status", "discard", "--metric", "3", "--commit", "abc1234",
            "--description", "first"]
    assert subprocess.run(args, cwd=session.path, capture_output=True).returncode == 0
    again = subprocess.run(args, cwd=session.path, capture_output=True, text=True)
    assert again.returncode == 2 and "--run" in again.stderr and "Traceback" not in again.stderr
    assert [r["run"] for r in session.records()] == [1]
    session.engine("log", "--status", "discard", "--metric", "3", "--description", "next")
    assert [r["run"] for r in session.records()] == [1, 2]


@pytest.mark.parametrize("written", ["0.997900", "4230", "1.50e-3", "-0.0", "7.0"])
def test_parse_metrics_prints_the_value_as_the_benchmark_wrote_it(written):
    text = f"noise\nMETRIC val_bpb={written}\n"
    one = subprocess.run(["bash", PARSE_METRICS, "val_bpb"], input=text, capture_output=True, text=True)
    assert one.returncode == 0 and one.stdout == f"{written}\n"
    every = subprocess.run(["bash", PARSE_METRICS], input=text, capture_output=True, text=True)
    assert every.stdout == f"val_bpb={written}\n"
