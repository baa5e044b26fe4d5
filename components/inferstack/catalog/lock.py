"""The models lock: what sizing needs of models outside the catalog, fetched once, read offline.

``inferstack models lock`` resolves each model's revision on the Hugging Face Hub and writes
``models.lock.yaml`` beside the stack configs: the config.json, the checkpoint's tensor bytes,
GGUF file sizes, the pinned revision and the sha256 of every file used. ``preview``,
``render`` and ``fit`` read it with no network: :func:`inferstack.catalog.model` consults it
after the built-in catalog.

Which lock is read: ``INFERSTACK_MODELS_LOCK`` if set, else the one :func:`use` selected (the
CLI selects the one beside the stack config it runs), else ``models.lock.yaml`` in the stack
config directory of the Pulumi project around the current directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferstack.catalog.config import (
    CONFIG_FILE,
    INDEX_FILE,
    TENSOR_BYTES,
    gguf_quant,
    index_parameter_bytes,
    model_from_config,
)
from inferstack.catalog.types import ModelInfo

LOCK_FILE = "models.lock.yaml"
LOCK_ENV = "INFERSTACK_MODELS_LOCK"
LOCK_VERSION = 1
HF_SOURCE = re.compile(r"^hf://(?P<repo>[^/@]+/[^/@]+)(?P<path>/[^@]*)?(?:@(?P<rev>[\w.\-/]+))?$")
HEADER = (
    "# Written by `inferstack models lock`: what sizing needs of each model, pinned to a\n"
    "# revision, with the sha256 of every file read. Regenerate it rather than editing it.\n"
)

_selected: list[Path] = []


class LockError(RuntimeError):
    """The lock cannot be written or read; the message names the model and the fix."""


@dataclass(frozen=True)
class ModelRef:
    """A model to lock: its id and where its weights come from (``hf://org/name@rev``)."""

    id: str
    source: str | None = None


# --- reading --------------------------------------------------------------------------------


@contextlib.contextmanager
def use(path: str | Path) -> Iterator[None]:
    """Read ``path`` as the lock inside the block (the CLI: the lock beside a stack config)."""
    _selected.append(Path(path))
    try:
        yield
    finally:
        _selected.pop()


def lock_path(start: Path | None = None) -> Path | None:
    """The lock file read now, or None when there is none."""
    if os.environ.get(LOCK_ENV):
        return Path(os.environ[LOCK_ENV])
    if _selected:
        return _selected[-1]
    return default_lock_path(start or Path.cwd())


def default_lock_path(start: Path) -> Path | None:
    """``models.lock.yaml`` in the stack config directory of the project around ``start``."""
    import yaml

    start = start.resolve()
    for directory in (start, *start.parents):
        project = directory / "Pulumi.yaml"
        if project.is_file():
            data = yaml.safe_load(project.read_text(encoding="utf-8")) or {}
            configs = data.get("stackConfigDir", ".") if isinstance(data, dict) else "."
            return directory / str(configs) / LOCK_FILE
    return None


def locked_models(path: Path | None = None) -> dict[str, ModelInfo]:
    """Every model of the lock by id (empty when there is no lock file)."""
    path = path if path is not None else lock_path()
    if path is None or not path.is_file():
        return {}
    stat = path.stat()
    return dict(_parse(str(path.resolve()), stat.st_mtime_ns, stat.st_size))


_CACHE: dict[tuple[str, int, int], dict[str, ModelInfo]] = {}


def _parse(path: str, mtime: int, size: int) -> dict[str, ModelInfo]:
    key = (path, mtime, size)
    if key not in _CACHE:
        _CACHE[key] = {
            model_id: _model(model_id, entry) for model_id, entry in read_lock(Path(path)).items()
        }
    return _CACHE[key]


def read_lock(path: Path) -> dict[str, dict[str, Any]]:
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise LockError(f"{path} is not valid YAML ({exc}); run `inferstack models lock`") from None
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, dict):
        raise LockError(f"{path} has no 'models:' mapping; run `inferstack models lock`")
    return {str(k): v for k, v in models.items() if isinstance(v, dict)}


def _model(model_id: str, entry: Mapping[str, Any]) -> ModelInfo:
    config = entry.get("config")
    if not isinstance(config, Mapping):
        raise LockError(f"the lock entry of {model_id} has no config; run `inferstack models lock`")
    return model_from_config(
        config,
        model_id=model_id,
        parameter_bytes=entry.get("parameter_bytes"),
        gguf_bytes=entry.get("gguf_bytes") or {},
        revision=entry.get("revision"),
    )


# --- writing --------------------------------------------------------------------------------


def stack_models(stacks_dir: Path) -> list[ModelRef]:
    """The models the stack configs in ``stacks_dir`` deploy, fleet cohorts included."""
    import yaml

    found: dict[str, ModelRef] = {}
    for path in sorted(stacks_dir.glob("Pulumi.*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        config = document.get("config") if isinstance(document, dict) else None
        deployment = (config or {}).get("inferstack:deployment")
        if not isinstance(deployment, dict) or not isinstance(deployment.get("model"), dict):
            continue
        model = deployment["model"]
        if model.get("config") or model.get("parameters_b"):
            continue  # described by a local config.json or in full: nothing to fetch
        found.setdefault(model["id"], ModelRef(str(model["id"]), model.get("source")))
        fleet = (deployment.get("compute") or {}).get("fleet") or {}
        for cohort in fleet.get("cohorts") or ():
            if isinstance(cohort, dict) and cohort.get("model"):
                found.setdefault(cohort["model"], ModelRef(str(cohort["model"])))
    return list(found.values())


def write_lock(path: Path, refs: Iterable[ModelRef], *, keep: bool = True) -> list[str]:
    """Resolve each model on the Hub and write the lock; returns the ids written.

    ``keep`` keeps the entries of models not named (locking one model adds to the lock).
    """
    import yaml

    entries: dict[str, Any] = read_lock(path) if keep and path.is_file() else {}
    written = []
    for ref in refs:
        entries[ref.id] = fetch_entry(ref)
        written.append(ref.id)
    document = {"version": LOCK_VERSION, "models": dict(sorted(entries.items()))}
    text = HEADER + yaml.safe_dump(document, sort_keys=False, width=100)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return written


def parse_source(ref: ModelRef) -> tuple[str, str | None]:
    """(repository, revision or None) of a model: its hf:// source, else its id."""
    if ref.source and ref.source.startswith("hf://"):
        match = HF_SOURCE.match(ref.source)
        if match is None:
            raise LockError(f"{ref.id}: cannot read the source {ref.source!r}")
        return match["repo"], match["rev"]
    return ref.id.removeprefix("hf://").split("@", 1)[0], None


def fetch_entry(ref: ModelRef) -> dict[str, Any]:
    """One model's lock entry, from the Hub (``HF_ENDPOINT``, ``HF_TOKEN`` when set)."""
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
    except ModuleNotFoundError:
        raise LockError(
            "models lock reads the Hugging Face Hub with huggingface_hub, which is not "
            "installed (run: pip install 'inferstack[hub]')"
        ) from None

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=_token())
    repo, revision = parse_source(ref)
    try:
        with tempfile.TemporaryDirectory(prefix="inferstack-lock-") as cache:
            return _entry(api, ref, repo, revision, Path(cache))
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        hint = (
            "set HF_TOKEN to a token that has accepted the model's license"
            if status in (401, 403)
            else "check the model id and revision"
        )
        raise LockError(f"{ref.id}: the Hub answered {status or exc} for {repo}; {hint}") from None
    except Exception as exc:
        if not _unreachable(exc):
            raise
        raise LockError(
            f"{ref.id}: cannot reach the Hub at {api.endpoint} ({' '.join(str(exc).split())}); "
            "`inferstack models lock` needs network, or HF_ENDPOINT set to a mirror"
        ) from None


# Errors of the HTTP clients huggingface_hub versions use (requests, httpx) when the Hub cannot
# be reached at all, told apart by name so that no client has to be imported here.
_UNREACHABLE = {"ConnectError", "ConnectTimeout", "ConnectionError", "OfflineModeIsEnabled",
                "ReadTimeout", "Timeout", "TimeoutException", "NetworkError"}  # fmt: skip


def _unreachable(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return isinstance(exc, OSError) or bool(names & _UNREACHABLE)


def _token() -> str | None:
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def _entry(api: Any, ref: ModelRef, repo: str, revision: str | None, cache: Path) -> dict[str, Any]:
    info = api.model_info(repo, revision=revision, files_metadata=True)
    files = {s.rfilename: s for s in info.siblings or ()}
    entry: dict[str, Any] = {"repo": repo, "revision": info.sha}
    hashes: dict[str, str] = {}
    config_repo, config_info = repo, info
    if CONFIG_FILE not in files and repo != ref.id:
        # A GGUF-only repository: the architecture comes from the model's own repository.
        config_repo = ref.id
        config_info = api.model_info(config_repo, files_metadata=True)
        entry["config_repo"] = config_repo
        entry["config_revision"] = config_info.sha
    config_text = _download(api, config_repo, CONFIG_FILE, config_info.sha, cache, hashes)
    if config_text is None:
        raise LockError(f"{ref.id}: {config_repo} has no config.json to size the model from")
    entry["config"] = json.loads(config_text)
    config_files = {s.rfilename: s for s in config_info.siblings or ()}
    parameter_bytes = None
    if INDEX_FILE in config_files:
        index_text = _download(api, config_repo, INDEX_FILE, config_info.sha, cache, hashes)
        parameter_bytes = index_parameter_bytes(json.loads(index_text or "{}"))
    elif any(name.endswith(".safetensors") for name in config_files):
        metadata = api.get_safetensors_metadata(config_repo, revision=config_info.sha)
        parameter_bytes = sum(
            count * TENSOR_BYTES.get(dtype, 2)
            for file in metadata.files_metadata.values()
            for dtype, count in file.parameter_count.items()
        )
        for name in metadata.files_metadata:
            hashes[name] = _lfs_sha(config_files.get(name))
    if parameter_bytes:
        entry["parameter_bytes"] = int(parameter_bytes)
    gguf: dict[str, int] = {}
    for name, sibling in sorted(files.items()):
        quant = gguf_quant(name.rsplit("/", 1)[-1])
        if quant and sibling.size:
            gguf[f"gguf-{quant}"] = gguf.get(f"gguf-{quant}", 0) + int(sibling.size)
            hashes[name] = _lfs_sha(sibling)
    if gguf:
        entry["gguf_bytes"] = gguf
    entry["sha256"] = {name: digest for name, digest in sorted(hashes.items()) if digest}
    return entry


def _download(
    api: Any, repo: str, filename: str, revision: str, cache: Path, hashes: dict[str, str]
) -> str | None:
    from huggingface_hub.errors import EntryNotFoundError

    try:
        local = api.hf_hub_download(repo, filename, revision=revision, cache_dir=cache)
    except EntryNotFoundError:
        return None
    data = Path(local).read_bytes()
    hashes[filename] = hashlib.sha256(data).hexdigest()
    return data.decode("utf-8")


def _lfs_sha(sibling: Any) -> str:
    lfs = getattr(sibling, "lfs", None)
    digest = getattr(lfs, "sha256", None) if lfs is not None else None
    if digest is None and isinstance(lfs, Mapping):
        digest = lfs.get("sha256")
    return str(digest or "")
