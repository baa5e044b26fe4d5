"""Fixtures for the Kubernetes rules: one hardened workload, Service, Ingress, Namespace."""

from __future__ import annotations

from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import DELETE, Computed, Res, patched

DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
CRONJOB: Final = "kubernetes:batch/v1:CronJob"
POD: Final = "kubernetes:core/v1:Pod"
STATEFULSET: Final = "kubernetes:apps/v1:StatefulSet"
SERVICE: Final = "kubernetes:core/v1:Service"
INGRESS: Final = "kubernetes:networking.k8s.io/v1:Ingress"
NAMESPACE: Final = "kubernetes:core/v1:Namespace"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

DIGEST: Final = "sha256:" + "3f" * 32
IMAGE: Final = f"vllm/vllm-openai:v0.6.3@{DIGEST}"
SPEC: Final = ("spec", "template", "spec")
C0: Final = (*SPEC, "containers", 0)
SC: Final = (*C0, "securityContext")

CONTAINER_SECURITY: Final = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
POD_SPEC: Final[dict[str, Any]] = {
    "automountServiceAccountToken": False,
    "serviceAccountName": "llm",
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "initContainers": [
        {
            "name": "fetch-model",
            "image": f"ghcr.io/acme/model-fetch:1.2.0@{DIGEST}",
            "securityContext": CONTAINER_SECURITY,
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
        }
    ],
    "containers": [
        {
            "name": "vllm",
            "image": IMAGE,
            "args": ["--model", "/models/llama", "--max-model-len", "8192"],
            "ports": [{"containerPort": 8000, "name": "http"}],
            "env": [
                {
                    "name": "HF_TOKEN",
                    "valueFrom": {
                        "secretKeyRef": {"name": Computed("hf-token-5d2a1"), "key": "token"}
                    },
                },
                {"name": "MAX_TOTAL_TOKENS", "value": "8192"},
                {"name": "HF_HOME", "value": "/cache/hf"},
            ],
            "securityContext": CONTAINER_SECURITY,
            "resources": {
                "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"},
                "requests": {"cpu": "4", "memory": "24Gi", "nvidia.com/gpu": "1"},
            },
            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
        }
    ],
    "volumes": [{"name": "cache", "emptyDir": {}}],
}
LABELS: Final = {
    "app.kubernetes.io/name": "llm",
    "app.kubernetes.io/managed-by": "inferstack",
    "inferstack/environment": "prod",
}
WORKLOAD: Final[dict[str, Any]] = {
    "metadata": {"name": "llm", "namespace": "inference", "labels": LABELS},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "llm"}},
        "template": {"metadata": {"labels": LABELS}, "spec": POD_SPEC},
    },
}


def deployment(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(DEPLOYMENT, "llm", patched(WORKLOAD, *changes))


def namespace_labelled(environment: str) -> Res:
    labels = {"inferstack/environment": environment}
    return Res(NAMESPACE, "inference", {"metadata": {"name": "inference", "labels": labels}})


def _labelled(environment: str, image: str) -> Res:
    return deployment(
        (("metadata", "labels", "inferstack/environment"), environment),
        ((*SPEC[:-1], "metadata", "labels", "inferstack/environment"), environment),
        ((*C0, "image"), image),
    )


def _workload_cases() -> list[Case]:
    name = "kubernetes-apps-workload-"
    cronjob = Res(
        CRONJOB,
        "nightly-eval",
        {
            "metadata": {"name": "nightly-eval", "namespace": "inference", "labels": LABELS},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {
                    "spec": {"template": {"spec": patched(POD_SPEC, (("restartPolicy",), "Never"))}}
                },
            },
        },
    )
    root_cronjob = Res(
        CRONJOB,
        "nightly-eval",
        patched(
            cronjob.props,
            (
                ("spec", "jobTemplate", "spec", "template", "spec", "securityContext", "runAsUser"),
                0,
            ),
        ),
    )
    pod = Res(POD, "debug", {"metadata": {"name": "debug", "labels": LABELS}, "spec": POD_SPEC})
    statefulset = Res(STATEFULSET, "llm", WORKLOAD)
    return [
        ok(f"{name}require-nonroot", "hardened", deployment()),
        ok(f"{name}require-nonroot", "statefulset", statefulset),
        ok(f"{name}require-nonroot", "pod", pod),
        ok(f"{name}require-nonroot", "cronjob", cronjob),
        ok(f"{name}disallow-root-uid", "hardened", deployment()),
        ok(f"{name}disallow-root-uid", "cronjob", cronjob),
        ok(f"{name}disallow-root-uid", "pod", pod),
        bad(f"{name}disallow-root-uid", "cronjob-uid-0", root_cronjob, "runs as user 0"),
        bad(
            f"{name}require-nonroot",
            "container-overrides-pod",
            deployment(((*SC, "runAsNonRoot"), False)),
            "runAsNonRoot",
        ),
        bad(
            f"{name}require-nonroot",
            "unset",
            deployment(((*SPEC, "securityContext", "runAsNonRoot"), DELETE)),
            "runAsNonRoot",
        ),
        bad(f"{name}disallow-root-uid", "uid-0", deployment(((*SC, "runAsUser"), 0)), "user 0"),
        ok(f"{name}require-readonly-rootfs", "hardened", deployment()),
        bad(
            f"{name}require-readonly-rootfs",
            "writable",
            deployment(((*SC, "readOnlyRootFilesystem"), False)),
            "writable root filesystem",
        ),
        bad(
            f"{name}require-readonly-rootfs",
            "init-container-unset",
            deployment(((*SPEC, "initContainers", 0, "securityContext"), DELETE)),
            "container 'fetch-model'",
        ),
        ok(f"{name}disallow-privilege-escalation", "hardened", deployment()),
        bad(
            f"{name}disallow-privilege-escalation",
            "allowed",
            deployment(((*SC, "allowPrivilegeEscalation"), True)),
            "allowPrivilegeEscalation",
        ),
        bad(
            f"{name}disallow-privilege-escalation",
            "unset",
            deployment(((*SC, "allowPrivilegeEscalation"), DELETE)),
            "allowPrivilegeEscalation",
        ),
        ok(f"{name}require-drop-all-capabilities", "hardened", deployment()),
        ok(
            f"{name}require-drop-all-capabilities",
            "net-bind-service",
            deployment(((*SC, "capabilities", "add"), ["NET_BIND_SERVICE"])),
        ),
        bad(
            f"{name}require-drop-all-capabilities",
            "no-drop",
            deployment(((*SC, "capabilities"), {"drop": ["NET_RAW"]})),
            "does not drop ALL",
        ),
        bad(
            f"{name}require-drop-all-capabilities",
            "adds-sys-admin",
            deployment(((*SC, "capabilities", "add"), ["SYS_ADMIN"])),
            "SYS_ADMIN",
        ),
        ok(f"{name}require-seccomp-profile", "hardened", deployment()),
        ok(
            f"{name}require-seccomp-profile",
            "container-level",
            deployment(
                ((*SPEC, "securityContext", "seccompProfile"), DELETE),
                ((*SC, "seccompProfile"), {"type": "RuntimeDefault"}),
                (
                    (*SPEC, "initContainers", 0, "securityContext", "seccompProfile"),
                    {"type": "Localhost", "localhostProfile": "profiles/fetch.json"},
                ),
            ),
        ),
        bad(
            f"{name}require-seccomp-profile",
            "unset",
            deployment(((*SPEC, "securityContext", "seccompProfile"), DELETE)),
            "seccomp",
        ),
        bad(
            f"{name}require-seccomp-profile",
            "unconfined",
            deployment(((*SC, "seccompProfile"), {"type": "Unconfined"})),
            "seccomp",
        ),
        ok(f"{name}require-resource-limits", "hardened", deployment()),
        bad(
            f"{name}require-resource-limits",
            "no-memory-limit",
            deployment(((*C0, "resources", "limits", "memory"), DELETE)),
            "memory",
        ),
        bad(
            f"{name}require-resource-limits",
            "no-resources",
            deployment(((*C0, "resources"), DELETE)),
            "cpu, memory",
        ),
        bad(
            f"{name}require-resource-limits",
            "gpu-limit-required-by-config",
            deployment(
                ((*SPEC, "initContainers"), DELETE),
                ((*C0, "resources", "limits"), {"cpu": "8", "memory": "32Gi"}),
            ),
            "nvidia.com/gpu",
            config={"requiredLimits": ["cpu", "memory", "nvidia.com/gpu"]},
        ),
        ok(f"{name}disallow-privileged", "hardened", deployment()),
        bad(
            f"{name}disallow-privileged",
            "privileged",
            deployment(((*SC, "privileged"), True)),
            "runs privileged",
        ),
        ok(f"{name}disallow-host-namespaces", "hardened", deployment()),
        bad(
            f"{name}disallow-host-namespaces",
            "host-network",
            deployment(((*SPEC, "hostNetwork"), True)),
            "hostNetwork",
        ),
        bad(
            f"{name}disallow-host-namespaces",
            "host-pid",
            deployment(((*SPEC, "hostPID"), True)),
            "hostPID",
        ),
        ok(f"{name}disallow-secret-env-literals", "secret-ref", deployment()),
        bad(
            f"{name}disallow-secret-env-literals",
            "hf-token-literal",
            deployment(((*C0, "env", 0), {"name": "HF_TOKEN", "value": "hf_" + "Ab3" * 12})),
            "HF_TOKEN",
        ),
        bad(
            f"{name}disallow-secret-env-literals",
            "hub-token-literal",
            deployment(((*C0, "env", 0), {"name": "HUGGING_FACE_HUB_TOKEN", "value": "s3cr3t"})),
            "HUGGING_FACE_HUB_TOKEN",
        ),
        bad(
            f"{name}disallow-secret-env-literals",
            "token-from-output-still-literal",
            deployment(((*C0, "env", 0), {"name": "API_KEY", "value": Computed("k-19f0")})),
            "API_KEY",
        ),
        bad(
            f"{name}disallow-secret-env-literals",
            "digits-only-password",
            deployment(((*C0, "env", 1), {"name": "DB_PASSWORD", "value": "12345678"})),
            "DB_PASSWORD",
        ),
        bad(
            f"{name}disallow-secret-env-literals",
            "path-valued-token",
            deployment(((*C0, "env", 1), {"name": "HF_TOKEN", "value": "/var/run/hf/token"})),
            "HF_TOKEN",
        ),
        bad(
            f"{name}disallow-secret-env-literals",
            "key-suffix-from-configmap",
            deployment(
                (
                    (*C0, "env", 1),
                    {
                        "name": "OPENAI_KEY",
                        "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k"}},
                    },
                )
            ),
            "OPENAI_KEY",
        ),
        bad(
            f"{name}disallow-secret-env-literals",
            "aws-key-under-neutral-name",
            deployment(((*C0, "env", 1), {"name": "EXTRA", "value": "AKIAABCDEFGHIJKLMNOP"})),
            "EXTRA",
        ),
        ok(f"{name}require-image-digest", "pinned", (namespace_labelled("prod"), deployment())),
        ok(
            f"{name}require-image-digest",
            "dev-stack",
            (namespace_labelled("dev"), _labelled("dev", image="vllm/vllm-openai:v0.6.3")),
        ),
        bad(
            f"{name}require-image-digest",
            "prod-tag",
            (namespace_labelled("prod"), deployment(((*C0, "image"), "vllm/vllm-openai:v0.6.3"))),
            "not pinned by digest",
        ),
        bad(
            f"{name}require-image-digest",
            "workload-relabelled-dev-in-prod-stack",
            (namespace_labelled("prod"), _labelled("dev", image="vllm/vllm-openai:v0.6.3")),
            "not pinned by digest",
        ),
        bad(
            f"{name}require-image-digest",
            "template-still-prod",
            (
                namespace_labelled("dev"),
                deployment(
                    (("metadata", "labels"), {**LABELS, "inferstack/environment": "dev"}),
                    ((*C0, "image"), "vllm/vllm-openai:v0.6.3"),
                ),
            ),
            "not pinned by digest",
        ),
        bad(
            f"{name}require-image-digest",
            "unlabelled-counts-as-prod",
            (
                deployment(
                    (("metadata", "labels"), {}),
                    ((*SPEC[:-1], "metadata", "labels"), {}),
                    ((*C0, "image"), "vllm/vllm-openai:v0.6.3"),
                ),
            ),
            "not pinned by digest",
        ),
        ok(f"{name}disallow-latest-tag", "pinned", deployment()),
        ok(
            f"{name}disallow-latest-tag",
            "version-tag",
            deployment(((*C0, "image"), "vllm/vllm-openai:v0.6.3")),
        ),
        bad(
            f"{name}disallow-latest-tag",
            "latest",
            deployment(((*C0, "image"), "vllm/vllm-openai:latest")),
            "latest tag",
        ),
        bad(
            f"{name}disallow-latest-tag",
            "no-tag",
            deployment(((*C0, "image"), "localhost:5000/vllm")),
            "latest tag",
        ),
        ok(f"{name}restrict-image-registry", "no-list", deployment()),
        ok(
            f"{name}restrict-image-registry",
            "listed",
            deployment(),
            config={"allowedRegistries": ["docker.io/vllm", "ghcr.io/acme"]},
        ),
        bad(
            f"{name}restrict-image-registry",
            "unlisted",
            deployment(),
            "vllm/vllm-openai",
            config={"allowedRegistries": ["ghcr.io/acme", "*.dkr.ecr.*.amazonaws.com"]},
        ),
        ok(f"{name}disallow-token-automount", "off", deployment()),
        bad(
            f"{name}disallow-token-automount",
            "default-on",
            deployment(((*SPEC, "automountServiceAccountToken"), DELETE)),
            "service account token",
        ),
    ]


SERVICE_PROPS: Final = {
    "metadata": {"name": "llm", "namespace": Computed("inference"), "labels": LABELS},
    "spec": {
        "selector": {"app.kubernetes.io/name": "llm"},
        "ports": [{"name": "http", "port": 80, "targetPort": 8000}],
    },
}
HOST: Final = "llm.example.com"
NGINX: Final = "nginx.ingress.kubernetes.io/"
INGRESS_PROPS: Final = {
    "metadata": {
        "name": "llm",
        "namespace": "inference",
        "labels": LABELS,
        "annotations": {
            f"{NGINX}auth-url": "http://oauth2-proxy.auth.svc.cluster.local/oauth2/auth",
            f"{NGINX}auth-signin": "https://auth.example.com/oauth2/start",
            f"{NGINX}limit-rps": "20",
            f"{NGINX}limit-burst-multiplier": "2",
            f"{NGINX}proxy-body-size": "64k",
        },
    },
    "spec": {
        "ingressClassName": "nginx",
        "tls": [{"hosts": [HOST], "secretName": "llm-tls"}],
        "rules": [
            {
                "host": HOST,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {
                                    "name": Computed("llm-7c1b2"),
                                    "port": {"number": 80},
                                }
                            },
                        }
                    ]
                },
            }
        ],
    },
}
ANN: Final = ("metadata", "annotations")


def service(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(SERVICE, "llm", patched(SERVICE_PROPS, *changes))


def ingress(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(INGRESS, "llm", patched(INGRESS_PROPS, *changes))


def _network_cases() -> list[Case]:
    svc = "kubernetes-core-service-restrict-exposure"
    tls = "kubernetes-networking-ingress-require-tls"
    auth = "kubernetes-networking-ingress-require-auth"
    rate = "kubernetes-networking-ingress-require-rate-limit"
    body = "kubernetes-networking-ingress-limit-body-size"
    psa = "kubernetes-core-namespace-require-psa-restricted"
    no_auth = ((*ANN, f"{NGINX}auth-url"), DELETE)
    return [
        ok(svc, "cluster-ip", service()),
        ok(svc, "explicit-cluster-ip", service((("spec", "type"), "ClusterIP"))),
        ok(
            svc,
            "internal-lb",
            service(
                (("spec", "type"), "LoadBalancer"),
                ((*ANN, "service.beta.kubernetes.io/aws-load-balancer-scheme"), "internal"),
            ),
        ),
        ok(
            svc,
            "allowed-by-config",
            service((("spec", "type"), "LoadBalancer")),
            config={"allowedTypes": ["ClusterIP", "LoadBalancer"]},
        ),
        bad(svc, "load-balancer", service((("spec", "type"), "LoadBalancer")), "LoadBalancer"),
        bad(svc, "node-port", service((("spec", "type"), "NodePort")), "NodePort"),
        ok(tls, "tls", ingress()),
        bad(tls, "no-tls", ingress((("spec", "tls"), DELETE)), "no spec.tls"),
        bad(
            tls,
            "host-not-covered",
            ingress((("spec", "tls", 0, "hosts"), ["other.example.com"])),
            f"host '{HOST}'",
        ),
        bad(
            tls,
            "ssl-redirect-off",
            ingress(((*ANN, f"{NGINX}ssl-redirect"), "false")),
            "ssl-redirect",
        ),
        ok(auth, "oidc", ingress()),
        ok(
            auth,
            "mtls",
            ingress(
                no_auth,
                ((*ANN, f"{NGINX}auth-tls-secret"), "inference/client-ca"),
                ((*ANN, f"{NGINX}auth-tls-verify-client"), "on"),
            ),
        ),
        ok(
            auth,
            "extra-annotation",
            ingress(
                no_auth,
                ((*ANN, "traefik.ingress.kubernetes.io/router.middlewares"), "auth@kubernetescrd"),
            ),
            config={"extraAuthAnnotations": ["traefik.ingress.kubernetes.io/router.middlewares"]},
        ),
        bad(auth, "none", ingress(no_auth), "without authentication"),
        bad(
            auth,
            "mtls-not-verified",
            ingress(no_auth, ((*ANN, f"{NGINX}auth-tls-secret"), "inference/client-ca")),
            "without authentication",
        ),
        # "optional" lets callers without a certificate through; ingress-nginx has no
        # "unknown" setting, so that text must not count as verification either.
        *(
            bad(
                auth,
                f"mtls-verify-{verify}",
                ingress(
                    no_auth,
                    ((*ANN, f"{NGINX}auth-tls-secret"), "inference/client-ca"),
                    ((*ANN, f"{NGINX}auth-tls-verify-client"), verify),
                ),
                "without authentication",
            )
            for verify in ("optional", "unknown")
        ),
        ok(rate, "limit-rps", ingress()),
        bad(rate, "none", ingress(((*ANN, f"{NGINX}limit-rps"), DELETE)), "no rate limit"),
        bad(rate, "zero", ingress(((*ANN, f"{NGINX}limit-rps"), "0")), "no rate limit"),
        ok(body, "64k", ingress()),
        ok(body, "1m", ingress(((*ANN, f"{NGINX}proxy-body-size"), "1m"))),
        bad(
            body,
            "unset",
            ingress(((*ANN, f"{NGINX}proxy-body-size"), DELETE)),
            "no request body limit",
        ),
        bad(body, "unlimited", ingress(((*ANN, f"{NGINX}proxy-body-size"), "0")), "does not bound"),
        bad(body, "too-large", ingress(((*ANN, f"{NGINX}proxy-body-size"), "100m")), "exceeds"),
        bad(
            body,
            "configured-limit",
            ingress(((*ANN, f"{NGINX}proxy-body-size"), "1m")),
            "exceeds the 65536 byte limit",
            config={"maxBodyBytes": 65536},
        ),
        ok(psa, "restricted", namespace()),
        bad(
            psa,
            "baseline",
            namespace({"pod-security.kubernetes.io/enforce": "baseline"}),
            "restricted pod security",
        ),
        bad(psa, "unlabelled", namespace({}), "restricted pod security"),
    ]


def namespace(labels: dict[str, str] | None = None, name: str = "inference") -> Res:
    if labels is None:
        labels = {"pod-security.kubernetes.io/enforce": "restricted", **LABELS}
    # A sibling label computed from another resource must not stop the rule reading its own.
    labels_with_release: dict[str, Any] = {**labels, "inferstack/release": Computed("r-5f1c")}
    return Res(NAMESPACE, name, {"metadata": {"name": name, "labels": labels_with_release}})


DENY_ALL: Final = {
    "metadata": {"name": "default-deny", "namespace": "inference"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}


def _default_deny_cases() -> list[Case]:
    rule = "kubernetes-networking-namespace-require-default-deny"
    ns = namespace()
    workload = deployment()
    deny = Res(NETWORK_POLICY, "default-deny", DENY_ALL)
    deny_via_output = Res(
        NETWORK_POLICY,
        "default-deny",
        patched(DENY_ALL, (("metadata", "namespace"), Computed("inference"))),
        deps={"metadata": ["inference"]},
    )
    workload_via_output = Res(
        DEPLOYMENT,
        "llm",
        patched(WORKLOAD, (("metadata", "namespace"), Computed("inference"))),
        deps={"metadata": ["inference"]},
    )
    autonamed_ns = Res(NAMESPACE, "inference", {"metadata": {"labels": LABELS}})
    autonamed_workload = Res(
        DEPLOYMENT,
        "llm",
        patched(WORKLOAD, (("metadata", "namespace"), Computed("inference-8d1f0"))),
        deps={"metadata": ["inference"]},
    )
    autonamed_deny = Res(
        NETWORK_POLICY,
        "default-deny",
        patched(DENY_ALL, (("metadata", "namespace"), Computed("inference-8d1f0"))),
        deps={"metadata": ["inference"]},
    )
    allow_some = Res(
        NETWORK_POLICY,
        "default-deny",
        patched(DENY_ALL, (("spec", "ingress"), [{"from": [{"podSelector": {}}]}])),
    )
    selective = Res(
        NETWORK_POLICY,
        "default-deny",
        patched(DENY_ALL, (("spec", "podSelector"), {"matchLabels": {"app": "llm"}})),
    )
    egress_only = Res(
        NETWORK_POLICY, "default-deny", patched(DENY_ALL, (("spec", "policyTypes"), ["Egress"]))
    )
    elsewhere = Res(
        NETWORK_POLICY, "default-deny", patched(DENY_ALL, (("metadata", "namespace"), "monitoring"))
    )
    return [
        ok(rule, "literal-namespace", (ns, workload, deny)),
        ok(rule, "namespace-from-output", (ns, workload, deny_via_output)),
        ok(rule, "both-from-output", (ns, workload_via_output, deny_via_output)),
        ok(rule, "autonamed-namespace", (autonamed_ns, autonamed_workload, autonamed_deny)),
        ok(
            rule,
            "no-policy-types-means-ingress",
            (
                ns,
                workload,
                Res(
                    NETWORK_POLICY,
                    "default-deny",
                    patched(DENY_ALL, (("spec", "policyTypes"), DELETE)),
                ),
            ),
        ),
        bad(rule, "no-policy", (ns, workload), "no default-deny"),
        bad(rule, "allows-ingress", (ns, workload, allow_some), "no default-deny"),
        bad(rule, "selects-some-pods", (ns, workload, selective), "no default-deny"),
        bad(rule, "egress-only", (ns, workload, egress_only), "no default-deny"),
        bad(rule, "other-namespace", (ns, workload, elsewhere), "namespace 'inference'"),
        bad(
            rule,
            "autonamed-without-policy",
            (autonamed_ns, autonamed_workload),
            "no default-deny",
        ),
    ]


CASES: Final = [*_workload_cases(), *_network_cases(), *_default_deny_cases()]
