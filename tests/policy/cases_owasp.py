"""Fixtures for the owasp-llm pack's cross-target rules (rules/owasp_*.py)."""

from __future__ import annotations

import json
from typing import Any, Final

from cases_aws import model
from cases_azure import ML, online_deployment
from cases_kubernetes import C0, DIGEST, IMAGE, SPEC, deployment, namespace_labelled
from policy_cases import Case, bad, ok
from policy_harness import DELETE, Computed, Res, patched

IMAGE_RULE: Final = "all-serving-image-require-digest"
REVISION_RULE: Final = "all-serving-model-require-pinned-revision"
TRUST_RULE: Final = "all-serving-runtime-disallow-trust-remote-code"
TOOLS_RULE: Final = "all-serving-runtime-disallow-tool-calling"
CAP_RULE: Final = "all-autoscaling-replicas-limit-max"
K8S_DIGEST_RULE: Final = "kubernetes-apps-workload-require-image-digest"
OWASP: Final[dict[str, Any]] = {"framework": "owasp-llm"}

COMMIT: Final = "0e9e39f249a16976918f6564b8830bc894c89659"
ECR: Final = "763104351884.dkr.ecr.eu-central-1.amazonaws.com/djl-inference"
PINNED_ECR: Final = f"{ECR}@{DIGEST}"
TAGGED_ECR: Final = f"{ECR}:0.38.0-lmi29.0.0-cu130"
GAR: Final = "europe-west4-docker.pkg.dev/acme-llm/images/vllm/vllm-openai"
PRIMARY: Final = ("primaryContainer",)
ENV: Final = (*PRIMARY, "environment")
INIT0: Final = (*SPEC, "initContainers", 0)


def _download_env(revision: str) -> list[dict[str, Any]]:
    return [
        {"name": "MODEL_REPO", "value": "meta-llama/Llama-3.1-8B-Instruct"},
        {"name": "MODEL_REVISION", "value": revision},
        {"name": "HF_HUB_CACHE", "value": "/models/hub"},
    ]


def downloading(revision: str = COMMIT, *changes: tuple[tuple[str | int, ...], Any]) -> Res:
    """A model server whose init container downloads the weights from the Hub."""
    return deployment(
        ((*INIT0, "env"), _download_env(revision)),
        ((*C0, "args"), ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--revision", COMMIT]),
        *changes,
    )


def hub_model(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    """A SageMaker model that downloads from the Hub at start (LMI)."""
    return model(
        ((*PRIMARY, "image"), PINNED_ECR),
        ((*PRIMARY, "modelDataSource"), DELETE),
        (
            ENV,
            {
                "HF_MODEL_ID": "meta-llama/Llama-3.1-8B-Instruct",
                "OPTION_REVISION": COMMIT,
                "OPTION_ROLLING_BATCH": "vllm",
                "OPTION_TRUST_REMOTE_CODE": "false",
            },
        ),
        *changes,
    )


def azure_environment(image: Any) -> Res:
    props = {
        "name": "vllm-support-bot",
        "version": "014a95f21c9e",
        "workspaceName": Computed("mlw-support-bot"),
        "resourceGroupName": Computed("rg-support-bot"),
        "properties": {"image": image, "osType": "Linux", "autoRebuild": "Disabled"},
    }
    return Res(f"{ML}EnvironmentVersion", "support-bot-env", props)


def azure_model(source: str) -> Res:
    props = {
        "name": "meta-llama-Llama-3.1-8B-Instruct",
        "version": COMMIT[:12],
        "workspaceName": Computed("mlw-support-bot"),
        "resourceGroupName": Computed("rg-support-bot"),
        "properties": {
            "modelType": "custom_model",
            "modelUri": "azureml://datastores/models/paths/meta-llama/Llama-3.1-8B-Instruct/x/",
            "tags": {"source": source},
        },
    }
    return Res(f"{ML}ModelVersion", "support-bot-model", props)


VERTEX_PROPS: Final[dict[str, Any]] = {
    "project": "acme-llm",
    "location": "europe-west4",
    "displayName": "support-bot",
    "container": {
        "imageUri": f"{GAR}@{DIGEST}",
        "args": ["--model=gs://models/llama/", "--port=8000", "--max-model-len=8192"],
        "port": 8000,
    },
    "deployments": [
        {
            "key": "primary",
            "machineType": "g2-standard-8",
            "minReplicaCount": 1,
            "maxReplicaCount": 4,
        }
    ],
}


def vertex(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(
        "pulumi-python:dynamic/vertex:ModelDeployment",
        "support-bot-model",
        patched(VERTEX_PROPS, *changes),
    )


def cloud_run(image: str) -> Res:
    props = {
        "name": "support-bot-gateway",
        "location": "europe-west4",
        "ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY",
        "template": {"containers": [{"image": image, "ports": {"containerPort": 4000}}]},
    }
    return Res("gcp:cloudrunv2/service:Service", "support-bot-gateway", props)


def ecs_task(image: str) -> Res:
    definitions = [{"name": "gateway", "image": image, "essential": True}]
    props = {
        "family": "support-bot-gateway",
        "containerDefinitions": json.dumps(definitions),
        "requiresCompatibilities": ["FARGATE"],
    }
    return Res("aws:ecs/taskDefinition:TaskDefinition", "support-bot-gateway", props)


def lambda_function(image: str) -> Res:
    props = {"packageType": "Image", "imageUri": image, "role": Computed("arn:aws:iam::1:role/g")}
    return Res("aws:lambda/function:Function", "support-bot-gateway", props)


def _image_cases() -> list[Case]:
    tagged_model = model(((*PRIMARY, "image"), TAGGED_ECR))
    return [
        ok(IMAGE_RULE, "sagemaker-digest", model(((*PRIMARY, "image"), PINNED_ECR)), **OWASP),
        ok(
            IMAGE_RULE,
            "sagemaker-pipeline-digests",
            model(((*PRIMARY,), DELETE), (("containers",), [{"image": PINNED_ECR}])),
            **OWASP,
        ),
        ok(
            IMAGE_RULE,
            "azure-environment-digest",
            azure_environment(f"cr.azurecr.io/vllm/vllm-openai@{DIGEST}"),
            **OWASP,
        ),
        ok(IMAGE_RULE, "vertex-digest", vertex(), **OWASP),
        ok(IMAGE_RULE, "cloud-run-digest", cloud_run(f"{GAR}@{DIGEST}"), **OWASP),
        ok(IMAGE_RULE, "ecs-digest", ecs_task(f"{ECR}@{DIGEST}"), **OWASP),
        ok(IMAGE_RULE, "lambda-digest", lambda_function(f"{ECR}@{DIGEST}"), **OWASP),
        bad(IMAGE_RULE, "sagemaker-tag", tagged_model, "is not pinned by digest", **OWASP),
        bad(
            IMAGE_RULE,
            "sagemaker-pipeline-tag",
            model((("containers",), [{"image": PINNED_ECR}, {"image": TAGGED_ECR}])),
            "containers[1].image",
            **OWASP,
        ),
        bad(
            IMAGE_RULE,
            "azure-environment-tag",
            azure_environment("cr.azurecr.io/vllm/vllm-openai:v0.11.0"),
            "properties.image",
            **OWASP,
        ),
        bad(
            IMAGE_RULE,
            "vertex-tag",
            vertex((("container", "imageUri"), f"{GAR}:v0.11.0")),
            "container.imageUri",
            **OWASP,
        ),
        bad(IMAGE_RULE, "cloud-run-tag", cloud_run(f"{GAR}:latest"), "not pinned", **OWASP),
        bad(IMAGE_RULE, "ecs-tag", ecs_task(f"{ECR}:1.0"), "containerDefinitions[0]", **OWASP),
        bad(IMAGE_RULE, "lambda-tag", lambda_function(f"{ECR}:1.0"), "imageUri", **OWASP),
        bad(
            IMAGE_RULE,
            "digest-malformed",
            model(((*PRIMARY, "image"), f"{ECR}@sha256:abc")),
            "is not pinned by digest",
            **OWASP,
        ),
        # In the owasp-llm pack the Kubernetes rule requires digests from staging on.
        ok(
            K8S_DIGEST_RULE,
            "owasp-staging-pinned",
            (namespace_labelled("staging"), deployment()),
            **OWASP,
        ),
        bad(
            K8S_DIGEST_RULE,
            "owasp-staging-tag",
            (
                namespace_labelled("staging"),
                deployment(
                    (("metadata", "labels", "inferstack/environment"), "staging"),
                    ((*SPEC[:-1], "metadata", "labels", "inferstack/environment"), "staging"),
                    ((*C0, "image"), IMAGE.split("@")[0]),
                ),
            ),
            "is not pinned by digest",
            **OWASP,
        ),
        # A dev stack runs the guard by its release tag (no published digest): exempt.
        ok(
            K8S_DIGEST_RULE,
            "owasp-dev-tag",
            (
                namespace_labelled("dev"),
                deployment(
                    (("metadata", "labels", "inferstack/environment"), "dev"),
                    ((*SPEC[:-1], "metadata", "labels", "inferstack/environment"), "dev"),
                    ((*C0, "image"), IMAGE.split("@")[0]),
                ),
            ),
            **OWASP,
        ),
    ]


def _revision_cases() -> list[Case]:
    s3_model = model()  # weights staged in S3: nothing is fetched from the Hub
    return [
        ok(REVISION_RULE, "k8s-commit", downloading(), **OWASP),
        ok(REVISION_RULE, "k8s-no-download", deployment(), **OWASP),
        ok(REVISION_RULE, "sagemaker-s3", s3_model, **OWASP),
        ok(REVISION_RULE, "sagemaker-hub-commit", hub_model(), **OWASP),
        ok(
            REVISION_RULE,
            "sagemaker-pipeline-commit",
            model(
                ((*PRIMARY,), DELETE),
                (
                    ("containers",),
                    [
                        {
                            "image": PINNED_ECR,
                            "environment": {"HF_MODEL_ID": "org/m", "HF_MODEL_REVISION": COMMIT},
                        }
                    ],
                ),
            ),
            **OWASP,
        ),
        ok(REVISION_RULE, "azure-commit", azure_model(f"hf://org/m@{COMMIT}"), **OWASP),
        ok(
            REVISION_RULE,
            "azure-staged",
            azure_model("azureml://datastores/models/paths/m/"),
            **OWASP,
        ),
        bad(REVISION_RULE, "k8s-unpinned", downloading(""), "at revision 'none'", **OWASP),
        bad(REVISION_RULE, "k8s-branch", downloading("main"), "at revision 'main'", **OWASP),
        bad(
            REVISION_RULE,
            "k8s-short-sha",
            downloading(COMMIT[:12]),
            f"at revision '{COMMIT[:12]}'",
            **OWASP,
        ),
        bad(
            REVISION_RULE,
            "k8s-revision-from-configmap",
            downloading(
                COMMIT,
                (
                    (*INIT0, "env", 1),
                    {
                        "name": "MODEL_REVISION",
                        "valueFrom": {"configMapKeyRef": {"name": "model", "key": "revision"}},
                    },
                ),
            ),
            "at revision 'none'",
            **OWASP,
        ),
        bad(
            REVISION_RULE,
            "k8s-server-branch",
            downloading(COMMIT, ((*C0, "args"), ["--model", "org/m", "--revision=main"])),
            "serves revision 'main'",
            **OWASP,
        ),
        bad(
            REVISION_RULE,
            "k8s-ollama-pull",
            deployment(((*INIT0, "env"), [{"name": "OLLAMA_PULL", "value": "hf.co/org/m:Q4_K_M"}])),
            "by registry tag",
            **OWASP,
        ),
        bad(
            REVISION_RULE,
            "sagemaker-hub-unpinned",
            hub_model(((*ENV, "OPTION_REVISION"), DELETE)),
            "without a pinned commit revision",
            **OWASP,
        ),
        bad(
            REVISION_RULE,
            "sagemaker-hub-branch",
            hub_model(((*ENV, "OPTION_REVISION"), "main")),
            "without a pinned commit revision",
            **OWASP,
        ),
        bad(
            REVISION_RULE, "azure-unpinned", azure_model("hf://org/m"), "not from a pinned", **OWASP
        ),
        bad(
            REVISION_RULE,
            "azure-branch",
            azure_model("hf://org/m@main"),
            "not from a pinned",
            **OWASP,
        ),
    ]


def _flag_cases() -> list[Case]:
    cases: list[Case] = []
    for rule, flag, variable, azure_args in (
        (TRUST_RULE, "--trust-remote-code", "OPTION_TRUST_REMOTE_CODE", "--trust-remote-code"),
        (
            TOOLS_RULE,
            "--enable-auto-tool-choice",
            "OPTION_ENABLE_AUTO_TOOL_CHOICE",
            "--enable-auto-tool-choice --tool-call-parser llama3_json",
        ),
    ):
        key = rule.rsplit("-", 2)[-2]
        vllm_args = "--tensor-parallel-size 1 --max-model-len 8192"
        cases += [
            ok(rule, "k8s-plain", downloading(), **OWASP),
            ok(rule, "sagemaker-plain", hub_model(), **OWASP),
            ok(
                rule,
                "azure-plain",
                online_deployment(
                    (("properties", "environmentVariables"), {"VLLM_ARGS": vllm_args})
                ),
                **OWASP,
            ),
            ok(rule, "vertex-plain", vertex(), **OWASP),
            bad(
                rule,
                f"k8s-{key}",
                deployment(((*C0, "args"), ["--model", "/models/llama", flag])),
                flag,
                **OWASP,
            ),
            bad(
                rule,
                f"k8s-{key}-in-script",
                deployment(((*C0, "command"), ["sh", "-c", f"exec vllm serve /models/m {flag}"])),
                flag,
                **OWASP,
            ),
            bad(rule, f"sagemaker-{key}", hub_model(((*ENV, variable), "true")), variable, **OWASP),
            bad(
                rule,
                f"azure-{key}",
                online_deployment(
                    (
                        ("properties", "environmentVariables"),
                        {"VLLM_ARGS": f"{vllm_args} {azure_args}"},
                    )
                ),
                flag,
                **OWASP,
            ),
            bad(
                rule,
                f"vertex-{key}",
                vertex((("container", "args"), [*VERTEX_PROPS["container"]["args"], flag])),
                flag,
                **OWASP,
            ),
        ]
    cases.append(
        bad(
            TRUST_RULE,
            "tgi-variable",
            online_deployment(
                (("properties", "environmentVariables"), {"TRUST_REMOTE_CODE": "true"})
            ),
            "TRUST_REMOTE_CODE",
            **OWASP,
        )
    )
    return cases


def keda(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    props = {
        "metadata": {"name": "support-bot", "namespace": "support-bot"},
        "spec": {
            "scaleTargetRef": {"name": "support-bot"},
            "minReplicaCount": 2,
            "maxReplicaCount": 6,
            "triggers": [{"type": "prometheus", "metadata": {"threshold": "12"}}],
        },
    }
    return Res("kubernetes:keda.sh/v1alpha1:ScaledObject", "support-bot", patched(props, *changes))


def hpa(maximum: Any) -> Res:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"},
        "minReplicas": 1,
    }
    if maximum is not None:
        spec["maxReplicas"] = maximum
    return Res("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "llm", {"spec": spec})


def scaling_target(maximum: Any) -> Res:
    props = {
        "minCapacity": 2,
        "maxCapacity": maximum,
        "resourceId": "endpoint/support-bot/variant/primary",
        "scalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "serviceNamespace": "sagemaker",
    }
    return Res("aws:appautoscaling/target:Target", "support-bot-scaling-target", props)


def autoscale(maximum: str) -> Res:
    props = {
        "resourceGroupName": Computed("rg-support-bot"),
        "targetResourceUri": Computed("/subscriptions/0/deployments/blue"),
        "enabled": True,
        "profiles": [
            {
                "name": "load",
                "capacity": {"minimum": "2", "maximum": maximum, "default": "2"},
                "rules": [],
            }
        ],
    }
    return Res("azure-native:monitor:AutoscaleSetting", "support-bot-autoscale", props)


def _cap_cases() -> list[Case]:
    capped = {"config": {"maxReplicas": 8}, **OWASP}
    return [
        ok(CAP_RULE, "keda", keda(), **OWASP),
        ok(CAP_RULE, "hpa", hpa(4), **OWASP),
        ok(CAP_RULE, "sagemaker", scaling_target(6), **OWASP),
        ok(CAP_RULE, "azure", autoscale("4"), **OWASP),
        ok(CAP_RULE, "vertex", vertex(), **OWASP),
        ok(
            CAP_RULE,
            "vertex-fixed-size",
            vertex((("deployments", 0, "maxReplicaCount"), DELETE)),
            **OWASP,
        ),
        ok(CAP_RULE, "within-configured", keda(), **capped),
        bad(
            CAP_RULE,
            "keda-uncapped",
            keda((("spec", "maxReplicaCount"), DELETE)),
            "not set",
            **OWASP,
        ),
        bad(CAP_RULE, "hpa-uncapped", hpa(None), "spec.maxReplicas is not set", **OWASP),
        bad(CAP_RULE, "sagemaker-above", scaling_target(40), "allows 40 replicas", **capped),
        bad(CAP_RULE, "azure-above", autoscale("20"), "allows 20 replicas", **capped),
        bad(CAP_RULE, "azure-garbage", autoscale("many"), "not a replica count", **OWASP),
        bad(
            CAP_RULE,
            "vertex-above",
            vertex((("deployments", 0, "maxReplicaCount"), 50)),
            "deployments[0].maxReplicaCount allows 50",
            **capped,
        ),
    ]


CASES: Final = [*_image_cases(), *_revision_cases(), *_flag_cases(), *_cap_cases()]
