"""Run one garak scan, keep its report, prune old ones: the entrypoint of the scan image.

Standard library only (boto3, which garak already depends on, is imported when uploading):
docker/garak/Dockerfile copies this file into the image as /opt/inferstack/scan.py.

    python /opt/inferstack/scan.py --name nightly-gateway --report-dir /reports \
        --retention-days 90 [--upload-bucket B --upload-prefix P --kms-key-id K] \
        -- python -m garak --target_type ... --config ...

The garak command gets ``--report_prefix <name>-<UTC time>``, so runs never overwrite each
other. On a volume, reports older than ``--retention-days`` are deleted after each run; with
``--upload-bucket`` the run's files go to S3 (SSE-KMS) and the bucket's lifecycle expires them.
The exit status is garak's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

REPORT_SUFFIXES = (".report.jsonl", ".report.html", ".hitlog.jsonl")


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
    return parser.parse_args(argv[:split]), argv[split + 1 :]


def main(argv: Sequence[str] | None = None) -> int:
    args, garak = parse(sys.argv[1:] if argv is None else argv)
    if not garak:
        raise SystemExit("no garak command after --")
    prefix = report_prefix(args.name, datetime.now(timezone.utc))
    args.report_dir.mkdir(parents=True, exist_ok=True)
    status = subprocess.call([*garak, "--report_prefix", prefix])
    produced = sorted(p for p in args.report_dir.glob(f"{prefix}.*") if p.is_file())
    print(f"scan {args.name}: garak exited {status}; reports: {[p.name for p in produced]}")
    if args.upload_bucket and produced:
        upload(produced, args.upload_bucket, args.upload_prefix, args.kms_key_id)
    if args.retention_days > 0:
        for path in prune(args.report_dir, args.retention_days, time.time()):
            print(f"pruned {path.name}")
    return status


if __name__ == "__main__":
    sys.exit(main())
