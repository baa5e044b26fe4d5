"""Where the stack's images must be pinned by digest, and the refusal of one the stack pins by tag.

``kubernetes-apps-workload-require-image-digest`` judges every workload image of a Kubernetes
stack against its ``environments`` setting: prod in every pack, and prod and staging in the
owasp-llm pack. Baseline always runs, so a prod stack needs digests whatever it lists; a staging
stack needs them when it lists owasp-llm. A dev stack, or a staging one without owasp-llm, may
run tags. The on-prem service and the Jetson fleet refuse an image the rule would flag, before
anything is registered, with the key that takes the image by digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from inferstack.deployment import DeploymentSpec, is_digest_pinned
from inferstack.errors import SpecError

# The rule's ``environments`` setting: its default, and the packs that set their own.
DIGEST_ENVIRONMENTS: Final = ("prod",)
PACK_DIGEST_ENVIRONMENTS: Final[Mapping[str, tuple[str, ...]]] = {
    "owasp-llm": ("prod", "staging"),
}


def digest_requirement(spec: DeploymentSpec) -> str | None:
    """Why the stack's images need digests: "prod" or "staging with owasp-llm"; None: they don't.

    The packs are baseline and the spec's ``compliance.frameworks``, each with its own
    environments for the rule.
    """
    environment = spec.environment
    for pack in ("baseline", *spec.compliance.frameworks):
        if environment in PACK_DIGEST_ENVIRONMENTS.get(pack, DIGEST_ENVIRONMENTS):
            return environment if pack == "baseline" else f"{environment} with {pack}"
    return None


def require_digest(
    spec: DeploymentSpec, key: str, image: str, fix: str, *, shown: str | None = None
) -> None:
    """SpecError naming ``key`` when ``image`` is tag-only and the stack requires digests.

    ``shown`` names the image in the message when ``key`` did not give it (a default).
    """
    required = digest_requirement(spec)
    if required is not None and not is_digest_pinned(image):
        raise SpecError(
            key, f"{shown or repr(image)} is not pinned by digest, which {required} requires", fix
        )
