"""The token-budget mode: the first run calibrates the tokens that fit in the time budget, and every
later run trains exactly that many, whatever the speed of the machine at the time."""

import json
import re

from ml_helpers import TINY_FLAGS, run_prepare
from test_ml_train import run_train


def summary(out, key):
    return float(re.search(rf"^{key}:\s+(\S+)$", out, re.M).group(1))


def test_token_budget_is_calibrated_once_then_fixed(tmp_path, tiny_corpus):
    cache = tmp_path / "cache"
    prepared = run_prepare(cache, "--source", "local", "--path", tiny_corpus, *TINY_FLAGS, "--budget", "tokens")
    assert "token budget calibrated by the first run" in prepared.stdout
    protocol = json.loads((cache / "protocol.json").read_text())
    assert protocol["budget_mode"] == "tokens" and "token_budget" not in protocol

    first = run_train(tmp_path, cache)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Budget: calibrating" in first.stdout
    calibrated = json.loads((cache / "protocol.json").read_text())["token_budget"]
    steps = summary(first.stdout, "num_steps")
    assert calibrated == steps * 2**12  # the cpu profile's TOTAL_BATCH_SIZE

    # a slower machine (or a slower change) still trains the same tokens, not fewer: each step
    # half as slow again as this machine's, under the guard that fails a run needing twice the time
    delay = 0.5 * summary(first.stdout, "step_ms_median") / 1000
    slow = run_train(tmp_path, cache, edit=[("def sync():", f"def sync():\n    time.sleep({delay:.4f})")])
    assert slow.returncode == 0, slow.stdout + slow.stderr
    assert f"Budget: {calibrated:,} tokens (calibrated" in slow.stdout
    assert summary(slow.stdout, "num_steps") == steps
    assert json.loads((cache / "protocol.json").read_text())["token_budget"] == calibrated
    metrics = dict(re.findall(r"^METRIC (\w+)=(\S+)$", slow.stdout, re.M))
    assert round(float(metrics["total_tokens_M"]) * 1e6) == calibrated

    # at equal tokens a repeat of the same code gives the same val_bpb; another repeat index, another
    # seed and data window, gives another: the spread that the engine's noise model must see
    again = run_train(tmp_path, cache, env_extra={"AUTORESEARCH_REPEAT": "0"})
    other = run_train(tmp_path, cache, env_extra={"AUTORESEARCH_REPEAT": "1"})
    assert again.returncode == 0 and other.returncode == 0, again.stdout + other.stdout
    assert summary(again.stdout, "val_bpb") == summary(slow.stdout, "val_bpb")
    assert summary(other.stdout, "val_bpb") != summary(slow.stdout, "val_bpb")


def test_budget_mode_is_part_of_the_protocol(tmp_path, tiny_corpus):
    cache = tmp_path / "cache"
    run_prepare(cache, "--source", "local", "--path", tiny_corpus, *TINY_FLAGS)
    other = run_prepare(cache, "--source", "local", "--path", tiny_corpus, *TINY_FLAGS, "--budget", "tokens",
                        check=False)
    assert other.returncode != 0 and "budget_mode" in other.stderr and "--force" in other.stderr
