"""Data sources (local, stdlib), the deterministic split, the protocol guard and bad input."""

import json
import os
import shutil

import numpy as np

from ml_helpers import TINY_FLAGS, load_prepare, run_prepare, write_corpus


def shard_texts(prep):
    train = list(prep.iter_texts(prep._split_paths("train")))
    val = list(prep.iter_texts(prep._split_paths("val")))
    return train, val


def no_temp_files(cache):
    return [os.path.join(r, n) for r, _, names in os.walk(cache) for n in names if ".tmp" in n or n.endswith(".incomplete")]


def test_local_source(prep, tiny_cache, tiny_corpus):
    p = prep.PROTOCOL
    assert p["source"] == "local" and p["profile"] == "cpu" and p["max_seq_len"] == 64 and p["time_budget"] == 3
    train, val = shard_texts(prep)
    assert len(train) + len(val) == 40  # the 40 text files; binary, latin-1 and empty files skipped
    assert p["train_docs"] == len(train) and p["val_docs"] == len(val) and len(val) >= 1
    originals = set()
    for root, _, names in os.walk(tiny_corpus):
        for n in names:
            if n.startswith("doc"):
                originals.add(open(os.path.join(root, n), encoding="utf-8").read())
    assert set(train) | set(val) == originals and not set(train) & set(val)
    assert no_temp_files(tiny_cache) == []


def test_split_is_deterministic_and_location_independent(tmp_path, tiny_cache, tiny_corpus, prep):
    moved = tmp_path / "elsewhere" / "corpus"
    shutil.copytree(tiny_corpus, moved)
    cache = tmp_path / "cache2"
    run_prepare(cache, "--source", "local", "--path", str(moved), *TINY_FLAGS)
    other = load_prepare(cache, "prepare_second")
    assert shard_texts(other) == shard_texts(prep)
    assert np.array_equal(other.get_val_rows(), prep.get_val_rows())
    assert other.PROTOCOL["tokenizer_sha1"] == prep.PROTOCOL["tokenizer_sha1"]


def test_glob_path_and_long_files_are_split(tmp_path):
    corpus = tmp_path / "c"
    write_corpus(str(corpus), n_files=12, seed=5)
    (corpus / "big.txt").write_text("".join(f"line {i} with some words ✓\n" for i in range(3000)), encoding="utf-8")
    cache = tmp_path / "cache"
    run_prepare(cache, "--source", "local", "--path", str(corpus / "**" / "*.txt"), *TINY_FLAGS, "--doc-chars", "2000")
    prep = load_prepare(cache, "prepare_glob")
    train, val = shard_texts(prep)
    assert max(map(len, train + val)) <= 2000
    big = (corpus / "big.txt").read_text(encoding="utf-8")
    pieces = [t for t in train + val if t.startswith("line ")]
    assert "".join(sorted(pieces, key=lambda t: int(t.split()[1]))) == big  # nothing lost when splitting


def test_protocol_guard_and_force(tmp_path, tiny_corpus):
    cache = tmp_path / "cache"
    run_prepare(cache, "--source", "local", "--path", tiny_corpus, *TINY_FLAGS)
    before = (cache / "protocol.json").read_text()
    same = run_prepare(cache, "--source", "local", "--path", tiny_corpus, *TINY_FLAGS)
    assert "Already prepared" in same.stdout
    flags = [f if f != "3" else "7" for f in TINY_FLAGS]  # another time budget
    other = run_prepare(cache, "--source", "local", "--path", tiny_corpus, *flags, check=False)
    assert other.returncode == 1
    assert "another protocol" in other.stderr and "--force" in other.stderr and "time_budget" in other.stderr
    assert "Traceback" not in other.stderr
    assert (cache / "protocol.json").read_text() == before  # untouched
    run_prepare(cache, "--source", "local", "--path", tiny_corpus, *flags, "--force")
    assert json.loads((cache / "protocol.json").read_text())["time_budget"] == 7


def test_bad_input_is_one_clear_error_and_leaves_nothing_trusted(tmp_path):
    cases = []
    cases.append((["--source", "local", "--path", str(tmp_path / "missing")], "does not exist"))
    (tmp_path / "empty").mkdir()
    cases.append((["--source", "local", "--path", str(tmp_path / "empty")], "matches no files"))
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "a.bin").write_bytes(b"\x00\xff" * 100)
    (tmp_path / "binary" / "b.txt").write_text("only one text file")
    cases.append((["--source", "local", "--path", str(tmp_path / "binary")], "readable UTF-8"))
    cases.append((["--source", "local"], "--path"))
    for i, (args, message) in enumerate(cases):
        cache = tmp_path / f"cache{i}"
        proc = run_prepare(cache, *args, *TINY_FLAGS, check=False)
        assert proc.returncode == 1, proc.stdout
        assert message in proc.stderr and "Traceback" not in proc.stderr
        err_lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(err_lines) == 1 and err_lines[0].startswith("ERROR: ")
        assert not (cache / "protocol.json").exists()
        assert no_temp_files(cache) == [] if cache.exists() else True
    # a cache directory that cannot be written (here: a file is in the way)
    (tmp_path / "a-file").write_text("not a directory")
    proc = run_prepare(tmp_path / "a-file", "--source", "local", "--path", str(tmp_path / "binary"), *TINY_FLAGS, check=False)
    assert proc.returncode == 1 and "could not read or write" in proc.stderr and "Traceback" not in proc.stderr


def test_incomplete_cache_is_not_trusted(tmp_path, tiny_cache):
    cache = tmp_path / "cache"
    shutil.copytree(tiny_cache, cache)
    os.remove(cache / "tokens" / "val_rows.npy")
    prep = load_prepare(cache, "prepare_incomplete")
    try:
        prep.require_prepared()
        raise AssertionError("an incomplete cache was accepted")
    except SystemExit as e:
        assert e.code == 1


def test_stdlib_source(tmp_path):
    cache = tmp_path / "cache"
    proc = run_prepare(cache, "--source", "stdlib", "--profile", "cpu", "--vocab-size", "300", "--seq-len", "64",
                       "--eval-tokens", "1024", "--tokenizer-chars", "1000000")
    prep = load_prepare(cache, "prepare_stdlib")
    p = prep.PROTOCOL
    assert p["source"] == "stdlib" and p["source_detail"]["path"] == prep.stdlib_path()
    assert p["train_docs"] > 500 and p["val_docs"] > 10 and p["eval_tokens"] == 1024
    train, _ = shard_texts(prep)
    assert any("import" in t for t in train[:50])
