"""
prepare.py - the fixed harness. The agent never edits this file.

It builds one prepared dataset in the cache directory and provides what train.py
imports at run time: the evaluation protocol (MAX_SEQ_LEN, TIME_BUDGET, EVAL_TOKENS, and in
the token-budget mode BUDGET_MODE and TOKEN_BUDGET),
the tokenizer, exact token byte lengths, the packing dataloader and evaluate_bpb.

Usage:
    python prepare.py                               # climbmix web corpus (needs the network once)
    python prepare.py --source stdlib               # offline: this Python's standard library sources
    python prepare.py --source local --path DIR     # offline: any text files (a directory or a glob)
    python prepare.py --source stdlib --profile cpu --time-budget 20   # quick CPU setting
    python prepare.py --source stdlib --budget tokens   # every run trains the same number of tokens

Cache: ~/.cache/autoresearch, or $AUTORESEARCH_CACHE_DIR. One prepared dataset per cache
directory; its protocol is recorded in protocol.json and checked by every later run.
"""

import argparse
import atexit
import bisect
import glob
import hashlib
import itertools
import json
import math
import os
import pickle
import queue
import shutil
import sys
import sysconfig
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tiktoken
import torch

# ---------------------------------------------------------------------------
# Fixed constants
# ---------------------------------------------------------------------------

PROTOCOL_VERSION = 2  # 2: a held-out test split beside train and val
VOCAB_SIZE = 8192
# GPT-4 style split pattern, digits grouped by at most two
SPLIT_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
SPECIAL_TOKENS = [f"<|reserved_{i}|>" for i in range(4)]
BOS_TOKEN = SPECIAL_TOKENS[0]

CLIMBMIX_REPO = "karpathy/climbmix-400b-shuffle"
CLIMBMIX_MAX_SHARD = 6542            # shard_06542.parquet is the last shard ...
CLIMBMIX_VAL_SHARD = CLIMBMIX_MAX_SHARD  # ... and the pinned validation shard
CLIMBMIX_TEST_SHARD = CLIMBMIX_MAX_SHARD - 1  # the held-out test shard, never trained on
LOCAL_VAL_SHARD = "shard_val.parquet"
LOCAL_TEST_SHARD = "shard_test.parquet"
EVAL_SPLITS = ("val", "test")  # test is held out: train.py reports it, the loop never decides on it

# Evaluation protocol per hardware profile: context length, evaluation tokens, time budget,
# and how many characters the tokenizer is trained on.
PROFILES = {
    "datacenter": dict(max_seq_len=2048, eval_tokens=40 * 524288, time_budget=300, tokenizer_chars=1_000_000_000),
    "consumer": dict(max_seq_len=1024, eval_tokens=8 * 524288, time_budget=300, tokenizer_chars=200_000_000),
    "cpu": dict(max_seq_len=256, eval_tokens=32768, time_budget=60, tokenizer_chars=20_000_000),
}
DOCS_PER_SHARD = 50_000  # local sources: documents per parquet shard
# local sources: files are cut at line ends into documents of at most this many characters per token
# of context, so that most documents fit whole in a row (packing crops what does not fit). Measured on
# the standard library: one epoch packs 90-91 % of the training tokens at contexts 256 and 2048; with
# 8000-character documents, 15 % at context 256.
DOC_CHARS_PER_TOKEN = 2
ROW_GROUP_SIZE = 1024

CACHE_DIR = os.environ.get("AUTORESEARCH_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "autoresearch")
CACHE_DIR = os.path.abspath(CACHE_DIR)
DATA_DIR = os.path.join(CACHE_DIR, "data")
TOKENIZER_DIR = os.path.join(CACHE_DIR, "tokenizer")
TOKENS_DIR = os.path.join(CACHE_DIR, "tokens")
PROTOCOL_PATH = os.path.join(CACHE_DIR, "protocol.json")


class PrepareError(Exception):
    """A problem the user can fix; printed as one sentence, then exit(1)."""


def fail(message, code=1):
    print(f"ERROR: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def _atomic_write_bytes(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _atomic_save_npy(path, array):
    tmp = f"{path}.tmp{os.getpid()}.npy"
    np.save(tmp, array)
    os.replace(tmp, path)


def _load_protocol():
    try:
        with open(PROTOCOL_PATH) as f:
            return json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        return {"version": -1}


# The protocol of the prepared dataset, read once at import. train.py imports these names.
PROTOCOL = _load_protocol()
_p = PROTOCOL if (PROTOCOL and PROTOCOL.get("version") == PROTOCOL_VERSION) else None
PROFILE = _p["profile"] if _p else "datacenter"
MAX_SEQ_LEN = _p["max_seq_len"] if _p else PROFILES["datacenter"]["max_seq_len"]
TIME_BUDGET = _p["time_budget"] if _p else PROFILES["datacenter"]["time_budget"]
EVAL_TOKENS = _p["eval_tokens"] if _p else PROFILES["datacenter"]["eval_tokens"]
# "time": train for TIME_BUDGET seconds. "tokens": train exactly TOKEN_BUDGET tokens, calibrated by the
# first run as the tokens it trains in TIME_BUDGET seconds (None until then), so that a run's val_bpb
# does not depend on how fast the machine happened to be.
BUDGET_MODE = _p.get("budget_mode", "time") if _p else "time"
TOKEN_BUDGET = _p.get("token_budget") if _p else None
del _p


def record_token_budget(tokens):
    """Write the calibrated token budget into protocol.json once; later calls keep the first value."""
    protocol = _load_protocol()
    if protocol is None or protocol.get("budget_mode") != "tokens":
        fail("record_token_budget is only for a dataset prepared with --budget tokens.")
    if protocol.get("token_budget"):
        return protocol["token_budget"]
    if _rank_and_size()[0] != 0:  # rank 0 writes it
        return int(tokens)
    protocol["token_budget"] = int(tokens)
    protocol["token_budget_calibrated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _atomic_write_bytes(PROTOCOL_PATH, json.dumps(protocol, indent=1).encode())
    return int(tokens)


def _load_array(path, mmap_mode=None):
    """np.load, or one sentence naming the file when it is truncated or not an array."""
    try:
        return np.load(path, mmap_mode=mmap_mode)
    except FileNotFoundError:
        fail(f"the prepared dataset in {CACHE_DIR} is incomplete ({os.path.basename(path)} is missing); re-run `python prepare.py --force`.")
    except (ValueError, OSError, EOFError):
        fail(f"{path} is damaged (truncated or not a numpy array); re-run `python prepare.py --force` with its original flags.")


def budget_progress(tokens, seconds):
    """How far a run is through its training budget (1.0 = done): TIME_BUDGET seconds, or in the
    token-budget mode TOKEN_BUDGET tokens once calibrated. A run that needs more than twice
    TIME_BUDGET seconds for the token budget is stopped: it is too slow to compare."""
    if BUDGET_MODE == "tokens" and TOKEN_BUDGET is not None:
        if tokens >= TOKEN_BUDGET:
            return 1.0
        if seconds > 2 * TIME_BUDGET:
            fail(f"the token budget needs more than twice the {TIME_BUDGET}s it was calibrated on; this change "
                 "makes training too slow to compare.")
        return tokens / TOKEN_BUDGET
    return min(seconds / TIME_BUDGET, 1.0)


def require_prepared():
    """Exit with one clear sentence unless the cache holds a complete dataset of this protocol version."""
    if PROTOCOL is None:
        fail(f"no prepared dataset in {CACHE_DIR}; run `python prepare.py` (or `python prepare.py --source stdlib` offline) first.")
    if PROTOCOL.get("version") != PROTOCOL_VERSION:
        fail(f"the dataset in {CACHE_DIR} was prepared by another version of prepare.py (protocol "
             f"{PROTOCOL.get('version')}, expected {PROTOCOL_VERSION}); re-run `python prepare.py --force` with its original flags.")
    for path in [os.path.join(TOKENIZER_DIR, "tokenizer.pkl"), os.path.join(TOKENIZER_DIR, "token_bytes.npy"),
                 os.path.join(TOKENS_DIR, "val_rows.npy"), os.path.join(TOKENS_DIR, "test_rows.npy"),
                 os.path.join(TOKENS_DIR, "manifest.json")]:
        if not os.path.exists(path):
            fail(f"the prepared dataset in {CACHE_DIR} is incomplete ({os.path.basename(path)} is missing); re-run `python prepare.py --force`.")
    for split in EVAL_SPLITS:  # a truncated file fails here, not after training
        _load_array(os.path.join(TOKENS_DIR, f"{split}_rows.npy"), mmap_mode="r")
    return PROTOCOL


# ---------------------------------------------------------------------------
# Hardware profile
# ---------------------------------------------------------------------------

def detect_profile():
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        total = torch.cuda.get_device_properties(0).total_memory
        datacenter = any(k in name for k in ("H100", "H200", "H800", "GH200", "B100", "B200", "A100", "A800", "MI300", "MI325"))
        return ("datacenter" if datacenter or total >= 60 * 2**30 else "consumer"), name
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "consumer", "Apple MPS"
    return "cpu", "CPU"


# ---------------------------------------------------------------------------
# Data sources -> parquet shards (column "text") in DATA_DIR
# ---------------------------------------------------------------------------

def _shard_name(index):
    return f"shard_{index:05d}.parquet"


def _write_parquet(path, texts):
    tmp = f"{path}.tmp{os.getpid()}"
    table = pa.table({"text": pa.array(texts, type=pa.string())})
    pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE)
    os.replace(tmp, path)


def download_climbmix(num_shards, workers, repo_id=CLIMBMIX_REPO):
    """Download training shards and the pinned validation and test shards with huggingface_hub.

    Parallel (threads), resumable (huggingface_hub resumes .incomplete files), retried with
    backoff, atomic (a shard appears under its name only once complete), offline-aware."""
    try:
        from huggingface_hub import constants as hf_constants, hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError
        from tqdm.auto import tqdm
    except ImportError:
        raise PrepareError("--source climbmix needs the huggingface_hub package; `pip install huggingface_hub`, "
                           "or use --source stdlib / --source local --path DIR offline")
    os.makedirs(DATA_DIR, exist_ok=True)
    ids = list(range(min(num_shards, CLIMBMIX_TEST_SHARD))) + [CLIMBMIX_TEST_SHARD, CLIMBMIX_VAL_SHARD]
    missing = [i for i in ids if not os.path.exists(os.path.join(DATA_DIR, _shard_name(i)))]
    print(f"Data: {len(ids) - len(missing)}/{len(ids)} climbmix shards present in {DATA_DIR}")
    if not missing:
        return ids
    offline = bool(hf_constants.HF_HUB_OFFLINE)
    if offline:
        print("Data: offline mode (HF_HUB_OFFLINE) is on; only shards already cached can be used")

    def fetch(index):
        name = _shard_name(index)
        for attempt in range(1, 6):
            try:
                hf_hub_download(repo_id=repo_id, repo_type="dataset", filename=name, local_dir=DATA_DIR)
                return None
            except (LocalEntryNotFoundError, EntryNotFoundError, RepositoryNotFoundError) as e:
                return f"{name}: {type(e).__name__}"
            except Exception as e:  # network errors, 5xx: retry with backoff
                if attempt == 5:
                    return f"{name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                time.sleep(min(2 ** attempt, 30))
        return f"{name}: failed"

    from concurrent.futures import ThreadPoolExecutor, as_completed
    errors = []
    try:  # one overall bar instead of one per file and thread
        from huggingface_hub.utils import disable_progress_bars
        disable_progress_bars()
    except ImportError:
        pass
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(missing)))) as pool:
        futures = [pool.submit(fetch, i) for i in missing]
        for fut in tqdm(as_completed(futures), total=len(futures), desc="climbmix shards", unit="shard"):
            err = fut.result()
            if err:
                errors.append(err)
    if errors:
        if offline:
            raise PrepareError(f"{len(errors)} climbmix shard(s) are not in the cache and offline mode is on "
                               f"(e.g. {errors[0]}); go online once, or use --source stdlib / --source local --path DIR")
        raise PrepareError(f"could not download {len(errors)} climbmix shard(s) from the Hugging Face hub (e.g. {errors[0]}); "
                           "check the network or HF_ENDPOINT and re-run (finished shards are kept), "
                           "or use --source stdlib / --source local --path DIR offline")
    return ids


def _glob_base(pattern):
    parts = pattern.split(os.sep)
    base = []
    for part in parts:
        if glob.has_magic(part):
            break
        base.append(part)
    return os.sep.join(base) or "."


def local_path(path):
    """--path made absolute (a glob's magic left as it is)."""
    return os.path.abspath(os.path.expanduser(path))


def collect_files(path, exclude_dirs=()):
    """Files named by a directory (recursively) or a glob; returns (base, sorted list)."""
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        base = path
        files = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in exclude_dirs)
            files.extend(os.path.join(root, n) for n in names if not n.startswith("."))
    elif glob.has_magic(path):
        base = _glob_base(path)
        files = [f for f in glob.glob(path, recursive=True)
                 if os.path.isfile(f) and not any(f"{os.sep}{d}{os.sep}" in f for d in exclude_dirs)]
    elif os.path.isfile(path):
        base = os.path.dirname(path) or "."
        files = [path]
    else:
        raise PrepareError(f"--path {path} does not exist or matches no files; pass a directory, a file or a glob such as 'DIR/**/*.txt'")
    if not files:
        raise PrepareError(f"--path {path} matches no files; pass a directory, a file or a glob such as 'DIR/**/*.txt'")
    return base, sorted(files)


def _read_text(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if not data or b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def split_document(text, max_chars):
    """Cut a long text at line ends into pieces of at most max_chars (a longer line is cut
    hard); the pieces concatenate back to the text."""
    if len(text) <= max_chars:
        return [text]
    pieces, current, size = [], [], 0
    for line in text.splitlines(keepends=True):
        while len(line) > max_chars:
            if current:
                pieces.append("".join(current))
                current, size = [], 0
            pieces.append(line[:max_chars])
            line = line[max_chars:]
        if size + len(line) > max_chars and current:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        pieces.append("".join(current))
    return pieces


def _hash01(key):
    return int.from_bytes(hashlib.sha1(key.encode("utf-8", "surrogatepass")).digest()[:8], "big") / 2**64


def build_local_shards(path, base, files, val_fraction, doc_chars):
    """Any UTF-8 text files -> parquet shards with a deterministic train/val/test split.

    val_fraction of the files is validation and as many again the held-out test split. A file's
    split and its position in the training order depend only on its path relative
    to the base directory, so the same files give the same dataset on every machine. Files
    longer than doc_chars become several documents (cut at line ends), so that packing,
    which crops a document that does not fit, uses most of the text."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1)) as pool:
        texts = list(pool.map(_read_text, files, chunksize=64))
    docs = []
    skipped = 0
    for f, t in zip(files, texts):
        if t is None or not t.strip():
            skipped += 1
            continue
        key = os.path.relpath(f, base)
        where = _hash01("split:" + key)
        split = "val" if where < val_fraction else "test" if where < 2 * val_fraction else "train"
        docs.append([_hash01("order:" + key), split, t])
    if skipped:
        print(f"Data: skipped {skipped} empty, unreadable or non-UTF-8 file(s)")
    if len(docs) < 3:
        raise PrepareError(f"--path {path} has {len(docs)} readable UTF-8 text file(s); at least 3 are needed (one each for training, validation and test)")
    docs.sort(key=lambda d: d[0])  # deterministic pseudo-random order
    for split in ("val", "test", "train"):  # a split the hash left empty takes a file from the largest
        if not any(d[1] == split for d in docs):
            largest = max(("train", "val", "test"), key=lambda name: sum(d[1] == name for d in docs))
            next(d for d in docs if d[1] == largest)[1] = split
    train, val, test = ([piece for _, where, t in docs if where == split for piece in split_document(t, doc_chars)]
                        for split in ("train", "val", "test"))
    os.makedirs(DATA_DIR, exist_ok=True)
    for name in os.listdir(DATA_DIR):  # a rebuild replaces the old shards
        if name.endswith(".parquet"):
            os.remove(os.path.join(DATA_DIR, name))
    n_shards = 0
    for start in range(0, len(train), DOCS_PER_SHARD):
        _write_parquet(os.path.join(DATA_DIR, _shard_name(n_shards)), train[start:start + DOCS_PER_SHARD])
        n_shards += 1
    _write_parquet(os.path.join(DATA_DIR, LOCAL_VAL_SHARD), val)
    _write_parquet(os.path.join(DATA_DIR, LOCAL_TEST_SHARD), test)
    chars = sum(map(len, train)) + sum(map(len, val)) + sum(map(len, test))
    print(f"Data: {len(train)} train + {len(val)} val + {len(test)} test documents ({chars / 1e6:.1f}M characters) "
          f"from {base} -> {n_shards} train shard(s) + {LOCAL_VAL_SHARD} + {LOCAL_TEST_SHARD}")


def stdlib_path():
    return sysconfig.get_paths()["stdlib"]


def list_shards(val_shard, test_shard):
    if not os.path.isdir(DATA_DIR):
        return [], None, None
    names = sorted(n for n in os.listdir(DATA_DIR) if n.endswith(".parquet"))
    train = [os.path.join(DATA_DIR, n) for n in names if n not in (val_shard, test_shard)]
    val = os.path.join(DATA_DIR, val_shard) if val_shard in names else None
    test = os.path.join(DATA_DIR, test_shard) if test_shard in names else None
    return train, val, test


def iter_texts(paths):
    for path in paths:
        pf = pq.ParquetFile(path)
        for rg in range(pf.num_row_groups):
            yield from pf.read_row_group(rg, columns=["text"]).column("text").to_pylist()


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------

def train_tokenizer(train_paths, vocab_size, max_chars, doc_cap=10_000):
    try:
        import rustbpe
    except ImportError:
        raise PrepareError("training the tokenizer needs the rustbpe package; `pip install rustbpe`")

    def texts():
        n = 0
        for text in iter_texts(train_paths):
            text = text[:doc_cap]
            n += len(text)
            yield text
            if n >= max_chars:
                return

    t0 = time.time()
    bpe = rustbpe.Tokenizer()
    bpe.train_from_iterator(texts(), vocab_size - len(SPECIAL_TOKENS), pattern=SPLIT_PATTERN)
    ranks = {bytes(k): v for k, v in bpe.get_mergeable_ranks()}
    enc = tiktoken.Encoding(
        name="autoresearch",
        pat_str=bpe.get_pattern(),
        mergeable_ranks=ranks,
        special_tokens={name: len(ranks) + i for i, name in enumerate(SPECIAL_TOKENS)},
    )
    # Exact byte length of every token, straight from the vocabulary's bytes (special tokens: 0).
    token_bytes = np.zeros(enc.n_vocab, dtype=np.int32)
    for b, rank in ranks.items():
        token_bytes[rank] = len(b)
    sample = "Hello world! Numbers: 123. Unicode: 你好 ✓ \U0001F600"
    if enc.decode(enc.encode_ordinary(sample)) != sample:
        raise PrepareError("the trained tokenizer fails a round trip; the training corpus is probably too small")
    os.makedirs(TOKENIZER_DIR, exist_ok=True)
    _atomic_save_npy(os.path.join(TOKENIZER_DIR, "token_bytes.npy"), token_bytes)
    _atomic_write_bytes(os.path.join(TOKENIZER_DIR, "tokenizer.pkl"), pickle.dumps(enc))
    print(f"Tokenizer: trained BPE with {enc.n_vocab} tokens in {time.time() - t0:.1f}s")
    if enc.n_vocab < vocab_size:
        print(f"Tokenizer: the corpus supports only {enc.n_vocab} of the {vocab_size} tokens asked for; using {enc.n_vocab}")
    return enc


class Tokenizer:
    """Thin wrapper around the tiktoken encoding; BOS is <|reserved_0|>."""

    def __init__(self, enc):
        self.enc = enc
        self.bos_token_id = enc.encode_single_token(BOS_TOKEN)

    @classmethod
    def from_directory(cls, tokenizer_dir=None):
        path = os.path.join(tokenizer_dir or TOKENIZER_DIR, "tokenizer.pkl")
        try:
            with open(path, "rb") as f:
                return cls(pickle.load(f))
        except FileNotFoundError:
            fail(f"no tokenizer at {path}; run `python prepare.py` first.")

    def get_vocab_size(self):
        return self.enc.n_vocab

    def get_bos_token_id(self):
        return self.bos_token_id

    def encode(self, text, prepend=None, num_threads=8):
        if isinstance(text, str):
            ids = self.enc.encode_ordinary(text)
            return ([prepend] + ids) if prepend is not None else ids
        if isinstance(text, list):
            rows = self.enc.encode_ordinary_batch(text, num_threads=num_threads)
            return [[prepend] + r for r in rows] if prepend is not None else rows
        raise ValueError(f"encode takes a str or a list of str, not {type(text).__name__}")

    def decode(self, ids):
        return self.enc.decode(ids)


def get_token_bytes(device="cpu"):
    """int32 tensor: UTF-8 byte length of each token id (0 for special tokens)."""
    path = os.path.join(TOKENIZER_DIR, "token_bytes.npy")
    if not os.path.exists(path):
        fail(f"no token byte table at {path}; run `python prepare.py` first.")
    return torch.from_numpy(np.load(path)).to(device)


# ---------------------------------------------------------------------------
# Token cache: each shard tokenized once -> flat uint16/int32 tokens + document offsets
# ---------------------------------------------------------------------------

def _token_paths(shard_path):
    stem = os.path.basename(shard_path)[: -len(".parquet")]
    return os.path.join(TOKENS_DIR, stem + ".tokens.npy"), os.path.join(TOKENS_DIR, stem + ".offsets.npy")


def tokenize_shard(enc, shard_path, dtype):
    tok_path, off_path = _token_paths(shard_path)
    pieces, lengths = [], []
    pf = pq.ParquetFile(shard_path)
    threads = os.cpu_count() or 1
    for rg in range(pf.num_row_groups):
        texts = pf.read_row_group(rg, columns=["text"]).column("text").to_pylist()
        ids = enc.encode_ordinary_batch(texts, num_threads=threads)
        lens = [len(x) for x in ids]
        pieces.append(np.fromiter(itertools.chain.from_iterable(ids), dtype=dtype, count=sum(lens)))
        lengths.extend(lens)
    tokens = np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    _atomic_save_npy(off_path, offsets)
    _atomic_save_npy(tok_path, tokens)
    return tokens, offsets


class ShardDocs:
    """Documents of one tokenized shard (memory-mapped)."""

    def __init__(self, shard_path):
        tok_path, off_path = _token_paths(shard_path)
        self.tokens = np.load(tok_path, mmap_mode="r")
        self.offsets = np.load(off_path)

    def __len__(self):
        return len(self.offsets) - 1

    def __getitem__(self, i):
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]


def _split_paths(split):
    require_prepared()
    with open(os.path.join(TOKENS_DIR, "manifest.json")) as f:
        manifest = json.load(f)
    names = manifest["train"] if split == "train" else [manifest[split]]
    paths = [os.path.join(DATA_DIR, n) for n in names]
    for p in paths:
        if not all(os.path.exists(t) for t in _token_paths(p)):
            fail(f"the token cache for {os.path.basename(p)} is missing from {TOKENS_DIR}; re-run `python prepare.py --force`.")
    return paths


def iter_documents(paths, loop=True):
    """Yields (tokens_without_bos, epoch) over the shards in order, forever if loop."""
    epoch = 1
    while True:
        for path in paths:
            docs = ShardDocs(path)
            for i in range(len(docs)):
                if docs.offsets[i + 1] > docs.offsets[i]:
                    yield docs[i], epoch
        if not loop:
            return
        epoch += 1


# ---------------------------------------------------------------------------
# Packing: BOS-aligned best fit, no padding
# ---------------------------------------------------------------------------
# Every row starts with BOS. For each free position, the longest buffered document that
# fits whole is placed (the oldest among equals); if none fits, the shortest document is
# cropped to fill the row exactly (its remainder is dropped). The buffer is topped up to
# buffer_size documents, `refill` at a time, before each placement.

class BestFitPacker:
    """The packing described above. The buffer is kept sorted by length (bisect instead of linear
    scans) and tokens move as numpy slices into a preallocated row."""

    def __init__(self, docs, bos, row_len, buffer_size=1000, refill=128):
        self.docs = iter(docs)
        self.bos, self.row_len = bos, row_len
        self.buffer_size, self.refill = buffer_size, refill
        self.keys = []      # sorted (length incl. BOS, sequence number)
        self.store = {}     # sequence number -> token array (without BOS)
        self.seq = 0
        self.exhausted = False
        self.epoch = 1

    def _top_up(self):
        while len(self.keys) < self.buffer_size and not self.exhausted:
            for _ in range(self.refill):
                item = next(self.docs, None)
                if item is None:
                    self.exhausted = True
                    break
                doc, self.epoch = item if isinstance(item, tuple) else (item, self.epoch)
                bisect.insort(self.keys, (len(doc) + 1, self.seq))
                self.store[self.seq] = doc
                self.seq += 1

    def fill(self, row):
        """Fill row (1-D int array of length row_len) in place; False if the documents ran out.
        With row None the documents are placed and dropped without reading their tokens (the
        rows of the other ranks in a run of several processes)."""
        keys, store, row_len, bos = self.keys, self.store, self.row_len, self.bos
        pos = 0
        while pos < row_len:
            if len(keys) < self.buffer_size and not self.exhausted:
                self._top_up()
            if not keys:
                return False
            remaining = row_len - pos
            i = bisect.bisect_right(keys, (remaining, math.inf))
            if i > 0:
                length = keys[i - 1][0]
                j = bisect.bisect_left(keys, (length, -1))
                _, s = keys.pop(j)
                doc = store.pop(s)
                if row is not None:
                    row[pos] = bos
                    row[pos + 1:pos + length] = doc
                pos += length
            else:
                _, s = keys.pop(0)
                doc = store.pop(s)
                if row is not None:
                    row[pos] = bos
                    row[pos + 1:row_len] = doc[:remaining - 1]
                pos = row_len
        return True


def pack_rows(docs, bos, row_len, n_rows, buffer_size=1000, refill=128, dtype=np.int64):
    """Up to n_rows packed rows as an (n, row_len) array (fewer if the documents run out)."""
    packer = BestFitPacker(docs, bos, row_len, buffer_size, refill)
    out = np.empty((n_rows, row_len), dtype=dtype)
    n = 0
    while n < n_rows and packer.fill(out[n]):
        n += 1
    return out[:n]


class _Slot:
    def __init__(self, B, T, pin):
        self.rows = np.empty((B, T + 1), dtype=np.int64)
        self.cpu = torch.empty(2, B, T, dtype=torch.long, pin_memory=pin)
        self.np = self.cpu.numpy()
        self.event = None
        self.epoch = 1


class _Loader:
    """Packs batches on a background thread into a ring of (pinned) buffers; the consumer
    copies each to the device with a non-blocking copy and hands the buffer back once the
    copy has completed (CUDA event), so the GPU never waits on Python packing.

    Of the one packed stream of batches of B rows, rank r of N takes the batches r, r + N,
    r + 2N, ...: every rank reads only its own documents, and a step of N ranks trains on the
    same rows as a step of one process with the same global batch."""

    def __init__(self, docs, bos, B, T, device, buffer_size, prefetch=4, rank=0, world_size=1):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.B, self.T = B, T
        self.rows_before, self.rows_after = rank * B, (world_size - 1 - rank) * B
        self.packer = BestFitPacker(docs, bos, T + 1, buffer_size)
        n_slots = prefetch + 2
        self.free = queue.Queue()
        self.ready = queue.Queue(maxsize=prefetch)
        for _ in range(n_slots):
            self.free.put(_Slot(B, T, self.cuda))
        if self.cuda:
            self.gpu = [torch.empty(2, B, T, dtype=torch.long, device=self.device) for _ in range(2)]
            self.flip = 0
        self.stop = False
        self.thread = threading.Thread(target=self._produce, daemon=True)
        self.thread.start()

    def _produce(self):
        try:
            while not self.stop:
                slot = self.free.get()
                if slot.event is not None:
                    slot.event.synchronize()
                rows = [None] * self.rows_before + list(slot.rows) + [None] * self.rows_after
                for row in rows:
                    if not self.packer.fill(row):
                        raise RuntimeError("the document stream ended")
                slot.np[0] = slot.rows[:, :-1]
                slot.np[1] = slot.rows[:, 1:]
                slot.epoch = self.packer.epoch
                self.ready.put(slot)
        except BaseException as e:  # hand the error to the consumer
            self.ready.put(e)

    def close(self):
        """Stop the background thread (it may be waiting for a free or a ready slot)."""
        self.stop = True
        deadline = time.time() + 5
        while self.thread.is_alive() and time.time() < deadline:
            try:
                item = self.ready.get(timeout=0.05)
                if isinstance(item, _Slot):
                    self.free.put(item)
            except queue.Empty:
                pass

    def __iter__(self):
        return self

    def __next__(self):
        slot = self.ready.get()
        if isinstance(slot, BaseException):
            raise RuntimeError(f"dataloader failed: {slot}") from slot
        if self.cuda:
            buf = self.gpu[self.flip]
            self.flip ^= 1
            buf.copy_(slot.cpu, non_blocking=True)
            slot.event = torch.cuda.Event()
            slot.event.record()
            out = buf
        else:
            out = slot.cpu.clone().to(self.device)
            slot.event = None
        epoch = slot.epoch
        self.free.put(slot)
        return out[0], out[1], epoch


def _default_device():
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def make_dataloader(tokenizer, B, T, split, buffer_size=1000, device=None):
    """Infinite iterator of (inputs, targets, epoch), each input/target a (B, T) long tensor on device.
    In a run of several processes, this rank's share of the batches (see _Loader)."""
    assert split in ("train", "val")
    docs = iter_documents(_split_paths(split), loop=True)
    rank, world_size = _rank_and_size()
    return _Loader(docs, tokenizer.get_bos_token_id(), B, T, device or _default_device(), buffer_size,
                   rank=rank, world_size=world_size)


# ---------------------------------------------------------------------------
# One run on several GPUs of a machine: torchrun --nproc_per_node=N train.py
# ---------------------------------------------------------------------------
# torchrun starts N processes and gives each RANK, LOCAL_RANK and WORLD_SIZE. make_dataloader
# and evaluate_bpb share the work out by rank; train.py averages the gradients over the ranks
# (average_gradients) and follows rank 0's clock (agree_on_step), so that every rank takes the
# same steps and stops after the same one. The world size is part of the protocol: the first
# complete run records it in protocol.json and a run with another one fails, so that results of
# different world sizes never mix. Started without torchrun, all of this does nothing.

RANK = int(os.environ.get("RANK", "0"))
LOCAL_RANK = int(os.environ.get("LOCAL_RANK", "0"))
WORLD_SIZE = int(os.environ.get("WORLD_SIZE", "1"))


def _rank_and_size():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class _FailuresOnly:
    """stdout of a rank other than 0: rank 0 prints the run's lines once; a FAIL line of this rank
    still shows, marked with the rank."""

    def __init__(self, stream, rank):
        self.stream, self.rank, self.pending = stream, rank, ""

    def write(self, text):
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            if line.startswith("FAIL:"):
                self.stream.write(f"FAIL (rank {self.rank}):{line[len('FAIL:'):]}\n")
                self.stream.flush()
        return len(text)

    def flush(self):
        self.stream.flush()

    def __getattr__(self, name):  # encoding, isatty, fileno...: those of the real stream
        return getattr(self.stream, name)


def _all_reduce(tensor):
    """Sum tensor over the ranks in place; when another rank has died, one clear sentence and exit."""
    try:
        torch.distributed.all_reduce(tensor)
    except RuntimeError as e:
        fail(f"rank {RANK}: another process of this run stopped ({str(e).splitlines()[0][:160]}); "
             "the first error above says why.")


def _fail_once(message):
    """The same failure on every rank: rank 0 says it, the others leave quietly."""
    if RANK == 0:
        fail(message)
    sys.exit(1)


def join_process_group(device):
    """The device of this process. Under torchrun: check the world size against the protocol, start
    the process group (NCCL on CUDA GPUs, one GPU per process; gloo on the CPU) and keep the output
    of the ranks other than 0 to their failures."""
    recorded = (PROTOCOL or {}).get("world_size")
    if recorded is not None and recorded != WORLD_SIZE:
        _fail_once(f"the runs on the dataset in {CACHE_DIR} use {recorded} process(es) each and this one has "
                   f"{WORLD_SIZE}; results of different world sizes do not compare: run with {recorded}, or prepare "
                   "another AUTORESEARCH_CACHE_DIR for this world size and start a new segment (autoresearch init --new-segment).")
    if WORLD_SIZE == 1:
        return device
    if device.type not in ("cuda", "cpu"):
        _fail_once(f"a run of several processes needs CUDA GPUs (NCCL) or the CPU (gloo), not {device.type}; run train.py as one process.")
    if device.type == "cuda":
        if torch.cuda.device_count() < WORLD_SIZE:
            _fail_once(f"torchrun started {WORLD_SIZE} processes but this machine shows {torch.cuda.device_count()} GPU(s); "
                       "pass --nproc_per_node at most the number of GPUs (check CUDA_VISIBLE_DEVICES).")
        device = torch.device("cuda", LOCAL_RANK)
        torch.cuda.set_device(device)
    cuda = device.type == "cuda"
    torch.distributed.init_process_group("nccl" if cuda else "gloo", device_id=device if cuda else None)
    atexit.register(torch.distributed.destroy_process_group)
    if RANK != 0:
        sys.stdout = _FailuresOnly(sys.stdout, RANK)
    return device


def average_gradients(model):
    """Average the parameters' gradients over the ranks (one all-reduce of one flat buffer per dtype).
    One process: nothing to do."""
    _, world_size = _rank_and_size()
    if world_size == 1:
        return
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    for dtype in sorted({p.grad.dtype for p in params}, key=str):
        grads = [p.grad for p in params if p.grad.dtype == dtype]
        flat = torch.cat([g.reshape(-1) for g in grads])
        _all_reduce(flat)
        flat /= world_size
        for g, piece in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(piece.view_as(g))


def agree_on_step(loss, seconds):
    """(loss averaged over the ranks, rank 0's seconds for the step), as floats: every rank then follows
    the same schedule, stops after the same step and fails on the same divergence.
    One process: (loss.item(), seconds)."""
    rank, world_size = _rank_and_size()
    if world_size == 1:
        return loss.item(), seconds
    both = torch.stack([loss.detach().double() / world_size,
                        torch.tensor(seconds if rank == 0 else 0.0, dtype=torch.float64, device=loss.device)])
    _all_reduce(both)
    return both[0].item(), both[1].item()


def record_world_size():
    """Record in protocol.json how many processes a run of this dataset uses (rank 0, once)."""
    rank, world_size = _rank_and_size()
    protocol = _load_protocol()
    if rank != 0 or protocol is None or "world_size" in protocol:
        return
    protocol["world_size"] = world_size
    _atomic_write_bytes(PROTOCOL_PATH, json.dumps(protocol, indent=1).encode())


# ---------------------------------------------------------------------------
# Evaluation (fixed metric)
# ---------------------------------------------------------------------------

def get_eval_rows(split="val"):
    """The fixed rows of an evaluation split, (n, MAX_SEQ_LEN + 1), packed once at prepare time."""
    assert split in EVAL_SPLITS
    require_prepared()
    return _load_array(os.path.join(TOKENS_DIR, f"{split}_rows.npy"))


def get_val_rows():
    return get_eval_rows("val")


@torch.no_grad()
def evaluate_bpb(model, tokenizer, batch_size, split="val"):
    """Bits per byte on the fixed rows of `split` (val, or the held-out test): summed next-token cross-entropy (nats) over
    targets that are text tokens, divided by ln 2 times their exact UTF-8 byte count.
    model(x, y, reduction='none') must return per-token losses in nats. In a run of several
    processes each rank evaluates every N-th batch and the sums are added over the ranks: the
    same batches as one process, so the same val_bpb for the same weights."""
    rows = torch.from_numpy(get_eval_rows(split).astype(np.int64))
    try:
        device = next(model.parameters()).device
    except (AttributeError, StopIteration):
        device = torch.device(_default_device())
    token_bytes = get_token_bytes(device)
    total_nats = torch.zeros((), dtype=torch.float64, device=device)
    total_bytes = torch.zeros((), dtype=torch.int64, device=device)
    n = rows.size(0)
    rank, world_size = _rank_and_size()
    for start in range(rank * batch_size, n, world_size * batch_size):
        chunk = rows[start:start + batch_size]
        real = chunk.size(0)
        if real < batch_size:  # keep shapes fixed: pad with copies, weighted zero
            chunk = torch.cat([chunk, rows[:1].expand(batch_size - real, -1)])
        chunk = chunk.to(device, non_blocking=True)
        x, y = chunk[:, :-1].contiguous(), chunk[:, 1:].contiguous()
        loss = model(x, y, reduction="none").reshape(batch_size, -1).double()
        nbytes = token_bytes[y]
        if real < batch_size:
            nbytes[real:] = 0
        total_nats += (loss * (nbytes > 0)).sum()
        total_bytes += nbytes.sum()
    if world_size > 1:
        _all_reduce(total_nats)
        _all_reduce(total_bytes)
    return total_nats.item() / (math.log(2) * total_bytes.item())


# ---------------------------------------------------------------------------
# prepare: data -> tokenizer -> token cache -> fixed validation rows -> protocol.json
# ---------------------------------------------------------------------------

def _requested_protocol(args):
    profile = args.profile
    detected = None
    if profile == "auto":
        profile, detected = detect_profile()
    base = PROFILES[profile]
    max_seq_len = args.seq_len or base["max_seq_len"]
    doc_chars = args.doc_chars or DOC_CHARS_PER_TOKEN * max_seq_len
    if args.source != "climbmix" and args.val_fraction >= 0.5:
        raise PrepareError(f"--val-fraction {args.val_fraction} leaves nothing to train on: the test split holds out "
                           "as many files again as validation; use a fraction below 0.5, such as 0.05")
    if args.source == "climbmix":
        source_detail = {"repo": CLIMBMIX_REPO, "num_shards": args.num_shards}
    elif args.source == "stdlib":
        source_detail = {"path": stdlib_path(), "val_fraction": args.val_fraction, "doc_chars": doc_chars}
    else:
        if not args.path:
            raise PrepareError("--source local needs --path DIR_OR_GLOB (a directory of text files, or a glob such as 'DIR/**/*.txt')")
        # resolved, so that the same flags from another folder name the same files (or say they do not)
        source_detail = {"path": local_path(args.path), "val_fraction": args.val_fraction, "doc_chars": doc_chars}
    return {
        "version": PROTOCOL_VERSION,
        "source": args.source,
        "source_detail": source_detail,
        "profile": profile,
        "max_seq_len": max_seq_len,
        "time_budget": args.time_budget or base["time_budget"],
        "requested_eval_tokens": args.eval_tokens or base["eval_tokens"],
        "vocab_size": args.vocab_size,
        "tokenizer_chars": args.tokenizer_chars or base["tokenizer_chars"],
        "budget_mode": args.budget,
    }, detected


_KEYS = ["source", "source_detail", "profile", "max_seq_len", "time_budget", "requested_eval_tokens", "vocab_size",
         "tokenizer_chars", "budget_mode"]


def prepare(args):
    want, detected = _requested_protocol(args)
    print(f"Cache directory: {CACHE_DIR}")
    print(f"Profile: {want['profile']}" + (f" (detected {detected})" if detected else "")
          + f" -> context {want['max_seq_len']}, eval tokens <= {want['requested_eval_tokens']:,}, time budget {want['time_budget']}s")
    have = _load_protocol()
    if have is not None and not args.force:
        have = dict(have, budget_mode=have.get("budget_mode", "time"))
        if have.get("version") == PROTOCOL_VERSION and all(have.get(k) == want[k] for k in _KEYS):
            print("Already prepared with this protocol; nothing to do.")
            return have
        diff = [k for k in _KEYS if have.get(k) != want.get(k)] or ["version"]
        k = diff[0]
        raise PrepareError(f"{CACHE_DIR} already holds a dataset prepared with another protocol ({k}: {have.get(k)!r} there, "
                           f"{want.get(k)!r} now); pass --force to rebuild it, or set AUTORESEARCH_CACHE_DIR to another directory")
    # the source is checked before anything in the cache is deleted: a typo in --path keeps the old dataset
    if args.source == "stdlib":
        local_files = collect_files(os.path.join(stdlib_path(), "**", "*.py"),
                                    exclude_dirs=("site-packages", "dist-packages", "__pycache__"))
    elif args.source == "local":
        local_files = collect_files(want["source_detail"]["path"])
    os.makedirs(CACHE_DIR, exist_ok=True)
    if os.path.exists(PROTOCOL_PATH):
        os.remove(PROTOCOL_PATH)  # from here until the end, the cache is not trusted
    for d in (TOKENIZER_DIR, TOKENS_DIR):
        shutil.rmtree(d, ignore_errors=True)
    t0 = time.time()

    # 1. data shards
    if args.source == "climbmix":
        download_climbmix(args.num_shards, args.download_workers)
        val_shard, test_shard = _shard_name(CLIMBMIX_VAL_SHARD), _shard_name(CLIMBMIX_TEST_SHARD)
        train_paths = [os.path.join(DATA_DIR, _shard_name(i)) for i in range(min(args.num_shards, CLIMBMIX_TEST_SHARD))]
        val_path, test_path = os.path.join(DATA_DIR, val_shard), os.path.join(DATA_DIR, test_shard)
    else:
        detail = want["source_detail"]
        build_local_shards(args.path or detail["path"], *local_files, detail["val_fraction"], detail["doc_chars"])
        val_shard, test_shard = LOCAL_VAL_SHARD, LOCAL_TEST_SHARD
        train_paths, val_path, test_path = list_shards(val_shard, test_shard)
    t_data = time.time()

    # 2. tokenizer
    enc = train_tokenizer(train_paths, want["vocab_size"], want["tokenizer_chars"])
    tokenizer = Tokenizer(enc)
    token_bytes = np.load(os.path.join(TOKENIZER_DIR, "token_bytes.npy"))
    t_tok = time.time()

    # 3. token cache
    os.makedirs(TOKENS_DIR, exist_ok=True)
    dtype = np.uint16 if enc.n_vocab <= 65536 else np.int32
    train_tokens = 0
    n_train_docs = 0
    for p in train_paths:
        tokens, offsets = tokenize_shard(enc, p, dtype)
        train_tokens += len(tokens)
        n_train_docs += len(offsets) - 1
    val_tokens, val_offsets = tokenize_shard(enc, val_path, dtype)
    test_tokens, test_offsets = tokenize_shard(enc, test_path, dtype)
    if train_tokens == 0 or len(val_tokens) == 0 or len(test_tokens) == 0:
        raise PrepareError("the dataset has no training, validation or test text after tokenization; use a larger --path")

    # exact bytes: each evaluation split's token byte lengths add up to its text's UTF-8 length
    eval_bytes = {}
    for split, path, tokens in (("validation", val_path, val_tokens), ("test", test_path, test_tokens)):
        eval_bytes[split] = sum(len(t.encode("utf-8")) for t in iter_texts([path]))
        bytes_tokens = int(token_bytes[tokens].sum(dtype=np.int64))
        if eval_bytes[split] != bytes_tokens:
            raise PrepareError(f"token byte lengths disagree with the {split} text ({bytes_tokens} vs "
                               f"{eval_bytes[split]} bytes); the tokenizer is broken")
    val_bytes_text = eval_bytes["validation"]

    # 4. fixed validation rows, and as many fixed test rows (the held-out split)
    T = want["max_seq_len"]
    n_rows = max(1, want["requested_eval_tokens"] // T)
    rows = {}
    for split, path in (("val", val_path), ("test", test_path)):
        name = "validation" if split == "val" else "test"
        rows[split] = pack_rows(iter_documents([path], loop=False), tokenizer.get_bos_token_id(), T + 1, n_rows, dtype=dtype)
        if len(rows[split]) == 0:
            raise PrepareError(f"the {name} split is too small for one row of {T + 1} tokens; use more data or a larger --val-fraction")
        if len(rows[split]) < n_rows:
            print(f"WARNING: the {name} split holds only {len(rows[split]) * T:,} tokens ({len(rows[split])} row(s) of {T}), "
                  f"{100 * len(rows[split]) / n_rows:.3g} % of the {n_rows * T:,} requested; {split}_bpb will rest "
                  "on that little text and may not say how well the model generalises. Use more data or a larger "
                  "--val-fraction.", file=sys.stderr, flush=True)
        _atomic_save_npy(os.path.join(TOKENS_DIR, f"{split}_rows.npy"), rows[split])
    val_rows = rows["val"]
    manifest = {"train": [os.path.basename(p) for p in train_paths], "val": os.path.basename(val_path),
                "test": os.path.basename(test_path), "dtype": np.dtype(dtype).name}
    _atomic_write_bytes(os.path.join(TOKENS_DIR, "manifest.json"), json.dumps(manifest, indent=1).encode())

    # 5. protocol, written last
    protocol = dict(want)
    protocol.update({
        "eval_tokens": int(len(val_rows) * T),
        "val_shard": val_shard,
        "vocab_size_actual": enc.n_vocab,
        "train_docs": n_train_docs,
        "train_tokens": int(train_tokens),
        "val_docs": len(val_offsets) - 1,
        "val_tokens": int(len(val_tokens)),
        "val_bytes": val_bytes_text,
        "test_shard": test_shard,
        "test_eval_tokens": int(len(rows["test"]) * T),
        "test_docs": len(test_offsets) - 1,
        "test_tokens": int(len(test_tokens)),
        "test_bytes": eval_bytes["test"],
        "tokenizer_sha1": hashlib.sha1(open(os.path.join(TOKENIZER_DIR, "tokenizer.pkl"), "rb").read()).hexdigest(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    _atomic_write_bytes(PROTOCOL_PATH, json.dumps(protocol, indent=1).encode())
    print(f"Tokens: {train_tokens / 1e6:.2f}M train, {len(val_tokens) / 1e6:.2f}M val, {len(test_tokens) / 1e6:.2f}M test; "
          f"val text {val_bytes_text:,} bytes and test text {eval_bytes['test']:,} bytes = sums of their token byte "
          "lengths (exact)")
    budget = (f"token budget calibrated by the first run from {protocol['time_budget']}s"
              if protocol["budget_mode"] == "tokens" else f"time budget {protocol['time_budget']}s")
    print(f"Protocol: context {T}, eval tokens {protocol['eval_tokens']:,}, {budget} -> {PROTOCOL_PATH}")
    print(f"Done in {time.time() - t0:.1f}s (data {t_data - t0:.1f}s, tokenizer {t_tok - t_data:.1f}s, "
          f"token cache {time.time() - t_tok:.1f}s). Ready to train.")
    return protocol


def main(argv=None):
    parser = argparse.ArgumentParser(description="Prepare data, tokenizer and evaluation protocol for autoresearch")
    parser.add_argument("--source", choices=["climbmix", "local", "stdlib"], default="climbmix")
    parser.add_argument("--path", help="--source local: a directory of text files, a file, or a glob ('DIR/**/*.py')")
    parser.add_argument("--profile", choices=["auto", *PROFILES], default="auto", help="hardware profile that sets the protocol")
    parser.add_argument("--time-budget", type=int, help="training seconds per run (default: the profile's)")
    parser.add_argument("--budget", choices=["time", "tokens"], default="time",
                        help="time: every run trains for the time budget (rewards speed, but speed jitter "
                             "becomes step-count jitter); tokens: the first run measures how many tokens fit in "
                             "the time budget and every later run trains exactly that many (steadier val_bpb; "
                             "speed-ups then show in training_seconds, not in val_bpb)"),
    parser.add_argument("--seq-len", type=int, help="context length (default: the profile's)")
    parser.add_argument("--eval-tokens", type=int, help="validation tokens (default: the profile's)")
    parser.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    parser.add_argument("--tokenizer-chars", type=int, help="characters to train the tokenizer on (default: the profile's)")
    parser.add_argument("--val-fraction", type=float, default=0.05, help="local/stdlib: share of files held out for "
                        "validation; as many again are held out as the test split")
    parser.add_argument("--doc-chars", type=int, help="local/stdlib: longer files are cut at line ends into documents of at "
                        f"most this many characters (default: {DOC_CHARS_PER_TOKEN} per token of context)")
    parser.add_argument("--num-shards", type=int, default=10, help="climbmix: training shards to download (-1 = all)")
    parser.add_argument("--download-workers", type=int, default=8)
    parser.add_argument("--force", action="store_true", help="rebuild even if the cache holds a dataset of another protocol")
    args = parser.parse_args(argv)
    if args.num_shards == -1:
        args.num_shards = CLIMBMIX_MAX_SHARD
    if args.vocab_size < 256 + len(SPECIAL_TOKENS) + 1:
        parser.error(f"--vocab-size must be at least {256 + len(SPECIAL_TOKENS) + 1}")
    if not 0 < args.val_fraction < 1:
        parser.error("--val-fraction must be between 0 and 1")
    if args.doc_chars is not None and args.doc_chars < 1:
        parser.error("--doc-chars must be a positive number of characters")
    try:
        prepare(args)
    except PrepareError as e:
        fail(str(e))
    except pa.ArrowException as e:
        fail(f"a parquet shard in {DATA_DIR} could not be read ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
             "delete it and re-run prepare.py --force")
    except OSError as e:
        fail(f"could not read or write {e.filename or CACHE_DIR} ({e.strerror or e}); check the path, its permissions "
             "and the free disk space, or set AUTORESEARCH_CACHE_DIR to another directory")
    except KeyboardInterrupt:
        fail("interrupted; the cache is marked unprepared (no protocol.json) and the next run rebuilds it.", 130)


if __name__ == "__main__":
    main()
