"""SageMaker settings beside the DeploymentSpec: the optional ``inferstack:aws`` config object."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from inferstack.args import ComponentArgs


class SageMakerArgs(ComponentArgs):
    config_key = "inferstack:aws"

    front_door: bool = False
    """An API Gateway + WAF front door for callers outside IAM."""
    artifact_bucket: str | None = None
    """An existing bucket for weights and captures instead of a created one."""
    async_retention_days: Annotated[int, Field(ge=1, le=3653)] = 30
    """Days async results and failures are kept."""
    force_destroy: bool = False
    """Let `pulumi destroy` delete a non-empty created bucket (dev stacks only)."""
