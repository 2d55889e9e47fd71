"""
machine.py - the machine under train.py. Fixed like prepare.py: the agent edits train.py only.

It picks the device, the compute dtype and the attention backend, knows each GPU's peak FLOP/s
(for MFU), and holds fused CUDA kernels for four layers of train.py:

- MLP.forward: ReLU^2 fused into the MLP's first matrix product (Triton)
- CausalSelfAttention.rotary_norm: rotary embedding + QK-norm in one pass each way (Triton)
- CausalSelfAttention.attend: causal sliding-window attention on cuDNN (or FA3, or flex-attention)
- GPT.head: LM head + soft-capped cross-entropy whose backward never re-reads the logits (Triton)

use_fast_path() swaps a kernel in for a layer only after checking, on a probe batch, that it
reproduces that layer's code as train.py has it now: outputs and gradients, to bf16 tolerance.
Otherwise it prints one line naming the layer and why, and the layer's plain code runs. An edit
to train.py is therefore always honoured; at worst it runs at plain PyTorch speed.

Each kernel is a torch.library custom op with a fake kernel and an autograd formula, so
torch.compile treats it as one opaque node. Importing this file never fails: without Triton or a
GPU the kernels are simply not used.
"""
import atexit
import ctypes
import glob
import inspect
import math
import os
import re
import sys
import threading
import time

import torch
import torch.nn.functional as F

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs
    triton = None

# Triton's interpreter runs the kernels on the CPU (the tests use it)
INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


# ---------------------------------------------------------------------------
# Device, dtype, peak FLOP/s
# ---------------------------------------------------------------------------

# Dense bf16 tensor-core peak (TFLOP/s) for MFU; fp32 peak where bf16 is not used.
GPU_PEAK_TFLOPS = [
    ("H100 NVL", 835.0), ("H100 PCIe", 756.0), ("H100", 989.5), ("H200", 989.5), ("H800", 989.5), ("GH200", 989.5),
    ("B200", 2250.0), ("B100", 1750.0), ("A100", 312.0), ("A800", 312.0), ("L40S", 362.0), ("L40", 181.0),
    ("L4", 121.0), ("A10", 125.0), ("A6000", 154.8), ("RTX 4090", 165.2), ("RTX 3090", 71.0),
]
GPU_FP32_PEAK_TFLOPS = [("V100", 15.7), ("T4", 8.1), ("P100", 9.3)]


def pick_device(want, profile):
    """want: auto | cuda | mps | cpu; profile: the prepared dataset's hardware profile."""
    if want == "cuda" and not torch.cuda.is_available():
        fail("DEVICE = 'cuda' but no CUDA GPU is visible; set DEVICE = 'auto' or run on a GPU machine.")
    if want == "mps" and not torch.backends.mps.is_available():
        fail("DEVICE = 'mps' but MPS is not available; set DEVICE = 'auto'.")
    if want != "auto":
        return torch.device(want)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    if profile != "cpu":
        fail(f"the dataset was prepared with the '{profile}' (GPU) protocol but no GPU is visible; "
             "prepare a CPU dataset with `python prepare.py --profile cpu` in another AUTORESEARCH_CACHE_DIR.")
    return torch.device("cpu")


def pick_dtype(device):
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float32
    if device.type == "mps":
        try:
            with torch.autocast("mps", dtype=torch.bfloat16):
                (torch.ones(8, 8, device=device) @ torch.ones(8, 8, device=device)).sum().item()
            return torch.bfloat16
        except Exception:
            return torch.float32
    return torch.float32  # CPU: bf16 is slower than fp32 on most CPUs


def autocast(device, dtype):
    return torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)


def peak_flops(device, dtype):
    """(peak FLOP/s or None, the device's name)."""
    if device.type != "cuda":
        return None, device.type
    name = torch.cuda.get_device_name(device)
    table = GPU_PEAK_TFLOPS if dtype == torch.bfloat16 else GPU_FP32_PEAK_TFLOPS
    for key, tflops in table:
        if key in name:
            return tflops * 1e12, name
    return None, name


# ---------------------------------------------------------------------------
# ReLU^2 MLP
# ---------------------------------------------------------------------------

# Forward: one kernel computes
# relu(x @ w1.T)^2 without storing the pre-activation; backward: one kernel computes
# (gy @ w2) * 2 * relu(pre), with relu(pre) recovered as sqrt(post). Weight and input
# gradients go through cuBLAS.
# Tile configurations, fastest first: the first is the fastest of 7 on an H100 (144 KB of shared
# memory); GPUs with less shared memory per block (consumer cards: about 100 KB) take the next.
MLP_KERNEL_CONFIGS = [dict(BM=256, BN=128, BK=64, num_warps=8, num_stages=3),
                      dict(BM=128, BN=128, BK=64, num_warps=8, num_stages=2)]
_mlp_config = {}  # device index -> the configuration that launched there

if triton is not None:
    @triton.jit
    def _mm_act_kernel(a_ptr, b_ptr, c_ptr, aux_ptr, M, N, K: tl.constexpr, s_am, s_ak, s_bk, s_bn, s_cm, s_cn,
                       EPILOGUE: tl.constexpr, EVEN: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
        """C = A @ B, then EPILOGUE 0: relu(C)^2, or 1: C * 2 * sqrt(AUX), AUX laid out like C."""
        pid = tl.program_id(0)
        num_n = tl.cdiv(N, BN)
        pid_m, pid_n = pid // num_n, pid % num_n  # a row block's tiles run together: A is read once
        rm = pid_m * BM + tl.arange(0, BM)
        rn = pid_n * BN + tl.arange(0, BN)
        rk = tl.arange(0, BK)
        a = a_ptr + rm[:, None] * s_am + rk[None, :] * s_ak
        b = b_ptr + rk[:, None] * s_bk + rn[None, :] * s_bn
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        for k in range(0, K, BK):
            if EVEN:  # no bounds checks
                a_t, b_t = tl.load(a), tl.load(b)
            else:
                a_t = tl.load(a, mask=(rm[:, None] < M) & (rk[None, :] + k < K), other=0.0)
                b_t = tl.load(b, mask=(rk[:, None] + k < K) & (rn[None, :] < N), other=0.0)
            acc = tl.dot(a_t, b_t, acc)
            a += BK * s_ak
            b += BK * s_bk
        mask = (rm[:, None] < M) & (rn[None, :] < N)
        if EPILOGUE == 0:
            acc = tl.maximum(acc, 0.0)
            acc = acc * acc
        else:
            aux = tl.load(aux_ptr + rm[:, None] * s_cm + rn[None, :] * s_cn, mask=mask, other=0.0).to(tl.float32)
            acc = acc * 2.0 * tl.sqrt(aux)
        tl.store(c_ptr + rm[:, None] * s_cm + rn[None, :] * s_cn, acc.to(c_ptr.dtype.element_ty), mask=mask)


def mm_act(a, b, epilogue, aux=None):
    """(M, K) @ (K, N) with the epilogue above; any strides."""
    (M, K), N = a.shape, b.shape[1]
    if b.shape[0] != K or (aux is not None and aux.shape != (M, N)):  # the kernel would read out of bounds
        raise ValueError(f"mm_act: shapes {tuple(a.shape)} @ {tuple(b.shape)} do not chain")
    c = torch.empty((M, N), device=a.device, dtype=a.dtype)
    known = _mlp_config.get(a.device.index)
    for cfg in [known] if known else MLP_KERNEL_CONFIGS:
        cfg = dict(cfg)
        BM, BN, BK = cfg.pop("BM"), cfg.pop("BN"), cfg.pop("BK")
        grid = (triton.cdiv(M, BM) * triton.cdiv(N, BN),)
        try:
            _mm_act_kernel[grid](a, b, c, c if aux is None else aux, M, N, K, a.stride(0), a.stride(1), b.stride(0),
                                 b.stride(1), c.stride(0), c.stride(1), EPILOGUE=epilogue,
                                 EVEN=M % BM == 0 and N % BN == 0 and K % BK == 0, BM=BM, BN=BN, BK=BK, **cfg)
        except triton.runtime.errors.OutOfResources:
            continue
        _mlp_config[a.device.index] = dict(cfg, BM=BM, BN=BN, BK=BK)
        return c
    raise RuntimeError("no MLP kernel configuration fits this GPU's shared memory")


@torch.library.custom_op("autoresearch::relu2_mlp", mutates_args=())
def relu2_mlp(x: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    post = mm_act(x, w1.t(), 0)
    return post @ w2.t(), post


@torch.library.custom_op("autoresearch::relu2_mlp_grad", mutates_args=())
def relu2_mlp_grad(gy: torch.Tensor, w2: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
    return mm_act(gy, w2, 1, aux=post)


relu2_mlp.register_fake(lambda x, w1, w2: (x.new_empty(x.shape[0], w2.shape[0]), x.new_empty(x.shape[0], w1.shape[0])))
relu2_mlp_grad.register_fake(lambda gy, w2, post: torch.empty_like(post))


def _relu2_mlp_setup(ctx, inputs, output):
    ctx.save_for_backward(*inputs, output[1])


def _relu2_mlp_backward(ctx, gy, _):
    x, w1, w2, post = ctx.saved_tensors
    gy = gy.contiguous()
    g_pre = relu2_mlp_grad(gy, w2, post)
    return g_pre @ w1, g_pre.t() @ x, gy.t() @ post


relu2_mlp.register_autograd(_relu2_mlp_backward, setup_context=_relu2_mlp_setup)


# ---------------------------------------------------------------------------
# Rotary embedding + RMS norm (QK-norm)
# ---------------------------------------------------------------------------

if triton is not None:
    @triton.jit
    def _rope_norm_kernel(x_ptr, g_ptr, out_ptr, cos_ptr, sin_ptr, n_rows, T, H, eps,
                          BACKWARD: tl.constexpr, D: tl.constexpr, BLOCK_R: tl.constexpr):
        """Rows of D elements: row r is token r // H, position (r // H) % T. Forward writes
        rms_norm(rotary(x)); backward writes dL/dx given g = dL/dy."""
        HALF: tl.constexpr = D // 2
        rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
        cols = tl.arange(0, HALF)
        mask = rows[:, None] < n_rows
        offs = rows[:, None].to(tl.int64) * D + cols[None, :]
        pos = (rows // H) % T
        trig = pos[:, None] * HALF + cols[None, :]
        c = tl.load(cos_ptr + trig, mask=mask, other=0.0).to(tl.float32)
        s = tl.load(sin_ptr + trig, mask=mask, other=0.0).to(tl.float32)
        x1 = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        x2 = tl.load(x_ptr + offs + HALF, mask=mask, other=0.0).to(tl.float32)
        y1 = x1 * c + x2 * s
        y2 = x2 * c - x1 * s
        ms = (tl.sum(y1 * y1, 1) + tl.sum(y2 * y2, 1)) / D
        r = tl.rsqrt(ms + eps)[:, None]
        if BACKWARD:
            g1 = tl.load(g_ptr + offs, mask=mask, other=0.0).to(tl.float32)
            g2 = tl.load(g_ptr + offs + HALF, mask=mask, other=0.0).to(tl.float32)
            gy = (tl.sum(g1 * y1, 1) + tl.sum(g2 * y2, 1))[:, None]
            dy1 = r * g1 - r * r * r * y1 * gy / D
            dy2 = r * g2 - r * r * r * y2 * gy / D
            o1 = dy1 * c - dy2 * s
            o2 = dy1 * s + dy2 * c
        else:
            o1 = y1 * r
            o2 = y2 * r
        tl.store(out_ptr + offs, o1.to(out_ptr.dtype.element_ty), mask=mask)
        tl.store(out_ptr + offs + HALF, o2.to(out_ptr.dtype.element_ty), mask=mask)


ROPE_BLOCK_R = 32


def _rope_launch(x, g, cos, sin, backward):
    B, T, H, D = x.shape
    if cos.shape != (T, D // 2) or sin.shape != cos.shape or not (x.is_contiguous() and cos.is_contiguous() and sin.is_contiguous()):
        raise ValueError("rope_norm: x must be a contiguous (B, T, H, D), cos and sin contiguous (T, D/2)")
    out = torch.empty_like(x)
    n_rows = B * T * H
    eps = torch.finfo(x.dtype).eps  # F.rms_norm's default
    _rope_norm_kernel[(triton.cdiv(n_rows, ROPE_BLOCK_R),)](x, x if g is None else g, out, cos, sin, n_rows, T, H, eps,
                                                      BACKWARD=backward, D=D, BLOCK_R=ROPE_BLOCK_R, num_warps=4)
    return out


@torch.library.custom_op("autoresearch::rope_norm", mutates_args=())
def rope_norm(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, T, H, D) contiguous; cos, sin (T, D/2) contiguous."""
    return _rope_launch(x, None, cos, sin, False)


@torch.library.custom_op("autoresearch::rope_norm_bwd", mutates_args=())
def rope_norm_bwd(g: torch.Tensor, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return _rope_launch(x, g.contiguous(), cos, sin, True)


rope_norm.register_fake(lambda x, cos, sin: torch.empty_like(x))
rope_norm_bwd.register_fake(lambda g, x, cos, sin: torch.empty_like(x))


def _rope_norm_setup(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _rope_norm_backward(ctx, g):
    x, cos, sin = ctx.saved_tensors
    return rope_norm_bwd(g, x, cos, sin), None, None


rope_norm.register_autograd(_rope_norm_backward, setup_context=_rope_norm_setup)


# ---------------------------------------------------------------------------
# LM head + soft-capped cross-entropy
# ---------------------------------------------------------------------------

# One program per row, the whole row in registers: the fastest of 13 configurations on an H100
# (2.9 ms for 262,144 x 8,192 bf16 logits read and rewritten, 2.97 TB/s).
CE_CONFIG = dict(max_block=8192, num_warps=8)
LOG2E = math.log2(math.e)

if triton is not None:
    @triton.jit
    def _rcp(x, FAST: tl.constexpr):
        if FAST:  # one MUFU.RCP instead of a full-range division (x >= 1 here)
            return tl.inline_asm_elementwise("rcp.approx.ftz.f32 $0, $1;", "=r,r", [x], dtype=tl.float32, is_pure=True, pack=1)
        else:
            return 1.0 / x

    @triton.jit
    def _softcap(l, k, c2, FAST: tl.constexpr):
        """z = log2(e) c tanh(l / c), the capped logit in base 2, and r = (1 - tanh(l / c)) / 2, so that
        1 - tanh^2 = 4 r (1 - r) keeps its precision where |l| >> c. k = 2 log2(e) / c, c2 = c log2(e)."""
        r = _rcp(tl.exp2(l * k) + 1.0, FAST)
        return c2 * (1.0 - 2.0 * r), r

    @triton.jit
    def _ce_kernel(l_ptr, tgt_ptr, loss_ptr, V: tl.constexpr, stride, k, c2, BLOCK: tl.constexpr,
                   ONE_BLOCK: tl.constexpr, FAST: tl.constexpr, CAP_SHIFT: tl.constexpr):
        """Row n of l_ptr: logits in, d = dloss/dlogits out (in place); loss_ptr[n] = the row's loss."""
        row = tl.program_id(0)
        cols = tl.arange(0, BLOCK)
        base = l_ptr + row.to(tl.int64) * stride  # N * V can exceed 2^31
        tgt = tl.load(tgt_ptr + row)
        if ONE_BLOCK:  # the row is read once and stays in registers; its load is issued first
            l = tl.load(base + cols, mask=cols < V, other=0.0)
        valid = tgt >= 0
        zt, rt = _softcap(tl.load(base + tgt, mask=valid, other=0.0).to(tl.float32), k, c2, FAST)
        if ONE_BLOCK:
            z, r = _softcap(l.to(tl.float32), k, c2, FAST)
            z = tl.where(cols < V, z, float("-inf"))
            m = c2 if CAP_SHIFT else tl.max(z, 0)  # z <= c2 < 60: exp2(z - c2) stays a normal float, no row max needed
            e = tl.exp2(z - m)
            s = tl.sum(e, 0)
            d = e * tl.where(valid, 4.0 / s, 0.0) * (r - r * r)  # the target's -1 is added below
            tl.store(base + cols, d.to(l_ptr.dtype.element_ty), mask=cols < V)
            lse = m + tl.log2(s)
        else:  # two passes over chunks; the second re-reads the row, mostly from L2
            m, s = float("-inf"), 0.0
            for start in range(0, V, BLOCK):
                mask = start + cols < V
                z = _softcap(tl.load(base + start + cols, mask=mask, other=0.0).to(tl.float32), k, c2, FAST)[0]
                z = tl.where(mask, z, float("-inf"))
                m_new = tl.maximum(m, tl.max(z, 0))
                s = s * tl.exp2(m - m_new) + tl.sum(tl.exp2(z - m_new), 0)
                m = m_new
            lse = m + tl.log2(s)
            for start in range(0, V, BLOCK):
                mask = start + cols < V
                z, r = _softcap(tl.load(base + start + cols, mask=mask, other=0.0).to(tl.float32), k, c2, FAST)
                d = tl.exp2(z - lse) * tl.where(valid, 4.0, 0.0) * (r - r * r)
                tl.store(base + start + cols, d.to(l_ptr.dtype.element_ty), mask=mask)
        tl.debug_barrier()  # the row's stores land before its target element is rewritten
        tl.store(base + tgt, ((tl.exp2(zt - lse) - 1.0) * 4.0 * (rt - rt * rt)).to(l_ptr.dtype.element_ty), mask=valid)
        tl.store(loss_ptr + row, tl.where(valid, (lse - zt) * 0.6931471805599453, 0.0))  # ln 2: back to base e


def softcap_ce_(logits, targets, softcap):
    """In place: logits (N, V), unit stride along V, become d; returns the per-row loss (N,) fp32."""
    cfg = dict(CE_CONFIG)
    (N, V) = logits.shape
    block = min(triton.next_power_of_2(V), cfg.pop("max_block"))
    loss = torch.empty(N, device=logits.device, dtype=torch.float32)
    if N > 0:
        _ce_kernel[(N,)](logits, targets.contiguous(), loss, V, logits.stride(0), 2 * LOG2E / softcap, softcap * LOG2E,
                         BLOCK=block, ONE_BLOCK=block >= V, CAP_SHIFT=softcap * LOG2E < 60,
                         FAST=logits.is_cuda and os.environ.get("TRITON_INTERPRET") != "1", **cfg)
    return loss


@torch.library.custom_op("autoresearch::lm_head_ce", mutates_args=())
def lm_head_ce_op(x: torch.Tensor, w: torch.Tensor, targets: torch.Tensor, softcap: float) -> tuple[torch.Tensor, torch.Tensor]:
    d = torch.mm(x, w.t())  # a fresh buffer: returning it does not alias an input
    return softcap_ce_(d, targets, softcap), d


lm_head_ce_op.register_fake(lambda x, w, t, c: (x.new_empty(x.shape[0], dtype=torch.float32), x.new_empty(x.shape[0], w.shape[0])))


def _lm_head_ce_backward(ctx, g, _):
    x, w, d = ctx.saved_tensors
    g = g[:, None]
    dx = (torch.mm(d, w) * g).to(x.dtype) if ctx.needs_input_grad[0] else None
    dw = torch.mm(d.t(), (x * g).to(x.dtype)).to(w.dtype) if ctx.needs_input_grad[1] else None
    return dx, dw, None, None


lm_head_ce_op.register_autograd(_lm_head_ce_backward, setup_context=lambda ctx, inputs, output: ctx.save_for_backward(*inputs[:2], output[1]))


def lm_head_ce(x, w, targets, softcap):
    """x (N, D) normed, w (V, D) of x's dtype, targets (N,) int64 with -1 = ignored -> per-token loss (N,) fp32."""
    return lm_head_ce_op(x, w, targets, softcap)[0]


# ---------------------------------------------------------------------------
# Sliding-window attention on cuDNN
# ---------------------------------------------------------------------------

_cudnn = None  # the imported `cudnn` module once loaded
_load_error = None
_lock = threading.Lock()
_tls = threading.local()  # cuDNN handles are not thread-safe: one per thread and device
_graphs = {}  # cache key -> (graph, workspace bytes, uids in buffer order, plan name)
_UID = dict(q=1, k=2, v=3, o=4, stats=5, do=6, dq=7, dk=8, dv=9)


def _torch_libcudnn():
    """Path of the libcudnn.so.9 torch loaded (from /proc/self/maps), else one beside torch."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                m = re.search(r"(/\S*/libcudnn\.so[.\d]*)\s*$", line)
                if m:
                    return m.group(1)
    except OSError:
        pass
    site = os.path.dirname(os.path.dirname(torch.__file__))
    for pattern in ("nvidia/cudnn/lib/libcudnn.so.*[0-9]", "nvidia/cu*/lib/libcudnn.so.*[0-9]"):
        hits = sorted(glob.glob(os.path.join(site, pattern)))
        if hits:
            return hits[0]
    return None


def _load():
    """Import cudnn-frontend bound to torch's own libcudnn; remembers a failure instead of raising."""
    global _cudnn, _load_error
    if _cudnn is not None or _load_error is not None:
        return _cudnn
    try:
        if not torch.cuda.is_available():
            raise RuntimeError("no CUDA device")
        torch.backends.cudnn.version()  # makes torch dlopen its libcudnn
        path = _torch_libcudnn()
        old = os.environ.get("LD_LIBRARY_PATH")
        if path:  # the frontend tries LD_LIBRARY_PATH dirs first when it loads libcudnn at import
            os.environ["LD_LIBRARY_PATH"] = os.path.dirname(path) + (os.pathsep + old if old else "")
        try:
            import cudnn
        finally:
            if old is None:
                os.environ.pop("LD_LIBRARY_PATH", None)
            else:
                os.environ["LD_LIBRARY_PATH"] = old
        try:
            cudnn.backend_version()
        except Exception:  # not bound to a libcudnn yet: hand it torch's explicitly
            if not path:
                raise
            lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            cudnn._pybind_module._set_dlhandle_cudnn(ctypes.cast(lib._handle, ctypes.c_void_p).value)
            cudnn.backend_version()
        _cudnn = cudnn
    except Exception as e:  # noqa: BLE001
        _load_error = e
    return _cudnn


_trial = {}  # device index -> whether a small forward + backward ran there


@atexit.register
def _release_graphs():  # before interpreter teardown, or the bindings report the cached graphs as leaks
    _graphs.clear()
    getattr(_tls, "handles", {}).clear()


def cudnn_available() -> bool:
    """The frontend loads and this GPU builds and runs a small sliding-window forward + backward."""
    global _load_error
    try:
        if _load() is None:
            return False
        dev = torch.cuda.current_device()
        if dev not in _trial:
            q, k, v = (torch.randn(1, 128, 2, 128, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
            cudnn_attention(q, k, v, 64).sum().backward()
            _trial[dev] = bool(torch.isfinite(q.grad).all())
        return _trial[dev]
    except Exception as e:  # noqa: BLE001
        _load_error = e
        return False


def load_error():
    return _load_error


def _handle(device):
    handles = getattr(_tls, "handles", None)
    if handles is None:
        handles = _tls.handles = {}
    h = handles.get(device.index)
    if h is None:
        with torch.cuda.device(device):
            h = handles[device.index] = _cudnn.create_handle()
    _cudnn.set_stream(h, torch.cuda.current_stream(device).cuda_stream)  # no-op when unchanged
    return h


def _bhsd(t):
    """cuDNN's logical (B, H, T, D) dims and strides of a (B, T, H, D) tensor (no copy)."""
    B, T, H, D = t.shape
    s = t.stride()
    return [B, H, T, D], [s[0], s[2], s[1], s[3]]


def _ready(t):
    """cuDNN wants a dense last dim, 16-byte aligned base and 16-byte multiple strides."""
    if t.stride(-1) != 1 or t.data_ptr() % 16 or any(s * t.element_size() % 16 for s in t.stride()[:-1]):
        t = t.contiguous()
    return t


def _masks(window, T):
    """Mask spellings to try: the preferred diagonal band, then the deprecated flags.
    cuDNN's left bound L keeps keys with i - j < L (L tokens including self): L = window."""
    left = window if window < T else None
    c = _cudnn
    yield "band", dict(diagonal_alignment=c.diagonal_alignment.TOP_LEFT, diagonal_band_right_bound=0, diagonal_band_left_bound=left)
    yield "legacy", dict(use_causal_mask=True, sliding_window_length=left)


def _build(kind, ts, window, handle):
    c = _cudnn
    io = {torch.bfloat16: c.data_type.BFLOAT16, torch.float16: c.data_type.HALF}[ts["q"].dtype]
    B, T, H, D = ts["q"].shape
    errors = []
    for spelling, mask in _masks(window, T):
        try:
            g = c.pygraph(handle=handle, io_data_type=io, intermediate_data_type=c.data_type.FLOAT, compute_data_type=c.data_type.FLOAT)

            def declare(name):
                if name == "stats":
                    return g.tensor(name=name, dim=[B, H, T, 1], stride=[H * T, T, 1, 1], data_type=c.data_type.FLOAT, uid=_UID[name])
                dim, stride = _bhsd(ts[name])
                return g.tensor(name=name, dim=dim, stride=stride, data_type=io, uid=_UID[name])

            common = dict(attn_scale=D ** -0.5, **{k: v for k, v in mask.items() if v is not None})
            if kind == "fwd":
                outs = dict(zip(("o", "stats"), g.sdpa(name="swa", q=declare("q"), k=declare("k"), v=declare("v"), generate_stats=True, **common)))
            else:
                ins = {n: declare(n) for n in ("q", "k", "v", "o", "do", "stats")}
                dq, dk, dv = g.sdpa_backward(name="swa_bwd", q=ins["q"], k=ins["k"], v=ins["v"], o=ins["o"], dO=ins["do"], stats=ins["stats"], **common)
                outs = dict(dq=dq, dk=dk, dv=dv)
            for name, t in outs.items():
                if name == "stats":
                    dim, stride, dt = [B, H, T, 1], [H * T, T, 1, 1], c.data_type.FLOAT
                else:
                    (dim, stride), dt = _bhsd(ts[name]), io
                t.set_uid(_UID[name]).set_output(True).set_dim(dim).set_stride(stride).set_data_type(dt)
            g.build([c.heur_mode.A, c.heur_mode.FALLBACK])
            try:
                plan = f"{spelling}: {g.get_plan_name_at_index(g._plan_index)}"
            except Exception:  # noqa: BLE001
                plan = spelling
            return g, g.get_workspace_size(), tuple(_UID[n] for n in ts), plan
        except Exception as e:  # noqa: BLE001
            errors.append(f"{spelling}: {type(e).__name__}: {e}")
    raise RuntimeError(f"cuDNN could not build the SWA {kind} graph:\n  " + "\n  ".join(errors))


def _run(kind, ts, window):
    """Build (once per layout) and execute graph `kind` on the buffers `ts` (name -> tensor)."""
    if _load() is None:
        raise RuntimeError(f"cudnn frontend unavailable: {_load_error!r}")
    q = ts["q"]
    key = (kind, window, q.dtype, q.device) + tuple((n, tuple(t.shape), t.stride()) for n, t in ts.items())
    handle = _handle(q.device)
    entry = _graphs.get(key)
    if entry is None:
        with _lock:
            entry = _graphs.get(key)
            if entry is None:
                entry = _graphs[key] = _build(kind, ts, window, handle)
    g, ws, uids, _ = entry
    workspace = torch.empty(max(ws, 1), dtype=torch.uint8, device=q.device)
    bufs = [t if n == "stats" else t.transpose(1, 2) for n, t in ts.items()]  # views matching the declared dims
    g.execute(bufs, workspace, handle=handle, tensor_uids=uids)


def _effective(window, T):
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    return min(window, T)  # window >= T is plain causal


@torch.library.custom_op("autoresearch::cudnn_swa", mutates_args=(), device_types="cuda")
def _fwd(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    B, T, H, D = q.shape
    o = torch.empty(B, T, H, v.shape[-1], dtype=q.dtype, device=q.device)
    stats = torch.empty(B, H, T, 1, dtype=torch.float32, device=q.device)
    ts = dict(q=_ready(q), k=_ready(k), v=_ready(v), o=o, stats=stats)
    _run("fwd", ts, _effective(window, T))
    return o, stats


@_fwd.register_fake
def _(q, k, v, window):
    B, T, H, D = q.shape
    return q.new_empty(B, T, H, v.shape[-1]), q.new_empty(B, H, T, 1, dtype=torch.float32)


@torch.library.custom_op("autoresearch::cudnn_swa_bwd", mutates_args=(), device_types="cuda")
def _bwd(
    do: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, o: torch.Tensor, stats: torch.Tensor, window: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    dq, dk, dv = (torch.empty(t.shape, dtype=t.dtype, device=t.device) for t in (q, k, v))
    ts = dict(q=_ready(q), k=_ready(k), v=_ready(v), o=_ready(o), do=_ready(do), stats=stats.contiguous(), dq=dq, dk=dk, dv=dv)
    _run("bwd", ts, _effective(window, q.shape[1]))
    return dq, dk, dv


@_bwd.register_fake
def _(do, q, k, v, o, stats, window):
    return q.new_empty(q.shape), k.new_empty(k.shape), v.new_empty(v.shape)


def _swa_setup(ctx, inputs, output):
    q, k, v, window = inputs
    o, stats = output
    ctx.save_for_backward(q, k, v, o, stats)
    ctx.window = window


def _swa_backward(ctx, do, _dstats):  # stats only feed the backward; their gradient is ignored
    q, k, v, o, stats = ctx.saved_tensors
    dq, dk, dv = torch.ops.autoresearch.cudnn_swa_bwd(do, q, k, v, o, stats, ctx.window)
    return dq, dk, dv, None


_fwd.register_autograd(_swa_backward, setup_context=_swa_setup)


def cudnn_attention(q, k, v, window):
    """Causal sliding-window attention, scale 1/sqrt(D). q, k, v: (B, T, H, D) -> (B, T, H, D)."""
    return torch.ops.autoresearch.cudnn_swa(q, k, v, int(window))[0]


# ---------------------------------------------------------------------------
# Attention backends: causal attention over the last `window` keys, (B, T, H, D) in and out
# ---------------------------------------------------------------------------

_flex_masks = {}  # (window, T, device) -> BlockMask; the probe builds them, outside compiled code


def _fa3_attention():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a kernel already in the cache only, never the network
    from kernels import get_kernel
    fa3 = get_kernel("varunneal/flash-attention-3").flash_attn_interface.flash_attn_func

    def attend(q, k, v, window):
        T = q.size(1)
        out = fa3(q.to(v.dtype), k.to(v.dtype), v, causal=True, window_size=(window - 1 if window < T else -1, 0))
        return out[0] if isinstance(out, tuple) else out
    return attend


def _cudnn_attend(q, k, v, window):
    return cudnn_attention(q.to(v.dtype), k.to(v.dtype), v, window)


def _flex_attend(q, k, v, window):
    """flex-attention for windows shorter than the context, SDPA's causal kernel for the rest."""
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    T = q.size(1)
    q, k, v = q.to(v.dtype).transpose(1, 2), k.to(v.dtype).transpose(1, 2), v.transpose(1, 2)
    if window >= T:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2)
    key = (window, T, q.device)
    if key not in _flex_masks:
        def mask_mod(b, h, i, j):
            return (j <= i) & (i - j < window)
        _flex_masks[key] = create_block_mask(mask_mod, None, None, T, T, device=q.device)
    return flex_attention(q, k, v, block_mask=_flex_masks[key]).transpose(1, 2)


def attention_backend(device, compiled):
    """(name, attend(q, k, v, window)) of the fastest attention here: FA3 on Hopper when the `kernels`
    package has it cached, else cuDNN, else flex-attention (compiled runs only); (None, None) elsewhere."""
    if device.type != "cuda":
        return None, None
    if torch.cuda.get_device_capability(device)[0] == 9:
        try:
            return "fa3", _fa3_attention()
        except Exception:  # noqa: BLE001 - not installed or not cached: the next backend
            pass
    if cudnn_available():
        return "cudnn", _cudnn_attend
    if compiled:
        return "flex", _flex_attend
    return None, None


# ---------------------------------------------------------------------------
# The fast path: a kernel replaces a layer of train.py only where it computes the same thing
# ---------------------------------------------------------------------------

# Largest relative difference (norm of the difference / norm of train.py's result) allowed in any
# output or gradient: bf16 rounding of two different summation orders stays well below it, an
# edited formula does not.
TOLERANCE = 0.02
# The probe runs each layer with its parameters redrawn at these scales (std times 1/sqrt(fan-in)):
# 1 is the trained regime; 30 drives logits past the soft-cap and activations far from zero, where
# formulas that agree near zero part.
PROBE_SCALES = (1.0, 30.0)


def _require(ok, reason):
    if not ok:
        raise ValueError(reason)


def _fused_mlp(dtype):
    def forward(mlp, x):
        w1, w2 = mlp.c_fc.weight, mlp.c_proj.weight
        _require(mlp.c_fc.bias is None and mlp.c_proj.bias is None, "the kernel has no biases")
        _require(w1.shape[1] == x.size(-1) and w2.shape[1] == w1.shape[0], "weight shapes do not chain")
        y, _ = relu2_mlp(x.reshape(-1, x.size(-1)).to(dtype), w1.to(dtype), w2.to(dtype))
        return y.view(*x.shape[:-1], w2.shape[0])
    return forward


def _fused_rotary_norm(attn, q, k, cos, sin):
    T, D = q.size(1), q.size(-1)
    _require(q.dim() == 4 and k.shape == q.shape and D % 2 == 0, "q and k must be (B, T, H, D) alike")
    _require(cos.shape == (1, T, 1, D // 2) and sin.shape == cos.shape, "cos and sin must be (1, T, 1, D/2)")
    c, s = cos[0, :, 0].contiguous(), sin[0, :, 0].contiguous()
    return rope_norm(q.contiguous(), c, s), rope_norm(k.contiguous(), c, s)


def _fused_head(dtype):
    def head(gpt, x, targets, reduction):
        cap = gpt.config.logit_softcap
        _require(targets is not None and reduction == "none", "the kernel computes per-token losses only")
        _require(isinstance(cap, (int, float)) and cap > 0, "the kernel needs a positive config.logit_softcap")
        x = F.rms_norm(x, (x.size(-1),)).reshape(-1, x.size(-1)).to(dtype)
        return lm_head_ce(x, gpt.lm_head.weight.to(dtype), targets.reshape(-1), float(cap))
    return head


def _kind(a):
    if isinstance(a, torch.Tensor):
        return "tensor"
    if a is None or isinstance(a, (bool, int, float, str)):
        return a
    return type(a).__name__


def _signature(args, kwargs):
    """What a call passes besides tensor values: a kernel serves only calls like the ones it was checked on."""
    return tuple(_kind(a) for a in args) + tuple((k, _kind(v)) for k, v in sorted(kwargs.items()))


def _tensors(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    return []


def _difference(ref, got):
    """Relative difference of got from train.py's ref (None counts as zeros)."""
    if ref is None and got is None:
        return 0.0
    ref = torch.zeros_like(got) if ref is None else ref.detach().float()
    got = torch.zeros_like(ref) if got is None else got.detach().float()
    if ref.shape != got.shape:
        return math.inf
    scale, diff = ref.norm().item(), (ref - got).norm().item()
    if scale == 0:
        return 0.0 if diff == 0 else math.inf
    return diff / scale if math.isfinite(diff) else math.inf


def _run_with_grads(fn, args, kwargs, leaves, upstream, amp):
    with amp:
        outs = _tensors(fn(*args, **kwargs))
    if upstream is None:
        gen = torch.Generator(device=outs[0].device if outs else "cpu").manual_seed(0)
        upstream = [torch.randn(o.shape, generator=gen, device=o.device) for o in outs]
    live = [(o, g) for o, g in zip(outs, upstream) if o.requires_grad and o.shape == g.shape]
    grads = [None] * len(leaves)
    if live:
        total = sum((o.float() * g).sum() for o, g in live)
        grads = list(torch.autograd.grad(total, leaves, allow_unused=True))
    return outs, grads, upstream


def _check(module, method, fused, args, kwargs, amp):
    """Largest difference between train.py's method and the kernel over the probe scales, and where."""
    plain = getattr(type(module), method).__get__(module)
    params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    arg_names = list(inspect.signature(plain).parameters)
    inputs = [(f"input {arg_names[i] if i < len(arg_names) else i}", a)
              for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad]
    leaves = [t for _, t in inputs] + [p for _, p in params]
    names = [n for n, _ in inputs] + [f"the gradient of {n}" for n, _ in params]
    saved = [p.detach().clone() for _, p in params]
    gen = torch.Generator(device=saved[0].device if saved else "cpu").manual_seed(1)
    worst, where = 0.0, ""
    try:
        for scale in PROBE_SCALES:
            with torch.no_grad():
                for _, p in params:
                    if p.dim() >= 2:
                        p.normal_(0.0, scale / math.sqrt(p[0].numel()), generator=gen)
                    else:
                        p.uniform_(0.5, 1.5, generator=gen)
            ref, ref_grads, upstream = _run_with_grads(plain, args, kwargs, leaves, None, amp)
            got, got_grads, _ = _run_with_grads(lambda *a, **k: fused(module, *a, **k), args, kwargs, leaves, upstream, amp)
            if [o.shape for o in ref] != [o.shape for o in got]:
                return math.inf, f"its outputs have other shapes ({[tuple(o.shape) for o in got]})"
            pairs = [(f"output {i}", r, g) for i, (r, g) in enumerate(zip(ref, got))]
            pairs += [(n.replace("input", "the gradient of input"), r, g) for n, r, g in zip(names, ref_grads, got_grads)]
            for name, r, g in pairs:
                d = _difference(r, g)
                if not d <= worst:
                    worst, where = d, f"{name} at probe scale {scale:g}"
            if all(g is None for g in ref_grads[len(inputs):]):
                break  # the method uses none of the module's parameters: other scales change nothing
    finally:
        with torch.no_grad():
            for (_, p), s in zip(params, saved):
                p.copy_(s)
    return worst, where


def _capture(sites, probe, amp):
    """Run probe() once with each (module, method) wrapped to record its calls:
    {(id(module), method): {signature: (args, kwargs)}}, tensors detached (leaves that keep requires_grad)."""
    calls = {}

    def spy_on(module, method):
        bound = getattr(module, method)

        def spy(*args, **kwargs):
            frozen = tuple(a.detach().requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor) else a for a in args)
            calls.setdefault((id(module), method), {}).setdefault(_signature(args, kwargs), (frozen, dict(kwargs)))
            return bound(*args, **kwargs)
        module.__dict__[method] = spy

    for module, method in sites:
        spy_on(module, method)
    try:
        with amp:
            probe()
    finally:
        for module, method in sites:
            module.__dict__.pop(method, None)
    return calls


def _swap_in(module, method, fused, signatures):
    plain = getattr(type(module), method).__get__(module)

    def fast(*args, **kwargs):
        if _signature(args, kwargs) in signatures:
            return fused(module, *args, **kwargs)
        return plain(*args, **kwargs)
    module.__dict__[method] = fast


def use_fast_path(model, probe, dtype, compiled):
    """Swap the kernels in for the layers of `model` they reproduce; probe() runs one forward pass on
    a probe batch. Prints one line per layer; returns {layer: what now runs it} for the swapped ones."""
    t0 = time.time()
    device = next(model.parameters()).device
    amp = autocast(device, dtype)
    kernels = []  # (class name, method, what replaces it, fused(module, *args, **kwargs))
    if triton is not None and (device.type == "cuda" or (device.type == "cpu" and INTERPRET)):
        kernels += [("MLP", "forward", "fused ReLU^2 kernel", _fused_mlp(dtype)),
                    ("CausalSelfAttention", "rotary_norm", "fused rotary + QK-norm kernel", _fused_rotary_norm),
                    ("GPT", "head", "fused LM head + soft-capped cross-entropy kernel", _fused_head(dtype))]
    backend, attend = attention_backend(device, compiled)
    if attend is not None:
        kernels.append(("CausalSelfAttention", "attend", f"{backend} attention", lambda m, *a, **k: attend(*a, **k)))
    if not kernels:
        print(f"Fast path: none on {device.type}; every layer runs train.py's plain code", flush=True)
        return {}
    sites = {}  # (class, method) -> [(module name, module)]
    for name, module in model.named_modules():
        for cls, method, _, _ in kernels:
            if type(module).__name__ == cls and callable(type(module).__dict__.get(method)):
                sites.setdefault((cls, method), []).append((name or "model", module))
    calls = _capture([(m, method) for (_, method), found in sites.items() for _, m in found], probe, amp)
    used = {}
    for cls, method, what, fused in kernels:
        layer = f"{cls}.{method}"
        found = sites.get((cls, method), [])
        if not found:
            print(f"Fast path: {layer} keeps its plain code: the model has no {layer} for the {what}", flush=True)
            continue
        worst, where, checked, t_layer = 0.0, "", [], time.time()
        for name, module in found:
            recorded = calls.get((id(module), method), {})
            if not recorded:
                worst, where = math.inf, f"{name} was never called by the probe"
            for args, kwargs in recorded.values():
                try:
                    d, at = _check(module, method, fused, args, kwargs, amp)
                except Exception as e:  # noqa: BLE001 - the kernel cannot run this call
                    d, at = math.inf, f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
                if not d <= worst:
                    worst, where = d, f"{at} in {name}"
            checked.append((module, list(recorded)))
        if not worst <= TOLERANCE:
            diff = "" if math.isinf(worst) else f" by {100 * worst:.1f}%"
            print(f"Fast path: {layer} keeps its plain code: the {what} differs from it{diff} ({where})", flush=True)
            continue
        for module, signatures in checked:
            _swap_in(module, method, fused, tuple(signatures))
        used[layer] = what
        print(f"Fast path: {layer} -> {what} ({len(found)} checked in {time.time() - t_layer:.1f}s, "
              f"largest difference {100 * worst:.2f}%)", flush=True)
    print(f"Fast path: checked in {time.time() - t0:.1f}s", flush=True)
    return used
