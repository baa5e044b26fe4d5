"""The onprem stacks: valid configs, offline preview and update, manifests valid for 1.30.

Built-in kinds are validated by kubernetes-validate (strict, 1.30). Its schemas do not cover
CRDs, so ServiceMonitor, PrometheusRule, AlertmanagerConfig and ScaledObject are checked
against the fields their CRDs define (prometheus-operator monitoring.coreos.com, KEDA
keda.sh/v1alpha1), with unknown fields rejected as the API server would in strict mode.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
import pytest
import yaml

from inferstack.cli import main
from inferstack.deployment import is_digest_pinned, load_stack_config
from inferstack.preview import PreviewRun, evaluate, render, run_stack

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"
PACKS = [ROOT / "policy_packs" / pack for pack in ("baseline", "hipaa", "gdpr")]
KUBERNETES_VERSION = "1.30.0"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule", "AlertmanagerConfig", "ScaledObject"}
CRDS = {kind.lower() for kind in CRD_KINDS}


def config(stack: str) -> Path:
    return STACKS / f"Pulumi.{stack}.yaml"


@pytest.fixture(scope="module", params=["onprem-dev", "onprem-prod"])
def runs(request: pytest.FixtureRequest) -> dict[bool, PreviewRun]:
    path = config(request.param)
    return {preview: run_stack(path, preview=preview) for preview in (True, False)}


def test_dev_config() -> None:
    stack = load_stack_config(config("onprem-dev"))
    spec = stack.deployment
    assert stack.target == "onprem"
    assert spec.environment == "dev"
    assert spec.model.id in ("meta-llama/Llama-3.2-3B-Instruct", "meta-llama/Llama-3.1-8B-Instruct")
    assert spec.compute.gpu_type == "L4"
    assert spec.model.hf_token_secret is not None


def test_prod_config() -> None:
    stack = load_stack_config(config("onprem-prod"))
    spec = stack.deployment
    assert stack.target == "onprem"
    assert spec.environment == "prod"
    assert set(spec.compliance.frameworks) == {"hipaa", "gdpr", "owasp-llm"}
    assert spec.compliance.phi is True
    assert spec.min_replicas >= 2
    assert spec.serving.image is not None and is_digest_pinned(spec.serving.image)
    assert spec.alarms_enabled and spec.observability.alarms.email
    # No budget or log retention: neither has an effect on Kubernetes, so both are refused.
    assert spec.cost.monthly_budget_usd is None


def kinds(run: PreviewRun) -> set[str]:
    return {r.type.rsplit(":", 1)[-1] for r in run.resources if r.type.startswith("kubernetes:")}


def test_every_resource_kind_is_present(runs: dict[bool, PreviewRun]) -> None:
    found = kinds(runs[True])
    assert {
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Ingress",
        "ScaledObject",
        "ServiceMonitor",
        "ConfigMap",
    } <= found
    if runs[True].stack == "onprem-prod":
        assert {"PersistentVolumeClaim", "PrometheusRule", "AlertmanagerConfig"} <= found


def test_preview_and_update_register_the_same_inputs(runs: dict[bool, PreviewRun]) -> None:
    preview = {r.urn: (r.parent, r.inputs) for r in runs[True].resources if r.custom}
    update = {r.urn: (r.parent, r.inputs) for r in runs[False].resources if r.custom}
    assert preview == update
    (component,) = [r for r in runs[True].resources if r.type == "inferstack:kubernetes:LLMService"]
    assert all(parent == component.urn for parent, _ in preview.values())


def test_every_pack_passes_in_preview_and_update(runs: dict[bool, PreviewRun]) -> None:
    for run in runs.values():
        violations = evaluate(run, PACKS)
        assert [v for v in violations if v.enforcement == "mandatory"] == []
        assert [v for v in violations if v.skipped_in_preview] == []


def staging_with_owasp_llm(tmp_path: Path, **kubernetes: Any) -> Path:
    """onprem-dev as a staging stack under owasp-llm, its model pinned to a commit."""
    document = yaml.safe_load(config("onprem-dev").read_text(encoding="utf-8"))
    stack = document["config"]
    spec = stack["inferstack:deployment"]
    spec["environment"] = "staging"
    spec["compliance"] = {"frameworks": ["owasp-llm"]}
    spec["model"]["source"] = f"hf://{spec['model']['id']}@{'0cb88a4f' * 5}"
    stack["inferstack:kubernetes"].update(kubernetes)
    path = tmp_path / "Pulumi.onprem-staging.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_staging_with_owasp_llm_refuses_the_guard_by_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The owasp-llm pack requires digests in staging; the guard's default is a tag.
    path = staging_with_owasp_llm(tmp_path)
    assert main(["preview", "--config", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: inferstack:kubernetes.guard_image: not set; staging with ")


def test_staging_with_owasp_llm_and_the_guard_by_digest_passes_its_packs(tmp_path: Path) -> None:
    guard = "registry.example.com/mirror/llm-guard-api:0.3.16@sha256:" + "0" * 64
    run = run_stack(staging_with_owasp_llm(tmp_path, guard_image=guard), preview=True)
    violations = evaluate(run, [PACKS[0], ROOT / "policy_packs" / "owasp-llm"])
    assert [v for v in violations if v.enforcement == "mandatory"] == []


def rendered(run: PreviewRun, out: Path) -> list[dict[str, Any]]:
    files = render(run, out)
    assert files
    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in files]


def keyed(documents: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def test_rendered_manifests_are_valid_for_kubernetes_1_30(
    runs: dict[bool, PreviewRun], tmp_path: Path
) -> None:
    documents = rendered(runs[False], tmp_path / "update")
    # Preview and update render the same documents.
    assert keyed(rendered(runs[True], tmp_path / "preview")) == keyed(documents)
    builtin = [d for d in documents if d["kind"] not in CRD_KINDS]
    custom = [d for d in documents if d["kind"] in CRD_KINDS]
    assert len(builtin) >= 10
    for document in builtin:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    assert {d["kind"] for d in custom} >= {"ServiceMonitor", "ScaledObject"}
    for document in custom:
        jsonschema.validate(document, CRD_SCHEMAS[document["kind"]])


def test_render_numbering_does_not_follow_registration_order(
    runs: dict[bool, PreviewRun], tmp_path: Path
) -> None:
    # ServiceMonitor, PrometheusRule, AlertmanagerConfig and ScaledObject share the service's
    # name and rank alike: their file numbers must not depend on which registered first.
    run = runs[False]
    forward = render(run, tmp_path / "forward")
    backward = render(
        dataclasses.replace(run, resources=list(reversed(run.resources))), tmp_path / "backward"
    )
    assert [p.name for p in forward] == [p.name for p in backward]
    same_name = [p.name for p in forward if p.name.split("-", 1)[1].split("-", 1)[0] in CRDS]
    assert len(same_name) >= 2


def test_rendered_deployment_is_hardened(runs: dict[bool, PreviewRun], tmp_path: Path) -> None:
    # The model server, the gateway and the guard.
    deployments = [d for d in rendered(runs[False], tmp_path) if d["kind"] == "Deployment"]
    # (and the trace collector where tracing is on)
    assert len(deployments) >= 3
    for deployment in deployments:
        prod = deployment["metadata"]["labels"]["inferstack/environment"] == "prod"
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            # Outside prod the guard runs its release tag (its publisher lists no digest).
            if prod or container["name"] != "guard":
                assert "@sha256:" in container["image"]
        assert isinstance(pod["containers"][0]["ports"][0]["containerPort"], int)


# -- CRD shapes (fields from the CRDs' OpenAPI schemas) ---------------------------------------

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
LABELS = {"type": "object", "additionalProperties": STRING}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


def crd(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    metadata = obj(
        {"name": STRING, "namespace": STRING, "labels": LABELS, "annotations": LABELS},
        ["name", "namespace"],
    )
    return obj(
        {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": metadata,
            "spec": spec,
        },
        ["apiVersion", "kind", "metadata", "spec"],
    )


DURATION = {"type": "string", "pattern": r"^(0|([0-9]+(\.[0-9]+)?(ms|s|m|h))+)$"}
SELECTOR = obj({"matchLabels": LABELS})
HPA_POLICY = obj(
    {"type": {"enum": ["Pods", "Percent"]}, "value": INTEGER, "periodSeconds": INTEGER}
)
HPA_RULES = obj(
    {
        "stabilizationWindowSeconds": INTEGER,
        "selectPolicy": STRING,
        "policies": {"type": "array", "items": HPA_POLICY},
    }
)

CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": crd(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        obj(
            {
                "selector": SELECTOR,
                "namespaceSelector": obj({"matchNames": {"type": "array", "items": STRING}}),
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": obj(
                        {
                            "port": STRING,
                            "path": STRING,
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                        },
                        ["port"],
                    ),
                },
            },
            ["selector", "endpoints"],
        ),
    ),
    "PrometheusRule": crd(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        obj(
            {
                "groups": {
                    "type": "array",
                    "items": obj(
                        {
                            "name": STRING,
                            "rules": {
                                "type": "array",
                                "minItems": 1,
                                "items": obj(
                                    {
                                        "alert": STRING,
                                        "expr": {"type": "string", "minLength": 1},
                                        "for": DURATION,
                                        "labels": LABELS,
                                        "annotations": LABELS,
                                    },
                                    ["alert", "expr"],
                                ),
                            },
                        },
                        ["name", "rules"],
                    ),
                }
            },
            ["groups"],
        ),
    ),
    "AlertmanagerConfig": crd(
        "monitoring.coreos.com/v1alpha1",
        "AlertmanagerConfig",
        obj(
            {
                "route": obj(
                    {
                        "receiver": STRING,
                        "groupBy": {"type": "array", "items": STRING},
                        "groupWait": DURATION,
                        "groupInterval": DURATION,
                        "repeatInterval": DURATION,
                        "matchers": {
                            "type": "array",
                            "items": obj(
                                {
                                    "name": STRING,
                                    "value": STRING,
                                    "matchType": {"enum": ["=", "!=", "=~", "!~"]},
                                },
                                ["name"],
                            ),
                        },
                    },
                    ["receiver"],
                ),
                "receivers": {
                    "type": "array",
                    "items": obj(
                        {
                            "name": STRING,
                            "emailConfigs": {
                                "type": "array",
                                "items": obj({"to": STRING, "sendResolved": {"type": "boolean"}}),
                            },
                        },
                        ["name"],
                    ),
                },
            },
        ),
    ),
    "ScaledObject": crd(
        "keda.sh/v1alpha1",
        "ScaledObject",
        obj(
            {
                "scaleTargetRef": obj(
                    {"apiVersion": STRING, "kind": STRING, "name": STRING}, ["name"]
                ),
                "pollingInterval": INTEGER,
                "cooldownPeriod": INTEGER,
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": obj(
                    {"failureThreshold": INTEGER, "replicas": INTEGER},
                    ["failureThreshold", "replicas"],
                ),
                "advanced": obj(
                    {
                        "horizontalPodAutoscalerConfig": obj(
                            {
                                "name": STRING,
                                "behavior": obj({"scaleUp": HPA_RULES, "scaleDown": HPA_RULES}),
                            }
                        )
                    }
                ),
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": obj(
                        {
                            "type": {"const": "prometheus"},
                            "name": STRING,
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            # KEDA trigger metadata is a map of strings.
                            "metadata": {
                                "type": "object",
                                "additionalProperties": STRING,
                                "required": ["serverAddress", "query", "threshold"],
                            },
                        },
                        ["type", "metadata"],
                    ),
                },
            },
            ["scaleTargetRef", "triggers"],
        ),
    ),
}
