"""Tokenizer: round trip, exact token byte lengths, the validation text's bytes."""

import os

import numpy as np


def _is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


SAMPLES = ["Hello world! Numbers: 123.", "naïve café über straße", "東京 数据 ✓ λ → 😀😀", "\U0001F9EA\U0001F52C lab",
           "tabs\tand\r\nnewlines\n\n", "", " ", "ünïcödé" * 5, "def f(x):\n    return x ** 2\n"]


def test_round_trip_and_exact_bytes(prep):
    tok = prep.Tokenizer.from_directory()
    token_bytes = prep.get_token_bytes().numpy()
    # the test's vocab override is honoured (the tiny corpus supports fewer merges than 512)
    assert 256 + 4 < tok.get_vocab_size() == len(token_bytes) == prep.PROTOCOL["vocab_size_actual"] <= 512
    assert prep.PROTOCOL["vocab_size"] == 512
    assert prep.VOCAB_SIZE == 8192  # ... and 8192 stays the default
    for text in SAMPLES:
        ids = tok.encode(text)
        assert tok.decode(ids) == text
        assert int(token_bytes[ids].sum()) == len(text.encode("utf-8")), text
    batch = tok.encode(SAMPLES, prepend=tok.get_bos_token_id())
    assert all(row[0] == tok.get_bos_token_id() and tok.decode(row[1:]) == s for row, s in zip(batch, SAMPLES))


def test_partial_utf8_tokens_are_measured_exactly(prep):
    """Byte-level tokens that are partial UTF-8 sequences: a lossy decode would count 3 bytes
    (U+FFFD) for each; the table must hold their real length."""
    tok = prep.Tokenizer.from_directory()
    enc = tok.enc
    token_bytes = prep.get_token_bytes().numpy()
    partial = [i for i in range(enc.n_vocab - 4) if not _is_utf8(enc.decode_single_token_bytes(i))]
    assert len(partial) >= 64  # the 128 continuation bytes, at least
    for i in partial:
        assert token_bytes[i] == len(enc.decode_single_token_bytes(i))
    assert (token_bytes[:enc.n_vocab - 4] >= 1).all()
    for name in prep.SPECIAL_TOKENS:  # special tokens, BOS among them, count no bytes
        assert token_bytes[enc.encode_single_token(name)] == 0
    # text whose characters are split across tokens
    text = "😀東λ" * 20
    ids = tok.encode(text)
    assert any(not _is_utf8(enc.decode_single_token_bytes(i)) for i in ids)
    assert int(token_bytes[ids].sum()) == len(text.encode("utf-8"))


def test_validation_tokens_bytes_equal_text_utf8_length(prep):
    val_path = os.path.join(prep.DATA_DIR, prep.PROTOCOL["val_shard"])
    texts = list(prep.iter_texts([val_path]))
    tokens = np.asarray(prep.ShardDocs(val_path).tokens)
    token_bytes = prep.get_token_bytes().numpy()
    utf8 = sum(len(t.encode("utf-8")) for t in texts)
    assert utf8 > 1000
    assert int(token_bytes[tokens].sum()) == utf8 == prep.PROTOCOL["val_bytes"]
