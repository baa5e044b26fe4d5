"""Fleet settings beside the DeploymentSpec: the ``patches`` of ``inferstack:kubernetes``.

A fleet's sites are Kubernetes clusters, so a stack overrides the fleet's objects the way it
overrides an LLMService's: with JSON Patch operations, applied at every site where the kind and
name match. The other ``inferstack:kubernetes`` fields configure one on-prem cluster and are
refused here rather than ignored.
"""

from __future__ import annotations

from pydantic import Field

from inferstack.args import ComponentArgs
from inferstack.kubernetes.patches import CONFIG_KEY, ObjectPatch


class FleetArgs(ComponentArgs):
    config_key = CONFIG_KEY

    patches: list[ObjectPatch] = Field(default_factory=list)
    """JSON Patch overrides of the fleet's objects (docs/targets/kubernetes.md)."""
