"""The Artifact Registry repository (CMEK) the serving image is pulled through.

A remote repository proxies the image's registry (Docker Hub, ghcr.io, ...) and keeps each
pulled layer in the region under the deployment's key; the model names the image by digest,
so a moved tag upstream changes nothing here.
"""

from __future__ import annotations

import pulumi_gcp as gcp

from inferstack.vertex.container import Upstream
from inferstack.vertex.context import Context
from inferstack.vertex.encryption import Key


def image_repository(ctx: Context, key: Key) -> gcp.artifactregistry.Repository | None:
    """The remote repository the serving image is pulled through."""
    return remote_repository(
        ctx, key, ctx.plan.container.upstream, ctx.plan.names.repository, "images", "Serving"
    )


def remote_repository(
    ctx: Context,
    key: Key,
    upstream: Upstream | None,
    repository_id: str,
    purpose: str,
    what: str,
) -> gcp.artifactregistry.Repository | None:
    if upstream is None:
        return None  # the image is already in an Artifact Registry repository
    docker = (
        gcp.artifactregistry.RepositoryRemoteRepositoryConfigDockerRepositoryArgs(
            public_repository="DOCKER_HUB"
        )
        if upstream.docker_hub
        else None
    )
    common = (
        None
        if upstream.uri is None
        else gcp.artifactregistry.RepositoryRemoteRepositoryConfigCommonRepositoryArgs(
            uri=upstream.uri
        )
    )
    return gcp.artifactregistry.Repository(
        ctx.child(purpose),
        repository_id=repository_id,
        project=ctx.project,
        location=ctx.region,
        format="DOCKER",
        mode="REMOTE_REPOSITORY",
        description=f"{what} images of {ctx.name}, cached from {upstream.uri or 'Docker Hub'}",
        kms_key_name=key.name,
        remote_repository_config=gcp.artifactregistry.RepositoryRemoteRepositoryConfigArgs(
            description=f"upstream of the {what.lower()} image",
            docker_repository=docker,
            common_repository=common,
        ),
        labels=ctx.labels(),
        opts=ctx.opts(depends_on=key.grants),
    )
