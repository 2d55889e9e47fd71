"""Data sources (local, stdlib), the deterministic split, the protocol guard and bad input."""

import json
import os
import shutil

import numpy as np

from ml_helpers import DEFAULT_DOC_CHARS, TINY_FLAGS, load_prepare, run_prepare, write_corpus


def shard_texts(prep, with_test=False):
    train = list(prep.iter_texts(prep._split_paths("train")))
    val = list(prep.iter_texts(prep._split_paths("val")))
    if with_test:
        return train, val, list(prep.iter_texts(prep._split_paths("test")))
    return train, val


def no_temp_files(cache):
    return [os.path.join(r, n) for r, _, names in os.walk(cache) for n in names if ".tmp" in n or n.endswith(".incomplete")]


def test_local_source(prep, tiny_cache, tiny_corpus):
    p = prep.PROTOCOL
    assert p["source"] == "local" and p["profile"] == "cpu" and p["max_seq_len"] == 64 and p["time_budget"] == 3
    train, val, test = shard_texts(prep, with_test=True)
    assert len(train) + len(val) + len(test) == 40  # the 40 text files; binary, latin-1 and empty files skipped
    assert p["train_docs"] == len(train) and p["val_docs"] == len(val) and len(val) >= 1
    assert p["test_docs"] == len(test) and len(test) >= 1
    originals = set()
    for root, _, names in os.walk(tiny_corpus):
        for n in names:
            if n.startswith("doc"):
                originals.add(open(os.path.join(root, n), encoding="utf-8").read())
    assert set(train) | set(val) | set(test) == originals
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    assert no_temp_files(tiny_cache) == []


def test_split_is_deterministic_and_location_independent(tmp_path, tiny_cache, tiny_corpus, prep):
    moved = tmp_path / "elsewhere" / "corpus"
    shutil.copytree(tiny_corpus, moved)
    cache = tmp_path / "cache2"
    run_prepare(cache, "--source", "local", "--path", str(moved), *TINY_FLAGS)
    other = load_prepare(cache, "prepare_second")
    assert shard_texts(other, with_test=True) == shard_texts(prep, with_test=True)
    assert np.array_equal(other.get_val_rows(), prep.get_val_rows())
    assert np.array_equal(other.get_eval_rows("test"), prep.get_eval_rows("test"))
    assert other.PROTOCOL["tokenizer_sha1"] == prep.PROTOCOL["tokenizer_sha1"]


def test_glob_path_and_long_files_are_split(tmp_path):
    corpus = tmp_path / "c"
    write_corpus(str(corpus), n_files=12, seed=5)
    (corpus / "big.txt").write_text("".join(f"line {i} with some words ✓\n" for i in range(3000)), encoding="utf-8")
    cache = tmp_path / "cache"
    run_prepare(cache, "--source", "local", "--path", str(corpus / "**" / "*.txt"), *DEFAULT_DOC_CHARS, "--doc-chars", "2000")
    prep = load_prepare(cache, "prepare_glob")
    train, val, test = shard_texts(prep, with_test=True)
    val = val + test
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
    run_prepare(cache, "--source", "stdlib", "--profile", "cpu", "--vocab-size", "300", "--seq-len", "64",
                "--eval-tokens", "1024", "--tokenizer-chars", "1000000")
    prep = load_prepare(cache, "prepare_stdlib")
    p = prep.PROTOCOL
    assert p["source"] == "stdlib" and p["source_detail"]["path"] == prep.stdlib_path()
    assert p["train_docs"] > 500 and p["val_docs"] > 10 and p["eval_tokens"] == 1024
    train, _ = shard_texts(prep)
    assert any("import" in t for t in train[:50])


def one_error_line(proc):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), proc.stderr
    return lines[0]


def test_force_with_a_wrong_path_keeps_the_prepared_dataset(tmp_path, tiny_corpus):
    cache = tmp_path / "cache"
    run_prepare(cache, "--source", "local", "--path", tiny_corpus, *TINY_FLAGS)
    before = {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    for typo in (str(tmp_path / "typo"), str(tmp_path / "typo" / "**" / "*.txt")):
        proc = run_prepare(cache, "--force", "--source", "local", "--path", typo, *TINY_FLAGS, check=False)
        assert "typo" in one_error_line(proc)
        assert {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()} == before


def test_a_relative_glob_is_stored_resolved(tmp_path):
    write_corpus(str(tmp_path / "here" / "c"), n_files=12, seed=3)
    (tmp_path / "elsewhere").mkdir()
    cache = tmp_path / "cache"
    run_prepare(cache, "--source", "local", "--path", "c/**/*.txt", *TINY_FLAGS, cwd=tmp_path / "here")
    stored = json.loads((cache / "protocol.json").read_text())["source_detail"]["path"]
    assert stored == str(tmp_path / "here" / "c" / "**" / "*.txt")
    again = run_prepare(cache, "--source", "local", "--path", "c/**/*.txt", *TINY_FLAGS, cwd=tmp_path / "here")
    assert "Already prepared" in again.stdout
    # the same words in a folder where they match nothing name another dataset
    other = run_prepare(cache, "--source", "local", "--path", "c/**/*.txt", *TINY_FLAGS, cwd=tmp_path / "elsewhere",
                        check=False)
    assert "Already prepared" not in other.stdout and "source_detail" in one_error_line(other)


def test_documents_are_cut_to_the_context_so_an_epoch_uses_most_tokens(tmp_path):
    corpus = tmp_path / "c"
    write_corpus(str(corpus), n_files=30, seed=11)
    cache = tmp_path / "cache"
    run_prepare(cache, "--source", "local", "--path", corpus, *DEFAULT_DOC_CHARS)
    prep = load_prepare(cache, "prepare_doc_chars")
    T = prep.MAX_SEQ_LEN
    assert prep.PROTOCOL["source_detail"]["doc_chars"] == prep.DOC_CHARS_PER_TOKEN * T
    paths = prep._split_paths("train")
    total = sum(len(prep.ShardDocs(p).tokens) for p in paths)
    bos = prep.Tokenizer.from_directory().get_bos_token_id()
    rows = prep.pack_rows(prep.iter_documents(paths, loop=False), bos, T + 1, total // T + 10)
    packed = rows.size - int((rows == bos).sum())
    assert packed / total > 0.8, f"one epoch packs {packed} of {total} training tokens"


def test_a_small_validation_split_is_a_loud_warning_with_the_figures(tmp_path, tiny_corpus):
    proc = run_prepare(tmp_path / "cache", "--source", "local", "--path", tiny_corpus,
                       *[f if f != "2048" else "10000000" for f in TINY_FLAGS])
    warning = [line for line in proc.stderr.splitlines() if line.startswith("WARNING: ")]
    assert len(warning) == 2  # the validation split, then the held-out test split
    assert "validation split" in warning[0] and "test split" in warning[1]
    assert "row(s) of 64" in warning[0] and "0.00512 % of the 10,000,000 requested" in warning[0]
    assert all("--val-fraction" in line for line in warning)


def test_a_truncated_validation_file_is_one_sentence(tmp_path, tiny_cache):
    cache = tmp_path / "cache"
    shutil.copytree(tiny_cache, cache)
    rows = cache / "tokens" / "val_rows.npy"
    rows.write_bytes(rows.read_bytes()[: rows.stat().st_size // 2])
    import subprocess
    import sys

    from ml_helpers import ASSETS
    for call in ("require_prepared()", "get_val_rows()"):
        proc = subprocess.run([sys.executable, "-c", f"import prepare; prepare.{call}"], cwd=ASSETS, capture_output=True,
                              text=True, env={**os.environ, "AUTORESEARCH_CACHE_DIR": str(cache)}, timeout=120)
        assert "val_rows.npy is damaged" in one_error_line(proc) and "--force" in proc.stderr
