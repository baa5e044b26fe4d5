"""What every child-building module shares: the spec, the plan, names, tags and options."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi

from inferstack.aws.names import Arns
from inferstack.aws.plan import Plan
from inferstack.aws.policies import Document
from inferstack.deployment import DeploymentSpec


@dataclass(frozen=True)
class Context:
    name: str
    spec: DeploymentSpec
    plan: Plan
    region: str
    account: pulumi.Output[str]
    parent: pulumi.Resource

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent, **kwargs)

    def child(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def tags(self, **extra: str) -> dict[str, str]:
        return self.spec.merged_tags(extra or None)

    def arns(self) -> pulumi.Output[Arns]:
        return self.account.apply(lambda account: Arns(account, self.region))

    def policy(
        self, build: Callable[..., Document], *inputs: pulumi.Input[Any]
    ) -> pulumi.Output[str]:
        """A policy document as JSON text, for documents known before deploy.

        ``build`` receives the account's :class:`Arns` first, then each input resolved.
        """
        return pulumi.Output.all(self.arns(), *inputs).apply(
            lambda values: json.dumps(build(*values))
        )
