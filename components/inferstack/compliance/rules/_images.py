"""Container image references: registry, repository, tag and digest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final

DIGEST: Final = re.compile(r"^sha256:[0-9a-f]{64}$")
DEFAULT_REGISTRY: Final = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def pinned(self) -> bool:
        return self.digest is not None and DIGEST.match(self.digest) is not None

    @property
    def floating(self) -> bool:
        """No digest and either no tag (which means latest) or the latest tag itself."""
        return not self.pinned and (self.tag is None or self.tag == "latest")

    @property
    def location(self) -> str:
        return f"{self.registry}/{self.repository}"


def parse_image(reference: str) -> ImageRef:
    name, _, digest = reference.strip().partition("@")
    tag: str | None = None
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DEFAULT_REGISTRY, name
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = f"library/{repository}"
    return ImageRef(registry.lower(), repository, tag or None, digest or None)


def registry_allowed(image: ImageRef, allowed: tuple[str, ...]) -> bool:
    """An empty list allows every registry; entries are prefixes or globs of registry/path."""
    if not allowed:
        return True
    for entry in allowed:
        prefix = entry.strip().rstrip("/").lower()
        if not prefix:
            continue
        location = image.location.lower()
        if location == prefix or location.startswith(prefix + "/"):
            return True
        if fnmatchcase(location, prefix) or fnmatchcase(location, prefix + "/*"):
            return True
    return False
