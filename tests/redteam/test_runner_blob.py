"""runner.py's report upload to Azure Blob storage: Put Blob with a managed-identity token.

A local HTTP server stands in for both the Container Apps identity endpoint and the Blob
service; it records method, path, query and headers of every request.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from inferstack.redteam import runner
from inferstack.redteam.garak import RUNNER_PATH, Scan

TOKEN = "eyJ0eXAiOiJKV1QifQ.storage-token.sig"
CLIENT_ID = "5c1f0e0e-1b4e-4d4b-9a41-0a7d3a6c2b11"


class Azure:
    """Identity endpoint at /msi/token, Blob service everywhere else (201 or ``blob_status``)."""

    def __init__(self, blob_status: int = 201) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                outer.requests.append(
                    {
                        "method": "GET",
                        "path": path,
                        "query": urllib.parse.parse_qs(query),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
                expires = str(int(time.time()) + 3600)
                self._answer(200, json.dumps({"access_token": TOKEN, "expires_on": expires}))

            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append(
                    {
                        "method": "PUT",
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": self.rfile.read(length),
                    }
                )
                self._answer(blob_status, "")

            def _answer(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, method: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def azure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Azure]:
    server = Azure()
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{server.base}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "header-secret")
    yield server
    server.close()


def fake_garak(reports: Path) -> list[str]:
    script = (
        "import sys, pathlib; p = sys.argv[sys.argv.index('--report_prefix') + 1]; "
        f"d = pathlib.Path({str(reports)!r}); "
        "(d / (p + '.report.jsonl')).write_text('{\"entry_type\": \"init\"}\\n'); "
        "(d / (p + '.report.html')).write_text('<html></html>')"
    )
    return ["python", "-c", script]


def test_reports_are_put_as_block_blobs_with_the_identity_token(
    azure: Azure, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    container = f"{azure.base}/red-team-reports"
    status = runner.main(
        [
            "--name",
            "nightly-gateway",
            "--report-dir",
            str(reports),
            "--upload-blob",
            container,
            "--upload-prefix",
            "nightly",
            "--upload-client-id",
            CLIENT_ID,
            "--",
            *fake_garak(reports),
        ]
    )
    assert status == 0
    (identity,) = azure.of("GET")  # one token for both files: it is cached until near expiry
    assert identity["path"] == "/msi/token"
    assert identity["query"] == {
        "resource": ["https://storage.azure.com/"],
        "api-version": ["2019-08-01"],
        "client_id": [CLIENT_ID],
    }
    assert identity["headers"]["x-identity-header"] == "header-secret"
    puts = azure.of("PUT")
    produced = sorted(p.name for p in reports.iterdir())
    assert sorted(p["path"] for p in puts) == [f"/red-team-reports/nightly/{n}" for n in produced]
    for put in puts:
        headers = put["headers"]
        assert headers["authorization"] == f"Bearer {TOKEN}"
        assert headers["x-ms-blob-type"] == "BlockBlob"
        assert headers["x-ms-version"] == runner.BLOB_API_VERSION
        assert headers["x-ms-date"].endswith(" GMT")
        name = put["path"].rsplit("/", 1)[1]
        assert put["body"] == (reports / name).read_bytes()
        assert int(headers["content-length"]) == len(put["body"])
        expected = "application/x-ndjson" if name.endswith(".jsonl") else "text/html"
        assert headers["content-type"].startswith(expected)


def test_a_refused_upload_fails_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = Azure(blob_status=403)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{server.base}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "h")
    report = tmp_path / "r.report.jsonl"
    report.write_text("{}\n")
    try:
        token = runner.azure_storage_token(None)
        with pytest.raises(urllib.error.HTTPError) as caught:
            runner.upload_blobs([report], f"{server.base}/c", "", token)
        assert caught.value.code == 403
        caught.value.close()
        (identity,) = server.of("GET")
        assert "client_id" not in identity["query"]  # the system-assigned identity
        assert [p["path"] for p in server.of("PUT")] == ["/c/r.report.jsonl"]
    finally:
        server.close()


def test_blob_names_are_percent_encoded_under_the_prefix() -> None:
    url = runner.blob_url("https://a.blob.core.windows.net/c/", "/weekly/", "x y.report.html")
    assert url == "https://a.blob.core.windows.net/c/weekly/x%20y.report.html"
    assert runner.blob_url("https://a/c", "", "r.jsonl") == "https://a/c/r.jsonl"


def test_the_scan_command_carries_the_blob_upload() -> None:
    scan = Scan(
        tier="nightly",
        target="gateway",
        uri="http://127.0.0.1:8787/v1",
        model="m",
        probes=("dan.Dan_11_0",),
    )
    url = "https://strtbot46daa0.blob.core.windows.net/red-team-reports"
    command = scan.runner_command(
        90, upload_blob=url, upload_prefix="nightly", upload_client_id=CLIENT_ID
    )
    assert command[:2] == ["python", RUNNER_PATH]
    args, garak = runner.parse(command[2:])
    assert (args.upload_blob, args.upload_prefix, args.upload_client_id) == (
        url,
        "nightly",
        CLIENT_ID,
    )
    assert args.upload_bucket is None and garak[:3] == ["python", "-m", "garak"]
    with pytest.raises(ValueError, match="exclude each other"):
        scan.runner_command(90, upload_bucket="b", upload_blob=url)


def test_s3_and_blob_uploads_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="exclude each other"):
        runner.main(
            [
                "--name",
                "n",
                "--report-dir",
                str(tmp_path),
                "--upload-bucket",
                "b",
                "--upload-blob",
                "https://a/c",
                "--",
                "true",
            ]
        )
