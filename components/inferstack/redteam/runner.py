"""Run one garak scan, keep its report, prune old ones: the entrypoint of the scan image.

Standard library only (boto3, which garak already depends on, is imported when uploading):
docker/garak/Dockerfile copies this file into the image as /opt/inferstack/scan.py.

    python /opt/inferstack/scan.py --name nightly-gateway --report-dir /reports \
        --retention-days 90 [--upload-bucket B --upload-prefix P --kms-key-id K | \
         --upload-blob https://<account>.blob.core.windows.net/<container> --upload-prefix P \
         [--upload-client-id C]] \
        [--config-dir /etc/garak --config-env VAR] [--timeout-seconds N] \
        [--lambda-function F | --bearer-upstream URL --bearer-token gcp|azure \
         --bearer-audience A [--bearer-client-id C]] [--proxy-port 8787] \
        -- python -m garak --target_type ... --config ...

The garak command gets ``--report_prefix <name>-<UTC time>``, so runs never overwrite each
other. On a volume, reports older than ``--retention-days`` are deleted after each run; with
``--upload-bucket`` the run's files go to S3 (SSE-KMS) and the bucket's lifecycle expires them;
with ``--upload-blob`` to that Azure Blob container (Put Blob with a token of the job's managed
identity, ``--upload-client-id`` for a user-assigned one, fetched by ``gateway_proxy.py``'s
``azure_access_token``), whose account encrypts them and whose lifecycle policy deletes them.
``--config-env`` names an environment variable holding garak's files as a JSON object (file
name -> content), written to ``--config-dir`` first (where no ConfigMap is mounted: Fargate).
``--lambda-function`` (SageMaker) or ``--bearer-upstream`` (Vertex AI, Azure ML) starts the
OpenAI-compatible proxy in front of that gateway (``gateway_proxy.py``, next to this file) on
127.0.0.1:``--proxy-port`` for the scan's duration. ``--timeout-seconds`` stops garak after
that long. The exit status is garak's (124 when it was stopped).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from email.utils import formatdate
from pathlib import Path
from types import ModuleType
from typing import Any

REPORT_SUFFIXES = (".report.jsonl", ".report.html", ".hitlog.jsonl")
PROXY = Path(__file__).with_name("gateway_proxy.py")
PROXY_START_SECONDS = 30
TIMED_OUT = 124
# Blob storage takes Microsoft Entra tokens for this resource; Put Blob with a bearer token
# needs x-ms-version 2017-11-09 or later (Microsoft Learn: "Authorize with Microsoft Entra
# ID", "Put Blob"). A block blob up to 5,000 MiB goes in one Put Blob from 2019-12-12 on.
STORAGE_AUDIENCE = "https://storage.azure.com/"
BLOB_API_VERSION = "2021-08-06"
BLOB_TIMEOUT_SECONDS = 120
CONTENT_TYPES = {".jsonl": "application/x-ndjson", ".html": "text/html; charset=utf-8"}


def report_prefix(name: str, now: datetime) -> str:
    return f"{name}-{now.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"


def prune(report_dir: Path, retention_days: int, now: float) -> list[Path]:
    """Delete garak's report files older than ``retention_days``; return what was deleted."""
    cutoff = now - retention_days * 86400
    removed = []
    for path in sorted(report_dir.iterdir()):
        old = path.is_file() and path.stat().st_mtime < cutoff
        if old and path.name.endswith(REPORT_SUFFIXES):
            path.unlink()
            removed.append(path)
    return removed


def upload(files: list[Path], bucket: str, prefix: str, kms_key_id: str | None) -> None:
    import boto3  # type: ignore[import-not-found,unused-ignore]  # garak depends on it

    client = boto3.client("s3")
    extra: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
    if kms_key_id:
        extra["SSEKMSKeyId"] = kms_key_id
    for path in files:
        client.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.name}", extra)


def load_gateway_proxy() -> ModuleType:
    """gateway_proxy.py from this file's directory (/opt/inferstack/ in the image, the
    package's directory in a checkout), without the inferstack package."""
    spec = importlib.util.spec_from_file_location("gateway_proxy", PROXY)
    assert spec is not None and spec.loader is not None, PROXY
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blob_url(container_url: str, prefix: str, name: str) -> str:
    """``<container URL>/<prefix>/<name>``, the blob name percent-encoded (slashes kept)."""
    path = "/".join(part for part in (prefix.strip("/"), name) if part)
    return f"{container_url.rstrip('/')}/{urllib.parse.quote(path)}"


def upload_blobs(
    files: list[Path],
    container_url: str,
    prefix: str,
    token: Callable[[], str],
    open_url: Callable[..., Any] = urllib.request.urlopen,
) -> list[str]:
    """Put each file as a block blob under ``prefix`` (Blob REST API, Put Blob); return the
    blob URLs. Any refusal (an HTTP error) stops the run."""
    uploaded = []
    for path in files:
        data = path.read_bytes()
        url = blob_url(container_url, prefix, path.name)
        request = urllib.request.Request(
            url,
            data=data,
            method="PUT",
            headers={
                "Authorization": f"Bearer {token()}",
                "x-ms-version": BLOB_API_VERSION,
                "x-ms-date": formatdate(usegmt=True),
                "x-ms-blob-type": "BlockBlob",
                "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
                "Content-Length": str(len(data)),
            },
        )
        with open_url(request, timeout=BLOB_TIMEOUT_SECONDS) as response:
            response.read()
        uploaded.append(url)
    return uploaded


def azure_storage_token(client_id: str | None) -> Callable[[], str]:
    """A storage token of the job's managed identity, from the Container Apps identity
    endpoint (IDENTITY_ENDPOINT, IDENTITY_HEADER), refreshed before it expires."""
    tokens = load_gateway_proxy().azure_access_token(STORAGE_AUDIENCE, client_id)
    return tokens.token  # type: ignore[no-any-return]


def write_config(directory: Path, variable: str) -> list[Path]:
    """Write the files held (as a JSON object, name -> content) in environment ``variable``."""
    files = json.loads(os.environ[variable])
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in sorted(files.items()):
        if "/" in name or name.startswith("."):
            raise SystemExit(f"{variable}: '{name}' is not a plain file name")
        path = directory / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def proxy_mode(args: argparse.Namespace) -> list[str] | None:
    """gateway_proxy.py's mode and options that ``args`` ask for; None for no proxy."""
    if args.lambda_function and args.bearer_upstream:
        raise SystemExit("--lambda-function and --bearer-upstream exclude each other")
    if args.lambda_function:
        return ["lambda", "--function", args.lambda_function]
    if not args.bearer_upstream:
        return None
    if not (args.bearer_token and args.bearer_audience):
        raise SystemExit("--bearer-upstream needs --bearer-token and --bearer-audience")
    mode = ["bearer", "--upstream", args.bearer_upstream, "--token", args.bearer_token]
    mode += ["--audience", args.bearer_audience]
    return mode + (["--client-id", args.bearer_client_id] if args.bearer_client_id else [])


def start_proxy(mode: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start gateway_proxy.py and wait until it accepts connections on 127.0.0.1:``port``."""
    proxy = subprocess.Popen([sys.executable, str(PROXY), "--port", str(port), *mode])
    deadline = time.monotonic() + PROXY_START_SECONDS
    while time.monotonic() < deadline:
        if proxy.poll() is not None:
            raise SystemExit(f"the gateway proxy exited with {proxy.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proxy
        except OSError:
            time.sleep(0.2)
    proxy.kill()
    raise SystemExit(f"the gateway proxy did not listen on port {port}")


def run_garak(command: list[str], timeout: int | None) -> int:
    try:
        return subprocess.call(command, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"garak stopped after {timeout} s")
        return TIMED_OUT


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    argv = list(argv)
    if "--" not in argv:
        raise SystemExit("usage: scan.py [options] -- python -m garak ...")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="scan.py")
    parser.add_argument("--name", required=True)
    parser.add_argument("--report-dir", required=True, type=Path)
    parser.add_argument("--retention-days", type=int, default=0)
    parser.add_argument("--upload-bucket")
    parser.add_argument("--upload-prefix", default="")
    parser.add_argument("--kms-key-id")
    parser.add_argument("--upload-blob", help="an Azure Blob container URL")
    parser.add_argument("--upload-client-id", help="the user-assigned identity's client id")
    parser.add_argument("--config-dir", type=Path)
    parser.add_argument("--config-env")
    parser.add_argument("--lambda-function")
    parser.add_argument("--bearer-upstream")
    parser.add_argument("--bearer-token", choices=("gcp", "azure"))
    parser.add_argument("--bearer-audience")
    parser.add_argument("--bearer-client-id")
    # The proxy's own default (gateway_proxy.PORT); this script imports nothing of the package.
    parser.add_argument("--proxy-port", type=int, default=8787)
    parser.add_argument("--timeout-seconds", type=int)
    return parser.parse_args(argv[:split]), argv[split + 1 :]


def main(argv: Sequence[str] | None = None) -> int:
    args, garak = parse(sys.argv[1:] if argv is None else argv)
    if not garak:
        raise SystemExit("no garak command after --")
    if args.upload_bucket and args.upload_blob:
        raise SystemExit("--upload-bucket and --upload-blob exclude each other")
    mode = proxy_mode(args)  # a wrong combination stops the run before anything is written
    if args.config_env:
        if args.config_dir is None:
            raise SystemExit("--config-env needs --config-dir")
        write_config(args.config_dir, args.config_env)
    prefix = report_prefix(args.name, datetime.now(timezone.utc))
    args.report_dir.mkdir(parents=True, exist_ok=True)
    proxy = start_proxy(mode, args.proxy_port) if mode is not None else None
    try:
        status = run_garak([*garak, "--report_prefix", prefix], args.timeout_seconds)
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=10)
    produced = sorted(p for p in args.report_dir.glob(f"{prefix}.*") if p.is_file())
    print(f"scan {args.name}: garak exited {status}; reports: {[p.name for p in produced]}")
    if args.upload_bucket and produced:
        upload(produced, args.upload_bucket, args.upload_prefix, args.kms_key_id)
    if args.upload_blob and produced:
        token = azure_storage_token(args.upload_client_id)
        for url in upload_blobs(produced, args.upload_blob, args.upload_prefix, token):
            print(f"uploaded {url}")
    if args.retention_days > 0:
        for path in prune(args.report_dir, args.retention_days, time.time()):
            print(f"pruned {path.name}")
    return status


if __name__ == "__main__":
    sys.exit(main())
