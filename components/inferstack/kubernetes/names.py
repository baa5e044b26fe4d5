"""Object names and labels of one service, all derived from the component name."""

from __future__ import annotations

from dataclasses import dataclass

MODEL_CACHE_SUFFIX = "model-cache"


@dataclass(frozen=True)
class Names:
    """The Kubernetes name of every object a service creates."""

    base: str
    namespace: str
    # Workloads that share one identity (a fleet's device groups) name it here.
    account: str | None = None

    @property
    def deployment(self) -> str:
        return self.base

    @property
    def service(self) -> str:
        return self.base

    @property
    def service_account(self) -> str:
        return self.account or self.base

    @property
    def ingress(self) -> str:
        return self.base

    @property
    def model_cache(self) -> str:
        return f"{self.base}-{MODEL_CACHE_SUFFIX}"

    @property
    def dashboard(self) -> str:
        return f"{self.base}-dashboard"

    @property
    def tls_secret(self) -> str:
        return f"{self.base}-tls"

    @property
    def api_key_secret(self) -> str:
        return f"{self.base}-api-key"

    @property
    def client_ca_secret(self) -> str:
        return f"{self.base}-client-ca"

    @property
    def otel_collector(self) -> str:
        return f"{self.base}-otel-collector"

    def otel_collector_url(self, port: int) -> str:
        """The trace collector Service's in-cluster URL on ``port`` (gRPC 4317, HTTP 4318)."""
        return f"http://{self.otel_collector}.{self.namespace}.svc:{port}"

    def policy(self, purpose: str) -> str:
        return f"{self.base}-{purpose}"


def object_labels(spec_labels: dict[str, str], instance: str) -> dict[str, str]:
    """Labels on every object: the spec's (the user's, then inferstack's), then the instance.

    The component's own keys come last, so no tag can replace them (the spec refuses a tag
    with a reserved key in the first place).
    """
    return {
        **spec_labels,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/part-of": "inferstack",
    }


def selector_labels(instance: str) -> dict[str, str]:
    """The pod selector: stable across runtime or image changes (selectors are immutable)."""
    return {
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": "inference-server",
    }
