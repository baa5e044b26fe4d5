"""Where a stack's images must be pinned by digest, and the refusal of one pinned by tag.

The packs judge images with two rules, each requiring a digest in some environments per pack.
Baseline always runs; the other packs run when ``compliance.frameworks`` lists them:

- Kubernetes workloads (on-prem, Jetson): ``kubernetes-apps-workload-require-image-digest``,
  whose ``environments`` setting is prod in every pack and prod and staging in owasp-llm. A dev
  stack, or a staging one without owasp-llm, may run tags (``WORKLOAD_DIGESTS``).
- Cloud serving images: owasp-llm's ``all-serving-image-require-digest`` has no environment
  setting and fails every stage (``OWASP_SERVING_DIGESTS``); a target may add its own stages.

A target refuses an image it would deploy where the rule would flag it, before anything is
registered, with the key that takes the image by digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, get_args

from inferstack.deployment.base import is_digest_pinned
from inferstack.deployment.models import DeploymentSpec
from inferstack.deployment.types import Environment
from inferstack.errors import SpecError

Environments = Mapping[str, tuple[str, ...]]
"""Pack name -> the environments in which that pack requires digests."""

EVERY_ENVIRONMENT: Final[tuple[str, ...]] = get_args(Environment)
WORKLOAD_DIGESTS: Final[Environments] = {
    "baseline": ("prod",),
    "hipaa": ("prod",),
    "gdpr": ("prod",),
    "owasp-llm": ("prod", "staging"),
}
OWASP_SERVING_DIGESTS: Final[Environments] = {"owasp-llm": EVERY_ENVIRONMENT}


def digest_requirement(
    spec: DeploymentSpec, environments: Environments = WORKLOAD_DIGESTS
) -> str | None:
    """Why the stack's images need digests ("prod", "staging with owasp-llm"); None: they don't."""
    environment = spec.environment
    for pack in ("baseline", *spec.compliance.frameworks):
        if environment in environments.get(pack, ()):
            return environment if pack == "baseline" else f"{environment} with {pack}"
    return None


def require_digest(
    spec: DeploymentSpec,
    key: str,
    image: str,
    fix: str,
    *,
    shown: str | None = None,
    environments: Environments = WORKLOAD_DIGESTS,
) -> None:
    """SpecError naming ``key`` when ``image`` is tag-only and the stack requires digests.

    ``shown`` names the image in the message when ``key`` did not give it (a default).
    """
    required = digest_requirement(spec, environments)
    if required is not None and not is_digest_pinned(image):
        raise SpecError(
            key, f"{shown or repr(image)} is not pinned by digest, which {required} requires", fix
        )
