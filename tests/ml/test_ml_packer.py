"""Packing: BOS-aligned best fit, no padding, real documents in order, deterministic, and
the fast packer equal to the pure-Python baseline."""

import numpy as np
import pytest

from ml_helpers import pack_rows_reference

BOS = 10**9


def make_docs(seed, n=1500, max_len=300):
    """Documents that identify themselves: doc j is a run of consecutive integers."""
    rng = np.random.default_rng(seed)
    docs, start = [], 0
    for length in rng.integers(1, max_len, size=n):
        docs.append(np.arange(start, start + length, dtype=np.int64))
        start += int(length) + 1
    return docs


def check_rows(rows, docs, row_len):
    by_start = {int(d[0]): d for d in docs}
    used = set()
    for row in rows:
        assert len(row) == row_len and row[0] == BOS
        cuts = list(np.flatnonzero(row == BOS)) + [row_len]
        for k, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
            segment = row[a + 1:b]
            if len(segment) == 0:  # one free slot left: the cropped document contributes only its BOS
                assert b == row_len, "a BOS with no document after it inside a row"
                continue
            doc = by_start[int(segment[0])]
            assert int(doc[0]) not in used, "a document was used twice"
            used.add(int(doc[0]))
            assert np.array_equal(segment, doc[:len(segment)]), "tokens are not a document's prefix in order"
            if k < len(cuts) - 2:
                assert len(segment) == len(doc), "only the last document of a row may be cropped"
    return used


@pytest.mark.parametrize("seed,row_len", [(0, 65), (1, 257), (2, 33)])
def test_fast_packer_properties_and_equals_reference(prep, seed, row_len):
    docs = make_docs(seed)
    rows = prep.pack_rows(docs, BOS, row_len, 200)
    assert rows.shape == (200, row_len)
    check_rows(rows, docs, row_len)
    ref = pack_rows_reference([d.tolist() for d in docs], BOS, row_len, 200)
    assert np.array_equal(np.array(ref), rows)
    assert np.array_equal(prep.pack_rows(docs, BOS, row_len, 200), rows)  # deterministic


def test_best_fit_choice(prep):
    # buffer holds docs of lengths (with BOS) 4, 7, 3, 7: a row of 10 takes the first 7 (oldest
    # of the longest that fits), then the 3; the next row takes the other 7, then crops the 4.
    docs = [np.arange(s, s + n) for s, n in [(100, 3), (200, 6), (300, 2), (400, 6)]]
    rows = prep.pack_rows(docs, BOS, 10, 2, buffer_size=10)
    assert rows[0].tolist() == [BOS, *range(200, 206), BOS, 300, 301]
    assert rows[1].tolist() == [BOS, *range(400, 406), BOS, 100, 101]
    assert len(prep.pack_rows(docs, BOS, 10, 5, buffer_size=10)) == 2  # finite: stops when documents run out


def test_dataloader_batches(prep):
    tok = prep.Tokenizer.from_directory()
    bos = tok.get_bos_token_id()
    B, T = 4, 64

    def batches(n):
        loader = prep.make_dataloader(tok, B, T, "train", device="cpu")
        out = [next(loader) for _ in range(n)]
        loader.close()
        assert not loader.thread.is_alive()
        return out

    first, second = batches(3), batches(3)
    expected = prep.pack_rows(prep.iter_documents(prep._split_paths("train")), bos, T + 1, 3 * B)
    for i, ((x, y, epoch), (x2, y2, _)) in enumerate(zip(first, second)):
        assert x.shape == y.shape == (B, T) and x.dtype == y.dtype
        assert (x[:, 0] == bos).all()
        assert (x[:, 1:] == y[:, :-1]).all()
        assert (x == x2).all() and (y == y2).all()  # deterministic
        rows = expected[i * B:(i + 1) * B]
        assert np.array_equal(x.numpy(), rows[:, :-1]) and np.array_equal(y.numpy(), rows[:, 1:])
        assert epoch >= 1
    # tokens are real tokens of the training documents: every row decodes back to document text
    train_text = "".join(prep.iter_texts(prep._split_paths("train")))
    for row in first[0][0]:
        parts = tok.decode(row.tolist()).split(prep.BOS_TOKEN)
        assert all(p in train_text for p in parts[1:-1])
