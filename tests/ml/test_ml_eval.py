"""evaluate_bpb equals a hand computation on a tiny model, on the fixed validation rows."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F


class Bigram(torch.nn.Module):
    def __init__(self, vocab, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.table = torch.nn.Parameter(torch.randn(vocab, vocab, generator=g) * 2)

    def forward(self, idx, targets=None, reduction="mean"):
        logits = self.table[idx]
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), reduction="none")
        return loss if reduction == "none" else loss.mean()


def hand_bpb(prep, model, split="val"):
    rows = np.load(f"{prep.TOKENS_DIR}/{split}_rows.npy").astype(np.int64)
    table = model.table.detach().double().numpy()
    token_bytes = np.load(f"{prep.TOKENIZER_DIR}/token_bytes.npy")
    x, y = rows[:, :-1].ravel(), rows[:, 1:].ravel()
    logits = table[x]
    logz = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    nll = logz - logits[np.arange(len(y)), y]
    nbytes = token_bytes[y]
    return float((nll * (nbytes > 0)).sum() / (math.log(2) * nbytes.sum())), rows


@pytest.mark.parametrize("batch_size", [1, 3, 7, 1000])
def test_evaluate_bpb_matches_hand_computation(prep, batch_size):
    tok = prep.Tokenizer.from_directory()
    model = Bigram(tok.get_vocab_size())
    expected, rows = hand_bpb(prep, model)
    got = prep.evaluate_bpb(model, tok, batch_size)
    assert math.isfinite(got) and got > 0
    assert got == pytest.approx(expected, rel=1e-5)


def test_validation_set_is_fixed_and_recorded(prep):
    rows = prep.get_val_rows()
    T = prep.MAX_SEQ_LEN
    assert T == 64 and rows.shape[1] == T + 1
    assert prep.EVAL_TOKENS == rows.shape[0] * T == prep.PROTOCOL["eval_tokens"]
    tok = prep.Tokenizer.from_directory()
    assert (rows[:, 0] == tok.get_bos_token_id()).all()
    # the rows are the packed validation documents, identical on every call
    again = prep.pack_rows(prep.iter_documents(prep._split_paths("val"), loop=False), tok.get_bos_token_id(), T + 1, rows.shape[0])
    assert np.array_equal(again, rows)
    model = Bigram(tok.get_vocab_size(), seed=3)
    assert prep.evaluate_bpb(model, tok, 4) == prep.evaluate_bpb(model, tok, 4)


def test_test_split_is_held_out_fixed_exact_and_evaluated(prep):
    """The held-out test split: its own fixed rows, packed from documents no other split holds, exact bytes."""
    tok = prep.Tokenizer.from_directory()
    rows, val = prep.get_eval_rows("test"), prep.get_val_rows()
    T = prep.MAX_SEQ_LEN
    assert rows.shape[1] == T + 1 and rows.shape[0] >= 1 and (rows[:, 0] == tok.get_bos_token_id()).all()
    assert prep.PROTOCOL["test_eval_tokens"] == rows.shape[0] * T
    again = prep.pack_rows(prep.iter_documents(prep._split_paths("test"), loop=False), tok.get_bos_token_id(), T + 1,
                           rows.shape[0])
    assert np.array_equal(again, rows)
    n = min(len(rows), len(val))
    assert not np.array_equal(rows[:n], val[:n])
    texts = {split: list(prep.iter_texts(prep._split_paths(split))) for split in ("train", "val", "test")}
    assert texts["test"] and not set(texts["test"]) & (set(texts["train"]) | set(texts["val"]))
    # exact bytes, as for val: the test tokens' byte lengths add up to the test text's UTF-8 length
    token_bytes = np.load(f"{prep.TOKENIZER_DIR}/token_bytes.npy")
    from_tokens = sum(int(token_bytes[ids].sum()) for ids in tok.encode(texts["test"]))
    assert from_tokens == sum(len(t.encode("utf-8")) for t in texts["test"]) == prep.PROTOCOL["test_bytes"]
    model = Bigram(tok.get_vocab_size(), seed=5)
    expected, _ = hand_bpb(prep, model, "test")
    assert prep.evaluate_bpb(model, tok, 3, split="test") == pytest.approx(expected, rel=1e-5)
    assert prep.evaluate_bpb(model, tok, 3, split="test") != prep.evaluate_bpb(model, tok, 3)
