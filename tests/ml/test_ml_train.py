"""train.py as a real subprocess on the CPU against the tiny prepared dataset."""

import math
import os
import re
import shutil
import subprocess
import sys

import pytest

from ml_helpers import ASSETS, TEMPLATE_CODE

SUMMARY_KEYS = ["val_bpb", "training_seconds", "total_seconds", "peak_vram_mb", "mfu_percent",
                "total_tokens_M", "num_steps", "num_params_M", "depth"]


def run_train(tmp_path, cache, edit=(), timeout=240, env_extra=None):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    for name in TEMPLATE_CODE:
        shutil.copy(os.path.join(ASSETS, name), work / name)
    edit = list(edit)
    if not any(a == 'DEVICE = "auto"' for a, _ in edit):
        edit.append(('DEVICE = "auto"', 'DEVICE = "cpu"'))  # the CPU path, also on a machine with a GPU
    if edit:
        src = (work / "train.py").read_text()
        for a, b in edit:
            assert a in src
            src = src.replace(a, b)
        (work / "train.py").write_text(src)
    # one CPU thread: on a busy machine torch's thread pool makes a step of the tiny model ~10x slower
    env = {**os.environ, "AUTORESEARCH_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           **(env_extra or {})}
    return subprocess.run([sys.executable, "train.py"], cwd=work, env=env, capture_output=True, text=True, timeout=timeout)


def test_cpu_training_run_prints_summary_and_metrics(tmp_path, tiny_cache):
    proc = run_train(tmp_path, tiny_cache)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "\n---\n" in out
    values = {}
    for key in SUMMARY_KEYS:
        m = re.search(rf"^{key}:\s+(\S+)$", out, re.M)
        assert m, f"summary line {key}: missing"
        values[key] = float(m.group(1))
    assert math.isfinite(values["val_bpb"]) and 0 < values["val_bpb"] < 20
    assert values["training_seconds"] >= 3  # the protocol's time budget
    assert values["num_steps"] >= 1 and values["depth"] == 2
    metrics = dict(re.findall(r"^METRIC (\w+)=(\S+)", out, re.M))
    assert float(metrics["val_bpb"]) == values["val_bpb"]
    # the held-out test split is evaluated in the same run, after val, and handed over as a METRIC
    assert math.isfinite(float(metrics["test_bpb"])) and 0 < float(metrics["test_bpb"]) < 20
    assert float(metrics["test_bpb"]) != values["val_bpb"]
    assert out.index("METRIC val_bpb=") < out.index("METRIC test_bpb=")
    for key in ("training_seconds", "peak_vram_mb", "num_steps", "step_ms_median"):
        assert key in metrics
    assert re.search(r"^fast_path: +none$", out, re.M)  # no kernels on the CPU: every layer runs as written
    assert re.search(r"^step 00000 .*dt: [\d.]+ms", out, re.M)  # per-step timing
    assert re.search(r"^step_p90_over_median: [\d.]+$", out, re.M)


def test_diverging_run_fails_fast(tmp_path, tiny_cache):
    # NaN logits from the first forward pass: the first timed step diverges however slow the machine is (a NaN
    # learning rate only shows from the second step, which a loaded machine may never reach in the budget)
    proc = run_train(tmp_path, tiny_cache, edit=[("LOGIT_SOFTCAP = 15.0", "LOGIT_SOFTCAP = float('nan')")])
    assert proc.returncode == 1
    assert "FAIL: training diverged at step 0" in proc.stdout
    assert "val_bpb:" not in proc.stdout


def test_unprepared_cache_is_a_clear_error(tmp_path):
    proc = run_train(tmp_path, tmp_path / "empty-cache")
    assert proc.returncode == 1
    assert "no prepared dataset" in proc.stderr and "prepare.py" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_gpu_requested_without_gpu_is_a_clear_error(tmp_path, tiny_cache):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this checks the error on a machine without a GPU, and a GPU is visible here; nothing to do")
    proc = run_train(tmp_path, tiny_cache, edit=[('DEVICE = "auto"', 'DEVICE = "cuda"')])
    assert proc.returncode == 1 and "no CUDA GPU" in proc.stdout
