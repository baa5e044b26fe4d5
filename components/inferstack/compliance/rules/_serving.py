"""Where each target's serving resources keep their image, command line and environment.

The owasp-llm rules judge the same few things on every target (an image by digest, a pinned
model revision, a runtime flag); these helpers find them in each resource type and return the
dotted path with the value, which is UNKNOWN when preview cannot know it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from inferstack.compliance.model import Report
from inferstack.compliance.props import MISSING, UNKNOWN, as_document, elements, get
from inferstack.compliance.rules._common import unverifiable

SAGEMAKER_MODEL: Final = "aws:sagemaker/model:Model"
ECS_TASK: Final = "aws:ecs/taskDefinition:TaskDefinition"
LAMBDA_FUNCTION: Final = "aws:lambda/function:Function"
AZURE_ENVIRONMENT: Final = "azure-native:machinelearningservices:EnvironmentVersion"
AZURE_DEPLOYMENT: Final = "azure-native:machinelearningservices:OnlineDeployment"
AZURE_MODEL: Final = "azure-native:machinelearningservices:ModelVersion"
VERTEX_DEPLOYMENT: Final = "pulumi-python:dynamic/vertex:ModelDeployment"
CLOUD_RUN: Final = "gcp:cloudrunv2/service:Service"

COMMIT: Final = re.compile(r"^[0-9a-f]{40}$")
"""A Hugging Face revision that cannot move: a full commit sha (branches and tags can)."""


def pinned_revision(value: Any) -> bool:
    return isinstance(value, str) and COMMIT.match(value.strip()) is not None


@dataclass(frozen=True)
class Found:
    path: str
    value: Any


def _present(value: Any) -> bool:
    return value is not MISSING and value is not None


def sagemaker_containers(props: Any) -> Iterator[tuple[str, Any]]:
    """(path, container) of a SageMaker model's primary container and inference pipeline."""
    primary = get(props, "primaryContainer")
    if _present(primary):
        yield "primaryContainer", primary
    for index, item in enumerate(elements(props, "containers")):
        yield f"containers[{index}]", item


def sagemaker_container_reads(*paths: str) -> tuple[str, ...]:
    """Declared reads (see ``Rule.reads``) of fields of every container
    :func:`sagemaker_containers` yields: the primary one and the inference pipeline's."""
    return (
        "primaryContainer",
        *(f"primaryContainer.{path}" for path in paths),
        "containers",
        "containers[*]",
        *(f"containers[*].{path}" for path in paths),
    )


def images(resource_type: str, props: Any) -> list[Found]:
    """Every image reference of a non-Kubernetes serving resource (UNKNOWN where computed)."""
    found: list[Found] = []
    if resource_type == SAGEMAKER_MODEL:
        for path, container in sagemaker_containers(props):
            image = get(container, "image")
            if _present(image):
                found.append(Found(f"{path}.image", image))
    elif resource_type == AZURE_ENVIRONMENT:
        image = get(props, "properties", "image")
        if _present(image):
            found.append(Found("properties.image", image))
    elif resource_type == VERTEX_DEPLOYMENT:
        image = get(props, "container", "imageUri")
        if _present(image):
            found.append(Found("container.imageUri", image))
    elif resource_type == CLOUD_RUN:
        for index, item in enumerate(elements(props, "template", "containers")):
            found.append(Found(f"template.containers[{index}].image", get(item, "image")))
    elif resource_type == LAMBDA_FUNCTION:
        image = get(props, "imageUri")
        if _present(image):
            found.append(Found("imageUri", image))
    elif resource_type == ECS_TASK:
        found.extend(_ecs_images(props))
    return found


def _ecs_images(props: Any) -> list[Found]:
    raw = get(props, "containerDefinitions")
    if raw is UNKNOWN:
        return [Found("containerDefinitions", UNKNOWN)]
    document = as_document(raw)
    if not isinstance(document, list):
        return []
    return [
        Found(f"containerDefinitions[{index}].image", item.get("image", MISSING))
        for index, item in enumerate(document)
        if isinstance(item, dict) and item.get("image") is not None
    ]


def environment(container: Any, where: str, report: Report) -> Any:
    """A container's key/value ``environment`` map (SageMaker), MISSING when absent; None after
    reporting it unknown. Read only the keys you judge from it (``get(env, key)``)."""
    value = get(container, "environment")
    if value is UNKNOWN:
        report(unverifiable(f"{where}.environment", "the environment is known only after deploy"))
        return None
    return value


def arguments(container: Any, key: str, where: str, report: Report) -> list[str] | None:
    """The list at ``key`` as strings (``where`` is its full path); None after reporting an
    unknown list or item."""
    if get(container, key) is UNKNOWN:
        report(unverifiable(where, "the command line is known only after deploy"))
        return None
    items = elements(container, key)
    if any(item is UNKNOWN for item in items):
        report(unverifiable(where, "an argument is known only after deploy"))
        return None
    return [item for item in items if isinstance(item, str)]
