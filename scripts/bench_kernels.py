#!/usr/bin/env python3
"""GPU benchmark of the ML template's kernels (skills/autoresearch-ml/assets/machine.py).

Each kernel is checked against a float64 (attention: float32) reference on a small case, then
timed forward + backward at the reference shape (128 rows x 2048 tokens, width 512, 4 heads x 128,
vocab 8192) against the torch.compile code it replaces in train.py. Needs a CUDA GPU (and, for the
attention rows, nvidia-cudnn-frontend). Prints one table; medians of triton.testing.do_bench.

    python3 scripts/bench_kernels.py
"""
import math
import os
import sys
import traceback

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "skills", "autoresearch-ml", "assets"))
import machine  # noqa: E402

if not torch.cuda.is_available():
    sys.exit("bench_kernels.py needs a CUDA GPU.")
from triton.testing import do_bench  # noqa: E402

dev, bf = "cuda", torch.bfloat16
B, T, H, HD, D, V = 128, 2048, 4, 128, 512, 8192
M = B * T
rows = []


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def bench(fn):
    return do_bench(fn, return_mode="median")


def fwd_bwd(fn, inputs, grad):
    def run():
        for t in inputs:
            t.grad = None
        fn(*inputs).backward(grad)
    return run


def section(name):
    def wrap(f):
        print(f"== {name}", flush=True)
        try:
            f()
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            rows.append((name, "FAILED", "", ""))
        torch.cuda.empty_cache()
    return wrap


@section("relu2 MLP")
def _():
    x, w1, w2 = torch.randn(4096, D, device=dev), torch.randn(4 * D, D, device=dev) / D ** 0.5, torch.randn(D, 4 * D, device=dev) / 45
    got = [t.to(bf).requires_grad_() for t in (x, w1, w2)]
    ref = [t.double().requires_grad_() for t in (x, w1, w2)]
    g = torch.randn(4096, D, device=dev)
    machine.relu2_mlp(*got)[0].backward(g.to(bf))
    (torch.relu(ref[0] @ ref[1].t()).square() @ ref[2].t()).backward(g.double())
    err = max(rel(a.grad, b.grad) for a, b in zip(got, ref))
    x, w1, w2 = (torch.randn(M, D, device=dev, dtype=bf, requires_grad=True), (torch.randn(4 * D, D, device=dev, dtype=bf) / 23).requires_grad_(),
                 (torch.randn(D, 4 * D, device=dev, dtype=bf) / 45).requires_grad_())
    g = torch.randn(M, D, device=dev, dtype=bf)
    ref_c = torch.compile(lambda x, w1, w2: torch.relu(x @ w1.t()).square() @ w2.t())
    t_ref = bench(fwd_bwd(ref_c, (x, w1, w2), g))
    t_new = bench(fwd_bwd(lambda *a: machine.relu2_mlp(*a)[0], (x, w1, w2), g))
    rows.append(("MLP fwd+bwd (one layer)", f"{t_ref:.3f}", f"{t_new:.3f}", f"grad rel err {err:.1e} (bf16)"))


@section("rotary + QK-norm")
def _():
    ang = torch.outer(torch.arange(T, dtype=torch.float64), 1.0 / (10000 ** (torch.arange(0, HD, 2, dtype=torch.float64) / HD)))
    cos, sin = ang.cos().to(dev), ang.sin().to(dev)

    def reference(x, c, s):
        h = x.shape[-1] // 2
        c, s = c[None, :, None, :], s[None, :, None, :]
        y = torch.cat([x[..., :h] * c + x[..., h:] * s, x[..., h:] * c - x[..., :h] * s], -1)
        return F.rms_norm(y, (y.size(-1),), eps=torch.finfo(bf).eps)
    x = torch.randn(2, T, H, HD, device=dev)
    g = torch.randn_like(x)
    a, b = x.to(bf).requires_grad_(), x.double().requires_grad_()
    machine.rope_norm(a, cos.to(bf), sin.to(bf)).backward(g.to(bf))
    reference(b, cos.to(bf).double(), sin.to(bf).double()).backward(g.double())
    err = rel(a.grad, b.grad)
    x = torch.randn(B, T, H, HD, device=dev, dtype=bf, requires_grad=True)
    g = torch.randn_like(x)
    c16, s16 = cos.to(bf), sin.to(bf)
    ref_c = torch.compile(reference)
    t_ref = bench(fwd_bwd(lambda x: ref_c(x, c16, s16), (x,), g))
    t_new = bench(fwd_bwd(lambda x: machine.rope_norm(x, c16, s16), (x,), g))
    rows.append(("rotary + QK-norm fwd+bwd (q or k)", f"{t_ref:.3f}", f"{t_new:.3f}", f"grad rel err {err:.1e} (bf16)"))


@section("LM head + soft-capped cross-entropy")
def _():
    def reference(x, w, t):
        logits = (x @ w.t()).float()
        return F.cross_entropy(15.0 * torch.tanh(logits / 15.0), t, ignore_index=-1, reduction="none")
    n = 4096
    x, w, t = torch.randn(n, D, device=dev), torch.randn(V, D, device=dev) * 0.05, torch.randint(0, V, (n,), device=dev)
    t[::97] = -1
    a = [x.to(bf).requires_grad_(), w.to(bf).requires_grad_()]
    b = [x.to(bf).double().requires_grad_(), w.to(bf).double().requires_grad_()]
    machine.lm_head_ce(*a, t, 15.0).mean().backward()
    reference(*b, t).mean().backward()
    err = max(rel(p.grad, q.grad) for p, q in zip(a, b))
    x = torch.randn(M, D, device=dev, dtype=bf, requires_grad=True)
    w = (torch.randn(V, D, device=dev) * 0.05).to(bf).requires_grad_()
    t = torch.randint(0, V, (M,), device=dev)
    ref_c = torch.compile(reference)
    t_ref = bench(fwd_bwd(lambda x, w: ref_c(x, w, t).mean(), (x, w), torch.ones((), device=dev)))
    new_c = torch.compile(lambda x, w: machine.lm_head_ce(x, w, t, 15.0).mean())
    t_new = bench(fwd_bwd(new_c, (x, w), torch.ones((), device=dev)))
    logits = torch.randn(M, V, device=dev, dtype=bf)
    t_k = bench(lambda: machine.softcap_ce_(logits, t, 15.0))
    rows.append(("LM head + CE fwd+bwd (3 matmuls incl.)", f"{t_ref:.3f}", f"{t_new:.3f}", f"grad rel err {err:.1e}; CE kernel alone "
                 f"{t_k:.3f} ms = {4 * M * V / t_k / 1e6:.0f} GB/s"))


@section("attention")
def _():
    if not machine.cudnn_available():
        rows.append(("attention", "skipped", "", f"cuDNN frontend unavailable: {machine.load_error()!r}"))
        return
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    def reference(q, k, v, window):
        q, k, v = (t.float().transpose(1, 2) for t in (q, k, v))
        i = torch.arange(q.shape[2], device=dev)
        allowed = (i[:, None] >= i[None, :]) & (i[:, None] - i[None, :] < window)
        s = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).masked_fill(~allowed, float("-inf"))
        return (s.softmax(-1) @ v).transpose(1, 2)
    errs = []
    for window in (64, 1024, T):
        q, k, v = (torch.randn(2, T, H, HD, device=dev, dtype=bf, requires_grad=True) for _ in range(3))
        g = torch.randn(2, T, H, HD, device=dev, dtype=bf)
        machine.cudnn_attention(q, k, v, window).backward(g)
        got = [t.grad for t in (q, k, v)]
        qr, kr, vr = (t.detach().float().requires_grad_() for t in (q, k, v))
        reference(qr, kr, vr, window).backward(g.float())
        errs.append(max(rel(a, b.grad) for a, b in zip(got, (qr, kr, vr))))
    flops = {}
    for window in (T // 2, T):
        pairs = sum(min(i + 1, window) for i in range(T))
        flops[window] = 3.5 * 4 * HD * H * pairs * B
    q, k, v = (torch.randn(B, T, H, HD, device=dev, dtype=bf, requires_grad=True) for _ in range(3))
    g = torch.randn(B, T, H, HD, device=dev, dtype=bf)
    flex = torch.compile(flex_attention)
    mask = create_block_mask(lambda b, h, qi, ki: (ki <= qi) & (qi - ki < T // 2), None, None, T, T, device=dev)
    t_flex = bench(fwd_bwd(lambda q, k, v: flex(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), block_mask=mask), (q, k, v),
                           g.transpose(1, 2)))
    t_cud = bench(fwd_bwd(lambda q, k, v: machine.cudnn_attention(q, k, v, T // 2), (q, k, v), g))
    t_sdpa = bench(fwd_bwd(lambda q, k, v: F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                                                          is_causal=True), (q, k, v), g.transpose(1, 2)))
    t_cud_full = bench(fwd_bwd(lambda q, k, v: machine.cudnn_attention(q, k, v, T), (q, k, v), g))
    rows.append(("window 1024 fwd+bwd: flex -> cuDNN", f"{t_flex:.3f}", f"{t_cud:.3f}",
                 f"{flops[T // 2] / t_flex / 1e9:.0f} -> {flops[T // 2] / t_cud / 1e9:.0f} TFLOP/s; grad rel err {max(errs):.1e} (w 64/1024/2048)"))
    rows.append(("causal fwd+bwd: SDPA -> cuDNN op", f"{t_sdpa:.3f}", f"{t_cud_full:.3f}",
                 f"{flops[T] / t_sdpa / 1e9:.0f} -> {flops[T] / t_cud_full / 1e9:.0f} TFLOP/s"))


print(f"\n{torch.cuda.get_device_name()} | torch {torch.__version__} | B={B} T={T} heads {H}x{HD} width {D} vocab {V}")
print(f"{'what (one micro-batch)':42s} {'before ms':>10s} {'kernel ms':>10s}  notes")
for name, a, b, note in rows:
    print(f"{name:42s} {a:>10s} {b:>10s}  {note}")
