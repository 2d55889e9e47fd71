"""--source climbmix through huggingface_hub, offline: a stand-in hub served on 127.0.0.1."""

import hashlib
import io
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ml_helpers import TINY_FLAGS, WORDS, load_prepare, run_prepare

REPO = "karpathy/climbmix-400b-shuffle"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FLAGS = [f for f in TINY_FLAGS if f not in ("--val-fraction", "0.2")]


def parquet_bytes(seed, n_docs=30):
    rng = random.Random(seed)
    docs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 200))) for _ in range(n_docs)]
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": docs}), buf, row_group_size=8)
    return buf.getvalue()


class FakeHub:
    """Serves /datasets/<repo>/resolve/main/<file> with the headers huggingface_hub reads."""

    def __init__(self, files):
        self.files, self.requests = files, []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self, body):
                prefix = f"/datasets/{REPO}/resolve/main/"
                name = self.path.split("?")[0][len(prefix):] if self.path.startswith(prefix) else None
                hub.requests.append((self.command, name))
                data = hub.files.get(name)
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self):
                self._serve(False)

            def do_GET(self):
                self._serve(True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    files = {f"shard_{i:05d}.parquet": parquet_bytes(i) for i in (0, 1, 6541, 6542)}
    h = FakeHub(files)
    yield h
    h.close()


def env_for(hub_url, tmp_path, offline=False):
    env = {"HF_ENDPOINT": hub_url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_DISABLE_XET": "1", "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5"}
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def test_climbmix_download_then_offline(tmp_path, hub):
    cache = tmp_path / "cache"
    run_prepare(cache, "--source", "climbmix", "--num-shards", "2", *FLAGS, env_extra=env_for(hub.url, tmp_path))
    data = cache / "data"
    for name, content in hub.files.items():  # byte-identical shards, the pinned validation and test shards among them
        assert (data / name).read_bytes() == content
    assert {n for _, n in hub.requests} == set(hub.files)
    prep = load_prepare(cache, "prepare_climbmix")
    assert prep.PROTOCOL["source"] == "climbmix" and prep.PROTOCOL["val_shard"] == "shard_06542.parquet"
    assert prep.PROTOCOL["test_shard"] == "shard_06541.parquet"
    assert prep._split_paths("test") == [str(data / "shard_06541.parquet")]
    assert prep._split_paths("train") == [str(data / "shard_00000.parquet"), str(data / "shard_00001.parquet")]
    assert prep.PROTOCOL["val_docs"] == 30
    # offline, hub gone: the cached shards are enough to rebuild
    hub.close()
    n = len(hub.requests)
    proc = run_prepare(cache, "--source", "climbmix", "--num-shards", "2", *FLAGS, "--force",
                       env_extra=env_for(hub.url, tmp_path, offline=True))
    assert "4/4 climbmix shards present" in proc.stdout and len(hub.requests) == n


def test_climbmix_offline_without_cache_is_a_clear_error(tmp_path):
    cache = tmp_path / "cache"
    proc = run_prepare(cache, "--source", "climbmix", "--num-shards", "1", *FLAGS, check=False,
                       env_extra=env_for("http://127.0.0.1:9", tmp_path, offline=True))
    assert proc.returncode == 1
    assert "offline" in proc.stderr and "--source stdlib" in proc.stderr and "Traceback" not in proc.stderr
    assert not (cache / "protocol.json").exists()
    assert not list((cache / "data").glob("*.parquet"))


def test_climbmix_missing_shard_keeps_finished_ones_and_nothing_partial(tmp_path, hub):
    cache = tmp_path / "cache"
    proc = run_prepare(cache, "--source", "climbmix", "--num-shards", "3", *FLAGS, check=False,
                       env_extra=env_for(hub.url, tmp_path))
    assert proc.returncode == 1
    assert "could not download 1 climbmix shard" in proc.stderr and "shard_00002" in proc.stderr
    assert not (cache / "protocol.json").exists()
    names = sorted(p.name for p in (cache / "data").iterdir() if p.is_file())
    assert names == ["shard_00000.parquet", "shard_00001.parquet", "shard_06541.parquet", "shard_06542.parquet"]
