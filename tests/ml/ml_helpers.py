"""Helpers for the autoresearch-ml template tests (CPU only, small data, small vocab)."""

import importlib.util
import os
import random
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSETS = os.path.join(REPO, "skills", "autoresearch-ml", "assets")
PREPARE = os.path.join(ASSETS, "prepare.py")
TRAIN = os.path.join(ASSETS, "train.py")
TEMPLATE_CODE = ("prepare.py", "train.py", "machine.py")  # what a training run needs beside the data

WORDS = ("the model reads bytes and predicts the next token while the loader packs rows "
         "naïve café über straße 東京 数据 ✓ λ → 😀 def class return import yield").split()

# A tiny, fast protocol: CPU profile, short context, small vocabulary, a few seconds of training; each file
# one document (no cutting to the context), so that the tests can compare documents with the corpus.
TINY_FLAGS = ["--profile", "cpu", "--vocab-size", "512", "--seq-len", "64", "--eval-tokens", "2048",
              "--time-budget", "3", "--val-fraction", "0.2", "--doc-chars", "100000"]
DEFAULT_DOC_CHARS = TINY_FLAGS[:-2]


def write_corpus(directory, n_files=40, seed=0):
    """Deterministic text files with multi-byte UTF-8, plus files that must be skipped."""
    rng = random.Random(seed)
    os.makedirs(directory, exist_ok=True)
    for i in range(n_files):
        sub = os.path.join(directory, f"part{i % 3}")
        os.makedirs(sub, exist_ok=True)
        lines = []
        for _ in range(rng.randint(5, 60)):
            lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))))
        with open(os.path.join(sub, f"doc{i:03d}.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(directory, "binary.bin"), "wb") as f:
        f.write(b"\x00\x01\x02 not text")
    with open(os.path.join(directory, "latin1.txt"), "wb") as f:
        f.write("caf\xe9".encode("latin-1"))
    open(os.path.join(directory, "empty.txt"), "w").close()
    return directory


def run_prepare(cache_dir, *args, env_extra=None, check=True, timeout=240, cwd=None):
    env = {**os.environ, "AUTORESEARCH_CACHE_DIR": str(cache_dir), "PYTHONUNBUFFERED": "1"}
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, PREPARE, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"prepare.py failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def load_prepare(cache_dir, name="prepare_under_test"):
    """Import a fresh copy of prepare.py bound to cache_dir (the module reads the cache at import)."""
    old = os.environ.get("AUTORESEARCH_CACHE_DIR")
    os.environ["AUTORESEARCH_CACHE_DIR"] = str(cache_dir)
    try:
        spec = importlib.util.spec_from_file_location(name, PREPARE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if old is None:
            os.environ.pop("AUTORESEARCH_CACHE_DIR", None)
        else:
            os.environ["AUTORESEARCH_CACHE_DIR"] = old
    return module


def pack_rows_reference(docs, bos, row_len, n_rows, buffer_size=1000, refill=128):
    """prepare.py's best-fit packing written the plain way (linear scans over a list): the reference
    its fast packer must equal, and the baseline of scripts/bench_packer.py."""
    docs = iter(docs)
    buffer, rows, exhausted = [], [], False
    while len(rows) < n_rows:
        row = []
        while len(row) < row_len:
            while len(buffer) < buffer_size and not exhausted:
                for _ in range(refill):
                    doc = next(docs, None)
                    if doc is None:
                        exhausted = True
                        break
                    buffer.append([bos] + list(doc))
            if not buffer:
                return rows
            remaining = row_len - len(row)
            best, best_len = -1, 0
            for i, d in enumerate(buffer):
                if best_len < len(d) <= remaining:
                    best, best_len = i, len(d)
            if best >= 0:
                row.extend(buffer.pop(best))
            else:
                shortest = min(range(len(buffer)), key=lambda i: len(buffer[i]))
                row.extend(buffer.pop(shortest)[:remaining])
        rows.append(row)
    return rows
