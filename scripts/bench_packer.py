"""Benchmark the BOS-aligned best-fit packers of skills/autoresearch-ml/assets/prepare.py.

Both packers run on the same documents and must produce identical rows:
  - pack_rows_reference (tests/ml/ml_helpers.py): plain Python (linear scans over a list buffer)
  - BestFitPacker: sorted buffer with bisect, numpy slice copies
and, for the fast one, the full dataloader (background thread, rows -> input/target batches).

Data: the training split of the prepared dataset in $AUTORESEARCH_CACHE_DIR if there is one,
otherwise the stdlib corpus prepared into a temporary cache (CPU profile, a few seconds);
plus a synthetic set of short documents (web-like lengths).

    python scripts/bench_packer.py [--rows 256] [--seq-len 2048]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ASSETS = os.path.join(REPO, "skills", "autoresearch-ml", "assets")
sys.path.insert(0, os.path.join(REPO, "tests", "ml"))
from ml_helpers import pack_rows_reference  # noqa: E402


def load_prepare(cache_dir):
    os.environ["AUTORESEARCH_CACHE_DIR"] = cache_dir
    sys.path.insert(0, os.path.abspath(ASSETS))
    import prepare
    return prepare


def bench(name, prepare, docs, bos, row_len, n_rows):
    as_lists = [d.tolist() for d in docs]
    docs = [np.ascontiguousarray(d) for d in docs]  # both packers read documents already in memory

    def timed(fn, repeats=5):  # median of several runs: this machine may be shared
        times, out = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return out, sorted(times)[len(times) // 2]

    ref, t_ref = timed(lambda: pack_rows_reference(as_lists, bos, row_len, n_rows))
    fast, t_fast = timed(lambda: prepare.pack_rows(docs, bos, row_len, n_rows))
    assert len(ref) == len(fast) == n_rows, "not enough documents for the requested rows"
    assert np.array_equal(np.array(ref, dtype=np.int64), fast), "the packers disagree"
    tokens = n_rows * row_len
    print(f"{name}: {n_rows} rows x {row_len} tokens, mean document {np.mean([len(d) for d in docs]) + 1:.0f} tokens")
    print(f"  pure-Python best fit : {tokens / t_ref / 1e6:8.2f} M tokens/s  ({t_ref * 1000:.0f} ms)")
    print(f"  fast best fit        : {tokens / t_fast / 1e6:8.2f} M tokens/s  ({t_fast * 1000:.0f} ms)  "
          f"-> {t_ref / t_fast:.1f}x, identical rows")
    return t_ref / t_fast


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--seq-len", type=int, default=2048)
    args = ap.parse_args()
    row_len = args.seq_len + 1

    cache = os.environ.get("AUTORESEARCH_CACHE_DIR")
    tmp = None
    if not cache or not os.path.exists(os.path.join(cache, "protocol.json")):
        tmp = tempfile.mkdtemp(prefix="bench_packer_")
        cache = tmp
        print(f"Preparing the stdlib corpus into {cache} ...")
        subprocess.run([sys.executable, os.path.join(ASSETS, "prepare.py"), "--source", "stdlib", "--profile", "cpu"],
                       check=True, env={**os.environ, "AUTORESEARCH_CACHE_DIR": cache}, stdout=subprocess.DEVNULL)
    prepare = load_prepare(cache)
    tok = prepare.Tokenizer.from_directory()
    bos = tok.get_bos_token_id()

    # Real documents: enough of the training split for the requested rows plus the buffer.
    docs, need = [], args.rows * row_len + 3000 * 2048
    for d, _ in prepare.iter_documents(prepare._split_paths("train"), loop=False):
        docs.append(np.asarray(d))
        need -= len(d) + 1
        if need <= 0:
            break
    print(f"Data: {cache} ({prepare.PROTOCOL['source']})")
    bench("real documents", prepare, docs, bos, row_len, args.rows)

    # Synthetic short documents (log-normal lengths, median ~ 300 tokens), as on web text.
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(5.7, 1.0, size=40000).astype(int), 1, 20000)
    synth = [rng.integers(0, bos, size=n, dtype=np.int64) for n in lengths]
    bench("synthetic short documents", prepare, synth, bos, row_len, args.rows)

    # The full loader: background thread, (B, T) input/target batches on the CPU.
    B = 32
    loader = prepare.make_dataloader(tok, B, args.seq_len, "train", device="cpu")
    next(loader)
    t0 = time.perf_counter()
    n = 20
    for _ in range(n):
        next(loader)
    dt = time.perf_counter() - t0
    print(f"dataloader (thread + batches, CPU tensors): {n * B * args.seq_len / dt / 1e6:.2f} M tokens/s")
    loader.close()
    if tmp:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
