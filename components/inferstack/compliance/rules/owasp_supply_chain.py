"""OWASP supply chain (LLM03:2025) on every target: images by digest, model revisions pinned.

A tag or a Hub branch can be moved by whoever controls the registry or the model repository, so
what prod serves could change without a deploy (the compromised LiteLLM releases of
BerriAI/litellm#24518 reached anyone pulling by tag). Kubernetes workloads' images are judged by
``kubernetes-apps-workload-require-image-digest`` (in prod and staging in the owasp-llm pack, in
prod in the others: its ``environments`` setting); this module covers the cloud targets' serving
containers and the model revision everywhere.

Where the weights come from, per target: Kubernetes and Jetson download them in an init
container (``MODEL_REPO`` at ``MODEL_REVISION``; Ollama's registry pull has no revision at all),
SageMaker reads them from S3 or, with a Hub id in ``HF_MODEL_ID``, downloads them at
``OPTION_REVISION`` / ``HF_MODEL_REVISION``; Azure ML registers the staged copy with its ``source``
tag. Vertex AI serves what is staged in its versioned model bucket (its path names the revision,
but no property says whether a path segment is one): the bucket versioning rule covers it.
"""

from __future__ import annotations

from typing import Any, Final

from inferstack.compliance.model import Framework, Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import UNKNOWN, elements, get
from inferstack.compliance.rules._common import GDPR_SECURITY, OWASP_SUPPLY_CHAIN, unverifiable
from inferstack.compliance.rules._images import parse_image
from inferstack.compliance.rules._k8s import WORKLOAD_TYPES, container_reads, container_refs, pod
from inferstack.compliance.rules._serving import (
    AZURE_ENVIRONMENT,
    AZURE_MODEL,
    CLOUD_RUN,
    ECS_TASK,
    LAMBDA_FUNCTION,
    SAGEMAKER_MODEL,
    VERTEX_DEPLOYMENT,
    arguments,
    environment,
    images,
    pinned_revision,
    sagemaker_container_reads,
    sagemaker_containers,
)

OWASP: Final[frozenset[Framework]] = frozenset({"owasp-llm"})
SAGEMAKER_REVISION_KEYS: Final = ("OPTION_REVISION", "HF_MODEL_REVISION")


def _check_image_digest(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for found in images(res.resource_type, res.props):
        if found.value is UNKNOWN:
            report(unverifiable(found.path, "the image reference is known only after deploy"))
        elif not isinstance(found.value, str) or not parse_image(found.value).pinned:
            report(f"{found.path} '{found.value}' is not pinned by digest (@sha256:...)")


def _check_revision(res: Resource, report: Report, cfg: RuleConfig) -> None:
    if res.resource_type in WORKLOAD_TYPES:
        _workload_revisions(res, report)
    elif res.resource_type == SAGEMAKER_MODEL:
        _sagemaker_revisions(res, report)
    elif res.resource_type == AZURE_MODEL:
        _azure_revision(res, report)


def _workload_revisions(res: Resource, report: Report) -> None:
    _, items, _ = pod(res, report)
    for container in items:
        names = _env_names(container.value, container.path, report)
        if names is None:
            continue
        if "MODEL_REPO" in names:
            repo = get(names["MODEL_REPO"], "value")
            revision = get(names.get("MODEL_REVISION", {}), "value")
            if revision is UNKNOWN:
                report(unverifiable(f"{container.path}.env[MODEL_REVISION].value"))
            elif not pinned_revision(revision):
                report(
                    f"{container.label} downloads '{repo}' at revision "
                    f"'{revision if isinstance(revision, str) and revision else 'none'}', "
                    "not a commit sha"
                )
        if "OLLAMA_PULL" in names:
            report(
                f"{container.label} pulls '{get(names['OLLAMA_PULL'], 'value')}' by registry tag, "
                "which pins no revision"
            )
        args = arguments(container.value, "args", f"{container.path}.args", report)
        for index, arg in enumerate(args or ()):
            value = arg.partition("=")[2] if arg.startswith("--revision=") else None
            if arg == "--revision" and args is not None and index + 1 < len(args):
                value = args[index + 1]
            if value is not None and not pinned_revision(value):
                report(f"{container.label} serves revision '{value}', not a commit sha")


def _env_names(container: Any, path: str, report: Report) -> dict[str, Any] | None:
    """The container's env entries by name; None after reporting an unknown one."""
    env = get(container, "env")
    if env is UNKNOWN:
        report(unverifiable(f"{path}.env", "the environment is known only after deploy"))
        return None
    found: dict[str, Any] = {}
    for index, entry in enumerate(elements(container, "env")):
        name = get(entry, "name")
        if entry is UNKNOWN or name is UNKNOWN:
            why = "the variable's name is known only after deploy"
            report(unverifiable(f"{path}.env[{index}]", why))
            return None
        if isinstance(name, str):
            found[name] = entry
    return found


def _sagemaker_revisions(res: Resource, report: Report) -> None:
    for path, container in sagemaker_containers(res.props):
        env = environment(container, path, report)
        if env is None:
            continue
        model = get(env, "HF_MODEL_ID")
        if model is UNKNOWN:
            report(unverifiable(f"{path}.environment.HF_MODEL_ID"))
            continue
        if not isinstance(model, str) or model.startswith("/"):
            continue  # weights from S3 (modelDataSource), mounted at a local path
        revisions = {key: get(env, key) for key in SAGEMAKER_REVISION_KEYS}
        unknown = [key for key, value in revisions.items() if value is UNKNOWN]
        if unknown:
            report(unverifiable(f"{path}.environment.{unknown[0]}"))
        elif not any(pinned_revision(value) for value in revisions.values()):
            report(f"{path} downloads '{model}' from the Hub without a pinned commit revision")


def _azure_revision(res: Resource, report: Report) -> None:
    source = get(res.props, "properties", "tags", "source")
    if source is UNKNOWN:
        report(unverifiable("properties.tags.source"))
    elif isinstance(source, str) and source.startswith("hf://"):
        _, _, revision = source.partition("@")
        if not pinned_revision(revision):
            report(f"the model is registered from '{source}', not from a pinned commit")


RULES: Final = (
    Rule(
        name="all-serving-image-require-digest",
        description="Serving containers outside Kubernetes (SageMaker models, Azure ML "
        "environments, Vertex AI deployments, Cloud Run, ECS, Lambda) run images pinned by "
        "digest.",
        severity=Severity.HIGH,
        resource_types=(
            SAGEMAKER_MODEL,
            AZURE_ENVIRONMENT,
            VERTEX_DEPLOYMENT,
            CLOUD_RUN,
            ECS_TASK,
            LAMBDA_FUNCTION,
        ),
        controls=(OWASP_SUPPLY_CHAIN, GDPR_SECURITY),
        frameworks=OWASP,
        remediation="Set serving.image to the image by digest, <registry>/<repository>@sha256:"
        "<digest> (the one form SageMaker takes with a digest); resolve it with `crane digest "
        "IMAGE` or `docker buildx imagetools inspect IMAGE`.",
        check=_check_image_digest,
        reads=(
            *sagemaker_container_reads("image"),
            "properties",
            "properties.image",
            "container",
            "container.imageUri",
            "template",
            "template.containers",
            "template.containers[*]",
            "template.containers[*].image",
            "imageUri",
            "containerDefinitions",
        ),
        peers=("CKV_K8S_43",),
    ),
    Rule(
        name="all-serving-model-require-pinned-revision",
        description="Model weights fetched from the Hugging Face Hub are pinned to a commit sha, "
        "not a branch or tag (Kubernetes and Jetson downloads, SageMaker Hub ids, Azure ML "
        "model assets).",
        severity=Severity.HIGH,
        resource_types=(*WORKLOAD_TYPES, SAGEMAKER_MODEL, AZURE_MODEL),
        controls=(OWASP_SUPPLY_CHAIN, GDPR_SECURITY),
        frameworks=OWASP,
        remediation="Set model.source to hf://<org>/<name>@<commit sha> (the full 40-character "
        "sha from the model page's history), or stage the weights (s3://, gs://, pvc://).",
        check=_check_revision,
        reads=(
            *container_reads("env", "env[*]", "env[*].name", "env[*].value", "args", "args[*]"),
            "spec.template.spec",
            "spec.jobTemplate.spec.template.spec",
            *sagemaker_container_reads(
                "environment",
                "environment.HF_MODEL_ID",
                *(f"environment.{key}" for key in SAGEMAKER_REVISION_KEYS),
            ),
            "properties",
            "properties.tags",
            "properties.tags.source",
        ),
        references=container_refs(),
    ),
)
