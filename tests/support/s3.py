"""A local S3 server for the shared-results tests: moto's stand-alone server (``moto[server]``
from PyPI, in the ``[dev]`` extra) in its own process on 127.0.0.1, on a free port,
stopped by its own PID. ``environment()`` is what a kernel needs to reach it: s3fs reads
the endpoint and the (dummy) keys from the standard AWS variables."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class S3Server:
    """One running moto server; ``bucket()`` makes a fresh, empty bucket on it."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="kirin-s3-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None
        self._buckets = 0

    def environment(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL_S3": self.url, "AWS_ENDPOINT_URL": self.url,
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}

    def start(self) -> S3Server:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    text = self.log.read_text(errors="replace")
                    self.stop()
                    raise RuntimeError(f"the S3 server did not start:\n{text[-2000:]}") \
                        from None
                time.sleep(0.1)

    def bucket(self) -> str:
        """A new empty bucket's name (made through the S3 API itself)."""
        import boto3

        self._buckets += 1
        name = f"kirin-{os.getpid()}-{self._buckets}"
        client = boto3.client("s3", endpoint_url=self.url, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        client.create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        """Stop the server by its own PID, then forget its log."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(15)
        self.log.unlink(missing_ok=True)


@contextlib.contextmanager
def running() -> Iterator[S3Server]:
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()
