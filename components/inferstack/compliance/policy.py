"""Turn rules into pulumi_policy policies: metadata, config schema, framework defaults, exclusions.

Every policy accepts an ``exclusions`` list in the pack config: ``{"name": <resource name>,
"reason": <why>}``. An exclusion without a reason is rejected: it excludes nothing and is itself
reported, so a waiver always leaves a written justification behind.

Every policy also accepts ``unverifiable``: what to do with a finding *unverifiable at preview*
(a value the rule must judge is known only after deploy). ``"advisory"`` (the default) hands it
to pulumi_policy's own "can't run during preview" path, so ``pulumi preview`` shows an advisory
diagnostic whose message carries :data:`~inferstack.compliance.model.UNVERIFIABLE_MARKER`, never
a pass; ``"mandatory"`` reports it as a violation at the policy's level, for pull-request gates.
Violations the rule found in the same run are reported either way. pulumi_policy has turned an
``UnknownValueError`` raised by a validate function into that advisory diagnostic since its
first Python release (pulumi/pulumi-policy#218); the wording used here is that of 1.21.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from inferstack.compliance.model import (
    UNVERIFIABLE_MARKER,
    Enforcement,
    Framework,
    Report,
    ResourceCheck,
    Rule,
    RuleConfig,
    Scope,
    StackCheck,
)
from inferstack.compliance.model import Severity as RuleSeverity
from inferstack.compliance.props import UnknownContainerError, dotted
from inferstack.compliance.registry import rules_for
from inferstack.compliance.rules._common import unverifiable

EXCLUSIONS_KEY: Final = "exclusions"
EXCLUSIONS_SCHEMA: Final[Mapping[str, Any]] = {
    "type": "array",
    "description": "Resources this policy skips, by resource name, each with the reason why.",
    "default": [],
    "items": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "reason": {"type": "string", "minLength": 1},
        },
        "required": ["name", "reason"],
        "additionalProperties": False,
    },
}

UNVERIFIABLE_KEY: Final = "unverifiable"
UNVERIFIABLE_SCHEMA: Final[Mapping[str, Any]] = {
    "type": "string",
    "enum": ["advisory", "mandatory"],
    "default": "advisory",
    "description": "How a finding unverifiable at preview (a value known only after deploy) "
    "is reported: advisory (a warning, never a pass) or mandatory (a violation, for "
    "pull-request gates).",
}

FRAMEWORK_INFO: Final[Mapping[str, PolicyComplianceFramework]] = {
    "baseline": PolicyComplianceFramework(
        name="inferstack baseline",
        version="1",
        specification="Security baseline for LLM inference: hardening, encryption with "
        "customer-managed keys, least privilege, private networking, bounded consumption.",
    ),
    "hipaa": PolicyComplianceFramework(
        name="HIPAA Security Rule",
        version="45 CFR Part 164 Subpart C",
        reference="https://www.ecfr.gov/current/title-45/subtitle-A/subchapter-C/part-164/subpart-C",
        specification="Technical safeguards (164.312), administrative safeguards (164.308) "
        "and documentation (164.316).",
    ),
    "gdpr": PolicyComplianceFramework(
        name="GDPR",
        version="Regulation (EU) 2016/679",
        reference="https://eur-lex.europa.eu/eli/reg/2016/679/oj",
        specification="Articles 5, 25, 30, 32, 33, 35 and Chapter V (44-49).",
    ),
    "owasp-llm": PolicyComplianceFramework(
        name="OWASP Top 10 for LLM Applications",
        version="2025",
        reference="https://genai.owasp.org/llm-top-10/",
        specification="The risks infrastructure can enforce: a guard in front of the model "
        "that cannot be bypassed, pinned supply chain, least agency, bounded consumption.",
    ),
}

_SEVERITIES: Final = {
    RuleSeverity.LOW: Severity.LOW,
    RuleSeverity.MEDIUM: Severity.MEDIUM,
    RuleSeverity.HIGH: Severity.HIGH,
    RuleSeverity.CRITICAL: Severity.CRITICAL,
}
_LEVELS: Final = {
    Enforcement.ADVISORY: EnforcementLevel.ADVISORY,
    Enforcement.MANDATORY: EnforcementLevel.MANDATORY,
    Enforcement.DISABLED: EnforcementLevel.DISABLED,
}


@dataclass(frozen=True)
class Exclusions:
    reasons: Mapping[str, str]
    rejected: tuple[str, ...]

    def rejected_for(self, name: str) -> bool:
        return name in self.rejected


def parse_exclusions(raw: Any) -> Exclusions:
    """Valid entries by resource name; names whose entry lacks a reason are rejected."""
    reasons: dict[str, str] = {}
    rejected: list[str] = []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return Exclusions({}, ())
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        name, reason = entry.get("name"), entry.get("reason")
        if not isinstance(name, str) or not name:
            continue
        if isinstance(reason, str) and reason.strip():
            reasons[name] = reason.strip()
        else:
            rejected.append(name)
    return Exclusions(reasons, tuple(rejected))


def rejected_message(name: str) -> str:
    return (
        f"the exclusion of '{name}' has no reason, so it is ignored: "
        'give it one ({"name": ..., "reason": ...}) in the pack config'
    )


def effective_config(rule: Rule, framework: Framework, config: Mapping[str, Any]) -> RuleConfig:
    values = {setting.key: setting.default_for(framework) for setting in rule.settings}
    values.update({key: config[key] for key in config if key in values})
    return RuleConfig(values)


def config_schema(rule: Rule, framework: Framework) -> PolicyConfigSchema:
    properties: dict[str, dict[str, Any]] = {
        setting.key: {**setting.schema, "default": setting.default_for(framework)}
        for setting in rule.settings
    }
    properties[EXCLUSIONS_KEY] = dict(EXCLUSIONS_SCHEMA)
    properties[UNVERIFIABLE_KEY] = dict(UNVERIFIABLE_SCHEMA)
    return PolicyConfigSchema(properties=properties)


def to_policy(rule: Rule, framework: Framework) -> Policy:
    """The pulumi_policy policy for ``rule`` as the ``framework`` pack runs it."""
    metadata: dict[str, Any] = {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": _LEVELS[rule.enforcement],
        "config_schema": config_schema(rule, framework),
        "severity": _SEVERITIES[rule.severity],
        "framework": FRAMEWORK_INFO[framework],
        "tags": list(rule.tags),
        "remediation_steps": rule.remediation,
    }
    if rule.scope is Scope.STACK:
        return StackValidationPolicy(validate=_stack_validation(rule, framework), **metadata)
    return ResourceValidationPolicy(validate=_resource_validation(rule, framework), **metadata)


def policies_for(framework: Framework) -> list[Policy]:
    """The policies of one pack, in rule order."""
    return [to_policy(rule, framework) for rule in rules_for(framework)]


def _resource_validation(rule: Rule, framework: Framework) -> Any:
    check = cast(ResourceCheck, rule.check)

    def validate(args: ResourceValidationArgs, report: Report) -> None:
        if not rule.applies_to(args.resource_type):
            return
        config = args.get_config()
        exclusions = parse_exclusions(config.get(EXCLUSIONS_KEY))
        if exclusions.rejected_for(args.name):
            report(rejected_message(args.name))
        elif args.name in exclusions.reasons:
            return
        outcome = _Outcome(report, config.get(UNVERIFIABLE_KEY), stack=False)
        outcome.run(lambda: check(args, outcome, effective_config(rule, framework, config)))

    return validate


def _stack_validation(rule: Rule, framework: Framework) -> Any:
    check = cast(StackCheck, rule.check)

    def validate(args: StackValidationArgs, report: Report) -> None:
        config = args.get_config()
        exclusions = parse_exclusions(config.get(EXCLUSIONS_KEY))
        for name in exclusions.rejected:
            report(rejected_message(name))
        excluded = {r.urn for r in args.resources if r.name in exclusions.reasons}

        outcome = _Outcome(report, config.get(UNVERIFIABLE_KEY), stack=True)

        def filtered(message: str, urn: str | None = None, /) -> None:
            if urn not in excluded:
                outcome(message, urn)

        outcome.run(
            lambda: check(args.resources, filtered, effective_config(rule, framework, config))
        )

    return validate


class _Outcome:
    """The report a check sees: violations pass through, unverifiable findings are held.

    Held findings are raised at the end as pulumi_policy's ``UnknownValueError`` (advisory) or
    reported as violations (mandatory). An unknown the check could not get past (a container
    read through :mod:`inferstack.compliance.props`, or a raw read of pulumi_policy's proxy) ends
    the check as one more unverifiable finding; what it reported before stands.
    """

    def __init__(self, report: Report, mode: Any, *, stack: bool) -> None:
        self._report = report
        self._mandatory = mode == "mandatory"
        self._stack = stack
        self.held: list[str] = []

    def __call__(self, message: str, urn: str | None = None, /) -> None:
        if not message.startswith(UNVERIFIABLE_MARKER) or self._mandatory:
            self._report(message, urn)
        elif self._stack and urn:
            self.held.append(f"{message} (resource {urn})")
        else:
            self.held.append(message)

    def run(self, check: Callable[[], None]) -> None:
        try:
            check()
        except UnknownContainerError as unknown:
            self(unverifiable(unknown.path))
        except UnknownValueError as unknown:
            self(unverifiable(dotted(unknown.props)))
        if self.held:
            raise _unverifiable_error(self.held)


def _unverifiable_error(messages: Sequence[str]) -> UnknownValueError:
    error = UnknownValueError(UNKNOWN_STRING_VALUE, [])
    error.message = "\n".join(dict.fromkeys(messages))
    return error
