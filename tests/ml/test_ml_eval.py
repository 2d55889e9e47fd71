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


def hand_bpb(prep, model):
    rows = np.load(f"{prep.TOKENS_DIR}/val_rows.npy").astype(np.int64)
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
