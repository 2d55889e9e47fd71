"""machine.py's kernels and its fast path on the CPU: the Triton kernels run in Triton's interpreter
(TRITON_INTERPRET=1, float32) and must match float64 references, forward and backward; the fast path
swaps a kernel in only for a layer of train.py it reproduces. The cuDNN path needs a GPU; here it must
report itself unavailable without raising."""
import json
import os
import re
import shutil
import subprocess
import sys
import threading

import pytest

from ml_helpers import ASSETS, TEMPLATE_CODE

pytest.importorskip("triton", reason="the kernels run in Triton's CPU interpreter, and Triton is not installed: to run "
                    "these tests, install the test extras on Linux x86-64 (pip install -e '.[test]')")

CHECK = r"""
import json, sys
import torch
sys.path.insert(0, sys.argv[1])
import machine

torch.manual_seed(0)
out = {}

def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()

# ReLU^2 MLP: one shape that fills whole tiles, one that does not
for M, K, N in ((512, 128, 256), (300, 64, 200)):
    x = torch.randn(M, K, requires_grad=True)
    w1 = (torch.randn(N, K) / K ** 0.5).requires_grad_()
    w2 = (torch.randn(K, N) / N ** 0.5).requires_grad_()
    gy = torch.randn(M, K)
    y, post = machine.relu2_mlp(x, w1, w2)
    y.backward(gy)
    xr, w1r, w2r = (t.detach().double().requires_grad_() for t in (x, w1, w2))
    pre = xr @ w1r.t()
    yr = torch.relu(pre).square() @ w2r.t()
    yr.backward(gy.double())
    out[f"mlp {M}x{K}x{N}"] = [rel(y, yr), rel(post, torch.relu(pre).square()), rel(x.grad, xr.grad),
                               rel(w1.grad, w1r.grad), rel(w2.grad, w2r.grad)]

# rotary + RMS norm of a (B, T, H, D) tensor
B, T, H, D = 2, 24, 4, 16
x = torch.randn(B, T, H, D, requires_grad=True)
ang = torch.outer(torch.arange(T, dtype=torch.float64), 1.0 / (10000 ** (torch.arange(0, D, 2, dtype=torch.float64) / D)))
cos, sin = ang.cos(), ang.sin()
y = machine.rope_norm(x, cos.float(), sin.float())
g = torch.randn(B, T, H, D)
y.backward(g)
xr = x.detach().double().requires_grad_()
c, s, h = cos[None, :, None, :], sin[None, :, None, :], D // 2
yr = torch.cat([xr[..., :h] * c + xr[..., h:] * s, xr[..., h:] * c - xr[..., :h] * s], -1)
yr = torch.nn.functional.rms_norm(yr, (D,), eps=torch.finfo(torch.float32).eps)
yr.backward(g.double())
out["rope_norm"] = [rel(y, yr), rel(x.grad, xr.grad)]

# LM head + soft-capped cross-entropy, ignored targets, a non-uniform upstream gradient;
# the one-block path and the two-pass path (rows longer than max_block)
for V, max_block in ((512, 8192), (1000, 256)):
    machine.CE_CONFIG["max_block"] = max_block
    N, Dm = 67, 32
    x = torch.randn(N, Dm, requires_grad=True)
    w = (torch.randn(V, Dm) * 2).requires_grad_()
    t = torch.randint(0, V, (N,))
    t[::7] = -1
    g = torch.rand(N) - 0.3
    loss = machine.lm_head_ce(x, w, t, 15.0)
    loss.backward(g)
    xr, wr = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    logits = 15.0 * torch.tanh((xr @ wr.t()) / 15.0)
    lr = torch.nn.functional.cross_entropy(logits, t, ignore_index=-1, reduction="none")
    lr.backward(g.double())
    out[f"ce V={V} block={max_block}"] = [rel(loss, lr), rel(x.grad, xr.grad), rel(w.grad, wr.grad),
                                          float(loss[t == -1].abs().max())]

out["cudnn_available"] = machine.cudnn_available()
out["cuda"] = torch.cuda.is_available()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    script = tmp_path_factory.mktemp("kernels") / "check.py"
    script.write_text(CHECK)
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run([sys.executable, str(script), ASSETS], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_relu2_mlp_matches_float64(results):
    for shape in ("mlp 512x128x256", "mlp 300x64x200"):
        assert max(results[shape]) < 1e-5, (shape, results[shape])


def test_rope_norm_matches_float64(results):
    assert max(results["rope_norm"]) < 1e-5, results["rope_norm"]


def test_lm_head_ce_matches_float64_and_ignores_masked_targets(results):
    for case in ("ce V=512 block=8192", "ce V=1000 block=256"):
        loss_err, dx_err, dw_err, ignored = results[case]
        assert max(loss_err, dx_err, dw_err) < 1e-5, (case, results[case])
        assert ignored == 0.0


def test_cudnn_attention_reports_unavailable_without_a_gpu(results):
    if results["cuda"]:
        pytest.skip("this checks the answer on a machine without a GPU, and a GPU is visible here; nothing to do")
    assert results["cudnn_available"] is False


def fast_path_report(work, cache, edits, device="cpu", timeout=600):
    """Run a copy of train.py with `edits` applied until it has printed its fast-path report, then stop it."""
    work.mkdir()
    for name in TEMPLATE_CODE:
        shutil.copy(os.path.join(ASSETS, name), work / name)
    src = (work / "train.py").read_text()
    for old, new in [*edits, ('DEVICE = "auto"', f'DEVICE = "{device}"')]:
        assert src.count(old) == 1, old
        src = src.replace(old, new)
    (work / "train.py").write_text(src)
    env = {**os.environ, "AUTORESEARCH_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1",
           "TRITON_INTERPRET": "1" if device == "cpu" else "0"}
    proc = subprocess.Popen([sys.executable, "train.py"], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Fast path: checked"):
                break
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
        proc.stdout.close()
    out = "".join(lines)
    assert "Fast path: checked" in out, out[-3000:]
    return out


LAYERS = {"MLP.forward": "fused ReLU^2 kernel", "CausalSelfAttention.rotary_norm": "fused rotary + QK-norm kernel",
          "GPT.head": "fused LM head + soft-capped cross-entropy kernel"}
EDITS = {  # each a change an agent following program.md might make, and the layer it changes
    "MLP.forward": ("F.relu(self.c_fc(x)).square()", "F.gelu(self.c_fc(x))"),
    # a soft-cap that agrees with c * tanh(x / c) near zero and parts from it at large logits
    "GPT.head": ("logits = c * torch.tanh(logits / c)", "logits = logits / (1 + (logits / c).square()).sqrt()"),
    # the other direction of rotation, as some implementations have it
    "CausalSelfAttention.rotary_norm": ("[x1 * cos + x2 * sin, x2 * cos - x1 * sin]", "[x1 * cos - x2 * sin, x2 * cos + x1 * sin]"),
}


def test_edited_layer_is_honoured(tmp_path, tiny_cache):
    unedited = fast_path_report(tmp_path / "unedited", tiny_cache, [])
    for layer, what in LAYERS.items():
        assert re.search(rf"^Fast path: {re.escape(layer)} -> {re.escape(what)} ", unedited, re.M), unedited
    assert "keeps its plain code" not in unedited
    for edited, edit in EDITS.items():
        out = fast_path_report(tmp_path / edited, tiny_cache, [edit])
        refused = re.findall(r"^Fast path: (\S+) keeps its plain code: the (.+) differs from it by ([\d.]+)% \((.+)\)$", out, re.M)
        assert [r[0] for r in refused] == [edited], out
        assert float(refused[0][2]) > 2.0  # the tolerance: bf16 rounding stays below it, the edit does not
        for layer, what in LAYERS.items():
            if layer != edited:
                assert re.search(rf"^Fast path: {re.escape(layer)} -> ", out, re.M), out


ATTENTION_EDITS = {
    # a mask that keeps half the layer's window
    "a narrower mask": [("(i[:, None] - i[None, :] < window)", "(i[:, None] - i[None, :] < window // 2)")],
    # a new argument: attention logits scaled by a temperature
    "a new argument": [("def attend(self, q, k, v, window):", "def attend(self, q, k, v, window, scale=None):"),
                       ("y = self.attend(q, k, v, self.window)", "y = self.attend(q, k, v, self.window, scale=0.5 / self.head_dim ** 0.5)"),
                       ("(q, k, v, is_causal=True)", "(q, k, v, is_causal=True, scale=scale)"),
                       ("(i[:, None] - i[None, :] < window))", "(i[:, None] - i[None, :] < window), scale=scale)")],
}


def test_edited_attention_is_honoured_on_a_gpu(tmp_path, tiny_cache):
    import torch
    if not torch.cuda.is_available():
        pytest.skip("the attention backends run on CUDA GPUs only: to run this check, put it on a machine with one")
    unedited = fast_path_report(tmp_path / "unedited", tiny_cache, [], device="cuda")
    assert re.search(r"^Fast path: CausalSelfAttention\.attend -> \w+ attention ", unedited, re.M), unedited
    assert "keeps its plain code" not in unedited
    for name, edits in ATTENTION_EDITS.items():
        out = fast_path_report(tmp_path / name.replace(" ", "-"), tiny_cache, edits, device="cuda")
        refused = re.findall(r"^Fast path: (\S+) keeps its plain code", out, re.M)
        assert refused == ["CausalSelfAttention.attend"], (name, out)
