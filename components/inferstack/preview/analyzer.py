"""Evaluate policy packs against a recorded run over Pulumi's analyzer gRPC protocol.

Per pack, in the order the engine uses: Handshake, GetAnalyzerInfo, ConfigureStack, Configure,
then Remediate/Analyze for every resource and AnalyzeStack once for the whole stack.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from inferstack.preview.pack_config import (
    LEVEL_NAMES,
    LEVEL_VALUES,
    PackConfig,
    check_config_names,
    configs_per_pack,
    resolve_levels,
    resolve_properties,
)
from inferstack.preview.packs import (
    ENGINE_ADDRESS,
    PackError,
    PackProcess,
    PackProcesses,
    PackProject,
    load_pack_project,
    pack_environment,
)
from inferstack.preview.program import ORGANIZATION, PreviewRun
from inferstack.preview.recorder import CapturedResource
from inferstack.preview.values import dict_to_struct

CONTROL_PREFIXES = ("HIPAA ", "GDPR ", "OWASP ")
PEER_PREFIX = "peer:"
SEVERITIES = ("critical", "high", "medium", "low")
DEFAULT_SEVERITY = "medium"
_SEVERITY_NAMES = {
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
# Raise gRPC's 4 MB default, as the CLI does: a stack's AnalyzeStack request can be large.
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),
    ("grpc.max_send_message_length", 400 * 1024 * 1024),
]
_RPC_TIMEOUT_S = 300.0
# Analyze requests in flight per pack: enough to keep the pack busy, small enough to bound memory.
_IN_FLIGHT = 32


def severity_rank(severity: str) -> int:
    """0 for critical ... 3 for low; unknown severities sort last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def controls_of(tags: Sequence[str]) -> tuple[str, ...]:
    return tuple(tag for tag in tags if tag.startswith(CONTROL_PREFIXES))


def peers_of(tags: Sequence[str]) -> tuple[str, ...]:
    return tuple(tag.removeprefix(PEER_PREFIX) for tag in tags if tag.startswith(PEER_PREFIX))


@dataclass(frozen=True)
class PolicyInfo:
    """A policy as its pack describes it in GetAnalyzerInfo, with the level it runs at."""

    pack: str
    name: str
    description: str
    enforcement: str
    severity: str
    tags: tuple[str, ...] = ()
    remediation: str = ""
    url: str = ""
    stack_policy: bool = False

    @property
    def controls(self) -> tuple[str, ...]:
        return controls_of(self.tags)

    @property
    def peers(self) -> tuple[str, ...]:
        return peers_of(self.tags)


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    directory: Path
    policies: tuple[PolicyInfo, ...]


@dataclass(frozen=True)
class Violation:
    """One diagnostic a pack reported, joined with its policy's metadata."""

    pack: str
    policy: str
    enforcement: str
    severity: str
    urn: str
    message: str
    controls: tuple[str, ...] = ()
    remediation: str = ""
    description: str = ""
    peers: tuple[str, ...] = ()

    @property
    def skipped_in_preview(self) -> bool:
        """The pack could not run the policy because a value it read was unknown."""
        return self.message.startswith("can't run policy")


@dataclass(frozen=True)
class Evaluation:
    """What the packs said about one run."""

    packs: tuple[PackInfo, ...]
    violations: tuple[Violation, ...]
    # (pack, policy) -> URNs the policy declared itself not applicable to.
    not_applicable: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    @property
    def policies(self) -> tuple[PolicyInfo, ...]:
        return tuple(policy for pack in self.packs for policy in pack.policies)

    @property
    def mandatory(self) -> int:
        return sum(1 for v in self.violations if v.enforcement == "mandatory")

    def checked(self, policy: PolicyInfo, run: PreviewRun) -> list[CapturedResource]:
        """Resources the policy examined: all but those it declared not applicable."""
        skipped = self.not_applicable.get((policy.pack, policy.name), frozenset())
        if policy.stack_policy:
            return [r for r in run.resources if r.custom]
        return [r for r in run.resources if r.urn not in skipped]


def evaluate(
    run: PreviewRun,
    pack_dirs: Sequence[str | Path],
    pack_config: PackConfig | Sequence[PackConfig] | None = None,
) -> list[Violation]:
    """Run every pack against the run and return their violations."""
    return list(analyze(run, pack_dirs, pack_config).violations)


def analyze(
    run: PreviewRun,
    pack_dirs: Sequence[str | Path],
    pack_config: PackConfig | Sequence[PackConfig] | None = None,
    *,
    processes: PackProcesses | None = None,
) -> Evaluation:
    """Start each pack as its own process (concurrently), drive it, and kill it afterwards."""
    projects = [load_pack_project(directory) for directory in pack_dirs]
    configs = configs_per_pack(pack_config, len(projects))
    if not projects:
        return Evaluation(packs=(), violations=())
    env = pack_environment(
        project=run.project,
        stack=run.stack,
        organization=ORGANIZATION,
        dry_run=run.preview,
        config=run.config,
    )
    processes = processes or PackProcesses()
    # Processes stop before the pool joins its threads, so an interrupt never waits on a pack.
    with ThreadPoolExecutor(max_workers=len(projects)) as pool, processes.running():
        futures = [
            pool.submit(_drive, processes.start(project, env), run, config)
            for project, config in zip(projects, configs, strict=True)
        ]
        results = [future.result() for future in futures]
    check_config_names(configs, {p.name for info, _, _ in results for p in info.policies})
    violations = [v for _, found, _ in results for v in found]
    skipped: dict[tuple[str, str], frozenset[str]] = {}
    for _, _, not_applicable in results:
        skipped.update(not_applicable)
    return Evaluation(
        packs=tuple(info for info, _, _ in results),
        violations=tuple(sorted(violations, key=_order)),
        not_applicable=skipped,
    )


def _order(violation: Violation) -> tuple[int, int, str, str, str]:
    return (
        0 if violation.enforcement == "mandatory" else 1,
        severity_rank(violation.severity),
        violation.policy,
        violation.urn,
        violation.pack,
    )


# -- one pack --------------------------------------------------------------------------------


def _drive(
    process: PackProcess, run: PreviewRun, config: PackConfig
) -> tuple[PackInfo, list[Violation], dict[tuple[str, str], frozenset[str]]]:
    port = process.wait_for_port()
    project = process.project
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=30)
        except grpc.FutureTimeoutError:
            raise PackError(f"policy pack {process.name} did not accept connections") from None
        session = _PackSession(analyzer_pb2_grpc.AnalyzerStub(channel), project, run)
        try:
            return session.evaluate(config)
        except grpc.RpcError as exc:
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise PackError(f"policy pack {process.name} failed: {detail}") from None


class _PackSession:
    def __init__(self, stub: Any, project: PackProject, run: PreviewRun) -> None:
        self.stub = stub
        self.project = project
        self.run = run
        self.resources = run.by_urn()
        self.violations: list[Violation] = []
        self.not_applicable: dict[tuple[str, str], set[str]] = {}

    def evaluate(
        self, config: PackConfig
    ) -> tuple[PackInfo, list[Violation], dict[tuple[str, str], frozenset[str]]]:
        self._handshake()
        info_response = self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=_RPC_TIMEOUT_S)
        levels = resolve_levels(info_response, config)
        self.info = _pack_info(info_response, self.project, levels)
        self.policies = {policy.name: policy for policy in self.info.policies}
        self._configure_stack()
        self._configure(info_response, config, levels)
        if any(level == "remediate" for level in levels.values()):
            for resource in self.run.resources:
                self._collect(self._analyze_remediated(resource), default_urn=resource.urn)
        else:
            self._analyze_pipelined()
        self._analyze_stack()
        skipped = {key: frozenset(urns) for key, urns in self.not_applicable.items()}
        return self.info, self.violations, skipped

    def _handshake(self) -> None:
        directory = str(self.project.directory)
        request = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address=ENGINE_ADDRESS, root_directory=directory, program_directory=directory
        )
        _optional(lambda: self.stub.Handshake(request, timeout=_RPC_TIMEOUT_S))

    def _configure_stack(self) -> None:
        request = analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.run.stack,
            project=self.run.project,
            organization=ORGANIZATION,
            dry_run=self.run.preview,
            config=dict_to_struct(self.run.config),
        )
        _optional(lambda: self.stub.ConfigureStack(request, timeout=_RPC_TIMEOUT_S))

    def _configure(self, info: Any, config: PackConfig, levels: Mapping[str, str]) -> None:
        if not info.supportsConfig:
            return
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for policy in info.policies:
            properties = resolve_properties(policy, info, config)
            entry = request.policyConfig[policy.name]
            entry.enforcementLevel = LEVEL_VALUES[levels[policy.name]]
            entry.properties.update(properties)
        self.stub.Configure(request, timeout=_RPC_TIMEOUT_S)

    def _analyze_pipelined(self) -> None:
        """Analyze every resource with a window of requests in flight.

        One request at a time leaves both processes idle for a round trip per resource; the
        pack's server handles several requests at once. Responses are collected in stack
        order, so the report is the same as with sequential calls.
        """
        pending: deque[tuple[CapturedResource, Any]] = deque()
        for resource in self.run.resources:
            request = self._request(resource, resource.engine_properties)
            pending.append((resource, self.stub.Analyze.future(request, timeout=_RPC_TIMEOUT_S)))
            if len(pending) >= _IN_FLIGHT:
                done, future = pending.popleft()
                self._collect(future.result(), default_urn=done.urn)
        while pending:
            done, future = pending.popleft()
            self._collect(future.result(), default_urn=done.urn)

    def _analyze_remediated(self, resource: CapturedResource) -> Any:
        properties = self._remediate(resource, resource.engine_properties)
        return self.stub.Analyze(self._request(resource, properties), timeout=_RPC_TIMEOUT_S)

    def _request(self, resource: CapturedResource, properties: Any) -> Any:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            properties=properties,
            urn=resource.urn,
            name=resource.name,
            options=_options(resource),
        )
        provider = self._provider(resource)
        if provider is not None:
            request.provider.CopyFrom(provider)
        return request

    def _remediate(self, resource: CapturedResource, properties: Any) -> Any:
        request = self._request(resource, properties)
        response = _optional(lambda: self.stub.Remediate(request, timeout=_RPC_TIMEOUT_S))
        if response is None:
            return properties
        for remediation in response.remediations:
            message = remediation.diagnostic or f"remediated: {remediation.description}"
            self.violations.append(
                self._violation(remediation.policyName, message, resource.urn, level="remediate")
            )
            if remediation.HasField("properties"):
                properties = remediation.properties
        return properties

    def _analyze_stack(self) -> None:
        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in self.run.resources:
            item = request.resources.add(
                type=resource.type,
                urn=resource.urn,
                name=resource.name,
                # The engine checks the stack against each resource's final state.
                properties=resource.engine_outputs,
                options=_options(resource),
                parent=resource.parent or "",
                dependencies=list(resource.dependencies),
            )
            provider = self._provider(resource)
            if provider is not None:
                item.provider.CopyFrom(provider)
            for key, urns in resource.property_dependencies.items():
                if urns:
                    item.propertyDependencies[key].urns.extend(urns)
        response = _optional(lambda: self.stub.AnalyzeStack(request, timeout=_RPC_TIMEOUT_S))
        if response is not None:
            self._collect(response, default_urn=self.run.stack_urn or "")

    def _provider(self, resource: CapturedResource) -> Any:
        urn = resource.provider_urn
        provider = self.resources.get(urn) if urn else None
        if provider is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=provider.type,
            properties=provider.engine_properties,
            urn=provider.urn,
            name=provider.name,
        )

    def _collect(self, response: Any, *, default_urn: str) -> None:
        for diagnostic in response.diagnostics:
            self.violations.append(
                self._violation(
                    diagnostic.policyName,
                    diagnostic.message,
                    diagnostic.urn or default_urn,
                    level=LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory"),
                    severity=_SEVERITY_NAMES.get(diagnostic.severity),
                )
            )
        for item in response.not_applicable:
            key = (self.info.name, item.policy_name)
            self.not_applicable.setdefault(key, set()).add(default_urn)

    def _violation(
        self,
        policy_name: str,
        message: str,
        urn: str,
        *,
        level: str,
        severity: str | None = None,
    ) -> Violation:
        policy = self.policies.get(policy_name)
        description = policy.description if policy else ""
        # pulumi_policy prefixes every message with the policy description; keep the detail.
        detail = message.removeprefix(description).strip() if description else message.strip()
        return Violation(
            pack=self.info.name,
            policy=policy_name,
            enforcement=level,
            severity=severity or (policy.severity if policy else DEFAULT_SEVERITY),
            urn=urn,
            message=detail or description,
            controls=policy.controls if policy else (),
            remediation=policy.remediation if policy else "",
            description=description,
            peers=policy.peers if policy else (),
        )


def _pack_info(info: Any, project: PackProject, levels: Mapping[str, str]) -> PackInfo:
    policies = []
    for policy in info.policies:
        severity = _SEVERITY_NAMES.get(policy.severity, DEFAULT_SEVERITY)
        policies.append(
            PolicyInfo(
                pack=info.name,
                name=policy.name,
                description=policy.description,
                enforcement=levels[policy.name],
                severity=severity,
                tags=tuple(policy.tags),
                remediation=policy.remediation_steps,
                url=policy.url,
                stack_policy=policy.policy_type == analyzer_pb2.POLICY_TYPE_STACK,
            )
        )
    # PulumiPolicy.yaml's version wins over the one the pack reports, as in the CLI.
    version = project.version or info.version
    return PackInfo(info.name, version, project.directory, tuple(policies))


# -- helpers ---------------------------------------------------------------------------------


def _optional(call: Any) -> Any:
    """Run an RPC a pack may not implement (the engine treats UNIMPLEMENTED as 'skip')."""
    try:
        return call()
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
            return None
        raise


def _options(resource: CapturedResource) -> Any:
    options = analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect,
        ignoreChanges=list(resource.ignore_changes),
        deleteBeforeReplace=bool(resource.delete_before_replace),
        deleteBeforeReplaceDefined=resource.delete_before_replace is not None,
        additionalSecretOutputs=list(resource.additional_secret_outputs),
        aliases=list(resource.aliases),
        parent=resource.parent or "",
    )
    if resource.custom_timeouts is not None:
        create, update, delete = (_seconds(text) for text in resource.custom_timeouts)
        options.customTimeouts.create = create
        options.customTimeouts.update = update
        options.customTimeouts.delete = delete
    return options


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def _seconds(text: str) -> float:
    """A Go duration string ("5m", "1h30m") in seconds, as the engine converts it."""
    return sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION.findall(text))
