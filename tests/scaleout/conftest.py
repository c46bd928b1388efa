"""Scale-out fixtures: a throwaway Redis server (Debian's redis-server, started here) and a small catalog."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


class RedisServer:
    """A private redis-server on a unix socket in a temporary directory (no TCP port, nothing persisted)."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server not found: run scripts/setup.sh (Debian's redis-server package)", pytrace=False)
        self.root = Path(tempfile.mkdtemp(prefix="earwitness-redis-"))
        self.socket = self.root / "redis.sock"
        self.proc = subprocess.Popen([exe, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.root)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"unix://{self.socket}?db=0"
        import redis
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)

    def flush(self) -> None:
        import redis
        redis.Redis.from_url(self.url).flushall()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture
def broker_url(redis_server, monkeypatch):
    """An empty Redis; the settings' ``workers.broker_url`` points at it (child processes inherit it)."""
    from earwitness.kernel import settings
    redis_server.flush()
    monkeypatch.setenv("EARWITNESS__WORKERS__BROKER_URL", redis_server.url)
    monkeypatch.setenv("EARWITNESS__WORKERS__HEARTBEAT_TIMEOUT_S", "3")
    monkeypatch.setenv("EARWITNESS__WORKERS__MAINTENANCE_PER_MILLION", "1000000")
    monkeypatch.setenv("EARWITNESS__WORKERS__HELD_RETRY_S", "0.5")
    settings.configure(settings.get().home)
    return redis_server.url


@pytest.fixture
def small_catalog(home, store):
    """Three generated works imported (store + index), and a function making a stored clip of one of them."""
    from earwitness.app.catalog import import_manifest
    from earwitness.kernel.store.models import Clip
    from fixtures.music import SAMPLE_RATE, demo_songs, synthesize, write_catalog, write_wav
    songs = demo_songs(3, duration_s=20.0)
    import_manifest(store, write_catalog(home / "catalog", songs))

    def clip_of(song: int, name: str) -> str:
        sr = SAMPLE_RATE
        path = write_wav(home / "media" / "test" / f"{name}.wav", synthesize(songs[song].seed, 20.0)[4 * sr: 14 * sr])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with store.session() as s:
            clip = Clip(platform="test", url=f"http://127.0.0.1:9/{name}", media_id=name,
                        media_path=str(path.relative_to(home)), media_sha256=digest, audio_sha256=digest,
                        status="fetched")
            s.add(clip)
        return clip.id

    clip_of.songs = songs
    return clip_of


def _load_crawler_fixtures():
    """The fixture platform and its counting proxy from tests/crawler, shared here."""
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location("crawler_fixtures", Path(__file__).parent.parent / "crawler" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_crawler = _load_crawler_fixtures()
platform_root = _crawler.platform_root
platform = _crawler.platform
proxy = _crawler.proxy
site_home = _crawler.site_home
catalog_store = _crawler.catalog_store


class S3Server:
    """A throwaway S3-compatible server: moto in server mode (``moto_server``) on a free 127.0.0.1 port."""

    def __init__(self) -> None:
        import socket
        exe = shutil.which("moto_server")
        if exe is None:
            pytest.fail("moto_server not found: install the test extras (moto, flask-cors)", pytrace=False)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import urllib.request
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.1)

    def client(self):
        import boto3
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def new_bucket(self) -> str:
        """An empty bucket of its own for one test."""
        name = f"ew-{hashlib.sha256(str(time.monotonic_ns()).encode()).hexdigest()[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server()
    yield server
    server.close()


@pytest.fixture
def s3_settings(s3_server, home, monkeypatch):
    """The settings' blob store is a fresh bucket on the test S3 server (child processes inherit it)."""
    from earwitness.kernel import settings
    bucket = s3_server.new_bucket()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("EARWITNESS__BLOBS__URL", f"s3://{bucket}/earwitness")
    monkeypatch.setenv("EARWITNESS__BLOBS__ENDPOINT_URL", s3_server.endpoint)
    settings.configure(home)
    return bucket
