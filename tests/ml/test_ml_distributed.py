"""One run on several processes (torchrun) on the CPU with gloo: the same training and evaluation as one
process, one stop decision for all ranks, a crashing rank ends the whole run, and the world size is part
of the protocol. Every run is a real torchrun in its own process group, killed whole at the end."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from ml_helpers import ASSETS, REPO, TEMPLATE_CODE, TINY_FLAGS, run_prepare

TOKENS_PER_STEP = 2**12  # the cpu profile's TOTAL_BATCH_SIZE
TIMEOUT = 180


@pytest.fixture(scope="module")
def token_cache(tmp_path_factory, tiny_corpus):
    """A tiny dataset prepared for the token-budget mode (not yet calibrated)."""
    cache = tmp_path_factory.mktemp("dist-cache")
    run_prepare(cache, "--source", "local", "--path", tiny_corpus, *TINY_FLAGS, "--budget", "tokens")
    return cache


def copy_cache(src, dst, **protocol):
    """A copy of a prepared cache whose protocol.json has these keys set (None: removed)."""
    shutil.copytree(src, dst)
    path = os.path.join(dst, "protocol.json")
    with open(path) as f:
        data = json.load(f)
    for key, value in protocol.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    with open(path, "w") as f:
        json.dump(data, f)
    return dst


def work_dir(path, edit=()):
    """The template in a fresh folder, on the CPU, with the given (old, new) replacements in train.py;
    each process writes its pid to pid<rank>."""
    path.mkdir()
    for name in TEMPLATE_CODE:
        shutil.copy(os.path.join(ASSETS, name), path / name)
    src = (path / "train.py").read_text()
    pid_file = "import prepare\nopen(f'pid{prepare.RANK}', 'w').write(str(__import__('os').getpid()))\n"
    for a, b in [('DEVICE = "auto"', 'DEVICE = "cpu"'), ("import prepare\n", pid_file), *edit]:
        assert a in src, a
        src = src.replace(a, b)
    (path / "train.py").write_text(src)
    return path


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False


def kill_what_is_left(proc, cwd):
    """SIGKILL torchrun's process group and every rank still alive; True if there was any."""
    left = False
    try:
        os.killpg(proc.pid, signal.SIGKILL)
        left = True
    except ProcessLookupError:
        pass
    for path in cwd.glob("pid*"):
        pid = int(path.read_text())
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            left = True
    return left


def launch(cmd, cwd, cache, env_extra=None):
    """Run cmd in a new session; afterwards no process of the run may be left (torchrun starts each
    rank in a session of its own: their pids come from the pid files)."""
    env = {**os.environ, "AUTORESEARCH_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    env.update(env_extra or {})
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        kill_what_is_left(proc, cwd)
        proc.communicate()
        pytest.fail(f"{' '.join(map(str, cmd))} ran past {TIMEOUT}s (a rank hung)")
    assert not kill_what_is_left(proc, cwd), "processes of the run were still alive after it ended"
    return proc.returncode, out, err


def torchrun(nproc, cwd, cache):
    return launch([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                   "train.py"], cwd, cache)


def step_losses(out):
    return [float(loss) for loss in re.findall(r"^step \d+ .*\| loss: (\S+) \|", out, re.M)]


def summary(out, key):
    values = re.findall(rf"^{key}:\s+(\S+)$", out, re.M)
    assert len(values) == 1, f"{key}: printed {len(values)} times"
    return values[0]


def test_each_rank_loads_its_batches_of_the_one_stream(prep):
    """Rank r of N gets the batches r, r + N, ... of the stream that one process packs."""
    tok = prep.Tokenizer.from_directory()
    bos, B, T, n = tok.get_bos_token_id(), 4, 64, 3
    expected = prep.pack_rows(prep.iter_documents(prep._split_paths("train")), bos, T + 1, 3 * n * B)
    for rank in range(3):
        docs = prep.iter_documents(prep._split_paths("train"))
        loader = prep._Loader(docs, bos, B, T, "cpu", 1000, rank=rank, world_size=3)
        for k in range(n):
            x, y, _ = next(loader)
            rows = expected[(3 * k + rank) * B:(3 * k + rank + 1) * B]
            assert np.array_equal(x.numpy(), rows[:, :-1]) and np.array_equal(y.numpy(), rows[:, 1:])
        loader.close()


# Both ranks write how many steps they took and how many validation rows they evaluated.
REPORT = [("val_bpb = evaluate_bpb(eval_model, tokenizer, eval_batch)",
           "evaluated = []\n"
           "    probe = model.register_forward_hook(lambda m, i, o: evaluated.append(i[0].size(0)))\n"
           "    val_bpb = evaluate_bpb(eval_model, tokenizer, eval_batch)\n"
           "    probe.remove()\n"
           "    open(f'rank{prepare.RANK}.json', 'w').write(json.dumps([step, sum(evaluated)]))")]


def test_two_ranks_match_one(tmp_path, token_cache):
    # 4 rows per forward pass: one process accumulates 16 of them per step, each of two ranks 8; the 8
    # validation rows are 2 batches, one per rank
    edit = [("DEVICE_BATCH_SIZE = None", "DEVICE_BATCH_SIZE = 4"), ("import gc", "import gc\nimport json"), *REPORT]
    # 3 steps; a long time budget so that a busy machine does not trip the guard against slow runs
    steps = 3
    protocol = dict(token_budget=steps * TOKENS_PER_STEP, time_budget=60)
    one_cache = copy_cache(token_cache, tmp_path / "one-cache", **protocol)
    two_cache = copy_cache(token_cache, tmp_path / "two-cache", **protocol)
    one_dir, two_dir = work_dir(tmp_path / "one", edit), work_dir(tmp_path / "two", edit)

    rc, one, err = launch([sys.executable, "train.py"], one_dir, one_cache)
    assert rc == 0, one + err
    rc, two, err = torchrun(2, two_dir, two_cache)
    assert rc == 0, two + err

    assert "x 4 rows x 64 x 1 process(es)" in one and "x 4 rows x 64 x 2 process(es)" in two
    # the same rows per step: the same losses and gradients up to the order of the float additions
    assert len(step_losses(one)) == steps
    assert step_losses(two) == pytest.approx(step_losses(one), rel=1e-5)
    assert float(summary(two, "val_bpb")) == pytest.approx(float(summary(one, "val_bpb")), rel=1e-5)
    assert summary(two, "processes") == "2" and summary(two, "num_steps") == str(steps)
    assert len(re.findall(r"^METRIC val_bpb=", two, re.M)) == 1  # printed once, by rank 0
    # each rank evaluated its half of the validation rows
    assert json.loads((one_dir / "rank0.json").read_text()) == [steps, 8]
    for rank in (0, 1):
        assert json.loads((two_dir / f"rank{rank}.json").read_text()) == [steps, 4]
    # the protocol records the world size of the runs
    assert json.loads((one_cache / "protocol.json").read_text())["world_size"] == 1
    assert json.loads((two_cache / "protocol.json").read_text())["world_size"] == 2


def test_both_ranks_stop_after_the_same_step(tmp_path, tiny_cache):
    # rank 1's clock runs five times fast: alone it would stop after a fifth of the steps
    edit = [("import gc", "import gc\nimport json"), *REPORT,
            ("    dt = time.perf_counter() - t0\n", "    dt = (time.perf_counter() - t0) * (1 + 4 * prepare.RANK)\n")]
    cache = copy_cache(tiny_cache, tmp_path / "cache", world_size=None)
    work = work_dir(tmp_path / "work", edit)
    rc, out, err = torchrun(2, work, cache)
    assert rc == 0, out + err
    steps = int(summary(out, "num_steps"))
    assert steps >= 2 and float(summary(out, "training_seconds")) >= 3  # the time budget, on rank 0's clock
    assert [json.loads((work / f"rank{rank}.json").read_text())[0] for rank in (0, 1)] == [steps, steps]


def test_a_crashing_rank_ends_the_whole_run(tmp_path, tiny_cache):
    edit = [("    step += 1\n", "    step += 1\n    if prepare.RANK == 1 and step == 2:\n"
                                "        raise RuntimeError('rank one fell over')\n")]
    cache = copy_cache(tiny_cache, tmp_path / "cache", world_size=None)
    rc, out, err = torchrun(2, work_dir(tmp_path / "work", edit), cache)
    assert rc != 0
    assert "RuntimeError: rank one fell over" in err  # the cause, from the rank that crashed
    assert "val_bpb:" not in out and "METRIC" not in out


def skill_script(tmp_path, cache):
    """autoresearch.sh as SKILL.md's heredoc writes it for this cache, run by bash with this Python as python3."""
    text = open(os.path.join(REPO, "skills", "autoresearch-ml", "SKILL.md"), encoding="utf-8").read()
    heredoc = re.search(r"cat > autoresearch.sh <<EOF\n.*?\nEOF\n", text, re.S).group(0)
    env = dict(os.environ, AUTORESEARCH_CACHE_DIR=str(cache))
    subprocess.run(["bash", "-c", heredoc], cwd=tmp_path, env=env, check=True)
    script = tmp_path / "autoresearch.sh"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    path = [str(bin_dir)] + [d for d in os.environ["PATH"].split(os.pathsep) if not os.path.exists(os.path.join(d, "uv"))]
    return script, os.pathsep.join(path)


def test_benchmark_script_runs_torchrun_and_the_protocol_keeps_one_world_size(tmp_path, tiny_cache):
    work = work_dir(tmp_path / "work")
    cache = copy_cache(tiny_cache, tmp_path / "cache", world_size=1)  # runs of one process so far
    script, path = skill_script(tmp_path, cache)
    rc, out, err = launch(["bash", str(script)], work, cache, {"PATH": path, "AUTORESEARCH_GPUS_PER_RUN": "2"})
    assert rc != 0
    # one sentence, by rank 0, before torchrun's own report of the failed processes
    assert err.startswith("ERROR: the runs on the dataset") and "--new-segment" in err.splitlines()[0]
    assert err.count("use 1 process(es) each and this one has 2") == 1
    rc, out, err = launch(["bash", str(script)], work, cache, {"PATH": path, "AUTORESEARCH_GPUS_PER_RUN": "two"})
    assert rc == 2 and "AUTORESEARCH_GPUS_PER_RUN must be a whole number" in err
