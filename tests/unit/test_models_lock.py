"""`inferstack models lock` against a local Hub, and offline previews that read the lock.

The Hub is a small HTTP server on 127.0.0.1 implementing the routes huggingface_hub calls
(model info at a revision, file resolve with ETag / X-Repo-Commit / Content-Length) over the
config.json and index files saved in tests/fixtures/hub; the real client talks to it through
HF_ENDPOINT.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from inferstack import catalog, cli
from inferstack.catalog import architecture, lock

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / "tests" / "fixtures" / "hub"
# A fine-tune outside the catalog: its repository holds Qwen3-30B-A3B's config and index.
QWEN = "acme-health/Qwen3-30B-A3B-clinical"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
FOLDERS = {QWEN: HUB / "Qwen/Qwen3-30B-A3B", LLAMA: HUB / LLAMA}
GATED = {LLAMA}
TOKEN = "hf_test_token"
# A GGUF-only repository of the fine-tune (no config.json); its file is listed, not served.
GGUF = "acme-health/Qwen3-30B-A3B-clinical-GGUF"
GGUF_FILE = {"rfilename": "Qwen3-30B-A3B-clinical-Q4_K_M.gguf", "size": 18_556_688_736,
             "lfs": {"size": 18_556_688_736, "sha256": "c" * 64, "pointerSize": 135}}  # fmt: skip
SHAS = {QWEN: "a" * 40, LLAMA: "b" * 40, GGUF: "d" * 40}


class HubHandler(BaseHTTPRequestHandler):
    """The Hub API routes huggingface_hub uses for model info and file downloads."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, *, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"]:
            repo = "/".join(parts[2:4])
            if (
                len(parts) > 4
                and parts[4] == "revision"
                and parts[5] not in ("main", SHAS.get(repo))
            ):
                return self._error(404, "RevisionNotFound")
            return self._model_info(repo, body)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._file("/".join(parts[:2]), parts[3], "/".join(parts[4:]), body)
        return self._error(404, "RepoNotFound")

    def _authorized(self, repo: str) -> bool:
        return repo not in GATED or self.headers.get("Authorization") == f"Bearer {TOKEN}"

    def _model_info(self, repo: str, body: bool) -> None:
        if repo == GGUF:
            data = {"id": repo, "sha": SHAS[repo], "siblings": [GGUF_FILE]}
            body_bytes = json.dumps(data).encode()
            return self._send(200, body_bytes, {"Content-Type": "application/json"}, body)
        folder = FOLDERS.get(repo)
        if folder is None:
            return self._error(404, "RepoNotFound")
        if not self._authorized(repo):
            return self._error(401, "GatedRepo")
        siblings = [
            {"rfilename": p.name, "size": p.stat().st_size, "blobId": _sha1(p)}
            for p in sorted(folder.iterdir())
        ]
        data = {"id": repo, "modelId": repo, "sha": SHAS[repo], "private": False,
                "gated": "manual" if repo in GATED else False, "siblings": siblings}  # fmt: skip
        self._send(200, json.dumps(data).encode(), {"Content-Type": "application/json"}, body)
        return None

    def _file(self, repo: str, revision: str, filename: str, body: bool) -> None:
        target = FOLDERS[repo] / filename if repo in FOLDERS else HUB / "missing"
        if not target.is_file():
            return self._error(404, "EntryNotFound", {"X-Error-Code": "EntryNotFound"})
        if not self._authorized(repo):
            return self._error(401, "GatedRepo")
        if revision not in ("main", SHAS[repo]):
            return self._error(404, "RevisionNotFound")
        data = target.read_bytes()
        headers = {"ETag": f'"{_sha1(target)}"', "X-Repo-Commit": SHAS[repo],
                   "Content-Type": "application/octet-stream"}  # fmt: skip
        self._send(200, data, headers, body)
        return None

    def _error(self, status: int, code: str, headers: dict[str, str] | None = None) -> None:
        extra = {"X-Error-Code": code, "Content-Type": "application/json", **(headers or {})}
        self._send(status, json.dumps({"error": code}).encode(), extra, True)

    def _send(self, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(data)


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv(lock.LOCK_ENV, raising=False)
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _project(tmp_path: Path, model_id: str, source: str | None = None) -> Path:
    """A Pulumi project whose one on-prem stack serves ``model_id`` on 2 x H100."""
    project = tmp_path / "project"
    stacks = project / "stacks"
    stacks.mkdir(parents=True)
    (project / "Pulumi.yaml").write_text(
        "name: inferstack\nruntime: python\nmain: stacks/\nstackConfigDir: stacks\n"
    )
    shutil.copy(ROOT / "stacks" / "__main__.py", stacks / "__main__.py")
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.onprem-dev.yaml").read_text())
    deployment = config["config"]["inferstack:deployment"]
    deployment["model"] = {"id": model_id, "dtype": "bf16", "max_context": 8192,
                           "hf_token_secret": {"name": "hf-token", "key": "token"}}  # fmt: skip
    if source:
        deployment["model"]["source"] = source
    deployment["compute"] = {"gpu_type": "H100-80GB", "gpu_count": 2}
    (stacks / "Pulumi.moe.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def test_lock_pins_revision_config_bytes_and_hashes(hub: str, tmp_path: Path) -> None:
    project = _project(tmp_path, QWEN, source=f"hf://{QWEN}@{SHAS[QWEN]}")
    stacks = project / "stacks"
    assert cli.main(["models", "lock", "--stacks", str(stacks)]) == 0
    entry = yaml.safe_load((stacks / lock.LOCK_FILE).read_text())["models"][QWEN]
    config_bytes = (FOLDERS[QWEN] / "config.json").read_bytes()
    assert entry["revision"] == SHAS[QWEN]
    assert entry["parameter_bytes"] == 61064245248
    assert entry["config"] == json.loads(config_bytes)
    assert entry["sha256"]["config.json"] == hashlib.sha256(config_bytes).hexdigest()
    index_bytes = (FOLDERS[QWEN] / "model.safetensors.index.json").read_bytes()
    assert (
        entry["sha256"]["model.safetensors.index.json"] == hashlib.sha256(index_bytes).hexdigest()
    )
    info = lock.locked_models(stacks / lock.LOCK_FILE)[QWEN]
    assert info.moe and info.experts == 128 and info.experts_per_token == 8
    assert info.parameters_b == pytest.approx(30.53, abs=0.01)  # 61064245248 bytes / 2
    assert info.revision == SHAS[QWEN]


def test_lock_resolves_main_to_the_commit_and_uses_hf_token_for_gated_models(
    hub: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "models.lock.yaml"
    assert (
        cli.main(["models", "lock", LLAMA, "--stacks", str(tmp_path), "--output", str(output)]) == 2
    )
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "401" in error and "HF_TOKEN" in error
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert (
        cli.main(["models", "lock", LLAMA, "--stacks", str(tmp_path), "--output", str(output)]) == 0
    )
    entry = yaml.safe_load(output.read_text())["models"][LLAMA]
    assert entry["revision"] == SHAS[LLAMA]
    assert entry["parameter_bytes"] == 16060522496
    locked = lock.locked_models(output)[LLAMA]
    built_in = catalog.models()[LLAMA]
    bf16 = catalog.dtype("bf16")
    # The locked numbers agree with the built-in catalog entry of the same model.
    assert architecture.weights_gb(locked, bf16) == pytest.approx(
        architecture.weights_gb(built_in, bf16), rel=0.001
    )
    assert architecture.kv_gb_per_token(locked, 2.0, context=8192) == pytest.approx(
        architecture.kv_gb_per_token(built_in, 2.0, context=8192)
    )


def test_lock_refuses_an_unknown_revision_in_one_line(
    hub: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "models.lock.yaml"
    code = cli.main(["models", "lock", f"hf://{QWEN}@{'c' * 40}", "--output", str(output),
                     "--stacks", str(tmp_path)])  # fmt: skip
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and QWEN in error
    assert not output.exists()


def test_a_stack_with_a_locked_model_previews_offline(
    hub: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, QWEN)
    stacks = project / "stacks"
    assert cli.main(["models", "lock", "--stacks", str(stacks)]) == 0
    capsys.readouterr()
    # From here on there is no Hub: the lock beside the stack config is all the preview has.
    _offline(monkeypatch)
    config = stacks / "Pulumi.moe.yaml"
    pack = str(ROOT / "policy_packs" / "baseline")
    code = cli.main(["preview", "--config", str(config), "--policy-pack", pack, "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    report = json.loads(out.out)
    assert report["summary"]["mandatory"] == 0
    assert cli.main(["render", "--config", str(config), "--out", str(tmp_path / "manifests")]) == 0
    assert any((tmp_path / "manifests").rglob("*.yaml"))
    capsys.readouterr()
    # `fit` reads the same lock from the project around the working directory.
    monkeypatch.chdir(project)
    fit = ["fit", "--model", QWEN, "--target", "onprem", "--instance-type", "H100-80GB"]
    fit += ["--gpu-count", "2", "--context", "8192", "--format", "json"]
    assert cli.main(fit) == 0
    assert json.loads(capsys.readouterr().out)["fits"] is True


def test_an_offline_preview_of_an_unlocked_model_exits_2_naming_the_lock_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, QWEN)
    _offline(monkeypatch)
    code = cli.main(["preview", "--config", str(project / "stacks" / "Pulumi.moe.yaml")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err and "model.id" in err and "inferstack models lock" in err


def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else ""
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1"):
            raise OSError(f"network access to {host} during an offline preview")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://192.0.2.1:9")  # TEST-NET-1: never answers
    monkeypatch.delenv(lock.LOCK_ENV, raising=False)


def test_lock_takes_gguf_sizes_from_the_source_and_the_shape_from_the_model_repo(
    hub: str, tmp_path: Path
) -> None:
    project = _project(tmp_path, QWEN, source=f"hf://{GGUF}@{SHAS[GGUF]}")
    stacks = project / "stacks"
    assert cli.main(["models", "lock", "--stacks", str(stacks)]) == 0
    entry = yaml.safe_load((stacks / lock.LOCK_FILE).read_text())["models"][QWEN]
    assert (entry["repo"], entry["revision"]) == (GGUF, SHAS[GGUF])
    assert (entry["config_repo"], entry["config_revision"]) == (QWEN, SHAS[QWEN])
    assert entry["gguf_bytes"] == {"gguf-q4_k_m": 18_556_688_736}
    assert entry["sha256"][GGUF_FILE["rfilename"]] == "c" * 64
    info = lock.locked_models(stacks / lock.LOCK_FILE)[QWEN]
    q4 = catalog.dtype("gguf-q4_k_m")
    assert architecture.weights_gb(info, q4) == pytest.approx(18.557, abs=0.001)


def test_reading_a_lock_loads_no_hub_client(tmp_path: Path) -> None:
    lock_file = tmp_path / "models.lock.yaml"
    config = json.loads((FOLDERS[QWEN] / "config.json").read_text())
    lock_file.write_text(yaml.safe_dump({"version": 1, "models": {QWEN: {"config": config}}}))
    code = (
        "import sys; from inferstack import catalog; "
        f"assert catalog.model({QWEN!r}).moe; "
        "assert 'huggingface_hub' not in sys.modules, 'hub client imported'"
    )
    env = {**os.environ, lock.LOCK_ENV: str(lock_file)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_lock_without_a_reachable_hub_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    output = tmp_path / "models.lock.yaml"
    assert cli.main(["models", "lock", QWEN, "--output", str(output)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "cannot reach the Hub" in error and "HF_ENDPOINT" in error
    assert not output.exists()
