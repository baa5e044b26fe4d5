"""Fixtures shared by every test directory.

``recording`` runs a callable under the recording mocks and returns what it registered::

    def test_children(recording):
        resources = recording(lambda: LLMService("svc", spec), preview=True)
        assert all(r.parent for r in resources if r.type != "pulumi:pulumi:Stack")

``offline_project`` is a small Pulumi project (program, stack configs ``dev`` with one mandatory
violation, ``good`` with none, ``bad`` whose program raises SpecError) with one policy pack
(``tiny_pack``), in a temporary directory: the preview engine and the CLI are tested on it
without depending on the real stacks or packs. ``make_pack`` writes further packs.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inferstack.preview import CapturedResource, record


@pytest.fixture
def recording() -> Callable[..., list[CapturedResource]]:
    """``recording(fn, *, preview=True, config=None, stack="test", project="inferstack")``."""
    return record


PROGRAM = '''
import pulumi

from inferstack.errors import SpecError

config = pulumi.Config("inferstack")
deployment = config.require_object("deployment")
if deployment["name"] == "bad":
    raise SpecError("name", "'bad' is reserved", "pick another name")


class Res(pulumi.CustomResource):
    """Any provider's resource by type token; `arn` is computed by the cloud."""

    def __init__(self, token, name, props, opts=None):
        super().__init__(token, name, {**props, "arn": None}, opts)


class App(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("inferstack:test:App", name)
        key = Res(
            "aws:kms/key:Key",
            f"{name}-key",
            {"enableKeyRotation": deployment.get("rotate", True), "deletionWindowInDays": 30},
            pulumi.ResourceOptions(parent=self),
        )
        Res(
            "aws:s3/bucket:Bucket",
            f"{name}-bucket",
            {"bucket": f"{name}-artifacts", "kmsKeyArn": key.arn},
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


App(deployment["name"])
'''

PACK = """
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)


def rotation(args, report_violation):
    if args.resource_type != "aws:kms/key:Key":
        args.not_applicable("KMS keys only")
    if not args.props.get("enableKeyRotation"):
        report_violation("enableKeyRotation is false")


def bucket_kms(args, report_violation):
    if args.resource_type != "aws:s3/bucket:Bucket":
        args.not_applicable("buckets only")
    # Presence check: right in preview too, where the ARN is not known yet.
    if "kmsKeyArn" not in list(args.props):
        report_violation("no kmsKeyArn")


def bucket_kms_read(args, report_violation):
    if args.resource_type != "aws:s3/bucket:Bucket":
        args.not_applicable("buckets only")
    # Reads the value: pulumi_policy cannot run this in preview, where the ARN is unknown.
    if not args.props["kmsKeyArn"].startswith("arn:aws:kms:"):
        report_violation("kmsKeyArn is not a KMS key ARN")


def tag_keys(args):
    if args.resource_type == "aws:kms/key:Key":
        return {**args.props, "tags": {"managed-by": "inferstack"}}
    return None


def key_tags(args, report_violation):
    if args.resource_type != "aws:kms/key:Key":
        args.not_applicable("KMS keys only")
    if "managed-by" not in (args.props.get("tags") or {}):
        report_violation("untagged key")


def resource_count(args, report_violation):
    limit = args.get_config()["max"]
    bucket = next(r for r in args.resources if r.resource_type == "aws:s3/bucket:Bucket")
    deps = [d.urn for d in bucket.property_dependencies.get("kmsKeyArn", [])]
    if len(args.resources) > limit:
        report_violation(
            f"{len(args.resources)} resources > {limit}; bucket parent {bucket.parent.urn}; "
            f"kmsKeyArn from {deps}"
        )


PolicyPack(
    "tiny",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[
        ResourceValidationPolicy(
            name="aws-kms-key-enable-rotation",
            description="KMS keys rotate yearly.",
            validate=rotation,
            enforcement_level=EnforcementLevel.MANDATORY,
            severity=Severity.HIGH,
            tags=["HIPAA 164.312(a)(2)(iv)", "GDPR Art. 32", "peer:CKV_AWS_7", "kms"],
            remediation_steps="Set enableKeyRotation: true on the key.",
        ),
        ResourceValidationPolicy(
            name="aws-s3-bucket-require-kms",
            description="Buckets are encrypted with a customer managed key.",
            validate=bucket_kms,
            enforcement_level=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
            tags=["HIPAA 164.312(a)(2)(iv)", "peer:CKV_AWS_145"],
            remediation_steps="Pass the KMS key ARN as kmsKeyArn.",
        ),
        ResourceValidationPolicy(
            name="aws-s3-bucket-check-kms-arn",
            description="Bucket keys are KMS key ARNs.",
            validate=bucket_kms_read,
            severity=Severity.LOW,
            tags=["GDPR Art. 32"],
        ),
        ResourceValidationPolicy(
            name="aws-kms-key-add-tags",
            description="KMS keys get the managed-by tag.",
            remediate=tag_keys,
            enforcement_level=EnforcementLevel.REMEDIATE,
        ),
        ResourceValidationPolicy(
            name="aws-kms-key-require-tags",
            description="KMS keys carry the managed-by tag.",
            validate=key_tags,
            enforcement_level=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
        ),
        StackValidationPolicy(
            name="stack-limit-resources",
            description="Stacks stay small.",
            validate=resource_count,
            severity=Severity.MEDIUM,
            tags=["OWASP LLM10"],
            config_schema=PolicyConfigSchema(
                properties={"max": {"type": "integer", "default": 100}}
            ),
        ),
    ],
)
"""

STACKS = {
    # Compliant: rotation on.
    "good": {"rotate": True},
    # One mandatory violation: rotation off.
    "dev": {"rotate": False},
}


def write_stack(path: Path, name: str, **deployment: Any) -> Path:
    lines = ["config:", "  inferstack:target: sagemaker", "  aws:region: eu-west-1"]
    lines.append("  inferstack:deployment:")
    lines.append(f"    name: {name}")
    lines.extend(f"    {key}: {str(value).lower()}" for key, value in deployment.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_pack(directory: Path, source: str, *, name: str = "tiny") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "PulumiPolicy.yaml").write_text(
        f"runtime: python\nversion: 1.2.3\ndescription: {name} pack for tests\n", encoding="utf-8"
    )
    (directory / "__main__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return directory


@pytest.fixture
def make_pack() -> Callable[..., Path]:
    """``make_pack(directory, source, name=...)``: a Python policy pack with PulumiPolicy.yaml."""
    return write_pack


@pytest.fixture(scope="session")
def offline_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Project root: Pulumi.yaml, stacks/ (program + dev, good, bad configs), packs/tiny."""
    root = tmp_path_factory.mktemp("project")
    (root / "Pulumi.yaml").write_text(
        "name: inferstack\nruntime: python\nmain: stacks/\nstackConfigDir: stacks\n",
        encoding="utf-8",
    )
    stacks = root / "stacks"
    stacks.mkdir()
    (stacks / "__main__.py").write_text(PROGRAM, encoding="utf-8")
    for stack, deployment in STACKS.items():
        write_stack(stacks / f"Pulumi.{stack}.yaml", "app", **deployment)
    write_stack(stacks / "Pulumi.bad.yaml", "bad")
    write_pack(root / "packs" / "tiny", PACK)
    return root


@pytest.fixture(scope="session")
def tiny_pack(offline_project: Path) -> Path:
    return offline_project / "packs" / "tiny"
