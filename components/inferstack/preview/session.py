"""One policy pack driven over Pulumi's analyzer gRPC protocol, as the engine drives it.

Handshake, GetAnalyzerInfo, ConfigureStack, Configure, then Remediate/Analyze for every resource
and AnalyzeStack once for the whole stack. A diagnostic without a urn (pulumi_policy leaves it
empty when a policy could not run on an unknown value) belongs to the resource of the request.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from inferstack.preview.pack_config import (
    LEVEL_NAMES,
    LEVEL_VALUES,
    PackConfig,
    resolve_levels,
    resolve_properties,
)
from inferstack.preview.packs import ENGINE_ADDRESS, PackError, PackProcess, PackProject
from inferstack.preview.program import ORGANIZATION, PreviewRun
from inferstack.preview.recorder import CapturedResource
from inferstack.preview.results import (
    DEFAULT_SEVERITY,
    NotApplicable,
    PackInfo,
    PolicyInfo,
    Violation,
)
from inferstack.preview.values import dict_to_struct

# The per-policy config property that turns unverifiable findings into mandatory violations.
UNVERIFIABLE_SETTING = "unverifiable"
SEVERITY_NAMES = {
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


@dataclass(frozen=True)
class PackResult:
    """What one pack said: its description, its diagnostics and its not-applicable answers."""

    info: PackInfo
    diagnostics: list[Violation]
    not_applicable: list[NotApplicable]


def drive(
    process: PackProcess, run: PreviewRun, config: PackConfig, *, strict: bool = False
) -> PackResult:
    port = process.wait_for_port()
    project = process.project
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=30)
        except grpc.FutureTimeoutError:
            raise PackError(f"policy pack {process.name} did not accept connections") from None
        session = _PackSession(analyzer_pb2_grpc.AnalyzerStub(channel), project, run)
        try:
            return session.evaluate(config, strict=strict)
        except grpc.RpcError as exc:
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise PackError(f"policy pack {process.name} failed: {detail}") from None


def policy_names(process: PackProcess) -> tuple[str, ...]:
    """The names of the pack's policies (GetAnalyzerInfo), which depend on no stack."""
    port = process.wait_for_port()
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=_RPC_TIMEOUT_S)
        except grpc.FutureTimeoutError:
            raise PackError(f"policy pack {process.name} did not accept connections") from None
        except grpc.RpcError as exc:
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise PackError(f"policy pack {process.name} failed: {detail}") from None
    return tuple(policy.name for policy in info.policies)


class _PackSession:
    def __init__(self, stub: Any, project: PackProject, run: PreviewRun) -> None:
        self.stub = stub
        self.project = project
        self.run = run
        self.resources = run.by_urn()
        self.violations: list[Violation] = []
        self.not_applicable: list[NotApplicable] = []
        self.default_providers: dict[str, Any] = {}

    def evaluate(self, config: PackConfig, *, strict: bool = False) -> PackResult:
        self._handshake()
        info_response = self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=_RPC_TIMEOUT_S)
        levels = resolve_levels(info_response, config)
        self.info = _pack_info(info_response, self.project, levels)
        self.policies = {policy.name: policy for policy in self.info.policies}
        self._configure_stack()
        self._configure(info_response, config, levels, strict=strict)
        if any(level == "remediate" for level in levels.values()):
            for resource in self.run.resources:
                self._collect(self._analyze_remediated(resource), default_urn=resource.urn)
        else:
            self._analyze_pipelined()
        self._analyze_stack()
        return PackResult(self.info, self.violations, self.not_applicable)

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

    def _configure(
        self, info: Any, config: PackConfig, levels: Mapping[str, str], *, strict: bool
    ) -> None:
        if not info.supportsConfig:
            return
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for policy in info.policies:
            properties = resolve_properties(policy, info, config)
            if strict:
                properties[UNVERIFIABLE_SETTING] = "mandatory"
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
        if provider is not None:
            return analyzer_pb2.AnalyzerProviderResource(
                type=provider.type,
                properties=provider.engine_properties,
                urn=provider.urn,
                name=provider.name,
            )
        if urn or not resource.custom or resource.is_provider:
            return None
        return self._default_provider(resource.type.split(":", 1)[0])

    def _default_provider(self, package: str) -> Any:
        """The provider the engine gives a resource that names none: the package's default one,
        configured from the stack's ``<package>:*`` keys (``azure-native:location``, ...)."""
        if package not in self.default_providers:
            prefix = f"{package}:"
            config = {
                key.removeprefix(prefix): value
                for key, value in self.run.config.items()
                if key.startswith(prefix)
            }
            self.default_providers[package] = analyzer_pb2.AnalyzerProviderResource(
                type=f"pulumi:providers:{package}",
                properties=dict_to_struct(config),
                urn=f"urn:pulumi:{self.run.stack}::{self.run.project}::pulumi:providers:"
                f"{package}::default",
                name="default",
            )
        return self.default_providers[package]

    def _collect(self, response: Any, *, default_urn: str) -> None:
        for diagnostic in response.diagnostics:
            self.violations.append(
                self._violation(
                    diagnostic.policyName,
                    diagnostic.message,
                    diagnostic.urn or default_urn,
                    level=LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory"),
                    severity=SEVERITY_NAMES.get(diagnostic.severity),
                )
            )
        for item in response.not_applicable:
            self.not_applicable.append(
                NotApplicable(self.info.name, item.policy_name, default_urn, item.reason)
            )

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
        severity = SEVERITY_NAMES.get(policy.severity, DEFAULT_SEVERITY)
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
