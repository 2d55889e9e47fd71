"""
train.py - the one file the agent edits. One device (CUDA, MPS or CPU), or N GPUs of a machine.
Usage: uv run train.py   (or: python train.py; on N GPUs: torchrun --nproc_per_node=N train.py)

A GPT (RoPE, QK-norm, sliding-window attention, value embeddings, ReLU^2, logit soft-cap)
trained with Muon (matrices) + AdamW (the rest) for a fixed budget — wall-clock seconds, or
with `prepare.py --budget tokens` a fixed number of tokens calibrated by the first run — then
evaluated in bits per byte on the fixed validation set. The protocol (context length,
evaluation tokens, budget) comes from prepare.py and is fixed per prepared dataset.

Every layer below is plain PyTorch, and that is the model that trains. On a GPU, machine.py
swaps a fused kernel in for a layer only after checking on a probe batch that it computes the
same outputs and gradients as the code here; an edited layer keeps its plain code.
"""

import gc
import math
import os
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

import machine
import prepare
from machine import fail
from prepare import MAX_SEQ_LEN, PROFILE, TIME_BUDGET, WORLD_SIZE, Tokenizer, evaluate_bpb, make_dataloader

# ---------------------------------------------------------------------------
# Knobs (edit these directly)
# ---------------------------------------------------------------------------

# Model shape. PROFILE is the prepared dataset's hardware profile: datacenter, consumer or cpu.
DEPTH = {"datacenter": 8, "consumer": 6, "cpu": 2}[PROFILE]
ASPECT_RATIO = 64           # model_dim = DEPTH * ASPECT_RATIO, rounded up to a multiple of HEAD_DIM
HEAD_DIM = 64 if PROFILE == "cpu" else 128
WINDOW_PATTERN = "SSSL"     # per layer: L = full context, S = half context; the last layer is always L
LOGIT_SOFTCAP = 15.0        # logits = c * tanh(logits / c)

# Optimisation
TOTAL_BATCH_SIZE = {"datacenter": 2**19, "consumer": 2**17, "cpu": 2**12}[PROFILE]  # tokens per step, all GPUs together
DEVICE_BATCH_SIZE = None    # rows per forward pass and GPU; None = the largest that fits in memory
EMBEDDING_LR = 0.6          # AdamW, token and value embeddings
UNEMBEDDING_LR = 0.004      # AdamW, lm_head
MATRIX_LR = 0.04            # Muon, all 2-D weights inside the blocks
SCALAR_LR = 0.5             # AdamW, per-layer residual scalars
WEIGHT_DECAY = 0.2          # Muon, cautious, decays linearly to 0
ADAM_BETAS = (0.8, 0.95)
WARMUP_RATIO = 0.0          # fractions of the budget
WARMDOWN_RATIO = 0.5
FINAL_LR_FRAC = 0.0

# Machine
DEVICE = "auto"             # auto | cuda | mps | cpu
COMPILE = None              # None = torch.compile on CUDA only
KERNELS = True              # machine.py's fused kernels where they reproduce the layers below (False: plain code only)
# Each sample of an autoresearch run gets its repeat index (0, 1, 2…): repeats then differ in the seed
# and in where the data stream starts, so the spread of the baseline includes what a seed alone does,
# and a change that only moves the seed cannot pass for a gain.
REPEAT = int(os.environ.get("AUTORESEARCH_REPEAT", "0"))
SEED = 42 + REPEAT
DATA_SKIP = 8 * REPEAT      # batches of the training stream skipped before the first step

# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


@dataclass
class GPTConfig:
    sequence_len: int = 2048
    vocab_size: int = 8192
    n_layer: int = 8
    n_head: int = 4
    n_embd: int = 512
    window_pattern: str = "SSSL"
    logit_softcap: float = 15.0


def norm(x):
    return F.rms_norm(x, (x.size(-1),))


def has_ve(layer_idx, n_layer):
    """Value embeddings on alternating layers, always including the last."""
    return layer_idx % 2 == (n_layer - 1) % 2


def rotary(x, cos, sin):  # x: (B, T, H, D)
    d = x.shape[-1] // 2
    x1, x2 = x[..., :d], x[..., d:]
    return torch.cat([x1 * cos + x2 * sin, x2 * cos - x1 * sin], dim=-1)


class CausalSelfAttention(nn.Module):
    def __init__(self, config, layer_idx):
        super().__init__()
        self.n_head, self.head_dim = config.n_head, config.n_embd // config.n_head
        T = config.sequence_len
        pattern = config.window_pattern
        self.window = T if layer_idx == config.n_layer - 1 else {"L": T, "S": T // 2}[pattern[layer_idx % len(pattern)]]
        d = config.n_embd
        self.c_q = nn.Linear(d, d, bias=False)
        self.c_k = nn.Linear(d, d, bias=False)
        self.c_v = nn.Linear(d, d, bias=False)
        self.c_proj = nn.Linear(d, d, bias=False)
        self.ve_gate_channels = 32
        self.ve_gate = nn.Linear(self.ve_gate_channels, self.n_head, bias=False) if has_ve(layer_idx, config.n_layer) else None

    def rotary_norm(self, q, k, cos, sin):
        return norm(rotary(q, cos, sin)), norm(rotary(k, cos, sin))  # QK-norm after the rotary embedding

    def attend(self, q, k, v, window):
        """Causal attention in which each query sees the last `window` keys, itself included. (B, T, H, D)."""
        T = q.size(1)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if window >= T:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            i = torch.arange(T, device=q.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=(i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] < window))
        return y.transpose(1, 2)

    def forward(self, x, idx, ve_weight, cos, sin):
        B, T, _ = x.shape
        q = self.c_q(x).view(B, T, self.n_head, self.head_dim)
        k = self.c_k(x).view(B, T, self.n_head, self.head_dim)
        v = self.c_v(x).view(B, T, self.n_head, self.head_dim)
        if ve_weight is not None:  # value embedding, mixed in by an input-dependent gate in (0, 2)
            ve = F.embedding(idx, ve_weight).to(v.dtype)
            gate = 2 * torch.sigmoid(self.ve_gate(x[..., :self.ve_gate_channels]))
            v = v + gate.unsqueeze(-1) * ve.view(B, T, self.n_head, self.head_dim)
        q, k = self.rotary_norm(q, k, cos, sin)
        y = self.attend(q, k, v, self.window)
        return self.c_proj(y.reshape(B, T, -1))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=False)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=False)

    def forward(self, x):
        return self.c_proj(F.relu(self.c_fc(x)).square())


class Block(nn.Module):
    def __init__(self, config, layer_idx):
        super().__init__()
        self.attn = CausalSelfAttention(config, layer_idx)
        self.mlp = MLP(config)

    def forward(self, x, x0, idx, resid_lambda, x0_lambda, ve_weight, cos, sin):
        x = resid_lambda.to(x.dtype) * x + x0_lambda.to(x.dtype) * x0
        x = x + self.attn(norm(x), idx, ve_weight, cos, sin)
        return x + self.mlp(norm(x))


class GPT(nn.Module):
    def __init__(self, config, compute_dtype):
        super().__init__()
        self.config, self.compute_dtype = config, compute_dtype
        L, T = config.n_layer, config.sequence_len
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.blocks = nn.ModuleList([Block(config, i) for i in range(L)])
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.resid_lambdas = nn.Parameter(torch.ones(L))
        self.x0_lambdas = nn.Parameter(torch.zeros(L))
        self.value_embeds = nn.ModuleDict({str(i): nn.Embedding(config.vocab_size, config.n_embd)
                                           for i in range(L) if has_ve(i, L)})
        head_dim = config.n_embd // config.n_head
        inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
        self.register_buffer("cos", angles.cos()[None, :, None, :], persistent=False)
        self.register_buffer("sin", angles.sin()[None, :, None, :], persistent=False)

    @torch.no_grad()
    def init_weights(self):
        s = 3 ** 0.5 * self.config.n_embd ** -0.5
        nn.init.normal_(self.wte.weight, std=1.0)
        nn.init.normal_(self.lm_head.weight, std=0.001)
        for block in self.blocks:
            for lin in (block.attn.c_q, block.attn.c_k, block.attn.c_v, block.mlp.c_fc):
                nn.init.uniform_(lin.weight, -s, s)
            nn.init.zeros_(block.attn.c_proj.weight)
            nn.init.zeros_(block.mlp.c_proj.weight)
            if block.attn.ve_gate is not None:
                nn.init.zeros_(block.attn.ve_gate.weight)
        for ve in self.value_embeds.values():
            nn.init.uniform_(ve.weight, -s, s)
        self.resid_lambdas.fill_(1.0)
        self.x0_lambdas.fill_(0.1)

    def estimate_flops(self):
        """FLOPs per token, counted as the original: 6 x non-embedding parameters + attention
        over each layer's effective window (12 * heads * head_dim * window)."""
        nparams = sum(p.numel() for p in self.parameters())
        exclude = self.wte.weight.numel() + sum(ve.weight.numel() for ve in self.value_embeds.values())
        exclude += self.resid_lambdas.numel() + self.x0_lambdas.numel()
        h, q, t = self.config.n_head, self.config.n_embd // self.config.n_head, self.config.sequence_len
        attn = sum(12 * h * q * min(block.attn.window, t) for block in self.blocks)
        return 6 * (nparams - exclude) + attn

    def forward(self, idx, targets=None, reduction="mean"):
        T = idx.size(1)
        cos, sin = self.cos[:, :T].to(self.compute_dtype), self.sin[:, :T].to(self.compute_dtype)
        x = x0 = norm(self.wte(idx).to(self.compute_dtype))
        for i, block in enumerate(self.blocks):
            ve = self.value_embeds[str(i)].weight if str(i) in self.value_embeds else None
            x = block(x, x0, idx, self.resid_lambdas[i], self.x0_lambdas[i], ve, cos, sin)
        return self.head(x, targets, reduction)

    def head(self, x, targets, reduction):
        """Soft-capped logits, or with targets (-1 = ignored) the cross-entropy loss."""
        c = self.config.logit_softcap
        logits = self.lm_head(norm(x)).float()
        logits = c * torch.tanh(logits / c)
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1, reduction=reduction)


# ---------------------------------------------------------------------------
# Optimizer: Muon for the blocks' matrices, AdamW for embeddings, lm_head and scalars
# ---------------------------------------------------------------------------

# Polar Express coefficients for the orthogonalising iteration (Amsel et al., 2025)
POLAR_EXPRESS = [
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
]


def muon_update(grads, params, momentum_buf, second_buf, momentum, lr, wd, beta2, ns_dtype: torch.dtype):
    """One Muon step on a stack of same-shape matrices: Nesterov momentum, orthogonalisation,
    per-row second-moment normalisation (NorMuon), cautious weight decay."""
    momentum_buf.lerp_(grads, 1 - momentum)
    g = grads.lerp(momentum_buf, momentum)
    X = g.to(ns_dtype)
    X = X / (X.norm(dim=(-2, -1), keepdim=True) * 1.02 + 1e-6)
    tall = X.size(-2) > X.size(-1)
    if tall:
        X = X.mT
    for a, b, c in POLAR_EXPRESS:
        A = X @ X.mT
        X = a * X + (b * A + c * (A @ A)) @ X
    if tall:
        X = X.mT
    g = X.float()
    red = -1 if g.size(-2) >= g.size(-1) else -2
    v = g.square().mean(dim=red, keepdim=True)
    second_buf.lerp_(v, 1 - beta2)
    scale = second_buf.clamp_min(1e-10).rsqrt()
    before = (v * g.size(red)).sum(dim=(-2, -1), keepdim=True).sqrt()
    after = (v * g.size(red) * scale.square()).sum(dim=(-2, -1), keepdim=True).sqrt()
    g = g * scale * (before / after.clamp_min(1e-10))
    mask = (g * params) >= 0
    params.sub_(lr * g + lr * wd * params * mask)


def muon_step(grads, params, momentum_bufs, second_bufs, lrs, momentum, wd, beta2, ns_dtype: torch.dtype):
    """Muon on every group of same-shape matrices (one list entry per group): one compiled graph."""
    for g, p, m, s, lr in zip(grads, params, momentum_bufs, second_bufs, lrs):
        muon_update(g, p, m, s, momentum, lr, wd, beta2, ns_dtype)


class MuonAdamW:
    def __init__(self, model, device, compile_step):
        d = model.config.n_embd
        scale = (d / 768) ** -0.5  # AdamW LRs tuned at width 768
        adam_groups = [
            dict(params=list(model.lm_head.parameters()), lr=UNEMBEDDING_LR * scale),
            dict(params=list(model.wte.parameters()), lr=EMBEDDING_LR * scale),
            dict(params=list(model.value_embeds.parameters()), lr=EMBEDDING_LR * scale),
            dict(params=[model.resid_lambdas], lr=SCALAR_LR * 0.01),
            dict(params=[model.x0_lambdas], lr=SCALAR_LR, betas=(0.96, 0.95)),
        ]
        fused = device.type == "cuda"
        self.adam = torch.optim.AdamW(adam_groups, betas=ADAM_BETAS, eps=1e-10, weight_decay=0.0,
                                      fused=fused, foreach=None if fused else True)
        # Muon works on stacks of same-shape matrices
        matrices = [p for p in model.blocks.parameters() if p.ndim == 2]
        self.groups = []
        for r, c in sorted({tuple(p.shape) for p in matrices}):
            ps = [p for p in matrices if tuple(p.shape) == (r, c)]
            n = len(ps)
            self.groups.append(dict(params=ps, mom=torch.zeros(n, r, c, device=device),
                                    second=torch.zeros((n, r, 1) if r >= c else (n, 1, c), device=device),
                                    lr_scale=max(1.0, r / c) ** 0.5))
        for g in self.adam.param_groups:
            g["initial_lr"] = g["lr"]
        self.ns_dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        self.compiled = compile_step
        self.step_fn = torch.compile(muon_step, dynamic=False, fullgraph=True) if compile_step else muon_step
        # compiled: hyperparameters as 0-d CPU tensors, so new values do not trigger recompilation
        self.t = {k: torch.tensor(0.0) for k in ["momentum", "wd", "beta2"] + [f"lr{i}" for i in range(len(self.groups))]}

    @torch.no_grad()
    def step(self, lr_mult, momentum, wd):
        for g in self.adam.param_groups:
            g["lr"] = g["initial_lr"] * lr_mult
        self.adam.step()
        values = dict(momentum=momentum, wd=wd, beta2=0.95)
        values.update({f"lr{i}": MATRIX_LR * lr_mult * g["lr_scale"] for i, g in enumerate(self.groups)})
        if self.compiled:
            for k, val in values.items():
                self.t[k].fill_(val)
            values = self.t
        stacks = [torch.stack(g["params"]) for g in self.groups]
        self.step_fn([torch.stack([p.grad for p in g["params"]]) for g in self.groups], stacks,
                     [g["mom"] for g in self.groups], [g["second"] for g in self.groups],
                     [values[f"lr{i}"] for i in range(len(self.groups))], values["momentum"], values["wd"],
                     values["beta2"], self.ns_dtype)
        for g, stacked in zip(self.groups, stacks):
            torch._foreach_copy_(g["params"], list(stacked.unbind(0)))

    def reset_state(self):
        self.adam.state.clear()
        for g in self.groups:
            g["mom"].zero_()
            g["second"].zero_()


def lr_multiplier(progress):
    if progress < WARMUP_RATIO:
        return progress / WARMUP_RATIO
    if progress < 1.0 - WARMDOWN_RATIO:
        return 1.0
    cool = (1.0 - progress) / WARMDOWN_RATIO
    return cool + (1 - cool) * FINAL_LR_FRAC


def muon_momentum(step):
    frac = min(step / 300, 1)
    return (1 - frac) * 0.85 + frac * 0.95


# ---------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------

t_start = time.time()
prepare.require_prepared()
torch.manual_seed(SEED)
device = prepare.join_process_group(machine.pick_device(DEVICE, PROFILE))  # under torchrun: this process's GPU
dtype = machine.pick_dtype(device)
use_compile = (device.type == "cuda") if COMPILE is None else COMPILE
if device.type == "cuda":
    torch.cuda.manual_seed(SEED)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
autocast = machine.autocast(device, dtype)
peak, device_name = machine.peak_flops(device, dtype)
peak = peak * WORLD_SIZE if peak else peak  # MFU of the whole group

tokenizer = Tokenizer.from_directory()
vocab_size = tokenizer.get_vocab_size()
model_dim = -(-DEPTH * ASPECT_RATIO // HEAD_DIM) * HEAD_DIM
config = GPTConfig(sequence_len=MAX_SEQ_LEN, vocab_size=vocab_size, n_layer=DEPTH, n_head=model_dim // HEAD_DIM,
                   n_embd=model_dim, window_pattern=WINDOW_PATTERN, logit_softcap=LOGIT_SOFTCAP)
model = GPT(config, dtype).to(device)
model.init_weights()
num_params = sum(p.numel() for p in model.parameters())
flops_per_token = model.estimate_flops()


def pick_device_batch():
    """Largest power-of-two rows per forward pass that divides the step and fits in memory."""
    rows_per_step = TOTAL_BATCH_SIZE // MAX_SEQ_LEN // WORLD_SIZE
    if DEVICE_BATCH_SIZE is not None:
        return DEVICE_BATCH_SIZE
    if device.type != "cuda":
        return min(rows_per_step, 32)
    free, _ = torch.cuda.mem_get_info(device)
    # bytes per token of a forward pass kept for backward (bf16 activations + fp32 logits);
    # the H100 run at depth 8, width 512 measured ~204 KB per token, this gives 213 KB
    per_token = DEPTH * model_dim * 2 * 14 + vocab_size * 4 * 3
    budget = 0.85 * free - 16 * num_params * 4
    b = rows_per_step
    while b > 1 and b * MAX_SEQ_LEN * per_token > budget:
        b //= 2
    return b


B = pick_device_batch()
T = MAX_SEQ_LEN
if TOTAL_BATCH_SIZE % (B * T * WORLD_SIZE) != 0:
    fail(f"TOTAL_BATCH_SIZE={TOTAL_BATCH_SIZE} is not a multiple of DEVICE_BATCH_SIZE*MAX_SEQ_LEN*processes="
         f"{B * T * WORLD_SIZE}; change one of them.")
grad_accum = TOTAL_BATCH_SIZE // (B * T * WORLD_SIZE)
optimizer = MuonAdamW(model, device, use_compile)

print(f"Device: {device_name} | dtype: {str(dtype).replace('torch.', '')} | compile: {use_compile}")
print(f"Protocol: profile {PROFILE}, context {MAX_SEQ_LEN}, eval tokens {prepare.EVAL_TOKENS:,}, time budget {TIME_BUDGET}s, "
      f"{WORLD_SIZE} process(es)")
print(f"Model: {asdict(config)} | params {num_params / 1e6:.2f}M | FLOPs/token {flops_per_token:.3e}")
print(f"Batch: {TOTAL_BATCH_SIZE:,} tokens/step = {grad_accum} x {B} rows x {T} x {WORLD_SIZE} process(es) | MFU peak: "
      + (f"{peak / 1e12:.1f} TFLOP/s" if peak else "unknown for this device"))

warm_loader = make_dataloader(tokenizer, B, T, "train", device=device)
if KERNELS:
    x, y, _ = next(warm_loader)
    fast_path = machine.use_fast_path(model, lambda: model(x[:1], y[:1], reduction="none"), dtype, use_compile)
else:
    fast_path = {}
    print("Fast path: off (KERNELS = False); every layer runs its plain code")
run_model = torch.compile(model, dynamic=False) if use_compile else model


def train_step(loader, lr_mult, momentum, wd):
    loss_sum = torch.zeros((), device=device)
    for _ in range(grad_accum):
        x, y, epoch = next(loader)
        with autocast:
            loss = run_model(x, y, reduction="none").mean()
        (loss / grad_accum).backward()
        loss_sum += loss.detach()
    prepare.average_gradients(model)  # over the processes; one process: nothing
    optimizer.step(lr_mult, momentum, wd)
    model.zero_grad(set_to_none=True)
    return loss_sum / grad_accum, epoch


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


# Warm-up: compile and allocate on real batches, then restore the initial weights and
# optimizer state and restart the data, so that untimed steps are not free training.
t_warm = time.time()
print(f"Startup (data, tokenizer, model, fast path): {t_warm - t_start:.1f}s")
initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
try:
    for _ in range(2 if use_compile else 1):
        train_step(warm_loader, 1.0, 0.85, WEIGHT_DECAY)
    sync()
    warm_loader.close()
except torch.OutOfMemoryError:
    fail(f"out of memory at DEVICE_BATCH_SIZE={B} (context {T}, depth {DEPTH}); set DEVICE_BATCH_SIZE to {max(1, B // 2)} or make the model smaller.")
with torch.no_grad():
    for k, v in model.state_dict().items():
        v.copy_(initial[k])
optimizer.reset_state()
del initial
if device.type == "cuda":
    torch.cuda.reset_peak_memory_stats()
print(f"Warm-up (compile, allocation; weights restored afterwards): {time.time() - t_warm:.1f}s")

# ---------------------------------------------------------------------------
# Training loop: a fixed budget of timed steps (seconds, or tokens in the token-budget mode)
# ---------------------------------------------------------------------------

if prepare.BUDGET_MODE == "tokens" and prepare.TOKEN_BUDGET is not None:
    print(f"Budget: {prepare.TOKEN_BUDGET:,} tokens (calibrated; {math.ceil(prepare.TOKEN_BUDGET / TOTAL_BATCH_SIZE)} steps)")
elif prepare.BUDGET_MODE == "tokens":
    print(f"Budget: calibrating — this run trains {TIME_BUDGET}s and records the tokens it trains as the budget")

loader = make_dataloader(tokenizer, B, T, "train", device=device)
for _ in range(DATA_SKIP):
    next(loader)
gc.collect()
gc.freeze()
gc.disable()
step, training_time, smooth_loss, progress = 0, 0.0, 0.0, 0.0
step_times = []
tokens_per_step = TOTAL_BATCH_SIZE
while progress < 1.0:
    t0 = time.perf_counter()
    try:
        loss, epoch = train_step(loader, lr_multiplier(progress), muon_momentum(step), WEIGHT_DECAY * (1 - progress))
        sync()
    except torch.OutOfMemoryError:
        fail(f"out of memory at DEVICE_BATCH_SIZE={B} during training; set DEVICE_BATCH_SIZE to {max(1, B // 2)}.")
    dt = time.perf_counter() - t0
    loss_f, dt = prepare.agree_on_step(loss, dt)  # several processes: mean loss, rank 0's clock
    if not math.isfinite(loss_f) or loss_f > 100:
        fail(f"training diverged at step {step} (loss {loss_f}); lower the learning rates or undo the last change.")
    training_time += dt
    step_times.append(dt)
    smooth_loss = 0.9 * smooth_loss + 0.1 * loss_f
    debiased = smooth_loss / (1 - 0.9 ** (step + 1))
    mfu = 100 * flops_per_token * tokens_per_step / dt / peak if peak else 0.0
    remaining = max(0.0, TIME_BUDGET - training_time)
    print(f"step {step:05d} ({100 * progress:.1f}%) | loss: {debiased:.6f} | dt: {dt * 1000:.1f}ms | "
          f"tok/sec: {int(tokens_per_step / dt):,} | mfu: {mfu:.1f}% | epoch: {epoch} | remaining: {remaining:.0f}s", flush=True)
    step += 1
    progress = prepare.budget_progress(step * tokens_per_step, training_time)
loader.close()
gc.enable()

# ---------------------------------------------------------------------------
# Evaluation and summary
# ---------------------------------------------------------------------------

t_eval = time.time()
if use_compile:
    # Evaluate through the training graph (grad mode on, output detached): no second compile.
    class _EvalView(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, x, y, reduction="none"):
            with torch.enable_grad():
                return run_model(x, y, reduction="none").detach()
    eval_model, eval_batch = _EvalView(), B
else:
    eval_model, eval_batch = model.eval(), B
with autocast:
    val_bpb = evaluate_bpb(eval_model, tokenizer, eval_batch)
    test_bpb = evaluate_bpb(eval_model, tokenizer, eval_batch, split="test")  # held out: never decided on
if not math.isfinite(val_bpb):
    fail(f"val_bpb is {val_bpb}; the model diverged.")
t_end = time.time()

steady = sorted(step_times[5:] if len(step_times) > 10 else step_times)
median = steady[len(steady) // 2]
p90 = steady[min(len(steady) - 1, int(0.9 * len(steady)))]
steady_mfu = 100 * flops_per_token * tokens_per_step / median / peak if peak else 0.0
peak_vram_mb = torch.cuda.max_memory_allocated() / 1024 / 1024 if device.type == "cuda" else 0.0
total_tokens = step * tokens_per_step
total_seconds = t_end - t_start
prepare.record_world_size()  # the protocol's world size, from the first complete run
if prepare.BUDGET_MODE == "tokens" and prepare.TOKEN_BUDGET is None:
    calibrated = prepare.record_token_budget(total_tokens)
    print(f"Budget: calibrated {calibrated:,} tokens in {training_time:.1f}s, recorded in {prepare.PROTOCOL_PATH}; "
          "every later run trains exactly this many tokens")

print(f"Eval: {time.time() - t_eval:.1f}s on {prepare.EVAL_TOKENS:,} val and {prepare.PROTOCOL['test_eval_tokens']:,} test tokens")
print("---")
print(f"val_bpb:          {val_bpb:.6f}")
print(f"training_seconds: {training_time:.1f}")
print(f"total_seconds:    {total_seconds:.1f}")
print(f"peak_vram_mb:     {peak_vram_mb:.1f}")
print(f"mfu_percent:      {steady_mfu:.2f}")
print(f"total_tokens_M:   {total_tokens / 1e6:.1f}")
print(f"num_steps:        {step}")
print(f"num_params_M:     {num_params / 1e6:.1f}")
print(f"depth:            {DEPTH}")
print(f"processes:        {WORLD_SIZE}")
print(f"step_ms_median:   {median * 1000:.1f}")
print(f"step_p90_over_median: {p90 / median:.3f}")
print(f"overhead_seconds: {total_seconds - training_time:.1f}")
print(f"fast_path:        {', '.join(f'{k} ({v})' for k, v in fast_path.items()) or 'none'}")
print(f"METRIC val_bpb={val_bpb:.6f}")
print(f"METRIC test_bpb={test_bpb:.6f}  # held-out split: the session stores it, the loop never reads it")
print(f"METRIC training_seconds={training_time:.1f}")
print(f"METRIC total_seconds={total_seconds:.1f}")
print(f"METRIC peak_vram_mb={peak_vram_mb:.1f}")
if peak:
    print(f"METRIC mfu_percent={steady_mfu:.2f}")
print(f"METRIC num_steps={step}")
print(f"METRIC total_tokens_M={total_tokens / 1e6:.6f}")
print(f"METRIC step_ms_median={median * 1000:.1f}")
