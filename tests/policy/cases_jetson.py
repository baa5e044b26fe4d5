"""Fixtures for the Jetson device-trust rule: a fleet DaemonSet pinned to verified devices."""

from __future__ import annotations

from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import DELETE, Computed, Res, patched

RULE: Final = "kubernetes-apps-daemonset-require-device-trust"
DAEMONSET: Final = "kubernetes:apps/v1:DaemonSet"
POD: Final = ("spec", "template", "spec")
TERMS: Final = (*POD, "affinity", "nodeAffinity")
REQUIRED: Final = "requiredDuringSchedulingIgnoredDuringExecution"


def _term(*labels: str) -> dict[str, Any]:
    expressions = [
        {"key": "inferstack.io/jetson-module", "operator": "In", "values": ["orin-nano-8gb"]},
        {"key": "inferstack.io/cohort", "operator": "In", "values": ["stable"]},
    ]
    expressions += [{"key": label, "operator": "In", "values": ["enabled"]} for label in labels]
    return {"matchExpressions": expressions}


TRUSTED: Final = (
    "node-restriction.kubernetes.io/inferstack-secure-boot",
    "node-restriction.kubernetes.io/inferstack-disk-encryption",
)
SELF_SET: Final = ("inferstack.io/secure-boot", "inferstack.io/disk-encryption")

FLEET_DAEMONSET: Final[dict[str, Any]] = {
    "metadata": {"name": "ward-a-stable", "namespace": Computed("ward"), "labels": {}},
    "spec": {
        "selector": {"matchLabels": {"app": "ward"}},
        "template": {
            "metadata": {"labels": {"app": "ward"}},
            "spec": {
                "runtimeClassName": "nvidia",
                "affinity": {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [_term(*TRUSTED)]}}},
                "containers": [{"name": "server", "image": "ollama/ollama:0.12.3"}],
            },
        },
    },
}

OTHER_DAEMONSET: Final = patched(
    FLEET_DAEMONSET, ((*POD, "affinity"), DELETE), ((*POD, "runtimeClassName"), DELETE)
)


def _fleet(props: dict[str, Any], name: str = "ward-a-stable") -> Res:
    return Res(DAEMONSET, name, props)


CASES: Final[list[Case]] = [
    ok(RULE, "trusted-devices-only", _fleet(FLEET_DAEMONSET), framework="hipaa"),
    ok(
        RULE,
        "trust-labels-in-node-selector",
        _fleet(
            patched(
                FLEET_DAEMONSET,
                ((*TERMS, REQUIRED, "nodeSelectorTerms"), [_term()]),
                ((*POD, "nodeSelector"), dict.fromkeys(TRUSTED, "enabled")),
            )
        ),
        framework="hipaa",
    ),
    ok(RULE, "not-a-fleet-workload", Res(DAEMONSET, "log-agent", OTHER_DAEMONSET)),
    bad(
        RULE,
        "no-secure-boot",
        _fleet(
            patched(
                FLEET_DAEMONSET,
                ((*TERMS, REQUIRED, "nodeSelectorTerms"), [_term(TRUSTED[1])]),
            )
        ),
        f"{TRUSTED[0]}=enabled",
        framework="hipaa",
    ),
    bad(
        RULE,
        "second-term-admits-untrusted-devices",
        _fleet(
            patched(
                FLEET_DAEMONSET,
                ((*TERMS, REQUIRED, "nodeSelectorTerms"), [_term(*TRUSTED), _term()]),
            )
        ),
        "node selector term 1",
        framework="hipaa",
    ),
    bad(
        RULE,
        "fleet-label-without-affinity",
        _fleet(
            patched(
                OTHER_DAEMONSET,
                (("metadata", "labels"), {"inferstack/fleet": "ward"}),
            )
        ),
        f"{TRUSTED[0]}=enabled and {TRUSTED[1]}=enabled",
        framework="hipaa",
    ),
    bad(
        RULE,
        "trust-labels-a-device-can-set-on-itself",
        _fleet(
            patched(
                FLEET_DAEMONSET,
                ((*TERMS, REQUIRED, "nodeSelectorTerms"), [_term(*SELF_SET)]),
            )
        ),
        "which a device's own kubelet can set",
        framework="hipaa",
    ),
    bad(
        RULE,
        "self-set-trust-in-node-selector",
        _fleet(
            patched(
                FLEET_DAEMONSET,
                ((*TERMS, REQUIRED, "nodeSelectorTerms"), [_term()]),
                ((*POD, "nodeSelector"), dict.fromkeys(SELF_SET, "enabled")),
            )
        ),
        "inferstack.io/secure-boot",
        framework="hipaa",
    ),
    bad(
        RULE,
        "trust-label-with-wrong-value",
        _fleet(
            patched(
                FLEET_DAEMONSET,
                (
                    (*TERMS, REQUIRED, "nodeSelectorTerms", 0, "matchExpressions", 2, "values"),
                    ["disabled"],
                ),
            )
        ),
        f"{TRUSTED[0]}=enabled",
        framework="hipaa",
    ),
]
