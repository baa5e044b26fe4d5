"""The user-assigned identity and its role assignments, each scoped to one resource."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, managedidentity

from inferstack.azureml.context import Context


def identity(ctx: Context) -> managedidentity.UserAssignedIdentity:
    return managedidentity.UserAssignedIdentity(
        ctx.child("id"),
        resource_name_=ctx.plan.identity_name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def grant(
    ctx: Context,
    suffix: str,
    role: str,
    *,
    principal_id: pulumi.Input[str],
    scope: pulumi.Input[str],
) -> authorization.RoleAssignment:
    """One built-in role for the identity on exactly ``scope`` (never the subscription)."""
    return authorization.RoleAssignment(
        ctx.child(f"ra-{suffix}"),
        role_assignment_name=ctx.guid("role", suffix),
        principal_id=principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=ctx.role_definition(role),
        scope=scope,
        opts=ctx.opts(),
    )
