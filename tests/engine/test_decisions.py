"""The noise-aware keep rule: its statistics, and the engine re-measuring, recording and flagging."""

import json
import math
import random

import pytest

from autoresearch_engine import decide, seedcheck

NOISY = """#!/usr/bin/env bash
python3 - <<'PY'
import random, os
count = int(open("../count").read()) if os.path.exists("../count") else 0
open("../count", "w").write(str(count + 1))
rng = random.Random(count)
level = float(open("value.txt").read())
print(f"METRIC score={level + rng.gauss(0, 1):.4f}")
PY
"""


def test_t_quantiles_match_tables():
    for dof, p, table in ((1, 0.975, 12.706), (2, 0.975, 4.303), (4, 0.99, 3.747), (10, 0.95, 1.812), (30, 0.975, 2.042)):
        assert decide.t_quantile(p, dof) == pytest.approx(table, abs=2e-3)


def test_noise_model_uses_only_repeats_of_the_same_code():
    # two runs of different code far apart: their difference is not noise
    noise = decide.noise_model([[10.0, 10.0, 10.0], [50.0], [20.0, 20.0]])
    assert noise.sigma == 0 and noise.dof == 3
    noise = decide.noise_model([[1.0, 3.0], [10.0, 12.0, 14.0]])
    # squares: (1+1) + (4+0+4) = 10 over dof 1 + 2 = 3
    assert noise.dof == 3 and noise.sigma == pytest.approx(math.sqrt(10 / 3))
    assert not decide.noise_model([[5.0], [6.0]]).known


def test_decide_verdicts():
    noise = decide.Noise(sigma=1.0, dof=10)
    base = [10.0] * 5
    clear = decide.decide([6.0], base, noise, "lower", 0.05, looks_left=4, max_looks=5)
    assert clear.verdict == "keep" and clear.statistic > clear.threshold
    worse = decide.decide([11.0], base, noise, "lower", 0.05, 4, 5)
    assert worse.verdict == "discard" and "not better" in worse.reason
    marginal = decide.decide([9.0], base, noise, "lower", 0.05, 4, 5)
    assert marginal.verdict == "confirm"
    out_of_budget = decide.decide([9.0], base, noise, "lower", 0.05, 0, 5)
    assert out_of_budget.verdict == "discard" and "not distinguishable" in out_of_budget.reason
    higher = decide.decide([14.0], base, noise, "higher", 0.05, 0, 5)
    assert higher.verdict == "keep"


def test_deterministic_and_unknown_noise_keep_any_strict_gain():
    base = [10.0, 10.0]
    exact = decide.decide([9.999], base, decide.Noise(0.0, 3), "lower", 0.05, 0, 5)
    assert exact.verdict == "keep" and "deterministic" in exact.reason
    same = decide.decide([10.0], base, decide.Noise(0.0, 3), "lower", 0.05, 0, 5)
    assert same.verdict == "discard"
    unknown = decide.decide([9.5], [10.0], decide.Noise(None, 0), "lower", 0.05, 0, 5)
    assert unknown.verdict == "keep" and "noise unknown" in unknown.reason


def test_rule_error_rates_in_simulation():
    """Monte Carlo of the rule itself (no engine): false keeps <= 5 %, 3-sigma effects kept >= 90 %."""
    rng = random.Random(7)

    def trial(effect):
        base = [rng.gauss(0, 1) for _ in range(5)]
        cand = [rng.gauss(-effect, 1)]
        for look in range(5):
            d = decide.decide(cand, base, decide.noise_model([base, cand]), "lower", 0.05, 4 - look, 5)
            if d.verdict != "confirm":
                return d.verdict == "keep"
            cand.append(rng.gauss(-effect, 1))
        return False

    false_keeps = sum(trial(0.0) for _ in range(1500)) / 1500
    true_keeps = sum(trial(3.0) for _ in range(1500)) / 1500
    assert false_keeps <= 0.05 and true_keeps >= 0.90


def test_engine_takes_baseline_repeats_and_records_samples(session):
    session.write("autoresearch.sh", NOISY)
    session.commit("noisy benchmark")
    result = json.loads(session.engine("run", "--json").stdout)
    assert len(result["samples"]) == 5 and result["status"] == "keep"
    assert result["metric"] == pytest.approx(sum(result["samples"]) / 5)
    assert result["run"] == 1 and run_log_samples(session) == 5
    session.engine("log", "--description", "baseline")
    record = session.records()[-1]
    assert record["samples"] == result["samples"] and record["decision"]["reason"] == "baseline of segment 0"
    assert session.status()["noise_dof"] == 4


def run_log_samples(project):
    return project.read("run.log").count("===== autoresearch: sample")


def test_marginal_winner_is_measured_again_and_a_clear_loser_is_not(session):
    session.write("autoresearch.sh", NOISY)
    session.commit("noisy benchmark")
    session.engine("run")
    session.engine("log", "--description", "baseline")
    session.set_value(100.8)  # worse: one sample is enough to discard in most draws
    session.commit("worse")
    worse = json.loads(session.engine("run", "--json").stdout)
    assert worse["status"] == "discard"
    session.engine("log", "--description", "worse")
    session.engine("revert")
    session.set_value(99.3)  # a small gain: marginal, so confirmation samples are taken
    session.commit("small gain")
    small = json.loads(session.engine("run", "--json", "--rule", "unpaired").stdout)
    assert len(small["samples"]) > 1 and small["best_samples"] is None
    assert small["decision"]["looks"] == len(small["samples"])
    assert small["decision"]["statistic"] is not None and small["decision"]["threshold"] is not None
    session.engine("log", "--description", "small gain")
    record = session.records()[-1]
    assert record["samples"] == small["samples"] and record["decision"]["verdict"] == small["status"]


def test_paired_rule_measures_the_best_next_to_the_candidate(session):
    session.write("autoresearch.sh", NOISY)
    baseline = session.commit("noisy benchmark")
    session.engine("run")
    session.engine("log", "--description", "baseline")
    session.set_value(96)  # 4 sigma better: it survives the first look, then is measured in pairs
    session.commit("clear gain")
    result = json.loads(session.engine("run", "--json").stdout)
    # the first sample (picked for beating the best's recent samples) is left out of the pairs
    assert result["best_commit"] == baseline and len(result["best_samples"]) == len(result["samples"]) - 1 >= 2
    assert result["decision"]["pairs"] == len(result["best_samples"]) and "pairs" in result["reason"]
    # the best's samples were taken with the best's files in place: value 100, not 96
    assert sum(result["best_samples"]) / len(result["best_samples"]) > 98 > sum(result["samples"]) / len(result["samples"])
    assert session.read("value.txt") == "96\n" and session.git("status", "--porcelain", "--untracked-files=no") == ""
    log = session.read("run.log")
    assert f"(best {baseline}), AUTORESEARCH_REPEAT=1" in log and "(candidate), AUTORESEARCH_REPEAT=2" in log


def test_strict_rule_and_repeat_option(session):
    session.write("autoresearch.sh", NOISY)
    session.commit("noisy benchmark")
    result = json.loads(session.engine("run", "--json", "--rule", "strict", "--repeat", "2").stdout)
    assert len(result["samples"]) == 2 and result["decision"]["rule"] == "strict"


def test_override_is_recorded(session):
    session.engine("run")
    session.engine("log", "--description", "baseline")
    session.set_value(100)
    session.commit("simpler code, same score")
    session.engine("run")
    session.engine("log", "--status", "keep", "--description", "simpler")
    decision = session.records()[-1]["decision"]
    assert decision["verdict"] == "discard" and decision["overridden_by"] == "keep"


def test_seed_only_change_is_flagged(session):
    session.write("train.py", "import random\nSEED = 42\nrandom.seed(SEED)\nlr = 0.1\n")
    # the score depends on the seed alone, as a lucky draw would: 42 -> 42, 137 -> 37
    session.write("autoresearch.sh", "echo \"METRIC score=$(( $(sed -n 's/^SEED = //p' train.py) % 100 ))\"\n")
    session.commit("training script")
    session.engine("run")
    session.engine("log", "--description", "baseline")
    session.write("train.py", "import random\nSEED = 137\nrandom.seed(SEED)\nlr = 0.1\n")
    session.git("add", "train.py")
    session.git("commit", "-q", "-m", "seed 42 -> 137")
    result = json.loads(session.engine("run", "--json").stdout)
    assert result["status"] == "keep" and result["flags"] == ["seed_only"] and "random seed" in result["reason"]
    session.engine("log", "--description", "seed 137")
    assert session.records()[-1]["flags"] == ["seed_only"]
    assert "only changes a random seed" in session.engine("status").stdout
    assert session.status()["seed_only_keeps"] == [2]


def test_seedcheck_ignores_real_changes():
    diff = "+++ b/train.py\n@@ -3 +3 @@\n-lr = 0.1\n+lr = 0.2\n"
    assert seedcheck.changed_line_pairs(diff) == [("train.py", "lr = 0.1", "lr = 0.2")]
    assert seedcheck.changed_line_pairs("+++ b/a.py\n@@ -1,0 +1 @@\n+x = 1\n") is None
