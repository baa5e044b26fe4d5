"""Catalog of hardware, models, weight formats, runtimes and regions.

The data lives in YAML files beside this module (each names its sources); the loaders
below parse each file once and return read-only mappings of frozen records. Lookups by
name are case-insensitive and suggest close matches when a name is unknown.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from inferstack import targets
from inferstack.catalog.types import (
    DType,
    Gpu,
    InstanceType,
    JetsonModule,
    ModelInfo,
    Region,
    Runtime,
)

__all__ = [
    "CLOUD_TARGETS",
    "GPU_PRODUCT_LABEL",
    "TARGETS",
    "CatalogKeyError",
    "DType",
    "Gpu",
    "InstanceType",
    "JetsonModule",
    "ModelInfo",
    "Region",
    "Runtime",
    "dtype",
    "dtypes",
    "gpu",
    "gpu_node_selector",
    "gpu_product_label",
    "gpus",
    "instance_type",
    "instance_types",
    "jetson_module",
    "jetson_modules",
    "locked_model",
    "model",
    "model_key",
    "models",
    "regions",
    "residency_regions",
    "runtime",
    "runtimes",
    "sagemaker_has_instance_storage",
    "sagemaker_image",
]

TARGETS = ("onprem", "sagemaker", "azureml", "vertex", "jetson")
CLOUD_TARGETS = {"sagemaker": "aws", "azureml": "azure", "vertex": "gcp"}
EU_EEA = ("eu", "eea")
# On-prem replicas can spread over the GPUs of one node; 8 is the usual maximum.
ONPREM_MAX_GPUS = 8


class CatalogKeyError(KeyError):
    """An unknown catalog name; the message lists the closest known names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _read(filename: str) -> Any:
    # Imported when a catalog file is first read, so that importing the catalog stays cheap.
    from importlib import resources

    import yaml

    text = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when built
    return yaml.load(text, Loader=loader)


def _frozen(items: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(items)


def _unknown(
    kind: str, name: str, known: Iterable[str], spellings: Mapping[str, str] | None = None
) -> CatalogKeyError:
    """An error naming the closest known names.

    ``spellings`` maps extra accepted spellings (lower case) to the canonical name they
    stand for, so a near-miss of an alias still suggests the canonical name.
    """
    known = list(known)
    canonical = {k.lower(): k for k in known} | dict(spellings or {})
    close = difflib.get_close_matches(name.lower(), list(canonical), n=6, cutoff=0.6)
    suggestions = list(dict.fromkeys(canonical[c] for c in close))[:3]
    if suggestions:
        hint = f"did you mean {', '.join(suggestions)}?"
    else:
        hint = f"known: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''}"
    return CatalogKeyError(f"unknown {kind} {name!r}; {hint}")


def _lookup(kind: str, name: str, table: Mapping[str, Any]) -> Any:
    if name in table:
        return table[name]
    folded = {key.lower(): value for key, value in table.items()}
    if name.lower() in folded:
        return folded[name.lower()]
    raise _unknown(kind, name, table)


def _check_target(target: str, allowed: Iterable[str] = TARGETS) -> None:
    allowed = tuple(allowed)
    if target not in allowed:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(allowed)}")


# --- GPUs and instance types ------------------------------------------------------------


@functools.cache
def gpus() -> Mapping[str, Gpu]:
    return _frozen({name: Gpu(name=name, **row) for name, row in _read("gpus.yaml").items()})


def gpu(name: str) -> Gpu:
    result: Gpu = _lookup("GPU model", name, gpus())
    return result


@functools.cache
def instance_types(target: str) -> Mapping[str, InstanceType]:
    """Hardware choices of one replica on ``target``.

    Cloud targets list their GPU SKUs; on-prem lists the GPU models (one GPU each, the
    replica's GPU count is chosen separately). Jetson hardware is a module: see
    :func:`jetson_modules`.
    """
    kind = targets.REGISTRY[target].hardware if target in targets.REGISTRY else None
    if kind == "module":
        raise ValueError(
            f"{target} hardware is a module, not an instance type: use jetson_modules()"
        )
    _check_target(target)
    if kind == "gpu":
        return _frozen({g.name: _gpu_as_instance_type(target, g) for g in gpus().values()})
    section = _read("instance_types.yaml")[target]
    sources: dict[str, str] = section.get("sources", {})
    return _frozen(
        {
            name: InstanceType(
                name=name, target=target, spot=section["spot"], source=_source(name, sources), **row
            )
            for name, row in section["types"].items()
        }
    )


def _source(name: str, sources: Mapping[str, str]) -> str:
    """The source of the longest SKU-family prefix that ``name`` starts with."""
    matches = [prefix for prefix in sources if name.startswith(prefix)]
    return sources[max(matches, key=len)] if matches else ""


def _gpu_as_instance_type(target: str, g: Gpu) -> InstanceType:
    return InstanceType(
        name=g.name,
        target=target,
        gpu=g.name,
        gpu_count=1,
        vcpus=None,
        memory_gib=None,
        usd_per_hour=None,
        spot=False,
        source=g.source,
    )


GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"


def gpu_product_label(name: str) -> str:
    """The ``nvidia.com/gpu.product`` node label value of a catalog GPU model."""
    return gpu(name).product_label


def gpu_node_selector(name: str, selected: bool, given: Mapping[str, str]) -> dict[str, str]:
    """Node selector of pods sized for GPU model ``name``: its GPU Feature Discovery product
    label (when ``selected``) under the user's own ``given`` selector, which wins."""
    base = {GPU_PRODUCT_LABEL: gpu_product_label(name)} if selected else {}
    return {**base, **given}


def instance_type(target: str, name: str) -> InstanceType:
    result: InstanceType = _lookup(f"{target} instance type", name, instance_types(target))
    return result


@functools.cache
def _instance_storage_families() -> frozenset[str]:
    return frozenset(_read("instance_types.yaml")["sagemaker"]["instance_storage_families"])


def sagemaker_has_instance_storage(instance_type: str) -> bool:
    """Whether a SageMaker instance type has local NVMe storage (then KmsKeyId is refused)."""
    parts = instance_type.split(".")
    return len(parts) >= 3 and parts[0] == "ml" and parts[1] in _instance_storage_families()


# --- Jetson -------------------------------------------------------------------------------


@functools.cache
def jetson_modules() -> Mapping[str, JetsonModule]:
    data = _read("jetson.yaml")
    families = data["families"]
    return _frozen(
        {
            name: JetsonModule(name=name, **row, **families[row["family"]])
            for name, row in data["modules"].items()
        }
    )


def jetson_module(name: str) -> JetsonModule:
    result: JetsonModule = _lookup("Jetson module", name, jetson_modules())
    return result


# --- Models -------------------------------------------------------------------------------


@functools.cache
def models() -> Mapping[str, ModelInfo]:
    table = {}
    for model_id, row in _read("models.yaml").items():
        fields = dict(row)
        fields["aliases"] = tuple(fields.get("aliases", ()))
        table[model_id] = ModelInfo(id=model_id, **fields)
    return _frozen(table)


@functools.cache
def _model_index() -> Mapping[str, str]:
    """Every accepted spelling (lower case) -> catalog id.

    Accepted: the id, each alias, and the last path segment of either
    ("Llama-3.1-8B-Instruct" for "meta-llama/Llama-3.1-8B-Instruct").
    """
    index: dict[str, str] = {}
    for info in models().values():
        for name in (info.id, *info.aliases):
            index.setdefault(name.lower(), info.id)
            index.setdefault(name.rsplit("/", 1)[-1].lower(), info.id)
    return _frozen(index)


def model(model_id: str) -> ModelInfo:
    """The entry for an id, alias or bare model name (case-insensitive).

    The built-in catalog answers first, then the models lock (``inferstack models lock``).
    """
    key = model_key(model_id)
    found = _model_index().get(key)
    if found is not None:
        return models()[found]
    locked = locked_model(model_id)
    if locked is not None:
        return locked
    error = _unknown("model", model_id, models(), _model_index())
    raise CatalogKeyError(
        f"{error}; for a model outside the catalog run `inferstack models lock` "
        "or give its config.json"
    )


def model_key(model_id: str) -> str:
    """The lookup spelling of a model id: lower case, without hf:// and @revision."""
    key = model_id.strip().lower()
    if key.startswith("hf://"):
        key = key.removeprefix("hf://").split("@", 1)[0]
    return key


def locked_model(model_id: str) -> ModelInfo | None:
    """The models lock's entry for ``model_id`` (by id or bare name), or None."""
    from inferstack.catalog import lock

    key = model_key(model_id)
    for locked_id, info in lock.locked_models().items():
        if key in (locked_id.lower(), locked_id.rsplit("/", 1)[-1].lower()):
            return info
    return None


# --- Weight formats and runtimes ------------------------------------------------------------


@functools.cache
def dtypes() -> Mapping[str, DType]:
    return _frozen({name: DType(name=name, **row) for name, row in _read("dtypes.yaml").items()})


def dtype(name: str) -> DType:
    result: DType = _lookup("dtype", name, dtypes())
    return result


@functools.cache
def runtimes() -> Mapping[str, Runtime]:
    table = {}
    for name, row in _read("runtimes.yaml").items():
        fields = dict(row)
        if fields.pop("image_from", None) == "sagemaker":
            fields["image"] = sagemaker_image(name, "us-east-1")
        fields["targets"] = tuple(fields["targets"])
        fields["dtypes"] = tuple(fields.get("dtypes", ()))
        table[name] = Runtime(name=name, **fields)
    return _frozen(table)


def runtime(name: str) -> Runtime:
    result: Runtime = _lookup("runtime", name, runtimes())
    return result


# --- SageMaker images -----------------------------------------------------------------------

# LMI is SageMaker's container for vLLM: a vllm deployment on SageMaker runs in it.
_SAGEMAKER_IMAGE_OF = {"tgi": "tgi", "lmi": "lmi", "vllm": "lmi"}


@functools.cache
def _sagemaker_images() -> Mapping[str, Any]:
    images: Mapping[str, Any] = _read("sagemaker_images.yaml")["images"]
    return images


def sagemaker_image(runtime: str, region: str) -> str:
    """ECR URI of the SageMaker serving container for ``runtime`` in ``region``."""
    key = _SAGEMAKER_IMAGE_OF.get(runtime)
    if key is None:
        offered = ", ".join(_SAGEMAKER_IMAGE_OF)
        raise ValueError(f"runtime {runtime!r} has no SageMaker image; use one of {offered}")
    image = _sagemaker_images()[key]
    account = _lookup("SageMaker region", region, image["accounts"])
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{image['repository']}:{image['tag']}"


# --- Regions and residency ------------------------------------------------------------------


@functools.cache
def regions(target: str) -> Mapping[str, Region]:
    """Regions of the cloud behind ``target`` (a cloud target, or aws / azure / gcp)."""
    cloud = CLOUD_TARGETS.get(target, target)
    if cloud not in CLOUD_TARGETS.values():
        raise ValueError(
            f"target {target!r} has no cloud regions; expected one of "
            f"{', '.join(CLOUD_TARGETS)} (or {', '.join(CLOUD_TARGETS.values())})"
        )
    return _frozen(
        {
            name: Region(name=name, eu_eea=row["jurisdiction"] in EU_EEA, **row)
            for name, row in _read("regions.yaml")[cloud].items()
        }
    )


def residency_regions(target: str, residency: Iterable[str]) -> list[str]:
    """Region names allowed by ``residency``: the union of what its entries allow.

    Each entry is a jurisdiction ("eu" meaning EU/EEA, "uk", "ch", "us", ...) or an
    explicit region name, which is accepted as itself. The result keeps catalog order.
    """
    table = regions(target)
    jurisdictions = {r.jurisdiction for r in table.values()}
    allowed: set[str] = set()
    for entry in residency:
        token = entry.strip().lower()
        if token in EU_EEA:
            allowed.update(r.name for r in table.values() if r.eu_eea)
        elif token in jurisdictions:
            allowed.update(r.name for r in table.values() if r.jurisdiction == token)
        elif token in table:
            allowed.add(token)
        else:
            raise _unknown(f"{target} region or jurisdiction", entry, [*table, *EU_EEA])
    return [name for name in table if name in allowed]
